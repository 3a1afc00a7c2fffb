//! Fills a [`Snapshot`] from the cluster: every LIST at once, read-only; kinds it may not read are recorded, not skipped silently.

use std::fmt::Debug;
use std::sync::Mutex;

use futures::future::join_all;
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Snapshot;
use k8s_openapi::api::core::v1::Pod;

/// Objects per LIST page: a 10,000-pod cluster is never held as one response body.
const PAGE: u32 = 500;
/// Containers whose last log lines are fetched at most (crashing ones only).
const MAX_LOGS: usize = 20;
const LOG_LINES: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("failed to list {what}: the cluster could not be reached: {message}")]
    Unreachable { what: String, message: String },
}

/// What went wrong reading one kind, kept for the report.
struct Unreadable(Mutex<Vec<String>>);

impl Unreadable {
    fn record(&self, what: &str, error: kube::Error) -> Result<(), CollectError> {
        let reason = match &error {
            kube::Error::Api(status) if status.code == 403 => "permission denied".to_string(),
            kube::Error::Api(status) if status.code == 404 => return Ok(()),
            kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
            error if crate::apply::applier::is_connection_error(error) => {
                return Err(CollectError::Unreachable {
                    what: what.to_string(),
                    message: error.to_string(),
                });
            }
            other => other.to_string(),
        };
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("cannot list {what}: {reason}"));
        Ok(())
    }
}

async fn list_typed<K>(
    client: &kube::Client,
    what: &str,
    unreadable: &Unreadable,
) -> Result<Vec<K>, CollectError>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    list_slimmed(client, what, unreadable, |_| {}).await
}

/// Lists a kind page by page, passing each object through `slim` before it is kept.
async fn list_slimmed<K>(
    client: &kube::Client,
    what: &str,
    unreadable: &Unreadable,
    slim: impl Fn(&mut K),
) -> Result<Vec<K>, CollectError>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client.clone());
    let mut params = ListParams::default().limit(PAGE);
    let mut items = Vec::new();
    loop {
        let list = match api.list(&params).await {
            Ok(list) => list,
            Err(error) => return unreadable.record(what, error).map(|()| Vec::new()),
        };
        // The first page says how many follow: one allocation instead of doubling (a doubling
        // holds the old and the new buffer at once, 60 MB at the 8,192nd typed pod).
        if let Some(remaining) = list.metadata.remaining_item_count {
            items.reserve_exact(list.items.len() + usize::try_from(remaining).unwrap_or(0));
        }
        // Who wrote which field is of no use to doctor, and it is most of a pod's size.
        items.extend(list.items.into_iter().map(|mut item| {
            item.meta_mut().managed_fields = None;
            slim(&mut item);
            item
        }));
        match list.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

/// A custom kind as JSON (with apiVersion and kind); a kind the cluster does not serve gives nothing.
async fn list_custom(
    client: &kube::Client,
    gvk: (&str, &str, &str),
    what: &str,
    unreadable: &Unreadable,
) -> Result<Vec<Value>, CollectError> {
    let (group, version, kind) = gvk;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list
            .items
            .into_iter()
            .map(|object| {
                let mut value = serde_json::to_value(&object).unwrap_or_default();
                value["apiVersion"] = resource.api_version.clone().into();
                value["kind"] = kind.into();
                value
            })
            .collect()),
        Err(error) => unreadable.record(what, error).map(|()| Vec::new()),
    }
}

/// Drops what doctor never reads from a pod and what makes 10,000 typed pods heavy: every
/// volume but CSI ones (the projected service-account token volume each pod carries is about
/// 5 KB as a typed struct), the volume mounts, and the annotations.
fn slim_pod(pod: &mut Pod) {
    pod.metadata.annotations = None;
    if let Some(spec) = pod.spec.as_mut() {
        if let Some(volumes) = spec.volumes.as_mut() {
            volumes.retain(|v| v.csi.is_some());
            volumes.shrink_to_fit();
        }
        for container in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            container.volume_mounts = None;
        }
    }
}

/// Reads everything doctor looks at.
pub async fn collect(client: &kube::Client) -> Result<Snapshot, CollectError> {
    let unreadable = Unreadable(Mutex::new(Vec::new()));
    let u = &unreadable;
    let (namespaces, nodes, pods, events, daemon_sets, deployments, replica_sets, stateful_sets) = tokio::join!(
        list_typed(client, "namespaces", u),
        list_typed(client, "nodes", u),
        list_slimmed(client, "pods", u, slim_pod),
        list_typed(client, "events", u),
        list_typed(client, "daemonsets", u),
        list_typed(client, "deployments", u),
        list_typed(client, "replicasets", u),
        list_typed(client, "statefulsets", u),
    );
    let (services, config_maps, network_policies, autoscalers, disruption_budgets, quotas) = tokio::join!(
        list_typed(client, "services", u),
        list_typed(client, "configmaps", u),
        list_typed(client, "networkpolicies", u),
        list_typed(client, "horizontalpodautoscalers", u),
        list_typed(client, "poddisruptionbudgets", u),
        list_typed(client, "resourcequotas", u),
    );
    let (gateways, http_routes, grpc_routes, applications, secret_provider_classes) = tokio::join!(
        list_custom(
            client,
            ("gateway.networking.k8s.io", "v1", "Gateway"),
            "gateways",
            u
        ),
        list_custom(
            client,
            ("gateway.networking.k8s.io", "v1", "HTTPRoute"),
            "httproutes",
            u
        ),
        list_custom(
            client,
            ("gateway.networking.k8s.io", "v1", "GRPCRoute"),
            "grpcroutes",
            u
        ),
        list_custom(
            client,
            ("argoproj.io", "v1alpha1", "Application"),
            "applications",
            u
        ),
        list_custom(
            client,
            ("secrets-store.csi.x-k8s.io", "v1", "SecretProviderClass"),
            "secretproviderclasses",
            u,
        ),
    );
    let pods: Vec<Pod> = pods?;
    // Ages compare the apiserver's timestamps with this clock: a client clock running behind is
    // caught up to the newest pod the server has stamped.
    let taken_at = pods
        .iter()
        .filter_map(|pod| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .fold(jiff::Timestamp::now(), std::cmp::max);
    let logs = crash_logs(client, &pods).await;
    Ok(Snapshot {
        namespaces: namespaces?,
        nodes: nodes?,
        pods,
        events: events?,
        daemon_sets: daemon_sets?,
        deployments: deployments?,
        replica_sets: replica_sets?,
        stateful_sets: stateful_sets?,
        services: services?,
        config_maps: config_maps?,
        network_policies: network_policies?,
        autoscalers: autoscalers?,
        disruption_budgets: disruption_budgets?,
        quotas: quotas?,
        gateways: gateways?,
        http_routes: http_routes?,
        grpc_routes: grpc_routes?,
        applications: applications?,
        secret_provider_classes: secret_provider_classes?,
        logs,
        registry: Default::default(),
        secrets_key: None,
        taken_at: Some(taken_at),
        unreadable: unreadable.0.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

/// The previous run's last lines of each crashing container (best effort: a node agent may not serve logs).
async fn crash_logs(
    client: &kube::Client,
    pods: &[Pod],
) -> std::collections::BTreeMap<String, String> {
    let crashing: Vec<(String, String, String)> = pods
        .iter()
        .flat_map(|pod| {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            pod.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .filter(|c| {
                    c.restart_count > 0
                        && c.last_state
                            .as_ref()
                            .is_some_and(|l| l.terminated.is_some())
                })
                .map(move |c| (namespace.clone(), name.clone(), c.name.clone()))
        })
        .take(MAX_LOGS)
        .collect();
    let fetched = join_all(
        crashing
            .into_iter()
            .map(|(namespace, pod, container)| async move {
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                let params = LogParams {
                    container: Some(container.clone()),
                    previous: true,
                    tail_lines: Some(LOG_LINES),
                    ..LogParams::default()
                };
                let text = api.logs(&pod, &params).await.ok()?;
                Some((format!("{namespace}/{pod}/{container}"), text))
            }),
    )
    .await;
    fetched.into_iter().flatten().collect()
}
