//! The simulated cluster's resource metrics pipeline: metrics-server out of cluster behind the `v1beta1.metrics.k8s.io` APIService, scraping the kubelet `/metrics/resource` endpoints kwok emulates, where each pod uses what its `kwok.x-k8s.io/usage-*` annotations say.

use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::process::ManagedProcess;
use crate::{Binaries, ControlPlane, Result, TestenvError, io_err, kube_err};

/// The CPU a pod uses (a quantity, e.g. `250m`), read by kwok's usage-from-annotation configuration.
pub const USAGE_CPU_ANNOTATION: &str = "kwok.x-k8s.io/usage-cpu";
/// The memory a pod uses (a quantity, e.g. `300Mi`).
pub const USAGE_MEMORY_ANNOTATION: &str = "kwok.x-k8s.io/usage-memory";
/// Where metrics-server reads a node's resource metrics (kwok serves every node under one port).
pub const RESOURCE_METRICS_PATH_ANNOTATION: &str = "metrics.k8s.io/resource-metrics-path";

const API_SERVICE: &str = "v1beta1.metrics.k8s.io";

/// The path kwok serves `node`'s emulated `/metrics/resource` on.
pub fn resource_metrics_path(node: &str) -> String {
    format!("/metrics/nodes/{node}/metrics/resource")
}

/// kwok's flags for serving the kubelet endpoints on `127.0.0.1:port` (the port nodes report as
/// their kubelet port) with the Metric and usage configuration from its module.
pub(crate) fn kwok_args(binaries: &Binaries, port: u16) -> Result<Vec<String>> {
    let mut args = vec![
        format!("--server-address=127.0.0.1:{port}"),
        format!("--node-port={port}"),
    ];
    for file in ["metrics-resource.yaml", "usage-from-annotation.yaml"] {
        let path = binaries.kwok_metrics.join(file);
        binaries.require("kwok metrics configuration", &path)?;
        args.push(format!("--config={}", path.display()));
    }
    Ok(args)
}

/// Starts metrics-server on `127.0.0.1:port` with its own serving certificate, scraping the nodes
/// at the InternalIP and kubelet port kwok reports (a self-signed certificate, hence insecure TLS).
pub(crate) fn spawn_metrics_server(
    control_plane: &ControlPlane,
    port: u16,
    dir: &Path,
) -> Result<ManagedProcess> {
    let binaries = &control_plane.binaries;
    binaries.require("metrics-server", &binaries.metrics_server)?;
    let kubeconfig = control_plane.kubeconfig.display().to_string();
    let certs = dir.join("metrics-server-certs");
    std::fs::create_dir_all(&certs).map_err(io_err(format!("create {}", certs.display())))?;
    let args = vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        "--bind-address=127.0.0.1".to_string(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", certs.display()),
        "--kubelet-insecure-tls".to_string(),
        "--kubelet-preferred-address-types=InternalIP".to_string(),
        "--kubelet-use-node-status-port".to_string(),
        // Its minimum: usage set by a test shows within two scrapes.
        "--metric-resolution=10s".to_string(),
        "--kubelet-request-timeout=5s".to_string(),
        "--v=1".to_string(),
    ];
    ManagedProcess::spawn(
        "metrics-server",
        &binaries.metrics_server,
        &args,
        &[],
        dir.join("metrics-server.log"),
    )
}

/// Registers metrics-server as `v1beta1.metrics.k8s.io`. The apiserver runs on loopback and
/// Endpoints may not hold loopback addresses, so the Service is an ExternalName of 127.0.0.1 (the
/// aggregator dials an ExternalName at the APIService's port; no `--enable-aggregator-routing`).
pub(crate) async fn register_api_service(client: &kube::Client, port: u16) -> Result<()> {
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": "kube-system"},
        "spec": {"type": "ExternalName", "externalName": "127.0.0.1", "ports": [{"name": "https", "port": port}]},
    });
    let api_service = json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": API_SERVICE},
        "spec": {
            "service": {"name": "metrics-server", "namespace": "kube-system", "port": port},
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "insecureSkipTLSVerify": true,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    });
    for (value, namespace) in [(service, Some("kube-system")), (api_service, None)] {
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let api = api_for(client, &value, namespace);
        api.patch(
            &name,
            &PatchParams::apply("tacos-testenv").force(),
            &Patch::Apply(&value),
        )
        .await
        .map_err(kube_err(format!(
            "apply {} {name}",
            value["kind"].as_str().unwrap_or_default()
        )))?;
    }
    Ok(())
}

fn api_for(client: &kube::Client, value: &Value, namespace: Option<&str>) -> Api<DynamicObject> {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = value["kind"].as_str().unwrap_or_default();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Waits until the aggregator reports `v1beta1.metrics.k8s.io` Available (metrics-server answers).
pub async fn wait_until_metrics_api_available(
    client: &kube::Client,
    timeout: Duration,
) -> Result<()> {
    let api = api_for(
        client,
        &json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService"}),
        None,
    );
    let started = Instant::now();
    loop {
        let available = api
            .get_opt(API_SERVICE)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| {
                s.data["status"]["conditions"]
                    .as_array()
                    .is_some_and(|conditions| {
                        conditions
                            .iter()
                            .any(|c| c["type"] == "Available" && c["status"] == "True")
                    })
            });
        if available {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(TestenvError::Timeout {
                what: format!("APIService {API_SERVICE} Available"),
                seconds: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The pod's metrics as the resource metrics API serves them (what `kubectl top pod` reads), or
/// None while metrics-server has none for it.
pub async fn pod_metrics(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
) -> Result<Option<Value>> {
    let request = http::Request::get(format!(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{pod}"
    ))
    .body(Vec::new())
    .map_err(|e| TestenvError::Parse {
        path: pod.into(),
        message: e.to_string(),
    })?;
    match client.request::<Value>(request).await {
        Ok(metrics) => Ok(Some(metrics)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(error) => Err(kube_err(format!(
            "read the metrics of pod {namespace}/{pod}"
        ))(error)),
    }
}
