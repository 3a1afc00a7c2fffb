//! Upstream material tacos installs or checks against, pinned by version and hash, fetched once and cached: charts by archive digest, CRDs from their projects' Go modules by go.sum hash.

mod chart;
mod crds;

use std::path::PathBuf;

pub use chart::{ARGO_CD_CHART, PinnedChart, cached_archive, cached_chart, fetch_chart};
pub use crds::{
    ARGO_CD_CRDS, CrdFetch, GATEWAY_API, GoModuleCrds, KARPENTER_CRDS, KEDA_CRDS, PINNED_CRDS,
    PROMETHEUS_OPERATOR_CRDS, SECRETS_STORE_CSI_CRDS, UNPINNED_CRD_GROUPS, UnpinnedCrds, VPA_CRDS,
    cached_crds_dir, crd_cache_dir, crd_files, fetch_crds, files_from_module_zip, module_proxy,
    module_zip_h1,
};

/// tacos's cache: `TACOS_CACHE_DIR`, else `$XDG_CACHE_HOME/tacos`, else `~/.cache/tacos`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TACOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("tacos")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tacos")))
        .unwrap_or_else(|| PathBuf::from(".tacos-cache"))
}

/// Where fetched chart archives are kept: `charts/` in [`cache_dir`].
pub fn chart_cache_dir() -> PathBuf {
    cache_dir().join("charts")
}

/// The bytes at `url`: `https://`/`http://` by HTTP GET, `file://` from the local file (a module
/// proxy mirrored on disk, as `GOPROXY=file://...` reads it).
async fn download(url: &str, folder: &str) -> Result<Vec<u8>, UpstreamError> {
    let failed = |message: String| UpstreamError::Download {
        url: url.to_string(),
        folder: folder.to_string(),
        message,
    };
    if let Some(path) = url.strip_prefix("file://") {
        return std::fs::read(path).map_err(|e| failed(e.to_string()));
    }
    // The program installs it at start; a library caller may not have.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let response = reqwest::get(url).await.map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    Ok(response
        .bytes()
        .await
        .map_err(|e| failed(e.to_string()))?
        .to_vec())
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(
        "failed to download {url}: {message}; for an air-gapped cluster put the files in --chart-dir/{folder}"
    )]
    Download {
        url: String,
        folder: String,
        message: String,
    },
    #[error(
        "{what} does not match its pinned hash (expected {expected}, got {actual}): refusing to use it"
    )]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("failed to read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{what} is not in the cache ({path}) and --offline forbids fetching it")]
    Offline { what: String, path: PathBuf },
}
