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
/// each `x.yaml.fixture` file as `x.yaml`: they hold deliberate defects and malformed input that
/// `tacos lint .` at the root must not read.
fn fixture_tree(paths: &[&str]) -> TempDir {
    tacos_testenv::fixtures::fixture_tree(Path::new(FIXTURES), paths)
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
        place("argocd-value-file-missing", "applications.yaml", 46),
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
    // The chart of charts.example.com the tree deploys, for its values to be checked offline.
    let tree = fixture_tree(&["lint/clean", "lint/chart-dir"]);
    let dir = tree.path().join("clean");
    let run = tacos(
        &dir,
        &[
            "lint",
            ".",
            "--output",
            "json",
            "--chart-dir",
            "../chart-dir",
        ],
    );
    run.assert_code(0);
    assert_eq!(run.json()["findings"], serde_json::json!([]), "{run}");

    let human = tacos(&dir, &["lint", ".", "--chart-dir", "../chart-dir"]);
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
        // The clean tree's remote chart is read from the fixture chart folder, as in the clean test.
        let tree = fixture_tree(&[&format!("lint/{fixture}"), "lint/chart-dir"]);
        let mut args = vec!["lint", ".", "--output", "sarif"];
        if fixture == "clean" {
            args.extend(["--chart-dir", "../chart-dir"]);
        }
        let run = tacos(&tree.path().join(fixture), &args);
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
        &["lint", "no-such-folder"],
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
    let unreadable: Vec<_> = places(&run.json())
        .into_iter()
        .filter(|(rule, _, _)| rule.starts_with("lint-input-"))
        .collect();
    assert_eq!(unreadable, [], "every file of the repository reads");
}

/// Lints `target` in `root` and checks the input it could not read is reported as a finding and
/// the run goes on to exit 1: the report says where (`location`, the file and line when there is
/// one) and what (`message`).
fn assert_reported(root: &Path, target: &str, location: &str, message: &str) {
    let run = tacos(root, &["lint", target, "--no-render"]);
    run.assert_code(1);
    assert!(
        run.stdout
            .contains(&format!("{location}: error[lint-input-unreadable]"))
            && run.stdout.contains(message),
        "{target}: the report should name {location:?} and say {message:?}: {run}"
    );
}

#[test]
fn committed_bad_input_is_reported_with_file_line_and_reason() {
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
        assert_reported(tree.path(), ".", location, message);
    }
}

/// lint/defects (one planted defect per family) with lint/broken added: a file that is not YAML,
/// one with a duplicate key, and an Application whose chart does not render with its values file.
fn broken_defects_tree() -> TempDir {
    let tree = fixture_tree(&["lint/defects"]);
    let dir = tree.path().join("defects");
    tacos_testenv::fixtures::copy_fixture(&Path::new(FIXTURES).join("lint/broken"), &dir);
    tacos_testenv::fixtures::copy_fixture(
        &Path::new(FIXTURES).join("bad-input/malformed.yaml.fixture"),
        &dir.join("deploy/malformed.yaml.fixture"),
    );
    tree
}

/// Where the three unreadable inputs of `broken_defects_tree` are reported, and the one note
/// that rules ran without them (at the first of them).
fn expected_input_problems() -> BTreeSet<(String, String, u64)> {
    BTreeSet::from([
        place("lint-input-unreadable", "deploy/duplicate-key.yaml", 9),
        place("lint-input-unreadable", "deploy/malformed.yaml", 7),
        place("lint-input-unreadable", "web-app.yaml", 2),
        place("lint-input-incomplete", "deploy/duplicate-key.yaml", 9),
    ])
}

#[test]
fn unreadable_files_are_findings_and_every_rule_still_runs_on_the_rest() {
    let tree = broken_defects_tree();
    let dir = tree.path().join("defects");
    // The chart that does not render is rendered by the testenv helm, so its failure is helm's.
    let run = tacos_command!()
        .current_dir(&dir)
        .helm()
        .args(["lint", ".", "--output", "json"])
        .run();
    run.assert_code(1);
    let report = run.json();
    let expected: BTreeSet<_> = expected_defects()
        .into_iter()
        .chain(expected_input_problems())
        .collect();
    assert_eq!(places(&report), expected, "{report:#}");
    assert_eq!(report["summary"]["errors"], 4 + 3, "{report:#}");
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "lint-input-unreadable")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{report:#}");
    assert!(
        messages.iter().any(|m| m.contains("invalid YAML")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("invalid YAML") && m.contains("duplicate")),
        "the duplicate key is named: {messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("with values values/web.yaml")
                && m.contains("for Application web failed")
                && m.contains("image.tag is required")
                && !m.contains("--debug")),
        "the render failure names the values file and says helm's reason: {messages:?}"
    );

    let human = tacos(&dir, &["lint", "."]);
    assert_eq!(human.code, 1, "{}", human.stderr);
    for location in [
        "deploy/malformed.yaml:7:1: error[lint-input-unreadable]",
        "deploy/duplicate-key.yaml:9:3: error[lint-input-unreadable]",
        "web-app.yaml:2:1: error[lint-input-unreadable]",
        "applications.yaml:46:13: error[argocd-value-file-missing]",
    ] {
        assert!(
            human.stdout.contains(location),
            "{location}:\n{}",
            human.stdout
        );
    }
    assert!(
        !human.stderr.contains("nothing was done"),
        "{}",
        human.stderr
    );

    let sarif = tacos(&dir, &["lint", ".", "--output", "sarif"]);
    assert_eq!(sarif.code, 1, "{}", sarif.stderr);
    let log = sarif.json();
    assert_eq!(sarif_errors(&sarif_schema(), &log), Vec::<String>::new());
    let unreadable: BTreeSet<String> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "lint-input-unreadable")
        .map(|r| {
            let physical = &r["locations"][0]["physicalLocation"];
            format!(
                "{}:{}",
                physical["artifactLocation"]["uri"].as_str().unwrap(),
                physical["region"]["startLine"]
            )
        })
        .collect();
    assert_eq!(
        unreadable,
        BTreeSet::from([
            "deploy/duplicate-key.yaml:9".to_string(),
            "deploy/malformed.yaml:7".to_string(),
            "web-app.yaml:2".to_string(),
        ])
    );
}

#[test]
fn duplicate_objects_in_two_files_are_reported_naming_both() {
    let tree = fixture_tree(&["bad-input/duplicate"]);
    assert_reported(
        tree.path(),
        "duplicate",
        "duplicate/second.yaml:2:1",
        "duplicate object ConfigMap shop/settings: also defined at duplicate/first.yaml:1:1",
    );
}

/// An empty file holds no object. In a folder it is passed over like any YAML file without
/// Kubernetes objects (Helm values, CI config); named on the command line it is reported, since
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

    assert_reported(
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
fn file_over_32_mib_is_reported_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    let line = format!("# {}\n", "x".repeat(1022));
    for _ in 0..(33 * 1024) {
        file.write_all(line.as_bytes()).unwrap();
    }
    drop(file);
    assert_reported(dir.path(), ".", "huge.yaml", "file is 33 MiB");
}

#[test]
fn binary_and_non_utf8_files_are_reported() {
    let binary = folder_with("blob.yaml", b"apiVersion: v1\n\0\x01\x02\xff");
    assert_reported(
        binary.path(),
        ".",
        "blob.yaml",
        "not a text file (a NUL byte at offset 15)",
    );
    let latin1 = folder_with(
        "latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    );
    assert_reported(latin1.path(), ".", "latin1.yaml", "not UTF-8 text");
}

/// Mode 000 makes a file unreadable, except to a process that may read anything (root, as these
/// tests run in CI). There the case cannot be made, so the assertion is skipped, saying so; the
/// dangling and looping links below are entries no one can read, root included.
#[test]
fn unreadable_file_is_reported_unless_running_as_root() {
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
    assert_reported(
        dir.path(),
        ".",
        "locked.yaml",
        "cannot read: Permission denied",
    );
}

#[test]
fn dangling_link_and_link_loops_are_reported() {
    use std::os::unix::fs::symlink;
    let dangling = tempfile::tempdir().unwrap();
    symlink("nowhere.yaml", dangling.path().join("gone.yaml")).unwrap();
    assert_reported(
        dangling.path(),
        ".",
        "gone.yaml",
        "cannot read: No such file or directory",
    );

    let folder_loop = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder_loop.path().join("sub")).unwrap();
    symlink("..", folder_loop.path().join("sub/up")).unwrap();
    assert_reported(folder_loop.path(), ".", "sub/up", "symbolic link loop");

    let file_loop = tempfile::tempdir().unwrap();
    symlink("self.yaml", file_loop.path().join("self.yaml")).unwrap();
    assert_reported(
        file_loop.path(),
        ".",
        "self.yaml",
        "Too many levels of symbolic links",
    );
}

/// A folder of the upstream CRDs testenv/install.sh fetches (testenv/crds.txt), e.g. `keda-v2.21.0`.
fn upstream_crds(name: &str) -> String {
    let cache = std::env::var_os("TACOS_TESTENV_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/tacos-testenv/crds")
        });
    let dir = cache.join(name);
    assert!(
        dir.is_dir(),
        "the upstream CRDs are not at {}: run testenv/install.sh first",
        dir.display()
    );
    dir.display().to_string()
}

/// The crd-* findings of a JSON report.
fn crd_places(report: &Value) -> BTreeSet<(String, String, u64)> {
    places(report)
        .into_iter()
        .filter(|(rule, _, _)| rule.starts_with("crd-"))
        .collect()
}

#[test]
fn custom_resources_are_checked_against_their_crds_from_the_tree_and_schema_dirs() {
    let tree = fixture_tree(&["lint/custom-resources"]);
    let dir = tree.path().join("custom-resources");
    let (gateway_api, argo_cd, keda) = (
        upstream_crds("gateway-api-v1.6.3"),
        upstream_crds("argo-cd-v3.2.0"),
        upstream_crds("keda-v2.21.0"),
    );
    let run = tacos(
        &dir,
        &[
            "lint",
            ".",
            "--no-render",
            "--output",
            "json",
            "--schema-dir",
            &gateway_api,
            "--schema-dir",
            &argo_cd,
            "--schema-dir",
            &keda,
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        crd_places(&report),
        every_crd_finding(),
        "the Application's valuesObject preserves unknown fields, so it has none: {report:#}"
    );
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("crd-"))
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        places(&report).contains(&place("argocd-sync-option-invalid", "application.yaml", 25)),
        "a misspelt sync option, which the CRD cannot catch: {report:#}"
    );
    for said in [
        "unknown field \"hostnames\", expected one of allowedRoutes, hostname, name, port, protocol, tls (at /spec/listeners/0/hostnames; CustomResourceDefinition gateways.gateway.networking.k8s.io v1)",
        "\"Prefix\" is not one of \"Exact\", \"PathPrefix\", \"RegularExpression\" (at /spec/rules/0/matches/0/path/type",
        "missing required field \"scaleTargetRef\" (at /spec;",
        "\"requried\" is not one of \"required\", \"optional\" (at /spec/metadataOptions/httpTokens; CustomResourceDefinition ec2nodeclasses.karpenter.k8s.aws v1)",
        "expected an integer, found a string (at /spec/size;",
        "example.com/v2 is not served by CustomResourceDefinition widgets.example.com (served: example.com/v1)",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(said)),
            "{said:?} not in {messages:#?}"
        );
    }

    let missing = tacos(&dir, &["lint", ".", "--schema-dir", "no-such-folder"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("--schema-dir no-such-folder: no such folder"),
        "{}",
        missing.stderr
    );
}

/// `tacos lint` in `dir` with its own cache (and module proxy, when given).
fn lint_with_cache(dir: &Path, cache: &Path, proxy: Option<&str>, extra: &[&str]) -> Run {
    let mut command = tacos_command!()
        .current_dir(dir)
        .args(["lint", ".", "--no-render", "--output", "json"])
        .args(extra)
        .env("TACOS_CACHE_DIR", cache);
    if let Some(proxy) = proxy {
        command = command.env("TACOS_GOPROXY", proxy);
    }
    command.run()
}

/// The findings the custom-resources fixture has when every CRD is at hand.
fn every_crd_finding() -> BTreeSet<(String, String, u64)> {
    BTreeSet::from([
        place("crd-schema", "gateway.yaml", 13),
        place("crd-schema", "nodeclass.yaml", 15),
        place("crd-schema", "route.yaml", 13),
        place("crd-schema", "scaledobject.yaml", 7),
        place("crd-schema", "widget.yaml", 32),
        place("crd-version-not-served", "widget.yaml", 34),
    ])
}

#[test]
fn the_pinned_crds_are_fetched_once_verified_and_kept_for_offline_use() {
    let tree = fixture_tree(&["lint/custom-resources"]);
    let dir = tree.path().join("custom-resources");
    let cache = tempfile::tempdir().unwrap();
    let tree_crd_only = BTreeSet::from([
        place("crd-schema", "widget.yaml", 32),
        place("crd-version-not-served", "widget.yaml", 34),
    ]);

    // Offline with nothing cached: the tree's own CRD applies; each pinned set that would
    // have covered a group is a warning at its first object, and nothing was written.
    let offline = lint_with_cache(&dir, cache.path(), None, &["--offline"]);
    assert_eq!(offline.code, 1, "{offline}");
    let unavailable: BTreeSet<_> = [
        place("crd-schema-unavailable", "application.yaml", 4),
        place("crd-schema-unavailable", "gateway.yaml", 2),
        place("crd-schema-unavailable", "nodeclass.yaml", 2),
        place("crd-schema-unavailable", "scaledobject.yaml", 2),
    ]
    .into_iter()
    .chain(tree_crd_only.clone())
    .collect();
    assert_eq!(crd_places(&offline.json()), unavailable, "{offline}");
    assert!(
        offline.stdout.contains("--offline forbids fetching it"),
        "{offline}"
    );
    assert!(!cache.path().join("crds").exists(), "{offline}");

    // Online: every pinned set the tree needs comes from the module proxy (here the Go module
    // cache testenv/install.sh filled, served as GOPROXY=file:// serves it) and is kept.
    let online = lint_with_cache(&dir, cache.path(), None, &[]);
    assert_eq!(crd_places(&online.json()), every_crd_finding(), "{online}");
    let crds = cache.path().join("crds");
    for set in [
        "gateway-api-v1.6.3",
        "argo-cd-v3.2.0",
        "keda-v2.21.0",
        "karpenter-v1.14.1",
    ] {
        assert!(
            crds.join(set).join(".complete").is_file(),
            "{set} not cached"
        );
    }
    assert!(
        !crds.join("prometheus-operator-v0.85.0").exists(),
        "a set no object needs is not fetched"
    );

    // Offline again: the cache alone gives the same result.
    let cached = lint_with_cache(&dir, cache.path(), None, &["--offline"]);
    assert_eq!(crd_places(&cached.json()), every_crd_finding(), "{cached}");

    // A cached file changed on disk is refused offline, and fetched anew online.
    let application_crd = crds.join("argo-cd-v3.2.0/application-crd.yaml");
    let mut text = std::fs::read_to_string(&application_crd).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&application_crd, text).unwrap();
    let damaged = lint_with_cache(&dir, cache.path(), None, &["--offline"]);
    let report = damaged.json();
    assert!(
        crd_places(&report).contains(&place("crd-schema-unavailable", "application.yaml", 4)),
        "{damaged}"
    );
    assert!(
        damaged.stdout.contains("does not match its pinned hash"),
        "{damaged}"
    );
    let refetched = lint_with_cache(&dir, cache.path(), None, &[]);
    assert_eq!(
        crd_places(&refetched.json()),
        every_crd_finding(),
        "{refetched}"
    );
}

#[test]
fn a_module_proxy_serving_other_bytes_than_the_pinned_hash_is_refused() {
    let tree = fixture_tree(&["lint/custom-resources"]);
    let dir = tree.path().join("custom-resources");
    let mirror = tacos_testenv::binaries::module_proxy_mirror().unwrap_or_else(|e| panic!("{e}"));
    let mirror = PathBuf::from(mirror.strip_prefix("file://").unwrap());
    // A proxy whose gateway-api v1.6.3 zip is another module's.
    let proxy = tempfile::tempdir().unwrap();
    let served = proxy.path().join("sigs.k8s.io/gateway-api/@v");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::copy(
        mirror.join("github.com/kedacore/keda/v2/@v/v2.21.0.zip"),
        served.join("v1.6.3.zip"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = lint_with_cache(
        &dir,
        cache.path(),
        Some(&format!("file://{}", proxy.path().display())),
        &[],
    );
    let report = run.json();
    assert!(
        crd_places(&report).contains(&place("crd-schema-unavailable", "gateway.yaml", 2)),
        "{run}"
    );
    let warning = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["rule"] == "crd-schema-unavailable"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("gateway.networking.k8s.io")
        })
        .unwrap();
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.contains("sigs.k8s.io/gateway-api@v1.6.3 does not match its pinned hash"),
        "{message}"
    );
    assert!(
        message.starts_with("2 custom resource(s) of gateway.networking.k8s.io (Gateway, HTTPRoute) were not checked"),
        "{message}"
    );
    assert!(!cache.path().join("crds/gateway-api-v1.6.3").exists());
}

/// The AWS Load Balancer Controller's and k6-operator's real CRDs (not served by the Go module
/// proxy): from the test environment's upstream folder (`<repo>/../shared/upstream`, or
/// `TACOS_UPSTREAM_DIR`), checked against its SHA256SUMS.
fn shared_upstream(path: &str) -> String {
    let upstream = tacos_testenv::upstream::Upstream::locate().unwrap_or_else(|e| panic!("{e}"));
    upstream.path(path).display().to_string()
}

#[test]
fn load_balancer_controller_and_k6_resources_are_checked_against_their_real_crds() {
    let tree = fixture_tree(&["lint/aws-and-k6"]);
    let (lbc, k6) = (
        shared_upstream("aws-load-balancer-controller-v3.5.0/crds/gateway"),
        shared_upstream("k6-operator-v1.6.0/crds"),
    );
    let run = tacos(
        &tree.path().join("aws-and-k6"),
        &[
            "lint",
            ".",
            "--output",
            "json",
            "--schema-dir",
            &lbc,
            "--schema-dir",
            &k6,
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        crd_places(&report),
        BTreeSet::from([
            place("crd-schema", "loadbalancer.yaml", 9),
            place("crd-schema", "testrun.yaml", 8),
            place("crd-version-deprecated", "loadbalancer.yaml", 3),
        ]),
        "{report:#}"
    );
    assert!(
        run.stdout.contains("gateway.k8s.aws/v1beta1 is deprecated by CustomResourceDefinition loadbalancerconfigurations.gateway.k8s.aws: gateway.k8s.aws/v1beta1 LoadBalancerConfiguration is deprecated; use gateway.k8s.aws/v1 instead"),
        "{run}"
    );

    // Without them, tacos says it could not check these (their Go modules are not on the
    // module proxy, so it pins none) and where their CRDs are published.
    let unchecked = tacos(
        &tree.path().join("aws-and-k6"),
        &["lint", ".", "--output", "json"],
    );
    let report = unchecked.json();
    assert_eq!(
        crd_places(&report),
        BTreeSet::from([
            place("crd-not-validated", "loadbalancer.yaml", 3),
            place("crd-not-validated", "testrun.yaml", 2),
        ]),
        "{report:#}"
    );
    assert!(
        unchecked
            .stdout
            .contains("tacos pins no CRDs for the AWS Load Balancer Controller"),
        "{unchecked}"
    );
    assert_eq!(
        unchecked.code, 0,
        "infos alone do not fail lint: {unchecked}"
    );
}

#[test]
fn the_repository_lints_without_errors_against_every_real_crd() {
    let (lbc, k6) = (
        shared_upstream("aws-load-balancer-controller-v3.5.0/crds/gateway"),
        shared_upstream("k6-operator-v1.6.0/crds"),
    );
    let run = tacos_command!()
        .helm()
        .args([
            "lint",
            ".",
            "--output",
            "json",
            "--schema-dir",
            &lbc,
            "--schema-dir",
            &k6,
        ])
        .run();
    assert_eq!(run.code, 0, "{run}");
    let crd_findings = crd_places(&run.json());
    assert_eq!(
        crd_findings,
        BTreeSet::new(),
        "every custom resource of the tree (charts rendered) fits its real CRD: {run}"
    );
}

#[test]
fn an_api_version_kubernetes_removed_is_an_error_at_its_line() {
    let dir = folder_with(
        "ingress.yaml",
        b"# An Ingress of an API removed in Kubernetes 1.22.\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n",
    );
    let run = tacos(dir.path(), &["lint", ".", "--output", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        places(&report),
        BTreeSet::from([place("api-removed", "ingress.yaml", 2)]),
        "{report:#}"
    );

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tacos.yaml");
    let with_config = tacos(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "lint",
            ".",
            "--output",
            "json",
        ],
    );
    assert_eq!(with_config.code, 1, "{}", with_config.stderr);
    let message = with_config.json()["findings"][0]["message"].clone();
    assert_eq!(
        message,
        "extensions/v1beta1 Ingress was removed in Kubernetes 1.22 (the cluster runs 1.31 or later); use networking.k8s.io/v1",
    );
}
