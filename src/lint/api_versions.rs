//! API versions Kubernetes has removed (e.g. `extensions/v1beta1` Ingress) or deprecated, for the cluster version in tacos.yaml.

use super::{LintContext, subject};
use crate::report::{Finding, RuleInfo, rule};

const FAMILY: &str = "api";

rule!(
    REMOVED,
    FAMILY,
    "api-removed",
    Error,
    "no object uses an API version the cluster's Kubernetes version no longer serves",
    "change apiVersion to the replacement named in the message and adjust the fields that changed with it (kubectl explain <kind> --api-version <version>)"
);

rule!(
    DEPRECATED,
    FAMILY,
    "api-deprecated",
    Warning,
    "no object uses an API version or kind Kubernetes has deprecated in the cluster's version",
    "move to the replacement named in the message before the cluster is upgraded to the version that removes it"
);

pub const RULES: &[RuleInfo] = &[REMOVED, DEPRECATED];

/// (apiVersion, kind, the minor version of Kubernetes 1.x that deprecated it, the replacement):
/// kinds still served but deprecated, from the Kubernetes deprecation notices. Every API in
/// [`REMOVED_APIS`] is also deprecated on the versions before its removal.
const DEPRECATED_APIS: &[(&str, &str, u32, &str)] = &[
    ("v1", "Endpoints", 33, "discovery.k8s.io/v1 EndpointSlice"),
    (
        "v1",
        "ComponentStatus",
        19,
        "the API server's /livez and /readyz (no replacement object)",
    ),
];

/// (apiVersion, kind, the minor version of Kubernetes 1.x that removed it, the replacement), from
/// the Kubernetes deprecated API migration guide.
const REMOVED_APIS: &[(&str, &str, u32, &str)] = &[
    ("extensions/v1beta1", "Deployment", 16, "apps/v1"),
    ("extensions/v1beta1", "DaemonSet", 16, "apps/v1"),
    ("extensions/v1beta1", "ReplicaSet", 16, "apps/v1"),
    (
        "extensions/v1beta1",
        "NetworkPolicy",
        16,
        "networking.k8s.io/v1",
    ),
    ("apps/v1beta1", "Deployment", 16, "apps/v1"),
    ("apps/v1beta1", "StatefulSet", 16, "apps/v1"),
    ("apps/v1beta2", "Deployment", 16, "apps/v1"),
    ("apps/v1beta2", "StatefulSet", 16, "apps/v1"),
    ("apps/v1beta2", "DaemonSet", 16, "apps/v1"),
    ("apps/v1beta2", "ReplicaSet", 16, "apps/v1"),
    ("extensions/v1beta1", "Ingress", 22, "networking.k8s.io/v1"),
    (
        "networking.k8s.io/v1beta1",
        "Ingress",
        22,
        "networking.k8s.io/v1",
    ),
    (
        "networking.k8s.io/v1beta1",
        "IngressClass",
        22,
        "networking.k8s.io/v1",
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        22,
        "apiextensions.k8s.io/v1",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        22,
        "admissionregistration.k8s.io/v1",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        22,
        "admissionregistration.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "Role",
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "scheduling.k8s.io/v1beta1",
        "PriorityClass",
        22,
        "scheduling.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        "StorageClass",
        22,
        "storage.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        "CSIDriver",
        22,
        "storage.k8s.io/v1",
    ),
    (
        "coordination.k8s.io/v1beta1",
        "Lease",
        22,
        "coordination.k8s.io/v1",
    ),
    ("batch/v1beta1", "CronJob", 25, "batch/v1"),
    (
        "discovery.k8s.io/v1beta1",
        "EndpointSlice",
        25,
        "discovery.k8s.io/v1",
    ),
    ("policy/v1beta1", "PodDisruptionBudget", 25, "policy/v1"),
    (
        "policy/v1beta1",
        "PodSecurityPolicy",
        25,
        "Pod Security Admission (no replacement object)",
    ),
    (
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        25,
        "autoscaling/v2",
    ),
    ("node.k8s.io/v1beta1", "RuntimeClass", 25, "node.k8s.io/v1"),
    (
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        26,
        "autoscaling/v2",
    ),
    (
        "storage.k8s.io/v1beta1",
        "CSIStorageCapacity",
        27,
        "storage.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        29,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        29,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        32,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        32,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
];

/// Objects whose API version is removed in the cluster's version (tacos.yaml's minVersion), or in
/// any version when there is no tacos.yaml.
pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in &context.tree.objects {
        if let Some((_, _, since, replacement)) = DEPRECATED_APIS
            .iter()
            .find(|(api, kind, _, _)| *api == object.api_version() && *kind == object.kind())
            && context
                .settings
                .cluster_minor
                .is_none_or(|minor| minor >= *since)
        {
            findings.push(Finding::new(
                &DEPRECATED,
                subject(object),
                Some(object.location_of("/kind")),
                format!(
                    "{} {} is deprecated since Kubernetes 1.{since}; use {replacement}",
                    object.api_version(),
                    object.kind()
                ),
            ));
            continue;
        }
        let Some((_, _, removed_in, replacement)) = REMOVED_APIS
            .iter()
            .find(|(api, kind, _, _)| *api == object.api_version() && *kind == object.kind())
        else {
            continue;
        };
        let applies = context
            .settings
            .cluster_minor
            .is_none_or(|minor| minor >= *removed_in);
        if !applies {
            if let Some(minor) = context.settings.cluster_minor {
                findings.push(Finding::new(
                    &DEPRECATED,
                    subject(object),
                    Some(object.location_of("/apiVersion")),
                    format!(
                        "{} {} is deprecated and removed in Kubernetes 1.{removed_in} (the cluster runs 1.{minor}); use {replacement} before upgrading",
                        object.api_version(),
                        object.kind()
                    ),
                ));
            }
            continue;
        }
        let cluster = match context.settings.cluster_minor {
            Some(minor) => format!(" (the cluster runs 1.{minor} or later)"),
            None => String::new(),
        };
        findings.push(Finding::new(
            &REMOVED,
            subject(object),
            Some(object.location_of("/apiVersion")),
            format!(
                "{} {} was removed in Kubernetes 1.{removed_in}{cluster}; use {replacement}",
                object.api_version(),
                object.kind()
            ),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::LintSettings;

    const INGRESS: &str =
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n";

    fn lint(cluster_minor: Option<u32>) -> Vec<String> {
        lint_yaml(INGRESS, cluster_minor)
    }

    fn lint_yaml(yaml: &str, cluster_minor: Option<u32>) -> Vec<String> {
        let tree = crate::repo::load_str("test.yaml", yaml).unwrap();
        check(&LintContext {
            tree: &tree,
            settings: LintSettings {
                cluster_minor,
                ..LintSettings::default()
            },
        })
        .into_iter()
        .map(|f| format!("{}: {}", f.location.unwrap(), f.message))
        .collect()
    }

    #[test]
    fn a_removed_api_is_reported_from_the_version_that_removed_it() {
        assert_eq!(
            lint(Some(31)),
            [
                "test.yaml:1:1: extensions/v1beta1 Ingress was removed in Kubernetes 1.22 (the cluster runs 1.31 or later); use networking.k8s.io/v1"
            ]
        );
        assert_eq!(lint(Some(22)).len(), 1);
        assert_eq!(
            lint(Some(21)),
            [
                "test.yaml:1:1: extensions/v1beta1 Ingress is deprecated and removed in Kubernetes 1.22 (the cluster runs 1.21); use networking.k8s.io/v1 before upgrading"
            ]
        );
        assert_eq!(lint(None).len(), 1, "without tacos.yaml any removal counts");
    }

    #[test]
    fn a_deprecated_kind_is_a_warning_from_the_version_that_deprecated_it() {
        let endpoints = "apiVersion: v1\nkind: Endpoints\nmetadata: {name: db, namespace: shop}\n";
        assert_eq!(
            lint_yaml(endpoints, Some(33)),
            [
                "test.yaml:2:1: v1 Endpoints is deprecated since Kubernetes 1.33; use discovery.k8s.io/v1 EndpointSlice"
            ]
        );
        assert_eq!(lint_yaml(endpoints, Some(32)), Vec::<String>::new());
    }
}
