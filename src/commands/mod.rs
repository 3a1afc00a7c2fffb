//! One module per subcommand: each turns parsed arguments into work and an exit status.

pub mod capacity;
pub mod deploy;
pub mod diff;
pub mod doctor;
pub mod eks;
pub mod history;
pub mod lint;
pub mod loadtest;
pub mod plan;
pub mod replay;
pub mod rollback;
pub mod routes;
pub mod verify;

use std::io::IsTerminal;

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat, PhaseSelection};
use crate::cluster_guard::KubeTarget;
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
        Command::Lint(args) => lint::run(global, args).await,
        Command::Routes(args) => routes::run(global, args),
        Command::Plan { phase } => plan::run(global, *phase),
        Command::Capacity(args) => capacity::run(global, args),
        Command::Loadtest(args) if args.simulate => replay::run(global, args).await,
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
        Command::EksToken => eks::print_token(global).await,
        Command::History(args) => history::run(global, args).await,
        Command::Rollback(args) => rollback::run(global, args).await,
    }
}

/// The environment of tacos.yaml the flags select (`--config`, `--env`), with the Git source
/// `--git-repo-url` / `--git-revision` override.
pub fn environment(global: &GlobalArgs) -> Result<crate::config::Environment, StatusError> {
    environment_named(global).map(|(_, environment)| environment)
}

/// The environment the flags select, with its name in tacos.yaml.
pub fn environment_named(
    global: &GlobalArgs,
) -> Result<(String, crate::config::Environment), StatusError> {
    let config = crate::config::ConfigFile::load(&global.config)
        .map_err(|e| StatusError::bad_input(e.to_string()))?;
    let (name, environment) = config
        .environment(&global.config, global.environment.as_deref())
        .map_err(|e| StatusError::bad_input(e.to_string()))?;
    let mut environment = environment.clone();
    if let Some(url) = &global.git_repo_url {
        crate::config::check_repo_url(url).map_err(|why| {
            StatusError::bad_input(format!("--git-repo-url (or TACOS_GIT_REPO_URL): {why}"))
        })?;
        environment.git.repo_url = url.clone();
    }
    if let Some(revision) = global
        .git_revision
        .as_ref()
        .filter(|r| !r.trim().is_empty())
    {
        environment.git.revision = revision.trim().to_string();
    }
    Ok((name, environment))
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

/// A kube client from `--kubeconfig`/`--context` (or the standard places), checked to answer, and
/// which context, server and user it is. An exec plugin (`aws eks get-token`) runs as the same AWS
/// identity as tacos: `profile` replaces whatever profile the kubeconfig gives it.
pub async fn kube_client_for(
    global: &GlobalArgs,
    aws: Option<&crate::aws::AwsContext>,
    environment: Option<&crate::config::Environment>,
) -> anyhow::Result<(kube::Client, KubeTarget)> {
    let (config, kube) = match (through_eks(global), aws, environment) {
        (true, Some(aws), Some(environment)) => eks::eks_config(global, aws, environment).await?,
        (true, _, _) => {
            return Err(StatusError::bad_input(
                "--connect eks needs AWS and tacos.yaml's cluster; this command has neither: pass --kubeconfig",
            )
            .into());
        }
        (false, aws, _) => kubeconfig_config(global, aws).await?,
    };
    let server = kube.server.clone();
    let client = kube::Client::try_from(config)
        .map_err(|e| StatusError::bad_input(format!("cannot build a client for {server}: {e}")))?;
    client.apiserver_version().await.map_err(|e| {
        StatusError::unreachable(format!(
            "cannot reach the cluster at {server} ({kube}): {e}"
        ))
    })?;
    Ok((client, kube))
}

/// `--connect eks`, or `auto` with no kubeconfig to be found.
fn through_eks(global: &GlobalArgs) -> bool {
    match global.connect {
        crate::cli::Connect::Eks => true,
        crate::cli::Connect::Kubeconfig => false,
        crate::cli::Connect::Auto => {
            global.kubeconfig.is_none()
                && !std::env::var_os("HOME")
                    .map(|home| std::path::Path::new(&home).join(".kube/config"))
                    .is_some_and(|p| p.is_file())
        }
    }
}

/// The configuration of the kubeconfig's context (`--kubeconfig`, `--context`, impersonation), its
/// exec plugin set to tacos's AWS identity.
async fn kubeconfig_config(
    global: &GlobalArgs,
    aws: Option<&crate::aws::AwsContext>,
) -> anyhow::Result<(kube::Config, KubeTarget)> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let profile = aws.and_then(|a| a.target.profile.as_deref());
    let region = aws.map(|a| a.target.region.as_str());
    let source = global
        .kubeconfig
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the default kubeconfig".into());
    let kubeconfig = match &global.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|e| {
            StatusError::bad_input(format!("cannot read kubeconfig {}: {e}", path.display()))
        })?,
        None => Kubeconfig::read().map_err(|e| {
            StatusError::bad_input(format!(
                "cannot use {source}: {e}; pass --kubeconfig and --context"
            ))
        })?,
    };
    let context = global
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let context_user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .unwrap_or_default();
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| {
            StatusError::bad_input(format!(
                "cannot use {source}: {e}; pass --kubeconfig and --context"
            ))
        })?;
    if let Some(user) = &global.impersonate {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !global.impersonate_groups.is_empty() {
        config.auth_info.impersonate_groups = Some(global.impersonate_groups.clone());
    }
    if let Some(exec) = config.auth_info.exec.as_mut() {
        same_aws_identity(exec, profile, region);
    }
    let kube = KubeTarget {
        context,
        server: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string(),
        user: global.impersonate.clone().unwrap_or(context_user),
    };
    Ok((config, kube))
}

/// The exec plugin's environment gets tacos's profile (or none: then it inherits the shell's, as
/// tacos's own default chain does) and region.
fn same_aws_identity(
    exec: &mut kube::config::ExecConfig,
    profile: Option<&str>,
    region: Option<&str>,
) {
    let mut env = exec.env.take().unwrap_or_default();
    env.retain(|entry| {
        !matches!(
            entry.get("name").map(String::as_str),
            Some("AWS_PROFILE" | "AWS_REGION" | "AWS_DEFAULT_REGION")
        )
    });
    let mut set = |name: &str, value: &str| {
        env.push(
            [("name", name), ("value", value)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    };
    if let Some(profile) = profile {
        set("AWS_PROFILE", profile);
    }
    if let Some(region) = region {
        set("AWS_REGION", region);
        set("AWS_DEFAULT_REGION", region);
    }
    exec.env = Some(env);
}

/// A cluster connection proven to be the environment's EKS cluster, and the AWS identity used.
pub struct Connection {
    pub client: kube::Client,
    pub aws: crate::aws::AwsContext,
    pub kube: KubeTarget,
}

/// Connects to AWS and to the cluster as one identity, refuses a cluster that is not the
/// environment's (exit 2, before anything is read or written), and says on stderr what tacos acts
/// on and as whom.
pub async fn connect(
    global: &GlobalArgs,
    environment: &crate::config::Environment,
) -> anyhow::Result<Connection> {
    let aws = deploy::connect_aws(global, environment).await?;
    let (client, kube) = kube_client_for(global, Some(&aws), Some(environment)).await?;
    guard(&client, &kube, &aws, environment).await?;
    Ok(Connection { client, aws, kube })
}

/// The cluster guard, with its errors mapped to exit codes, and the line saying who acts on what.
pub async fn guard(
    client: &kube::Client,
    kube: &KubeTarget,
    aws: &crate::aws::AwsContext,
    environment: &crate::config::Environment,
) -> anyhow::Result<()> {
    use crate::cluster_guard::GuardError;
    let cluster = &environment.cluster.name;
    crate::cluster_guard::ensure_environment_cluster(client, kube, aws, cluster)
        .await
        .map_err(|error| {
            let status = match &error {
                GuardError::Unreachable { .. }
                | GuardError::Aws(crate::aws::AwsError::Unreachable { .. }) => {
                    ExitStatus::Unreachable
                }
                _ => ExitStatus::BadInput,
            };
            StatusError {
                status,
                message: error.to_string(),
            }
        })?;
    eprintln!(
        "acting on EKS cluster {cluster} ({}) as {}, through {}",
        aws.target, aws.caller_arn, kube
    );
    Ok(())
}
