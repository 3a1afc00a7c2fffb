//! `tacos rollback --phase apps --to ID|COMMIT` and `--unpin`: the GitOps way back, a deploy of the phase with its Applications pinned to a commit (or returned to the environment's revision), so Argo CD carries it out instead of undoing it.

use crate::cli::{GlobalArgs, PhaseSelection, RollbackArgs};
use crate::exit::{ExitStatus, StatusError};
use crate::history::{HistoryId, store};
use crate::phases::pin::PinMode;

pub async fn run(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<ExitStatus> {
    let selection = PhaseSelection::named(&args.phase)
        .ok_or_else(|| StatusError::bad_input(format!("--phase {}: no such phase", args.phase)))?;
    let pin = match &args.to {
        None => PinMode::Unpin,
        Some(_) if args.apply.unpin => {
            return Err(StatusError::bad_input(
                "--to and --unpin: a rollback either pins the Applications to a commit or returns them to the environment's revision; give one",
            )
            .into());
        }
        Some(target) => {
            let commit = target_commit(global, &args.phase, target).await?;
            PinMode::Pin {
                commit,
                by: target.clone(),
            }
        }
    };
    super::deploy::run_as(global, selection, &args.apply, "rollback", pin).await
}

/// The commit `target` names: the one the phase's Applications were synced to in a history
/// entry, or a commit of the checkout's repository (a short hash is expanded).
async fn target_commit(global: &GlobalArgs, phase: &str, target: &str) -> anyhow::Result<String> {
    if let Ok(id) = target.parse::<HistoryId>() {
        let environment = super::environment(global)?;
        let connection = super::connect(global, &environment).await?;
        let entry = store::get(&connection.client, &id)
            .await
            .map_err(super::history::status)?;
        if entry.phase != phase {
            return Err(StatusError::bad_input(format!(
                "history entry {id} is of phase {}, not {phase}; `tacos history --phase {phase}` lists this phase's entries",
                entry.phase
            ))
            .into());
        }
        let commits = entry.application_commits();
        return match commits.as_slice() {
            [commit] => Ok(commit.to_string()),
            [] => Err(StatusError::bad_input(format!(
                "history entry {id} records no Application synced to a commit ({}): name a commit instead",
                entry.result
            ))
            .into()),
            several => Err(StatusError::bad_input(format!(
                "history entry {id} has Applications at {} different commits ({}): name the commit to pin them all to",
                several.len(),
                several.join(", ")
            ))
            .into()),
        };
    }
    let repo = global.repo.clone();
    let revision = target.to_string();
    tokio::task::spawn_blocking(move || crate::git::commit_in(&repo, &revision))
        .await?
        .map_err(|error| {
            StatusError::bad_input(format!(
                "{error}; name a commit `git log` shows or a history entry (`tacos history --phase {phase}`)"
            ))
            .into()
        })
}
