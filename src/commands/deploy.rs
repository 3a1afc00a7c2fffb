//! `tacos deploy --phase P` (and `tacos gateway|argocd|apps`): set up the cluster and AWS clients, run each phase, stop cleanly on Ctrl-C.

use std::sync::Mutex;

use crate::aws::{AwsContext, AwsError};
use crate::cli::{ApplyArgs, GlobalArgs, OutputFormat, PhaseSelection};
use crate::config::Environment;
use crate::deploy::report::Reporter;
use crate::deploy::{DeployContext, DeployError, run_phase};
use crate::exit::{ExitStatus, StatusError};
use crate::phases::PhaseError;
use crate::phases::render::RenderOptions;

pub async fn run(
    global: &GlobalArgs,
    selection: PhaseSelection,
    args: &ApplyArgs,
) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "deploy",
    )?;
    let environment = super::environment(global)?;
    let selected = selection.phases();
    // Every phase writes to the cluster, so every run proves it is the environment's.
    let super::Connection { client, aws, .. } = super::connect(global, &environment).await?;
    let aws = Some(aws);
    let format = super::report_format(global);
    let context = DeployContext {
        client,
        aws,
        environment,
        config: super::config_source(global),
        render: RenderOptions {
            repo: global.repo.clone(),
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
    };
    for phase in selected {
        let name = phase.name;
        tokio::select! {
            result = run_phase(&context, phase) => {
                if let Err(error) = result {
                    let status = deploy_status(&error);
                    return Err(anyhow::Error::new(error).context(StatusError { status, message: format!("deploy stopped in phase {}", name) }));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                let applied = context.applied.lock().unwrap_or_else(|p| p.into_inner());
                eprintln!("interrupted in phase {}; {} change(s) were applied before the stop:", name, applied.len());
                for line in applied.iter() {
                    eprintln!("  {line}");
                }
                eprintln!("re-run the same command to converge");
                return Ok(ExitStatus::Interrupted);
            }
        }
    }
    Ok(ExitStatus::Clean)
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
