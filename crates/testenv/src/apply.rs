//! Server-side apply of YAML documents as a test's own setup (objects a test puts on the cluster around tacos, never tacos's apply): each document's scope is discovered, namespaced ones default to a namespace.

use std::path::Path;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Result, TestenvError};

/// Applies every object document of `text` (read from `source`) with field manager `manager`,
/// forcing conflicts; namespaced objects without a namespace go to `namespace`, and documents whose
/// kind `skip` names are left out.
pub async fn apply_yaml(
    client: &kube::Client,
    source: &Path,
    text: &str,
    manager: &str,
    namespace: &str,
    skip: &[&str],
) -> Result<()> {
    let params = PatchParams::apply(manager).force();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let mut object = Value::deserialize(document).map_err(|e| TestenvError::Parse {
            path: source.to_path_buf(),
            message: e.to_string(),
        })?;
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        if object.is_null() || skip.contains(&kind.as_str()) {
            continue;
        }
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let (resource, capabilities) =
            kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, &kind))
                .await
                .map_err(crate::kube_err(format!("discover {api_version} {kind}")))?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let api: Api<DynamicObject> = if capabilities.scope == kube::discovery::Scope::Namespaced {
            let namespace = match object["metadata"]["namespace"].as_str() {
                Some(namespace) => namespace.to_string(),
                None => {
                    object["metadata"]["namespace"] = json!(namespace);
                    namespace.to_string()
                }
            };
            Api::namespaced_with(client.clone(), &namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        api.patch(&name, &params, &Patch::Apply(&object))
            .await
            .map_err(crate::kube_err(format!(
                "apply {kind} {name} from {}",
                source.display()
            )))?;
    }
    Ok(())
}

/// Applies the YAML file at `path` as the tests' field manager (`tacos-tests`), namespaced
/// objects without a namespace into `default`.
pub async fn apply_file(client: &kube::Client, path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).map_err(crate::io_err(format!("read {}", path.display())))?;
    apply_yaml(client, path, &text, "tacos-tests", "default", &[]).await
}
