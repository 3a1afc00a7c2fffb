//! `tacos verify`: run every read-only check of the chosen phases and report them as ✔/✗ lines, JSON or JUnit XML, with an exit code for CI.

use serde_json::json;

use crate::cli::{GlobalArgs, OutputFormat, PhaseName, PhaseSelection};
use crate::deploy::render::RenderOptions;
use crate::exit::{ExitStatus, StatusError};
use crate::phases;
use crate::report::junit::{self, CheckResult};
use crate::report::{Severity, check_mark, worst};
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
    let client = super::kube_client(global).await?;
    let phase_names = selection.phases();
    let aws = if phase_names
        .iter()
        .any(|p| matches!(p, PhaseName::Gateway | PhaseName::Apps))
    {
        Some(super::deploy::connect_aws(global, environment).await?)
    } else {
        None
    };
    let render = RenderOptions {
        repo: global.repo.clone(),
        chart_dir,
        helm: std::env::var_os("TACOS_HELM").map(Into::into),
        ..RenderOptions::default()
    };
    let context = VerifyContext {
        client: &client,
        aws: aws.as_ref(),
        environment,
        render: &render,
    };
    let mut results: Vec<CheckResult> = Vec::new();
    for name in phase_names {
        let phase = phases::get(name);
        let phase_results = verify_phase(&context, &phase).await.map_err(|error| {
            let status = super::deploy::deploy_status(error.deploy_error());
            anyhow::Error::new(error).context(StatusError {
                status,
                message: format!("verify could not finish phase {}", name.as_str()),
            })
        })?;
        results.extend(phase_results);
    }
    let failed = results
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.severity == Severity::Error))
        .count();
    match global.output {
        OutputFormat::Junit => print!("{}", junit::render(&results)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&results, failed))?
        ),
        _ => print!("{}", render_human(&results, failed, super::use_color())),
    }
    Ok(if failed > 0 {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    })
}

fn to_json(results: &[CheckResult], failed: usize) -> serde_json::Value {
    let checks: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "phase": r.suite,
                "check": r.name,
                "passed": !r.findings.iter().any(|f| f.severity == Severity::Error),
                "findings": r.findings,
            })
        })
        .collect();
    json!({"passed": failed == 0, "checks": checks, "summary": {"checks": results.len(), "failed": failed}})
}

/// `flux check`-like: a title per phase, one ✔/✗ line per check, and under a ✗ each finding with its fix.
pub fn render_human(results: &[CheckResult], failed: usize, color: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut suite = "";
    for result in results {
        if result.suite != suite {
            suite = &result.suite;
            let _ = writeln!(out, "► {suite}");
        }
        let summary = crate::verify::summary_of(&result.name);
        let mark = check_mark(worst(&result.findings), color);
        let _ = writeln!(out, "  {mark} {}: {summary}", result.name);
        for finding in &result.findings {
            let _ = writeln!(
                out,
                "      {} {}: {}",
                finding.severity, finding.subject, finding.message
            );
            if finding.severity == Severity::Error {
                let _ = writeln!(out, "      fix: {}", finding.remedy);
            }
        }
    }
    let _ = writeln!(
        out,
        "{} {} check(s), {failed} failed",
        check_mark((failed > 0).then_some(Severity::Error), color),
        results.len()
    );
    out
}
