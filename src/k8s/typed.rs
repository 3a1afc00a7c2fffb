//! Objects as typed structs: how a typed object is named, and workloads (Deployments, StatefulSets, DaemonSets) as the pod template they run.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// `Kind namespace/name`, or `Kind name` for cluster-scoped objects: how doctor names an object.
pub fn subject(kind: &str, meta: &ObjectMeta) -> String {
    subject_of(
        kind,
        meta.namespace.as_deref(),
        meta.name.as_deref().unwrap_or("?"),
    )
}

pub fn subject_of(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

pub fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("?")
}

pub fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

pub fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// A workload that runs pods from a template: Deployments, StatefulSets and DaemonSets.
pub struct Workload<'a> {
    pub kind: &'static str,
    pub meta: &'a ObjectMeta,
    pub template: &'a PodTemplateSpec,
}

impl Workload<'_> {
    pub fn subject(&self) -> String {
        subject(self.kind, self.meta)
    }

    pub fn pod_spec(&self) -> Option<&PodSpec> {
        self.template.spec.as_ref()
    }

    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .map(labels)
            .unwrap_or_default()
    }
}
