//! Cost-allocation labels on workloads, their pods and Namespaces.

use super::{LintContext, subject};
use crate::k8s::workloads::pod_labels_pointer;
use crate::repo::Object;
use crate::report::{Finding, RuleInfo, rule};

rule!(
    COST_ALLOCATION,
    "labels",
    "label-cost-allocation",
    Warning,
    "workloads, their pods and Namespaces should carry the cost-allocation labels",
    "add app.kubernetes.io/name (workloads), app.kubernetes.io/part-of, team, cost-center and environment to metadata.labels, and team and cost-center to the pod template's labels"
);

pub const RULES: &[RuleInfo] = &[COST_ALLOCATION];

const WORKLOAD_LABELS: [&str; 5] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
    "team",
    "cost-center",
    "environment",
];
const NAMESPACE_LABELS: [&str; 4] = [
    "app.kubernetes.io/part-of",
    "team",
    "cost-center",
    "environment",
];
/// What cost tools read from pods themselves.
const POD_LABELS: [&str; 2] = ["team", "cost-center"];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in &context.tree.objects {
        if object.pod_spec().is_some() {
            findings.extend(missing_labels(
                object,
                "/metadata/labels",
                &WORKLOAD_LABELS,
                "is missing",
            ));
            if object.kind() != "Pod"
                && let Some(template_labels) = pod_labels_pointer(object)
            {
                findings.extend(missing_labels(
                    object,
                    &template_labels,
                    &POD_LABELS,
                    "has a pod template missing",
                ));
            }
        } else if object.is("", "Namespace") {
            findings.extend(missing_labels(
                object,
                "/metadata/labels",
                &NAMESPACE_LABELS,
                "is missing",
            ));
        }
    }
    findings
}

/// A finding naming the `required` labels absent (or empty) in the label map at `labels_pointer`.
fn missing_labels(
    object: &Object,
    labels_pointer: &str,
    required: &[&str],
    what: &str,
) -> Option<Finding> {
    let labels = object.at(labels_pointer);
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|key| {
            labels
                .and_then(|labels| labels[*key].as_str())
                .is_none_or(|value| value.trim().is_empty())
        })
        .collect();
    (!missing.is_empty()).then(|| {
        Finding::new(
            &COST_ALLOCATION,
            subject(object),
            Some(object.location_of(labels_pointer)),
            format!("{what} labels {}", missing.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::lint_yaml(check, yaml)
    }

    const LABELLED: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels:
    app.kubernetes.io/part-of: shop
    team: checkout
    cost-center: cc-42
    environment: production
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/part-of: shop
    team: checkout
    cost-center: cc-42
    environment: production
spec:
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: web, team: checkout, cost-center: cc-42}
    spec: {containers: [{name: web, image: web:1}]}
"#;

    #[test]
    fn labelled_deployment_and_namespace_without_app_name_are_clean() {
        assert_eq!(lint(LABELLED), vec![]);
    }

    #[test]
    fn workload_missing_labels_lists_them_at_its_labels() {
        let yaml = LABELLED.replace(
            "    team: checkout\n    cost-center: cc-42\n    environment: production\nspec:",
            "spec:",
        );
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "label-cost-allocation");
        assert_eq!(findings[0].subject, "Deployment app/web");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 17);
        assert_eq!(
            findings[0].message,
            "is missing labels team, cost-center, environment"
        );
    }

    #[test]
    fn namespace_without_labels_is_flagged_at_the_namespace() {
        let yaml = LABELLED.replace("    environment: production\n---", "---");
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].subject, "Namespace app");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 6);
        assert_eq!(findings[0].message, "is missing labels environment");
    }

    #[test]
    fn pod_template_without_cost_labels_is_a_separate_finding_at_the_template_labels() {
        let yaml = LABELLED.replace(", team: checkout, cost-center: cc-42}", "}");
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 27);
        assert_eq!(
            findings[0].message,
            "has a pod template missing labels team, cost-center"
        );
    }

    #[test]
    fn empty_label_value_counts_as_missing() {
        let yaml = LABELLED.replace("cost-center: cc-42}", "cost-center: ''}");
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].message,
            "has a pod template missing labels cost-center"
        );
    }
}
