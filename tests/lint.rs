//! `tacos lint` end to end: the real binary on fixture trees and bad input; findings, exit codes, SARIF and ignore annotations.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tacos_testenv::{Run, tacos_command};
use tempfile::TempDir;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The SARIF schema testenv/install.sh fetches (`install_sarif_schema`), under the testenv cache.
const SARIF_SCHEMA: &str = "sarif-schema-2.1.0/sarif-schema.json";

/// Copies fixture files and folders (paths under tests/fixtures) into a fresh temporary folder,
/// each `x.yaml.fixture` file as `x.yaml`. In the repository the fixtures are not named `.yaml`:
/// they hold deliberate defects and malformed input that `tacos lint .` at the root must not read.
fn fixture_tree(paths: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for path in paths {
        let from = Path::new(FIXTURES).join(path);
        let name = from.file_name().expect("a fixture name");
        copy_fixture(&from, &dir.path().join(name));
    }
    dir
}

fn copy_fixture(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_fixture(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        let to = match to.to_str().and_then(|t| t.strip_suffix(".fixture")) {
            Some(stripped) => PathBuf::from(stripped),
            None => to.to_path_buf(),
        };
        std::fs::copy(from, to).unwrap();
    }
}

/// Runs `tacos ARGS` in `dir`.
fn tacos(dir: &Path, args: &[&str]) -> Run {
    tacos_command!().current_dir(dir).args(args).run()
}

/// Findings of a JSON report as (rule, file, line), files relative to the linted folder.
fn places(report: &Value) -> BTreeSet<(String, String, u64)> {
    report["findings"]
        .as_array()
        .expect("a findings list")
        .iter()
        .map(|f| {
            let file = f["location"]["file"].as_str().unwrap_or("");
            (
                f["rule"].as_str().unwrap().to_string(),
                file.trim_start_matches("./").to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn place(rule: &str, file: &str, line: u64) -> (String, String, u64) {
    (rule.to_string(), file.to_string(), line)
}

/// One defect per family in lint/defects: where each is written.
fn expected_defects() -> BTreeSet<(String, String, u64)> {
    BTreeSet::from([
        place("pss-privileged", "deploy/web.yaml", 48),
        place("secret-ref-unresolved", "deploy/web.yaml", 36),
        place("route-internal-path-exposed", "deploy/routes.yaml", 34),
        place("argocd-value-file-missing", "applications.yaml", 43),
    ])
}

#[test]
fn defects_are_reported_at_their_file_and_line_and_exit_1() {
    let tree = fixture_tree(&["lint/defects"]);
    let run = tacos(
        &tree.path().join("defects"),
        &["lint", ".", "--output", "json"],
    );
    run.assert_code(1);
    let report = run.json();
    assert_eq!(places(&report), expected_defects(), "{report:#}");
    assert_eq!(report["summary"]["errors"], 4);
}

#[test]
fn clean_tree_has_no_findings_and_exits_0() {
    let tree = fixture_tree(&["lint/clean"]);
    let dir = tree.path().join("clean");
    let run = tacos(&dir, &["lint", ".", "--output", "json"]);
    run.assert_code(0);
    assert_eq!(run.json()["findings"], serde_json::json!([]), "{run}");

    let human = tacos(&dir, &["lint", "."]);
    human.assert_code(0);
    assert_eq!(
        human.stdout.trim(),
        "0 error(s), 0 warning(s), 0 info(s)",
        "{human}"
    );
}

fn sarif_schema() -> Value {
    let cache = std::env::var_os("TACOS_TESTENV_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/tacos-testenv")
        });
    let path = cache.join(SARIF_SCHEMA);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the SARIF 2.1.0 schema is not at {} ({e}): run testenv/install.sh (or `testenv/install.sh sarif_schema`) first",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the SARIF schema is JSON")
}

fn sarif_errors(schema: &Value, log: &Value) -> Vec<String> {
    let validator = jsonschema::draft7::new(schema).expect("the SARIF schema compiles");
    validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let schema = sarif_schema();
    for fixture in ["defects", "clean"] {
        let tree = fixture_tree(&[&format!("lint/{fixture}")]);
        let run = tacos(
            &tree.path().join(fixture),
            &["lint", ".", "--output", "sarif"],
        );
        let log = run.json();
        assert_eq!(
            sarif_errors(&schema, &log),
            Vec::<String>::new(),
            "{fixture}: {log:#}"
        );
        let results = log["runs"][0]["results"].as_array().unwrap();
        if fixture == "clean" {
            assert!(results.is_empty(), "{log:#}");
            continue;
        }
        let found: BTreeSet<(String, String, u64)> = results
            .iter()
            .map(|r| {
                let physical = &r["locations"][0]["physicalLocation"];
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    physical["artifactLocation"]["uri"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    physical["region"]["startLine"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(found, expected_defects());
    }
    let broken = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {}}]});
    assert!(
        !sarif_errors(&schema, &broken).is_empty(),
        "the schema must reject a run without a driver"
    );
}

#[test]
fn warnings_fail_only_with_fail_on_warning() {
    let tree = fixture_tree(&["lint/warnings-only"]);
    let dir = tree.path().join("warnings-only");
    let run = tacos(&dir, &["lint", ".", "--output", "json"]);
    run.assert_code(0);
    assert_eq!(
        places(&run.json()),
        BTreeSet::from([place("argocd-project-wildcard", "appproject.yaml", 9)])
    );
    let strict = tacos(&dir, &["lint", ".", "--fail-on", "warning"]);
    strict.assert_code(1);
}

#[test]
fn bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["lint", "--no-such-flag"][..],
        &["lint", ".", "--fail-on", "sometimes"],
        &["lint", ".", "--output", "junit"],
    ] {
        let run = tacos(dir.path(), args);
        run.assert_code(2);
        assert!(!run.stderr.trim().is_empty(), "{args:?} says why: {run}");
    }
}

#[test]
fn ignore_annotation_with_a_reason_silences_and_without_one_is_reported() {
    let tree = fixture_tree(&["lint/ignored"]);
    let run = tacos(
        &tree.path().join("ignored"),
        &["lint", ".", "--output", "json"],
    );
    run.assert_code(1);
    let report = run.json();
    assert_eq!(
        places(&report),
        BTreeSet::from([
            place("lint-ignore-without-reason", "secrets.yaml", 19),
            place("secret-data-in-tree", "secrets.yaml", 20),
        ]),
        "{report:#}"
    );
    let subjects: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, BTreeSet::from(["Secret shop/api-token"]));
    assert!(
        !run.stdout.contains("not-a-real-token"),
        "a Secret's value never appears in a finding"
    );
}

#[test]
fn the_repository_itself_lints_without_bad_input() {
    let run = tacos(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["lint", ".", "--no-render", "--output", "json"],
    );
    assert!(run.code == 0 || run.code == 1, "{run}");
    run.json();
}

/// Lints `dir` (a folder, or a file named explicitly) and checks the run refused it: exit 2, and
/// stderr says where (`location`, the file and line when there is one) and what (`message`).
fn assert_refused(root: &Path, target: &str, location: &str, message: &str) {
    let run = tacos(root, &["lint", target, "--no-render"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(location) && run.stderr.contains(message),
        "{target}: stderr should name {location:?} and say {message:?}: {run}"
    );
}

#[test]
fn committed_bad_input_is_refused_with_file_line_and_reason() {
    let cases = [
        (
            "malformed.yaml.fixture",
            "malformed.yaml:7:1",
            "invalid YAML",
        ),
        (
            "list-document.yaml.fixture",
            "list-document.yaml:6:1",
            "this document is not a mapping",
        ),
        (
            "scalar-document.yaml.fixture",
            "scalar-document.yaml:6:1",
            "this document is not a mapping",
        ),
        (
            "missing-api-version.yaml.fixture",
            "missing-api-version.yaml:1:1",
            "missing apiVersion",
        ),
        (
            "missing-kind.yaml.fixture",
            "missing-kind.yaml:1:1",
            "missing kind",
        ),
        (
            "unknown-field.yaml.fixture",
            "unknown-field.yaml:7:3",
            "unknown field \"replica\"",
        ),
        (
            "wrong-type.yaml.fixture",
            "wrong-type.yaml:7:3",
            "string \"three\", expected i32 (at /spec/replicas)",
        ),
    ];
    for (fixture, location, message) in cases {
        let tree = fixture_tree(&[&format!("bad-input/{fixture}")]);
        assert_refused(tree.path(), ".", location, message);
    }
}

#[test]
fn duplicate_objects_in_two_files_are_refused_naming_both() {
    let tree = fixture_tree(&["bad-input/duplicate"]);
    assert_refused(
        tree.path(),
        "duplicate",
        "duplicate/second.yaml:2:1",
        "duplicate object ConfigMap shop/settings: also defined at duplicate/first.yaml:1:1",
    );
}

/// An empty file holds no object. In a folder it is passed over like any YAML file without
/// Kubernetes objects (Helm values, CI config); named on the command line it is refused, since
/// asking to lint one file that holds nothing is a mistake worth saying.
#[test]
fn empty_file_is_no_object_and_fine_in_a_folder() {
    let tree = fixture_tree(&["bad-input/empty.yaml.fixture", "lint/warnings-only"]);
    std::fs::rename(
        tree.path().join("empty.yaml"),
        tree.path().join("warnings-only/empty.yaml"),
    )
    .unwrap();
    let run = tacos(
        &tree.path().join("warnings-only"),
        &["lint", ".", "--output", "json"],
    );
    run.assert_code(0);
    assert_eq!(run.json()["findings"].as_array().unwrap().len(), 1);

    let only_empty = tempfile::tempdir().unwrap();
    std::fs::write(only_empty.path().join("empty.yaml"), "").unwrap();
    let run = tacos(only_empty.path(), &["lint", ".", "--output", "json"]);
    run.assert_code(0);
    assert_eq!(run.json()["findings"], serde_json::json!([]));

    assert_refused(
        only_empty.path(),
        "empty.yaml",
        "empty.yaml",
        "holds no Kubernetes object",
    );
}

/// A folder with one file, made at test time.
fn folder_with(file: &str, bytes: &[u8]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), bytes).unwrap();
    dir
}

#[test]
fn file_over_32_mib_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    let line = format!("# {}\n", "x".repeat(1022));
    for _ in 0..(33 * 1024) {
        file.write_all(line.as_bytes()).unwrap();
    }
    drop(file);
    assert_refused(dir.path(), ".", "huge.yaml", "file is 33 MiB");
}

#[test]
fn binary_and_non_utf8_files_are_refused() {
    let binary = folder_with("blob.yaml", b"apiVersion: v1\n\0\x01\x02\xff");
    assert_refused(
        binary.path(),
        ".",
        "blob.yaml",
        "not a text file (a NUL byte at offset 15)",
    );
    let latin1 = folder_with(
        "latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    );
    assert_refused(latin1.path(), ".", "latin1.yaml", "not UTF-8 text");
}

/// Mode 000 makes a file unreadable, except to a process that may read anything (root, as these
/// tests run in CI). There the case cannot be made, so the assertion is skipped, saying so; the
/// dangling and looping links below are entries no one can read, root included.
#[test]
fn unreadable_file_is_refused_unless_running_as_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = folder_with(
        "locked.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: locked, namespace: shop}\n",
    );
    let file = dir.path().join("locked.yaml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&file).is_ok() {
        eprintln!(
            "skipped: this process reads a mode-000 file (it runs as root), so the unreadable-file case cannot be made here"
        );
        let run = tacos(dir.path(), &["lint", "."]);
        run.assert_code(0);
        return;
    }
    assert_refused(
        dir.path(),
        ".",
        "locked.yaml",
        "cannot read: Permission denied",
    );
}

#[test]
fn dangling_link_and_link_loops_are_refused() {
    use std::os::unix::fs::symlink;
    let dangling = tempfile::tempdir().unwrap();
    symlink("nowhere.yaml", dangling.path().join("gone.yaml")).unwrap();
    assert_refused(
        dangling.path(),
        ".",
        "gone.yaml",
        "cannot read: No such file or directory",
    );

    let folder_loop = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder_loop.path().join("sub")).unwrap();
    symlink("..", folder_loop.path().join("sub/up")).unwrap();
    assert_refused(folder_loop.path(), ".", "sub/up", "symbolic link loop");

    let file_loop = tempfile::tempdir().unwrap();
    symlink("self.yaml", file_loop.path().join("self.yaml")).unwrap();
    assert_refused(
        file_loop.path(),
        ".",
        "self.yaml",
        "Too many levels of symbolic links",
    );
}
