//! Command-line definitions (clap): subcommands, global flags in kubectl's and the AWS CLI's spelling. Parsing validates only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Severity;

const EXIT_CODES: &str = "\
Exit codes:
  0  clean: nothing at or above --fail-on (diff: no changes)
  1  findings at or above --fail-on (diff: changes)
  2  bad usage or bad input (YAML, tacos.yaml, flags, kubeconfig)
  3  the cluster or AWS could not be reached
  130  interrupted (Ctrl-C)";

/// Installs and keeps the Traffic Tacos platform on Kubernetes (EKS), the GitOps way.
#[derive(Debug, Parser)]
#[command(name = "tacos", version, about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// How to reach the cluster: a kubeconfig, or EKS itself (DescribeCluster for the endpoint and
    /// CA of tacos.yaml's cluster, and an STS-signed token, as `aws eks get-token` makes it); `auto`
    /// uses a kubeconfig when one exists.
    #[arg(long, global = true, value_enum, default_value_t = Connect::Auto)]
    pub connect: Connect,
    /// Act as this user or ServiceAccount (like kubectl --as), e.g. system:serviceaccount:tacos-system:tacos-verify.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub impersonate: Option<String>,
    /// Act with this group too (repeatable; like kubectl --as-group).
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub impersonate_groups: Vec<String>,
    /// The AWS profile (default: the environment's profile in tacos.yaml).
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region (default: the environment's region in tacos.yaml).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// The Git repository Argo CD syncs (default: the environment's git.repoURL in tacos.yaml).
    #[arg(long, global = true, env = "TACOS_GIT_REPO_URL", value_name = "URL")]
    pub git_repo_url: Option<String>,
    /// The branch, tag or commit Argo CD syncs (default: the environment's git.revision).
    #[arg(long, global = true, env = "TACOS_GIT_REVISION", value_name = "REV")]
    pub git_revision: Option<String>,
    /// Which environment of tacos.yaml.
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub environment: Option<String>,
    /// The tacos.yaml to read.
    #[arg(long, global = true, value_name = "FILE", default_value = "tacos.yaml")]
    pub config: PathBuf,
    /// The repository root holding manifests/, charts/, helm-values/, applications/.
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// More detail (-v, -vv).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
    /// SARIF 2.1.0 (lint only).
    Sarif,
    /// JUnit XML (verify only).
    Junit,
}

pub use crate::phases::PhaseSelection;

/// How `--connect` reaches the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Connect {
    Auto,
    Kubeconfig,
    Eks,
}

/// `--phase`: the name of a phase in `phases::ALL`, or `all`.
fn phase_selection() -> impl clap::builder::TypedValueParser<Value = PhaseSelection> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(PhaseSelection::names())
        .map(|name: String| PhaseSelection::named(&name).unwrap_or(PhaseSelection::ALL))
}

#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    /// Which phase to deploy (`all`: gateway, argocd, apps, monitoring in order).
    #[arg(long, value_parser = phase_selection())]
    pub phase: PhaseSelection,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Server-side dry run: the apiserver validates and admits, nothing is stored.
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields another field manager owns.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Run even if the previous phase is not healthy (with a warning).
    #[arg(long)]
    pub skip_deps: bool,
    /// How long to wait for the phase to be ready, e.g. 10m, 90s.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// How long a failing condition must hold before it fails the phase (transients pass).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub failure_window: std::time::Duration,
    /// A local folder holding the pinned charts and CRD releases (air-gapped clusters).
    #[arg(long, env = "TACOS_CHART_DIR", value_name = "DIR")]
    pub chart_dir: Option<PathBuf>,
    /// Move Applications a rollback pinned back to the environment's revision (a deploy refuses
    /// a pinned phase otherwise).
    #[arg(long)]
    pub unpin: bool,
}

#[derive(Debug, Args, Clone)]
pub struct RollbackArgs {
    /// The phase to roll back. apps: its Applications are pinned to a commit, so Argo CD syncs it
    /// back; gateway, argocd, monitoring: the phase is deployed from that commit's files, with prune.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::phases::ALL.iter().filter(|p| p.in_all).map(|p| p.name)))]
    pub phase: String,
    /// A history entry (`tacos history --phase P`, e.g. apps-3) or a commit of the repository:
    /// apps is pinned to the commit that entry synced, another phase deployed from the commit its
    /// tree was at.
    #[arg(long, value_name = "ID|COMMIT", required_unless_present = "unpin")]
    pub to: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render, check AWS and the cluster, apply by server-side apply, wait until up, check again.
    Deploy(DeployArgs),
    /// Same as `deploy --phase gateway`.
    Gateway(ApplyArgs),
    /// Same as `deploy --phase argocd`.
    Argocd(ApplyArgs),
    /// Same as `deploy --phase apps`.
    Apps(ApplyArgs),
    /// Read-only: does the cluster match the tree and is everything healthy? (exit code for CI)
    Verify {
        /// Which phase to verify (`all`: gateway, argocd, apps, monitoring).
        #[arg(long, value_parser = phase_selection(), default_value = "all")]
        phase: PhaseSelection,
        /// A local folder holding the pinned charts and CRD releases (air-gapped clusters).
        #[arg(long, env = "TACOS_CHART_DIR", value_name = "DIR")]
        chart_dir: Option<PathBuf>,
    },
    /// Prints an ExecCredential with a token for the environment's EKS cluster (the kube exec
    /// plugin `--connect eks` uses; also usable in a kubeconfig instead of `aws eks get-token`).
    #[command(hide = true)]
    EksToken,
    /// Read-only: find what is broken, why, and what to type to fix it.
    Doctor {
        /// Exit 1 when a root cause is at or above this severity.
        #[arg(long, value_enum, default_value_t = Severity::Error)]
        fail_on: Severity,
    },
    /// Read-only: the deploy history the cluster keeps, newest first (`history show ID`: one entry whole).
    History(HistoryArgs),
    /// The GitOps way back: pin a phase's Applications to the commit of a history entry (or any
    /// commit), wait until Argo CD has them Synced and Healthy there, record it; `--unpin` returns
    /// them to the environment's revision.
    Rollback(RollbackArgs),
    /// Offline: check Kubernetes YAML for what would hurt in production.
    Lint(LintArgs),
    /// Offline: per listener and hostname, which route rule takes each match (exit 0 when shown).
    ///
    /// The routing the tree's Gateways, HTTPRoutes and GRPCRoutes set up, by the Gateway API's
    /// precedence: which rule wins each match, what is shadowed or conflicts, what plain HTTP
    /// serves, which routes attach to no listener and why. `tacos lint` reports the same findings
    /// and fails on them.
    Routes(RoutesArgs),
    /// Offline: for each phase, the checks it runs and the objects it applies, in order.
    Plan {
        #[arg(long, value_parser = phase_selection(), default_value = "all")]
        phase: PhaseSelection,
    },
    /// Server-side dry run against the live cluster: what `deploy` would change (exit 0 none, 1 changes, 2+ error).
    Diff {
        #[arg(long, value_parser = phase_selection(), default_value = "all")]
        phase: PhaseSelection,
        /// A local folder holding the pinned charts and CRD releases (air-gapped clusters).
        #[arg(long, env = "TACOS_CHART_DIR", value_name = "DIR")]
        chart_dir: Option<PathBuf>,
    },
    /// Offline: replicas, nodes and monthly cost for the target RPS, and every bottleneck that caps it (exit 0 fits, 1 capped, 2 bad input).
    Capacity(CapacityArgs),
    /// Run a k6 scenario through k6-operator: check it fits, start the TestRun, follow it and the services' replicas, exit by its thresholds.
    Loadtest(LoadtestArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub action: Option<HistoryAction>,
    /// Only this phase's entries.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::phases::ALL.iter().map(|p| p.name)))]
    pub phase: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// One entry whole: who, from which tree, the result, every object changed, the Applications' commits.
    Show {
        /// The entry's id as `tacos history` lists it, e.g. apps-3.
        #[arg(value_parser = parse_history_id)]
        id: crate::history::HistoryId,
    },
}

fn parse_history_id(text: &str) -> Result<crate::history::HistoryId, String> {
    text.parse()
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files or folders of Kubernetes YAML (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = Severity::Error)]
    pub fail_on: Severity,
    /// Do not render Helm charts used by Argo CD Applications.
    #[arg(long)]
    pub no_render: bool,
    /// The helm binary used to render charts.
    #[arg(long, env = "TACOS_HELM", value_name = "FILE")]
    pub helm: Option<PathBuf>,
    /// List every rule and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// A folder of CustomResourceDefinitions to validate custom resources against, besides the
    /// CRDs in the linted tree and the CRDs tacos pins (repeatable; for air-gapped use).
    #[arg(long, value_name = "DIR")]
    pub schema_dir: Vec<PathBuf>,
    /// Never fetch: the pinned CRDs come from the cache only (a set not cached there is a
    /// crd-schema-unavailable warning).
    #[arg(long)]
    pub offline: bool,
    /// A folder holding charts that are not in the tree (`<name>/` or `<name>-<version>.tgz`),
    /// to check the values given to them; the pinned charts and the chart cache are also read.
    #[arg(long, env = "TACOS_CHART_DIR", value_name = "DIR")]
    pub chart_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RoutesArgs {
    /// Files or folders of Kubernetes YAML (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Do not render Helm charts used by Argo CD Applications.
    #[arg(long)]
    pub no_render: bool,
    /// The helm binary used to render charts.
    #[arg(long, env = "TACOS_HELM", value_name = "FILE")]
    pub helm: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The gateway-api requests per second that must fit, before headroom (default: the environment's spikeRps).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rps: Option<u32>,
    /// Also write an SVG chart of total replicas and monthly cost against RPS, from 0 to the target.
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// The helm binary used to render the services' charts.
    #[arg(long, env = "TACOS_HELM", value_name = "FILE")]
    pub helm: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// The load shape: ramp (0 -> sustained RPS), sustain, spike, or e2e (the whole plan).
    #[arg(long, value_enum)]
    pub scenario: crate::loadtest::Scenario,
    /// How long to follow the run before giving up (it keeps running on the cluster).
    #[arg(long, default_value = "90m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// The helm binary used to render the services' charts for the capacity check.
    #[arg(long, env = "TACOS_HELM", value_name = "FILE")]
    pub helm: Option<PathBuf>,
    /// Replay the scenario on a simulated (kwok) cluster instead: each pod's CPU follows the
    /// scenario's rate, the cluster's HPA controller scales, and the replicas it reaches are judged
    /// against `tacos capacity` (exit 1 when a service falls short).
    #[arg(long)]
    pub simulate: bool,
    /// With --simulate: scenario seconds per second of replay (10 plays a 10-minute ramp in 1 minute).
    /// The autoscalers, their policies and the metrics pipeline still run in real time.
    #[arg(long, default_value_t = 1.0, value_parser = parse_time_scale, requires = "simulate")]
    pub time_scale: f64,
    /// With --simulate: how long to keep the last rate after the scenario ends while autoscalers still move.
    #[arg(long, default_value = "3m", value_parser = parse_duration, requires = "simulate")]
    pub settle: std::time::Duration,
}

fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && (0.01..=1000.0).contains(&scale) => Ok(scale),
        _ => Err(format!(
            "\"{text}\" is not a time scale between 0.01 and 1000 (scenario seconds per second)"
        )),
    }
}

/// Parses `90s`, `10m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        .unwrap_or((text, "s"));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration like 90s, 10m or 1h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        _ => {
            return Err(format!(
                "\"{text}\": unknown unit \"{unit}\" (use s, m or h)"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
        assert_eq!(parse_duration("2").unwrap().as_secs(), 2);
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn shorthand_commands_parse() {
        let cli = Cli::try_parse_from(["tacos", "gateway", "--dry-run"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Gateway(ApplyArgs { dry_run: true, .. })
        ));
        let cli = Cli::try_parse_from(["tacos", "deploy", "--phase", "all"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Deploy(DeployArgs {
                phase: PhaseSelection::ALL,
                ..
            })
        ));
        assert!(Cli::try_parse_from(["tacos", "deploy", "--phase", "nope"]).is_err());
    }

    #[test]
    fn rollback_names_a_deployed_phase_and_a_target_or_unpin() {
        let cli = Cli::try_parse_from(["tacos", "rollback", "--phase", "apps", "--to", "apps-2"])
            .unwrap();
        let Command::Rollback(args) = cli.command else {
            panic!("not rollback: {:?}", cli.command);
        };
        assert_eq!(
            (args.phase.as_str(), args.to.as_deref()),
            ("apps", Some("apps-2"))
        );
        assert!(Cli::try_parse_from(["tacos", "rollback", "--phase", "apps", "--unpin"]).is_ok());
        assert!(Cli::try_parse_from(["tacos", "rollback", "--phase", "apps"]).is_err());
        assert!(
            Cli::try_parse_from(["tacos", "rollback", "--phase", "gateway", "--to", "abc"]).is_ok()
        );
        assert!(
            Cli::try_parse_from(["tacos", "rollback", "--phase", "loadtest", "--to", "abc"])
                .is_err(),
            "a load test is run on demand, not deployed"
        );
    }

    #[test]
    fn history_lists_by_phase_or_shows_one_id() {
        let cli = Cli::try_parse_from(["tacos", "history", "--phase", "apps"]).unwrap();
        let Command::History(args) = cli.command else {
            panic!("not history: {:?}", cli.command);
        };
        assert_eq!(args.phase.as_deref(), Some("apps"));
        assert!(args.action.is_none());
        let cli =
            Cli::try_parse_from(["tacos", "history", "show", "apps-3", "-o", "json"]).unwrap();
        let Command::History(HistoryArgs {
            action: Some(HistoryAction::Show { id }),
            ..
        }) = cli.command
        else {
            panic!("not history show: {:?}", cli.command);
        };
        assert_eq!(id.to_string(), "apps-3");
        assert!(Cli::try_parse_from(["tacos", "history", "--phase", "nope"]).is_err());
        assert!(Cli::try_parse_from(["tacos", "history", "show", "apps"]).is_err());
    }

    #[test]
    fn capacity_takes_a_positive_rps_and_a_chart_file() {
        let cli = Cli::try_parse_from(["tacos", "capacity", "--rps", "60000", "--chart", "c.svg"])
            .unwrap();
        let Command::Capacity(args) = cli.command else {
            panic!("not capacity: {:?}", cli.command);
        };
        assert_eq!(args.rps, Some(60_000));
        assert_eq!(args.chart, Some(PathBuf::from("c.svg")));
        assert!(Cli::try_parse_from(["tacos", "capacity", "--rps", "0"]).is_err());
        assert!(Cli::try_parse_from(["tacos", "capacity", "--rps", "lots"]).is_err());
    }
}
