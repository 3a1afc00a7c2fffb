//! Where `testenv/install.sh` put the binaries, CRDs and the moto server, derived from the pinned versions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{Result, TestenvError};

const VERSIONS: &str = include_str!("../../../testenv/versions.env");

/// Paths of everything the test environment runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kube_scheduler: PathBuf,
    pub kubectl: PathBuf,
    pub kwok: PathBuf,
    /// kwok's own stage files (how fake nodes and pods behave), taken from its module.
    pub kwok_stages: PathBuf,
    /// kwok's Metric (the kubelet's `/metrics/resource`) and usage-from-annotation files, from its module.
    pub kwok_metrics: PathBuf,
    /// metrics-server, run out of cluster behind the `v1beta1.metrics.k8s.io` APIService.
    pub metrics_server: PathBuf,
    /// The Vertical Pod Autoscaler's recommender, run out of cluster on demand.
    pub vpa_recommender: PathBuf,
    pub helm: PathBuf,
    /// Argo CD's multicall binary, with the repo-server's GPG wrapper scripts beside it.
    pub argocd: PathBuf,
    /// Debian's redis-server, for Argo CD's controllers.
    pub redis_server: PathBuf,
    pub moto_server: PathBuf,
    /// Folder of upstream CRD folders (one per project and version).
    pub upstream_crds: PathBuf,
    /// The cache every tacos run of the tests shares (`TACOS_CACHE_DIR`): pinned CRDs fetched
    /// once per machine, not into the user's own cache.
    pub tacos_cache: PathBuf,
    pub kubernetes_version: String,
    /// kubeconform, the manifest validator the lint bench times tacos lint against.
    pub kubeconform: PathBuf,
    /// The OpenAPI v2 document (swagger.json) Kubernetes publishes for the pinned version.
    pub kubernetes_openapi: PathBuf,
}

impl Binaries {
    /// Reads `TACOS_TESTENV_CACHE` (default `~/.cache/tacos-testenv`) and the pinned versions.
    pub fn locate() -> Result<Self> {
        let versions = parse_versions(VERSIONS);
        let cache = std::env::var_os("TACOS_TESTENV_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".cache/tacos-testenv"))
            })
            .unwrap_or_else(|| PathBuf::from(".cache/tacos-testenv"));
        let version = |key: &str| versions.get(key).cloned().unwrap_or_default();
        let bin = cache.join("bin");
        let kubernetes = bin.join(format!("kubernetes-{}", version("KUBERNETES_VERSION")));
        Ok(Self {
            etcd: bin
                .join(format!("etcd-{}", version("ETCD_VERSION")))
                .join("etcd"),
            kube_apiserver: kubernetes.join("kube-apiserver"),
            kube_controller_manager: kubernetes.join("kube-controller-manager"),
            kube_scheduler: kubernetes.join("kube-scheduler"),
            kubectl: kubernetes.join("kubectl"),
            kwok: bin
                .join(format!("kwok-{}", version("KWOK_VERSION")))
                .join("kwok"),
            kwok_stages: cache.join(format!("kwok-stages-{}", version("KWOK_VERSION"))),
            kwok_metrics: cache.join(format!("kwok-metrics-{}", version("KWOK_VERSION"))),
            metrics_server: bin
                .join(format!(
                    "metrics-server-{}",
                    version("METRICS_SERVER_VERSION")
                ))
                .join("metrics-server"),
            vpa_recommender: bin
                .join(format!("vpa-recommender-{}", version("VPA_VERSION")))
                .join("recommender"),
            helm: bin
                .join(format!("helm-{}", version("HELM_VERSION")))
                .join("helm"),
            argocd: bin
                .join(format!("argocd-{}", version("ARGOCD_VERSION")))
                .join("argocd"),
            redis_server: std::env::var_os("TACOS_TESTENV_REDIS_SERVER")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server")),
            moto_server: cache
                .join(format!("venv-moto-{}", version("MOTO_VERSION")))
                .join("bin/moto_server"),
            upstream_crds: cache.join("crds"),
            tacos_cache: cache.join("tacos-cache"),
            kubernetes_version: version("KUBERNETES_VERSION"),
            kubeconform: bin
                .join(format!("kubeconform-{}", version("KUBECONFORM_VERSION")))
                .join("kubeconform"),
            kubernetes_openapi: cache
                .join(format!(
                    "kubernetes-openapi-{}",
                    version("KUBERNETES_VERSION")
                ))
                .join("swagger.json"),
        })
    }

    /// Fails with the install command when `path` is missing.
    pub fn require<'a>(&self, what: &str, path: &'a Path) -> Result<&'a Path> {
        if path.is_file() {
            Ok(path)
        } else {
            Err(TestenvError::MissingBinary {
                what: what.to_string(),
                path: path.to_path_buf(),
            })
        }
    }
}

/// The Go module cache's download folder as a module proxy on disk (`file://`, as `GOPROXY`
/// reads it): testenv/install.sh's `go mod download` of testenv/crds.txt put the pinned CRD
/// modules there, so tacos fetches them through the proxy protocol without the network.
pub fn module_proxy_mirror() -> Result<String> {
    static MIRROR: std::sync::OnceLock<std::result::Result<String, String>> =
        std::sync::OnceLock::new();
    MIRROR
        .get_or_init(|| {
            let output = std::process::Command::new("go")
                .args(["env", "GOMODCACHE"])
                .output()
                .map_err(|e| format!("go env GOMODCACHE: {e}"))?;
            let cache = String::from_utf8_lossy(&output.stdout).trim().to_string();
            if !output.status.success() || cache.is_empty() {
                return Err(format!(
                    "go env GOMODCACHE: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            Ok(format!("file://{cache}/cache/download"))
        })
        .clone()
        .map_err(|message| TestenvError::MissingBinary {
            what: format!("the Go module cache ({message})"),
            path: PathBuf::from("go"),
        })
}

fn parse_versions(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_file_pins_every_component() {
        let versions = parse_versions(VERSIONS);
        for key in [
            "KUBERNETES_VERSION",
            "ETCD_VERSION",
            "KWOK_VERSION",
            "METRICS_SERVER_VERSION",
            "HELM_VERSION",
            "MOTO_VERSION",
        ] {
            assert!(
                versions.get(key).is_some_and(|v| !v.is_empty()),
                "{key} missing from versions.env"
            );
        }
    }
}
