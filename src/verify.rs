//! `tacos verify`: read-only checks for CI — the cluster matches the tree, everything is ready, AWS is right, and the live posture holds.

use std::time::Instant;

use crate::apply::drift::{DriftKind, drift};
use crate::apply::live::{LiveError, get_live, get_live_by_key};
use crate::apply::readiness::{Readiness, at_floor, readiness};
use crate::aws::AwsContext;
use crate::config::Environment;
use crate::phases::check::{ConfigSource, run_checks};
use crate::phases::render::{RenderOptions, render_phase, replica_floors_of};
use crate::phases::{CheckContext, Phase, PhaseError};
use crate::repo::Object;
use crate::report::checklist::CheckResult;
use crate::report::{Finding, RuleInfo, Severity, rule};

rule!(
    READABLE,
    "verify",
    "verify-permission",
    Error,
    "tacos can read everything it verifies",
    "grant get/list on it to the identity verify runs as (manifests/access/tacos-verify.yaml)"
);
rule!(
    MATCHES_TREE,
    "verify",
    "verify-matches-tree",
    Error,
    "every object of the tree exists with the fields tacos manages",
    "tacos diff --phase PHASE shows the change; tacos deploy --phase PHASE puts it back"
);
rule!(
    READY,
    "verify",
    "verify-ready",
    Error,
    "every object is ready by its kind's rule (Applications Synced and Healthy at the expected revision)",
    "tacos doctor names the cause"
);

/// Where verify reads from.
pub struct VerifyContext<'a> {
    pub client: &'a kube::Client,
    pub aws: Option<&'a AwsContext>,
    pub environment: &'a Environment,
    pub config: &'a ConfigSource,
    pub render: &'a RenderOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("failed to verify phase {phase}")]
    Phase {
        phase: String,
        #[source]
        source: PhaseError,
    },
}

impl VerifyError {
    pub fn phase_error(&self) -> &PhaseError {
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
        suite: phase.name.to_string(),
        check: *check,
        findings,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Every check of one phase, one result per check (a JUnit test case each).
pub async fn verify_phase(
    context: &VerifyContext<'_>,
    phase: &Phase,
) -> Result<Vec<CheckResult>, VerifyError> {
    let fail = |source: PhaseError| VerifyError::Phase {
        phase: phase.name.to_string(),
        source,
    };
    let mut rendered = render_phase(phase, context.render).await.map_err(fail)?;
    // A phase a rollback pinned is compared with the tree at the pinned commit, as the rollback
    // applied it (the gitops-not-pinned check warns of the pin itself).
    let pins = if phase.pins() {
        crate::phases::pin::live_pins(context.client, phase.name)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let pinned_environment;
    let environment = match pins.first() {
        Some(pin) if pins.iter().all(|p| p.commit == pin.commit) => {
            crate::phases::pin::stamp(&mut rendered, phase.name, &pin.commit, &pin.by);
            let mut pinned = context.environment.clone();
            pinned.git.revision = pin.commit.clone();
            pinned_environment = pinned;
            &pinned_environment
        }
        _ => context.environment,
    };
    let check_context = CheckContext {
        phase,
        client: context.client,
        aws: context.aws.filter(|_| phase.needs_aws),
        environment,
        config: context.config,
        render: context.render,
        objects: &rendered,
    };
    // Compared as deploy applies them: with what the tree cannot know filled in from the account.
    let objects = crate::phases::substitute::resolved(&check_context)
        .await
        .map_err(fail)?;
    let mut results = Vec::new();

    let started = Instant::now();
    let mut unreadable = Vec::new();
    let mut mismatched = Vec::new();
    let mut not_ready = Vec::new();
    // Applications must be at the commit the environment's revision points at now.
    let expected_revision = if objects.iter().any(|o| o.is("argoproj.io", "Application")) {
        let git = environment.git.clone();
        let url = git.repo_url.clone();
        match tokio::task::spawn_blocking(move || {
            crate::git::resolve_revision(&git.repo_url, &git.revision)
        })
        .await
        {
            Ok(Ok(commit)) => Some(commit),
            Ok(Err(error)) => {
                unreadable.push(Finding::new(
                    &READABLE,
                    format!("Git repository {url}"),
                    None,
                    error.to_string(),
                ));
                None
            }
            Err(_) => None,
        }
    } else {
        None
    };
    // Who applies each object: a field another manager took over is put back by Argo CD where an
    // Application syncs the object, by tacos elsewhere. Unreadable Applications: say tacos.
    let wiring: Vec<Object> = objects
        .iter()
        .filter(|o| crate::deploy::gitops::is_wiring(o))
        .cloned()
        .collect();
    let owners = crate::deploy::gitops::folder_owners(
        context.client,
        &wiring,
        &context.environment.git.repo_url,
    )
    .await
    .unwrap_or_default();
    let (secrets, objects_read): (Vec<&Object>, Vec<&Object>) =
        objects.iter().partition(|o| o.is("", "Secret"));
    // What the phase leaves to another command (TestRuns, deleted when they finish) is not verified.
    for object in objects_read.into_iter().filter(|o| !phase.leaves(o.kind())) {
        let live = match get_live(context.client, object).await {
            Ok(live) => live,
            Err(LiveError::PermissionDenied(what)) => {
                unreadable.push(Finding::new(
                    &READABLE,
                    object.key().to_string(),
                    Some(object.location()),
                    format!("permission denied for {what}"),
                ));
                continue;
            }
            Err(error) => return Err(fail(error.into())),
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
            let synced_by = crate::deploy::gitops::owner_of(object, &context.render.repo, &owners);
            match (others, synced_by) {
                (Some(by), Some(owner)) => {
                    finding = finding.with_remedy(format!(
                        "{by} changed fields Argo CD applies from Git (Application {app}): change them in Git instead; `argocd app sync {app}` (or self-heal) puts the tree back",
                        app = owner.application
                    ));
                }
                (Some(by), None) => {
                    finding = finding.with_remedy(format!(
                        "{by} changed fields tacos manages: change them in Git instead; `tacos deploy --phase {} --force-conflicts` puts the tree back",
                        phase.name
                    ));
                }
                (None, _) => {}
            }
            mismatched.push(finding);
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
        .filter(|f| !phase.leaves(&f.workload.kind))
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
            Err(LiveError::PermissionDenied(what)) => {
                unreadable.push(Finding::new(
                    &READABLE,
                    floor.workload.to_string(),
                    Some(floor.declared_at.clone()),
                    format!("permission denied for {what}"),
                ));
                continue;
            }
            Err(error) => return Err(fail(error.into())),
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

    let started = Instant::now();
    let outcomes = run_checks(&check_context, phase.checks().filter(|c| c.in_verify))
        .await
        .map_err(fail)?;
    for outcome in outcomes {
        results.push(result(phase, &outcome.check, outcome.findings, started));
    }
    Ok(results)
}
