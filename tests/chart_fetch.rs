//! The argo-cd chart fetched from a Helm repository (one served on 127.0.0.1): the index must publish the pinned digest and the archive must hash to it, else nothing is rendered.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};
use tacos::upstream::{ARGO_CD_CHART, PinnedChart, UpstreamError, fetch_chart};
use tacos_testenv::Binaries;
use tacos_testenv::http_files::FileServer;
use tacos_testenv::upstream::{ARGO_CD_CHART as UPSTREAM_CHART, Upstream};

/// A Helm repository in `dir` holding the real argo-cd 9.1.4 chart, packed by `helm package` and
/// indexed by `helm repo index` (the publisher's own archive is not available here, so its
/// digest is this archive's); returns that digest.
fn helm_repository(dir: &Path, url: &str) -> String {
    let helm = Binaries::locate().unwrap().helm;
    let chart = Upstream::locate().unwrap().path(UPSTREAM_CHART);
    let packed = Command::new(&helm)
        .arg("package")
        .arg(&chart)
        .arg("--destination")
        .arg(dir)
        .output()
        .unwrap();
    assert!(packed.status.success(), "{packed:?}");
    let indexed = Command::new(&helm)
        .args(["repo", "index"])
        .arg(dir)
        .args(["--url", url])
        .output()
        .unwrap();
    assert!(indexed.status.success(), "{indexed:?}");
    hex::encode(Sha256::digest(
        std::fs::read(dir.join("argo-cd-9.1.4.tgz")).unwrap(),
    ))
}

fn pinned(url: &str, digest: &str) -> PinnedChart {
    PinnedChart {
        repo: Box::leak(url.to_string().into_boxed_str()),
        digest: Box::leak(digest.to_string().into_boxed_str()),
        ..ARGO_CD_CHART
    }
}

#[tokio::test]
async fn the_chart_is_fetched_checked_against_its_digest_and_cached() {
    let served = tempfile::tempdir().unwrap();
    let server = FileServer::serve(served.path()).await.unwrap();
    let digest = helm_repository(served.path(), &server.url);
    let cache = tempfile::tempdir().unwrap();

    let archive = fetch_chart(&pinned(&server.url, &digest), cache.path())
        .await
        .unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&archive).unwrap())),
        digest
    );
    // helm renders the checked archive.
    let rendered = Command::new(Binaries::locate().unwrap().helm)
        .arg("template")
        .arg("argocd")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
    assert!(String::from_utf8_lossy(&rendered.stdout).contains("argocd-application-controller"));

    // A second fetch reads the cache: the repository may be gone.
    drop(server);
    let again = fetch_chart(&pinned("http://127.0.0.1:9", &digest), cache.path())
        .await
        .unwrap();
    assert_eq!(again, archive);
}

#[tokio::test]
async fn an_index_that_publishes_another_digest_is_refused() {
    let served = tempfile::tempdir().unwrap();
    let server = FileServer::serve(served.path()).await.unwrap();
    helm_repository(served.path(), &server.url);
    let cache = tempfile::tempdir().unwrap();
    // The product's pin is the publisher's digest; this repository's archive is another one.
    let error = fetch_chart(&pinned(&server.url, ARGO_CD_CHART.digest), cache.path())
        .await
        .unwrap_err();
    assert!(matches!(error, UpstreamError::Checksum { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains(ARGO_CD_CHART.digest), "{text}");
    assert!(text.contains("refusing"), "{text}");
    assert!(std::fs::read_dir(cache.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn an_archive_that_does_not_hash_to_the_published_digest_is_refused() {
    let served = tempfile::tempdir().unwrap();
    let server = FileServer::serve(served.path()).await.unwrap();
    let digest = helm_repository(served.path(), &server.url);
    // Someone replaced the archive behind the index.
    let archive = served.path().join("argo-cd-9.1.4.tgz");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&archive, bytes).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let error = fetch_chart(&pinned(&server.url, &digest), cache.path())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("argo-cd-9.1.4.tgz"), "{text}");
    assert!(text.contains("does not match its pinned hash"), "{text}");
    assert!(std::fs::read_dir(cache.path()).unwrap().next().is_none());
}
