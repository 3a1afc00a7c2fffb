//! Facts read from Git: the commit a branch or tag of the repository Argo CD syncs points at now (`git ls-remote`, with the user's own Git credentials), and the local tree's commit and dirty state.

use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "cannot run git to resolve revision `{revision}` of {url}: {source}; install git, or set git.revision in tacos.yaml (or --git-revision) to a full commit hash"
    )]
    Missing {
        url: String,
        revision: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot read {url} to resolve revision `{revision}`: {message}; check git.repoURL in tacos.yaml (or --git-repo-url) and your Git credentials for it"
    )]
    Unreadable {
        url: String,
        revision: String,
        message: String,
    },
    #[error(
        "{url} has no branch or tag `{revision}`; push it, or fix git.revision in tacos.yaml (or --git-revision)"
    )]
    NoSuchRevision { url: String, revision: String },
    #[error("cannot read the files of commit {commit} from the repository at {dir}: {message}")]
    Unexportable {
        dir: std::path::PathBuf,
        commit: String,
        message: String,
    },
    #[error("the repository at {dir} has no commit `{revision}` ({message})")]
    NoSuchCommit {
        dir: std::path::PathBuf,
        revision: String,
        message: String,
    },
}

/// Whether `revision` already is a full commit hash (nothing to resolve).
pub fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())
}

/// The commit `revision` (a branch, a tag or a full commit hash) of `url` points at now.
pub fn resolve_revision(url: &str, revision: &str) -> Result<String, GitError> {
    if is_commit(revision) {
        return Ok(revision.to_lowercase());
    }
    let output = Command::new("git")
        .args(["ls-remote", "--", url])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|source| GitError::Missing {
            url: url.into(),
            revision: revision.into(),
            source,
        })?;
    if !output.status.success() {
        return Err(GitError::Unreadable {
            url: url.into(),
            revision: revision.into(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    commit_of(&String::from_utf8_lossy(&output.stdout), revision).ok_or_else(|| {
        GitError::NoSuchRevision {
            url: url.into(),
            revision: revision.into(),
        }
    })
}

/// The full hash of the commit `revision` names in the checkout at `dir` (a hash, short or full,
/// a branch or a tag), as `git rev-parse --verify REV^{commit}` finds it.
pub fn commit_in(dir: &std::path::Path, revision: &str) -> Result<String, GitError> {
    let missing = |message: String| GitError::NoSuchCommit {
        dir: dir.to_path_buf(),
        revision: revision.into(),
        message,
    };
    if revision.starts_with('-') {
        return Err(missing("not a revision".into()));
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{revision}^{{commit}}"))
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| missing(format!("cannot run git: {e}")))?;
    let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() && is_commit(&commit) {
        Ok(commit)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        Err(missing(if stderr.is_empty() {
            "git rev-parse found none".into()
        } else {
            stderr
        }))
    }
}

/// Writes the files of `commit` of the checkout at `dir` into the folder `into`, as `git archive`
/// gives them: the tree as it was committed, whatever the work tree holds now.
pub fn export_commit(
    dir: &std::path::Path,
    commit: &str,
    into: &std::path::Path,
) -> Result<(), GitError> {
    let failed = |message: String| GitError::Unexportable {
        dir: dir.to_path_buf(),
        commit: commit.into(),
        message,
    };
    if !is_commit(commit) {
        return Err(failed("not a full commit hash".into()));
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["archive", "--format=tar", commit])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    tar::Archive::new(output.stdout.as_slice())
        .unpack(into)
        .map_err(|e| failed(format!("cannot write {}: {e}", into.display())))
}

/// The commit of `revision` in `git ls-remote` output, as Argo CD resolves it: `HEAD`, a branch,
/// then a tag (an annotated tag by the commit it points at).
fn commit_of(listing: &str, revision: &str) -> Option<String> {
    let refs: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let find = |name: &str| {
        refs.iter()
            .find(|(_, r)| *r == name)
            .map(|(commit, _)| commit.to_string())
    };
    if revision == "HEAD" {
        return find("HEAD");
    }
    let name = revision.strip_prefix("refs/heads/").unwrap_or(revision);
    find(&format!("refs/heads/{name}"))
        .or_else(|| find(&format!("refs/tags/{revision}^{{}}")))
        .or_else(|| find(&format!("refs/tags/{revision}")))
        .or_else(|| find(revision))
}

/// The checkout at `dir`: its HEAD commit and whether the work tree has changes (tracked or
/// untracked files), or why that is unknown (not a Git checkout, no git).
pub fn tree_state(dir: &std::path::Path) -> crate::history::TreeState {
    let run = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
    };
    let unknown = |why: String| crate::history::TreeState {
        commit: None,
        dirty: None,
        unknown: Some(why),
    };
    let head = match run(&["rev-parse", "--verify", "HEAD"]) {
        Err(error) => return unknown(format!("cannot run git: {error}")),
        Ok(output) if !output.status.success() => {
            return unknown(format!(
                "{} is not a Git checkout with a commit: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(output) => String::from_utf8_lossy(&output.stdout).trim().to_string(),
    };
    let dirty = match run(&["status", "--porcelain"]) {
        Ok(output) if output.status.success() => Some(!output.stdout.is_empty()),
        _ => None,
    };
    crate::history::TreeState {
        commit: Some(head),
        unknown: dirty
            .is_none()
            .then(|| "git status failed: whether the tree had changes is unknown".to_string()),
        dirty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "1111111111111111111111111111111111111111\tHEAD\n\
        1111111111111111111111111111111111111111\trefs/heads/main\n\
        2222222222222222222222222222222222222222\trefs/heads/dev\n\
        3333333333333333333333333333333333333333\trefs/tags/v1\n\
        4444444444444444444444444444444444444444\trefs/tags/v1^{}\n\
        5555555555555555555555555555555555555555\trefs/tags/light\n";

    #[test]
    fn branches_tags_and_head_resolve_to_their_commit() {
        assert_eq!(commit_of(LISTING, "dev").unwrap(), "2".repeat(40));
        assert_eq!(commit_of(LISTING, "HEAD").unwrap(), "1".repeat(40));
        // An annotated tag is the commit it points at, not the tag object.
        assert_eq!(commit_of(LISTING, "v1").unwrap(), "4".repeat(40));
        assert_eq!(commit_of(LISTING, "light").unwrap(), "5".repeat(40));
        assert!(commit_of(LISTING, "missing").is_none());
    }

    #[test]
    fn a_full_commit_hash_needs_no_repository() {
        let commit = "a".repeat(40);
        assert_eq!(
            resolve_revision("file:///nowhere", &commit).unwrap(),
            commit
        );
        assert!(!is_commit("abc123"));
    }

    #[test]
    fn an_unreadable_repository_says_which_and_what_to_check() {
        let error = resolve_revision("file:///nonexistent/tacos.git", "main").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("file:///nonexistent/tacos.git"), "{text}");
        assert!(text.contains("git.repoURL"), "{text}");
    }

    #[test]
    fn the_tree_state_is_its_head_and_whether_it_has_changes() {
        let dir = tempfile::tempdir().unwrap();
        let state = tree_state(dir.path());
        assert_eq!(state.commit, None);
        assert!(
            state
                .unknown
                .as_deref()
                .unwrap()
                .contains("not a Git checkout"),
            "{state:?}"
        );
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .output()
                .unwrap();
            assert!(status.status.success(), "git {args:?}: {status:?}");
            String::from_utf8_lossy(&status.stdout).trim().to_string()
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("a.yaml"), "a: 1\n").unwrap();
        git(&["add", "a.yaml"]);
        git(&["commit", "-q", "-m", "first"]);
        let head = git(&["rev-parse", "HEAD"]);
        let clean = tree_state(dir.path());
        assert_eq!(clean.commit.as_deref(), Some(head.as_str()));
        assert_eq!(clean.dirty, Some(false));
        std::fs::write(dir.path().join("a.yaml"), "a: 2\n").unwrap();
        assert_eq!(tree_state(dir.path()).dirty, Some(true));

        // The commit's files, not the work tree's; the checkout is left as it was.
        let exported = tempfile::tempdir().unwrap();
        export_commit(dir.path(), &head, exported.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(exported.path().join("a.yaml")).unwrap(),
            "a: 1\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
            "a: 2\n"
        );
        let missing = export_commit(dir.path(), &"0".repeat(40), exported.path()).unwrap_err();
        assert!(missing.to_string().contains(&"0".repeat(40)), "{missing}");
    }
}
