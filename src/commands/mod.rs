//! One module per subcommand: each turns parsed arguments into work and an exit status.

pub mod capacity;
pub mod deploy;
pub mod diff;
pub mod doctor;
pub mod lint;
pub mod loadtest;
pub mod plan;
pub mod verify;

use std::io::IsTerminal;

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat, PhaseSelection};
use crate::exit::{ExitStatus, StatusError};
use crate::phases::{self, Phase};

fn shorthand(phase: &Phase) -> PhaseSelection {
    PhaseSelection::of(phase)
}

/// Whether to colour output: a terminal, and NO_COLOR unset.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let global = &cli.global;
    match &cli.command {
        Command::Lint(args) => lint::run(global, args),
        Command::Plan { phase } => plan::run(global, *phase),
        Command::Capacity(args) => capacity::run(global, args),
        Command::Loadtest(args) => loadtest::run(global, args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "tacos", &mut std::io::stdout());
            Ok(ExitStatus::Clean)
        }
        Command::Deploy(args) => deploy::run(global, args.phase, &args.apply).await,
        Command::Gateway(args) => {
            deploy::run(global, shorthand(&phases::gateway::PHASE), args).await
        }
        Command::Argocd(args) => deploy::run(global, shorthand(&phases::argocd::PHASE), args).await,
        Command::Apps(args) => deploy::run(global, shorthand(&phases::apps::PHASE), args).await,
        Command::Diff { phase, chart_dir } => diff::run(global, *phase, chart_dir.clone()).await,
        Command::Verify { phase, chart_dir } => {
            verify::run(global, *phase, chart_dir.clone()).await
        }
        Command::Doctor { fail_on } => doctor::run(global, *fail_on).await,
    }
}

/// The environment of tacos.yaml the flags select (`--config`, `--env`).
pub fn environment(global: &GlobalArgs) -> Result<crate::config::Environment, StatusError> {
    let config = crate::config::ConfigFile::load(&global.config)
        .map_err(|e| StatusError::bad_input(e.to_string()))?;
    let (_, environment) = config
        .environment(&global.config, global.environment.as_deref())
        .map_err(|e| StatusError::bad_input(e.to_string()))?;
    Ok(environment.clone())
}

/// Where tacos.yaml is and which environment the flags select, for checks that read more of it.
pub fn config_source(global: &GlobalArgs) -> crate::phases::check::ConfigSource {
    crate::phases::check::ConfigSource {
        path: global.config.clone(),
        environment: global.environment.clone(),
    }
}

/// How a run that applies and waits reports: JSON events, a live view on a terminal, timestamped lines otherwise.
pub fn report_format(global: &GlobalArgs) -> crate::deploy::report::ReportFormat {
    use crate::deploy::report::ReportFormat;
    match global.output {
        OutputFormat::Json => ReportFormat::Json,
        _ if std::io::stdout().is_terminal() => ReportFormat::Live { color: use_color() },
        _ => ReportFormat::Human {
            color: false,
            timestamps: true,
        },
    }
}

/// Refuses an output format the command does not have.
pub fn require_output(
    format: OutputFormat,
    allowed: &[OutputFormat],
    command: &str,
) -> Result<(), StatusError> {
    if allowed.contains(&format) {
        Ok(())
    } else {
        let names: Vec<String> = allowed
            .iter()
            .map(|f| format!("{f:?}").to_lowercase())
            .collect();
        Err(StatusError::bad_input(format!(
            "`tacos {command}` writes --output {}, not {}",
            names.join(", "),
            format!("{format:?}").to_lowercase()
        )))
    }
}

/// A kube client from `--kubeconfig`/`--context` (or the standard places), checked to answer.
pub async fn kube_client(global: &GlobalArgs) -> anyhow::Result<kube::Client> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..Default::default()
    };
    let impersonate = |mut config: kube::Config| {
        if let Some(user) = &global.impersonate {
            config.auth_info.impersonate = Some(user.clone());
        }
        if !global.impersonate_groups.is_empty() {
            config.auth_info.impersonate_groups = Some(global.impersonate_groups.clone());
        }
        config
    };
    let source = global
        .kubeconfig
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the default kubeconfig".into());
    let config = match &global.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                StatusError::bad_input(format!("cannot read kubeconfig {}: {e}", path.display()))
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map(impersonate)
    .map_err(|e| {
        StatusError::bad_input(format!(
            "cannot use {source}: {e}; pass --kubeconfig and --context"
        ))
    })?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| StatusError::bad_input(format!("cannot build a client for {server}: {e}")))?;
    client.apiserver_version().await.map_err(|e| {
        StatusError::unreachable(format!(
            "cannot reach the cluster at {server} ({source}): {e}"
        ))
    })?;
    Ok(client)
}
