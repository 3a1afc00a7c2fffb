//! `tacos deploy --phase P` (and `tacos gateway|argocd|apps`): set up the cluster and AWS clients, run each phase, stop cleanly on Ctrl-C.

use std::sync::Mutex;

use crate::aws::{AwsContext, AwsError};
use crate::cli::{ApplyArgs, GlobalArgs, OutputFormat, PhaseName, PhaseSelection};
use crate::config::Environment;
use crate::deploy::render::RenderOptions;
use crate::deploy::report::Reporter;
use crate::deploy::{DeployContext, DeployError, run_phase};
use crate::exit::{ExitStatus, StatusError};
use crate::phases;

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
    let client = super::kube_client(global).await?;
    let phase_names = selection.phases();
    let aws = if phase_names
        .iter()
        .any(|p| matches!(p, PhaseName::Gateway | PhaseName::Apps))
    {
        Some(connect_aws(global, &environment).await?)
    } else {
        None
    };
    let format = super::report_format(global);
    let context = DeployContext {
        client,
        aws,
        environment,
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
    for name in phase_names {
        let phase = phases::get(name);
        tokio::select! {
            result = run_phase(&context, &phase) => {
                if let Err(error) = result {
                    let status = deploy_status(&error);
                    return Err(anyhow::Error::new(error).context(StatusError { status, message: format!("deploy stopped in phase {}", name.as_str()) }));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                let applied = context.applied.lock().unwrap_or_else(|p| p.into_inner());
                eprintln!("interrupted in phase {}; {} change(s) were applied before the stop:", name.as_str(), applied.len());
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
    match error {
        DeployError::Usage(_)
        | DeployError::PermissionDenied(_)
        | DeployError::Load(_)
        | DeployError::Render(_)
        | DeployError::Upstream(_) => ExitStatus::BadInput,
        DeployError::Aws(AwsError::WrongAccount { .. }) => ExitStatus::BadInput,
        DeployError::Aws(AwsError::Unreachable { .. }) | DeployError::ClusterUnreachable(_) => {
            ExitStatus::Unreachable
        }
        DeployError::Wait { source, .. } if matches!(**source, WaitError::Unreachable { .. }) => {
            ExitStatus::Unreachable
        }
        DeployError::Apply { source, .. } if source.is_unreachable() => ExitStatus::Unreachable,
        DeployError::Preflight { .. }
        | DeployError::Postflight { .. }
        | DeployError::Apply { .. }
        | DeployError::Wait { .. }
        | DeployError::Hook { .. } => ExitStatus::Findings,
    }
}
