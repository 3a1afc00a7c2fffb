//! `tacos loadtest` on a real apiserver with k6-operator's real TestRun CRD: the harness plays the operator (stages, runner pods and their k6 exit codes, `cleanup: post` deleting both when finished); the TestRun is applied, followed and judged.

use std::path::{Path, PathBuf};

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::play::k6_operator_run;
use tacos_testenv::{AwsEmulator, ControlPlane, ControlPlaneOptions, Run, tacos_command};

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

/// `tacos loadtest ARGS` at the repository root with the testenv helm, and an AWS emulator holding
/// the environment's EKS cluster (the cluster guard checks the apiserver is that cluster before
/// anything is applied).
async fn loadtest(kubeconfig: &Path, args: &[&str]) -> Run {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    tacos_command!()
        .kubeconfig(kubeconfig)
        .aws(&aws)
        .helm()
        .arg("loadtest")
        .args(args)
        .run_async()
        .await
}

#[tokio::test]
async fn a_run_whose_runners_pass_is_followed_to_the_end_and_exits_0() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let operator =
        tokio::spawn(async move { k6_operator_run(&client, "loadtest", "tacos-ramp", 0).await });
    let run = loadtest(
        &plane.kubeconfig,
        &["--scenario", "ramp", "--timeout", "2m"],
    )
    .await;
    operator.await.unwrap().unwrap();
    run.assert_code(0);
    run.assert_stdout_contains("✔ cluster-k6-operator-present");
    run.assert_stdout_contains("✔ capacity-fits-target");
    run.assert_stdout_contains("TestRun loadtest/tacos-ramp created");
    for stage in ["started", "finished"] {
        assert!(
            run.stdout.contains(&format!("TestRun tacos-ramp: {stage}")),
            "{stage}: {run}"
        );
    }
    run.assert_stdout_contains("✔ thresholds passed: 8 runner(s)");
}

#[tokio::test]
async fn a_failed_threshold_exits_1_naming_the_runner() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let operator =
        tokio::spawn(async move { k6_operator_run(&client, "loadtest", "tacos-spike", 99).await });
    let run = loadtest(
        &plane.kubeconfig,
        &["--scenario", "spike", "--timeout", "2m"],
    )
    .await;
    operator.await.unwrap().unwrap();
    run.assert_code(1);
    run.assert_stdout_contains("✗ thresholds failed");
    run.assert_stdout_contains("tacos-spike-1: a threshold failed (k6 exit code 99)");
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
    let run = loadtest(
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
    run.assert_code(1);
    run.assert_output_contains("✗ capacity-fits-target");
    run.assert_output_contains("nothing was applied");
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("k6.io", "v1alpha1", "TestRun"));
    let runs: Api<DynamicObject> =
        Api::namespaced_with(plane.client().await.unwrap(), "loadtest", &resource);
    assert!(runs.get_opt("tacos-spike").await.unwrap().is_none());
}
