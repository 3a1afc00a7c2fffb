//! Capacity limits: autoscalers at their maximum or blind to their metrics, disruption budgets that block every eviction, exhausted quotas.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::ResourceQuota;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use super::analysis::Diagnoses;
use super::cluster;
use super::{Diagnosis, Snapshot};
use crate::k8s::autoscalers;
use crate::k8s::quantity::Quantity;
use crate::report::{Severity, rule};

rule!(
    AUTOSCALER_LIMITS,
    "doctor",
    "autoscaler-limits",
    Warning,
    "autoscalers read their metrics and have room to scale",
    "raise spec.maxReplicas, or fix the metrics the autoscaler reads"
);

rule!(
    DISRUPTION_BUDGET_BLOCKING,
    "doctor",
    "disruption-budget-blocking",
    Warning,
    "disruption budgets of healthy workloads allow at least one eviction",
    "set spec.maxUnavailable: 1 (or a minAvailable below the replica count), or run more replicas"
);

rule!(
    QUOTA_EXHAUSTED,
    "doctor",
    "quota-exhausted",
    Warning,
    "resource quotas have room for the pods their namespace creates",
    "raise spec.hard of the ResourceQuota, or lower the requests or replicas in its namespace"
);

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    for autoscaler in &snapshot.autoscalers {
        if let Some(diagnosis) = autoscaler_diagnosis(autoscaler) {
            diagnoses.add(diagnosis);
        }
    }
    for budget in &snapshot.disruption_budgets {
        if let Some(diagnosis) = budget_diagnosis(budget) {
            diagnoses.add(diagnosis);
        }
    }
    for quota in &snapshot.quotas {
        if diagnoses.explained(
            &QUOTA_EXHAUSTED,
            &cluster::subject("ResourceQuota", &quota.metadata),
        ) {
            continue;
        }
        if let Some(diagnosis) = quota_diagnosis(snapshot, quota) {
            diagnoses.add(diagnosis);
        }
    }
}

fn autoscaler_diagnosis(autoscaler: &HorizontalPodAutoscaler) -> Option<Diagnosis> {
    let spec = &autoscaler.spec;
    let status = autoscaler.status.as_ref();
    let failing = autoscalers::failing_conditions(autoscaler);
    let current = status.and_then(|s| s.current_replicas).unwrap_or(0);
    let at_max = autoscalers::at_max(autoscaler);
    if failing.is_empty() && !at_max {
        return None;
    }
    let subject = cluster::subject("HorizontalPodAutoscaler", &autoscaler.metadata);
    let target = autoscalers::target(autoscaler);
    let mut problems = Vec::new();
    let mut remedies = Vec::new();
    if let Some(condition) = failing.first() {
        problems.push(autoscalers::problem(autoscaler, condition));
        remedies.push(autoscalers::remedy(autoscaler, condition));
    }
    if at_max {
        problems.push(format!(
            "is at its maximum of {} replicas",
            spec.max_replicas
        ));
        remedies.push(format!(
            "raise spec.maxReplicas of {subject} (the quota and the nodes must hold the extra pods), or make each pod of {target} carry more"
        ));
    }
    let mut diagnosis = Diagnosis::new(
        &AUTOSCALER_LIMITS,
        subject.clone(),
        format!("{subject} {}", problems.join(" and ")),
    );
    if !failing.is_empty() {
        diagnosis.severity = Severity::Error;
    }
    diagnosis.evidence = failing.iter().map(|c| autoscalers::describe(c)).collect();
    diagnosis.evidence.extend(
        autoscalers::conditions(autoscaler)
            .iter()
            .filter(|c| c.type_ == "ScalingLimited" && c.status == "True")
            .map(autoscalers::describe),
    );
    if at_max {
        diagnosis.evidence.push(format!(
            "{current} replicas, desired {}",
            status.map_or(0, |s| s.desired_replicas)
        ));
    }
    diagnosis.remedy = remedies.join("; ");
    Some(diagnosis)
}

fn budget_diagnosis(budget: &PodDisruptionBudget) -> Option<Diagnosis> {
    let status = budget.status.as_ref()?;
    let allowed = status.disruptions_allowed.unwrap_or(0);
    let healthy = status.current_healthy.unwrap_or(0);
    let expected = status.expected_pods.unwrap_or(0);
    if allowed > 0 || expected == 0 || healthy < expected {
        return None;
    }
    let subject = cluster::subject("PodDisruptionBudget", &budget.metadata);
    let mut diagnosis = Diagnosis::new(
        &DISRUPTION_BUDGET_BLOCKING,
        subject.clone(),
        format!(
            "{subject} allows no eviction though all {expected} of its pods are healthy: node drains, upgrades and consolidation will hang on them"
        ),
    );
    let spec = budget.spec.as_ref();
    let limit = |value: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString| match value {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    };
    if let Some(min) = spec.and_then(|s| s.min_available.as_ref()) {
        diagnosis
            .evidence
            .push(format!("minAvailable: {} with {expected} pods", limit(min)));
    }
    if let Some(max) = spec.and_then(|s| s.max_unavailable.as_ref()) {
        diagnosis
            .evidence
            .push(format!("maxUnavailable: {}", limit(max)));
    }
    diagnosis.evidence.push(format!(
        "{healthy} healthy, {} required, {allowed} disruptions allowed",
        status.desired_healthy.unwrap_or(0)
    ));
    diagnosis.remedy = format!(
        "set spec.maxUnavailable: 1 on {subject} (or a minAvailable below the replica count), or run more replicas"
    );
    Some(diagnosis)
}

fn quota_diagnosis(snapshot: &Snapshot, quota: &ResourceQuota) -> Option<Diagnosis> {
    let status = quota.status.as_ref()?;
    let used = status.used.as_ref();
    let exhausted: Vec<String> = status
        .hard
        .iter()
        .flatten()
        .filter_map(|(resource, hard)| {
            let limit = Quantity::parse(&hard.0)?;
            let in_use = used.and_then(|u| u.get(resource))?;
            let full = limit > Quantity::ZERO && Quantity::parse(&in_use.0)? >= limit;
            full.then(|| format!("{resource} {}/{}", in_use.0, hard.0))
        })
        .collect();
    if exhausted.is_empty() {
        return None;
    }
    let subject = cluster::subject("ResourceQuota", &quota.metadata);
    let namespace = cluster::namespace(&quota.metadata);
    let name = cluster::name(&quota.metadata);
    let marker = format!("exceeded quota: {name}");
    let refused: Vec<_> = snapshot
        .events
        .iter()
        .filter(|e| e.involved_object.namespace.as_deref() == Some(namespace))
        .filter(|e| {
            cluster::event_reason(e) == "FailedCreate"
                && cluster::event_message(e).contains(&marker)
        })
        .collect();
    let consequence = if refused.is_empty() {
        "the next pod that needs more is refused"
    } else {
        "pods are being refused"
    };
    let mut diagnosis = Diagnosis::new(
        &QUOTA_EXHAUSTED,
        subject.clone(),
        format!(
            "{subject} is used up ({}): {consequence}",
            exhausted.join(", ")
        ),
    );
    if !refused.is_empty() {
        diagnosis.severity = Severity::Error;
        diagnosis
            .evidence
            .extend(cluster::summarize_events("FailedCreate", &refused));
        diagnosis.symptoms = refused
            .iter()
            .map(|e| {
                cluster::subject_of(
                    e.involved_object.kind.as_deref().unwrap_or("Object"),
                    Some(namespace),
                    e.involved_object.name.as_deref().unwrap_or("?"),
                )
            })
            .collect();
    }
    diagnosis.remedy = format!(
        "raise spec.hard of {subject} (kubectl -n {namespace} describe resourcequota {name}), or lower the requests or replicas in namespace {namespace}"
    );
    Some(diagnosis)
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, of_check, snapshot};
    use super::*;

    fn of(yaml: &str, check: &str) -> Vec<Diagnosis> {
        of_check(&diagnose(&snapshot(yaml)), check)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn autoscalers_budgets_and_quotas_with_room_are_silent() {
        for check in [
            "autoscaler-limits",
            "disruption-budget-blocking",
            "quota-exhausted",
        ] {
            assert!(of(HEALTHY, check).is_empty(), "{check}");
        }
    }

    #[test]
    fn autoscaler_at_its_maximum_is_a_warning() {
        let yaml = HEALTHY
            .replace("  currentReplicas: 2\n  desiredReplicas: 2", "  currentReplicas: 10\n  desiredReplicas: 10")
            .replace(
                "  - {type: ScalingLimited, status: \"False\", reason: DesiredWithinRange}",
                "  - {type: ScalingLimited, status: \"True\", reason: TooManyReplicas, message: the desired replica count is more than the maximum replica count}",
            );
        let found = of(&yaml, "autoscaler-limits");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(
            found[0].cause,
            "HorizontalPodAutoscaler tacos-app/gateway-api is at its maximum of 10 replicas"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "ScalingLimited=True (TooManyReplicas: the desired replica count is more than the maximum replica count)",
                "10 replicas, desired 10",
            ]
        );
    }

    #[test]
    fn autoscaler_blind_to_its_metrics_is_an_error() {
        let yaml = HEALTHY.replace(
            "  - {type: ScalingActive, status: \"True\", reason: ValidMetricFound}",
            "  - {type: ScalingActive, status: \"False\", reason: FailedGetResourceMetric, message: \"the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container gateway-api of Pod gateway-api-7d9-abc\"}",
        );
        let found = of(&yaml, "autoscaler-limits");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(
            found[0].cause,
            "HorizontalPodAutoscaler tacos-app/gateway-api cannot read its metrics (FailedGetResourceMetric)"
        );
        assert!(found[0].remedy.starts_with("set resources.requests for the metric's resource on every container of Deployment tacos-app/gateway-api"));
    }

    #[test]
    fn budget_allowing_no_eviction_of_healthy_pods_is_a_warning() {
        let yaml = HEALTHY
            .replace("  maxUnavailable: 1\n  selector: {matchLabels: {app: gateway-api}}", "  minAvailable: 2\n  selector: {matchLabels: {app: gateway-api}}")
            .replace(
                "status: {currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2}",
                "status: {currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2}",
            );
        let found = of(&yaml, "disruption-budget-blocking");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].evidence[0], "minAvailable: 2 with 2 pods");
    }

    #[test]
    fn budget_blocking_because_pods_are_down_is_not_the_budget_s_fault() {
        let yaml = HEALTHY.replace(
            "status: {currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2}",
            "status: {currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 2}",
        );
        assert!(of(&yaml, "disruption-budget-blocking").is_empty());
    }

    #[test]
    fn used_up_quota_is_a_warning_until_it_refuses_pods() {
        let yaml = HEALTHY.replace(
            "  used: {requests.cpu: \"1\", requests.memory: 1Gi, pods: \"8\"}",
            "  used: {requests.cpu: 8000m, requests.memory: 1Gi, pods: \"8\"}",
        );
        let found = of(&yaml, "quota-exhausted");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(
            found[0].cause,
            "ResourceQuota tacos-app/tacos-app-quota is used up (requests.cpu 8000m/8): the next pod that needs more is refused"
        );
        let refusing = yaml
            + r#"
---
apiVersion: v1
kind: Event
metadata: {name: migrate.1, namespace: tacos-app}
involvedObject: {kind: Job, namespace: tacos-app, name: migrate}
reason: FailedCreate
message: 'Error creating: pods "migrate-x" is forbidden: exceeded quota: tacos-app-quota, requested: requests.cpu=1'
"#;
        let diagnoses = diagnose(&snapshot(&refusing));
        let found = of_check(&diagnoses, "quota-exhausted");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].symptoms, vec!["Job tacos-app/migrate"]);
    }
}
