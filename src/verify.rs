//! `tacos verify`: read-only checks for CI — the cluster matches the tree, everything is ready, AWS is right, and the live posture holds.

use std::time::Instant;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};

use crate::apply::drift::{DriftKind, drift};
use crate::apply::readiness::{Readiness, at_floor, readiness};
use crate::aws::AwsContext;
use crate::config::Environment;
use crate::deploy::DeployError;
use crate::deploy::checks::{self, CheckContext, get_live, get_live_by_key};
use crate::deploy::render::{RenderOptions, render_phase, replica_floors_of};
use crate::phases::Phase;
use crate::repo::Object;
use crate::report::junit::CheckResult;
use crate::report::{Finding, RuleInfo, Severity};

macro_rules! verify_check {
    ($name:ident, $id:literal, $severity:ident, $summary:literal, $remedy:literal) => {
        pub const $name: RuleInfo = RuleInfo {
            id: $id,
            family: "verify",
            severity: Severity::$severity,
            summary: $summary,
            remedy: $remedy,
        };
    };
}

verify_check!(
    READABLE,
    "verify-permission",
    Error,
    "tacos can read everything it verifies",
    "grant get/list on it to the identity verify runs as (manifests/access/tacos-verify.yaml)"
);
verify_check!(
    MATCHES_TREE,
    "verify-matches-tree",
    Error,
    "every object of the tree exists with the fields tacos manages",
    "tacos diff --phase PHASE shows the change; tacos deploy --phase PHASE puts it back"
);
verify_check!(
    READY,
    "verify-ready",
    Error,
    "every object is ready by its kind's rule (Applications Synced and Healthy at the expected revision)",
    "tacos doctor names the cause"
);
verify_check!(
    PSA_RESTRICTED,
    "posture-pod-security-restricted",
    Error,
    "app namespaces enforce Pod Security restricted",
    "label the namespace pod-security.kubernetes.io/enforce=restricted (manifests/tacos/namespace.yaml) and redeploy"
);
verify_check!(
    DEFAULT_DENY,
    "posture-default-deny",
    Error,
    "app namespaces have a default-deny NetworkPolicy for ingress and egress",
    "apply a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules"
);
verify_check!(
    HPA_HEADROOM,
    "posture-hpa-below-max",
    Error,
    "no HorizontalPodAutoscaler is pinned at its maximum",
    "raise maxReplicas (and the quota) or add capacity; the service cannot absorb a spike"
);
verify_check!(
    PDB_ALLOWS_DISRUPTION,
    "posture-pdb-allows-disruption",
    Error,
    "no PodDisruptionBudget blocks every eviction",
    "give the workload more replicas than minAvailable, or lower minAvailable; node drains hang otherwise"
);

/// Every verify-only check, for looking up a check's summary by id.
const VERIFY_CHECKS: &[RuleInfo] = &[
    READABLE,
    MATCHES_TREE,
    READY,
    PSA_RESTRICTED,
    DEFAULT_DENY,
    HPA_HEADROOM,
    PDB_ALLOWS_DISRUPTION,
];

/// The one-line summary of a check (verify's own, or a phase's preflight and postflight checks).
pub fn summary_of(id: &str) -> &'static str {
    VERIFY_CHECKS
        .iter()
        .chain(
            crate::phases::all()
                .iter()
                .flat_map(|p| p.preflight.iter().chain(p.postflight)),
        )
        .find(|c| c.id == id)
        .map(|c| c.summary)
        .unwrap_or("")
}

/// Where verify reads from.
pub struct VerifyContext<'a> {
    pub client: &'a kube::Client,
    pub aws: Option<&'a AwsContext>,
    pub environment: &'a Environment,
    pub render: &'a RenderOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("failed to verify phase {phase}")]
    Phase {
        phase: String,
        #[source]
        source: DeployError,
    },
}

impl VerifyError {
    pub fn deploy_error(&self) -> &DeployError {
        match self {
            VerifyError::Phase { source, .. } => source,
        }
    }
}

fn result(
    phase: &Phase,
    check: &RuleInfo,
    findings: Vec<Finding>,
    started: Instant,
) -> CheckResult {
    CheckResult {
        suite: phase.name.as_str().to_string(),
        name: check.id.to_string(),
        findings,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Every check of one phase, one result per check (a JUnit test case each).
pub async fn verify_phase(
    context: &VerifyContext<'_>,
    phase: &Phase,
) -> Result<Vec<CheckResult>, VerifyError> {
    let fail = |source: DeployError| VerifyError::Phase {
        phase: phase.name.as_str().to_string(),
        source,
    };
    let objects = render_phase(phase, context.render).await.map_err(fail)?;
    let mut results = Vec::new();

    let started = Instant::now();
    let mut unreadable = Vec::new();
    let mut mismatched = Vec::new();
    let mut not_ready = Vec::new();
    let expected_revision = Some(context.environment.git.revision.clone())
        .filter(|r| r.len() >= 7 && r.chars().all(|c| c.is_ascii_hexdigit()));
    let (secrets, objects_read): (Vec<&Object>, Vec<&Object>) =
        objects.iter().partition(|o| o.is("", "Secret"));
    for object in objects_read {
        let live = match get_live(context.client, object).await {
            Ok(live) => live,
            Err(DeployError::PermissionDenied(what)) => {
                unreadable.push(Finding::new(
                    &READABLE,
                    object.key().to_string(),
                    Some(object.location()),
                    format!("permission denied for {what}"),
                ));
                continue;
            }
            Err(error) => return Err(fail(error)),
        };
        let Some(live) = live else {
            mismatched.push(Finding::new(
                &MATCHES_TREE,
                object.key().to_string(),
                Some(object.location()),
                "missing from the cluster",
            ));
            continue;
        };
        let drifts = drift(&object.value, &live, crate::apply::FIELD_MANAGER);
        if !drifts.is_empty() {
            let shown: Vec<String> = drifts.iter().take(5).map(|d| d.to_string()).collect();
            let others = drifts
                .iter()
                .filter_map(|d| match &d.kind {
                    DriftKind::TakenOver { by } => Some(by.clone()),
                    _ => None,
                })
                .next();
            let mut finding = Finding::new(
                &MATCHES_TREE,
                object.key().to_string(),
                Some(object.location()),
                format!(
                    "{} field(s) differ from the tree: {}",
                    drifts.len(),
                    shown.join("; ")
                ),
            );
            if let Some(by) = others {
                finding = finding.with_remedy(format!(
                    "{by} changed fields tacos manages: change them in Git instead; `tacos deploy --phase {} --force-conflicts` puts the tree back",
                    phase.name.as_str()
                ));
            }
            mismatched.push(finding);
        }
        if phase.not_waited.contains(&object.kind()) {
            continue;
        }
        match readiness(&live, expected_revision.as_deref()) {
            Readiness::Pending(why) | Readiness::Failed(why) => not_ready.push(Finding::new(
                &READY,
                object.key().to_string(),
                Some(object.location()),
                why,
            )),
            Readiness::Ready | Readiness::NotWaited(_) => {}
        }
    }
    let floors = replica_floors_of(phase, &objects, context.render).map_err(fail)?;
    for floor in floors
        .into_iter()
        .filter(|f| !phase.not_waited.contains(&f.workload.kind.as_str()))
    {
        let why = match get_live_by_key(context.client, "apps/v1", &floor.workload).await {
            Ok(Some(live)) => match at_floor(&live, floor.min_replicas) {
                Readiness::Pending(why) | Readiness::Failed(why) => why,
                Readiness::Ready | Readiness::NotWaited(_) => continue,
            },
            Ok(None) => format!(
                "missing from the cluster ({} {} declares a floor of {} replicas for it)",
                floor.declared_by.kind, floor.declared_by.name, floor.min_replicas
            ),
            Err(DeployError::PermissionDenied(what)) => {
                unreadable.push(Finding::new(
                    &READABLE,
                    floor.workload.to_string(),
                    Some(floor.declared_at.clone()),
                    format!("permission denied for {what}"),
                ));
                continue;
            }
            Err(error) => return Err(fail(error)),
        };
        // A workload tacos applies itself was judged above by its own rule; this adds only the floor.
        if !not_ready
            .iter()
            .any(|f| f.subject == floor.workload.to_string())
        {
            not_ready.push(Finding::new(
                &READY,
                floor.workload.to_string(),
                Some(floor.declared_at),
                why,
            ));
        }
    }
    if !secrets.is_empty() {
        mismatched.push(
            Finding::new(
                &MATCHES_TREE,
                format!("{} Secret(s)", secrets.len()),
                None,
                "not compared: verify never reads Secrets (least privilege; their values must not reach CI logs)",
            )
            .with_severity(Severity::Info),
        );
    }
    results.push(result(phase, &READABLE, unreadable, started));
    results.push(result(phase, &MATCHES_TREE, mismatched, started));
    results.push(result(phase, &READY, not_ready, started));

    let check_context = CheckContext {
        client: context.client,
        aws: context.aws,
        environment: context.environment,
        render: context.render,
    };
    let started = Instant::now();
    let mut outcomes = checks::preflight(&check_context, phase, &objects, None)
        .await
        .map_err(fail)?;
    outcomes.extend(
        checks::postflight(&check_context, phase, &objects)
            .await
            .map_err(fail)?,
    );
    for outcome in outcomes {
        results.push(result(phase, &outcome.check, outcome.findings, started));
    }

    if phase.name == crate::cli::PhaseName::Apps {
        results.extend(posture(context, phase).await.map_err(fail)?);
    }
    Ok(results)
}

fn list_error(error: kube::Error, what: &str) -> Result<Finding, DeployError> {
    match error {
        kube::Error::Api(status) if status.code == 403 => Ok(Finding::new(
            &READABLE,
            what.to_string(),
            None,
            format!("permission denied for list {what} ({})", status.message),
        )),
        error => Err(DeployError::ClusterUnreachable(error.to_string())),
    }
}

/// The live posture of the app namespace: Pod Security, default deny, autoscalers, disruption budgets.
async fn posture(
    context: &VerifyContext<'_>,
    phase: &Phase,
) -> Result<Vec<CheckResult>, DeployError> {
    let started = Instant::now();
    let namespace = context.environment.app_namespace.as_str();
    let client = context.client;
    let mut results = Vec::new();

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
        Err(error) => findings.push(list_error(error, "namespaces")?),
    }
    results.push(result(phase, &PSA_RESTRICTED, findings, started));

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    let findings = match policies.list(&ListParams::default()).await {
        Ok(list) if list.items.iter().any(is_default_deny) => Vec::new(),
        Ok(_) => vec![Finding::new(
            &DEFAULT_DENY,
            format!("Namespace {namespace}"),
            None,
            "no NetworkPolicy denies all ingress and egress by default",
        )],
        Err(error) => vec![list_error(error, "networkpolicies")?],
    };
    results.push(result(phase, &DEFAULT_DENY, findings, started));

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
        Err(error) => vec![list_error(error, "horizontalpodautoscalers")?],
    };
    results.push(result(phase, &HPA_HEADROOM, findings, started));

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
        Err(error) => vec![list_error(error, "poddisruptionbudgets")?],
    };
    results.push(result(phase, &PDB_ALLOWS_DISRUPTION, findings, started));
    Ok(results)
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
