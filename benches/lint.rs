//! Load + lint throughput: generated trees of 1,000 and 10,000 objects (cost should grow linearly), and this repository.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// What one load + lint took.
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

    fn objects_per_second(&self) -> f64 {
        self.objects as f64 / self.total().as_secs_f64()
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

fn report(what: &str, measured: &Measured) {
    println!(
        "{what:<28} {:>6} objects  {:>5} findings  load {:>9.1?}  lint {:>9.1?}  total {:>9.1?}  {:>9.0} objects/s",
        measured.objects,
        measured.findings,
        measured.load,
        measured.lint,
        measured.total(),
        measured.objects_per_second()
    );
}

fn generated(objects: usize) -> Measured {
    let dir = tempfile::tempdir().expect("a temporary folder");
    generate(dir.path(), objects);
    let measured = measure(dir.path());
    let times: Vec<String> = family_times(dir.path())
        .into_iter()
        .map(|(family, time)| format!("{family} {time:.1?}"))
        .collect();
    println!("  by family: {}", times.join(", "));
    measured
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, without it: then only
    // check that the bench works, on a small tree.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if benchmarking {
        &[1_000, 10_000]
    } else {
        &[100]
    };
    let mut results = Vec::new();
    for &size in sizes {
        let measured = generated(size);
        assert_eq!(
            measured.objects, size,
            "the generated tree holds what was asked"
        );
        report(&format!("generated {size}"), &measured);
        results.push(measured);
    }
    if let [small, large] = &results[..] {
        let size_ratio = large.objects as f64 / small.objects as f64;
        let time_ratio = large.total().as_secs_f64() / small.total().as_secs_f64();
        println!(
            "{size_ratio:.0}x the objects took {time_ratio:.1}x the time (linear: about {size_ratio:.0}x)"
        );
    }
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    report("this repository (no render)", &measure(&repository));
}
