//! The hand-over to Argo CD: tacos applies a folder itself only until an Application syncs it; from then on a phase applies the Applications and AppProjects (at the environment's repository and revision), asks Argo CD to refresh, waits until each is Synced and Healthy at the commit, and drops its own field manager from what Argo CD owns.

use std::path::Path;

use globset::Glob;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::apply::applier::{FIELD_MANAGER, is_connection_error};
use crate::apply::applyset::PART_OF_LABEL;
use crate::repo::{Object, ObjectKey};

/// Where Argo CD and its Applications live (the argocd phase's namespace).
pub use crate::k8s::argocd::ARGOCD_NAMESPACE;
use crate::k8s::argocd::applications;
const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";

#[derive(Debug, thiserror::Error)]
pub enum GitOpsError {
    #[error("failed to {action}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
}

fn kube_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> GitOpsError {
    let action = action.into();
    move |source| GitOpsError::Kube { action, source }
}

/// What tacos itself owns for good: the objects that point Argo CD at the tree.
pub fn is_wiring(object: &Object) -> bool {
    object.group() == "argoproj.io" && matches!(object.kind(), "Application" | "AppProject")
}

/// An Application that syncs a folder of the tree from the environment's repository.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderOwner {
    pub application: String,
    /// The folder, relative to the repository root (`manifests/gateway`).
    pub path: String,
    /// The Application's `directory.include` / `exclude` globs.
    pub include: Option<String>,
    pub exclude: Option<String>,
}

impl FolderOwner {
    /// Whether Argo CD syncs the file at `relative` (a path from the repository root) through
    /// this Application, as its directory source's include and exclude select files.
    pub fn owns(&self, relative: &Path) -> bool {
        let Ok(inside) = relative.strip_prefix(&self.path) else {
            return false;
        };
        let matches = |pattern: &Option<String>| {
            pattern.as_deref().map(|p| {
                Glob::new(p)
                    .map(|g| g.compile_matcher().is_match(inside))
                    .unwrap_or(false)
            })
        };
        matches(&self.include).unwrap_or(true) && !matches(&self.exclude).unwrap_or(false)
    }
}

/// A repository URL as Argo CD compares them: without a trailing `/` or `.git`, case-insensitive.
fn same_repository(a: &str, b: &str) -> bool {
    let normal = |url: &str| {
        let url = url.trim_end_matches('/').to_lowercase();
        url.strip_suffix(".git").unwrap_or(&url).to_string()
    };
    normal(a) == normal(b)
}

/// The folders of `repo_url` that the Application `value` (as written or as live) syncs.
fn owners_in(value: &Value, repo_url: &str) -> Vec<FolderOwner> {
    let name = value["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &value["spec"];
    let sources: Vec<&Value> = match spec["sources"].as_array() {
        Some(sources) => sources.iter().collect(),
        None => vec![&spec["source"]],
    };
    sources
        .into_iter()
        .filter(|s| {
            s["repoURL"]
                .as_str()
                .is_some_and(|u| same_repository(u, repo_url))
        })
        .filter_map(|s| {
            let path = s["path"].as_str()?.trim_matches('/').to_string();
            Some(FolderOwner {
                application: name.to_string(),
                path,
                include: s["directory"]["include"].as_str().map(str::to_string),
                exclude: s["directory"]["exclude"].as_str().map(str::to_string),
            })
        })
        .collect()
}

/// The folders the phase's own Applications will sync once applied.
pub fn declared_owners(wiring: &[Object], repo_url: &str) -> Vec<FolderOwner> {
    wiring
        .iter()
        .filter(|o| o.kind() == "Application")
        .flat_map(|o| owners_in(&o.value, repo_url))
        .collect()
}

/// Whether the cluster serves Argo CD's Application kind (the argocd phase installed it).
pub async fn argocd_installed(client: &kube::Client) -> Result<bool, GitOpsError> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    match kube::discovery::pinned_kind(client, &gvk).await {
        Ok(_) => Ok(true),
        Err(error)
            if is_connection_error(&error) && !matches!(error, kube::Error::Discovery(_)) =>
        {
            Err(GitOpsError::Kube {
                action: "discover Argo CD's Application kind".into(),
                source: error,
            })
        }
        Err(_) => Ok(false),
    }
}

/// The folders live Applications sync from `repo_url`.
pub async fn live_owners(
    client: &kube::Client,
    repo_url: &str,
) -> Result<Vec<FolderOwner>, GitOpsError> {
    let list = applications(client)
        .list(&ListParams::default())
        .await
        .map_err(kube_error(format!(
            "list the Applications in namespace {ARGOCD_NAMESPACE}"
        )))?;
    Ok(list
        .items
        .iter()
        .flat_map(|a| owners_in(&serde_json::to_value(a).unwrap_or_default(), repo_url))
        .collect())
}

/// Who syncs which folder: nobody while Argo CD is not installed; else the live Applications and
/// those the phase is about to apply (`wiring`).
pub async fn folder_owners(
    client: &kube::Client,
    wiring: &[Object],
    repo_url: &str,
) -> Result<Vec<FolderOwner>, GitOpsError> {
    if !argocd_installed(client).await? {
        return Ok(Vec::new());
    }
    let mut owners = live_owners(client, repo_url).await?;
    owners.extend(declared_owners(wiring, repo_url));
    Ok(owners)
}

/// The owner of a tree object (its file under a folder an Application syncs), if any. Objects a
/// chart renders at deploy time (upstream material) have no owner: tacos keeps applying them.
pub fn owner_of<'a>(
    object: &Object,
    repo_root: &Path,
    owners: &'a [FolderOwner],
) -> Option<&'a FolderOwner> {
    if object.source.rendered_for.is_some() {
        return None;
    }
    let file = &object.source.file;
    let relative = file
        .strip_prefix(repo_root)
        .or_else(|_| file.strip_prefix("."))
        .unwrap_or(file);
    let relative = relative.strip_prefix("./").unwrap_or(relative);
    owners.iter().find(|o| o.owns(relative))
}

/// The first object an Application syncs that holds one of the `${NAME}`s tacos fills in (Argo
/// CD would apply the placeholder as written), as the message that says which and what to do.
pub fn placeholder_synced(
    objects: &[Object],
    repo_root: &Path,
    owners: &[FolderOwner],
    names: &[&str],
) -> Option<String> {
    objects.iter().find_map(|object| {
        let owner = owner_of(object, repo_root, owners)?;
        let text = object.value.to_string();
        let name = names
            .iter()
            .find(|name| text.contains(&format!("${{{name}}}")))?;
        let file = object
            .source
            .file
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        Some(format!(
            "{} ({}) holds ${{{name}}}, which tacos fills in, but Application {} syncs it and would apply it as written: add {file} to the Application's directory.exclude (tacos then applies it)",
            object.key(),
            object.location(),
            owner.application,
        ))
    })
}

/// The wiring grouped by sync wave, lowest first, as an app of apps would sync it: the
/// AppProjects on their own first (an Application whose project Argo CD has not seen yet is an
/// InvalidSpecError until its next resync), then each wave of Applications.
pub fn waves(wiring: &[Object]) -> Vec<Vec<Object>> {
    let wave_of = |o: &Object| -> i64 {
        if o.kind() == "AppProject" {
            return i64::MIN;
        }
        o.annotation(SYNC_WAVE_ANNOTATION)
            .and_then(|w| w.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut numbers: Vec<i64> = wiring.iter().map(wave_of).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .iter()
        .map(|n| {
            wiring
                .iter()
                .filter(|o| wave_of(o) == *n)
                .cloned()
                .collect()
        })
        .collect()
}

/// Asks Argo CD to compare the Application with Git now instead of at its next resync.
pub async fn refresh(client: &kube::Client, application: &str) -> Result<(), GitOpsError> {
    let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}});
    applications(client)
        .patch(application, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_error(format!(
            "ask Argo CD to refresh Application {ARGOCD_NAMESPACE}/{application}"
        )))?;
    Ok(())
}

/// What one hand-over did.
#[derive(Debug, Default)]
pub struct HandOver {
    /// Objects tacos stopped managing (Argo CD's field manager now holds them alone).
    pub relinquished: Vec<ObjectKey>,
}

/// For every resource the Applications report as theirs, removes tacos's field manager and
/// ApplySet label where Argo CD has applied it too, so one manager owns each field and tacos
/// never prunes it. Objects Argo CD has not applied yet keep tacos's claim.
pub async fn relinquish(
    client: &kube::Client,
    application_names: &[String],
) -> Result<HandOver, GitOpsError> {
    let mut done = HandOver::default();
    for name in application_names {
        let Some(application) = applications(client)
            .get_opt(name)
            .await
            .map_err(kube_error(format!(
                "read Application {ARGOCD_NAMESPACE}/{name}"
            )))?
        else {
            continue;
        };
        let resources = application.data["status"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for resource in resources {
            let group = resource["group"].as_str().unwrap_or_default();
            let version = resource["version"].as_str().unwrap_or_default();
            let kind = resource["kind"].as_str().unwrap_or_default();
            let object = resource["name"].as_str().unwrap_or_default();
            let namespace = resource["namespace"].as_str().filter(|n| !n.is_empty());
            let api_resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
            let api: Api<DynamicObject> = match namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &api_resource),
                None => Api::all_with(client.clone(), &api_resource),
            };
            // Controllers write status meanwhile: read again and retry when the object changed.
            let mut attempts = 0;
            let relinquished = loop {
                let Ok(Some(live)) = api.get_opt(object).await else {
                    break false;
                };
                let Some(patch) =
                    relinquish_patch(&serde_json::to_value(&live).unwrap_or_default())
                else {
                    break false;
                };
                match api
                    .patch(object, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => break true,
                    Err(kube::Error::Api(status)) if status.code == 409 && attempts < 5 => {
                        attempts += 1;
                    }
                    Err(source) => {
                        return Err(GitOpsError::Kube {
                            action: format!(
                                "hand {kind} {object} over to Argo CD (remove tacos's field manager)"
                            ),
                            source,
                        });
                    }
                }
            };
            if !relinquished {
                continue;
            }
            done.relinquished.push(ObjectKey {
                group: group.to_string(),
                kind: kind.to_string(),
                namespace: namespace.map(str::to_string),
                name: object.to_string(),
            });
        }
    }
    Ok(done)
}

/// The merge patch that leaves `live` to its other Apply managers: tacos's managed-fields entries
/// and its ApplySet label removed (a list in a merge patch replaces the list; the resourceVersion
/// makes it refuse if the object changed since it was read). None when tacos holds nothing, or
/// nobody else applied it.
fn relinquish_patch(live: &Value) -> Option<Value> {
    let entries = live["metadata"]["managedFields"].as_array()?;
    let ours = |e: &Value| e["manager"] == FIELD_MANAGER;
    let others_applied = entries
        .iter()
        .any(|e| !ours(e) && e["operation"] == "Apply");
    if !entries.iter().any(ours) || !others_applied {
        return None;
    }
    let kept: Vec<Value> = entries.iter().filter(|e| !ours(e)).cloned().collect();
    let mut metadata = json!({
        "resourceVersion": live["metadata"]["resourceVersion"],
        "managedFields": kept,
    });
    if live["metadata"]["labels"][PART_OF_LABEL].is_string() {
        metadata["labels"] = json!({ PART_OF_LABEL: null });
    }
    Some(json!({ "metadata": metadata }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(path: &str, include: Option<&str>, exclude: Option<&str>) -> FolderOwner {
        FolderOwner {
            application: "a".into(),
            path: path.into(),
            include: include.map(str::to_string),
            exclude: exclude.map(str::to_string),
        }
    }

    #[test]
    fn a_folder_is_owned_as_the_directory_source_selects_its_files() {
        let gateway = owner(
            "manifests/gateway",
            Some("*.yaml"),
            Some("{loadbalancerconfiguration.yaml,gateway.yaml}"),
        );
        assert!(gateway.owns(Path::new("manifests/gateway/gatewayclass.yaml")));
        assert!(!gateway.owns(Path::new("manifests/gateway/gateway.yaml")));
        assert!(!gateway.owns(Path::new(
            "manifests/gateway/loadbalancerconfiguration.yaml"
        )));
        assert!(!gateway.owns(Path::new("manifests/gateway/README.md")));
        assert!(!gateway.owns(Path::new("manifests/tacos/namespace.yaml")));
        assert!(owner("manifests/tacos", None, None).owns(Path::new("manifests/tacos/x.yaml")));
    }

    #[test]
    fn a_synced_file_holding_a_placeholder_is_named_with_the_fix() {
        let tree = crate::repo::load_str(
            "manifests/gateway/gateway.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: gateway}\ndata: {arn: \"${ACM_CERTIFICATE_ARN}\"}\n",
        )
        .unwrap();
        let synced = [owner("manifests/gateway", Some("*.yaml"), None)];
        let found = placeholder_synced(
            &tree.objects,
            Path::new("."),
            &synced,
            &["ACM_CERTIFICATE_ARN"],
        )
        .unwrap();
        assert!(found.contains("${ACM_CERTIFICATE_ARN}"), "{found}");
        assert!(found.contains("directory.exclude"), "{found}");
        let excluded = [owner(
            "manifests/gateway",
            Some("*.yaml"),
            Some("gateway.yaml"),
        )];
        assert!(
            placeholder_synced(
                &tree.objects,
                Path::new("."),
                &excluded,
                &["ACM_CERTIFICATE_ARN"]
            )
            .is_none()
        );
    }

    #[test]
    fn only_sources_of_the_environments_repository_own_folders() {
        let application: Value = serde_json::from_str(
            r#"{"metadata": {"name": "api"}, "spec": {"sources": [
                {"repoURL": "https://github.com/org/tree.git", "path": "charts/svc/"},
                {"repoURL": "https://github.com/org/tree", "ref": "values"},
                {"repoURL": "https://charts.example.com", "chart": "x"}]}}"#,
        )
        .unwrap();
        let found = owners_in(&application, "https://GitHub.com/org/tree");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "charts/svc");
        assert!(owners_in(&application, "https://github.com/other/tree").is_empty());
    }

    #[test]
    fn the_hand_over_patch_drops_only_tacos_and_only_once_argo_cd_applied() {
        let live: Value = serde_json::from_str(
            r#"{"metadata": {"resourceVersion": "7", "labels": {"applyset.kubernetes.io/part-of": "x", "team": "t"},
                "managedFields": [
                  {"manager": "tacos", "operation": "Apply"},
                  {"manager": "argocd-controller", "operation": "Apply"},
                  {"manager": "kube-controller-manager", "operation": "Update"}]}}"#,
        )
        .unwrap();
        let patch = relinquish_patch(&live).unwrap();
        let kept = &patch["metadata"]["managedFields"];
        assert_eq!(kept.as_array().unwrap().len(), 2);
        assert!(
            kept.as_array()
                .unwrap()
                .iter()
                .all(|e| e["manager"] != "tacos")
        );
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert!(patch["metadata"]["labels"]["applyset.kubernetes.io/part-of"].is_null());
        assert!(
            patch["metadata"]["labels"]
                .as_object()
                .unwrap()
                .contains_key("applyset.kubernetes.io/part-of")
        );
        // Before Argo CD applied it, tacos keeps its claim.
        let mut alone = live.clone();
        alone["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .remove(1);
        assert!(relinquish_patch(&alone).is_none());
    }
}
