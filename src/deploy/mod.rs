//! `tacos deploy`: for each phase, render, check before (nothing applied on failure), apply, wait until up, prune, check after.

pub mod gitops;
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
use crate::phases::pin;
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
    #[error("phase {phase}: the hand-over to Argo CD failed")]
    GitOps {
        phase: String,
        #[source]
        source: Box<gitops::GitOpsError>,
    },
    #[error("phase {phase}: {failed} check(s) failed after applying")]
    Postflight { phase: String, failed: usize },
}

impl DeployError {
    /// The step of the phase the run stopped at, as the deploy history names it.
    pub fn step(&self) -> &'static str {
        match self {
            DeployError::Phase(_) => "render",
            DeployError::Preflight { .. } => "preflight",
            DeployError::Apply { .. } => "apply",
            DeployError::Wait { .. } => "wait",
            DeployError::Hook { .. } => "hooks",
            DeployError::GitOps { .. } => "hand-over",
            DeployError::Postflight { .. } => "postflight",
        }
    }
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
    /// What the current phase changed so far, for its history entry (reset by each phase).
    pub changes: Mutex<crate::history::Changes>,
    /// Whether this run respects, lifts or sets a rollback pin on the phase's Applications.
    pub pin: pin::PinMode,
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
    *context.changes.lock().unwrap_or_else(|p| p.into_inner()) = Default::default();
    let reporter = &context.reporter;
    reporter.phase_started(name, phase.summary);
    let mut objects = render::render_phase(phase, &context.render).await?;
    if let pin::PinMode::Pin { commit, by } = &context.pin {
        pin::stamp(&mut objects, name, commit, by);
    }
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
    // Helm hooks are reported (and listed when interrupted) but are no change of the phase:
    // they run on every deploy, as Helm runs them on every upgrade.
    let on_hook = |applied: &Applied| {
        reporter.applied(name, applied, context.dry_run);
        if applied.outcome != Outcome::Unchanged && !context.dry_run {
            context
                .applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{} ({:?})", applied.key, applied.outcome).to_lowercase());
        }
    };
    let on_applied = |applied: &Applied| {
        on_hook(applied);
        if !context.dry_run {
            record_change(context, applied);
        }
    };

    // Who writes what: the Applications and AppProjects are tacos's; a folder an Application
    // syncs is Argo CD's once Argo CD is installed; the rest tacos applies (the bootstrap).
    let gitops_error = |source| {
        skip_postflight(reporter, phase, "the hand-over to Argo CD failed");
        DeployError::GitOps {
            phase: name.to_string(),
            source: Box::new(source),
        }
    };
    let repo_url = context.environment.git.repo_url.clone();
    let installed = gitops::argocd_installed(&context.client)
        .await
        .map_err(gitops_error)?;
    for left in phase.not_applied {
        let count = objects.iter().filter(|o| o.kind() == left.kind).count();
        if count > 0 {
            reporter.note(
                name,
                &format!("{count} {}(s) not applied here: {}", left.kind, left.by),
            );
        }
    }
    let (wiring, content): (Vec<Object>, Vec<Object>) = objects
        .iter()
        .filter(|o| !phase.leaves(o.kind()))
        .cloned()
        .partition(gitops::is_wiring);
    let owners = gitops::folder_owners(&context.client, &wiring, &repo_url)
        .await
        .map_err(gitops_error)?;
    let owner_of = |o: &Object| gitops::owner_of(o, &context.render.repo, &owners).cloned();
    // Argo CD applies files as written: one that holds a `${NAME}` tacos fills in must stay tacos's.
    let names: Vec<&str> = phase.substitutes.iter().map(|s| s.name).collect();
    if let Some(found) =
        gitops::placeholder_synced(check_context.objects, &context.render.repo, &owners, &names)
    {
        skip_postflight(reporter, phase, "the phase could not be handed over");
        return Err(DeployError::Phase(PhaseError::Usage(found)));
    }
    let (handed, bootstrap): (Vec<Object>, Vec<Object>) =
        content.into_iter().partition(|o| owner_of(o).is_some());
    let mut owning: Vec<String> = handed
        .iter()
        .filter_map(|o| owner_of(o).map(|owner| owner.application))
        .collect();
    owning.sort();
    owning.dedup();
    if !handed.is_empty() {
        reporter.note(
            name,
            &format!(
                "{} object(s) are Argo CD's (Application {}): Argo CD applies them from Git, tacos does not",
                handed.len(),
                owning.join(", ")
            ),
        );
    }

    let staged = stage_hooks(&bootstrap)?;
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
    run_phase_hooks(context, name, &staged.pre, &on_hook).await?;
    let apply_error = |source| {
        skip_postflight(reporter, phase, "the phase was not applied");
        DeployError::Apply {
            phase: name.to_string(),
            source: Box::new(source),
        }
    };
    let mut applied = applier
        .apply(&staged.main, &on_applied)
        .await
        .map_err(apply_error)?;
    if context.dry_run {
        if installed {
            applied.extend(
                applier
                    .apply(&wiring, &on_applied)
                    .await
                    .map_err(apply_error)?,
            );
        }
        let summary = summarize(&applied, started);
        skip_postflight(reporter, phase, "dry run: nothing was stored to check");
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
    let targets: Vec<Target> = applied
        .iter()
        .map(|a| Target {
            key: a.key.clone(),
            resource: a.resource.clone(),
            floor: floor_of(&a.key),
        })
        .collect();
    let wait_options = WaitOptions {
        timeout: context.timeout,
        failure_window: context.failure_window,
        ..WaitOptions::default()
    };
    wait_for(context, phase, &targets, &wait_options).await?;

    // The hand-over: the Applications at the environment's commit, each sync wave up before the
    // next, then what they sync.
    if !wiring.is_empty() || !owning.is_empty() {
        if !installed
            && !gitops::argocd_installed(&context.client)
                .await
                .map_err(gitops_error)?
        {
            reporter.warn(
                name,
                "Argo CD is not installed yet: its Applications wait for `tacos deploy --phase argocd`",
            );
        } else {
            let commit = resolve_commit(context).await.map_err(gitops_error)?;
            reporter.note(
                name,
                &format!(
                    "Argo CD syncs {repo_url} at {} (commit {commit})",
                    context.environment.git.revision
                ),
            );
            let at_commit = WaitOptions {
                expected_revision: Some(commit.clone()),
                ..wait_options.clone()
            };
            let mut synced: Vec<String> = Vec::new();
            for wave in gitops::waves(&wiring) {
                let done = applier
                    .apply(&wave, &on_applied)
                    .await
                    .map_err(apply_error)?;
                let targets: Vec<Target> = done
                    .iter()
                    .filter(|a| a.key.kind == "Application")
                    .map(|a| Target {
                        key: a.key.clone(),
                        resource: a.resource.clone(),
                        floor: None,
                    })
                    .collect();
                for target in &targets {
                    gitops::refresh(&context.client, &target.key.name)
                        .await
                        .map_err(gitops_error)?;
                }
                // Argo CD may compare before its informers hold what this run just applied (a
                // new AppProject): ask once more shortly after.
                let again = refresh_later(context, &targets);
                let waited = wait_for(context, phase, &targets, &at_commit).await;
                again.abort();
                waited?;
                record_synced(context, &targets, &commit);
                synced.extend(targets.iter().map(|t| t.key.name.clone()));
                applied.extend(done);
            }
            let others: Vec<Target> = owning
                .iter()
                .filter(|a| !synced.contains(a))
                .map(|a| Target {
                    key: ObjectKey {
                        group: "argoproj.io".into(),
                        kind: "Application".into(),
                        namespace: Some(gitops::ARGOCD_NAMESPACE.into()),
                        name: a.clone(),
                    },
                    resource: crate::k8s::argocd::application_resource(),
                    floor: None,
                })
                .collect();
            for target in &others {
                gitops::refresh(&context.client, &target.key.name)
                    .await
                    .map_err(gitops_error)?;
            }
            wait_for(context, phase, &others, &at_commit).await?;
            record_synced(context, &others, &commit);
            synced.extend(others.iter().map(|t| t.key.name.clone()));
            let handed_over = gitops::relinquish(&context.client, &synced)
                .await
                .map_err(gitops_error)?;
            if !handed_over.relinquished.is_empty() {
                reporter.note(
                    name,
                    &format!(
                        "handed {} object(s) over to Argo CD: tacos's field manager removed, Argo CD's is the only one",
                        handed_over.relinquished.len()
                    ),
                );
            }
        }
    }

    // What Argo CD applies (the handed-over folders, the workloads of the Applications' charts):
    // up once ready, each workload at the floor its autoscaler declares.
    let mut synced_targets = Vec::new();
    for object in &handed {
        let (resource, _) = applier.resource_of(object).await.map_err(apply_error)?;
        synced_targets.push(Target {
            key: object.key(),
            resource,
            floor: floor_of(&object.key()),
        });
    }
    synced_targets.extend(
        floors
            .iter()
            .filter(|f| !applied.iter().any(|a| a.key == f.workload))
            .map(|f| Target {
                key: f.workload.clone(),
                resource: workload_resource(&f.workload.kind),
                floor: Some(f.min_replicas),
            }),
    );
    wait_for(context, phase, &synced_targets, &wait_options).await?;
    let mut summary = summarize(&applied, started);

    run_phase_hooks(context, name, &staged.post, &on_hook).await?;

    let mine: Vec<Object> = bootstrap.iter().chain(&wiring).cloned().collect();
    let pruned = applier.prune(&mine, &applied).await.map_err(|source| {
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
        for check in phase.audits {
            reporter.skipped(name, &check.info, "a check after applying failed");
        }
        return Err(DeployError::Postflight {
            phase: name.to_string(),
            failed,
        });
    }
    // Audits read settings the phase does not own: deploy reports them, verify fails on them.
    for mut outcome in run_checks(&check_context, phase.audits).await? {
        for finding in &mut outcome.findings {
            finding.severity = finding.severity.min(Severity::Warning);
        }
        reporter.check(name, &outcome.check, &outcome.findings);
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

/// Adds what applying did to one object to the phase's history changes.
fn record_change(context: &DeployContext, applied: &Applied) {
    use crate::history::{Change, ObjectChange};
    let mut changes = context.changes.lock().unwrap_or_else(|p| p.into_inner());
    let change = match applied.outcome {
        Outcome::Created => Change::Created,
        Outcome::Configured => Change::Configured,
        Outcome::Pruned => Change::Pruned,
        Outcome::Unchanged => {
            changes.unchanged += 1;
            return;
        }
    };
    changes
        .objects
        .push(ObjectChange::new(&applied.key, change));
}

/// The Applications now synced at `commit`, for the phase's history entry.
fn record_synced(context: &DeployContext, targets: &[Target], commit: &str) {
    let mut changes = context.changes.lock().unwrap_or_else(|p| p.into_inner());
    for target in targets {
        changes.applications.push(crate::history::ApplicationSync {
            name: target.key.name.clone(),
            commit: commit.to_string(),
        });
    }
}

/// Counts what applying did.
fn summarize(applied: &[Applied], started: Instant) -> PhaseSummary {
    let mut summary = PhaseSummary::default();
    for a in applied {
        match a.outcome {
            Outcome::Created => summary.created += 1,
            Outcome::Configured => summary.configured += 1,
            Outcome::Unchanged => summary.unchanged += 1,
            Outcome::Pruned => summary.pruned += 1,
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

/// Waits until `targets` are up; a phase that does not come up skips its checks after.
async fn wait_for(
    context: &DeployContext,
    phase: &Phase,
    targets: &[Target],
    options: &WaitOptions,
) -> Result<(), DeployError> {
    if targets.is_empty() {
        return Ok(());
    }
    wait_until_ready(&context.client, targets, options, &|event| {
        context.reporter.waiting(phase.name, event)
    })
    .await
    .map_err(|source| {
        skip_postflight(&context.reporter, phase, "the phase did not come up");
        DeployError::Wait {
            phase: phase.name.to_string(),
            source: Box::new(source),
        }
    })?;
    Ok(())
}

/// Asks Argo CD to refresh the target Applications again in a few seconds.
fn refresh_later(context: &DeployContext, targets: &[Target]) -> tokio::task::JoinHandle<()> {
    let client = context.client.clone();
    let names: Vec<String> = targets.iter().map(|t| t.key.name.clone()).collect();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for name in names {
            let _ = gitops::refresh(&client, &name).await;
        }
    })
}

/// The commit the environment's revision points at now, read from the repository.
async fn resolve_commit(context: &DeployContext) -> Result<String, gitops::GitOpsError> {
    let git = context.environment.git.clone();
    tokio::task::spawn_blocking(move || crate::git::resolve_revision(&git.repo_url, &git.revision))
        .await
        .unwrap_or_else(|e| {
            Err(crate::git::GitError::Unreadable {
                url: context.environment.git.repo_url.clone(),
                revision: context.environment.git.revision.clone(),
                message: e.to_string(),
            })
        })
        .map_err(gitops::GitOpsError::from)
}

/// Every check of a run is reported once: those after applying that cannot run say why.
fn skip_postflight(reporter: &Reporter, phase: &Phase, why: &str) {
    for check in phase.postflight.iter().chain(phase.audits) {
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
