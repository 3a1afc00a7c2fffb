//! What a deployment shows as it goes: ✔/✗ lines per check, one line per object, waiting progress; plain timestamped lines off a terminal, one JSON event per line with `--output json`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::apply::wait::WaitEvent;
use crate::apply::{Applied, Outcome};
use crate::report::{Finding, RuleInfo, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Lines for a person; `timestamps` when not on a terminal (CI logs).
    Human { color: bool, timestamps: bool },
    /// One JSON object per line.
    Json,
}

/// Prints deployment events in one format. Safe to call from concurrent tasks.
pub struct Reporter {
    format: ReportFormat,
    last_progress: Mutex<Option<Instant>>,
}

impl Reporter {
    pub fn new(format: ReportFormat) -> Self {
        Self {
            format,
            last_progress: Mutex::new(None),
        }
    }

    fn emit(&self, phase: &str, event: &str, text: &str, data: serde_json::Value) {
        match self.format {
            ReportFormat::Json => {
                let mut line = json!({"time": jiff::Timestamp::now().to_string(), "phase": phase, "event": event, "message": text});
                if let (Some(line), Some(data)) = (line.as_object_mut(), data.as_object()) {
                    line.extend(data.clone());
                }
                println!("{line}");
            }
            ReportFormat::Human {
                timestamps: true, ..
            } => {
                println!(
                    "[{}] {phase:<10} {text}",
                    jiff::Zoned::now().strftime("%H:%M:%S")
                );
            }
            ReportFormat::Human { .. } => println!("  {text}"),
        }
    }

    fn mark(&self, ok: bool) -> &'static str {
        let color = matches!(self.format, ReportFormat::Human { color: true, .. });
        match (ok, color) {
            (true, true) => "\x1b[32m✔\x1b[0m",
            (false, true) => "\x1b[31m✗\x1b[0m",
            (true, false) => "✔",
            (false, false) => "✗",
        }
    }

    pub fn phase_started(&self, phase: &str, summary: &str) {
        if let ReportFormat::Human {
            timestamps: false, ..
        } = self.format
        {
            println!("► {phase}: {summary}");
        }
        self.emit(
            phase,
            "phase-started",
            &format!("phase {phase}: {summary}"),
            json!({}),
        );
    }

    /// One check: ✔ when it found nothing at error level, ✗ with each finding's message and fix otherwise.
    pub fn check(&self, phase: &str, check: &RuleInfo, findings: &[Finding]) {
        let failed = findings.iter().any(|f| f.severity == Severity::Error);
        let mut text = format!("{} {}: {}", self.mark(!failed), check.id, check.summary);
        for finding in findings {
            text.push_str(&format!(
                "\n      {} {}: {}\n      fix: {}",
                finding.severity, finding.subject, finding.message, finding.remedy
            ));
        }
        self.emit(
            phase,
            "check",
            &text,
            json!({"check": check.id, "passed": !failed, "findings": findings}),
        );
    }

    pub fn applied(&self, phase: &str, applied: &Applied, dry_run: bool) {
        let verb = match (applied.outcome, dry_run) {
            (Outcome::Created, false) => "created",
            (Outcome::Created, true) => "would create",
            (Outcome::Configured, false) => "configured",
            (Outcome::Configured, true) => "would configure",
            (Outcome::Unchanged, _) => "unchanged",
            (Outcome::Pruned, false) => "pruned",
            (Outcome::Pruned, true) => "would prune",
        };
        self.emit(
            phase,
            "applied",
            &format!("{} {verb}", applied.key),
            json!({"object": applied.key.to_string(), "outcome": applied.outcome}),
        );
    }

    pub fn waiting(&self, phase: &str, event: &WaitEvent) {
        match event {
            WaitEvent::Ready(key) => self.emit(
                phase,
                "ready",
                &format!("{} {key} ready", self.mark(true)),
                json!({"object": key.to_string()}),
            ),
            WaitEvent::NotWaited(key, why) => self.emit(
                phase,
                "not-waited",
                &format!("- {key} not waited on ({why})"),
                json!({"object": key.to_string(), "reason": why}),
            ),
            WaitEvent::Progress {
                done,
                total,
                pending,
            } => {
                let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
                if last.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                    return;
                }
                *last = Some(Instant::now());
                let mut text = format!(
                    "waiting on {} change(s) [{done}/{total} done]",
                    pending.len()
                );
                for (key, why) in pending.iter().take(10) {
                    text.push_str(&format!("\n      {key}: {why}"));
                }
                let pending_json: Vec<_> = pending
                    .iter()
                    .map(|(k, w)| json!({"object": k.to_string(), "waitingFor": w}))
                    .collect();
                self.emit(
                    phase,
                    "waiting",
                    &text,
                    json!({"done": done, "total": total, "pending": pending_json}),
                );
            }
        }
    }

    pub fn warn(&self, phase: &str, text: &str) {
        self.emit(phase, "warning", &format!("warning: {text}"), json!({}));
    }

    pub fn phase_done(&self, phase: &str, summary: &str) {
        self.emit(
            phase,
            "phase-done",
            &format!("{} {summary}", self.mark(true)),
            json!({}),
        );
    }
}
