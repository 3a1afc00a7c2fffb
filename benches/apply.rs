//! Server-side apply wall time, tacos vs kubectl, on a local control plane: 1,000 generated objects and this repository's tree, first apply and no-op re-apply.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use tacos::apply::{Applier, ApplyOptions, Outcome};
use tacos::repo::{LoadOptions, Object, load};
use tacos_testenv::{ControlPlane, ControlPlaneOptions};

/// Namespaces the generated objects are spread across (per tool).
const NAMESPACES: usize = 10;
/// Generated objects per namespace: 40 ConfigMaps, 20 Services, 20 Deployments, 20 ServiceAccounts.
const CONFIG_MAPS: usize = 40;
const WORKLOADS: usize = 20;
/// The phase folders of this repository, in phase order.
const TREE: &[&str] = &[
    "manifests/gateway",
    "manifests/argocd",
    "manifests/tacos",
    "applications/tacos",
    "manifests/monitoring",
];
const KUBECTL_MANAGER: &str = "kubectl-bench";

/// One line of the table: a set of objects applied by one tool, twice.
struct Row {
    set: String,
    tool: &'static str,
    first: Duration,
    again: Duration,
}

/// Runs kubectl against one control plane with its own discovery cache.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn new(plane: &ControlPlane, scratch: &Path, name: &str) -> Self {
        Self {
            binary: plane.binaries.kubectl.clone(),
            kubeconfig: plane.kubeconfig.clone(),
            cache: scratch.join(format!("kubectl-cache-{name}")),
        }
    }

    /// `kubectl apply --server-side` of `files` (folders recursively); returns wall time and a summary.
    fn apply(&self, files: &[PathBuf]) -> (Duration, String) {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args([
                "apply",
                "--server-side",
                "--field-manager",
                KUBECTL_MANAGER,
                "-R",
            ]);
        for file in files {
            command.arg("-f").arg(file);
        }
        let started = Instant::now();
        let output = command.output().expect("run kubectl");
        let took = started.elapsed();
        let applied = String::from_utf8_lossy(&output.stdout).lines().count();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("rror")).collect();
        let mut summary = format!("{applied} applied, {} error(s)", errors.len());
        for error in errors.iter().take(5) {
            summary.push_str(&format!("\n      {error}"));
        }
        (took, summary)
    }
}

fn main() {
    // TACOS_LOG=tacos=info prints where each apply's time goes, step by step.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("TACOS_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let scratch = tempfile::tempdir().expect("create a scratch folder");
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    eprintln!("starting control plane A (with CRDs)...");
    let plane = start_plane().await;
    rows.extend(bench_generated(&plane, scratch.path(), &mut notes).await);

    let tree = load_tree();
    let set = format!("repository tree ({} obj)", tree.len());
    rows.push(bench_tree_tacos(&plane, &tree, &set, &mut notes).await);
    drop(plane);

    eprintln!("starting control plane B (with CRDs) for kubectl's tree apply...");
    let plane = start_plane().await;
    rows.push(bench_tree_kubectl(
        &plane,
        &tree,
        &set,
        scratch.path(),
        &mut notes,
    ));
    drop(plane);

    print_table(&rows);
    println!();
    for note in notes {
        println!("note: {note}");
    }
}

async fn start_plane() -> ControlPlane {
    ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("start a local control plane (run testenv/install.sh first)")
}

/// 1,000 generated objects: tacos in `tacos-*` namespaces, kubectl in `kubectl-*` namespaces.
async fn bench_generated(
    plane: &ControlPlane,
    scratch: &Path,
    notes: &mut Vec<String>,
) -> Vec<Row> {
    let client = plane.client().await.expect("build a kube client");
    let mut files = Vec::new();
    for prefix in ["tacos", "kubectl"] {
        let namespaces: Vec<String> = (0..NAMESPACES).map(|i| format!("{prefix}-{i}")).collect();
        create_namespaces(&client, &namespaces).await;
        let file = scratch.join(format!("{prefix}.yaml"));
        std::fs::write(&file, generated_yaml(&namespaces)).expect("write the generated objects");
        files.push(file);
    }
    let set = "1,000 objects".to_string();

    let started = Instant::now();
    let objects = load(&files[..1], &LoadOptions::default())
        .expect("load the generated objects")
        .objects;
    notes.push(format!(
        "tacos loads the 1,000-object file in {:.2} s (not in the apply time; kubectl's time includes its parsing)",
        started.elapsed().as_secs_f64()
    ));
    let (first, summary) = tacos_apply(plane, &objects).await;
    let (again, again_summary) = tacos_apply(plane, &objects).await;
    notes.push(format!(
        "1,000 objects, tacos: first {summary}; re-apply {again_summary}"
    ));
    let tacos = Row {
        set: set.clone(),
        tool: "tacos",
        first,
        again,
    };

    let kubectl = Kubectl::new(plane, scratch, "a");
    let (first, summary) = kubectl.apply(&files[1..]);
    let (again, again_summary) = kubectl.apply(&files[1..]);
    notes.push(format!(
        "1,000 objects, kubectl: first {summary}; re-apply {again_summary}"
    ));
    vec![
        tacos,
        Row {
            set,
            tool: "kubectl",
            first,
            again,
        },
    ]
}

/// The tree on plane A by tacos: its namespaces first (untimed), then every object, twice.
async fn bench_tree_tacos(
    plane: &ControlPlane,
    tree: &[Object],
    set: &str,
    notes: &mut Vec<String>,
) -> Row {
    let namespaces: Vec<Object> = tree
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .cloned()
        .collect();
    tacos_apply(plane, &namespaces).await;
    let (first, summary) = tacos_apply(plane, tree).await;
    let (again, again_summary) = tacos_apply(plane, tree).await;
    notes.push(format!(
        "tree, tacos: first {summary}; re-apply {again_summary}"
    ));
    Row {
        set: set.to_string(),
        tool: "tacos",
        first,
        again,
    }
}

/// The tree on plane B by kubectl: its namespaces first (untimed, kubectl applies in file order), then the folders, twice.
fn bench_tree_kubectl(
    plane: &ControlPlane,
    tree: &[Object],
    set: &str,
    scratch: &Path,
    notes: &mut Vec<String>,
) -> Row {
    let namespaces = scratch.join("tree-namespaces.yaml");
    let text: Vec<String> = tree
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .map(|o| o.value.to_string())
        .collect();
    std::fs::write(&namespaces, text.join("\n---\n")).expect("write the tree's namespaces");
    let kubectl = Kubectl::new(plane, scratch, "b");
    kubectl.apply(&[namespaces]);
    let folders: Vec<PathBuf> = TREE.iter().map(|f| repo_root().join(f)).collect();
    let (first, summary) = kubectl.apply(&folders);
    let (again, again_summary) = kubectl.apply(&folders);
    notes.push(format!(
        "tree, kubectl: first {summary}; re-apply {again_summary}"
    ));
    notes.push(
        "tree: both tools had the tree's namespaces applied first in an untimed step (kubectl applies in file order); \
         tacos ran on plane A (which also holds the 2,000 generated objects), kubectl on a fresh plane B, \
         since both would otherwise apply the same names"
            .into(),
    );
    Row {
        set: set.to_string(),
        tool: "kubectl",
        first,
        again,
    }
}

/// One `Applier::apply` with a fresh Applier (an empty discovery cache, as a new CLI run has); returns wall time and outcomes.
async fn tacos_apply(plane: &ControlPlane, objects: &[Object]) -> (Duration, String) {
    let client = plane.client().await.expect("build a kube client");
    let applier = Applier::new(client, ApplyOptions::default());
    let started = Instant::now();
    let result = applier.apply(objects, &|_| {}).await;
    let took = started.elapsed();
    let summary = match result {
        Ok(applied) => {
            let count = |outcome| applied.iter().filter(|a| a.outcome == outcome).count();
            format!(
                "{} created, {} configured, {} unchanged",
                count(Outcome::Created),
                count(Outcome::Configured),
                count(Outcome::Unchanged)
            )
        }
        Err(error) => format!("FAILED: {error}"),
    };
    (took, summary)
}

async fn create_namespaces(client: &kube::Client, names: &[String]) {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &namespace)
            .await
            .expect("create a bench namespace");
    }
}

/// Per namespace: ConfigMaps, then a ServiceAccount, Service and Deployment per workload.
fn generated_yaml(namespaces: &[String]) -> String {
    let mut documents = Vec::new();
    for namespace in namespaces {
        for i in 0..CONFIG_MAPS {
            documents.push(format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: config-{i}, namespace: {namespace}}}\n\
                 data: {{LOG_LEVEL: info, INDEX: \"{i}\", ENDPOINT: \"http://svc-{i}.{namespace}:8080\"}}\n"
            ));
        }
        for i in 0..WORKLOADS {
            documents.push(format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: app-{i}, namespace: {namespace}}}\n"
            ));
            documents.push(format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: app-{i}, namespace: {namespace}}}\n\
                 spec:\n  selector: {{app: app-{i}}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n"
            ));
            documents.push(deployment_yaml(namespace, i));
        }
    }
    documents.join("---\n")
}

fn deployment_yaml(namespace: &str, i: usize) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: {namespace}, labels: {{app: app-{i}}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      serviceAccountName: app-{i}
      containers:
        - name: app
          image: registry.example.com/app-{i}:v1.0.0
          ports: [{{name: http, containerPort: 8080}}]
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 128Mi}}
"#
    )
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_tree() -> Vec<Object> {
    let paths: Vec<PathBuf> = TREE.iter().map(|f| repo_root().join(f)).collect();
    load(&paths, &LoadOptions::default())
        .expect("load this repository's tree")
        .objects
}

fn print_table(rows: &[Row]) {
    println!("machine: {} cores, {}", cores(), cpu_model());
    println!(
        "{:<26}{:<9}{:<14}{:<17}re-apply/first",
        "set", "tool", "first apply", "no-op re-apply"
    );
    for pair in rows.chunks(2) {
        for row in pair {
            println!(
                "{:<26}{:<9}{:<14}{:<17}{:.2}",
                row.set,
                row.tool,
                format!("{:.2} s", row.first.as_secs_f64()),
                format!("{:.2} s", row.again.as_secs_f64()),
                row.again.as_secs_f64() / row.first.as_secs_f64()
            );
        }
        if let [tacos, kubectl] = pair {
            println!(
                "{:<35}{:<14.2}{:.2}",
                "ratio tacos/kubectl",
                tacos.first.as_secs_f64() / kubectl.first.as_secs_f64(),
                tacos.again.as_secs_f64() / kubectl.again.as_secs_f64()
            );
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
