//! Test support: writing the files of a throwaway repository.

use std::path::Path;

/// Writes `text` to `root/path`, creating the folders on the way.
pub fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
