//! What a HorizontalPodAutoscaler's status says about it: the conditions that keep it from scaling, whether it sits at its maximum, and the fix for each; doctor and verify judge autoscalers by these alone.

use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
};

/// `AbleToScale` or `ScalingActive` False: the autoscaler cannot change its workload or cannot read its
/// metrics. `ScalingActive` False with `ScalingDisabled` is by design (the target is scaled to zero).
pub fn failing_conditions(hpa: &HorizontalPodAutoscaler) -> Vec<&HorizontalPodAutoscalerCondition> {
    conditions(hpa)
        .iter()
        .filter(|c| {
            matches!(c.type_.as_str(), "ScalingActive" | "AbleToScale") && c.status == "False"
        })
        .filter(|c| c.reason.as_deref() != Some("ScalingDisabled"))
        .collect()
}

pub fn conditions(hpa: &HorizontalPodAutoscaler) -> &[HorizontalPodAutoscalerCondition] {
    hpa.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

/// `Type=Status (Reason: message)`.
pub fn describe(condition: &HorizontalPodAutoscalerCondition) -> String {
    format!(
        "{}={} ({}: {})",
        condition.type_,
        condition.status,
        condition.reason.as_deref().unwrap_or("no reason"),
        condition.message.as_deref().unwrap_or("no message")
    )
}

/// `Kind namespace/name` of the workload the autoscaler scales.
pub fn target(hpa: &HorizontalPodAutoscaler) -> String {
    super::typed::subject_of(
        &hpa.spec.scale_target_ref.kind,
        hpa.metadata.namespace.as_deref(),
        &hpa.spec.scale_target_ref.name,
    )
}

/// What the failing `condition` means, in a few words.
pub fn problem(
    hpa: &HorizontalPodAutoscaler,
    condition: &HorizontalPodAutoscalerCondition,
) -> String {
    let reason = condition.reason.as_deref().unwrap_or_default();
    if condition.type_ == "AbleToScale" {
        format!("cannot scale {} ({reason})", target(hpa))
    } else {
        format!("cannot read its metrics ({reason})")
    }
}

/// The fix for the failing `condition`.
pub fn remedy(
    hpa: &HorizontalPodAutoscaler,
    condition: &HorizontalPodAutoscalerCondition,
) -> String {
    let reason = condition.reason.as_deref().unwrap_or_default();
    let message = condition.message.as_deref().unwrap_or_default();
    let target = target(hpa);
    let namespace = hpa.metadata.namespace.as_deref().unwrap_or("default");
    if message.contains("missing request for") {
        format!(
            "set resources.requests for the metric's resource on every container of {target}: utilization is measured against requests"
        )
    } else if reason.contains("External") || reason.contains("Object") || reason.contains("Pods") {
        "check the adapter that serves the metric (KEDA or prometheus-adapter): kubectl get apiservice | grep metrics".to_string()
    } else if condition.type_ == "AbleToScale" {
        format!("check that {target} exists and scaleTargetRef names it")
    } else {
        format!(
            "check metrics-server: kubectl get apiservice v1beta1.metrics.k8s.io; kubectl -n {namespace} top pods"
        )
    }
}

/// Current replicas at `maxReplicas` where the autoscaler has a range to move in.
pub fn at_max(hpa: &HorizontalPodAutoscaler) -> bool {
    let current = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .unwrap_or(0);
    current >= hpa.spec.max_replicas && hpa.spec.min_replicas.unwrap_or(1) < hpa.spec.max_replicas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(status: serde_json::Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api", "namespace": "tacos-app"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}, "minReplicas": 2, "maxReplicas": 10},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn blind_autoscaler_fails_with_its_reason_and_the_metrics_server_fix() {
        let blind = hpa(
            serde_json::json!({"currentReplicas": 2, "desiredReplicas": 2, "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
                {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                 "message": "the HPA was unable to compute the replica count: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"},
            ]}),
        );
        let failing = failing_conditions(&blind);
        assert_eq!(failing.len(), 1);
        assert_eq!(
            problem(&blind, failing[0]),
            "cannot read its metrics (FailedGetResourceMetric)"
        );
        assert!(
            describe(failing[0])
                .starts_with("ScalingActive=False (FailedGetResourceMetric: the HPA was unable")
        );
        assert!(
            remedy(&blind, failing[0]).contains("kubectl get apiservice v1beta1.metrics.k8s.io")
        );
        assert!(!at_max(&blind));
    }

    #[test]
    fn scaled_to_zero_is_not_failing_and_max_needs_a_range() {
        let idle = hpa(
            serde_json::json!({"currentReplicas": 0, "desiredReplicas": 0, "conditions": [
                {"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled"},
            ]}),
        );
        assert!(failing_conditions(&idle).is_empty());
        assert!(at_max(&hpa(
            serde_json::json!({"currentReplicas": 10, "desiredReplicas": 10})
        )));
        let mut fixed = hpa(serde_json::json!({"currentReplicas": 10, "desiredReplicas": 10}));
        fixed.spec.min_replicas = Some(10);
        assert!(!at_max(&fixed));
    }
}
