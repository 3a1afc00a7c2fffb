//! `tacos verify`: run every read-only check of the chosen phases and report them as ✔/✗ lines, JSON or JUnit XML, with an exit code for CI.

use crate::cli::{GlobalArgs, OutputFormat, PhaseSelection};
use crate::exit::{ExitStatus, StatusError};
use crate::phases::render::RenderOptions;
use crate::report::checklist::{self, CheckResult};
use crate::report::junit;
use crate::verify::{VerifyContext, verify_phase};

pub async fn run(
    global: &GlobalArgs,
    selection: PhaseSelection,
    chart_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json, OutputFormat::Junit],
        "verify",
    )?;
    let environment = super::environment(global)?;
    let environment = &environment;
    let selected = selection.phases();
    let super::Connection { client, aws, .. } = super::connect(global, environment).await?;
    let aws = Some(aws);
    let render = RenderOptions {
        repo: global.repo.clone(),
        chart_dir,
        helm: std::env::var_os("TACOS_HELM").map(Into::into),
        ..RenderOptions::default()
    };
    let config = super::config_source(global);
    let context = VerifyContext {
        client: &client,
        aws: aws.as_ref(),
        environment,
        config: &config,
        render: &render,
    };
    let mut results: Vec<CheckResult> = Vec::new();
    for phase in selected {
        let phase_results = verify_phase(&context, phase).await.map_err(|error| {
            let status = super::deploy::phase_status(error.phase_error());
            anyhow::Error::new(error).context(StatusError {
                status,
                message: format!("verify could not finish phase {}", phase.name),
            })
        })?;
        results.extend(phase_results);
    }
    match global.output {
        OutputFormat::Junit => print!("{}", junit::render(&results)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&checklist::to_json(&results))?
        ),
        _ => print!("{}", checklist::render_human(&results, super::use_color())),
    }
    Ok(if results.iter().any(|r| r.failed()) {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    })
}
