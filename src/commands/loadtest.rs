//! `tacos loadtest --scenario S`: check the target fits and k6-operator is there, start the TestRun, follow it (and the services' replicas), and exit by its thresholds.

use std::time::Duration;

use serde_json::json;

use crate::apply::{Applier, ApplyOptions};
use crate::cli::{GlobalArgs, LoadtestArgs, OutputFormat};
use crate::deploy::report::Reporter;
use crate::exit::{ExitStatus, StatusError};
use crate::loadtest::{self, FollowEvent, Scenario};
use crate::phases::CheckContext;
use crate::phases::check::run_checks;
use crate::phases::render::RenderOptions;
use crate::report::Severity;

const PHASE: &str = crate::phases::loadtest::PHASE.name;

pub async fn run(global: &GlobalArgs, args: &LoadtestArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "loadtest",
    )?;
    let environment = super::environment(global)?;
    let environment = &environment;
    let scenario: Scenario = args.scenario;
    let objects = loadtest::render(&global.repo, scenario)
        .map_err(|e| StatusError::bad_input(e.to_string()))?;
    let client = super::connect(global, environment).await?.client;
    let reporter = Reporter::new(super::report_format(global));
    let target = scenario.peak_rps(
        environment.capacity.sustained_rps,
        environment.capacity.spike_rps,
    );
    reporter.phase_started(
        PHASE,
        &format!("k6 scenario {} up to {target} RPS", scenario.name()),
    );

    let render = RenderOptions {
        repo: global.repo.clone(),
        chart_dir: None,
        helm: args.helm.clone(),
        ..RenderOptions::default()
    };
    let config = super::config_source(global);
    let context = CheckContext {
        phase: &crate::phases::loadtest::PHASE,
        client: &client,
        aws: None,
        environment,
        config: &config,
        render: &render,
        objects: &objects,
    };
    // The phase's own checks but the dependency's: `tacos loadtest` runs on a platform that may
    // have been deployed by other means.
    let checks = context
        .phase
        .preflight
        .iter()
        .filter(|c| c.info.id != crate::phases::check::PREVIOUS_PHASE_HEALTHY.info.id);
    let outcomes = run_checks(&context, checks).await.map_err(|e| {
        let status = super::deploy::phase_status(&e);
        anyhow::Error::new(e).context(StatusError {
            status,
            message: "loadtest could not check the cluster".into(),
        })
    })?;
    for outcome in &outcomes {
        reporter.check(PHASE, &outcome.check, &outcome.findings);
    }
    let failed = outcomes
        .iter()
        .filter(|o| o.findings.iter().any(|f| f.severity == Severity::Error))
        .count();
    if failed > 0 {
        return Err(StatusError {
            status: ExitStatus::Findings,
            message: format!("loadtest: {failed} check(s) failed; nothing was applied"),
        }
        .into());
    }

    let name = objects
        .iter()
        .find(|o| o.kind() == "TestRun")
        .map(|o| o.name().to_string())
        .unwrap_or_default();
    if loadtest::remove_previous_run(&client, &name)
        .await
        .map_err(|e| StatusError::unreachable(e.to_string()))?
    {
        reporter.note(PHASE, &format!("removed the previous TestRun {name}"));
    }
    let applier = Applier::new(client.clone(), ApplyOptions::default());
    applier
        .apply(&objects, &|applied| reporter.applied(PHASE, applied, false))
        .await
        .map_err(|e| {
            let status = if e.is_unreachable() {
                ExitStatus::Unreachable
            } else {
                ExitStatus::Findings
            };
            anyhow::Error::new(e).context(StatusError {
                status,
                message: "the TestRun could not be applied".into(),
            })
        })?;

    let on_event = |event: &FollowEvent| match event {
        FollowEvent::Stage(stage) => reporter.note(PHASE, &format!("TestRun {name}: {stage}")),
        FollowEvent::Replicas(replicas) => {
            let line = replicas
                .iter()
                .map(|(service, current, desired, max)| {
                    format!(
                        "{service} {current}/{max}{}",
                        if desired != current {
                            format!(" (-> {desired})")
                        } else {
                            String::new()
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            if !line.is_empty() {
                reporter.note(PHASE, &format!("replicas: {line}"));
            }
        }
    };
    let followed = loadtest::follow(
        &client,
        &name,
        &environment.app_namespace,
        args.timeout,
        Duration::from_secs(15),
        &on_event,
    )
    .await
    .map_err(|e| {
        let status = match e {
            loadtest::LoadtestError::Unreachable { .. } => ExitStatus::Unreachable,
            _ => ExitStatus::Findings,
        };
        anyhow::Error::new(e).context(StatusError {
            status,
            message: format!("loadtest {} did not finish", scenario.name()),
        })
    })?;
    let runners = followed.runners;
    let verdict = loadtest::judge(&followed.stage, &runners);
    let number = |value: Option<f64>, unit: &str| {
        value
            .map(|v| format!("{v:.1}{unit}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let mut text = format!(
        "{} {}: {} runner(s); {} RPS, p95 {}, p99 {}, errors {}",
        crate::report::checklist::mark((!verdict.passed).then_some(Severity::Error), false),
        if verdict.passed {
            "thresholds passed"
        } else {
            "thresholds failed"
        },
        runners.len(),
        number(verdict.rps, ""),
        number(verdict.p95_ms, " ms"),
        number(verdict.p99_ms, " ms"),
        verdict
            .error_rate
            .map(|r| format!("{:.3}%", r * 100.0))
            .unwrap_or_else(|| "n/a".into()),
    );
    for reason in &verdict.reasons {
        text.push_str(&format!("\n      {reason}"));
    }
    for threshold in &verdict.failed_thresholds {
        text.push_str(&format!("\n      failed threshold {threshold}"));
    }
    if verdict.rps.is_none() {
        text.push_str("\n      (numbers need every runner's TACOS-SUMMARY log line; see k6/scenarios/common.js)");
    }
    reporter.result(
        PHASE,
        &text,
        json!({"verdict": verdict, "runners": runners}),
    );
    Ok(if verdict.passed {
        ExitStatus::Clean
    } else {
        ExitStatus::Findings
    })
}
