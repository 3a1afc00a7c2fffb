//! Reading one live object as JSON, with "absent", "forbidden" and "unreachable" told apart.

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};

use crate::repo::{Object, ObjectKey};

use super::applier::is_connection_error;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("the cluster could not be reached: {0}")]
    Unreachable(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
}

/// The live counterpart of `object` (None when it does not exist).
pub async fn get_live(
    client: &kube::Client,
    object: &Object,
) -> Result<Option<serde_json::Value>, LiveError> {
    get_live_by_key(client, object.api_version(), &object.key()).await
}

/// The live object `key` of `api_version` as JSON (None when it does not exist).
pub async fn get_live_by_key(
    client: &kube::Client,
    api_version: &str,
    key: &ObjectKey,
) -> Result<Option<serde_json::Value>, LiveError> {
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(&key.group, version, &key.kind));
    let api: Api<DynamicObject> = match &key.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    match api.get_opt(&key.name).await {
        Ok(found) => Ok(found.map(|o| {
            let mut value = serde_json::to_value(&o).unwrap_or_default();
            value["apiVersion"] = api_version.into();
            value["kind"] = key.kind.as_str().into();
            value
        })),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(LiveError::PermissionDenied(
            format!("get {key} ({})", status.message),
        )),
        Err(error) if is_connection_error(&error) => Err(LiveError::Unreachable(error.to_string())),
        Err(_) => Ok(None),
    }
}
