//! Findings for a person: grouped by file, most severe first within a file, coloured when the terminal allows.

use std::collections::BTreeMap;
use std::fmt::Write;

use owo_colors::{OwoColorize, Stream};

use super::{Finding, Severity};

/// Renders findings grouped by file, with a closing count line.
pub fn render(findings: &[Finding], color: bool) -> String {
    let mut by_file: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in findings {
        let file = finding
            .location
            .as_ref()
            .map(|l| l.file.display().to_string())
            .unwrap_or_else(|| "(cluster and AWS)".into());
        by_file.entry(file).or_default().push(finding);
    }
    let mut out = String::new();
    for (file, mut group) in by_file {
        group.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let _ = writeln!(out, "{}", paint(&file, color, |s| s.bold().to_string()));
        for finding in group {
            let place = finding
                .location
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default();
            let severity = match finding.severity {
                Severity::Error => paint("error", color, |s| s.red().bold().to_string()),
                Severity::Warning => paint("warning", color, |s| s.yellow().bold().to_string()),
                Severity::Info => paint("info", color, |s| s.blue().to_string()),
            };
            let _ = writeln!(
                out,
                "  {place}: {severity}[{}] {}: {}",
                finding.rule, finding.subject, finding.message
            );
            let _ = writeln!(
                out,
                "    {} {}",
                paint("fix:", color, |s| s.green().to_string()),
                finding.remedy
            );
        }
    }
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let _ = writeln!(
        out,
        "{} error(s), {} warning(s), {} info(s)",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    out
}

fn paint(text: &str, color: bool, style: impl Fn(&str) -> String) -> String {
    if color {
        text.if_supports_color(Stream::Stdout, |t| style(t))
            .to_string()
    } else {
        text.to_string()
    }
}
