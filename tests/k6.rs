//! The load tests without running k6 (AGPL, not used here): every script under k6/ parses as an ES module with a real JavaScript parser (node), and every TestRun passes a server-side dry run against k6-operator's real, strict TestRun CRD.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use tacos::apply::{Applier, ApplyOptions, Mode};
use tacos::repo::{LoadOptions, load};
use tacos_testenv::shared_control_plane;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// node's verdict on `source` parsed as an ES module (k6 scripts are ES modules): Ok or its error.
fn node_check(source: &str) -> Result<(), String> {
    let node = std::env::var("TACOS_NODE").unwrap_or_else(|_| "node".into());
    let mut child = Command::new(&node)
        .args(["--input-type=module", "--check"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {node} ({e}): install Node.js or set TACOS_NODE to its binary")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).to_string())
    }
}

fn scripts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(scripts(&path));
        } else if path.extension().is_some_and(|e| e == "js") {
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn every_k6_script_parses_as_an_es_module() {
    let scripts = scripts(&repo_root().join("k6"));
    assert!(
        scripts.len() >= 5,
        "the k6 scenarios are found: {scripts:?}"
    );
    let mut broken = Vec::new();
    for script in &scripts {
        let source = std::fs::read_to_string(script).unwrap();
        if let Err(error) = node_check(&source) {
            broken.push(format!("{}:\n{error}", script.display()));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn a_script_with_a_syntax_error_is_caught_by_the_parser() {
    let error =
        node_check("import http from 'k6/http';\nexport default function () { http.get( }\n")
            .unwrap_err();
    assert!(error.contains("SyntaxError"), "{error}");
}

/// The k6 scenario `common.js` builds for SCENARIO=`scenario`, evaluated by node with k6's two
/// modules stood in for (nothing of them is called while options are built).
fn k6_scenario(scenario: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let scripts = repo_root().join("k6/scenarios");
    let common = std::fs::read_to_string(scripts.join("common.js")).unwrap();
    let imports = [
        ("import http from 'k6/http';", "const http = { setResponseCallback() {}, expectedStatuses() {} };"),
        ("import { check } from 'k6';", "const check = () => true;"),
    ];
    let mut runnable = common.clone();
    for (import, stand_in) in imports {
        assert!(common.contains(import), "common.js imports {import}");
        runnable = runnable.replace(import, stand_in);
    }
    std::fs::write(dir.path().join("common.js"), runnable).unwrap();
    std::fs::copy(scripts.join("stages.json"), dir.path().join("stages.json")).unwrap();
    let driver = format!(
        "import fs from 'node:fs';\n\
         globalThis.__ENV = {{ SCENARIO: '{scenario}' }};\n\
         globalThis.open = (p) => fs.readFileSync(new URL(p, import.meta.url), 'utf8');\n\
         const {{ scenarioFor }} = await import('./common.js');\n\
         console.log(JSON.stringify(scenarioFor('e2e', {{ sustainRps: 30000, spikeRps: 50000 }})));\n"
    );
    let driver_path = dir.path().join("driver.mjs");
    std::fs::write(&driver_path, driver).unwrap();
    let node = std::env::var("TACOS_NODE").unwrap_or_else(|_| "node".into());
    let output = Command::new(&node).arg(&driver_path).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_scripts_run_the_stages_tacos_replays() {
    use tacos::loadtest::Scenario;
    use tacos::loadtest::shape::{LoadShape, parse_k6_duration};
    for scenario in [Scenario::Ramp, Scenario::Sustain, Scenario::Spike, Scenario::E2e] {
        let replayed = LoadShape::read(&repo_root(), scenario, 30_000.0, 50_000.0).unwrap();
        let k6 = k6_scenario(scenario.shape_name());
        assert_eq!(k6["executor"], "ramping-arrival-rate", "{k6}");
        assert_eq!(k6["startRate"].as_f64(), Some(replayed.start_rps), "{k6}");
        let stages: Vec<(f64, std::time::Duration)> = k6["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["target"].as_f64().unwrap(),
                    parse_k6_duration(s["duration"].as_str().unwrap()).unwrap(),
                )
            })
            .collect();
        let expected: Vec<(f64, std::time::Duration)> = replayed
            .stages
            .iter()
            .map(|s| (s.target_rps, s.duration))
            .collect();
        assert_eq!(stages, expected, "{}: {k6}", scenario.name());
    }
}

#[tokio::test]
async fn every_testrun_passes_a_dry_run_and_the_real_crd_refuses_unknown_fields() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let tree = load(&[repo_root().join("k6/testruns")], &LoadOptions::default()).unwrap();
    let namespaces: Vec<_> = tree
        .objects
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .cloned()
        .collect();
    Applier::new(client.clone(), ApplyOptions::default())
        .apply(&namespaces, &|_| {})
        .await
        .unwrap();
    let runs: Vec<_> = tree
        .objects
        .iter()
        .filter(|o| o.is("k6.io", "TestRun"))
        .cloned()
        .collect();
    assert_eq!(runs.len(), 6, "one TestRun per scenario");
    let dry = Applier::new(
        client.clone(),
        ApplyOptions {
            mode: Mode::DryRun,
            ..ApplyOptions::default()
        },
    );
    let mut refused = Vec::new();
    for run in &runs {
        if let Err(error) = dry.apply(std::slice::from_ref(run), &|_| {}).await {
            refused.push(format!("{}: {error}", run.name()));
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));

    // A stand-in that preserves unknown fields takes this; the real CRD, asked for strict field
    // validation, names the field it does not know.
    let mut misspelt = runs[0].value.clone();
    misspelt["spec"]["paralelism"] = 4.into();
    let api: Api<DynamicObject> = Api::namespaced_with(
        client,
        "loadtest",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("k6.io", "v1alpha1", "TestRun")),
    );
    let mut params = PatchParams::apply("tacos-test").dry_run();
    params.field_validation = Some(kube::api::ValidationDirective::Strict);
    let error = api
        .patch(runs[0].name(), &params, &Patch::Apply(&misspelt))
        .await
        .expect_err("the real TestRun CRD refuses an unknown field");
    assert!(error.to_string().contains("paralelism"), "{error}");
}
