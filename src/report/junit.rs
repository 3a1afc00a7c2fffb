//! Check results as JUnit XML: one test case per check, a failure per finding, so CI systems show them.

use std::fmt::Write;

use super::{Finding, Severity};

pub use super::checklist::CheckResult;

pub fn render(results: &[CheckResult]) -> String {
    let mut suites: Vec<&str> = results.iter().map(|r| r.suite.as_str()).collect();
    suites.dedup();
    fn failed(r: &&CheckResult) -> bool {
        r.findings.iter().any(|f| f.severity == Severity::Error)
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"tacos verify\" tests=\"{}\" failures=\"{}\">",
        results.len(),
        results.iter().filter(failed).count()
    );
    for suite in suites {
        let cases: Vec<&CheckResult> = results.iter().filter(|r| r.suite == suite).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            escape(suite),
            cases.len(),
            cases.iter().filter(|r| failed(r)).count()
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(suite),
                escape(case.check.id),
                case.seconds
            );
            let errors: Vec<&Finding> = case
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            if errors.is_empty() && case.findings.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            for finding in &errors {
                let _ = writeln!(
                    out,
                    "      <failure type=\"{}\" message=\"{}\">{}&#10;fix: {}</failure>",
                    escape(finding.rule),
                    escape(&format!("{}: {}", finding.subject, finding.message)),
                    escape(
                        &finding
                            .location
                            .as_ref()
                            .map(|l| l.to_string())
                            .unwrap_or_default()
                    ),
                    escape(&finding.remedy)
                );
            }
            let notes: Vec<String> = case
                .findings
                .iter()
                .filter(|f| f.severity != Severity::Error)
                .map(|f| format!("{} [{}] {}: {}", f.severity, f.rule, f.subject, f.message))
                .collect();
            if !notes.is_empty() {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    escape(&notes.join("\n"))
                );
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
