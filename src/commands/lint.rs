//! `tacos lint [PATH...]`: load, render charts, run every rule, report.

use std::path::PathBuf;

use crate::cli::{GlobalArgs, LintArgs, OutputFormat};
use crate::exit::{ExitStatus, StatusError};
use crate::lint::{LintContext, LintSettings, catalogue, run as run_rules};
use crate::repo::{LoadOptions, load};
use crate::report::{self, Severity};

pub fn run(global: &GlobalArgs, args: &LintArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json, OutputFormat::Sarif],
        "lint",
    )?;
    if args.list_rules {
        for rule in catalogue() {
            println!("{:<40} {:<8} {}", rule.id, rule.severity, rule.summary);
        }
        return Ok(ExitStatus::Clean);
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let options = LoadOptions {
        render_charts: !args.no_render,
        helm: args.helm.clone(),
    };
    let mut tree = load(&paths, &options).map_err(|e| StatusError::bad_input(e.to_string()))?;
    // Helm test hooks (and delete hooks) never reach a cluster on a deploy: nothing to lint.
    tree.objects
        .retain(|o| !crate::repo::hooks::never_applied(&o.value));
    let settings = lint_settings(global)?;
    let findings = run_rules(&LintContext {
        tree: &tree,
        settings,
    });
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&findings))?
        ),
        OutputFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&report::sarif::render(&findings, &catalogue()))?
        ),
        _ => {
            let shown: Vec<_> = findings
                .iter()
                .filter(|f| !global.quiet || f.severity == Severity::Error)
                .cloned()
                .collect();
            print!("{}", report::human::render(&shown, super::use_color()));
            if global.verbose > 0 {
                eprintln!(
                    "read {} object(s); skipped {} YAML file(s) without Kubernetes objects",
                    tree.objects.len(),
                    tree.skipped.len()
                );
            }
        }
    }
    Ok(if findings.iter().any(|f| f.severity >= args.fail_on) {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    })
}

/// Headroom from tacos.yaml when it exists; defaults when linting a tree that has none.
fn lint_settings(global: &GlobalArgs) -> anyhow::Result<LintSettings> {
    if !global.config.is_file() {
        return Ok(LintSettings::default());
    }
    let environment = super::environment(global)?;
    let environment = &environment;
    Ok(LintSettings {
        headroom: environment.capacity.headroom,
    })
}
