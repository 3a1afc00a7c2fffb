//! `tacos deploy`: for each phase, render, check before (nothing applied on failure), apply, wait until up, prune, check after.

pub mod report;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::core::ApiResource;

use crate::apply::applyset::ApplySet;
use crate::apply::wait::{Target, WaitOptions, wait_until_ready};
use crate::apply::{Applied, Applier, ApplyError, ApplyOptions, Mode, Outcome};
use crate::aws::AwsContext;
use crate::config::Environment;
use crate::phases::check::{ConfigSource, PREVIOUS_PHASE_HEALTHY, run_checks};
use crate::phases::render::{self, RenderOptions};
use crate::phases::{CheckContext, CheckOutcome, Phase, PhaseError};
use crate::repo::{Object, ObjectKey};
use crate::report::Severity;

use report::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Phase(#[from] PhaseError),
    #[error("phase {phase}: {failed} check(s) failed before applying; nothing was applied")]
    Preflight { phase: String, failed: usize },
    #[error("phase {phase} could not be applied")]
    Apply {
        phase: String,
        #[source]
        source: Box<ApplyError>,
    },
    #[error("phase {phase} did not come up")]
    Wait {
        phase: String,
        #[source]
        source: Box<crate::apply::wait::WaitError>,
    },
    #[error("phase {phase}: a Helm hook failed")]
    Hook {
        phase: String,
        #[source]
        source: Box<crate::apply::hooks::HookRunError>,
    },
    #[error("phase {phase}: {failed} check(s) failed after applying")]
    Postflight { phase: String, failed: usize },
}

/// Everything one deployment run needs.
pub struct DeployContext {
    pub client: kube::Client,
    pub aws: Option<AwsContext>,
    pub environment: Environment,
    pub config: ConfigSource,
    pub render: RenderOptions,
    pub dry_run: bool,
    pub force_conflicts: bool,
    pub skip_deps: bool,
    pub timeout: Duration,
    pub failure_window: Duration,
    pub reporter: Reporter,
    /// Everything applied so far, for an interrupted run to print.
    pub applied: Mutex<Vec<String>>,
}

impl DeployContext {
    /// How this run applies: a server-side dry run or for real, taking conflicts over or not.
    fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            mode: if self.dry_run {
                Mode::DryRun
            } else {
                Mode::Apply
            },
            force_conflicts: self.force_conflicts,
            ..ApplyOptions::default()
        }
    }
}

/// What a phase did.
#[derive(Debug, Clone, Default)]
pub struct PhaseSummary {
    pub created: usize,
    pub configured: usize,
    pub unchanged: usize,
    pub pruned: usize,
    pub seconds: f64,
}

impl PhaseSummary {
    pub fn changed(&self) -> bool {
        self.created + self.configured + self.pruned > 0
    }
}

fn failed_checks(outcomes: &[CheckOutcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| o.findings.iter().any(|f| f.severity == Severity::Error))
        .count()
}

/// Runs one phase end to end.
pub async fn run_phase(
    context: &DeployContext,
    phase: &Phase,
) -> Result<PhaseSummary, DeployError> {
    let started = Instant::now();
    let name = phase.name;
    let reporter = &context.reporter;
    reporter.phase_started(name, phase.summary);
    let objects = render::render_phase(phase, &context.render).await?;
    let check_context = CheckContext {
        phase,
        client: &context.client,
        aws: context.aws.as_ref().filter(|_| phase.needs_aws),
        environment: &context.environment,
        config: &context.config,
        render: &context.render,
        objects: &objects,
    };
    let mut outcomes = run_checks(&check_context, phase.preflight).await?;
    if context.skip_deps
        && let Some(dependency) = outcomes
            .iter_mut()
            .find(|o| o.check.id == PREVIOUS_PHASE_HEALTHY.info.id)
        && !dependency.findings.is_empty()
    {
        reporter.warn(
            name,
            "--skip-deps: going on although the previous phase is not healthy",
        );
        for finding in &mut dependency.findings {
            finding.severity = Severity::Warning;
        }
    }
    for outcome in &outcomes {
        reporter.check(name, &outcome.check, &outcome.findings);
    }
    let failed = failed_checks(&outcomes);
    if failed > 0 {
        skip_postflight(reporter, phase, "a check before applying failed");
        return Err(DeployError::Preflight {
            phase: name.to_string(),
            failed,
        });
    }

    // What the tree cannot know (the certificate's ARN) is filled in from the account.
    let objects = crate::phases::substitute::resolved(&check_context)
        .await
        .inspect_err(|_| skip_postflight(reporter, phase, "the phase could not be filled in"))?;
    // Read before anything is applied: a chart that cannot be rendered stops the phase here.
    let floors = render::replica_floors_of(phase, &objects, &context.render)
        .inspect_err(|_| skip_postflight(reporter, phase, "the phase could not be rendered"))?;
    let options = ApplyOptions {
        applyset: Some(ApplySet::for_phase(name)),
        ..context.apply_options()
    };
    let applier = Applier::new(context.client.clone(), options);
    let on_applied = |applied: &Applied| {
        reporter.applied(name, applied, context.dry_run);
        if applied.outcome != Outcome::Unchanged && !context.dry_run {
            context
                .applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{} ({:?})", applied.key, applied.outcome).to_lowercase());
        }
    };
    let staged = stage_hooks(&objects)?;
    if !staged.pre.is_empty() {
        // Helm installs into an existing namespace with its CRDs in place: those go before the
        // pre-install hooks (the main apply below finds them unchanged).
        let foundations: Vec<Object> = staged
            .main
            .iter()
            .filter(|o| {
                crate::apply::order::ApplyStep::of(o) == crate::apply::order::ApplyStep::Foundations
            })
            .cloned()
            .collect();
        applier
            .apply(&foundations, &on_applied)
            .await
            .map_err(|source| DeployError::Apply {
                phase: name.to_string(),
                source: Box::new(source),
            })?;
    }
    run_phase_hooks(context, name, &staged.pre, &on_applied).await?;
    let applied = applier
        .apply(&staged.main, &on_applied)
        .await
        .map_err(|source| {
            skip_postflight(reporter, phase, "the phase was not applied");
            DeployError::Apply {
                phase: name.to_string(),
                source: Box::new(source),
            }
        })?;
    let mut summary = PhaseSummary::default();
    for a in &applied {
        match a.outcome {
            Outcome::Created => summary.created += 1,
            Outcome::Configured => summary.configured += 1,
            Outcome::Unchanged => summary.unchanged += 1,
            Outcome::Pruned => summary.pruned += 1,
        }
    }
    if context.dry_run {
        skip_postflight(reporter, phase, "dry run: nothing was stored to check");
        summary.seconds = started.elapsed().as_secs_f64();
        reporter.phase_done(
            name,
            &format!("{name}: dry run, nothing stored ({})", describe(&summary)),
        );
        return Ok(summary);
    }

    let floor_of = |key: &ObjectKey| {
        floors
            .iter()
            .find(|f| &f.workload == key)
            .map(|f| f.min_replicas)
    };
    let mut targets: Vec<Target> = applied
        .iter()
        .filter(|a| !phase.not_waited.contains(&a.key.kind.as_str()))
        .map(|a| Target {
            key: a.key.clone(),
            resource: a.resource.clone(),
            floor: floor_of(&a.key),
        })
        .collect();
    // Workloads Argo CD applies from the phase's charts: the phase is up once they reach the
    // floor their autoscaler declares, not when Argo CD first calls them Healthy at one replica.
    targets.extend(
        floors
            .iter()
            .filter(|f| !applied.iter().any(|a| a.key == f.workload))
            .map(|f| Target {
                key: f.workload.clone(),
                resource: workload_resource(&f.workload.kind),
                floor: Some(f.min_replicas),
            }),
    );
    let wait_options = WaitOptions {
        timeout: context.timeout,
        failure_window: context.failure_window,
        expected_revision: Some(context.environment.git.revision.clone())
            .filter(|r| r.len() >= 7 && r.chars().all(|c| c.is_ascii_hexdigit())),
        ..WaitOptions::default()
    };
    wait_until_ready(&context.client, &targets, &wait_options, &|event| {
        reporter.waiting(name, event)
    })
    .await
    .map_err(|source| {
        skip_postflight(reporter, phase, "the phase did not come up");
        DeployError::Wait {
            phase: name.to_string(),
            source: Box::new(source),
        }
    })?;

    run_phase_hooks(context, name, &staged.post, &on_applied).await?;

    let pruned = applier.prune(&objects, &applied).await.map_err(|source| {
        skip_postflight(reporter, phase, "the phase was not applied");
        DeployError::Apply {
            phase: name.to_string(),
            source: Box::new(source),
        }
    })?;
    for p in &pruned {
        on_applied(p);
    }
    summary.pruned = pruned.len();

    let outcomes = run_checks(&check_context, phase.postflight).await?;
    for outcome in &outcomes {
        reporter.check(name, &outcome.check, &outcome.findings);
    }
    let failed = failed_checks(&outcomes);
    if failed > 0 {
        return Err(DeployError::Postflight {
            phase: name.to_string(),
            failed,
        });
    }
    summary.seconds = started.elapsed().as_secs_f64();
    reporter.phase_done(
        name,
        &format!(
            "{name} is up in {:.1} s ({})",
            summary.seconds,
            describe(&summary)
        ),
    );
    Ok(summary)
}

/// Every check of a run is reported once: those after applying that cannot run say why.
fn skip_postflight(reporter: &Reporter, phase: &Phase, why: &str) {
    for check in phase.postflight {
        reporter.skipped(phase.name, &check.info, why);
    }
}

/// The phase's objects split by their Helm hooks (test hooks and delete hooks dropped).
fn stage_hooks(objects: &[Object]) -> Result<crate::repo::hooks::Staged, DeployError> {
    crate::repo::hooks::stage(objects.to_vec()).map_err(|boxed| {
        let (object, error) = *boxed;
        DeployError::Phase(PhaseError::Render(format!(
            "{} ({}): {error}",
            object.key(),
            object.location()
        )))
    })
}

/// Runs Helm hooks as Helm and Argo CD do (pre-install before the rest, post-install after it is
/// up): by weight, each deleted first under before-hook-creation, waited on until it succeeded,
/// deleted after under hook-succeeded. Not part of the phase's ApplySet: Helm does not track hooks
/// as release objects, so they are neither pruned nor counted as changes.
async fn run_phase_hooks(
    context: &DeployContext,
    name: &str,
    hooks: &[(Object, crate::repo::hooks::Hook)],
    on_applied: &(dyn Fn(&Applied) + Sync),
) -> Result<(), DeployError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let options = context.apply_options();
    let wait = WaitOptions {
        timeout: context.timeout,
        failure_window: context.failure_window,
        ..WaitOptions::default()
    };
    crate::apply::hooks::run_hooks(
        &context.client,
        &Applier::new(context.client.clone(), options),
        hooks,
        &wait,
        on_applied,
        &|event| context.reporter.waiting(name, event),
    )
    .await
    .map_err(|source| DeployError::Hook {
        phase: name.to_string(),
        source: Box::new(source),
    })?;
    Ok(())
}

fn workload_resource(kind: &str) -> ApiResource {
    match kind {
        "StatefulSet" => ApiResource::erase::<StatefulSet>(&()),
        _ => ApiResource::erase::<Deployment>(&()),
    }
}

fn describe(summary: &PhaseSummary) -> String {
    if !summary.changed() {
        return format!("no changes, {} object(s) unchanged", summary.unchanged);
    }
    format!(
        "{} created, {} configured, {} unchanged, {} pruned",
        summary.created, summary.configured, summary.unchanged, summary.pruned
    )
}
