//! `tacos plan` says what each phase does: the real binary, offline, checked against what `tacos deploy --dry-run` of each phase reports on a real apiserver and the AWS emulator.

use std::collections::BTreeSet;
use std::path::Path;

use tacos_testenv::aws::AcmValidation;
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::{AwsEmulator, Binaries, TacosCommand, shared_control_plane, tacos_command};

fn tacos(kubeconfig: &Path, aws: &AwsEmulator) -> TacosCommand {
    tacos_command!().kubeconfig(kubeconfig).aws(aws).helm()
}

/// The ids of the checks `tacos plan -o json` lists for each phase (before and after).
fn planned_checks(plan: &serde_json::Value) -> Vec<(String, BTreeSet<String>)> {
    plan["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|phase| {
            let ids = ["preflight", "postflight", "audits"]
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
        let run = tacos(&plane.kubeconfig, &aws)
            .args(["plan", "--phase", phase, "--output", "json"])
            .run_async()
            .await;
        run.assert_code(0);
        let plan = run.json();
        planned.extend(planned_checks(&plan));
    }
    let names: Vec<&str> = planned.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["gateway", "argocd", "apps", "monitoring", "loadtest"]
    );

    for (phase, expected) in &planned {
        let run = tacos(&plane.kubeconfig, &aws)
            .args(["deploy", "--phase", phase, "--dry-run", "--skip-deps"])
            .args(["--chart-dir", &chart_arg, "--output", "json"])
            .run_async()
            .await;
        let reported: BTreeSet<String> = run
            .stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["event"] == "check")
            .map(|event| event["check"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            &reported, expected,
            "phase {phase}: the checks deploy reports differ from plan's\n{run}"
        );
        if phase == "loadtest" {
            // Six scenarios at once would load the platform six times over: deploy applies no
            // TestRun (`tacos loadtest --scenario` runs one at a time).
            let applied_testruns = run
                .stdout
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter(|event| {
                    event["event"] == "applied" && event.to_string().contains("TestRun")
                })
                .count();
            assert_eq!(applied_testruns, 0, "{run}");
            run.assert_stdout_contains("6 TestRun(s) not applied here");
        }
    }
}
