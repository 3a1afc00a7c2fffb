//! Checks built-in kinds against their k8s-openapi types: unknown fields and wrong types, each with its field path.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::yaml::escape_pointer_token;

/// A field that does not fit the kind's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// JSON pointer of the field, relative to the object.
    pub pointer: String,
    pub message: String,
}

/// Checks `value` against the k8s-openapi type of its apiVersion and kind. Kinds k8s-openapi does
/// not know (custom resources) are not checked here and yield no problems.
pub fn check_builtin(api_version: &str, kind: &str, value: &Value) -> Vec<SchemaProblem> {
    use k8s_openapi::api;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    macro_rules! kinds {
        ($( $api_version:literal, $kind:literal => $ty:ty; )*) => {
            match (api_version, kind) {
                $( ($api_version, $kind) => check::<$ty>(value), )*
                _ => Vec::new(),
            }
        };
    }
    kinds! {
        "v1", "Namespace" => api::core::v1::Namespace;
        "v1", "ConfigMap" => api::core::v1::ConfigMap;
        "v1", "Secret" => api::core::v1::Secret;
        "v1", "Service" => api::core::v1::Service;
        "v1", "ServiceAccount" => api::core::v1::ServiceAccount;
        "v1", "Pod" => api::core::v1::Pod;
        "v1", "PersistentVolumeClaim" => api::core::v1::PersistentVolumeClaim;
        "v1", "ResourceQuota" => api::core::v1::ResourceQuota;
        "v1", "LimitRange" => api::core::v1::LimitRange;
        "apps/v1", "Deployment" => api::apps::v1::Deployment;
        "apps/v1", "StatefulSet" => api::apps::v1::StatefulSet;
        "apps/v1", "DaemonSet" => api::apps::v1::DaemonSet;
        "apps/v1", "ReplicaSet" => api::apps::v1::ReplicaSet;
        "batch/v1", "Job" => api::batch::v1::Job;
        "batch/v1", "CronJob" => api::batch::v1::CronJob;
        "autoscaling/v2", "HorizontalPodAutoscaler" => api::autoscaling::v2::HorizontalPodAutoscaler;
        "policy/v1", "PodDisruptionBudget" => api::policy::v1::PodDisruptionBudget;
        "networking.k8s.io/v1", "NetworkPolicy" => api::networking::v1::NetworkPolicy;
        "networking.k8s.io/v1", "Ingress" => api::networking::v1::Ingress;
        "networking.k8s.io/v1", "IngressClass" => api::networking::v1::IngressClass;
        "rbac.authorization.k8s.io/v1", "Role" => api::rbac::v1::Role;
        "rbac.authorization.k8s.io/v1", "ClusterRole" => api::rbac::v1::ClusterRole;
        "rbac.authorization.k8s.io/v1", "RoleBinding" => api::rbac::v1::RoleBinding;
        "rbac.authorization.k8s.io/v1", "ClusterRoleBinding" => api::rbac::v1::ClusterRoleBinding;
        "storage.k8s.io/v1", "StorageClass" => api::storage::v1::StorageClass;
        "scheduling.k8s.io/v1", "PriorityClass" => api::scheduling::v1::PriorityClass;
        "apiextensions.k8s.io/v1", "CustomResourceDefinition" => apiextensions::CustomResourceDefinition;
    }
}

fn check<T: DeserializeOwned>(value: &Value) -> Vec<SchemaProblem> {
    // Most objects fit: tracking the path of every field costs more than the rare second pass
    // that finds where the first one failed.
    let mut unknown_fields = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown_fields.push(unknown_field(&path));
    if serde_ignored::deserialize::<_, _, T>(value, &mut note).is_ok() {
        return unknown_fields;
    }
    let mut problems = Vec::new();
    let mut unknown = |path: serde_ignored::Path<'_>| problems.push(unknown_field(&path));
    let deserializer = serde_ignored::Deserializer::new(value, &mut unknown);
    let result: Result<T, _> = serde_path_to_error::deserialize(deserializer);
    if let Err(error) = result {
        let pointer = error_path_pointer(error.path());
        let message = error.into_inner().to_string();
        problems.push(SchemaProblem {
            pointer,
            message: format!("wrong type: {message}"),
        });
    }
    problems
}

fn unknown_field(path: &serde_ignored::Path<'_>) -> SchemaProblem {
    let pointer = ignored_path_pointer(path);
    let field = pointer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace("~1", "/")
        .replace("~0", "~");
    SchemaProblem {
        pointer,
        message: format!("unknown field \"{field}\""),
    }
}

fn ignored_path_pointer(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}/{index}", ignored_path_pointer(parent)),
        Path::Map { parent, key } => format!(
            "{}/{}",
            ignored_path_pointer(parent),
            escape_pointer_token(key)
        ),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path_pointer(parent),
    }
}

fn error_path_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", escape_pointer_token(key))),
            Segment::Enum { variant } => Some(format!("/{}", escape_pointer_token(variant))),
            Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_field_is_reported_with_its_path() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "i:1", "imagePullPolice": "Always"}]}}}
        });
        let problems = check_builtin("apps/v1", "Deployment", &deployment);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].pointer,
            "/spec/template/spec/containers/0/imagePullPolice"
        );
        assert!(problems[0].message.contains("imagePullPolice"));
    }

    #[test]
    fn wrong_type_is_reported_with_its_path() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a"},
            "spec": {"replicas": "three", "selector": {}, "template": {}}
        });
        let problems = check_builtin("apps/v1", "Deployment", &deployment);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/spec/replicas");
        assert!(
            problems[0].message.starts_with("wrong type"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn valid_object_and_custom_kinds_have_no_problems() {
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        assert!(check_builtin("v1", "ConfigMap", &config_map).is_empty());
        let custom =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"anything": 1}});
        assert!(check_builtin("example.com/v1", "Widget", &custom).is_empty());
    }
}
