//! The real upstream material tests and local runs use (`<repo>/../shared/upstream`, or `TACOS_UPSTREAM_DIR`), checked file by file against its SHA256SUMS before first use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::{Result, TestenvError};

/// The argo-cd chart (Argo CD v3.2.0) with its redis-ha dependency in `charts/`.
pub const ARGO_CD_CHART: &str = "charts/argo-cd-9.1.4";
/// The AWS Load Balancer Controller's Helm chart.
pub const LBC_CHART: &str = "aws-load-balancer-controller-v3.5.0/chart";
/// The controller's gateway.k8s.aws CRDs, one file each.
pub const LBC_GATEWAY_CRDS: &str = "aws-load-balancer-controller-v3.5.0/crds/gateway";
/// The controller's elbv2.k8s.aws CRDs (TargetGroupBinding, IngressClassParams), as its chart ships them.
pub const LBC_ELBV2_CRDS: &str = "aws-load-balancer-controller-v3.5.0/chart/crds/crds.yaml";
/// k6-operator's TestRun and PrivateLoadZone CRDs.
pub const K6_OPERATOR_CRDS: &str = "k6-operator-v1.6.0/crds";

/// A verified upstream folder.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub root: PathBuf,
}

impl Upstream {
    /// The folder (`TACOS_UPSTREAM_DIR`, else `<repo>/../shared/upstream`), verified once per process.
    pub fn locate() -> Result<Self> {
        static VERIFIED: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
        let root = std::env::var_os("TACOS_UPSTREAM_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/upstream")
            });
        VERIFIED
            .get_or_init(|| verify(&root).map(|()| root.clone()))
            .clone()
            .map(|root| Self { root })
            .map_err(|message| TestenvError::Upstream {
                path: root.clone(),
                message,
            })
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Every CRD file of the LBC (gateway and elbv2) and of k6-operator, sorted.
    pub fn crd_files(&self) -> Result<Vec<(&'static str, PathBuf)>> {
        let mut files = vec![("aws-load-balancer-controller", self.path(LBC_ELBV2_CRDS))];
        for (name, dir) in [
            ("aws-load-balancer-controller", LBC_GATEWAY_CRDS),
            ("k6-operator", K6_OPERATOR_CRDS),
        ] {
            let dir = self.path(dir);
            let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(crate::io_err(format!("read {}", dir.display())))?
                .flatten()
                .map(|e| e.path())
                // gateway-crds.yaml is the same CRDs concatenated; kustomization.yaml is not a CRD.
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains('_'))
                })
                .collect();
            found.sort();
            files.extend(found.into_iter().map(|p| (name, p)));
        }
        Ok(files)
    }
}

/// Checks every file SHA256SUMS lists (a missing or changed file fails) and that the folders tests read exist.
fn verify(root: &Path) -> std::result::Result<(), String> {
    let sums_path = root.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| {
        format!(
            "cannot read {}: {e}. The tests need the real upstream charts and CRDs there \
             (argo-cd chart 9.1.4, aws-load-balancer-controller v3.5.0, k6-operator v1.6.0; its \
             README.md says where each comes from); put shared/ beside the repository or set \
             TACOS_UPSTREAM_DIR to the folder",
            sums_path.display()
        )
    })?;
    let problems = check_sums(root, &sums);
    if !problems.is_empty() {
        return Err(format!(
            "{} file(s) differ from {}: {}; restore them from their release tags (README.md)",
            problems.len(),
            sums_path.display(),
            problems.join("; ")
        ));
    }
    for needed in [
        ARGO_CD_CHART,
        LBC_CHART,
        LBC_GATEWAY_CRDS,
        LBC_ELBV2_CRDS,
        K6_OPERATOR_CRDS,
    ] {
        if !root.join(needed).exists() {
            return Err(format!("{} is missing from {}", needed, root.display()));
        }
    }
    Ok(())
}

/// The files of `sums` (`sha256sum` lines) that are missing under `root` or hash differently.
fn check_sums(root: &Path, sums: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for line in sums.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((expected, file)) = line.split_once(char::is_whitespace) else {
            problems.push(format!("unreadable line {line:?}"));
            continue;
        };
        let file = file.trim_start().trim_start_matches('*');
        match std::fs::read(root.join(file)) {
            Ok(bytes) => {
                let actual = hex::encode(Sha256::digest(&bytes));
                if !actual.eq_ignore_ascii_case(expected) {
                    problems.push(format!("{file} has sha256 {actual}, expected {expected}"));
                }
            }
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_or_missing_file_is_reported_and_an_intact_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "kind: A\n").unwrap();
        std::fs::write(dir.path().join("b.yaml"), "kind: B, edited\n").unwrap();
        let sum = |text: &str| hex::encode(Sha256::digest(text.as_bytes()));
        let sums = format!(
            "{}  ./a.yaml\n{}  ./b.yaml\n{}  ./c.yaml\n",
            sum("kind: A\n"),
            sum("kind: B\n"),
            sum("kind: C\n")
        );
        let problems = check_sums(dir.path(), &sums);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("./b.yaml has sha256"),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("./c.yaml:"), "{problems:?}");
    }
}
