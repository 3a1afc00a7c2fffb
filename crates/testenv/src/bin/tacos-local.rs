//! `tacos-local run -- COMMAND...`: starts a simulated EKS-like cluster and the AWS emulator seeded with the platform's account, serves the checkout from a local Git repository, runs the real Argo CD once the argocd phase installs it, plays the controllers that cannot run here, and runs COMMAND against them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tacos_testenv::lab::Lab;

const USAGE: &str = "usage: tacos-local run [--repo DIR] -- COMMAND [ARGS...]\n\
Starts a simulated cluster (kube-apiserver, controller-manager, scheduler, kwok nodes in ap-northeast-2a/b/c)\n\
and moto's AWS emulator seeded with the EKS cluster, certificate and hosted zone; commits the checkout (DIR) into\n\
a local Git repository Argo CD syncs from; runs Argo CD's application-controller and repo-server once the argocd\n\
phase has installed them; plays the AWS Load Balancer Controller, ExternalDNS and KEDA; runs COMMAND with\n\
KUBECONFIG, AWS_*, TACOS_CHART_DIR, TACOS_GIT_REPO_URL and TACOS_GIT_REVISION set; stops everything after.";

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
    eprintln!(
        "tacos-local: starting the simulated cluster (3 kwok nodes) and the AWS emulator ..."
    );
    let lab = Lab::start(repo).await.map_err(|e| text(&e))?;
    let commit = lab.git.head().map_err(|e| text(&e))?;
    eprintln!(
        "tacos-local: ready; Argo CD will sync {} at main (commit {commit}); running: {}",
        lab.git.url(),
        command.join(" ")
    );
    let mut child = tokio::process::Command::new(&command[0]);
    child.args(&command[1..]).envs(lab.env());
    let status = child
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
    drop(lab);
    Ok(status.code().map(|c| c as u8).unwrap_or(1))
}
