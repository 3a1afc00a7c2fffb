//! `tacos capacity`: build the capacity model from the rendered tree and tacos.yaml, assess the target, report (and chart).

use std::io::Write;

use anyhow::Context;

use crate::capacity;
use crate::cli::{CapacityArgs, GlobalArgs, OutputFormat};
use crate::exit::{ExitStatus, StatusError};

pub fn run(global: &GlobalArgs, args: &CapacityArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "capacity",
    )?;
    let bad_input = |error: capacity::CapacityError| StatusError::bad_input(error.to_string());
    let helm = capacity::find_helm(args.helm.as_deref()).map_err(bad_input)?;
    let model = capacity::load_model(
        &global.repo,
        &global.config,
        global.environment.as_deref(),
        &helm,
    )
    .map_err(bad_input)?;
    let target_rps = args.rps.map_or(model.spike_rps, f64::from);
    let assessment = capacity::assess(&model, target_rps);
    if let Some(path) = &args.chart {
        std::fs::write(path, capacity::chart::render(&model, target_rps))
            .with_context(|| format!("failed to write the chart to {}", path.display()))?;
    }
    let mut text = if global.output == OutputFormat::Json {
        serde_json::to_string_pretty(&assessment)? + "\n"
    } else {
        capacity::table::render(&assessment, super::use_color())
    };
    if let (Some(path), OutputFormat::Human) = (&args.chart, global.output) {
        text.push_str(&format!("Chart written to {}.\n", path.display()));
    }
    let written = std::io::stdout().lock().write_all(text.as_bytes());
    // A reader that stops early (`| head`) is not an error.
    if let Err(error) = written
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(error).context("failed to write the report");
    }
    Ok(if assessment.fits {
        ExitStatus::Clean
    } else {
        ExitStatus::Findings
    })
}
