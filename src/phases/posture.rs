//! The live posture of the app namespace, checked after the apps phase and by verify: Pod Security, default deny, autoscalers that work and have headroom, disruption budgets that allow a drain.

use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};

use super::check::{Check, CheckContext, PhaseError};
use crate::apply::live::{LiveError, get_live_by_key};
use crate::k8s::autoscalers;
use crate::repo::ObjectKey;
use crate::report::{Finding, RuleInfo, rule};

rule!(
    PSA_RESTRICTED,
    "verify",
    "posture-pod-security-restricted",
    Error,
    "app namespaces enforce Pod Security restricted",
    "label the namespace pod-security.kubernetes.io/enforce=restricted (manifests/tacos/namespace.yaml) and redeploy"
);
rule!(
    DEFAULT_DENY,
    "verify",
    "posture-default-deny",
    Error,
    "app namespaces have a default-deny NetworkPolicy for ingress and egress",
    "apply a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules"
);
rule!(
    HPA_SCALING,
    "verify",
    "posture-hpa-scaling",
    Error,
    "every HorizontalPodAutoscaler reads its metrics and can scale a workload that exists",
    "check metrics-server (kubectl get apiservice v1beta1.metrics.k8s.io) and the autoscaler's scaleTargetRef; an autoscaler that cannot read its metrics never leaves its floor"
);
rule!(
    HPA_HEADROOM,
    "verify",
    "posture-hpa-below-max",
    Error,
    "no HorizontalPodAutoscaler is pinned at its maximum",
    "raise maxReplicas (and the quota) or add capacity; the service cannot absorb a spike"
);
rule!(
    PDB_ALLOWS_DISRUPTION,
    "verify",
    "posture-pdb-allows-disruption",
    Error,
    "no PodDisruptionBudget blocks every eviction",
    "give the workload more replicas than minAvailable, or lower minAvailable; node drains hang otherwise"
);

/// The posture checks, in the order they run.
pub const CHECKS: [Check; 5] = [
    Check {
        info: PSA_RESTRICTED,
        run: |cx| Box::pin(pod_security_restricted(cx)),
        in_verify: true,
    },
    Check {
        info: DEFAULT_DENY,
        run: |cx| Box::pin(default_deny(cx)),
        in_verify: true,
    },
    Check {
        info: HPA_SCALING,
        run: |cx| Box::pin(autoscalers_scaling(cx)),
        in_verify: true,
    },
    Check {
        info: HPA_HEADROOM,
        run: |cx| Box::pin(autoscalers_below_max(cx)),
        in_verify: true,
    },
    Check {
        info: PDB_ALLOWS_DISRUPTION,
        run: |cx| Box::pin(budgets_allow_disruption(cx)),
        in_verify: true,
    },
];

/// A LIST the identity may not make is a finding of the check that needed it; anything else means
/// the cluster is unreachable.
fn list_error(check: &RuleInfo, error: kube::Error, what: &str) -> Result<Finding, PhaseError> {
    match error {
        kube::Error::Api(status) if status.code == 403 => Ok(Finding::new(
            check,
            what.to_string(),
            None,
            format!("permission denied for list {what} ({})", status.message),
        )),
        error => Err(PhaseError::ClusterUnreachable(error.to_string())),
    }
}

/// The app namespace enforces Pod Security restricted.
async fn pod_security_restricted(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let namespace = cx.environment.app_namespace.as_str();
    let client = cx.client;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut findings = Vec::new();
    match namespaces.get_opt(namespace).await {
        Ok(Some(live)) => {
            let level = live
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("pod-security.kubernetes.io/enforce"))
                .cloned()
                .unwrap_or_else(|| "(unset: privileged)".into());
            if level != "restricted" {
                findings.push(Finding::new(
                    &PSA_RESTRICTED,
                    format!("Namespace {namespace}"),
                    None,
                    format!("enforces Pod Security {level}, not restricted"),
                ));
            }
        }
        Ok(None) => findings.push(Finding::new(
            &PSA_RESTRICTED,
            format!("Namespace {namespace}"),
            None,
            "the app namespace does not exist",
        )),
        Err(error) => findings.push(list_error(&PSA_RESTRICTED, error, "namespaces")?),
    }
    Ok(findings)
}

/// The app namespace has a NetworkPolicy that denies everything not allowed elsewhere.
async fn default_deny(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let namespace = cx.environment.app_namespace.as_str();
    let client = cx.client;

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    let findings = match policies.list(&ListParams::default()).await {
        Ok(list) if list.items.iter().any(is_default_deny) => Vec::new(),
        Ok(_) => vec![Finding::new(
            &DEFAULT_DENY,
            format!("Namespace {namespace}"),
            None,
            "no NetworkPolicy denies all ingress and egress by default",
        )],
        Err(error) => vec![list_error(&DEFAULT_DENY, error, "networkpolicies")?],
    };
    Ok(findings)
}

/// How long a fresh autoscaler may go without metrics before it counts as blind: new pods have none
/// until metrics-server has scraped them twice and the HPA controller has synced.
const METRICS_SETTLE: Duration = Duration::from_secs(60);

/// Every HorizontalPodAutoscaler of the app namespace is `AbleToScale` and `ScalingActive` (by the
/// rule doctor uses) and targets a workload that exists. Missing metrics younger than
/// [`METRICS_SETTLE`] are read again until they clear or settle.
async fn autoscalers_scaling(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let namespace = cx.environment.app_namespace.as_str();
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(cx.client.clone(), namespace);
    let started = Instant::now();
    loop {
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(error) => {
                return Ok(vec![list_error(
                    &HPA_SCALING,
                    error,
                    "horizontalpodautoscalers",
                )?]);
            }
        };
        let now = jiff::Timestamp::now();
        let mut findings = Vec::new();
        let mut settling = false;
        for hpa in &list {
            let found = autoscaler_findings(cx.client, hpa).await?;
            if !found.is_empty()
                && may_clear_by_itself(hpa)
                && failing_since(hpa).is_none_or(|since| young(now, since))
            {
                settling = true;
            }
            findings.extend(found);
        }
        if findings.is_empty() || !settling || started.elapsed() >= METRICS_SETTLE {
            return Ok(findings);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// Not evaluated yet, or no metrics yet for its pods; a missing request or target stays until fixed.
fn may_clear_by_itself(hpa: &HorizontalPodAutoscaler) -> bool {
    let failing = autoscalers::failing_conditions(hpa);
    autoscalers::conditions(hpa).is_empty()
        || !failing.is_empty()
            && failing.iter().all(|c| {
                c.type_ == "ScalingActive"
                    && c.reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("FailedGet"))
                    && !c
                        .message
                        .as_deref()
                        .is_some_and(|m| m.contains("missing request for"))
            })
}

/// When the autoscaler last changed its mind about a failing condition (or was created, when it has none).
fn failing_since(hpa: &HorizontalPodAutoscaler) -> Option<jiff::Timestamp> {
    autoscalers::failing_conditions(hpa)
        .iter()
        .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .max()
        .or_else(|| hpa.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn young(now: jiff::Timestamp, since: jiff::Timestamp) -> bool {
    now.duration_since(since)
        .try_into()
        .is_ok_and(|age: Duration| age < METRICS_SETTLE)
}

async fn autoscaler_findings(
    client: &kube::Client,
    hpa: &HorizontalPodAutoscaler,
) -> Result<Vec<Finding>, PhaseError> {
    let namespace = hpa.metadata.namespace.clone().unwrap_or_default();
    let subject = format!(
        "HorizontalPodAutoscaler {namespace}/{}",
        hpa.metadata.name.as_deref().unwrap_or_default()
    );
    let mut findings: Vec<Finding> = autoscalers::failing_conditions(hpa)
        .into_iter()
        .map(|condition| {
            Finding::new(
                &HPA_SCALING,
                subject.clone(),
                None,
                format!(
                    "{}: {}",
                    autoscalers::problem(hpa, condition),
                    autoscalers::describe(condition)
                ),
            )
            .with_remedy(autoscalers::remedy(hpa, condition))
        })
        .collect();
    if autoscalers::conditions(hpa).is_empty() {
        findings.push(
            Finding::new(
                &HPA_SCALING,
                subject.clone(),
                None,
                "has no conditions: the HPA controller has not evaluated it",
            )
            .with_remedy(
                "check that kube-controller-manager runs and can reach the autoscaler's metrics",
            ),
        );
    }
    let target = &hpa.spec.scale_target_ref;
    let api_version = target.api_version.as_deref().unwrap_or("apps/v1");
    let key = ObjectKey {
        group: api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
            .to_string(),
        kind: target.kind.clone(),
        namespace: Some(namespace),
        name: target.name.clone(),
    };
    match get_live_by_key(client, api_version, &key).await {
        Ok(Some(_)) => {}
        Ok(None) => findings.push(
            Finding::new(
                &HPA_SCALING,
                subject,
                None,
                format!("targets {}, which does not exist", autoscalers::target(hpa)),
            )
            .with_remedy("point spec.scaleTargetRef at the workload the autoscaler is for, or deploy that workload"),
        ),
        Err(LiveError::PermissionDenied(what)) => findings.push(Finding::new(
            &HPA_SCALING,
            subject,
            None,
            format!("permission denied for {what}"),
        )),
        Err(error) => return Err(error.into()),
    }
    Ok(findings)
}

/// No HorizontalPodAutoscaler of the app namespace is pinned at its maximum.
async fn autoscalers_below_max(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let namespace = cx.environment.app_namespace.as_str();
    let client = cx.client;

    let autoscalers: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let findings = match autoscalers.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .filter_map(|hpa| {
                let current = hpa.status.as_ref()?.current_replicas.unwrap_or(0);
                let max = hpa.spec.max_replicas;
                (current >= max).then(|| {
                    Finding::new(
                        &HPA_HEADROOM,
                        format!(
                            "HorizontalPodAutoscaler {namespace}/{}",
                            hpa.metadata.name.as_deref().unwrap_or_default()
                        ),
                        None,
                        format!("at its maximum: {current} of {max} replicas"),
                    )
                })
            })
            .collect(),
        Err(error) => vec![list_error(
            &HPA_HEADROOM,
            error,
            "horizontalpodautoscalers",
        )?],
    };
    Ok(findings)
}

/// No PodDisruptionBudget of the app namespace blocks every eviction.
async fn budgets_allow_disruption(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let namespace = cx.environment.app_namespace.as_str();
    let client = cx.client;

    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), namespace);
    let findings = match budgets.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .filter_map(|pdb| {
                let status = pdb.status.as_ref()?;
                let expected = status.expected_pods.unwrap_or(0);
                let healthy = status.current_healthy.unwrap_or(0);
                let desired = status.desired_healthy.unwrap_or(0);
                // Judged on the spec, not on disruptionsAllowed: while a workload scales up the
                // count is briefly 0 for any budget; these budgets are 0 for good.
                let spec = pdb.spec.as_ref()?;
                let text = |v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString| match v {
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                        i.to_string()
                    }
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                        s.clone()
                    }
                };
                let max_unavailable = spec.max_unavailable.as_ref().map(text);
                let min_available = spec.min_available.as_ref().map(text);
                let blocks = matches!(max_unavailable.as_deref(), Some("0" | "0%"))
                    || min_available.as_deref() == Some("100%")
                    || min_available
                        .as_deref()
                        .and_then(|m| m.parse::<i32>().ok())
                        .is_some_and(|m| expected > 0 && healthy >= expected && m >= expected);
                blocks.then(|| {
                    Finding::new(
                        &PDB_ALLOWS_DISRUPTION,
                        format!(
                            "PodDisruptionBudget {namespace}/{}",
                            pdb.metadata.name.as_deref().unwrap_or_default()
                        ),
                        None,
                        format!(
                            "allows 0 disruptions ({} of {} pods healthy, {} desired)",
                            healthy, expected, desired
                        ),
                    )
                })
            })
            .collect(),
        Err(error) => vec![list_error(
            &PDB_ALLOWS_DISRUPTION,
            error,
            "poddisruptionbudgets",
        )?],
    };
    Ok(findings)
}

/// A policy selecting every pod, for both directions, with no rule: everything not allowed elsewhere is denied.
pub fn is_default_deny(policy: &NetworkPolicy) -> bool {
    let Some(spec) = &policy.spec else {
        return false;
    };
    let selects_all = spec.pod_selector.as_ref().is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|l| l.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    });
    let types = spec.policy_types.clone().unwrap_or_default();
    selects_all
        && types.iter().any(|t| t == "Ingress")
        && types.iter().any(|t| t == "Egress")
        && spec.ingress.as_ref().is_none_or(|r| r.is_empty())
        && spec.egress.as_ref().is_none_or(|r| r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn default_deny_selects_every_pod_both_ways_with_no_rules() {
        assert!(is_default_deny(&policy(serde_json::json!({
            "metadata": {"name": "default-deny-all"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        }))));
    }

    #[test]
    fn a_policy_with_rules_or_one_direction_is_not_a_default_deny() {
        assert!(!is_default_deny(&policy(serde_json::json!({
            "metadata": {"name": "ingress-only"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }))));
        assert!(!is_default_deny(&policy(serde_json::json!({
            "metadata": {"name": "allow-dns"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"ports": [{"port": 53}]}]}
        }))));
        assert!(!is_default_deny(&policy(serde_json::json!({
            "metadata": {"name": "one-app"},
            "spec": {"podSelector": {"matchLabels": {"app": "x"}}, "policyTypes": ["Ingress", "Egress"]}
        }))));
    }
}
