//! Load + lint throughput on generated trees of 1,000, 10,000 and 100,000 objects (cost should
//! grow linearly), timed beside kubeconform validating the same files, and this repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use tacos::lint::{LintContext, LintSettings, families, run};
use tacos::repo::Tree;
use tacos::repo::{LoadOptions, load};

/// Objects per service: Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy.
const OBJECTS_PER_SERVICE: usize = 5;
/// Services per file, and files per folder, so a tree has many files in many folders.
const SERVICES_PER_FILE: usize = 2;
const FILES_PER_FOLDER: usize = 50;

/// One service's five objects, as a production tree writes them.
fn service_yaml(namespace: &str, name: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app.kubernetes.io/name: {name}, app.kubernetes.io/part-of: bench, team: bench, cost-center: cc-bench, environment: test}}
spec:
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {name}, team: bench, cost-center: cc-bench}}
    spec:
      securityContext: {{runAsNonRoot: true, runAsUser: 65532, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: app
          image: registry.example.com/{name}:v1.0.0
          ports: [{{name: http, containerPort: 8000}}]
          resources:
            requests: {{cpu: 250m, memory: 256Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe: {{httpGet: {{path: /ready, port: http}}}}
          livenessProbe: {{httpGet: {{path: /live, port: http}}}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{app.kubernetes.io/name: {name}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  maxUnavailable: 1
  selector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}-ingress, namespace: {namespace}}}
spec:
  podSelector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}
  policyTypes: [Ingress]
  ingress:
    - ports: [{{port: 8000, protocol: TCP}}]
"#
    )
}

/// Writes a tree of about `objects` objects under `root`, spread over namespaces, folders and files.
fn generate(root: &Path, objects: usize) {
    let services = objects.div_ceil(OBJECTS_PER_SERVICE);
    let files = services.div_ceil(SERVICES_PER_FILE);
    for file in 0..files {
        let namespace = format!("team-{}", file / FILES_PER_FOLDER);
        let folder = root.join(&namespace);
        std::fs::create_dir_all(&folder).expect("create a folder");
        let text: Vec<String> = (0..SERVICES_PER_FILE)
            .map(|i| file * SERVICES_PER_FILE + i)
            .filter(|service| *service < services)
            .map(|service| service_yaml(&namespace, &format!("svc-{service}")))
            .collect();
        std::fs::write(
            folder.join(format!("services-{file}.yaml")),
            text.join("---\n"),
        )
        .expect("write a file");
    }
}

/// What one in-process load + lint took.
struct Measured {
    objects: usize,
    findings: usize,
    load: Duration,
    lint: Duration,
}

impl Measured {
    fn total(&self) -> Duration {
        self.load + self.lint
    }
}

fn measure(root: &Path) -> Measured {
    let started = Instant::now();
    let tree = load(&[root.to_path_buf()], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{} does not load: {e}", root.display()));
    let loaded = Instant::now();
    let findings = run(&LintContext {
        tree: &tree,
        settings: LintSettings::default(),
    });
    Measured {
        objects: tree.objects.len(),
        findings: findings.len(),
        load: loaded - started,
        lint: loaded.elapsed(),
    }
}

/// How long each rule family takes on a loaded tree, slowest first.
fn family_times(root: &Path) -> Vec<(&'static str, Duration)> {
    let tree: Tree = load(&[root.to_path_buf()], &LoadOptions::default()).expect("the tree loads");
    let context = LintContext {
        tree: &tree,
        settings: LintSettings::default(),
    };
    let mut times: Vec<(&'static str, Duration)> = families()
        .iter()
        .map(|family| {
            let started = Instant::now();
            (family.check)(&context);
            (
                family.rules.first().map_or("?", |r| r.family),
                started.elapsed(),
            )
        })
        .collect();
    times.sort_by_key(|(_, time)| std::cmp::Reverse(*time));
    times
}

/// `tacos lint` as a user runs it (the release binary, JSON output), on `root`: its wall time and
/// how many findings it printed.
fn time_tacos(root: &Path) -> (Duration, usize) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_tacos"))
        .args(["--output", "json", "lint"])
        .arg(root)
        .current_dir(root)
        .output()
        .expect("tacos runs");
    let took = started.elapsed();
    // 0: no finding at --fail-on; 1: findings. Anything else is a failure of the run itself.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "tacos lint failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("tacos prints JSON");
    let findings = report["findings"].as_array().map_or(0, Vec::len);
    (took, findings)
}

/// kubeconform, built from its Go module by `testenv/install.sh kubeconform`, with the JSON
/// schemas made from the Kubernetes OpenAPI document the same step keeps.
struct Kubeconform {
    binary: PathBuf,
    /// Holds the schemas; removed on drop.
    schemas: tempfile::TempDir,
}

/// What kubeconform's `-summary -output json` counts.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    valid: u64,
    invalid: u64,
    errors: u64,
    skipped: u64,
}

impl Kubeconform {
    fn prepare() -> Self {
        let binaries = tacos_testenv::binaries::Binaries::locate().expect("the test env's paths");
        let install = "run testenv/install.sh kubeconform";
        assert!(
            binaries.kubeconform.is_file() && binaries.kubernetes_openapi.is_file(),
            "kubeconform ({}) or the Kubernetes OpenAPI document ({}) is missing: {install}",
            binaries.kubeconform.display(),
            binaries.kubernetes_openapi.display()
        );
        let text = std::fs::read_to_string(&binaries.kubernetes_openapi)
            .expect("the OpenAPI document reads");
        let openapi: Value = serde_json::from_str(&text).expect("the OpenAPI document is JSON");
        let schemas = tempfile::tempdir().expect("a folder for the schemas");
        let written = write_schemas(&openapi, schemas.path());
        assert!(
            written > 100,
            "only {written} schemas made from the OpenAPI document"
        );
        let kubeconform = Self {
            binary: binaries.kubeconform,
            schemas,
        };
        kubeconform.check_rejects_what_is_wrong();
        kubeconform
    }

    /// Validates every YAML file under `root`: wall time, the summary, and what was not valid.
    fn validate(&self, root: &Path) -> (Duration, Summary, String) {
        let location = self
            .schemas
            .path()
            .join("{{ .ResourceKind }}{{ .KindSuffix }}.json");
        let started = Instant::now();
        let output = Command::new(&self.binary)
            .args(["-strict", "-summary", "-output", "json", "-schema-location"])
            .arg(location)
            .arg(root)
            .output()
            .expect("kubeconform runs");
        let took = started.elapsed();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "kubeconform ({}) printed no JSON ({e}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let count = |field: &str| report["summary"][field].as_u64().unwrap_or(0);
        let summary = Summary {
            valid: count("valid"),
            invalid: count("invalid"),
            errors: count("errors"),
            skipped: count("skipped"),
        };
        let rejected = serde_json::to_string_pretty(&report["resources"]).unwrap_or_default();
        (took, summary, rejected.chars().take(4000).collect())
    }

    /// The schemas are strict and whole: an unknown field, a wrong type and a missing required
    /// field deep in a pod template are each rejected, and a kind without a schema is an error.
    fn check_rejects_what_is_wrong(&self) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let good = service_yaml("check", "good");
        let cases = [
            (
                "unknown-field",
                good.replace(
                    "readOnlyRootFilesystem: true",
                    "readOnlyRootFilesystem: true\n            readOnlyRootFilesytem: true",
                ),
            ),
            (
                "wrong-type",
                good.replace("containerPort: 8000", "containerPort: eight"),
            ),
            (
                "missing-required",
                good.replace("        - name: app\n          image:", "        - image:"),
            ),
            (
                "no-schema",
                "apiVersion: example.com/v1\nkind: Unknown\nmetadata: {name: x}\n".to_string(),
            ),
        ];
        for (name, text) in &cases {
            assert_ne!(*text, good, "case {name} changes the objects");
            let case = dir.path().join(name);
            std::fs::create_dir_all(&case).expect("a folder");
            std::fs::write(case.join("objects.yaml"), text).expect("write a file");
            let (_, summary, _) = self.validate(&case);
            assert!(
                summary.invalid + summary.errors == 1,
                "kubeconform does not reject case {name}: {summary:?}"
            );
        }
    }
}

/// Writes one JSON schema per kind of the OpenAPI document into `dir`, in kubeconform's layout
/// (`{kind}-{group's first label}-{version}.json`, `{kind}-{version}.json` for the core group),
/// strict as kubeconform's `-strict` schemas are: objects with properties allow no other fields.
/// Each file holds its definition and every definition it refers to, so kubeconform reads one
/// file per kind. Returns how many were written.
fn write_schemas(openapi: &Value, dir: &Path) -> usize {
    let definitions = openapi["definitions"]
        .as_object()
        .expect("the OpenAPI document has definitions");
    let strict: Map<String, Value> = definitions
        .iter()
        .map(|(name, schema)| (name.clone(), strict_schema(name, schema)))
        .collect();
    let mut files: BTreeMap<String, Value> = BTreeMap::new();
    for (name, schema) in &strict {
        let kinds = definitions[name]["x-kubernetes-group-version-kind"].as_array();
        for gvk in kinds.into_iter().flatten() {
            let (Some(group), Some(version), Some(kind)) = (
                gvk["group"].as_str(),
                gvk["version"].as_str(),
                gvk["kind"].as_str(),
            ) else {
                continue;
            };
            let group_label = group.split('.').next().unwrap_or_default();
            let file = if group.is_empty() {
                format!("{}-{version}.json", kind.to_lowercase())
            } else {
                format!("{}-{group_label}-{version}.json", kind.to_lowercase())
            };
            let mut referenced = BTreeMap::new();
            collect_references(schema, &strict, &mut referenced);
            let mut document = schema.as_object().cloned().unwrap_or_default();
            document.insert(
                "definitions".into(),
                Value::Object(referenced.into_iter().collect()),
            );
            files.entry(file).or_insert(Value::Object(document));
        }
    }
    for (file, document) in &files {
        std::fs::write(
            dir.join(file),
            serde_json::to_vec(document).expect("a schema serialises"),
        )
        .expect("write a schema");
    }
    files.len()
}

/// Kubernetes's schema made strict and plain JSON Schema: `additionalProperties: false` beside
/// every `properties`, int-or-string fields and quantities accepting what the API server accepts.
fn strict_schema(name: &str, schema: &Value) -> Value {
    if name == "io.k8s.apimachinery.pkg.api.resource.Quantity" {
        return json!({"oneOf": [{"type": "string"}, {"type": "number"}]});
    }
    strict_node(schema)
}

fn strict_node(node: &Value) -> Value {
    let Some(map) = node.as_object() else {
        return node.clone();
    };
    if map.get("format").and_then(Value::as_str) == Some("int-or-string") {
        return json!({"oneOf": [{"type": "string"}, {"type": "integer"}]});
    }
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(field, schema)| (field.clone(), strict_node(schema)))
                    .collect(),
            ),
            "items" | "additionalProperties" => strict_node(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(strict_node)
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && !out.contains_key("x-kubernetes-preserve-unknown-fields")
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

/// Every definition `node` refers to (`$ref: #/definitions/NAME`), transitively.
fn collect_references(
    node: &Value,
    definitions: &Map<String, Value>,
    found: &mut BTreeMap<String, Value>,
) {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str)
                && let Some(name) = reference.strip_prefix("#/definitions/")
                && !found.contains_key(name)
                && let Some(definition) = definitions.get(name)
            {
                found.insert(name.to_string(), definition.clone());
                collect_references(definition, definitions, found);
            }
            for value in map.values() {
                collect_references(value, definitions, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_references(item, definitions, found);
            }
        }
        _ => {}
    }
}

/// One size's numbers: the best of a few runs of each tool.
struct SideBySide {
    objects: usize,
    in_process: Measured,
    tacos: Duration,
    kubeconform: Duration,
}

fn compare(objects: usize, kubeconform: &Kubeconform, runs: usize) -> SideBySide {
    let dir = tempfile::tempdir().expect("a temporary folder");
    generate(dir.path(), objects);
    let in_process = measure(dir.path());
    assert_eq!(
        in_process.objects, objects,
        "the generated tree holds what was asked"
    );
    let times: Vec<String> = family_times(dir.path())
        .into_iter()
        .map(|(family, time)| format!("{family} {time:.1?}"))
        .collect();
    let mut tacos = Duration::MAX;
    let mut validated = Duration::MAX;
    for _ in 0..runs {
        let (took, findings) = time_tacos(dir.path());
        assert_eq!(
            findings, in_process.findings,
            "tacos lint finds what the library finds"
        );
        tacos = tacos.min(took);
        let (took, summary, rejected) = kubeconform.validate(dir.path());
        assert_eq!(
            summary,
            Summary {
                valid: objects as u64,
                invalid: 0,
                errors: 0,
                skipped: 0
            },
            "kubeconform validates every generated object and rejects none: {rejected}"
        );
        validated = validated.min(took);
    }
    println!(
        "generated {objects:>7}: in process load {:>9.1?} + lint {:>9.1?} ({} findings); by family: {}",
        in_process.load,
        in_process.lint,
        in_process.findings,
        times.join(", ")
    );
    SideBySide {
        objects,
        in_process,
        tacos,
        kubeconform: validated,
    }
}

/// The goals of the issue: seconds allowed for `tacos lint` by number of objects.
const GOALS: &[(usize, f64)] = &[(10_000, 0.5), (100_000, 5.0)];

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, without it: then only
    // check that the bench works, on a small tree.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut sizes: Vec<usize> = if benchmarking {
        vec![1_000, 10_000, 100_000]
    } else {
        vec![100]
    };
    // TACOS_LINT_BENCH_SIZES=1000,10000 measures only those sizes (e.g. to compare before and after).
    if let Ok(chosen) = std::env::var("TACOS_LINT_BENCH_SIZES") {
        sizes = chosen
            .split(',')
            .map(|size| {
                size.trim()
                    .parse()
                    .expect("TACOS_LINT_BENCH_SIZES lists numbers")
            })
            .collect();
    }
    let kubeconform = Kubeconform::prepare();
    let results: Vec<SideBySide> = sizes
        .iter()
        // The best of a few runs of each tool; the largest tree twice, as it takes long.
        .map(|&objects| {
            compare(
                objects,
                &kubeconform,
                if objects >= 100_000 { 2 } else { 3 },
            )
        })
        .collect();
    println!();
    println!(
        "{:>8}  {:>12}  {:>16}  {:>17}",
        "objects", "tacos lint s", "kubeconform s", "tacos/kubeconform"
    );
    for result in &results {
        println!(
            "{:>8}  {:>12.3}  {:>16.3}  {:>17.2}",
            result.objects,
            result.tacos.as_secs_f64(),
            result.kubeconform.as_secs_f64(),
            result.tacos.as_secs_f64() / result.kubeconform.as_secs_f64()
        );
    }
    if let [small, .., large] = &results[..] {
        let size_ratio = large.objects as f64 / small.objects as f64;
        let time_ratio =
            large.in_process.total().as_secs_f64() / small.in_process.total().as_secs_f64();
        println!(
            "{size_ratio:.0}x the objects took {time_ratio:.1}x the time in process (linear: about {size_ratio:.0}x)"
        );
    }
    for &(objects, seconds) in GOALS {
        // A bench reports; it does not fail on the machine's speed.
        if let Some(result) = results.iter().find(|r| r.objects == objects) {
            let took = result.tacos.as_secs_f64();
            println!(
                "goal: {objects} objects in under {seconds} s: {took:.3} s, {}",
                if took < seconds { "met" } else { "NOT met" }
            );
        }
    }
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let measured = measure(&repository);
    println!(
        "this repository (no render): {} objects, {} findings, load {:.1?} + lint {:.1?}",
        measured.objects, measured.findings, measured.load, measured.lint
    );
}
