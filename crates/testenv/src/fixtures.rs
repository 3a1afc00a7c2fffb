//! Fixture trees copied out of the repository for a test: `x.yaml.fixture` files become `x.yaml`, so the deliberate defects they hold are never read by `tacos lint .` at the repository root.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// Copies each of `paths` (files or folders under `root`) into one fresh temporary folder, under
/// its own name.
pub fn fixture_tree(root: &Path, paths: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for path in paths {
        let from = root.join(path);
        let name = from.file_name().expect("a fixture name");
        copy_fixture(&from, &dir.path().join(name));
    }
    dir
}

/// Copies a fixture file or folder to `to`, each `x.yaml.fixture` as `x.yaml`.
pub fn copy_fixture(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
        let entries =
            std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
            copy_fixture(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        let to = match to.to_str().and_then(|t| t.strip_suffix(".fixture")) {
            Some(stripped) => PathBuf::from(stripped),
            None => to.to_path_buf(),
        };
        std::fs::copy(from, &to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    }
}
