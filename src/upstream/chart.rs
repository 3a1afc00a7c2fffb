//! Helm charts from chart repositories, pinned by version and by the archive digest the repository's index publishes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{UpstreamError, download};

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
