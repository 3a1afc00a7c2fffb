//! What the resources, scaling, network and labels families share: workloads, their autoscalers, replica ranges, Services and label selectors.

use serde_json::{Map, Value};

use crate::repo::{Object, Tree};

/// Workloads that run until stopped (not Jobs or bare Pods).
pub fn is_long_running(object: &Object) -> bool {
    object.group() == "apps" && matches!(object.kind(), "Deployment" | "StatefulSet" | "DaemonSet")
}

/// Workloads an autoscaler can scale: Deployments and StatefulSets.
pub fn is_scalable(object: &Object) -> bool {
    object.group() == "apps" && matches!(object.kind(), "Deployment" | "StatefulSet")
}

/// Pointer to the labels of a workload's pods (the template's, or a Pod's own).
pub fn pod_labels_pointer(object: &Object) -> Option<String> {
    let (pod_pointer, _) = object.pod_spec()?;
    let template = pod_pointer.strip_suffix("/spec")?;
    Some(format!("{template}/metadata/labels"))
}

/// The labels a workload's pods carry (empty when none are written).
pub fn pod_labels(object: &Object) -> Map<String, Value> {
    pod_labels_pointer(object)
        .and_then(|pointer| object.at(&pointer))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Whether a Kubernetes LabelSelector (matchLabels and matchExpressions) selects `labels`.
/// `{}` selects everything; a missing (null) selector selects nothing.
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    if !selector.is_object() {
        return false;
    }
    let match_labels = selector["matchLabels"].as_object();
    let labels_match = match_labels
        .into_iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    labels_match
        && selector["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|expression| expression_matches(expression, labels))
}

fn expression_matches(expression: &Value, labels: &Map<String, Value>) -> bool {
    let value = expression["key"]
        .as_str()
        .and_then(|key| labels.get(key))
        .and_then(Value::as_str);
    let listed = |value: &str| {
        expression["values"]
            .as_array()
            .is_some_and(|values| values.iter().any(|v| v.as_str() == Some(value)))
    };
    match expression["operator"].as_str() {
        Some("In") => value.is_some_and(listed),
        Some("NotIn") => !value.is_some_and(listed),
        Some("Exists") => value.is_some(),
        Some("DoesNotExist") => value.is_none(),
        _ => false,
    }
}

/// Services in the workload's namespace whose (non-empty) selector picks its pods.
pub fn services_selecting<'a>(
    tree: &'a Tree,
    workload: &'a Object,
) -> impl Iterator<Item = &'a Object> + 'a {
    let labels = pod_labels(workload);
    tree.in_namespace("", "Service", workload.namespace())
        .filter(move |service| {
            service.value["spec"]["selector"]
                .as_object()
                .is_some_and(|selector| {
                    !selector.is_empty()
                        && selector
                            .iter()
                            .all(|(key, value)| labels.get(key) == Some(value))
                })
        })
}

/// An HorizontalPodAutoscaler or a KEDA ScaledObject scaling a workload.
#[derive(Debug, Clone, Copy)]
pub struct Autoscaler<'a> {
    pub object: &'a Object,
}

impl<'a> Autoscaler<'a> {
    /// The autoscaler targeting `workload` (same namespace, kind and name), if any.
    pub fn of(tree: &'a Tree, workload: &Object) -> Option<Autoscaler<'a>> {
        let namespace = workload.namespace();
        tree.in_namespace("autoscaling", "HorizontalPodAutoscaler", namespace)
            .chain(tree.in_namespace("keda.sh", "ScaledObject", namespace))
            .map(|object| Autoscaler { object })
            .find(|autoscaler| autoscaler.targets(workload))
    }

    fn is_keda(&self) -> bool {
        self.object.is("keda.sh", "ScaledObject")
    }

    fn is_hpa(&self) -> bool {
        self.object.is("autoscaling", "HorizontalPodAutoscaler")
    }

    fn targets(&self, workload: &Object) -> bool {
        let target = &self.object.value["spec"]["scaleTargetRef"];
        let default_kind = if self.is_keda() {
            Some("Deployment")
        } else {
            None
        };
        (self.is_hpa() || self.is_keda())
            && self.object.namespace() == workload.namespace()
            && target["name"].as_str() == Some(workload.name())
            && target["kind"].as_str().or(default_kind) == Some(workload.kind())
    }

    /// Pointer to the minimum replica count field.
    pub fn min_pointer(&self) -> &'static str {
        if self.is_keda() {
            "/spec/minReplicaCount"
        } else {
            "/spec/minReplicas"
        }
    }

    /// Pointer to the maximum replica count field.
    pub fn max_pointer(&self) -> &'static str {
        if self.is_keda() {
            "/spec/maxReplicaCount"
        } else {
            "/spec/maxReplicas"
        }
    }

    /// The minimum replica count (1 when unset).
    pub fn min(&self) -> i64 {
        self.object
            .at(self.min_pointer())
            .and_then(Value::as_i64)
            .unwrap_or(1)
    }

    /// The maximum replica count (KEDA's default of 100 when a ScaledObject leaves it unset).
    pub fn max(&self) -> i64 {
        let default = if self.is_keda() { 100 } else { self.min() };
        self.object
            .at(self.max_pointer())
            .and_then(Value::as_i64)
            .unwrap_or(default)
    }
}

/// How many pods a workload runs at least and at most, and what says so.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaRange<'a> {
    pub min: i64,
    pub max: i64,
    pub autoscaler: Option<Autoscaler<'a>>,
}

impl<'a> ReplicaRange<'a> {
    /// From the workload's autoscaler, else its fixed count (spec.replicas, a Job's parallelism, 1).
    pub fn of(tree: &'a Tree, workload: &Object) -> ReplicaRange<'a> {
        if let Some(autoscaler) = Autoscaler::of(tree, workload) {
            return ReplicaRange {
                min: autoscaler.min(),
                max: autoscaler.max(),
                autoscaler: Some(autoscaler),
            };
        }
        let fixed = fixed_replicas(workload);
        ReplicaRange {
            min: fixed,
            max: fixed,
            autoscaler: None,
        }
    }
}

fn fixed_replicas(workload: &Object) -> i64 {
    let pointer = match workload.kind() {
        "Job" => "/spec/parallelism",
        "CronJob" => "/spec/jobTemplate/spec/parallelism",
        _ => "/spec/replicas",
    };
    workload.at(pointer).and_then(Value::as_i64).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn empty_selector_selects_every_pod_and_null_selects_none() {
        let pod = labels(json!({"app": "web"}));
        assert!(selector_matches(&json!({}), &pod));
        assert!(!selector_matches(&Value::Null, &pod));
    }

    #[test]
    fn match_labels_must_be_a_subset_of_the_pod_labels() {
        let pod = labels(json!({"app": "web", "tier": "front"}));
        assert!(selector_matches(
            &json!({"matchLabels": {"app": "web"}}),
            &pod
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app": "api"}}),
            &pod
        ));
    }

    #[test]
    fn match_expressions_follow_their_operator() {
        let pod = labels(json!({"app": "web"}));
        let expression = |operator: &str| json!({"matchExpressions": [{"key": "app", "operator": operator, "values": ["web", "api"]}]});
        assert!(selector_matches(&expression("In"), &pod));
        assert!(!selector_matches(&expression("NotIn"), &pod));
        assert!(selector_matches(&expression("Exists"), &pod));
        assert!(!selector_matches(&expression("DoesNotExist"), &pod));
        assert!(!selector_matches(&expression("Sideways"), &pod));
    }
}
