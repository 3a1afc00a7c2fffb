//! Installs the upstream CRDs (from their Go modules by testenv/install.sh, and the AWS Load Balancer Controller's and k6-operator's from the verified upstream folder) and waits until each is Established.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::try_join_all;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde::Deserialize;

use crate::upstream::Upstream;
use crate::{Binaries, Result, TestenvError, kube_err};

/// Every CustomResourceDefinition document under the upstream CRD cache and of the upstream folder's
/// projects, less those `skip` names (e.g. "gateway-api", "k6-operator").
pub fn load_all(binaries: &Binaries, skip: &[String]) -> Result<Vec<CustomResourceDefinition>> {
    let mut files = Vec::new();
    collect_yaml(&binaries.upstream_crds, &mut files)?;
    files.retain(|file| {
        let folder = file
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        !skip
            .iter()
            .any(|name| folder.starts_with(&format!("{name}-")))
    });
    if files.is_empty() {
        return Err(TestenvError::MissingBinary {
            what: "upstream CRDs".into(),
            path: binaries.upstream_crds.clone(),
        });
    }
    files.extend(
        Upstream::locate()?
            .crd_files()?
            .into_iter()
            .filter(|(project, _)| !skip.iter().any(|name| name == project))
            .map(|(_, file)| file),
    );
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(crate::io_err(format!("read {}", file.display())))?;
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value =
                serde_json::Value::deserialize(document).map_err(|e| TestenvError::Parse {
                    path: file.clone(),
                    message: e.to_string(),
                })?;
            if value.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                continue;
            }
            let crd: CustomResourceDefinition =
                serde_json::from_value(value).map_err(|e| TestenvError::Parse {
                    path: file.clone(),
                    message: e.to_string(),
                })?;
            crds.push(crd);
        }
    }
    Ok(crds)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Applies every CRD (server-side, field manager `tacos-testenv`) and waits until all are Established.
pub async fn install_all(
    client: &kube::Client,
    binaries: &Binaries,
    skip: &[String],
) -> Result<usize> {
    let crds = load_all(binaries, skip)?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("tacos-testenv").force();
    try_join_all(crds.iter().map(|crd| {
        let api = api.clone();
        let params = params.clone();
        async move {
            let name = crd.metadata.name.clone().unwrap_or_default();
            api.patch(&name, &params, &Patch::Apply(crd))
                .await
                .map_err(kube_err(format!("apply CRD {name}")))?;
            let established = await_condition(api.clone(), &name, conditions::is_crd_established());
            tokio::time::timeout(Duration::from_secs(60), established)
                .await
                .map_err(|_| TestenvError::Timeout {
                    what: format!("CRD {name} Established"),
                    seconds: 60,
                })?
                .map_err(|source| TestenvError::Watch {
                    what: format!("CRD {name}"),
                    source,
                })?;
            Ok::<_, TestenvError>(())
        }
    }))
    .await?;
    Ok(crds.len())
}
