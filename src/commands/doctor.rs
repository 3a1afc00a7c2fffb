//! `tacos doctor`: read a snapshot of the cluster (and AWS when reachable), find root causes, print each check ✔/✗ with the causes most severe first, their evidence and the fix.

use std::fmt::Write;

use serde_json::json;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::doctor::collect::{CollectError, collect};
use crate::doctor::{CHECKS, Diagnosis, aws_checks, diagnose};
use crate::exit::{ExitStatus, StatusError};
use crate::report::Severity;
use crate::report::checklist::mark_with_notes;

pub async fn run(global: &GlobalArgs, fail_on: Severity) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "doctor",
    )?;
    let environment = super::environment(global)?;
    let environment = &environment;
    // AWS is evidence, not a precondition: at 3 a.m. the cluster half must work without it. When
    // AWS answers, the cluster must be the environment's.
    let aws = super::deploy::connect_aws(global, environment).await;
    let (client, kube) = match &aws {
        Ok(aws) => super::kube_client_for(global, Some(aws), Some(environment)).await?,
        Err(_) => super::kube_client_for(global, None, None).await?,
    };
    match &aws {
        Ok(aws) => super::guard(&client, &kube, aws, environment).await?,
        Err(error) => eprintln!(
            "note: AWS cannot be reached ({error:#}), so {kube} is not checked to be EKS cluster {}",
            environment.cluster.name
        ),
    }
    let mut snapshot = collect(&client).await.map_err(|error| match error {
        CollectError::Unreachable { .. } => StatusError::unreachable(error.to_string()),
    })?;
    let mut skipped: Vec<(&str, String)> = match &aws {
        Ok(aws) => aws_checks::read_before_analysis(aws, environment, &mut snapshot).await,
        Err(_) => Vec::new(),
    };
    let mut diagnoses = diagnose(&snapshot);
    match aws {
        Ok(aws) => {
            let found = aws_checks::diagnose_aws(&aws, environment, &snapshot).await;
            diagnoses.extend(found.diagnoses);
            skipped.extend(found.skipped);
        }
        Err(error) => skipped.extend(
            aws_checks::CHECKS
                .iter()
                .chain(aws_checks::READ_BEFORE_ANALYSIS)
                .map(|c| (c.id, format!("AWS checks skipped: {error:#}"))),
        ),
    }
    crate::doctor::sort(&mut diagnoses);
    let failing = diagnoses.iter().filter(|d| d.severity >= fail_on).count();
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "healthy": failing == 0,
                "diagnoses": diagnoses,
                "checks": CHECKS.iter().chain(aws_checks::CHECKS).map(|c| {
                    let why = skipped.iter().find(|(id, _)| *id == c.id).map(|(_, why)| why);
                    json!({
                        "check": c.id,
                        "title": c.summary,
                        "passed": why.is_none().then(|| !diagnoses.iter().any(|d| d.fails(c.id) && d.severity > Severity::Info)),
                        "skipped": why,
                    })
                }).collect::<Vec<_>>(),
            }))?
        ),
        _ => print!("{}", render_human(&diagnoses, &skipped, super::use_color())),
    }
    Ok(if failing > 0 {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    })
}

/// Every check with ✔/✗ (`flux check`-like); under each ✗ its causes, most severe first, with evidence, symptoms and the fix.
/// `skipped` are the checks that could not run, and why (shown as skipped, never as passed).
pub fn render_human(diagnoses: &[Diagnosis], skipped: &[(&str, String)], color: bool) -> String {
    let mut out = String::new();
    let mut reasons: Vec<&str> = Vec::new();
    for check in CHECKS.iter().chain(aws_checks::CHECKS) {
        if let Some((_, why)) = skipped.iter().find(|(id, _)| *id == check.id) {
            let _ = writeln!(out, "- {} (skipped)", check.summary);
            if !reasons.contains(&why.as_str()) {
                reasons.push(why);
            }
            continue;
        }
        let found: Vec<&Diagnosis> = diagnoses.iter().filter(|d| d.check == check.id).collect();
        let elsewhere: Vec<&Diagnosis> = diagnoses
            .iter()
            .filter(|d| d.check != check.id && d.fails(check.id))
            .collect();
        if found.is_empty() && elsewhere.is_empty() {
            let _ = writeln!(out, "{} {}", mark_with_notes(None, color), check.summary);
            continue;
        }
        let worst = found
            .iter()
            .chain(&elsewhere)
            .map(|d| d.severity)
            .max()
            .unwrap_or(Severity::Info);
        let mark = mark_with_notes(Some(worst), color);
        let _ = writeln!(out, "{mark} {}", check.summary);
        for diagnosis in found {
            let _ = writeln!(
                out,
                "    {} {}: {}",
                diagnosis.severity, diagnosis.subject, diagnosis.cause
            );
            for line in &diagnosis.evidence {
                let _ = writeln!(out, "        evidence: {line}");
            }
            if !diagnosis.symptoms.is_empty() {
                let _ = writeln!(out, "        explains: {}", diagnosis.symptoms.join(", "));
            }
            let _ = writeln!(out, "        fix: {}", diagnosis.remedy);
        }
        for diagnosis in elsewhere {
            let under = CHECKS
                .iter()
                .chain(aws_checks::CHECKS)
                .find(|c| c.id == diagnosis.check)
                .map_or(diagnosis.check, |c| c.summary);
            for also in diagnosis.also_fails.iter().filter(|a| a.check == check.id) {
                let _ = writeln!(
                    out,
                    "    {} {}: explained by the cause under \"{under}\": {}",
                    diagnosis.severity, also.subject, diagnosis.cause
                );
            }
        }
    }
    for reason in reasons {
        let _ = writeln!(
            out,
            "{} {reason}",
            mark_with_notes(Some(Severity::Warning), color)
        );
    }
    let errors = diagnoses
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnoses
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let notes = diagnoses.len() - errors - warnings;
    let _ = write!(
        out,
        "{} root cause(s): {errors} error(s), {warnings} warning(s)",
        errors + warnings
    );
    let _ = match notes {
        0 => writeln!(out),
        notes => writeln!(out, "; {notes} note(s)"),
    };
    out
}
