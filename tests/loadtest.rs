//! `tacos loadtest` on a real apiserver with k6-operator's real TestRun CRD: the harness plays the operator (stages, runner pods and their k6 exit codes, `cleanup: post` deleting both when finished); the TestRun is applied, followed and judged.

use std::path::{Path, PathBuf};
use std::process::Output;

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::play::k6_operator_run;
use tacos_testenv::{AwsEmulator, Binaries, ControlPlane, ControlPlaneOptions};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

async fn control_plane() -> ControlPlane {
    ControlPlane::start(ControlPlaneOptions {
        skip_crds: vec![
            "keda".into(),
            "prometheus-operator".into(),
            "argo-cd".into(),
        ],
        ..ControlPlaneOptions::default()
    })
    .await
    .unwrap()
}

/// `tacos loadtest` against `kubeconfig`, with an AWS emulator holding the environment's EKS
/// cluster (the cluster guard checks the apiserver is that cluster before anything is applied).
async fn loadtest(kubeconfig: &Path, args: &[&str]) -> Output {
    let binaries = Binaries::locate().unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tacos"))
        .current_dir(repo_root())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--profile", ""])
        .arg("loadtest")
        .args(args)
        .envs(aws.env())
        .env("TACOS_HELM", &binaries.helm)
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run tacos loadtest")
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_run_whose_runners_pass_is_followed_to_the_end_and_exits_0() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let operator =
        tokio::spawn(async move { k6_operator_run(&client, "loadtest", "tacos-ramp", 0).await });
    let output = loadtest(
        &plane.kubeconfig,
        &["--scenario", "ramp", "--timeout", "2m"],
    )
    .await;
    operator.await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("✔ cluster-k6-operator-present"), "{stdout}");
    assert!(stdout.contains("✔ capacity-fits-target"), "{stdout}");
    assert!(
        stdout.contains("TestRun loadtest/tacos-ramp created"),
        "{stdout}"
    );
    for stage in ["started", "finished"] {
        assert!(
            stdout.contains(&format!("TestRun tacos-ramp: {stage}")),
            "{stage}: {stdout}"
        );
    }
    assert!(
        stdout.contains("✔ thresholds passed: 8 runner(s)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_failed_threshold_exits_1_naming_the_runner() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let operator =
        tokio::spawn(async move { k6_operator_run(&client, "loadtest", "tacos-spike", 99).await });
    let output = loadtest(
        &plane.kubeconfig,
        &["--scenario", "spike", "--timeout", "2m"],
    )
    .await;
    operator.await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("✗ thresholds failed")
            && stdout.contains("tacos-spike-1: a threshold failed (k6 exit code 99)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_target_beyond_capacity_stops_before_the_testrun_is_applied() {
    let plane = control_plane().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let tacos_yaml = std::fs::read_to_string(repo_root().join("tacos.yaml"))
        .unwrap()
        .replace("spikeRps: 50000", "spikeRps: 500000");
    std::fs::write(config.path(), tacos_yaml).unwrap();
    let config_arg = config.path().display().to_string();
    let output = loadtest(
        &plane.kubeconfig,
        &[
            "--config",
            &config_arg,
            "--scenario",
            "spike",
            "--timeout",
            "1m",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(all.contains("✗ capacity-fits-target"), "{all}");
    assert!(all.contains("nothing was applied"), "{all}");
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("k6.io", "v1alpha1", "TestRun"));
    let runs: Api<DynamicObject> =
        Api::namespaced_with(plane.client().await.unwrap(), "loadtest", &resource);
    assert!(runs.get_opt("tacos-spike").await.unwrap().is_none());
}
