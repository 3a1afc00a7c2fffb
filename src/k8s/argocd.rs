//! Argo CD's Application kind as the API serves it: where Applications live and how to reach them.

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};

/// The namespace Argo CD's Applications live in.
pub const ARGOCD_NAMESPACE: &str = "argocd";

/// The `argoproj.io/v1alpha1` Application resource.
pub fn application_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "argoproj.io",
        "v1alpha1",
        "Application",
    ))
}

/// The Applications in [`ARGOCD_NAMESPACE`].
pub fn applications(client: &kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ARGOCD_NAMESPACE, &application_resource())
}
