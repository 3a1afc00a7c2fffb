//! doctor and verify on a large cluster (500 nodes, 10,000 pods written to a real apiserver), wall time and peak memory, against `kubectl get pods -A -o json` in the same run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::{AwsEmulator, ControlPlane, ControlPlaneOptions, tacos_command};

/// The cluster measured; `cargo test --all-targets` runs this bench too (without `--bench`), on a
/// small cluster, to check that it works.
#[derive(Clone, Copy)]
struct Size {
    nodes: usize,
    pods: usize,
    rounds: usize,
}

const BENCH: Size = Size {
    nodes: 500,
    pods: 10_000,
    rounds: 3,
};
const SMOKE: Size = Size {
    nodes: 20,
    pods: 200,
    rounds: 1,
};
const NAMESPACES: usize = 20;
/// Requests in flight while the cluster is written.
const WRITERS: usize = 48;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    runtime.block_on(run());
}

/// One measured run of a command: wall time, peak resident memory, exit code.
struct Measured {
    what: String,
    wall: Duration,
    peak_rss_mib: f64,
    exit: Option<i32>,
}

/// Runs `command` with stdout discarded, sampling its peak RSS (VmHWM of its own address space:
/// rusage's maxrss would count the forking parent's pages too).
fn measure(what: &str, command: &mut Command) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Measured {
        what: what.to_string(),
        wall: started.elapsed(),
        peak_rss_mib: peak_kib as f64 / 1024.0,
        exit: status.code(),
    }
}

fn node_name(index: usize) -> String {
    format!("ip-10-0-{}-{}", index / 250, index % 250)
}

async fn write_cluster(client: &kube::Client, size: Size) {
    let started = Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for n in 0..NAMESPACES {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": format!("bench-{n}")}})).unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(client.clone(), &format!("bench-{n}"));
        let account = serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
        accounts
            .create(&PostParams::default(), &account)
            .await
            .unwrap();
    }
    let nodes: Api<Node> = Api::all(client.clone());
    stream::iter(0..size.nodes)
        .for_each_concurrent(WRITERS, |i| {
            let nodes = nodes.clone();
            async move {
                let name = node_name(i);
                let node: Node = serde_json::from_value(json!({
                    "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", "topology.kubernetes.io/zone": format!("ap-northeast-2{}", ["a", "b", "c"][i % 3])}}
                }))
                .unwrap();
                nodes.create(&PostParams::default(), &node).await.unwrap();
                let status = json!({"status": {
                    "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                    "allocatable": {"cpu": "15", "memory": "60Gi", "pods": "110"},
                    "conditions": [
                        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready", "lastHeartbeatTime": "2026-11-26T00:00:00Z", "lastTransitionTime": "2026-11-26T00:00:00Z"},
                        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "", "lastHeartbeatTime": "2026-11-26T00:00:00Z", "lastTransitionTime": "2026-11-26T00:00:00Z"}
                    ]
                }});
                nodes
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await
                    .unwrap();
            }
        })
        .await;
    eprintln!(
        "  {} nodes written in {:.1} s",
        size.nodes,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    stream::iter(0..size.pods)
        .for_each_concurrent(WRITERS, |i| {
            let client = client.clone();
            async move {
                let namespace = format!("bench-{}", i % NAMESPACES);
                let pods: Api<Pod> = Api::namespaced(client, &namespace);
                let name = format!("svc-{}-{i}", i % 50);
                let node = node_name(i % size.nodes);
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name, "labels": {"app": format!("svc-{}", i % 50)}},
                    "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example/app:1.0.0",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        "env": [{"name": "LISTEN_ADDR", "value": ":8080"}]}]}
                }))
                .unwrap();
                pods.create(&PostParams::default(), &pod).await.unwrap();
                let status = json!({"status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                    "containerStatuses": [{"name": "app", "image": "registry.example/app:1.0.0", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]
                }});
                pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await
                    .unwrap();
            }
        })
        .await;
    eprintln!(
        "  {} pods written in {:.1} s",
        size.pods,
        started.elapsed().as_secs_f64()
    );
}

fn tacos(kubeconfig: &Path, aws: &AwsEmulator, args: &[&str]) -> Command {
    tacos_command!()
        .kubeconfig(kubeconfig)
        .aws(aws)
        .helm()
        .args(args)
        .command()
}

async fn run() {
    let size = if std::env::args().any(|a| a == "--bench") {
        BENCH
    } else {
        SMOKE
    };
    eprintln!("starting a control plane and the AWS emulator...");
    let plane = ControlPlane::start(ControlPlaneOptions {
        skip_crds: vec!["keda".into()],
        ..ControlPlaneOptions::default()
    })
    .await
    .expect("start the control plane");
    let aws = AwsEmulator::start(AcmValidation::Immediate)
        .await
        .expect("start moto");
    aws.seed_platform()
        .await
        .expect("seed the platform account");
    eprintln!(
        "writing {} nodes and {} pods (the harness plays the kubelets)...",
        size.nodes, size.pods
    );
    write_cluster(&plane.client().await.unwrap(), size).await;
    let chart_dir = tempfile::tempdir().unwrap();
    prepare_chart_dir(&plane.binaries, chart_dir.path()).expect("prepare the chart dir");
    let chart_arg = chart_dir.path().display().to_string();

    let mut runs = Vec::new();
    for round in 0..size.rounds {
        eprintln!("round {}...", round + 1);
        runs.push(measure(
            "kubectl get pods -A -o json",
            Command::new(&plane.binaries.kubectl)
                .arg("--kubeconfig")
                .arg(&plane.kubeconfig)
                .args(["get", "pods", "-A", "-o", "json"]),
        ));
        runs.push(measure(
            "tacos doctor --output json",
            &mut tacos(&plane.kubeconfig, &aws, &["doctor", "--output", "json"]),
        ));
        runs.push(measure(
            "tacos verify --phase all",
            &mut tacos(
                &plane.kubeconfig,
                &aws,
                &["verify", "--phase", "all", "--chart-dir", &chart_arg],
            ),
        ));
    }

    println!();
    println!(
        "machine: {} cores; cluster: {} nodes, {} pods, {NAMESPACES} namespaces",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        size.nodes,
        size.pods
    );
    println!(
        "| command | wall (median of {0}) | peak RSS (max of {0}) | exit |",
        size.rounds
    );
    println!("|---|---|---|---|");
    let mut medians = Vec::new();
    for what in [
        "kubectl get pods -A -o json",
        "tacos doctor --output json",
        "tacos verify --phase all",
    ] {
        let mut mine: Vec<&Measured> = runs.iter().filter(|m| m.what == what).collect();
        mine.sort_by_key(|m| m.wall);
        let median = mine[mine.len() / 2];
        let peak = mine.iter().map(|m| m.peak_rss_mib).fold(0.0, f64::max);
        println!(
            "| {what} | {:.2} s | {peak:.0} MiB | {} |",
            median.wall.as_secs_f64(),
            median
                .exit
                .map(|c| c.to_string())
                .unwrap_or_else(|| "signal".into())
        );
        medians.push(median.wall.as_secs_f64());
    }
    println!(
        "ratio doctor / kubectl get pods: {:.2}; verify / kubectl: {:.2}",
        medians[1] / medians[0],
        medians[2] / medians[0]
    );
    for run in &runs {
        assert!(
            matches!(run.exit, Some(0 | 1)),
            "{} ended with {:?} (0 or 1 expected: it ran and reported)",
            run.what,
            run.exit
        );
    }
    println!(
        "(verify reports the tree as not deployed here; it reads each object of the tree once, so its time does not grow with pods)"
    );
}
