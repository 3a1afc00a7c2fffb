//! `tacos deploy --phase P` (and `tacos gateway|argocd|apps`): set up the cluster and AWS clients, run each phase, stop cleanly on Ctrl-C.

use std::sync::Mutex;

use crate::aws::{AwsContext, AwsError};
use crate::cli::{ApplyArgs, GlobalArgs, OutputFormat, PhaseSelection};
use crate::config::Environment;
use crate::deploy::report::Reporter;
use crate::deploy::{DeployContext, DeployError, run_phase};
use crate::exit::{ExitStatus, StatusError};
use crate::history::{self, Changes, Entry, GitSource, KubeIdentity, RunResult, store};
use crate::phases::PhaseError;
use crate::phases::pin::PinMode;
use crate::phases::render::RenderOptions;

pub async fn run(
    global: &GlobalArgs,
    selection: PhaseSelection,
    args: &ApplyArgs,
) -> anyhow::Result<ExitStatus> {
    let pin = if args.unpin {
        PinMode::Unpin
    } else {
        PinMode::Respect
    };
    let run = Invocation {
        command: "deploy",
        pin,
        tree: global.repo.clone(),
        tree_state: crate::git::tree_state(&global.repo),
    };
    run_as(global, selection, args, run).await
}

/// What a run of the deploy engine is: the command the history names, what happens to a
/// rollback's pin, and the tree it applies.
pub struct Invocation {
    /// `deploy` or `rollback`.
    pub command: &'static str,
    pub pin: PinMode,
    /// The root of the tree the phases render: the checkout, or a commit's files for a rollback.
    pub tree: std::path::PathBuf,
    /// The commit that tree is, as the history records it.
    pub tree_state: history::TreeState,
}

/// A deploy as `run.command` (deploy, rollback) writes it in the history; a rollback pinning a
/// commit renders the Applications at that revision.
pub async fn run_as(
    global: &GlobalArgs,
    selection: PhaseSelection,
    args: &ApplyArgs,
    run: Invocation,
) -> anyhow::Result<ExitStatus> {
    let Invocation {
        command,
        pin,
        tree,
        tree_state,
    } = run;
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        command,
    )?;
    let (environment_name, mut environment) = super::environment_named(global)?;
    if let PinMode::Pin { commit, .. } = &pin {
        environment.git.revision = commit.clone();
    }
    let selected = selection.phases();
    // Every phase writes to the cluster, so every run proves it is the environment's.
    let super::Connection { client, aws, kube } = super::connect(global, &environment).await?;
    if pin == PinMode::Respect {
        refuse_pinned(&client, &selected, &environment.git.revision).await?;
    }
    let history = History {
        client: client.clone(),
        template: Entry {
            command: command.to_string(),
            tree: tree_state,
            ..history_template(&environment_name, &environment, &aws, &kube)
        },
        keep: environment.history.keep as usize,
    };
    let aws = Some(aws);
    let format = super::report_format(global);
    let context = DeployContext {
        client,
        aws,
        environment,
        config: super::config_source(global),
        render: RenderOptions {
            repo: tree,
            chart_dir: args.chart_dir.clone(),
            helm: std::env::var_os("TACOS_HELM").map(Into::into),
            ..RenderOptions::default()
        },
        dry_run: args.dry_run,
        force_conflicts: args.force_conflicts,
        skip_deps: args.skip_deps,
        timeout: args.timeout,
        failure_window: args.failure_window,
        reporter: Reporter::new(format),
        applied: Mutex::new(Vec::new()),
        changes: Mutex::new(Changes::default()),
        pin,
    };
    for phase in selected {
        let name = phase.name;
        let started = jiff::Timestamp::now();
        tokio::select! {
            result = run_phase(&context, phase) => {
                let outcome = match &result {
                    Ok(_) => RunResult::Up,
                    Err(error) => RunResult::Failed { step: error.step().into(), message: error.to_string() },
                };
                if !context.dry_run {
                    history.write(&context, name, outcome, started).await;
                }
                if let Err(error) = result {
                    let status = deploy_status(&error);
                    return Err(anyhow::Error::new(error).context(StatusError { status, message: format!("deploy stopped in phase {}", name) }));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                let applied = context.applied.lock().unwrap_or_else(|p| p.into_inner()).clone();
                eprintln!("interrupted in phase {}; {} change(s) were applied before the stop:", name, applied.len());
                for line in &applied {
                    eprintln!("  {line}");
                }
                eprintln!("re-run the same command to converge");
                if !context.dry_run {
                    history.write(&context, name, RunResult::Interrupted, started).await;
                }
                return Ok(ExitStatus::Interrupted);
            }
        }
    }
    Ok(ExitStatus::Clean)
}

/// Refuses, before any phase writes, a run that would move a phase a rollback pinned.
async fn refuse_pinned(
    client: &kube::Client,
    phases: &[&'static crate::phases::Phase],
    revision: &str,
) -> anyhow::Result<()> {
    for phase in phases.iter().filter(|p| p.pins()) {
        let pins = crate::phases::pin::live_pins(client, phase.name)
            .await
            .map_err(|error| StatusError {
                status: if crate::apply::applier::is_connection_error(&error) {
                    ExitStatus::Unreachable
                } else {
                    ExitStatus::Findings
                },
                message: format!("cannot read the Applications in namespace argocd: {error}"),
            })?;
        if !pins.is_empty() {
            return Err(StatusError {
                status: ExitStatus::Findings,
                message: format!(
                    "phase {phase} is held by a rollback: {}; a deploy would move it off that commit, so nothing was applied. Pass --unpin to return the Applications to {revision} (or run `tacos rollback --phase {phase} --unpin`)",
                    crate::phases::pin::describe(&pins),
                    phase = phase.name
                ),
            }
            .into());
        }
    }
    Ok(())
}

/// Where and how this run's history entries are written.
struct History {
    client: kube::Client,
    /// Everything an entry holds that is the same for every phase of the run.
    template: Entry,
    keep: usize,
}

impl History {
    /// Writes the phase's entry when the run changed something; a failure to write is a warning,
    /// never the deploy's failure.
    async fn write(
        &self,
        context: &DeployContext,
        phase: &str,
        result: RunResult,
        started: jiff::Timestamp,
    ) {
        let changes = context
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let previous = match store::list(&self.client, Some(phase)).await {
            Ok(entries) => entries.into_iter().next(),
            Err(error) => {
                context.reporter.warn(
                    phase,
                    &format!("this run is not in the deploy history: {error}"),
                );
                return;
            }
        };
        if !history::worth_recording(&changes, &result, previous.as_ref()) {
            return;
        }
        let mut entry = Entry {
            phase: phase.to_string(),
            started,
            ended: jiff::Timestamp::now(),
            result,
            objects: changes.objects,
            unchanged: changes.unchanged,
            applications: changes.applications,
            ..self.template.clone()
        };
        match store::record(&self.client, &mut entry, self.keep).await {
            Ok(recorded) => {
                let mut text = format!(
                    "recorded as history entry {} (tacos history show {})",
                    recorded.id, recorded.id
                );
                if !recorded.deleted.is_empty() {
                    let deleted: Vec<String> =
                        recorded.deleted.iter().map(ToString::to_string).collect();
                    text.push_str(&format!(
                        "; deleted {} to keep the last {} (history.keep in tacos.yaml)",
                        deleted.join(", "),
                        self.keep
                    ));
                }
                context.reporter.note(phase, &text);
            }
            Err(error) => context.reporter.warn(
                phase,
                &format!("this run is not in the deploy history: {error}"),
            ),
        }
    }
}

/// The parts of a history entry every phase of this run shares.
fn history_template(
    environment_name: &str,
    environment: &Environment,
    aws: &AwsContext,
    kube: &crate::cluster_guard::KubeTarget,
) -> Entry {
    let now = jiff::Timestamp::now();
    Entry {
        format: history::FORMAT,
        phase: String::new(),
        revision: 0,
        environment: environment_name.to_string(),
        command: "deploy".into(),
        tacos_version: env!("CARGO_PKG_VERSION").into(),
        tree: history::TreeState::default(),
        source: GitSource {
            repo_url: environment.git.repo_url.clone(),
            revision: environment.git.revision.clone(),
        },
        aws_caller_arn: aws.caller_arn.clone(),
        kube: KubeIdentity {
            context: kube.context.clone(),
            server: kube.server.clone(),
            user: kube.user.clone(),
        },
        started: now,
        ended: now,
        result: RunResult::Up,
        objects: Vec::new(),
        unchanged: 0,
        applications: Vec::new(),
    }
}

/// The AWS context for the environment: --profile/--region over tacos.yaml, the account checked.
pub async fn connect_aws(
    global: &GlobalArgs,
    environment: &Environment,
) -> anyhow::Result<AwsContext> {
    let region = global
        .region
        .clone()
        .unwrap_or_else(|| environment.aws.region.clone());
    let profile = global
        .profile
        .clone()
        .or_else(|| environment.aws.profile.clone())
        .filter(|p| !p.is_empty());
    AwsContext::connect(profile.as_deref(), &region, &environment.aws.account_id)
        .await
        .map_err(aws_status)
}

fn aws_status(error: AwsError) -> anyhow::Error {
    let status = match error {
        AwsError::Unreachable { .. } => ExitStatus::Unreachable,
        AwsError::WrongAccount { .. } => ExitStatus::BadInput,
    };
    anyhow::Error::new(StatusError {
        status,
        message: error.to_string(),
    })
}

/// The exit status a failed phase ends the run with.
pub fn deploy_status(error: &DeployError) -> ExitStatus {
    use crate::apply::wait::WaitError;
    use crate::deploy::gitops::GitOpsError;
    match error {
        DeployError::Phase(error) => phase_status(error),
        DeployError::Wait { source, .. } if matches!(**source, WaitError::Unreachable { .. }) => {
            ExitStatus::Unreachable
        }
        DeployError::Apply { source, .. } if source.is_unreachable() => ExitStatus::Unreachable,
        DeployError::GitOps { source, .. } => match &**source {
            GitOpsError::Git(_) => ExitStatus::BadInput,
            GitOpsError::Kube { source, .. }
                if crate::apply::applier::is_connection_error(source) =>
            {
                ExitStatus::Unreachable
            }
            GitOpsError::Kube { .. } => ExitStatus::Findings,
        },
        DeployError::Preflight { .. }
        | DeployError::Postflight { .. }
        | DeployError::Apply { .. }
        | DeployError::Wait { .. }
        | DeployError::Hook { .. } => ExitStatus::Findings,
    }
}

/// The exit status of a phase that could not be rendered or checked.
pub fn phase_status(error: &PhaseError) -> ExitStatus {
    match error {
        PhaseError::Usage(_)
        | PhaseError::PermissionDenied(_)
        | PhaseError::Load(_)
        | PhaseError::Render(_)
        | PhaseError::Upstream(_)
        | PhaseError::Aws(AwsError::WrongAccount { .. }) => ExitStatus::BadInput,
        PhaseError::Aws(AwsError::Unreachable { .. }) | PhaseError::ClusterUnreachable(_) => {
            ExitStatus::Unreachable
        }
    }
}
