//! `tacos history [--phase P]` and `tacos history show ID`: the deploy history the cluster keeps, read-only.

use serde::Serialize;

use crate::cli::{GlobalArgs, HistoryAction, HistoryArgs, OutputFormat};
use crate::exit::{ExitStatus, StatusError};
use crate::history::store::{self, HistoryError};
use crate::history::{Entry, RunResult};

pub async fn run(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "history",
    )?;
    let environment = super::environment(global)?;
    let connection = super::connect(global, &environment).await?;
    let client = &connection.client;
    let json = global.output == OutputFormat::Json;
    match &args.action {
        None => {
            let entries = store::list(client, args.phase.as_deref())
                .await
                .map_err(status)?;
            if json {
                let listed: Vec<Listed> = entries.iter().map(Listed::of).collect();
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                print!("{}", table(&entries, args.phase.as_deref()));
            }
        }
        Some(HistoryAction::Show { id }) => {
            let entry = store::get(client, id).await.map_err(status)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&Listed::of(&entry))?);
            } else {
                print!("{}", show(&entry));
            }
        }
    }
    Ok(ExitStatus::Clean)
}

pub(super) fn status(error: HistoryError) -> anyhow::Error {
    let status = match &error {
        _ if error.is_unreachable() => ExitStatus::Unreachable,
        HistoryError::UnknownId { .. } | HistoryError::Unreadable { .. } => ExitStatus::BadInput,
        _ => ExitStatus::Findings,
    };
    StatusError {
        status,
        message: error.to_string(),
    }
    .into()
}

/// An entry with its id, as `-o json` writes it.
#[derive(Serialize)]
struct Listed<'a> {
    id: String,
    #[serde(flatten)]
    entry: &'a Entry,
}

impl<'a> Listed<'a> {
    fn of(entry: &'a Entry) -> Self {
        Self {
            id: entry.id().to_string(),
            entry,
        }
    }
}

fn time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn who(entry: &Entry) -> String {
    format!("{} (kube user {})", entry.aws_caller_arn, entry.kube.user)
}

/// The objects changed and, when the phase waited on Applications, the commit they reached.
fn changes(entry: &Entry) -> String {
    let commits = entry.application_commits();
    let counts = entry.describe_counts();
    match commits.as_slice() {
        [] => counts,
        [commit] => format!(
            "{counts}; Applications at {}",
            commit.chars().take(7).collect::<String>()
        ),
        several => format!("{counts}; Applications at {} commits", several.len()),
    }
}

/// One line per entry, newest first, in aligned columns.
fn table(entries: &[Entry], phase: Option<&str>) -> String {
    if entries.is_empty() {
        let of = phase.map(|p| format!(" of phase {p}")).unwrap_or_default();
        return format!(
            "no deploy history{of} on this cluster yet: tacos deploy records each phase run that changes something\n"
        );
    }
    let header = ["ID", "STARTED", "RESULT", "TREE", "BY", "CHANGES"].map(String::from);
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e.id().to_string(),
                time(e.started),
                e.result.to_string(),
                e.tree.short(),
                who(e),
                changes(e),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The whole entry, for a person.
fn show(entry: &Entry) -> String {
    let mut out = format!(
        "{}: {} of phase {} in environment {}\n",
        entry.id(),
        entry.command,
        entry.phase,
        entry.environment
    );
    let result = match &entry.result {
        RunResult::Failed { step, message } => format!("failed at {step}: {message}"),
        other => other.to_string(),
    };
    let seconds = (entry.ended - entry.started)
        .total(jiff::Unit::Second)
        .unwrap_or_default();
    let tree = match (&entry.tree.commit, entry.tree.dirty) {
        (Some(commit), Some(true)) => format!("{commit} (with uncommitted changes)"),
        (Some(commit), _) => commit.clone(),
        (None, _) => "unknown".into(),
    };
    let tree = match &entry.tree.unknown {
        Some(why) => format!("{tree} ({why})"),
        None => tree,
    };
    let lines = [
        ("result", result),
        (
            "time",
            format!(
                "{} to {} ({seconds:.1} s)",
                time(entry.started),
                time(entry.ended)
            ),
        ),
        ("tree", tree),
        (
            "syncs",
            format!("{} at {}", entry.source.repo_url, entry.source.revision),
        ),
        ("AWS caller", entry.aws_caller_arn.clone()),
        (
            "kube",
            format!(
                "context {} (server {}, user {})",
                entry.kube.context, entry.kube.server, entry.kube.user
            ),
        ),
        ("tacos", entry.tacos_version.clone()),
    ];
    for (label, value) in lines {
        out.push_str(&format!("  {:<11} {value}\n", format!("{label}:")));
    }
    if !entry.applications.is_empty() {
        out.push_str("  Applications synced:\n");
        for application in &entry.applications {
            out.push_str(&format!(
                "    {} at {}\n",
                application.name, application.commit
            ));
        }
    }
    out.push_str(&format!(
        "  objects ({}, {} unchanged):\n",
        entry.describe_counts(),
        entry.unchanged
    ));
    for object in &entry.objects {
        out.push_str(&format!(
            "    {:<10}  {object}\n",
            object.change.to_string()
        ));
    }
    out
}
