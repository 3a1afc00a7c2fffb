//! `tacos loadtest --simulate`: a scenario's load replayed on a simulated (kwok) cluster as each pod's CPU usage, so the real HPA controller scales the services, judged against what `tacos capacity` predicts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use super::shape::LoadShape;
use crate::capacity::Model;
use crate::capacity::model::Service;
use crate::k8s::quantity::Quantity;

/// The pod annotations kwok's usage-from-annotation configuration reads, per container.
pub const USAGE_CPU_ANNOTATION: &str = "kwok.x-k8s.io/usage-cpu";
pub const USAGE_MEMORY_ANNOTATION: &str = "kwok.x-k8s.io/usage-memory";
/// The annotation kwok manages its fake nodes by.
pub const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// The HPA controller's tolerance when an autoscaler sets none (kube-controller-manager's
/// `--horizontal-pod-autoscaler-tolerance` default, which EKS does not change): it leaves the
/// replicas alone while usage is within 10 % of the target.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// What the HPA controller assumes when an autoscaler lists no metrics (autoscaling/v2).
const DEFAULT_CPU_UTILIZATION: f64 = 80.0;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the cluster could not be reached while {action}: {message}")]
    Unreachable { action: String, message: String },
    #[error(
        "--simulate drives each pod's CPU through kwok's usage annotations, so it runs only on a simulated (kwok) cluster; node {node} is not a kwok node (no {KWOK_NODE_ANNOTATION} annotation). On a real cluster run `tacos loadtest --scenario S` (k6-operator) instead"
    )]
    NotSimulated { node: String },
    #[error("the cluster has no nodes; --simulate needs the simulated cluster's kwok nodes")]
    NoNodes,
}

fn unreachable(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ReplayError {
    let action = action.into();
    move |error| ReplayError::Unreachable {
        action,
        message: error.to_string(),
    }
}

/// How a replay runs.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    /// Scenario seconds per wall-clock second (1: real time).
    pub time_scale: f64,
    /// How often usage is written and replicas are read.
    pub tick: Duration,
    /// How long, after the shape's last stage, the last rate is held while autoscalers still move.
    pub settle: Duration,
    /// How long replicas must stay unchanged for the autoscalers to count as settled.
    pub quiet: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            tick: Duration::from_secs(2),
            settle: Duration::from_secs(180),
            quiet: Duration::from_secs(30),
        }
    }
}

/// A service the replay drives: its workload, its autoscaler and what one request costs it.
#[derive(Debug, Clone)]
pub struct Driven {
    pub service: Service,
    pub namespace: String,
    pub deployment: String,
    pub selector: String,
    pub autoscaler: String,
    /// The autoscaler's CPU target, in percent of the pod's requests.
    pub target_utilization: f64,
    /// The autoscaler's memory target in percent, when it has one.
    pub memory_utilization: Option<f64>,
    pub tolerance: f64,
    pub max_replicas: u64,
}

/// A service the replay cannot drive, and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotDriven {
    pub service: String,
    pub reason: String,
}

/// What the replay drives and leaves alone, from the model and the live autoscalers.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    pub driven: Vec<Driven>,
    pub not_driven: Vec<NotDriven>,
}

/// The CPU (cores) and memory (bytes) each container of a pod uses when the pod serves `rps`:
/// the pod then runs at `rps / rpsPerPod` of the autoscaler's target, spread over its containers
/// (kwok applies the annotation to every container; the HPA compares their sum to the sum of
/// their requests).
pub fn container_usage(
    driven: &Driven,
    rps: f64,
    pod_requests_cpu: f64,
    pod_requests_memory: f64,
    containers: usize,
) -> (f64, f64) {
    let containers = containers.max(1) as f64;
    let utilization = rps / driven.service.rps_per_pod * driven.target_utilization / 100.0;
    let cpu = utilization * pod_requests_cpu / containers;
    // Memory does not follow the rate in the model: half of its target (or of the request), so it
    // never decides the scale.
    let memory_share = driven.memory_utilization.map_or(0.5, |t| t / 200.0);
    let memory = memory_share * pod_requests_memory / containers;
    (cpu, memory)
}

/// How far below the model the utilization the HPA reads may be, in percentage points: each
/// container's usage is written in whole millicores, off by at most half a millicore, which is
/// at most half a point of a request of 100m or more.
const UTILIZATION_READ_SLACK: f64 = 0.5;

/// The fewest replicas the HPA controller settles at when the pods together carry `demand_pods`
/// pods' worth of load at `target` percent each (the load over rpsPerPod, not rounded up).
///
/// It follows the controller's arithmetic (`GetResourceUtilizationRatio` and
/// `Tolerances.isWithin` in kube-controller-manager's replica calculator): it reads the
/// utilization as a whole percent, truncated, and leaves the replicas alone while that over the
/// target is at most 1 + tolerance. With 50 pods' worth at a 60 % target, 45 pods read 66 %
/// (66.7 truncated), exactly 1.1 of the target: the controller stays at 45, not 46.
pub fn settled_floor(demand_pods: f64, target: f64, tolerance: f64) -> u64 {
    let needed = crate::capacity::model::ceil_count(demand_pods);
    if target <= 0.0 {
        return needed;
    }
    (1..=needed)
        .find(|&replicas| {
            let read = (demand_pods / replicas as f64 * target - UTILIZATION_READ_SLACK).floor();
            read / target <= 1.0 + tolerance
        })
        .unwrap_or(needed)
}

/// Reads the live autoscalers of the model's services and decides which the replay drives.
pub async fn plan(client: &kube::Client, model: &Model) -> Result<ReplayPlan, ReplayError> {
    let mut driven = Vec::new();
    let mut not_driven = Vec::new();
    for service in &model.services {
        let Some((kind, namespace, workload)) = split_subject(&service.subject) else {
            not_driven.push(NotDriven {
                service: service.name.clone(),
                reason: format!("{} is not a namespaced workload", service.subject),
            });
            continue;
        };
        if kind != "Deployment" {
            not_driven.push(NotDriven {
                service: service.name.clone(),
                reason: format!(
                    "{} is a {kind}; the replay drives Deployments",
                    service.subject
                ),
            });
            continue;
        }
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let Some(deployment) = deployments
            .get_opt(workload)
            .await
            .map_err(unreachable(format!("reading {}", service.subject)))?
        else {
            not_driven.push(NotDriven {
                service: service.name.clone(),
                reason: format!("{} does not exist on the cluster", service.subject),
            });
            continue;
        };
        let selector = deployment
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let autoscalers: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
        let found = autoscalers
            .list(&ListParams::default())
            .await
            .map_err(unreachable(format!("listing autoscalers in {namespace}")))?
            .items
            .into_iter()
            .find(|hpa| {
                hpa.spec.scale_target_ref.kind == "Deployment"
                    && hpa.spec.scale_target_ref.name == workload
            });
        let Some(hpa) = found else {
            not_driven.push(NotDriven {
                service: service.name.clone(),
                reason: format!("no HorizontalPodAutoscaler targets {}", service.subject),
            });
            continue;
        };
        let hpa_name = hpa.metadata.name.clone().unwrap_or_default();
        if let Some(owner) = hpa
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "ScaledObject")
        {
            not_driven.push(NotDriven {
                service: service.name.clone(),
                reason: format!(
                    "KEDA's ScaledObject {namespace}/{} scales it on its triggers (a queue, not CPU); the replay drives CPU only",
                    owner.name
                ),
            });
            continue;
        }
        let spec = hpa.spec.clone();
        let metrics = spec.metrics.clone().unwrap_or_default();
        let utilization = |resource: &str| {
            metrics.iter().find_map(|m| {
                let source = m.resource.as_ref()?;
                (m.type_ == "Resource" && source.name == resource)
                    .then_some(source.target.average_utilization?)
                    .map(f64::from)
            })
        };
        let target_utilization = match utilization("cpu") {
            Some(target) => target,
            None if metrics.is_empty() => DEFAULT_CPU_UTILIZATION,
            None => {
                not_driven.push(NotDriven {
                    service: service.name.clone(),
                    reason: format!(
                        "HorizontalPodAutoscaler {namespace}/{hpa_name} has no CPU utilization target; the replay drives CPU only"
                    ),
                });
                continue;
            }
        };
        let tolerance = tolerance_of(&hpa).unwrap_or(DEFAULT_TOLERANCE);
        driven.push(Driven {
            service: service.clone(),
            namespace: namespace.to_string(),
            deployment: workload.to_string(),
            selector,
            autoscaler: hpa_name,
            target_utilization,
            memory_utilization: utilization("memory"),
            tolerance,
            max_replicas: u64::try_from(spec.max_replicas).unwrap_or(0),
        });
    }
    Ok(ReplayPlan { driven, not_driven })
}

/// `behavior.scaleUp.tolerance` (Kubernetes 1.33+), read from the raw object so older client types do not drop it.
fn tolerance_of(hpa: &HorizontalPodAutoscaler) -> Option<f64> {
    let value = serde_json::to_value(hpa).ok()?;
    let tolerance = &value["spec"]["behavior"]["scaleUp"]["tolerance"];
    tolerance
        .as_str()
        .and_then(Quantity::parse)
        .map(Quantity::as_units)
        .or_else(|| tolerance.as_f64())
}

/// `Deployment tacos-app/gateway-api` → (`Deployment`, `tacos-app`, `gateway-api`).
fn split_subject(subject: &str) -> Option<(&str, &str, &str)> {
    let (kind, rest) = subject.split_once(' ')?;
    let (namespace, name) = rest.split_once('/')?;
    Some((kind, namespace, name))
}

/// Refuses a cluster whose nodes kwok does not play: annotations would change nothing there.
pub async fn require_simulated(client: &kube::Client) -> Result<(), ReplayError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list_metadata(&ListParams::default())
        .await
        .map_err(unreachable("listing nodes"))?;
    if list.items.is_empty() {
        return Err(ReplayError::NoNodes);
    }
    for node in &list.items {
        let managed = node
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(KWOK_NODE_ANNOTATION));
        if !managed {
            return Err(ReplayError::NotSimulated {
                node: node.metadata.name.clone().unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// One service's replicas at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replicas {
    /// Pods Running and Ready, which the load is spread over.
    pub ready: u64,
    /// Pods of the workload that exist (ready or not).
    pub pods: u64,
    /// What the autoscaler asks.
    pub desired: u64,
}

/// What the replay observed at one tick.
#[derive(Debug, Clone)]
pub struct Tick {
    pub scenario_time: Duration,
    pub rps: f64,
    pub replicas: Vec<Replicas>,
}

/// Why a service stayed short of what it needs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cap {
    pub by: String,
    pub message: String,
}

/// One driven service's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceOutcome {
    pub service: String,
    pub autoscaler: String,
    /// What `tacos capacity` predicts at the sustained and the spike rate (capped by maxReplicas).
    pub predicted_sustained: u64,
    pub predicted_spike: u64,
    /// What the service needs at the scenario's peak (not capped).
    pub needed_at_peak: u64,
    /// The fewest replicas the HPA settles at for that need (its tolerance).
    pub floor_at_peak: u64,
    /// The most ready replicas seen while the rate was at its peak.
    pub reached_at_peak: u64,
    /// Wall-clock seconds from the rate reaching its peak to `reached_at_peak`.
    pub reaction_seconds: Option<f64>,
    pub max_replicas: u64,
    pub short: bool,
    pub cap: Option<Cap>,
}

/// The whole replay's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayOutcome {
    pub scenario: String,
    pub time_scale: f64,
    pub peak_rps: f64,
    pub wall_seconds: f64,
    pub services: Vec<ServiceOutcome>,
    pub not_driven: Vec<NotDriven>,
}

impl ReplayOutcome {
    pub fn passed(&self) -> bool {
        self.services.iter().all(|s| !s.short)
    }
}

/// Replays `shape` through the autoscalers of `plan`, calling `on_tick` after each tick, and sets
/// every driven pod's usage back to idle at the end.
pub async fn replay(
    client: &kube::Client,
    model: &Model,
    plan: &ReplayPlan,
    scenario: &str,
    shape: &LoadShape,
    options: ReplayOptions,
    on_tick: &dyn Fn(&Tick),
) -> Result<ReplayOutcome, ReplayError> {
    let start = Instant::now();
    let (peak_rps, peak_at) = shape.peak();
    let shape_wall = shape.duration().div_f64(options.time_scale);
    let mut reached = vec![0_u64; plan.driven.len()];
    let mut reached_when: Vec<Option<Duration>> = vec![None; plan.driven.len()];
    let mut peak_started: Option<Duration> = None;
    let mut last: Vec<Replicas> = Vec::new();
    let mut quiet_since = Instant::now();
    loop {
        let wall = start.elapsed();
        let scenario_time = wall.mul_f64(options.time_scale);
        let rps = shape.rate_at(scenario_time);
        let mut replicas = Vec::with_capacity(plan.driven.len());
        for driven in &plan.driven {
            replicas.push(drive(client, driven, driven.service.demand_rps(rps)).await?);
        }
        let at_peak = rps >= peak_rps * 0.999 && scenario_time >= peak_at;
        if at_peak {
            let since = *peak_started.get_or_insert(wall);
            for (index, seen) in replicas.iter().enumerate() {
                if seen.ready > reached[index] {
                    reached[index] = seen.ready;
                    reached_when[index] = Some(wall.saturating_sub(since));
                }
            }
        }
        on_tick(&Tick {
            scenario_time,
            rps,
            replicas: replicas.clone(),
        });
        if replicas != last {
            quiet_since = Instant::now();
            last = replicas.clone();
        }
        let settled = replicas
            .iter()
            .all(|r| r.ready == r.desired && r.pods == r.desired)
            && quiet_since.elapsed() >= options.quiet;
        if wall >= shape_wall && (settled || wall >= shape_wall + options.settle) {
            break;
        }
        tokio::time::sleep(options.tick).await;
    }
    idle(client, plan).await?;
    let mut services = Vec::new();
    for (index, driven) in plan.driven.iter().enumerate() {
        let service = &driven.service;
        let needed = service.needed_replicas(peak_rps);
        let demand_pods = service.demand_rps(peak_rps) / service.rps_per_pod;
        let floor = settled_floor(demand_pods, driven.target_utilization, driven.tolerance)
            .max(service.min_replicas)
            .min(needed);
        let short = reached[index] < floor;
        let cap = if short {
            Some(cap_of(client, driven, needed).await?)
        } else {
            None
        };
        services.push(ServiceOutcome {
            service: service.name.clone(),
            autoscaler: format!("{}/{}", driven.namespace, driven.autoscaler),
            predicted_sustained: service.running_replicas(model.sustained_rps),
            predicted_spike: service.running_replicas(model.spike_rps),
            needed_at_peak: needed,
            floor_at_peak: floor,
            reached_at_peak: reached[index],
            reaction_seconds: reached_when[index].map(|d| d.as_secs_f64()),
            max_replicas: driven.max_replicas,
            short,
            cap,
        });
    }
    Ok(ReplayOutcome {
        scenario: scenario.to_string(),
        time_scale: options.time_scale,
        peak_rps,
        wall_seconds: start.elapsed().as_secs_f64(),
        services,
        not_driven: plan.not_driven.clone(),
    })
}

/// Sets every driven pod's usage back to idle (what the replay ends with, and an interrupted one).
pub async fn idle(client: &kube::Client, plan: &ReplayPlan) -> Result<(), ReplayError> {
    for driven in &plan.driven {
        drive(client, driven, 0.0).await?;
    }
    Ok(())
}

/// The workload's objects of kind `K` (its pods, its ReplicaSets), by the Deployment's selector.
async fn list_owned<K>(
    client: &kube::Client,
    driven: &Driven,
    what: &str,
) -> Result<Vec<K>, ReplayError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), &driven.namespace);
    Ok(api
        .list(&ListParams::default().labels(&driven.selector))
        .await
        .map_err(unreachable(format!(
            "listing the {what} of Deployment {}/{}",
            driven.namespace, driven.deployment
        )))?
        .items)
}

/// Spreads `demand_rps` over the workload's ready pods as usage annotations, and reads its replicas.
async fn drive(
    client: &kube::Client,
    driven: &Driven,
    demand_rps: f64,
) -> Result<Replicas, ReplayError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &driven.namespace);
    let listed: Vec<Pod> = list_owned(client, driven, "pods").await?;
    let live: Vec<&Pod> = listed
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let ready: Vec<&Pod> = live.iter().copied().filter(|p| is_ready(p)).collect();
    let per_pod = if ready.is_empty() {
        0.0
    } else {
        demand_rps / ready.len() as f64
    };
    let mut patches = Vec::new();
    for pod in &ready {
        let (requests_cpu, requests_memory, containers) = pod_requests(pod);
        let (cpu, memory) =
            container_usage(driven, per_pod, requests_cpu, requests_memory, containers);
        let cpu = format!("{}m", (cpu * 1000.0).round() as u64);
        let memory = format!("{}Mi", (memory / 1_048_576.0).round() as u64);
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        if annotations.get(USAGE_CPU_ANNOTATION) == Some(&cpu)
            && annotations.get(USAGE_MEMORY_ANNOTATION) == Some(&memory)
        {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        patches.push((name, cpu, memory));
    }
    futures::stream::iter(patches)
        .map(|(name, cpu, memory)| {
            let pods = pods.clone();
            async move {
                let patch = json!({"metadata": {"annotations": {
                    USAGE_CPU_ANNOTATION: cpu,
                    USAGE_MEMORY_ANNOTATION: memory,
                }}});
                match pods
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    // A pod removed since the list has nothing to serve.
                    Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                    other => other.map(|_| ()),
                }
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .map_err(unreachable(format!(
            "setting the usage of the pods of Deployment {}/{}",
            driven.namespace, driven.deployment
        )))?;
    let autoscalers: Api<HorizontalPodAutoscaler> =
        Api::namespaced(client.clone(), &driven.namespace);
    let desired = autoscalers
        .get_opt(&driven.autoscaler)
        .await
        .map_err(unreachable(format!(
            "reading HorizontalPodAutoscaler {}/{}",
            driven.namespace, driven.autoscaler
        )))?
        .and_then(|h| h.status)
        .map(|s| u64::try_from(s.desired_replicas).unwrap_or(0))
        .unwrap_or(0);
    Ok(Replicas {
        ready: ready.len() as u64,
        pods: live.len() as u64,
        desired,
    })
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Running")
            && s.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// The pod's summed CPU (cores) and memory (bytes) requests over its containers, and how many containers it has.
fn pod_requests(pod: &Pod) -> (f64, f64, usize) {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let mut cpu = 0.0;
    let mut memory = 0.0;
    for container in containers {
        let requests = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref());
        let read = |key: &str| {
            requests
                .and_then(|r| r.get(key))
                .and_then(|q| Quantity::parse(&q.0))
                .map_or(0.0, Quantity::as_units)
        };
        cpu += read("cpu");
        memory += read("memory");
    }
    (cpu, memory, containers.len())
}

/// What holds a short service back: its maxReplicas, a quota the ReplicaSet hit, pods the
/// scheduler cannot place, or the time the run gave the autoscaler.
async fn cap_of(client: &kube::Client, driven: &Driven, needed: u64) -> Result<Cap, ReplayError> {
    if driven.max_replicas < needed {
        return Ok(Cap {
            by: "maxReplicas".into(),
            message: format!(
                "HorizontalPodAutoscaler {}/{} stops at maxReplicas {} but {} are needed; raise {}",
                driven.namespace,
                driven.autoscaler,
                driven.max_replicas,
                needed,
                driven.service.fields.max_replicas
            ),
        });
    }
    let sets: Vec<ReplicaSet> = list_owned(client, driven, "ReplicaSets").await?;
    for set in &sets {
        let failure = set
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "ReplicaFailure"));
        if let Some(failure) = failure {
            let message = failure.message.clone().unwrap_or_default();
            let by = if message.contains("exceeded quota") {
                "ResourceQuota"
            } else {
                "ReplicaSet"
            };
            return Ok(Cap {
                by: by.into(),
                message: format!(
                    "ReplicaSet {}/{} cannot create pods: {message}",
                    driven.namespace,
                    set.metadata.name.clone().unwrap_or_default()
                ),
            });
        }
    }
    let pending: BTreeMap<String, String> = list_owned::<Pod>(client, driven, "pods")
        .await?
        .into_iter()
        .filter_map(|pod| {
            let condition = pod
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")?
                .clone();
            Some((
                pod.metadata.name.unwrap_or_default(),
                condition.message.unwrap_or_default(),
            ))
        })
        .collect();
    if let Some((first, message)) = pending.iter().next() {
        return Ok(Cap {
            by: "scheduling".into(),
            message: format!(
                "{} pod(s) cannot be scheduled on the cluster's nodes (e.g. {}/{first}: {message})",
                pending.len(),
                driven.namespace
            ),
        });
    }
    Ok(Cap {
        by: "time".into(),
        message: format!(
            "the autoscaler had not reached {needed} replicas when the peak ended; replay with a lower --time-scale (its scale-up policies, sync period and the metrics' resolution run in real time)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::testing::service;

    fn driven(rps_per_pod: f64, target: f64) -> Driven {
        Driven {
            service: service("gateway-api", rps_per_pod, 1.0, (2, 100), ("1", "1Gi")),
            namespace: "tacos-app".into(),
            deployment: "gateway-api".into(),
            selector: "app=gateway-api".into(),
            autoscaler: "gateway-api".into(),
            target_utilization: target,
            memory_utilization: None,
            tolerance: DEFAULT_TOLERANCE,
            max_replicas: 100,
        }
    }

    #[test]
    fn a_pod_at_its_rated_rate_runs_at_the_autoscalers_target() {
        let d = driven(500.0, 70.0);
        let (cpu, memory) = container_usage(&d, 500.0, 1.0, 1024.0, 1);
        assert!((cpu - 0.7).abs() < 1e-9, "{cpu}");
        assert!((memory - 512.0).abs() < 1e-9, "{memory}");
        // Twice the rate, twice the target: the HPA asks twice the pods.
        let (cpu, _) = container_usage(&d, 1000.0, 1.0, 1024.0, 1);
        assert!((cpu - 1.4).abs() < 1e-9, "{cpu}");
        // Two containers share the pod's usage: their sum is what the HPA compares.
        let (cpu, _) = container_usage(&d, 500.0, 1.0, 1024.0, 2);
        assert!((cpu - 0.35).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn the_hpa_settles_where_its_truncated_utilization_is_within_tolerance() {
        // The CI case: 30,000 RPS at 600 a pod is 50 pods' worth; 45 pods read 66 % of a 60 %
        // target (66.7 truncated), exactly 1.1: the controller stays there.
        assert_eq!(settled_floor(50.0, 60.0, 0.1), 45);
        // The spike: 83.3 pods' worth; 75 read 66 %, 74 read 67 %.
        assert_eq!(settled_floor(50_000.0 / 600.0, 60.0, 0.1), 75);
        // A whole need with no tolerance settles at the need itself.
        assert_eq!(settled_floor(40.0, 60.0, 0.0), 40);
        // inventory-api at 30,000 RPS: 22.5 pods' worth; 21 read 63 %, 20 read 67 %.
        assert_eq!(settled_floor(22.5, 60.0, 0.1), 21);
        // 9 pods at 10 pods' worth read 77 % of 70 %: 1.1 again, within.
        assert_eq!(settled_floor(10.0, 70.0, 0.1), 9);
        assert_eq!(settled_floor(0.0, 60.0, 0.1), 0);
    }

    #[test]
    fn subjects_split_into_kind_namespace_and_name() {
        assert_eq!(
            split_subject("Deployment tacos-app/gateway-api"),
            Some(("Deployment", "tacos-app", "gateway-api"))
        );
        assert_eq!(split_subject("gateway-api"), None);
    }
}
