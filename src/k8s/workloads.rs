//! What the resources, scaling, network and labels families share: workloads, their autoscalers, replica ranges, Services and label selectors.

use std::collections::HashMap;

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

/// Services in the workload's namespace whose (non-empty) selector picks its pods, in tree order.
pub fn services_selecting<'a>(
    tree: &'a Tree,
    workload: &'a Object,
) -> impl Iterator<Item = &'a Object> + 'a {
    let labels = pod_labels(workload);
    let candidates = tree
        .derived(Related::of)
        .services
        .candidates(workload.namespace(), &labels);
    candidates
        .into_iter()
        .map(|position| &tree.objects[position])
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

/// PodDisruptionBudgets (`("policy", "PodDisruptionBudget")`) or NetworkPolicies in the
/// workload's namespace whose label selector selects its pods, in tree order; none for other kinds.
pub fn selecting<'a>(
    tree: &'a Tree,
    (group, kind): (&str, &str),
    workload: &Object,
) -> Vec<&'a Object> {
    let labels = pod_labels(workload);
    let related = tree.derived(Related::of);
    let Some((index, pointer)) = related.by_selector(group, kind) else {
        return Vec::new();
    };
    index
        .candidates(workload.namespace(), &labels)
        .into_iter()
        .map(|position| &tree.objects[position])
        .filter(|object| {
            object
                .at(pointer)
                .is_some_and(|s| selector_matches(s, &labels))
        })
        .collect()
}

/// Objects running pods in `namespace` whose labels `selector` (a LabelSelector) selects, in tree order.
pub fn workloads_selected_by<'a>(
    tree: &'a Tree,
    namespace: Option<&str>,
    selector: &Value,
) -> Vec<&'a Object> {
    let related = tree.derived(Related::of);
    let namespace = namespace.unwrap_or_default();
    let required = selector["matchLabels"]
        .as_object()
        .and_then(|labels| labels.iter().next())
        .and_then(|(key, value)| Some((key, value.as_str()?)));
    let candidates = match required {
        Some((key, value)) => related
            .pods_by_label
            .get(namespace)
            .and_then(|by_key| by_key.get(key)?.get(value)),
        None => related.pods.get(namespace),
    };
    candidates
        .into_iter()
        .flatten()
        .map(|&position| &tree.objects[position])
        .filter(|object| selector_matches(selector, &pod_labels(object)))
        .collect()
}

/// Positions in `Tree::objects` by namespace, then by two strings (a label's key and value, or a
/// target's kind and name).
type ByNamespaceAndPair<T> = HashMap<String, HashMap<String, HashMap<String, T>>>;

/// Positions in `Tree::objects` of objects with a label selector, by the namespace and the label
/// pair the selector requires (its first matchLabels pair); selectors that require no plain pair
/// (`{}`, matchExpressions only) are candidates for every workload of their namespace.
#[derive(Debug, Default)]
struct SelectorIndex {
    by_label: ByNamespaceAndPair<Vec<usize>>,
    always: HashMap<String, Vec<usize>>,
}

impl SelectorIndex {
    /// Indexes the objects of that group and kind by the label map at `labels_pointer` (a
    /// LabelSelector's `matchLabels`, or a Service's plain selector).
    fn of(tree: &Tree, group: &str, kind: &str, labels_pointer: &str) -> Self {
        let mut index = Self::default();
        for (position, object) in tree.objects.iter().enumerate() {
            if !object.is(group, kind) {
                continue;
            }
            let namespace = object.namespace().unwrap_or_default().to_string();
            let first = object
                .at(labels_pointer)
                .and_then(Value::as_object)
                .and_then(|labels| labels.iter().next())
                .and_then(|(key, value)| Some((key, value.as_str()?)));
            match first {
                Some((key, value)) => index
                    .by_label
                    .entry(namespace)
                    .or_default()
                    .entry(key.clone())
                    .or_default()
                    .entry(value.to_string())
                    .or_default()
                    .push(position),
                None => index.always.entry(namespace).or_default().push(position),
            }
        }
        index
    }

    /// The positions of the objects whose selector may select `labels` in `namespace`, in tree
    /// order: a superset of those that do, for the caller to match.
    fn candidates(&self, namespace: Option<&str>, labels: &Map<String, Value>) -> Vec<usize> {
        let namespace = namespace.unwrap_or_default();
        let mut positions: Vec<usize> = self.always.get(namespace).cloned().unwrap_or_default();
        if let Some(by_key) = self.by_label.get(namespace) {
            for (key, value) in labels {
                if let Some(found) = value.as_str().and_then(|v| by_key.get(key)?.get(v)) {
                    positions.extend(found);
                }
            }
        }
        positions.sort_unstable();
        positions.dedup();
        positions
    }
}

/// What rules over every workload look up about it: its autoscaler, the Services, budgets and
/// policies that select its pods. Built once per tree (`Tree::derived`), so those rules stay
/// linear in the tree's size however many workloads share a namespace.
#[derive(Debug, Default)]
struct Related {
    /// The first HorizontalPodAutoscaler, else the first ScaledObject, by the namespace, kind and
    /// name it targets.
    autoscalers: ByNamespaceAndPair<usize>,
    services: SelectorIndex,
    budgets: SelectorIndex,
    policies: SelectorIndex,
    /// Objects that run pods, by namespace and by each label pair their pods carry.
    pods_by_label: ByNamespaceAndPair<Vec<usize>>,
    pods: HashMap<String, Vec<usize>>,
}

impl Related {
    fn of(tree: &Tree) -> Self {
        let mut autoscalers: ByNamespaceAndPair<usize> = HashMap::new();
        let kinds = [
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("keda.sh", "ScaledObject"),
        ];
        for (group, kind) in kinds {
            for (position, object) in tree.objects.iter().enumerate() {
                if !object.is(group, kind) {
                    continue;
                }
                let autoscaler = Autoscaler { object };
                let target = &object.value["spec"]["scaleTargetRef"];
                let (Some(name), Some(kind)) = (
                    target["name"].as_str(),
                    target["kind"].as_str().or(autoscaler.default_target_kind()),
                ) else {
                    continue;
                };
                autoscalers
                    .entry(object.namespace().unwrap_or_default().to_string())
                    .or_default()
                    .entry(kind.to_string())
                    .or_default()
                    .entry(name.to_string())
                    .or_insert(position);
            }
        }
        let mut pods: HashMap<String, Vec<usize>> = HashMap::new();
        let mut pods_by_label: ByNamespaceAndPair<Vec<usize>> = HashMap::new();
        for (position, object) in tree.objects.iter().enumerate() {
            if object.pod_spec().is_none() {
                continue;
            }
            let namespace = object.namespace().unwrap_or_default();
            pods.entry(namespace.to_string())
                .or_default()
                .push(position);
            let by_key = pods_by_label.entry(namespace.to_string()).or_default();
            for (key, value) in pod_labels(object) {
                if let Some(value) = value.as_str() {
                    let by_value = by_key.entry(key).or_default();
                    by_value
                        .entry(value.to_string())
                        .or_default()
                        .push(position);
                }
            }
        }
        Self {
            autoscalers,
            pods_by_label,
            pods,
            services: SelectorIndex::of(tree, "", "Service", "/spec/selector"),
            budgets: SelectorIndex::of(
                tree,
                "policy",
                "PodDisruptionBudget",
                "/spec/selector/matchLabels",
            ),
            policies: SelectorIndex::of(
                tree,
                "networking.k8s.io",
                "NetworkPolicy",
                "/spec/podSelector/matchLabels",
            ),
        }
    }

    /// The index of the objects of that kind with a LabelSelector, and the selector's pointer.
    fn by_selector(&self, group: &str, kind: &str) -> Option<(&SelectorIndex, &'static str)> {
        match (group, kind) {
            ("policy", "PodDisruptionBudget") => Some((&self.budgets, "/spec/selector")),
            ("networking.k8s.io", "NetworkPolicy") => Some((&self.policies, "/spec/podSelector")),
            _ => None,
        }
    }
}

/// An HorizontalPodAutoscaler or a KEDA ScaledObject scaling a workload.
#[derive(Debug, Clone, Copy)]
pub struct Autoscaler<'a> {
    pub object: &'a Object,
}

impl<'a> Autoscaler<'a> {
    /// The autoscaler targeting `workload` (same namespace, kind and name), if any.
    pub fn of(tree: &'a Tree, workload: &Object) -> Option<Autoscaler<'a>> {
        let position = *tree
            .derived(Related::of)
            .autoscalers
            .get(workload.namespace().unwrap_or_default())?
            .get(workload.kind())?
            .get(workload.name())?;
        Some(Autoscaler {
            object: &tree.objects[position],
        })
    }

    /// The kind a scaleTargetRef without one means: a Deployment for KEDA, none for an HPA.
    fn default_target_kind(&self) -> Option<&'static str> {
        self.is_keda().then_some("Deployment")
    }

    fn is_keda(&self) -> bool {
        self.object.is("keda.sh", "ScaledObject")
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

    const RELATED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: c, image: "i:1"}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: other}
spec: {scaleTargetRef: {kind: Deployment, name: web}, maxReplicas: 3}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web-keda, namespace: shop}
spec: {scaleTargetRef: {name: web}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec: {scaleTargetRef: {kind: Deployment, name: web}, maxReplicas: 5}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: by-expression, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchExpressions: [{key: tier, operator: In, values: [front]}]}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: by-second-label, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {tier: front, app: web}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: other-app, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: api}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-pods, namespace: shop}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-pods, namespace: other}
spec: {podSelector: {}}
"#;

    fn names(objects: &[&Object]) -> Vec<String> {
        objects.iter().map(|o| o.name().to_string()).collect()
    }

    #[test]
    fn an_hpa_in_the_workloads_namespace_wins_over_a_scaled_object_and_other_namespaces() {
        let tree = crate::repo::load_str("t.yaml", RELATED).unwrap();
        let web = tree
            .find("apps", "Deployment", Some("shop"), "web")
            .unwrap();
        let autoscaler = Autoscaler::of(&tree, web).unwrap();
        assert!(
            autoscaler
                .object
                .is("autoscaling", "HorizontalPodAutoscaler")
        );
        assert_eq!(autoscaler.object.namespace(), Some("shop"));
        assert_eq!(ReplicaRange::of(&tree, web).max, 5);
    }

    #[test]
    fn indexed_selectors_find_expression_only_empty_and_later_label_selectors_in_tree_order() {
        let tree = crate::repo::load_str("t.yaml", RELATED).unwrap();
        let web = tree
            .find("apps", "Deployment", Some("shop"), "web")
            .unwrap();
        assert_eq!(
            names(&selecting(&tree, ("policy", "PodDisruptionBudget"), web)),
            ["by-expression", "by-second-label"]
        );
        let policies = selecting(&tree, ("networking.k8s.io", "NetworkPolicy"), web);
        assert_eq!(names(&policies), ["all-pods"]);
        assert_eq!(policies[0].namespace(), Some("shop"));
        let budget = tree
            .find(
                "policy",
                "PodDisruptionBudget",
                Some("shop"),
                "by-second-label",
            )
            .unwrap();
        let selected =
            workloads_selected_by(&tree, Some("shop"), &budget.value["spec"]["selector"]);
        assert_eq!(names(&selected), ["web"]);
        let other = tree
            .find("policy", "PodDisruptionBudget", Some("shop"), "other-app")
            .unwrap();
        assert!(
            workloads_selected_by(&tree, Some("shop"), &other.value["spec"]["selector"]).is_empty()
        );
    }
}
