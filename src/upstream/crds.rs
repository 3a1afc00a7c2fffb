//! CRDs published inside their projects' Go modules, pinned by the module's go.sum hash: fetched from the Go module proxy once, verified, and kept in the cache per version.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{UpstreamError, cache_dir, download};

/// The module proxy tacos fetches from when neither `TACOS_GOPROXY` nor `GOPROXY` names one.
const DEFAULT_PROXY: &str = "https://proxy.golang.org";

/// The file in a cached CRD folder that lists the sha256 of every file in it; written last.
const COMPLETE_MARKER: &str = ".complete";

/// CRDs published inside a project's Go module.
#[derive(Debug, Clone, Copy)]
pub struct GoModuleCrds {
    pub name: &'static str,
    /// The project, as a user knows it.
    pub project: &'static str,
    pub module: &'static str,
    pub version: &'static str,
    /// The module's go.sum hash (`h1:`), checked on every download.
    pub h1: &'static str,
    /// Folder inside the module, and how the names of the CRD files in it begin and end.
    pub dir: &'static str,
    pub prefix: &'static str,
    pub suffix: &'static str,
    /// The API groups these CRDs define.
    pub groups: &'static [&'static str],
}

/// Gateway API, standard channel (Gateway, GatewayClass, HTTPRoute, GRPCRoute, ReferenceGrant, ...).
pub const GATEWAY_API: GoModuleCrds = GoModuleCrds {
    name: "gateway-api",
    project: "Gateway API",
    module: "sigs.k8s.io/gateway-api",
    version: "v1.6.3",
    h1: "h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=",
    dir: "config/crd/standard",
    prefix: "gateway.networking.k8s.io_",
    suffix: ".yaml",
    groups: &["gateway.networking.k8s.io"],
};

/// Application, ApplicationSet, AppProject: the Argo CD the pinned argo-cd chart installs.
pub const ARGO_CD_CRDS: GoModuleCrds = GoModuleCrds {
    name: "argo-cd",
    project: "Argo CD",
    module: "github.com/argoproj/argo-cd/v3",
    version: "v3.2.0",
    h1: "h1:m2eGAV+nXQGgzZbH5SyJD5laaPW27mzWXBrgisUHY/0=",
    dir: "manifests/crds",
    prefix: "",
    suffix: "-crd.yaml",
    groups: &["argoproj.io"],
};

/// ServiceMonitor, PodMonitor, PrometheusRule and the rest of monitoring.coreos.com.
pub const PROMETHEUS_OPERATOR_CRDS: GoModuleCrds = GoModuleCrds {
    name: "prometheus-operator",
    project: "Prometheus Operator",
    module: "github.com/prometheus-operator/prometheus-operator",
    version: "v0.85.0",
    h1: "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=",
    dir: "example/prometheus-operator-crd",
    prefix: "monitoring.coreos.com_",
    suffix: ".yaml",
    groups: &["monitoring.coreos.com"],
};

/// ScaledObject, ScaledJob, TriggerAuthentication, CloudEventSource.
pub const KEDA_CRDS: GoModuleCrds = GoModuleCrds {
    name: "keda",
    project: "KEDA",
    module: "github.com/kedacore/keda/v2",
    version: "v2.21.0",
    h1: "h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps=",
    dir: "config/crd/bases",
    prefix: "",
    suffix: ".yaml",
    groups: &["keda.sh", "eventing.keda.sh"],
};

/// SecretProviderClass (and its pod statuses).
pub const SECRETS_STORE_CSI_CRDS: GoModuleCrds = GoModuleCrds {
    name: "secrets-store-csi",
    project: "Secrets Store CSI Driver",
    module: "sigs.k8s.io/secrets-store-csi-driver",
    version: "v1.5.4",
    h1: "h1:enl+v1+JbKDyVjdfT/7CillZsc4rLAM9tTHyf7GeLxc=",
    dir: "config/crd/bases",
    prefix: "secrets-store.csi.x-k8s.io_",
    suffix: ".yaml",
    groups: &["secrets-store.csi.x-k8s.io"],
};

/// VerticalPodAutoscaler and VerticalPodAutoscalerCheckpoint.
pub const VPA_CRDS: GoModuleCrds = GoModuleCrds {
    name: "vpa",
    project: "Vertical Pod Autoscaler",
    module: "k8s.io/autoscaler/vertical-pod-autoscaler",
    version: "v1.8.1",
    h1: "h1:Pe8bV1wozN4gOKO1rleiIY5alIyAXN+DnXDbXQcL4fI=",
    dir: "deploy",
    prefix: "vpa-v1-crd",
    suffix: ".yaml",
    groups: &["autoscaling.k8s.io"],
};

/// NodePool, NodeClaim, NodeOverlay (karpenter.sh) and EC2NodeClass (karpenter.k8s.aws): the AWS
/// provider's module carries the core CRDs too. v1.14.1 is the newest whose go.mod this machine's
/// Go (1.26.8) accepts; from v1.14.2 on, each asks for a newer Go.
pub const KARPENTER_CRDS: GoModuleCrds = GoModuleCrds {
    name: "karpenter",
    project: "Karpenter",
    module: "github.com/aws/karpenter-provider-aws",
    version: "v1.14.1",
    h1: "h1:WGtIQTQcxpElYMdWfWuPwaF2+9muR+hYhPZsTtoY8Gs=",
    dir: "pkg/apis/crds",
    prefix: "karpenter.",
    suffix: ".yaml",
    groups: &["karpenter.sh", "karpenter.k8s.aws"],
};

/// Every CRD set tacos pins, for lint to check custom resources against.
pub const PINNED_CRDS: &[GoModuleCrds] = &[
    GATEWAY_API,
    ARGO_CD_CRDS,
    PROMETHEUS_OPERATOR_CRDS,
    KEDA_CRDS,
    SECRETS_STORE_CSI_CRDS,
    VPA_CRDS,
    KARPENTER_CRDS,
];

/// API groups of projects the platform uses whose CRDs tacos cannot pin: the Go module proxy
/// serves none of their versions (checked 2026-11-26 for every tag of
/// sigs.k8s.io/aws-load-balancer-controller v2 and github.com/grafana/k6-operator: 403).
#[derive(Debug, Clone, Copy)]
pub struct UnpinnedCrds {
    pub group: &'static str,
    pub project: &'static str,
    /// Where its CRDs are published, for `--schema-dir`.
    pub source: &'static str,
}

pub const UNPINNED_CRD_GROUPS: &[UnpinnedCrds] = &[
    UnpinnedCrds {
        group: "elbv2.k8s.aws",
        project: "the AWS Load Balancer Controller",
        source: "config/crd/bases of github.com/kubernetes-sigs/aws-load-balancer-controller (or the crds/ of its eks-charts chart)",
    },
    UnpinnedCrds {
        group: "gateway.k8s.aws",
        project: "the AWS Load Balancer Controller",
        source: "config/crd/gateway of github.com/kubernetes-sigs/aws-load-balancer-controller",
    },
    UnpinnedCrds {
        group: "aga.k8s.aws",
        project: "the AWS Load Balancer Controller",
        source: "the crds/ of its eks-charts chart",
    },
    UnpinnedCrds {
        group: "k6.io",
        project: "k6-operator",
        source: "config/crd/bases of github.com/grafana/k6-operator",
    },
];

/// Whether [`crd_files`] may go to the module proxy when the cache does not have the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrdFetch {
    Allowed,
    CacheOnly,
}

/// The module proxy: `TACOS_GOPROXY`, else the first proxy in `GOPROXY` (as the go command
/// reads it; `direct` and `off` are not proxies), else https://proxy.golang.org. `file://`
/// proxies (a mirror on disk) are read directly.
pub fn module_proxy() -> String {
    if let Some(proxy) = std::env::var("TACOS_GOPROXY")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return proxy;
    }
    std::env::var("GOPROXY")
        .ok()
        .and_then(|list| {
            list.split([',', '|'])
                .map(str::trim)
                .find(|entry| !entry.is_empty() && *entry != "direct" && *entry != "off")
                .map(str::to_string)
        })
        .unwrap_or_else(|| DEFAULT_PROXY.to_string())
}

/// Where pinned CRD sets are kept: `crds/` in the tacos cache.
pub fn crd_cache_dir() -> PathBuf {
    cache_dir().join("crds")
}

/// The cache folder of one pinned set: `crds/<name>-<version>/`.
pub fn cached_crds_dir(crds: &GoModuleCrds) -> PathBuf {
    crd_cache_dir().join(format!("{}-{}", crds.name, crds.version))
}

/// The YAML texts of the CRD files, from `<chart_dir>/<name>-<version>/` when that folder exists,
/// else as [`crd_files`] finds them (the cache, then the module proxy).
pub async fn fetch_crds(
    crds: &GoModuleCrds,
    chart_dir: Option<&Path>,
) -> Result<Vec<(PathBuf, String)>, UpstreamError> {
    let folder = format!("{}-{}", crds.name, crds.version);
    if let Some(local) = chart_dir.map(|d| d.join(&folder)).filter(|d| d.is_dir()) {
        return read_local(&local, crds);
    }
    crd_files(crds, CrdFetch::Allowed).await
}

/// The set's CRD files from the cache when a complete, unaltered copy is there; else (when
/// `fetch` allows) from the module proxy, verified against the pinned h1 hash, then cached.
pub async fn crd_files(
    crds: &GoModuleCrds,
    fetch: CrdFetch,
) -> Result<Vec<(PathBuf, String)>, UpstreamError> {
    let dir = cached_crds_dir(crds);
    match read_cache(&dir) {
        Ok(Some(files)) => return Ok(files),
        Ok(None) if fetch == CrdFetch::CacheOnly => {
            return Err(UpstreamError::Offline {
                what: format!("the {} CRDs {}", crds.project, crds.version),
                path: dir,
            });
        }
        Err(damaged) if fetch == CrdFetch::CacheOnly => return Err(damaged),
        Ok(None) | Err(_) => {}
    }
    let url = format!(
        "{}/{}/@v/{}.zip",
        module_proxy().trim_end_matches('/'),
        escape_module_path(crds.module),
        crds.version
    );
    let bytes = download(&url, &format!("{}-{}", crds.name, crds.version)).await?;
    let files = files_from_module_zip(&bytes, crds)?;
    if let Err(error) = write_cache(&dir, &files) {
        tracing::warn!(
            "could not keep the {} CRDs in {}: {error}; they will be fetched again",
            crds.project,
            dir.display()
        );
    }
    Ok(files)
}

/// The module proxy protocol's case encoding: each upper-case letter as `!` and its lower case.
fn escape_module_path(module: &str) -> String {
    let mut escaped = String::with_capacity(module.len());
    for c in module.chars() {
        if c.is_ascii_uppercase() {
            escaped.push('!');
            escaped.push(c.to_ascii_lowercase());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// The cached files when the folder is complete: `Ok(None)` when it is not there or was never
/// finished, an error when a file no longer has the hash it was written with.
fn read_cache(dir: &Path) -> Result<Option<Vec<(PathBuf, String)>>, UpstreamError> {
    let Ok(listing) = std::fs::read_to_string(dir.join(COMPLETE_MARKER)) else {
        return Ok(None);
    };
    let mut files = Vec::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let damaged = |message: String| UpstreamError::Read {
            path: dir.to_path_buf(),
            message,
        };
        let (digest, name) = line.split_once("  ").ok_or_else(|| {
            damaged(format!(
                "{COMPLETE_MARKER}: not \"<sha256>  <file>\": {line}"
            ))
        })?;
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| damaged(format!("{name}: {e}; delete the folder to fetch it again")))?;
        let actual = hex::encode(Sha256::digest(text.as_bytes()));
        if actual != digest {
            return Err(UpstreamError::Checksum {
                what: path.display().to_string(),
                expected: digest.to_string(),
                actual,
            });
        }
        files.push((path, text));
    }
    Ok(Some(files))
}

/// Writes the files and their hashes into a fresh folder beside `dir`, then moves it into place,
/// so a reader never sees half a set.
fn write_cache(dir: &Path, files: &[(PathBuf, String)]) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(
        ".{}.partial-{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    let mut listing = String::new();
    for (path, text) in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        std::fs::write(staging.join(&name), text)?;
        listing.push_str(&format!(
            "{}  {name}\n",
            hex::encode(Sha256::digest(text.as_bytes()))
        ));
    }
    std::fs::write(staging.join(COMPLETE_MARKER), listing)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    if let Err(error) = std::fs::rename(&staging, dir) {
        let _ = std::fs::remove_dir_all(&staging);
        // Another tacos finished the same set first: its copy is as good as ours.
        if !dir.join(COMPLETE_MARKER).is_file() {
            return Err(error);
        }
    }
    Ok(())
}

fn is_crd_file(name: &str, crds: &GoModuleCrds) -> bool {
    name.starts_with(crds.prefix) && name.ends_with(crds.suffix) && name.ends_with(".yaml")
}

fn read_local(dir: &Path, crds: &GoModuleCrds) -> Result<Vec<(PathBuf, String)>, UpstreamError> {
    let read_error = |path: &Path, e: std::io::Error| UpstreamError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| read_error(dir, e))?
        .flatten()
    {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if is_crd_file(&name, crds) {
            let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
            files.push((path, text));
        }
    }
    files.sort();
    Ok(files)
}

/// Checks a module zip against the pinned hash, then takes the CRD files out of it.
pub fn files_from_module_zip(
    bytes: &[u8],
    crds: &GoModuleCrds,
) -> Result<Vec<(PathBuf, String)>, UpstreamError> {
    let what = format!("{}@{}", crds.module, crds.version);
    let bad = |message: String| UpstreamError::Read {
        path: PathBuf::from(&what),
        message,
    };
    let actual = module_zip_h1(bytes).map_err(|e| bad(e.to_string()))?;
    if actual != crds.h1 {
        return Err(UpstreamError::Checksum {
            what,
            expected: crds.h1.to_string(),
            actual,
        });
    }
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let folder = format!("{}@{}/{}/", crds.module, crds.version, crds.dir);
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
        let name = file.name().map_err(|e| bad(e.to_string()))?.to_string();
        let Some(file_name) = name.strip_prefix(&folder) else {
            continue;
        };
        if !file_name.contains('/') && is_crd_file(file_name, crds) {
            let mut text = String::new();
            file.read_to_string(&mut text)
                .map_err(|e| bad(e.to_string()))?;
            files.push((PathBuf::from(name), text));
        }
    }
    files.sort();
    Ok(files)
}

/// Go's `dirhash.Hash1` over a module zip: sha256 of "<sha256 hex>  <name>\n" lines in file-name order.
pub fn module_zip_h1(bytes: &[u8]) -> Result<String, zip::result::ZipError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    let mut lines = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut file = archive.by_index(index)?;
        if file.is_dir() {
            continue;
        }
        let mut contents = Vec::new();
        file.read_to_end(&mut contents)?;
        let name = file.name()?.to_string();
        lines.push((name, hex::encode(Sha256::digest(&contents))));
    }
    lines.sort();
    let lines: Vec<String> = lines
        .into_iter()
        .map(|(name, digest)| format!("{digest}  {name}\n"))
        .collect();
    let summary = Sha256::digest(lines.concat().as_bytes());
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_case_letters_in_a_module_path_are_escaped_as_the_proxy_protocol_says() {
        assert_eq!(
            escape_module_path("github.com/Azure/azure-sdk"),
            "github.com/!azure/azure-sdk"
        );
        assert_eq!(escape_module_path(ARGO_CD_CRDS.module), ARGO_CD_CRDS.module);
    }

    #[test]
    fn a_cached_set_is_read_back_and_a_changed_file_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("demo-v1");
        let files = vec![(PathBuf::from("m@v1/crds/a.yaml"), "kind: A\n".to_string())];
        write_cache(&dir, &files).unwrap();
        let read = read_cache(&dir).unwrap().unwrap();
        assert_eq!(read, vec![(dir.join("a.yaml"), "kind: A\n".to_string())]);
        std::fs::write(dir.join("a.yaml"), "kind: B\n").unwrap();
        assert!(matches!(
            read_cache(&dir),
            Err(UpstreamError::Checksum { .. })
        ));
        assert!(read_cache(&root.path().join("absent")).unwrap().is_none());
    }
}
