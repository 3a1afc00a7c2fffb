//! Findings as SARIF 2.1.0, so CI code scanning can show them on the lines they are about.

use serde_json::{Value, json};

use super::{Finding, RuleInfo, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A SARIF log with one run: every rule of the catalogue, and one result per finding.
pub fn render(findings: &[Finding], rules: &[RuleInfo]) -> Value {
    let rule_index = |id: &str| rules.iter().position(|r| r.id == id);
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let mut result = json!({
                "ruleId": finding.rule,
                "level": level(finding.severity),
                "message": {"text": format!("{}: {} Fix: {}", finding.subject, finding.message, finding.remedy)},
            });
            if let Some(index) = rule_index(finding.rule) {
                result["ruleIndex"] = json!(index);
            }
            if let Some(location) = &finding.location {
                let mut physical = json!({"artifactLocation": {"uri": uri(&location.file)}});
                if location.line > 0 {
                    physical["region"] = json!({"startLine": location.line, "startColumn": location.column.max(1)});
                }
                result["locations"] = json!([{"physicalLocation": physical}]);
            }
            result
        })
        .collect();
    let rules: Vec<Value> = rules
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.id,
                "shortDescription": {"text": rule.summary},
                "help": {"text": rule.remedy},
                "defaultConfiguration": {"level": level(rule.severity)},
                "properties": {"tags": [rule.family]},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tacos",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/traffic-tacos/tacos",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// A relative path as a SARIF URI (forward slashes, percent-encoding of spaces).
fn uri(path: &std::path::Path) -> String {
    path.to_string_lossy()
        .trim_start_matches("./")
        .replace('\\', "/")
        .replace(' ', "%20")
}
