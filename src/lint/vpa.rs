//! VerticalPodAutoscalers in the tree: one that resizes a workload must not control a resource the workload's HPA (or KEDA ScaledObject) scales on.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{LintContext, subject};
use crate::k8s::workloads::Autoscaler;
use crate::repo::{Object, Tree};
use crate::report::{Finding, RuleInfo, rule};

const FAMILY: &str = "scaling";

rule!(
    VPA_FIGHTS_HPA,
    FAMILY,
    "scale-vpa-fights-hpa",
    Error,
    "a VerticalPodAutoscaler that resizes pods (updateMode other than \"Off\") must not control CPU or memory while an HPA scales the same workload on that resource: the HPA's utilization is a share of the requests the VPA changes, so each undoes the other",
    "set spec.updatePolicy.updateMode: \"Off\" (recommendations only), or limit the VPA's controlledResources to what the HPA does not scale on, or scale the HPA on a custom or external metric"
);

pub const RULES: &[RuleInfo] = &[VPA_FIGHTS_HPA];

/// What a VPA controls when its resource policy does not say: both.
const DEFAULT_CONTROLLED: [&str; 2] = ["cpu", "memory"];

/// What an HPA without `metrics` scales on (autoscaling/v2: 80 % of the CPU requests).
const HPA_DEFAULT_METRIC: &str = "cpu";

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    tree.of_kind("autoscaling.k8s.io", "VerticalPodAutoscaler")
        .filter_map(|vpa| fight(tree, vpa))
        .collect()
}

/// The finding when `vpa` resizes a workload whose autoscaler scales on a resource it controls.
fn fight(tree: &Tree, vpa: &Object) -> Option<Finding> {
    let mode_pointer = "/spec/updatePolicy/updateMode";
    // The VPA's default is to resize ("Auto"); only "Off" leaves the pods alone.
    let mode = vpa
        .at(mode_pointer)
        .and_then(Value::as_str)
        .unwrap_or("Auto");
    if mode == "Off" {
        return None;
    }
    let workload = target(tree, vpa)?;
    let autoscaler = Autoscaler::of(tree, workload)?;
    let scaled_on = scaled_resources(autoscaler.object);
    let controlled = controlled_resources(vpa, workload);
    let both: Vec<&str> = scaled_on
        .intersection(&controlled)
        .map(String::as_str)
        .collect();
    if both.is_empty() {
        return None;
    }
    let location = if vpa.at(mode_pointer).is_some() {
        vpa.location_of(mode_pointer)
    } else {
        vpa.location_of("/spec")
    };
    Some(Finding::new(
        &VPA_FIGHTS_HPA,
        subject(vpa),
        Some(location),
        format!(
            "updateMode {mode:?} resizes {} while {} scales it on {}: the VPA changes the requests the HPA's utilization is measured against",
            subject(workload),
            subject(autoscaler.object),
            both.join(" and ")
        ),
    ))
}

/// The workload `spec.targetRef` names, in the VPA's namespace.
fn target<'a>(tree: &'a Tree, vpa: &Object) -> Option<&'a Object> {
    let target = vpa.at("/spec/targetRef")?;
    let kind = target["kind"].as_str()?;
    let name = target["name"].as_str()?;
    let group = target["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/').map(|(group, _)| group))
        .unwrap_or("");
    tree.in_namespace(group, kind, vpa.namespace())
        .find(|o| o.name() == name)
}

/// The resources an HPA or ScaledObject scales on (`cpu`, `memory`); custom and external metrics
/// are not resources a VPA controls.
fn scaled_resources(autoscaler: &Object) -> BTreeSet<String> {
    if autoscaler.is("keda.sh", "ScaledObject") {
        return autoscaler
            .at("/spec/triggers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|trigger| trigger["type"].as_str())
            .filter(|kind| DEFAULT_CONTROLLED.contains(kind))
            .map(str::to_string)
            .collect();
    }
    let Some(metrics) = autoscaler.at("/spec/metrics").and_then(Value::as_array) else {
        return BTreeSet::from([HPA_DEFAULT_METRIC.to_string()]);
    };
    metrics
        .iter()
        .filter_map(|metric| match metric["type"].as_str() {
            Some("Resource") => metric["resource"]["name"].as_str(),
            Some("ContainerResource") => metric["containerResource"]["name"].as_str(),
            _ => None,
        })
        .map(str::to_string)
        .collect()
}

/// The resources the VPA controls in at least one of the workload's containers: each container
/// follows the policy named after it, else the `*` policy, else the default (CPU and memory); a
/// policy with `mode: "Off"` controls nothing.
fn controlled_resources(vpa: &Object, workload: &Object) -> BTreeSet<String> {
    let policies: Vec<&Value> = vpa
        .at("/spec/resourcePolicy/containerPolicies")
        .and_then(Value::as_array)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let policy_for = |container: &str| {
        policies
            .iter()
            .find(|p| p["containerName"].as_str() == Some(container))
            .or_else(|| policies.iter().find(|p| p["containerName"] == "*"))
            .copied()
    };
    let containers: Vec<&str> = workload
        .pod_spec()
        .and_then(|(_, spec)| spec["containers"].as_array())
        .map(|list| list.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let mut controlled = BTreeSet::new();
    for container in containers {
        let Some(policy) = policy_for(container) else {
            controlled.extend(DEFAULT_CONTROLLED.map(str::to_string));
            continue;
        };
        if policy["mode"].as_str() == Some("Off") {
            continue;
        }
        match policy["controlledResources"].as_array() {
            Some(listed) => {
                controlled.extend(listed.iter().filter_map(Value::as_str).map(str::to_string))
            }
            None => controlled.extend(DEFAULT_CONTROLLED.map(str::to_string)),
        }
    }
    controlled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::lint_yaml(check, yaml)
    }

    fn tree(vpa_spec: &str, hpa_metrics: &str) -> String {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: app}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - {{name: web, image: web:1.0.0}}
      - {{name: proxy, image: proxy:2.0.0}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web, namespace: app}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 3
  maxReplicas: 10
{hpa_metrics}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {{name: web, namespace: app}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
{vpa_spec}
"#
        )
    }

    const CPU_METRIC: &str = "  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}";

    #[test]
    fn recommendation_mode_beside_a_cpu_hpa_is_clean() {
        let yaml = tree("  updatePolicy: {updateMode: \"Off\"}", CPU_METRIC);
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn auto_mode_beside_a_cpu_hpa_is_flagged_at_the_update_mode() {
        let yaml = tree("  updatePolicy: {updateMode: Recreate}", CPU_METRIC);
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "scale-vpa-fights-hpa");
        assert!(findings[0].message.contains("\"Recreate\""), "{findings:?}");
        assert!(findings[0].message.contains("on cpu"), "{findings:?}");
        let line = findings[0].location.as_ref().unwrap().line;
        let expected = yaml
            .lines()
            .position(|l| l.contains("updateMode: Recreate"))
            .unwrap()
            + 1;
        assert_eq!(line, expected);
    }

    #[test]
    fn a_vpa_without_update_policy_resizes_and_an_hpa_without_metrics_scales_on_cpu() {
        let findings = lint(&tree("", ""));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].message.contains("\"Auto\""), "{findings:?}");
    }

    #[test]
    fn controlling_only_memory_beside_a_cpu_hpa_is_clean() {
        let vpa = "  updatePolicy: {updateMode: Auto}\n  resourcePolicy:\n    containerPolicies:\n    - {containerName: \"*\", controlledResources: [memory]}";
        assert_eq!(lint(&tree(vpa, CPU_METRIC)), vec![]);
    }

    #[test]
    fn one_container_left_on_the_default_policy_still_fights() {
        let vpa = "  updatePolicy: {updateMode: Auto}\n  resourcePolicy:\n    containerPolicies:\n    - {containerName: web, controlledResources: [memory]}";
        let findings = lint(&tree(vpa, CPU_METRIC));
        assert_eq!(
            findings.len(),
            1,
            "the proxy container keeps CPU: {findings:?}"
        );
    }

    #[test]
    fn containers_whose_policy_is_off_control_nothing() {
        let vpa = "  updatePolicy: {updateMode: Auto}\n  resourcePolicy:\n    containerPolicies:\n    - {containerName: \"*\", mode: \"Off\"}";
        assert_eq!(lint(&tree(vpa, CPU_METRIC)), vec![]);
    }

    #[test]
    fn an_hpa_on_an_external_metric_does_not_fight() {
        let external = "  metrics:\n  - type: External\n    external: {metric: {name: queue_depth}, target: {type: AverageValue, averageValue: \"30\"}}";
        assert_eq!(
            lint(&tree("  updatePolicy: {updateMode: Auto}", external)),
            vec![]
        );
    }

    #[test]
    fn a_keda_cpu_trigger_fights_and_an_sqs_trigger_does_not() {
        let keda = |trigger: &str| {
            format!(
                r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: app}}
spec:
  selector: {{matchLabels: {{app: worker}}}}
  template:
    metadata: {{labels: {{app: worker}}}}
    spec:
      containers: [{{name: worker, image: worker:1.0.0}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: worker, namespace: app}}
spec:
  scaleTargetRef: {{name: worker}}
  triggers: [{{type: {trigger}, metadata: {{}}}}]
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {{name: worker, namespace: app}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: worker}}
  updatePolicy: {{updateMode: Auto}}
"#
            )
        };
        assert_eq!(lint(&keda("cpu")).len(), 1);
        assert_eq!(lint(&keda("aws-sqs-queue")), vec![]);
    }

    #[test]
    fn a_vpa_whose_target_is_not_in_the_tree_is_not_judged() {
        let yaml = "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata: {name: web, namespace: app}\nspec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: elsewhere}\n";
        assert_eq!(lint(yaml), vec![]);
    }
}
