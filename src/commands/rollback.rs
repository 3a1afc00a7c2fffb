//! `tacos rollback --phase P --to ID|COMMIT`: for a phase Argo CD syncs (apps), the GitOps way back, a deploy with its Applications pinned to a commit (or returned to the environment's revision by `--unpin`), so Argo CD carries it out instead of undoing it; for a phase tacos applies itself, a deploy of the tree as it was at that commit, read from Git, with prune.

use super::deploy::Invocation;
use crate::cli::{GlobalArgs, PhaseSelection, RollbackArgs};
use crate::exit::{ExitStatus, StatusError};
use crate::history::{Entry, HistoryId, TreeState, store};
use crate::phases::Phase;
use crate::phases::pin::PinMode;

pub async fn run(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<ExitStatus> {
    let phase = crate::phases::get(&args.phase)
        .ok_or_else(|| StatusError::bad_input(format!("--phase {}: no such phase", args.phase)))?;
    if phase.pins() {
        pin_applications(global, phase, args).await
    } else {
        apply_commit(global, phase, args).await
    }
}

/// A phase Argo CD syncs: its Applications pinned to the target's commit, or unpinned.
async fn pin_applications(
    global: &GlobalArgs,
    phase: &'static Phase,
    args: &RollbackArgs,
) -> anyhow::Result<ExitStatus> {
    let pin = match &args.to {
        None => PinMode::Unpin,
        Some(_) if args.apply.unpin => {
            return Err(StatusError::bad_input(
                "--to and --unpin: a rollback either pins the Applications to a commit or returns them to the environment's revision; give one",
            )
            .into());
        }
        Some(target) => {
            let commit = match target.parse::<HistoryId>() {
                Ok(id) => synced_commit(&entry_of(global, phase, &id).await?)?,
                Err(_) => checkout_commit(global, phase, target).await?,
            };
            PinMode::Pin {
                commit,
                by: target.clone(),
            }
        }
    };
    let run = Invocation {
        command: "rollback",
        pin,
        tree: global.repo.clone(),
        tree_state: crate::git::tree_state(&global.repo),
    };
    super::deploy::run_as(global, PhaseSelection::of(phase), &args.apply, run).await
}

/// A phase tacos applies itself: the phase deployed from the target commit's files (exported
/// from Git into a temporary folder, the work tree untouched), pruning what that commit does not
/// hold, after the same checks as a deploy.
async fn apply_commit(
    global: &GlobalArgs,
    phase: &'static Phase,
    args: &RollbackArgs,
) -> anyhow::Result<ExitStatus> {
    let name = phase.name;
    if args.apply.unpin {
        return Err(StatusError::bad_input(format!(
            "--unpin: phase {name} is applied by tacos itself and nothing holds it at a commit; `tacos deploy --phase {name}` applies the work tree again"
        ))
        .into());
    }
    let Some(target) = &args.to else {
        return Err(StatusError::bad_input(format!(
            "--to: name the history entry (`tacos history --phase {name}`) or the commit to roll phase {name} back to"
        ))
        .into());
    };
    let commit = match target.parse::<HistoryId>() {
        Ok(id) => committed_tree(&entry_of(global, phase, &id).await?)?,
        Err(_) => checkout_commit(global, phase, target).await?,
    };
    let short: String = commit.chars().take(7).collect();
    let export = tempfile::Builder::new()
        .prefix(&format!("tacos-rollback-{name}-{short}-"))
        .tempdir()
        .map_err(|e| {
            StatusError::bad_input(format!(
                "cannot make a temporary folder for the files of commit {commit}: {e}; set TMPDIR to a writable folder"
            ))
        })?;
    let (repo, into, wanted) = (
        global.repo.clone(),
        export.path().to_path_buf(),
        commit.clone(),
    );
    tokio::task::spawn_blocking(move || crate::git::export_commit(&repo, &wanted, &into))
        .await?
        .map_err(|e| StatusError::bad_input(e.to_string()))?;
    eprintln!(
        "rolling back phase {name} to commit {commit}: its files as committed (in {}), the work tree untouched",
        export.path().display()
    );
    let run = Invocation {
        command: "rollback",
        pin: PinMode::Respect,
        tree: export.path().to_path_buf(),
        tree_state: TreeState {
            commit: Some(commit),
            dirty: Some(false),
            unknown: None,
        },
    };
    super::deploy::run_as(global, PhaseSelection::of(phase), &args.apply, run).await
}

/// History entry `id`, which must be of `phase`.
async fn entry_of(global: &GlobalArgs, phase: &Phase, id: &HistoryId) -> anyhow::Result<Entry> {
    let environment = super::environment(global)?;
    let connection = super::connect(global, &environment).await?;
    let entry = store::get(&connection.client, id)
        .await
        .map_err(super::history::status)?;
    if entry.phase != phase.name {
        return Err(StatusError::bad_input(format!(
            "history entry {id} is of phase {}, not {phase}; `tacos history --phase {phase}` lists this phase's entries",
            entry.phase,
            phase = phase.name
        ))
        .into());
    }
    Ok(entry)
}

/// The commit of the tree an entry of a self-applied phase was deployed from; an entry from a
/// work tree with uncommitted changes is refused, since Git does not hold what it applied.
fn committed_tree(entry: &Entry) -> anyhow::Result<String> {
    let id = entry.id();
    match (&entry.tree.commit, entry.tree.dirty) {
        (Some(commit), Some(false)) => Ok(commit.clone()),
        (Some(commit), Some(true)) => Err(StatusError::bad_input(format!(
            "history entry {id} was deployed from a work tree with uncommitted changes at commit {commit}; Git does not hold what it applied, so nothing was done: pass --to {commit} to roll back to that commit as committed"
        ))
        .into()),
        (Some(commit), None) => Err(StatusError::bad_input(format!(
            "history entry {id} does not record whether its work tree had uncommitted changes; pass --to {commit} to roll back to that commit as committed"
        ))
        .into()),
        (None, _) => Err(StatusError::bad_input(format!(
            "history entry {id} records no commit ({}); name a commit instead",
            entry.tree.unknown.as_deref().unwrap_or("the tree was not a Git checkout")
        ))
        .into()),
    }
}

/// The one commit an entry's Applications were synced to.
fn synced_commit(entry: &Entry) -> anyhow::Result<String> {
    let id = entry.id();
    let commits = entry.application_commits();
    match commits.as_slice() {
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
    }
}

/// The full hash of `target` in the checkout's repository (a short hash is expanded).
async fn checkout_commit(
    global: &GlobalArgs,
    phase: &Phase,
    target: &str,
) -> anyhow::Result<String> {
    let phase = phase.name;
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
