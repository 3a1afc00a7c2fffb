//! The check list every verb prints (`flux check`-like): one ✔/!/✗ line per check, the findings under it, and the same results as JSON.

use std::fmt::Write;

use serde_json::json;

use super::{Finding, RuleInfo, Severity, worst};

/// One check that ran, and what it found (nothing when it passed).
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The suite (e.g. the phase).
    pub suite: String,
    pub check: RuleInfo,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

impl CheckResult {
    /// Failed: a finding at error level.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// The mark of a check line by the worst severity it found: ✗ for an error, ! for a warning, ✔
/// otherwise (ANSI-coloured when `color`).
pub fn mark(worst: Option<Severity>, color: bool) -> &'static str {
    match (worst, color) {
        (Some(Severity::Error), true) => "\x1b[31m✗\x1b[0m",
        (Some(Severity::Error), false) => "✗",
        (Some(Severity::Warning), true) => "\x1b[33m!\x1b[0m",
        (Some(Severity::Warning), false) => "!",
        (_, true) => "\x1b[32m✔\x1b[0m",
        (_, false) => "✔",
    }
}

/// The mark of a check whose findings are notes only (doctor's "i"), else [`mark`].
pub fn mark_with_notes(worst: Option<Severity>, color: bool) -> &'static str {
    match (worst, color) {
        (Some(Severity::Info), true) => "\x1b[34mi\x1b[0m",
        (Some(Severity::Info), false) => "i",
        (worst, color) => mark(worst, color),
    }
}

/// A check's line and, under it, each finding with where it is and its fix:
/// `✗ id: summary` / `      error subject (file:line): message` / `      fix: remedy`.
pub fn check_line(check: &RuleInfo, findings: &[Finding], color: bool) -> String {
    let mut text = format!(
        "{} {}: {}",
        mark(worst(findings), color),
        check.id,
        check.summary
    );
    for finding in findings {
        let place = finding
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        let _ = write!(
            text,
            "\n      {} {}{place}: {}\n      fix: {}",
            finding.severity, finding.subject, finding.message, finding.remedy
        );
    }
    text
}

/// A check that did not run, and why (never shown as passed).
pub fn skipped_line(check: &RuleInfo, why: &str) -> String {
    format!("- {}: {} (skipped: {why})", check.id, check.summary)
}

/// Results under a title per suite, one check line each, and a closing count.
pub fn render_human(results: &[CheckResult], color: bool) -> String {
    let mut out = String::new();
    let mut suite = "";
    for result in results {
        if result.suite != suite {
            suite = &result.suite;
            let _ = writeln!(out, "► {suite}");
        }
        for line in check_line(&result.check, &result.findings, color).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let failed = results.iter().filter(|r| r.failed()).count();
    let _ = writeln!(
        out,
        "{} {} check(s), {failed} failed",
        mark((failed > 0).then_some(Severity::Error), color),
        results.len()
    );
    out
}

/// Results as JSON: `{"passed", "checks": [{phase, check, passed, findings}], "summary"}`.
pub fn to_json(results: &[CheckResult]) -> serde_json::Value {
    let failed = results.iter().filter(|r| r.failed()).count();
    let checks: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "phase": r.suite,
                "check": r.check.id,
                "passed": !r.failed(),
                "findings": r.findings,
            })
        })
        .collect();
    json!({"passed": failed == 0, "checks": checks, "summary": {"checks": results.len(), "failed": failed}})
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: RuleInfo = RuleInfo {
        id: "x-check",
        family: "test",
        severity: Severity::Error,
        summary: "x holds",
        remedy: "make x hold",
    };

    #[test]
    fn a_check_with_an_error_is_crossed_and_shows_the_fix_and_a_warning_only_is_marked() {
        let error = Finding::new(&CHECK, "Thing a", None, "x is broken");
        let line = check_line(&CHECK, std::slice::from_ref(&error), false);
        assert_eq!(
            line,
            "✗ x-check: x holds\n      error Thing a: x is broken\n      fix: make x hold"
        );
        let warning = error.with_severity(Severity::Warning);
        assert!(check_line(&CHECK, &[warning], false).starts_with("! x-check"));
        assert!(check_line(&CHECK, &[], false).starts_with("✔ x-check"));
    }

    #[test]
    fn the_count_line_says_how_many_failed() {
        let results = vec![
            CheckResult {
                suite: "gateway".into(),
                check: CHECK,
                findings: vec![Finding::new(&CHECK, "Thing a", None, "broken")],
                seconds: 0.0,
            },
            CheckResult {
                suite: "gateway".into(),
                check: CHECK,
                findings: vec![],
                seconds: 0.0,
            },
        ];
        let text = render_human(&results, false);
        assert!(text.starts_with("► gateway\n  ✗ x-check"), "{text}");
        assert!(text.ends_with("✗ 2 check(s), 1 failed\n"), "{text}");
        assert_eq!(to_json(&results)["summary"]["failed"], 1);
    }
}
