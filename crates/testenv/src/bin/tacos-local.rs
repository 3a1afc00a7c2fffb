//! `tacos-local run -- COMMAND...`: starts a simulated EKS-like cluster and the AWS emulator seeded with the platform's account, plays the controllers they lack, and runs COMMAND against them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use tacos_testenv::aws::AcmValidation;
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::players::{Players, install_load_balancer_controller};
use tacos_testenv::{AwsEmulator, Binaries, ControlPlaneOptions, FakeNode, SimulatedCluster};

const USAGE: &str = "usage: tacos-local run [--repo DIR] -- COMMAND [ARGS...]\n\
Starts a simulated cluster (kube-apiserver, controller-manager, scheduler, kwok nodes in ap-northeast-2a/b/c)\n\
and moto's AWS emulator seeded with the EKS cluster, certificate and hosted zone; plays the AWS Load Balancer\n\
Controller, ExternalDNS and Argo CD; runs COMMAND with KUBECONFIG, AWS_*, TACOS_CHART_DIR set; stops everything after.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(separator) = args.iter().position(|a| a == "--") else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if args.first().map(String::as_str) != Some("run") || separator + 1 >= args.len() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let repo = args[..separator]
        .windows(2)
        .find(|w| w[0] == "--repo")
        .map(|w| PathBuf::from(&w[1]))
        .unwrap_or_else(|| PathBuf::from("."));
    let command = args[separator + 1..].to_vec();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(&repo, &command)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("tacos-local: {error}");
            ExitCode::from(2)
        }
    }
}

async fn run(repo: &Path, command: &[String]) -> Result<u8, String> {
    let text = |e: &dyn std::error::Error| tacos_testenv::shared::error_chain(e);
    let binaries = Binaries::locate().map_err(|e| text(&e))?;
    eprintln!(
        "tacos-local: starting the simulated cluster (3 kwok nodes) and the AWS emulator ..."
    );
    let options = ControlPlaneOptions {
        skip_crds: vec!["gateway-api".into(), "argo-cd".into()],
        ..ControlPlaneOptions::default()
    };
    let cluster = SimulatedCluster::start_with(options, FakeNode::eks_default_pool())
        .await
        .map_err(|e| text(&e))?;
    let aws = Arc::new(
        AwsEmulator::start(AcmValidation::Immediate)
            .await
            .map_err(|e| text(&e))?,
    );
    let zone_id = aws.seed_platform().await.map_err(|e| text(&e))?;
    let client = cluster.client().await.map_err(|e| text(&e))?;
    install_load_balancer_controller(&client, &binaries.helm)
        .await
        .map_err(|e| text(&e))?;
    let chart_dir = prepare_chart_dir(&binaries, &cluster.control_plane.dir().join("charts"))
        .map_err(|e| text(&e))?;
    let players = Players::new(
        client,
        aws.clone(),
        zone_id,
        repo.to_path_buf(),
        binaries.helm.clone(),
    );
    let players = tokio::spawn(players.run());
    eprintln!("tacos-local: ready; running: {}", command.join(" "));
    let mut child = tokio::process::Command::new(&command[0]);
    child
        .args(&command[1..])
        .env("KUBECONFIG", &cluster.control_plane.kubeconfig)
        .env("TACOS_CHART_DIR", &chart_dir)
        .env("TACOS_HELM", &binaries.helm);
    for (key, value) in aws.env() {
        child.env(key, value);
    }
    let status = child
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
    players.abort();
    Ok(status.code().map(|c| c as u8).unwrap_or(1))
}
