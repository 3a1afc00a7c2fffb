//! Upstream material a phase installs, pinned: Gateway API CRDs from their Go module (checked against its go.sum hash) and the argo-cd chart by version.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// CRDs published inside a project's Go module.
#[derive(Debug, Clone, Copy)]
pub struct GoModuleCrds {
    pub name: &'static str,
    pub module: &'static str,
    pub version: &'static str,
    /// The module's go.sum hash (`h1:`), checked on every download.
    pub h1: &'static str,
    /// Folder inside the module, and the file name prefix of the CRD files in it.
    pub dir: &'static str,
    pub prefix: &'static str,
}

/// Gateway API, standard channel (Gateway, GatewayClass, HTTPRoute, GRPCRoute, ReferenceGrant, ...).
pub const GATEWAY_API: GoModuleCrds = GoModuleCrds {
    name: "gateway-api",
    module: "sigs.k8s.io/gateway-api",
    version: "v1.6.3",
    h1: "h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=",
    dir: "config/crd/standard",
    prefix: "gateway.networking.k8s.io_",
};

/// A Helm chart from a chart repository, pinned by version.
#[derive(Debug, Clone, Copy)]
pub struct PinnedChart {
    pub repo: &'static str,
    pub name: &'static str,
    pub version: &'static str,
}

pub const ARGO_CD_CHART: PinnedChart = PinnedChart {
    repo: "https://argoproj.github.io/argo-helm",
    name: "argo-cd",
    version: "9.1.4",
};

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
}

/// The YAML texts of the CRD files, from `<chart_dir>/<name>-<version>/` when that folder exists,
/// else from the module proxy (`TACOS_GOPROXY`, default https://proxy.golang.org), verified against the pinned h1 hash.
pub async fn fetch_crds(
    crds: &GoModuleCrds,
    chart_dir: Option<&Path>,
) -> Result<Vec<(PathBuf, String)>, UpstreamError> {
    let folder = format!("{}-{}", crds.name, crds.version);
    if let Some(local) = chart_dir.map(|d| d.join(&folder)).filter(|d| d.is_dir()) {
        return read_local(&local, crds.prefix);
    }
    let proxy =
        std::env::var("TACOS_GOPROXY").unwrap_or_else(|_| "https://proxy.golang.org".into());
    let url = format!(
        "{}/{}/@v/{}.zip",
        proxy.trim_end_matches('/'),
        crds.module,
        crds.version
    );
    let download = |message: String| UpstreamError::Download {
        url: url.clone(),
        folder: folder.clone(),
        message,
    };
    let response = reqwest::get(&url)
        .await
        .map_err(|e| download(e.to_string()))?;
    if !response.status().is_success() {
        return Err(download(format!("HTTP {}", response.status())));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| download(e.to_string()))?;
    files_from_module_zip(&bytes, crds)
}

fn read_local(dir: &Path, prefix: &str) -> Result<Vec<(PathBuf, String)>, UpstreamError> {
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
        if name.starts_with(prefix) && name.ends_with(".yaml") {
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
    let wanted = format!(
        "{}@{}/{}/{}",
        crds.module, crds.version, crds.dir, crds.prefix
    );
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
        let name = file.name().map_err(|e| bad(e.to_string()))?.to_string();
        if name.starts_with(&wanted)
            && name.ends_with(".yaml")
            && !name[wanted.len()..].contains('/')
        {
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
