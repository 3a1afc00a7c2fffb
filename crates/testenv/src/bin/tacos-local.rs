//! `tacos-local run -- COMMAND...`: starts a simulated EKS-like cluster and the AWS emulator seeded with the platform's account, plays the controllers they lack, and runs COMMAND against them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::players::Players;
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
    install_load_balancer_controller_stand_in(&client).await?;
    let chart_dir = prepare_chart_dir(&binaries, cluster.control_plane.dir())?;
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

/// A Deployment named and placed like the AWS Load Balancer Controller, so the gateway phase's
/// preflight finds it running; the Players do its actual work.
async fn install_load_balancer_controller_stand_in(client: &kube::Client) -> Result<(), String> {
    use kube::api::{Api, Patch, PatchParams};
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system",
                     "annotations": {"tacos.traffictacos.store/stand-in": "the controller's work is played by crates/testenv players"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
                              "spec": {"containers": [{"name": "controller", "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1"}]}}}
    });
    let api: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "kube-system");
    api.patch(
        "aws-load-balancer-controller",
        &PatchParams::apply("tacos-local").force(),
        &Patch::Apply(&deployment),
    )
    .await
    .map_err(|e| format!("install the AWS Load Balancer Controller stand-in: {e}"))?;
    Ok(())
}

/// The air-gapped upstream folder tacos reads with --chart-dir: the Gateway API CRDs from their Go
/// module, and the argo-cd stand-in chart with Argo CD's CRDs (from its Go module) in crds/.
fn prepare_chart_dir(binaries: &Binaries, run_dir: &Path) -> Result<PathBuf, String> {
    let chart_dir = run_dir.join("charts");
    let copy_dir = |from: &Path, to: &Path| -> Result<(), String> {
        std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
        for entry in std::fs::read_dir(from)
            .map_err(|e| format!("read {}: {e}", from.display()))?
            .flatten()
        {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy_dir_recursive(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), &target)
                    .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
            }
        }
        Ok(())
    };
    let upstream = |prefix: &str| -> Result<PathBuf, String> {
        std::fs::read_dir(&binaries.upstream_crds)
            .map_err(|e| {
                format!(
                    "read {}: {e}; run testenv/install.sh",
                    binaries.upstream_crds.display()
                )
            })?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .ok_or_else(|| {
                format!(
                    "no {prefix}* folder in {}; run testenv/install.sh",
                    binaries.upstream_crds.display()
                )
            })
    };
    let gateway_api = upstream("gateway-api-")?;
    copy_dir(
        &gateway_api,
        &chart_dir.join(gateway_api.file_name().unwrap_or_default()),
    )?;
    copy_dir(
        &binaries.stand_in_crds.join("argo-cd-chart"),
        &chart_dir.join("argo-cd"),
    )?;
    copy_dir(
        &upstream("argo-cd-")?,
        &chart_dir.join("argo-cd").join("crds"),
    )?;
    Ok(chart_dir)
}

fn copy_dir_recursive(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from)
        .map_err(|e| format!("read {}: {e}", from.display()))?
        .flatten()
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir_recursive(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}
