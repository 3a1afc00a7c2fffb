//! `tacos plan` says what each phase does: the real binary, offline, checked against what `tacos deploy --dry-run` of each phase reports on a real apiserver and the AWS emulator.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use tacos_testenv::aws::AcmValidation;
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::{AwsEmulator, Binaries, shared_control_plane};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

async fn tacos(kubeconfig: &Path, aws: &AwsEmulator, args: &[&str]) -> Output {
    let binaries = Binaries::locate().unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tacos"))
        .current_dir(repo_root())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--profile", ""])
        .args(args)
        .envs(aws.env())
        .env("TACOS_HELM", &binaries.helm)
        .env_remove("TACOS_CHART_DIR")
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run tacos")
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The ids of the checks `tacos plan -o json` lists for each phase (before and after).
fn planned_checks(plan: &serde_json::Value) -> Vec<(String, BTreeSet<String>)> {
    plan["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|phase| {
            let ids = ["preflight", "postflight"]
                .iter()
                .flat_map(|list| phase[*list].as_array().cloned().unwrap_or_default())
                .map(|check| check["id"].as_str().unwrap().to_string())
                .collect();
            (phase["phase"].as_str().unwrap().to_string(), ids)
        })
        .collect()
}

#[tokio::test]
async fn every_check_plan_lists_is_reported_by_a_dry_run_of_its_phase_and_no_other() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let binaries = Binaries::locate().unwrap();
    let chart_dir = tempfile::tempdir().unwrap();
    prepare_chart_dir(&binaries, chart_dir.path()).unwrap();
    let chart_arg = chart_dir.path().display().to_string();

    let mut planned = Vec::new();
    for phase in ["all", "loadtest"] {
        let output = tacos(
            &plane.kubeconfig,
            &aws,
            &["plan", "--phase", phase, "--output", "json"],
        )
        .await;
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        planned.extend(planned_checks(&plan));
    }
    let names: Vec<&str> = planned.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["gateway", "argocd", "apps", "monitoring", "loadtest"]
    );

    for (phase, expected) in &planned {
        let output = tacos(
            &plane.kubeconfig,
            &aws,
            &[
                "deploy",
                "--phase",
                phase,
                "--dry-run",
                "--skip-deps",
                "--chart-dir",
                &chart_arg,
                "--output",
                "json",
            ],
        )
        .await;
        let reported: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["event"] == "check")
            .map(|event| event["check"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            &reported,
            expected,
            "phase {phase}: the checks deploy reports differ from plan's\n{}",
            text(&output)
        );
    }
}
