//! Upstream material a phase installs, pinned: Gateway API CRDs from their Go module (checked against its go.sum hash) and the argo-cd chart by version and archive digest.

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

/// A Helm chart from a chart repository, pinned by version and by the sha256 digest of its
/// archive that the repository's index publishes.
#[derive(Debug, Clone, Copy)]
pub struct PinnedChart {
    pub repo: &'static str,
    pub name: &'static str,
    pub version: &'static str,
    pub digest: &'static str,
}

pub const ARGO_CD_CHART: PinnedChart = PinnedChart {
    repo: "https://argoproj.github.io/argo-helm",
    name: "argo-cd",
    version: "9.1.4",
    digest: "2547948cdc2d568ffceeaf3393979f34b98de3ecbf27e0bfe560c4cbc5673546",
};

/// Where fetched chart archives are kept: `TACOS_CACHE_DIR`, else `$XDG_CACHE_HOME/tacos`, else
/// `~/.cache/tacos`; `charts/` inside it.
pub fn chart_cache_dir() -> PathBuf {
    let base = std::env::var_os("TACOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("tacos")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tacos")))
        .unwrap_or_else(|| PathBuf::from(".tacos-cache"));
    base.join("charts")
}

/// The chart's archive, from `cache` when a copy with the pinned digest is there, else from its
/// repository: the index must publish the pinned digest for the version, and the archive
/// downloaded must hash to it. Anything else is refused; nothing unchecked reaches helm.
pub async fn fetch_chart(chart: &PinnedChart, cache: &Path) -> Result<PathBuf, UpstreamError> {
    if let Some(archive) = cached_chart(chart, cache) {
        return Ok(archive);
    }
    let archive = cached_archive(chart, cache);
    let folder = chart.name.to_string();
    let repo = chart.repo.trim_end_matches('/');
    let index_url = format!("{repo}/index.yaml");
    let index = download(&index_url, &folder).await?;
    let index = crate::repo::yaml::parse_documents(&String::from_utf8_lossy(&index))
        .ok()
        .and_then(|mut documents| (!documents.is_empty()).then(|| documents.remove(0).value))
        .ok_or_else(|| UpstreamError::Download {
            url: index_url.clone(),
            folder: folder.clone(),
            message: "not a Helm repository index".into(),
        })?;
    let entry = index["entries"][chart.name]
        .as_array()
        .and_then(|versions| {
            versions
                .iter()
                .find(|v| v["version"].as_str() == Some(chart.version))
        })
        .ok_or_else(|| UpstreamError::Download {
            url: index_url.clone(),
            folder: folder.clone(),
            message: format!("the index lists no {} {}", chart.name, chart.version),
        })?;
    let published = entry["digest"].as_str().unwrap_or_default();
    if published != chart.digest {
        return Err(UpstreamError::Checksum {
            what: format!(
                "{} {} as {index_url} publishes it",
                chart.name, chart.version
            ),
            expected: chart.digest.to_string(),
            actual: if published.is_empty() {
                "no digest".into()
            } else {
                published.into()
            },
        });
    }
    let url = entry["urls"][0].as_str().unwrap_or_default();
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("{repo}/{}", url.trim_start_matches('/'))
    };
    let bytes = download(&url, &folder).await?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != chart.digest {
        return Err(UpstreamError::Checksum {
            what: url,
            expected: chart.digest.to_string(),
            actual,
        });
    }
    let write = |e: std::io::Error| UpstreamError::Read {
        path: archive.clone(),
        message: format!("cannot write the chart cache: {e}"),
    };
    std::fs::create_dir_all(cache).map_err(write)?;
    let partial = archive.with_extension("tgz.partial");
    std::fs::write(&partial, &bytes).map_err(write)?;
    std::fs::rename(&partial, &archive).map_err(write)?;
    Ok(archive)
}

/// Where [`fetch_chart`] keeps the chart's archive in `cache`.
pub fn cached_archive(chart: &PinnedChart, cache: &Path) -> PathBuf {
    cache.join(format!(
        "{}-{}-{}.tgz",
        chart.name,
        chart.version,
        &chart.digest[..chart.digest.len().min(12)]
    ))
}

/// The chart's archive in `cache` when a copy with the pinned digest is there (no network).
pub fn cached_chart(chart: &PinnedChart, cache: &Path) -> Option<PathBuf> {
    let archive = cached_archive(chart, cache);
    let bytes = std::fs::read(&archive).ok()?;
    (hex::encode(Sha256::digest(&bytes)) == chart.digest).then_some(archive)
}

async fn download(url: &str, folder: &str) -> Result<Vec<u8>, UpstreamError> {
    // The program installs it at start; a library caller may not have.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let failed = |message: String| UpstreamError::Download {
        url: url.to_string(),
        folder: folder.to_string(),
        message,
    };
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
