//! Facts read from the Git repository Argo CD syncs: the commit a branch or tag points at now (`git ls-remote`, with the user's own Git credentials).

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
}
