//! `tacos loadtest --simulate --scenario S`: replay the scenario's rate on the simulated cluster through its real HPA controller, and judge the replicas it reaches against `tacos capacity`.

use std::cell::Cell;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::capacity::show_number;
use crate::cli::{GlobalArgs, LoadtestArgs, OutputFormat};
use crate::deploy::report::Reporter;
use crate::exit::{ExitStatus, StatusError};
use crate::loadtest::replay::{self, ReplayError, ReplayOptions, ReplayOutcome, Tick};
use crate::loadtest::shape::LoadShape;
use crate::report::Severity;

const PHASE: &str = crate::phases::loadtest::PHASE.name;
/// How often the replay's progress is printed, in ticks.
const PROGRESS_EVERY: u32 = 5;

fn replay_error(error: ReplayError) -> anyhow::Error {
    match error {
        ReplayError::Unreachable { .. } => StatusError::unreachable(error.to_string()).into(),
        other => StatusError::bad_input(other.to_string()).into(),
    }
}

pub async fn run(global: &GlobalArgs, args: &LoadtestArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "loadtest --simulate",
    )?;
    let environment = super::environment(global)?;
    let scenario = args.scenario;
    let bad_input = |e: &dyn std::fmt::Display| StatusError::bad_input(e.to_string());
    let helm = crate::capacity::find_helm(args.helm.as_deref()).map_err(|e| bad_input(&e))?;
    let model = crate::capacity::load_model(
        &global.repo,
        &global.config,
        global.environment.as_deref(),
        &helm,
    )
    .map_err(|e| bad_input(&e))?;
    let shape = LoadShape::read(
        &global.repo,
        scenario,
        model.sustained_rps,
        model.spike_rps,
    )
    .map_err(|e| bad_input(&e))?;
    let client = super::connect(global, &environment).await?.client;
    replay::require_simulated(&client)
        .await
        .map_err(replay_error)?;

    let reporter = Reporter::new(super::report_format(global));
    let (peak, _) = shape.peak();
    let wall = shape.duration().div_f64(args.time_scale);
    reporter.phase_started(
        PHASE,
        &format!(
            "replaying k6 scenario {} (up to {} RPS, {}) at x{} on the simulated cluster: about {} plus settling",
            scenario.name(),
            show_number(peak),
            show_duration(shape.duration()),
            show_number(args.time_scale),
            show_duration(wall),
        ),
    );
    if let Err(findings) = crate::capacity::check_fit(&model, peak) {
        for finding in findings.iter().filter(|f| f.severity == Severity::Error) {
            reporter.warn(
                PHASE,
                &format!("tacos capacity predicts: {}", finding.message),
            );
        }
    }
    let plan = replay::plan(&client, &model).await.map_err(replay_error)?;
    for skipped in &plan.not_driven {
        reporter.warn(
            PHASE,
            &format!("{} is not replayed: {}", skipped.service, skipped.reason),
        );
    }
    if plan.driven.is_empty() {
        return Err(StatusError::bad_input(
            "no service of the model has a HorizontalPodAutoscaler on CPU to replay through; deploy the apps phase first",
        )
        .into());
    }
    let names: Vec<&str> = plan
        .driven
        .iter()
        .map(|d| d.service.name.as_str())
        .collect();
    let ticks = Cell::new(0_u32);
    let on_tick = |tick: &Tick| {
        let count = ticks.get();
        ticks.set(count + 1);
        if count % PROGRESS_EVERY != 0 {
            return;
        }
        let replicas = names
            .iter()
            .zip(&tick.replicas)
            .map(|(name, r)| {
                let wanted = if r.desired != r.ready {
                    format!(" (-> {})", r.desired)
                } else {
                    String::new()
                };
                format!("{name} {}{wanted}", r.ready)
            })
            .collect::<Vec<_>>()
            .join(", ");
        reporter.note(
            PHASE,
            &format!(
                "{} {} RPS: {replicas}",
                show_duration(tick.scenario_time),
                show_number(tick.rps.round())
            ),
        );
    };
    let options = ReplayOptions {
        time_scale: args.time_scale,
        settle: args.settle,
        ..ReplayOptions::default()
    };
    let outcome = replay::replay(
        &client,
        &model,
        &plan,
        scenario.name(),
        &shape,
        options,
        &on_tick,
    )
    .await
    .map_err(replay_error)?;
    reporter.result(
        PHASE,
        &outcome_text(&outcome, model.sustained_rps, model.spike_rps),
        json!({ "replay": outcome }),
    );
    Ok(if outcome.passed() {
        ExitStatus::Clean
    } else {
        ExitStatus::Findings
    })
}

/// The verdict and a row per driven service.
fn outcome_text(outcome: &ReplayOutcome, sustained: f64, spike: f64) -> String {
    let short = outcome.services.iter().filter(|s| s.short).count();
    let mark = crate::report::checklist::mark((short > 0).then_some(Severity::Error), false);
    let mut text = if short == 0 {
        format!(
            "{mark} every replayed service reached the replicas its need at {} RPS asks (within its HPA's tolerance), in {}",
            show_number(outcome.peak_rps),
            show_duration(Duration::from_secs_f64(outcome.wall_seconds))
        )
    } else {
        format!(
            "{mark} {short} service(s) fell short at {} RPS",
            show_number(outcome.peak_rps)
        )
    };
    let _ = write!(
        text,
        "\n      {:<20} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9}",
        "service",
        format!("@{}", show_number(sustained)),
        format!("@{}", show_number(spike)),
        "needed",
        "reached",
        "max",
        "reaction"
    );
    for service in &outcome.services {
        let reaction = service
            .reaction_seconds
            .map(|s| format!("{s:.0} s"))
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            text,
            "\n      {:<20} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9}",
            service.service,
            service.predicted_sustained,
            service.predicted_spike,
            service.needed_at_peak,
            service.reached_at_peak,
            service.max_replicas,
            reaction
        );
        if let Some(cap) = &service.cap {
            let _ = write!(
                text,
                "\n        short of {} (the HPA settles at {} or more): capped by {}: {}",
                service.needed_at_peak, service.floor_at_peak, cap.by, cap.message
            );
        }
    }
    let _ = write!(
        text,
        "\n      (@N: what tacos capacity predicts at N RPS; reached: the most ready replicas while the rate was at its peak; reaction: wall-clock seconds from the peak to that)"
    );
    text
}

/// `10m`, `1m30s`, `45s`.
fn show_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64().round() as u64;
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}
