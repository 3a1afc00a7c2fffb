//! Whether a pod template may land on a node, read as the scheduler reads it: taints and tolerations, nodeSelector, required node affinity.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration,
};

/// Why a pod template cannot run on a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Exclusion {
    /// Taints with effect NoSchedule or NoExecute that no toleration matches.
    Taints(Vec<Taint>),
    /// `key=value` pairs of the nodeSelector the node's labels lack.
    NodeSelector(Vec<String>),
    /// No term of the required node affinity matches the node.
    NodeAffinity,
}

impl Exclusion {
    /// In words, e.g. `taint spot=true:NoSchedule not tolerated`.
    pub fn describe(&self) -> String {
        match self {
            Exclusion::Taints(taints) => {
                let shown: Vec<String> = taints.iter().map(describe_taint).collect();
                let noun = if taints.len() == 1 { "taint" } else { "taints" };
                format!("{noun} {} not tolerated", shown.join(", "))
            }
            Exclusion::NodeSelector(pairs) => {
                format!(
                    "nodeSelector {} not matched by its labels",
                    pairs.join(", ")
                )
            }
            Exclusion::NodeAffinity => "required node affinity not matched".to_string(),
        }
    }
}

/// Taint keys the DaemonSet controller tolerates on every DaemonSet pod on its own.
pub const DAEMON_SET_TOLERATED_KEYS: &[&str] = &[
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
];

/// Why `spec` cannot run on `node`, or None when it can. The node's labels come first: a node the
/// template does not select is out of scope by design, whatever its taints.
/// `tolerated_keys` are taint keys tolerated without a toleration (see [`DAEMON_SET_TOLERATED_KEYS`]).
pub fn exclusion(spec: &PodSpec, node: &Node, tolerated_keys: &[&str]) -> Option<Exclusion> {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let unmatched: Vec<String> = spec
        .node_selector
        .iter()
        .flatten()
        .filter(|(key, value)| labels.get(*key) != Some(*value))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if !unmatched.is_empty() {
        return Some(Exclusion::NodeSelector(unmatched));
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(selector) = required
        && !selector
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, node, &labels))
    {
        return Some(Exclusion::NodeAffinity);
    }
    let taints = untolerated_taints(spec, node, tolerated_keys);
    (!taints.is_empty()).then_some(Exclusion::Taints(taints))
}

/// The node's NoSchedule and NoExecute taints that `spec` does not tolerate.
pub fn untolerated_taints(spec: &PodSpec, node: &Node, tolerated_keys: &[&str]) -> Vec<Taint> {
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|taint| matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute"))
        .filter(|taint| !tolerated_keys.contains(&taint.key.as_str()))
        .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
        .cloned()
        .collect()
}

/// Kubernetes' ToleratesTaint: an empty effect matches every effect, an empty key with Exists every key;
/// Equal (the default operator) also compares the value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// A node selector term matches when all its expressions and fields do; an empty term matches nothing.
fn term_matches(term: &NodeSelectorTerm, node: &Node, labels: &BTreeMap<String, String>) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let node_fields = BTreeMap::from([(
        "metadata.name".to_string(),
        node.metadata.name.clone().unwrap_or_default(),
    )]);
    expressions
        .iter()
        .all(|requirement| requirement_matches(requirement, labels))
        && fields
            .iter()
            .all(|requirement| requirement_matches(requirement, &node_fields))
}

fn requirement_matches(
    requirement: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = labels.get(&requirement.key);
    let values = requirement.values.as_deref().unwrap_or_default();
    let as_number = |text: &str| text.parse::<i64>().ok();
    let compare = |wanted: fn(i64, i64) -> bool| {
        let bound = values.first().and_then(|v| as_number(v));
        matches!((value.and_then(|v| as_number(v)), bound), (Some(v), Some(b)) if wanted(v, b))
    };
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => compare(|v, b| v > b),
        "Lt" => compare(|v, b| v < b),
        _ => false,
    }
}

/// `key=value:effect`, or `key:effect` for a taint without value.
pub fn describe_taint(taint: &Taint) -> String {
    match taint.value.as_deref().filter(|v| !v.is_empty()) {
        Some(value) => format!("{}={value}:{}", taint.key, taint.effect),
        None => format!("{}:{}", taint.key, taint.effect),
    }
}

/// The toleration for `taint` as a YAML flow mapping, e.g. `{key: spot, operator: Equal, value: "true", effect: NoSchedule}`.
pub fn toleration_yaml(taint: &Taint) -> String {
    match taint.value.as_deref().filter(|v| !v.is_empty()) {
        Some(value) => format!(
            "{{key: {}, operator: Equal, value: \"{value}\", effect: {}}}",
            taint.key, taint.effect
        ),
        None => format!(
            "{{key: {}, operator: Exists, effect: {}}}",
            taint.key, taint.effect
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.to_string(),
            value: value.map(str::to_string),
            effect: effect.to_string(),
            time_added: None,
        }
    }

    fn toleration(yaml: &str) -> Toleration {
        let value: serde_json::Value = serde_json::from_str(yaml).unwrap();
        serde_json::from_value(value).unwrap()
    }

    fn node(yaml: &str) -> Node {
        super::super::fixtures::snapshot(yaml).nodes.remove(0)
    }

    fn pod_spec(json: &str) -> PodSpec {
        serde_json::from_str(json).unwrap()
    }

    const SPOT: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: ip-10-0-3-12, labels: {kubernetes.io/os: linux, capacity: spot, cores: "8"}}
spec:
  taints: [{key: spot, value: "true", effect: NoSchedule}, {key: soft, effect: PreferNoSchedule}]
"#;

    #[test]
    fn equal_toleration_needs_key_value_and_effect_to_match() {
        let spot = taint("spot", Some("true"), "NoSchedule");
        assert!(tolerates(
            &toleration(
                r#"{"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}"#
            ),
            &spot
        ));
        assert!(tolerates(
            &toleration(r#"{"key": "spot", "value": "true"}"#),
            &spot
        ));
        assert!(!tolerates(
            &toleration(r#"{"key": "spot", "value": "false"}"#),
            &spot
        ));
        assert!(!tolerates(
            &toleration(r#"{"key": "spot", "value": "true", "effect": "NoExecute"}"#),
            &spot
        ));
        assert!(!tolerates(
            &toleration(r#"{"key": "other", "value": "true"}"#),
            &spot
        ));
    }

    #[test]
    fn exists_toleration_ignores_the_value_and_an_empty_key_tolerates_every_taint() {
        let spot = taint("spot", Some("true"), "NoSchedule");
        assert!(tolerates(
            &toleration(r#"{"key": "spot", "operator": "Exists"}"#),
            &spot
        ));
        assert!(tolerates(&toleration(r#"{"operator": "Exists"}"#), &spot));
        assert!(!tolerates(
            &toleration(r#"{"key": "spot", "operator": "Sideways"}"#),
            &spot
        ));
    }

    #[test]
    fn only_no_schedule_and_no_execute_taints_exclude() {
        let spot = node(SPOT);
        assert_eq!(
            exclusion(&pod_spec("{\"containers\": []}"), &spot, &[]),
            Some(Exclusion::Taints(vec![taint(
                "spot",
                Some("true"),
                "NoSchedule"
            )]))
        );
        assert_eq!(
            exclusion(&pod_spec("{\"containers\": []}"), &spot, &["spot"]),
            None
        );
    }

    #[test]
    fn node_selector_pairs_the_node_lacks_exclude_it() {
        let spec = pod_spec(
            r#"{"containers": [], "tolerations": [{"operator": "Exists"}], "nodeSelector": {"kubernetes.io/os": "linux", "capacity": "on-demand"}}"#,
        );
        let excluded = exclusion(&spec, &node(SPOT), &[]);
        assert_eq!(
            excluded,
            Some(Exclusion::NodeSelector(vec!["capacity=on-demand".into()]))
        );
        assert_eq!(
            excluded.unwrap().describe(),
            "nodeSelector capacity=on-demand not matched by its labels"
        );
    }

    #[test]
    fn required_node_affinity_follows_its_operators() {
        let affinity = |expression: &str| {
            pod_spec(&format!(
                r#"{{"containers": [], "tolerations": [{{"operator": "Exists"}}], "affinity": {{"nodeAffinity": {{"requiredDuringSchedulingIgnoredDuringExecution": {{"nodeSelectorTerms": [{{"matchExpressions": [{expression}]}}]}}}}}}}}"#
            ))
        };
        let spot = node(SPOT);
        let excluded = |expression: &str| exclusion(&affinity(expression), &spot, &[]).is_some();
        assert!(!excluded(
            r#"{"key": "capacity", "operator": "In", "values": ["spot"]}"#
        ));
        assert!(excluded(
            r#"{"key": "capacity", "operator": "NotIn", "values": ["spot"]}"#
        ));
        assert!(!excluded(r#"{"key": "capacity", "operator": "Exists"}"#));
        assert!(excluded(
            r#"{"key": "capacity", "operator": "DoesNotExist"}"#
        ));
        assert!(!excluded(
            r#"{"key": "cores", "operator": "Gt", "values": ["4"]}"#
        ));
        assert!(excluded(
            r#"{"key": "cores", "operator": "Lt", "values": ["4"]}"#
        ));
    }

    #[test]
    fn taints_and_tolerations_are_written_as_kubernetes_does() {
        let spot = taint("spot", Some("true"), "NoSchedule");
        assert_eq!(describe_taint(&spot), "spot=true:NoSchedule");
        assert_eq!(
            toleration_yaml(&spot),
            r#"{key: spot, operator: Equal, value: "true", effect: NoSchedule}"#
        );
        let dedicated = taint("dedicated", None, "NoExecute");
        assert_eq!(describe_taint(&dedicated), "dedicated:NoExecute");
        assert_eq!(
            toleration_yaml(&dedicated),
            "{key: dedicated, operator: Exists, effect: NoExecute}"
        );
    }
}
