//! `tacos lint` on copies of this repository with misspelled Helm values: keys of the tacos-service chart (in the tree) and of the real argo-cd 9.1.4 chart with its redis-ha subchart (read through TACOS_CHART_DIR) are warnings at file:line with the nearest key; a value the chart's values.schema.json refuses is an error; without the chart offline, one info says the values were not checked.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use tacos_testenv::git::GitRepo;
use tacos_testenv::upstream::{ARGO_CD_CHART, Upstream};
use tacos_testenv::{Run, tacos_command};
use tempfile::TempDir;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The files of this repository (as `git ls-files` lists them) in a fresh folder.
fn repository_copy() -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    GitRepo::from_checkout(Path::new(REPO), dir.path()).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// A chart folder for `--chart-dir` holding `argo-cd/`: the real chart from the verified
/// upstream folder (linked, not copied into the repository).
fn chart_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let chart = Upstream::locate()
        .unwrap_or_else(|e| panic!("{e}"))
        .path(ARGO_CD_CHART);
    std::os::unix::fs::symlink(&chart, dir.path().join("argo-cd")).unwrap();
    dir
}

/// `tacos lint . --no-render --output json` in `root`, with `chart_dir` as TACOS_CHART_DIR and an
/// empty chart cache (so no archive cached on this machine is read).
fn lint(root: &Path, chart_dir: Option<&Path>) -> Run {
    let cache = tempfile::tempdir().unwrap();
    let mut command = tacos_command!()
        .current_dir(root)
        .env("TACOS_CACHE_DIR", cache.path())
        .args(["lint", ".", "--no-render", "--output", "json"]);
    if let Some(dir) = chart_dir {
        command = command.env("TACOS_CHART_DIR", dir);
    }
    let run = command.run();
    assert!(run.code == 0 || run.code == 1, "{run}");
    run
}

/// The helm-values findings: (rule, severity, file, line, message).
fn helm_values_findings(run: &Run) -> BTreeSet<(String, String, String, u64, String)> {
    run.json()["findings"]
        .as_array()
        .expect("a findings list")
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("helm-values-"))
        .map(|f| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&f["rule"]),
                text(&f["severity"]),
                text(&f["location"]["file"])
                    .trim_start_matches("./")
                    .to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
                text(&f["message"]),
            )
        })
        .collect()
}

/// Replaces the first `from` after the line starting `after` in `file` under `root` with `to`;
/// returns the 1-based line of the change.
fn misspell(root: &Path, file: &str, after: &str, from: &str, to: &str) -> u64 {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let section = text
        .lines()
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| line.starts_with(after))
        .map(|(start, _)| start)
        .unwrap_or_else(|| panic!("{file} has no line starting {after:?}"));
    let at = section
        + text[section..]
            .find(from)
            .unwrap_or_else(|| panic!("{file} has no {from:?} after {after:?}"));
    let changed = format!("{}{to}{}", &text[..at], &text[at + from.len()..]);
    std::fs::write(&path, changed).unwrap();
    text[..at].matches('\n').count() as u64 + 1
}

fn unknown_key(
    file: &str,
    line: u64,
    path: &str,
    chart: &str,
    nearest: &str,
) -> (String, String, String, u64, String) {
    (
        "helm-values-unknown-key".into(),
        "warning".into(),
        file.into(),
        line,
        format!(
            "`{path}` is not a value of chart {chart}, so helm ignores it; did you mean `{nearest}`?"
        ),
    )
}

#[test]
fn the_repository_values_are_clean_against_their_charts() {
    let charts = chart_dir();
    let run = lint(Path::new(REPO), Some(charts.path()));
    assert_eq!(helm_values_findings(&run), BTreeSet::new(), "{run}");
}

#[test]
fn misspelled_keys_are_warnings_at_their_line_with_the_nearest_key() {
    let copy = repository_copy();
    let root = copy.path();
    let service = misspell(
        root,
        "helm-values/gateway-api.yaml",
        "terminationGracePeriodSeconds",
        "terminationGracePeriodSeconds",
        "terminationGracePeriodSecond",
    );
    let argocd = "helm-values/argocd-values.yaml";
    let controller = misspell(root, argocd, "controller:", "  replicas:", "  replica:");
    let redis_ha = misspell(
        root,
        argocd,
        "redis-ha:",
        "hardAntiAffinity",
        "hardAntiAfinity",
    );
    let charts = chart_dir();

    let run = lint(root, Some(charts.path()));
    assert_eq!(
        helm_values_findings(&run),
        BTreeSet::from([
            unknown_key(
                "helm-values/gateway-api.yaml",
                service,
                "terminationGracePeriodSecond",
                "tacos-service 1.0.0",
                "terminationGracePeriodSeconds",
            ),
            unknown_key(
                argocd,
                controller,
                "controller.replica",
                "argo-cd 9.1.4",
                "replicas"
            ),
            unknown_key(
                argocd,
                redis_ha,
                "redis-ha.hardAntiAfinity",
                "redis-ha 4.34.11",
                "hardAntiAffinity",
            ),
        ]),
        "{run}"
    );
}

#[test]
fn a_value_the_chart_schema_refuses_is_an_error_at_its_line() {
    let copy = repository_copy();
    let line = misspell(
        copy.path(),
        "helm-values/reservation-worker.yaml",
        "component:",
        "worker",
        "consumer",
    );
    let charts = chart_dir();
    let run = lint(copy.path(), Some(charts.path()));
    run.assert_code(1);
    let findings: Vec<_> = helm_values_findings(&run).into_iter().collect();
    assert_eq!(
        findings
            .iter()
            .map(|f| (f.0.as_str(), f.1.as_str(), f.2.as_str(), f.3))
            .collect::<Vec<_>>(),
        vec![(
            "helm-values-schema",
            "error",
            "helm-values/reservation-worker.yaml",
            line
        )],
        "{run}"
    );
    assert!(
        findings[0]
            .4
            .contains("`component` does not match the values schema of chart tacos-service 1.0.0")
            && findings[0].4.contains("\"consumer\""),
        "{}",
        findings[0].4
    );
}

#[test]
fn without_the_chart_offline_its_values_are_reported_not_checked_and_the_rest_still_are() {
    let copy = repository_copy();
    let service = misspell(
        copy.path(),
        "helm-values/inventory-api.yaml",
        "capacity:",
        "rpsPerPod",
        "rpsPerPot",
    );
    let run = lint(copy.path(), None);
    let findings: Vec<_> = helm_values_findings(&run).into_iter().collect();
    assert_eq!(
        findings
            .iter()
            .map(|f| (
                f.0.as_str(),
                f.2.as_str(),
                f.4.contains("did you mean `rpsPerPod`?")
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "helm-values-not-checked",
                "helm-values/argocd-values.yaml",
                false
            ),
            (
                "helm-values-unknown-key",
                "helm-values/inventory-api.yaml",
                true
            ),
        ],
        "{run}"
    );
    assert_eq!(findings[1].3, service);
    assert!(
        findings[0].4.contains("argo-cd 9.1.4") && findings[0].4.contains("--chart-dir"),
        "{}",
        findings[0].4
    );
}
