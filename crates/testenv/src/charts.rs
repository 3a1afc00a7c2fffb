//! The air-gapped upstream folder tacos reads with `--chart-dir` in local runs: Gateway API CRDs from their Go module and the real argo-cd chart 9.1.4 (its CRDs in its templates) from the verified upstream folder.

use std::path::{Path, PathBuf};

use crate::upstream::{ARGO_CD_CHART, Upstream};
use crate::{Binaries, Result, TestenvError, io_err};

/// Fills `dir` with `gateway-api-<version>/` and `argo-cd/` (the real chart, checked against
/// the upstream folder's SHA256SUMS), and returns it.
pub fn prepare_chart_dir(binaries: &Binaries, dir: &Path) -> Result<PathBuf> {
    let gateway_api = upstream_folder(binaries, "gateway-api-")?;
    copy_tree(
        &gateway_api,
        &dir.join(gateway_api.file_name().unwrap_or_default()),
    )?;
    copy_tree(
        &Upstream::locate()?.path(ARGO_CD_CHART),
        &dir.join("argo-cd"),
    )?;
    Ok(dir.to_path_buf())
}

/// The cached upstream CRD folder whose name starts with `prefix` (e.g. `gateway-api-`).
pub fn upstream_folder(binaries: &Binaries, prefix: &str) -> Result<PathBuf> {
    std::fs::read_dir(&binaries.upstream_crds)
        .map_err(io_err(format!("read {}", binaries.upstream_crds.display())))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(prefix))
        })
        .ok_or_else(|| TestenvError::MissingBinary {
            what: format!("upstream CRDs {prefix}*"),
            path: binaries.upstream_crds.clone(),
        })
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io_err(format!("create {}", to.display())))?;
    for entry in std::fs::read_dir(from)
        .map_err(io_err(format!("read {}", from.display())))?
        .flatten()
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(io_err(format!("copy {}", entry.path().display())))?;
        }
    }
    Ok(())
}
