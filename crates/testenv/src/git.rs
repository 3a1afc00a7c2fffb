//! A local Git repository serving a checkout of this tree to Argo CD (`file://` URL), at a known commit, with commits and branches made by the tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, TestenvError, io_err};

/// A Git repository (with a working tree) made from the files of a checkout.
#[derive(Debug)]
pub struct GitRepo {
    pub dir: PathBuf,
}

impl GitRepo {
    /// Copies every file `git ls-files` lists in `checkout` (tracked, and untracked but not
    /// ignored: the tree as it is on disk) into `dir` and commits it on branch `main`.
    pub fn from_checkout(checkout: &Path, dir: &Path) -> Result<Self> {
        let listed = git(
            checkout,
            &[
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
        )?;
        for file in listed.split('\0').filter(|f| !f.is_empty()) {
            let from = checkout.join(file);
            if !from.is_file() {
                continue; // deleted in the working tree
            }
            let to = dir.join(file);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io_err(format!("create {}", parent.display())))?;
            }
            std::fs::copy(&from, &to).map_err(io_err(format!("copy {}", from.display())))?;
        }
        let repo = Self {
            dir: dir.to_path_buf(),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"])?;
        repo.commit("the tree under test")?;
        Ok(repo)
    }

    /// The URL Argo CD and tacos read it at.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Commits every change in the working tree; returns the new commit.
    pub fn commit(&self, message: &str) -> Result<String> {
        self.git(&["add", "--all"])?;
        self.git(&[
            "-c",
            "user.name=tacos tests",
            "-c",
            "user.email=tests@tacos.invalid",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            message,
        ])?;
        self.head()
    }

    /// Writes `contents` to `path` (relative to the repository) and commits it.
    pub fn commit_file(&self, path: &str, contents: &str, message: &str) -> Result<String> {
        let file = self.dir.join(path);
        std::fs::write(&file, contents).map_err(io_err(format!("write {}", file.display())))?;
        self.commit(message)
    }

    /// The commit `main` (the checked-out branch) is at.
    pub fn head(&self) -> Result<String> {
        Ok(self.git(&["rev-parse", "HEAD"])?.trim().to_string())
    }

    /// Switches to branch `name`, made from the current commit when it does not exist.
    pub fn checkout_branch(&self, name: &str) -> Result<()> {
        if self
            .git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{name}"),
            ])
            .is_ok()
        {
            self.git(&["checkout", "--quiet", name])?;
        } else {
            self.git(&["checkout", "--quiet", "-b", name])?;
        }
        Ok(())
    }

    pub fn git(&self, args: &[&str]) -> Result<String> {
        git(&self.dir, args)
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(io_err("run git"))?;
    if !output.status.success() {
        return Err(TestenvError::Parse {
            path: dir.to_path_buf(),
            message: format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}
