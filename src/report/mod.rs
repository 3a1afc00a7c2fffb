//! Findings (what every check yields) and their reporters: human, JSON, SARIF, JUnit.

pub mod checklist;
pub mod human;
pub mod junit;
pub mod sarif;

use std::fmt;

use serde::Serialize;

use crate::repo::Location;

/// How bad a finding is. Ordered: `Error` is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A rule or check: stable id, what it looks for, how bad a failure is, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Stable id, e.g. `pss-run-as-non-root`; used in output and in ignore annotations.
    pub id: &'static str,
    /// Family, e.g. `pod-security`.
    pub family: &'static str,
    pub severity: Severity,
    /// One line: what the rule wants.
    pub summary: &'static str,
    /// What to do when it fails.
    pub remedy: &'static str,
}

/// Declares the catalogue entry of a rule or check, the one way every lint rule, phase check,
/// verify check and doctor check is written:
/// `rule!(NAME, "family", "id", Error, "what it wants", "what to do when it fails");`
macro_rules! rule {
    ($name:ident, $family:expr, $id:literal, $severity:ident, $summary:literal, $remedy:literal $(,)?) => {
        pub const $name: $crate::report::RuleInfo = $crate::report::RuleInfo {
            id: $id,
            family: $family,
            severity: $crate::report::Severity::$severity,
            summary: $summary,
            remedy: $remedy,
        };
    };
}
pub(crate) use rule;

/// One result of a check: lint, preflight, postflight, verify and doctor all produce these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// What the finding is about, e.g. `Deployment tacos-app/gateway-api`.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub message: String,
    pub remedy: String,
}

impl Finding {
    /// A finding of `rule` at its default severity and remedy.
    pub fn new(
        rule: &RuleInfo,
        subject: impl Into<String>,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.id,
            severity: rule.severity,
            subject: subject.into(),
            location,
            message: message.into(),
            remedy: rule.remedy.to_string(),
        }
    }

    pub fn with_remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = remedy.into();
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// Sorts findings for stable output: by file, line, rule, subject.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.location
                    .as_ref()
                    .map(|l| (l.file.clone(), l.line, l.column)),
                f.rule,
                f.subject.clone(),
                f.message.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// The worst severity among findings ("worst status wins").
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// Findings as a JSON document: `{"findings": [...], "summary": {...}}`.
pub fn to_json(findings: &[Finding]) -> serde_json::Value {
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    serde_json::json!({
        "findings": findings,
        "summary": {
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
            "infos": count(Severity::Info),
        }
    })
}
