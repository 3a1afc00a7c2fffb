//! What doctor reads from the cluster, all at once: one LIST per kind, kept as typed objects (core kinds) or JSON (custom kinds).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, ResourceQuota, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::Value;

use super::secrets_key::SecretsKey;
use crate::aws::ecr::ImagePresence;

/// What an image's registry said of an image pods fail to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAnswer {
    Ecr(ImagePresence),
    /// The registry was asked and did not answer: why.
    Unanswered(String),
}

/// A read-only picture of the cluster at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub namespaces: Vec<Namespace>,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    /// core/v1 Events (all namespaces).
    pub events: Vec<Event>,
    pub daemon_sets: Vec<DaemonSet>,
    pub deployments: Vec<Deployment>,
    pub replica_sets: Vec<ReplicaSet>,
    pub stateful_sets: Vec<StatefulSet>,
    pub services: Vec<Service>,
    pub config_maps: Vec<ConfigMap>,
    pub network_policies: Vec<NetworkPolicy>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    pub disruption_budgets: Vec<PodDisruptionBudget>,
    pub quotas: Vec<ResourceQuota>,
    /// gateway.networking.k8s.io Gateways, as the apiserver returns them (with apiVersion and kind).
    pub gateways: Vec<Value>,
    pub http_routes: Vec<Value>,
    pub grpc_routes: Vec<Value>,
    /// argoproj.io Applications.
    pub applications: Vec<Value>,
    /// secrets-store.csi.x-k8s.io SecretProviderClasses.
    pub secret_provider_classes: Vec<Value>,
    /// Last log lines of containers that crashed, keyed by `namespace/pod/container`
    /// (filled only for containers in CrashLoopBackOff or with a last termination).
    pub logs: BTreeMap<String, String>,
    /// What the registry said of each ECR image pods fail to pull, keyed by the image as the pod
    /// spec names it: asked by doctor's AWS half before the analysis (empty without AWS).
    pub registry: BTreeMap<String, RegistryAnswer>,
    /// The KMS key the EKS cluster encrypts Secrets with, and its state: read by doctor's AWS half
    /// before the analysis (None without AWS, or when the cluster names no key).
    pub secrets_key: Option<SecretsKey>,
    /// When the snapshot was read; None for a picture from a file (then no pod counts as just started).
    pub taken_at: Option<jiff::Timestamp>,
    /// Kinds that could not be read, and why (e.g. "permission denied for list pods"); doctor reports them
    /// instead of pretending the cluster has none.
    pub unreadable: Vec<String>,
}
