//! What a deployment shows as it goes: ✔/✗ lines per check, one line per object, and a redrawn view of what is still pending on a terminal; plain timestamped lines off a terminal, one JSON event per line with `--output json`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::apply::wait::WaitEvent;
use crate::apply::{Applied, Outcome};
use crate::repo::ObjectKey;
use crate::report::{Finding, RuleInfo, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// On a terminal: lines for what happened, and a redrawn view of what is still pending.
    Live { color: bool },
    /// Lines for a person; `timestamps` when not on a terminal (CI logs).
    Human { color: bool, timestamps: bool },
    /// One JSON object per line.
    Json,
}

/// Prints deployment events in one format. Safe to call from concurrent tasks.
pub struct Reporter {
    format: ReportFormat,
    last_progress: Mutex<Option<Instant>>,
    /// The pending view while a wait is drawn on a terminal.
    live: Mutex<Option<PendingView>>,
    draw_target: fn() -> ProgressDrawTarget,
}

/// Most pending objects drawn at once; the rest are counted on one line.
const PENDING_ROWS: usize = 8;

/// "waiting on N changes [x/N done]" with a spinner, and one row per pending object and what it waits on.
struct PendingView {
    bars: MultiProgress,
    header: ProgressBar,
    rows: Vec<ProgressBar>,
}

impl PendingView {
    fn new(target: ProgressDrawTarget, phase: &str) -> Self {
        let bars = MultiProgress::with_draw_target(target);
        let header = bars.add(ProgressBar::new(0));
        header.set_style(
            ProgressStyle::with_template(
                "  {spinner} {prefix}: waiting on {msg} [{pos}/{len} done] {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        header.set_prefix(phase.to_string());
        header.enable_steady_tick(Duration::from_millis(120));
        Self {
            bars,
            header,
            rows: Vec::new(),
        }
    }

    fn update(&mut self, done: usize, total: usize, pending: &[(ObjectKey, String)]) {
        self.header.set_length(total as u64);
        self.header.set_position(done as u64);
        self.header
            .set_message(format!("{} change(s)", pending.len()));
        let mut lines: Vec<String> = pending
            .iter()
            .take(PENDING_ROWS)
            .map(|(key, why)| format!("{key}: {why}"))
            .collect();
        if pending.len() > PENDING_ROWS {
            lines.push(format!("… and {} more", pending.len() - PENDING_ROWS));
        }
        while self.rows.len() > lines.len() {
            if let Some(row) = self.rows.pop() {
                row.finish_and_clear();
                self.bars.remove(&row);
            }
        }
        while self.rows.len() < lines.len() {
            let row = self.bars.add(ProgressBar::new(0));
            row.set_style(
                ProgressStyle::with_template("      {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            self.rows.push(row);
        }
        for (row, line) in self.rows.iter().zip(lines) {
            row.set_message(line);
        }
    }

    fn println(&self, text: &str) {
        let _ = self.bars.println(format!("  {text}"));
    }

    fn clear(self) {
        for row in &self.rows {
            row.finish_and_clear();
        }
        self.header.finish_and_clear();
        let _ = self.bars.clear();
    }
}

impl Reporter {
    pub fn new(format: ReportFormat) -> Self {
        Self {
            format,
            last_progress: Mutex::new(None),
            live: Mutex::new(None),
            draw_target: ProgressDrawTarget::stdout,
        }
    }

    /// Ends the pending view, if one is drawn, so the next lines print below it.
    fn close_view(&self) {
        if let Some(view) = self.live.lock().unwrap_or_else(|p| p.into_inner()).take() {
            view.clear();
        }
    }

    fn emit(&self, phase: &str, event: &str, text: &str, data: serde_json::Value) {
        match self.format {
            ReportFormat::Live { .. } => {
                let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                match live.as_ref() {
                    Some(view) => view.println(text),
                    None => println!("  {text}"),
                }
            }
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

    fn color(&self) -> bool {
        matches!(
            self.format,
            ReportFormat::Human { color: true, .. } | ReportFormat::Live { color: true }
        )
    }

    fn ready_mark(&self) -> &'static str {
        crate::report::checklist::mark(None, self.color())
    }

    pub fn phase_started(&self, phase: &str, summary: &str) {
        self.close_view();
        if let ReportFormat::Human {
            timestamps: false, ..
        }
        | ReportFormat::Live { .. } = self.format
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
        self.close_view();
        let failed = findings.iter().any(|f| f.severity == Severity::Error);
        self.emit(
            phase,
            "check",
            &crate::report::checklist::check_line(check, findings, self.color()),
            json!({"check": check.id, "passed": !failed, "findings": findings}),
        );
    }

    /// A check that did not run, and why.
    pub fn skipped(&self, phase: &str, check: &RuleInfo, why: &str) {
        self.close_view();
        self.emit(
            phase,
            "check",
            &crate::report::checklist::skipped_line(check, why),
            json!({"check": check.id, "skipped": why}),
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
                &format!("{} {key} ready", self.ready_mark()),
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
            } if matches!(self.format, ReportFormat::Live { .. }) => {
                let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                live.get_or_insert_with(|| PendingView::new((self.draw_target)(), phase))
                    .update(*done, *total, pending);
            }
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

    /// A line of progress that is neither a check nor an object (e.g. a TestRun's stage).
    pub fn note(&self, phase: &str, text: &str) {
        self.emit(phase, "note", text, json!({}));
    }

    /// The outcome of a run, with its data for `--output json`.
    pub fn result(&self, phase: &str, text: &str, data: serde_json::Value) {
        self.close_view();
        self.emit(phase, "result", text, data);
    }

    pub fn warn(&self, phase: &str, text: &str) {
        self.close_view();
        self.emit(phase, "warning", &format!("warning: {text}"), json!({}));
    }

    pub fn phase_done(&self, phase: &str, summary: &str) {
        self.close_view();
        self.emit(
            phase,
            "phase-done",
            &format!("{} {summary}", self.ready_mark()),
            json!({}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("tacos-app".into()),
            name: name.into(),
        }
    }

    fn hidden_live_reporter() -> Reporter {
        Reporter {
            draw_target: ProgressDrawTarget::hidden,
            ..Reporter::new(ReportFormat::Live { color: false })
        }
    }

    fn drawn_rows(reporter: &Reporter) -> Vec<String> {
        let live = reporter.live.lock().unwrap();
        live.as_ref()
            .map(|v| v.rows.iter().map(|r| r.message()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_pending_view_shows_each_pending_object_and_its_condition() {
        let reporter = hidden_live_reporter();
        let pending = vec![
            (key("gateway-api"), "1 of 2 replicas available".to_string()),
            (key("inventory-api"), "observedGeneration 1 < 2".to_string()),
        ];
        reporter.waiting(
            "apps",
            &WaitEvent::Progress {
                done: 3,
                total: 5,
                pending,
            },
        );
        assert_eq!(
            drawn_rows(&reporter),
            [
                "Deployment tacos-app/gateway-api: 1 of 2 replicas available",
                "Deployment tacos-app/inventory-api: observedGeneration 1 < 2"
            ]
        );
        let live = reporter.live.lock().unwrap();
        let header = &live.as_ref().unwrap().header;
        assert_eq!((header.position(), header.length()), (3, Some(5)));
    }

    #[test]
    fn the_pending_view_redraws_as_objects_become_ready_and_closes_when_the_phase_ends() {
        let reporter = hidden_live_reporter();
        let many: Vec<_> = (0..12)
            .map(|i| (key(&format!("svc-{i}")), "waiting".to_string()))
            .collect();
        reporter.waiting(
            "apps",
            &WaitEvent::Progress {
                done: 0,
                total: 12,
                pending: many,
            },
        );
        let rows = drawn_rows(&reporter);
        assert_eq!(rows.len(), PENDING_ROWS + 1);
        assert_eq!(rows.last().unwrap(), "… and 4 more");
        reporter.waiting(
            "apps",
            &WaitEvent::Progress {
                done: 11,
                total: 12,
                pending: vec![(key("svc-3"), "waiting".to_string())],
            },
        );
        assert_eq!(
            drawn_rows(&reporter),
            ["Deployment tacos-app/svc-3: waiting"]
        );
        reporter.phase_done("apps", "apps is up");
        assert!(reporter.live.lock().unwrap().is_none());
    }
}
