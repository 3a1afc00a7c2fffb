//! Walks files and folders, parses every YAML document, checks built-in kinds, finds duplicates, and renders charts.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::object::{Location, Object, ObjectKey, Source};
use super::yaml::{Document, parse_documents};
use super::{LoadError, LoadProblem, Tree, helm, schema};

/// Files larger than this are refused rather than read.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// How to load a tree.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Render the Helm charts that Argo CD Applications in the tree use (needs `helm`).
    pub render_charts: bool,
    /// The helm binary; `helm` on PATH when None.
    pub helm: Option<PathBuf>,
}

/// Loads every Kubernetes object under `paths` (files or folders). Any problem fails the whole
/// load, listing every problem found: a partial tree is never returned as if complete.
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<Tree, LoadError> {
    let loaded = load_paths(paths, options, false);
    if loaded.problems.is_empty() {
        Ok(loaded.tree)
    } else {
        Err(LoadError::Problems(loaded.problems))
    }
}

/// A tree loaded past its problems, and the problems.
#[derive(Debug)]
pub struct Loaded {
    /// Every object that could be read; a file that could not be read adds none, a later
    /// duplicate of an object is left out, and charts that failed to render add none.
    pub tree: Tree,
    /// Every problem found, in file order.
    pub problems: Vec<LoadProblem>,
}

/// Loads what can be read under `paths` and returns the problems beside it (for lint, which
/// reports them and goes on). Charts are rendered even when some files had problems.
pub fn load_all(paths: &[PathBuf], options: &LoadOptions) -> Loaded {
    load_paths(paths, options, true)
}

fn load_paths(paths: &[PathBuf], options: &LoadOptions, keep_going: bool) -> Loaded {
    let mut tree = Tree {
        roots: paths.to_vec(),
        ..Tree::default()
    };
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let explicit = path.is_file();
        for file in collect_files(path, &mut tree.charts, &mut problems) {
            files.push((file, explicit));
        }
    }
    // Files are read and parsed on every core; their objects and problems keep the files' order.
    let reads =
        crate::parallel::map_in_order(&files, |(file, explicit)| read_file(file, *explicit));
    for (read, (file, _)) in reads.into_iter().zip(&files) {
        tree.objects.extend(read.objects);
        problems.extend(read.problems);
        if read.skipped {
            tree.skipped.push(file.clone());
        }
    }
    if (keep_going || problems.is_empty()) && options.render_charts {
        let (rendered, mut render_problems) =
            helm::render_applications_all(&tree, options.helm.as_deref());
        tree.objects.extend(rendered);
        problems.append(&mut render_problems);
    }
    let duplicates = find_duplicates(&tree.objects, &mut problems);
    if keep_going {
        let mut position = 0;
        tree.objects.retain(|_| {
            position += 1;
            !duplicates.contains(&(position - 1))
        });
    }
    tree.objects_changed();
    problems.sort();
    problems.dedup();
    Loaded { tree, problems }
}

/// Loads objects from YAML text as if read from `file` (for tests and stdin); no chart rendering.
pub fn load_str(file: &str, text: &str) -> Result<Tree, LoadError> {
    let mut tree = Tree::default();
    let mut problems = Vec::new();
    let path = PathBuf::from(file);
    match parse_documents(text) {
        Ok(documents) => {
            for mut document in documents {
                let value = std::mem::take(&mut document.value);
                add_object(
                    &path,
                    &Arc::new(document),
                    value,
                    String::new(),
                    &mut tree.objects,
                    &mut problems,
                );
            }
        }
        Err(error) => problems.push(problem(
            &path,
            error.position_line,
            error.position_column,
            format!("invalid YAML: {}", error.message),
        )),
    }
    find_duplicates(&tree.objects, &mut problems);
    if problems.is_empty() {
        Ok(tree)
    } else {
        Err(LoadError::Problems(problems))
    }
}

fn problem(file: &Path, line: usize, column: usize, message: impl Into<String>) -> LoadProblem {
    LoadProblem {
        location: Location {
            file: file.to_path_buf(),
            line,
            column,
            rendered_for: None,
        },
        message: message.into(),
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

/// YAML files under `root` in path order. Hidden folders, build output and dependency folders are
/// passed over; folders holding a Chart.yaml are charts, recorded but not read as manifests.
fn collect_files(
    root: &Path,
    charts: &mut Vec<PathBuf>,
    problems: &mut Vec<LoadProblem>,
) -> Vec<PathBuf> {
    if !root.exists() {
        problems.push(problem(root, 0, 0, "no such file or folder"));
        return Vec::new();
    }
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    let mut walker = walker.filter_entry(|entry| {
        if entry.depth() == 0 {
            return true;
        }
        let name = entry.file_name().to_string_lossy();
        !(entry.file_type().is_dir()
            && (name.starts_with('.') || name == "target" || name == "node_modules"))
    });
    while let Some(entry) = walker.next() {
        match entry {
            Ok(entry) if entry.file_type().is_dir() => {
                if entry.path().join("Chart.yaml").is_file() {
                    charts.push(entry.path().to_path_buf());
                    walker.skip_current_dir();
                }
            }
            Ok(entry) => {
                if entry.depth() == 0 || is_yaml(entry.path()) {
                    files.push(
                        entry
                            .path()
                            .strip_prefix("./")
                            .unwrap_or(entry.path())
                            .to_path_buf(),
                    );
                }
            }
            Err(error) => {
                let path = error
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                let message = if error.loop_ancestor().is_some() {
                    "symbolic link loop: this link points back to a folder that contains it; remove or fix the link".to_string()
                } else {
                    format!(
                        "cannot read: {}",
                        error
                            .io_error()
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| error.to_string())
                    )
                };
                problems.push(problem(&path, 0, 0, message));
            }
        }
    }
    files
}

/// What one file holds: its objects and problems, or that it holds no Kubernetes object.
#[derive(Default)]
struct FileRead {
    objects: Vec<Object>,
    problems: Vec<LoadProblem>,
    skipped: bool,
}

fn read_file(file: &Path, explicit: bool) -> FileRead {
    let mut read = FileRead::default();
    read_file_into(file, explicit, &mut read);
    read
}

fn read_file_into(file: &Path, explicit: bool, read: &mut FileRead) {
    let problems = &mut read.problems;
    let size = match std::fs::metadata(file) {
        Ok(metadata) => metadata.len(),
        Err(error) => return problems.push(problem(file, 0, 0, format!("cannot read: {error}"))),
    };
    if size > MAX_FILE_BYTES {
        return problems.push(problem(
            file,
            0,
            0,
            format!(
                "file is {} MiB; tacos reads YAML files up to {} MiB: split it",
                size / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => return problems.push(problem(file, 0, 0, format!("cannot read: {error}"))),
    };
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return problems.push(problem(
            file,
            0,
            0,
            format!("not a text file (a NUL byte at offset {offset}): is it binary?"),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            return problems.push(problem(
                file,
                0,
                0,
                format!(
                    "not UTF-8 text (invalid byte at offset {}): Kubernetes YAML must be UTF-8",
                    error.utf8_error().valid_up_to()
                ),
            ));
        }
    };
    let documents = match parse_documents(&text) {
        Ok(documents) => documents,
        Err(error) => {
            return problems.push(problem(
                file,
                error.position_line,
                error.position_column,
                format!("invalid YAML: {}", error.message),
            ));
        }
    };
    let looks_like_kubernetes = documents
        .iter()
        .any(|d| d.value.get("apiVersion").is_some() || d.value.get("kind").is_some());
    if !looks_like_kubernetes {
        if explicit {
            problems.push(problem(
                file,
                0,
                0,
                "holds no Kubernetes object (no document has apiVersion and kind)",
            ));
        } else {
            read.skipped = true;
        }
        return;
    }
    for mut document in documents {
        if document.value.get("kind").and_then(Value::as_str) != Some("List") {
            // The object owns its value; the document it points at keeps only the positions.
            let value = std::mem::take(&mut document.value);
            add_object(
                file,
                &Arc::new(document),
                value,
                String::new(),
                &mut read.objects,
                problems,
            );
            continue;
        }
        let document = Arc::new(document);
        {
            let items = document
                .value
                .get("items")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            for index in 0..items {
                let pointer = format!("/items/{index}");
                let value = document.value["items"][index].clone();
                add_object(file, &document, value, pointer, &mut read.objects, problems);
            }
        }
    }
}

fn add_object(
    file: &Path,
    document: &Arc<Document>,
    value: Value,
    pointer: String,
    objects: &mut Vec<Object>,
    problems: &mut Vec<LoadProblem>,
) {
    let object = Object {
        value,
        source: Source {
            file: file.to_path_buf(),
            document: document.clone(),
            pointer,
            rendered_for: None,
        },
    };
    let at = |p: &str| object.location_of(p);
    let push = |problems: &mut Vec<LoadProblem>, location: Location, message: String| {
        problems.push(LoadProblem { location, message })
    };
    if !object.value.is_object() {
        return push(
            problems,
            at(""),
            "this document is not a mapping; a Kubernetes object is a mapping with apiVersion, kind and metadata".into(),
        );
    }
    let mut valid = true;
    for field in ["apiVersion", "kind"] {
        match object.value.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => {
                push(
                    problems,
                    at(&format!("/{field}")),
                    format!("{field} must be a non-empty string"),
                );
                valid = false;
            }
            None => {
                push(
                    problems,
                    at(""),
                    format!("missing {field}: every Kubernetes object needs apiVersion and kind"),
                );
                valid = false;
            }
        }
    }
    if object.value["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
        && object.value["metadata"]["generateName"].is_null()
    {
        push(
            problems,
            at("/metadata"),
            format!(
                "{} has no metadata.name",
                if valid { object.kind() } else { "object" }
            ),
        );
        valid = false;
    }
    if !valid {
        return;
    }
    for found in schema::check_builtin(object.api_version(), object.kind(), &object.value) {
        push(
            problems,
            at(&found.pointer),
            format!(
                "{} {}: {} (at {})",
                object.kind(),
                object.name(),
                found.message,
                found.pointer
            ),
        );
    }
    objects.push(object);
}

/// Reports every object defined again after its first definition; returns their positions.
fn find_duplicates(objects: &[Object], problems: &mut Vec<LoadProblem>) -> HashSet<usize> {
    // The first definition's position; its location is looked up only for a duplicate.
    let mut seen: HashMap<ObjectKey, usize> = HashMap::with_capacity(objects.len());
    let mut duplicates = HashSet::new();
    for (position, object) in objects.iter().enumerate() {
        let key = object.key();
        if let Some(&first) = seen.get(&key) {
            problems.push(LoadProblem {
                location: object.location(),
                message: format!(
                    "duplicate object {key}: also defined at {}; keep one",
                    objects[first].location()
                ),
            });
            duplicates.insert(position);
        } else {
            seen.insert(key, position);
        }
    }
    duplicates
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG_MAP: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n";

    /// A folder with a good file, a file that is not YAML, one with a duplicate key, and a
    /// second definition of the good file's object.
    fn broken_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-good.yaml"), CONFIG_MAP).unwrap();
        std::fs::write(dir.path().join("b-broken.yaml"), "kind: [ConfigMap\n").unwrap();
        std::fs::write(
            dir.path().join("c-duplicate-key.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  name: again\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("d-again.yaml"), CONFIG_MAP).unwrap();
        dir
    }

    #[test]
    fn load_refuses_a_tree_with_any_problem() {
        let dir = broken_tree();
        let Err(LoadError::Problems(problems)) =
            load(&[dir.path().to_path_buf()], &LoadOptions::default())
        else {
            panic!("a broken tree loads");
        };
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }

    #[test]
    fn load_all_keeps_what_it_can_read_and_returns_every_problem_beside_it() {
        let dir = broken_tree();
        let loaded = load_all(&[dir.path().to_path_buf()], &LoadOptions::default());
        let places: Vec<(String, usize)> = loaded
            .problems
            .iter()
            .map(|p| {
                (
                    p.location
                        .file
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into(),
                    p.location.line,
                )
            })
            .collect();
        assert_eq!(
            places,
            [
                ("b-broken.yaml".to_string(), 2),
                ("c-duplicate-key.yaml".to_string(), 5),
                ("d-again.yaml".to_string(), 1),
            ]
        );
        assert!(loaded.problems[2].message.contains("duplicate object"));
        let objects: Vec<String> = loaded
            .tree
            .objects
            .iter()
            .map(|o| o.location().to_string())
            .collect();
        assert_eq!(
            objects.len(),
            1,
            "the later duplicate is left out: {objects:?}"
        );
        assert!(objects[0].contains("a-good.yaml"), "{objects:?}");
    }
}
