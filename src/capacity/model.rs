//! The capacity model as plain data (services, quota, node pools, limits) and the replicas a service runs at a request rate.

use std::fmt;

use serde::Serialize;

use crate::k8s::quantity::Quantity;
use crate::repo::Location;

/// A field or setting to change to move a limit: its name as written and where it is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldRef {
    /// `autoscaling.maxReplicas`, `spec.hard.requests.cpu`, `capacity.nodePools[1].maxNodes`.
    pub field: String,
    pub location: Location,
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.field, self.location)
    }
}

/// What one pod of a workload requests and may use.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PodResources {
    pub requests_cpu: Quantity,
    pub requests_memory: Quantity,
    pub limits_cpu: Quantity,
    pub limits_memory: Quantity,
}

/// What scales a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scaler {
    #[serde(rename = "HorizontalPodAutoscaler")]
    Hpa,
    #[serde(rename = "ScaledObject")]
    Keda,
    /// No autoscaler: spec.replicas is both minimum and maximum.
    #[serde(rename = "none")]
    Fixed,
}

impl Scaler {
    pub fn short_name(self) -> &'static str {
        match self {
            Scaler::Hpa => "HPA",
            Scaler::Keda => "KEDA",
            Scaler::Fixed => "fixed",
        }
    }
}

/// Where a service's numbers are written, for remedies.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFields {
    pub max_replicas: FieldRef,
    pub rps_per_pod: FieldRef,
    pub requests: FieldRef,
    pub share: FieldRef,
    pub redis_pool: Option<FieldRef>,
    pub peak_rps: Option<FieldRef>,
}

/// One service of the platform and what sizes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// The workload, e.g. `Deployment tacos-app/gateway-api`.
    pub subject: String,
    /// What holds its replica bounds, e.g. `HorizontalPodAutoscaler tacos-app/gateway-api`.
    pub scaler_subject: String,
    pub scaler: Scaler,
    /// Requests (or messages) per second one pod serves at the autoscaling target.
    pub rps_per_pod: f64,
    /// Calls this service receives per gateway-api request.
    pub share: f64,
    pub min_replicas: u64,
    pub max_replicas: u64,
    pub pod: PodResources,
    /// Connections one pod opens to each Redis node; None when it does not use Redis.
    pub redis_pool: Option<u64>,
    /// Its pods are IP targets of an ALB target group (a Gateway route sends traffic to its Service).
    pub behind_alb: bool,
    /// The `peak-rps` the service declares, when it does.
    pub declared_peak_rps: Option<f64>,
    pub fields: ServiceFields,
}

impl Service {
    /// The rate this service receives when gateway-api receives `rps`.
    pub fn demand_rps(&self, rps: f64) -> f64 {
        rps * self.share
    }

    /// Pods needed for `rps`: the demand over rpsPerPod rounded up, and never below the minimum.
    pub fn needed_replicas(&self, rps: f64) -> u64 {
        ceil_count(self.demand_rps(rps) / self.rps_per_pod).max(self.min_replicas)
    }

    /// Pods the autoscaler runs for `rps`: what is needed, up to the maximum.
    pub fn running_replicas(&self, rps: f64) -> u64 {
        self.needed_replicas(rps).min(self.max_replicas)
    }

    /// The rate the service carries at its maximum replicas.
    pub fn capacity_at_max(&self) -> f64 {
        self.max_replicas as f64 * self.rps_per_pod
    }
}

/// The most pods of one workload the model counts: far beyond any plan, small enough that sums of
/// counts and of their requests never overflow.
pub const MAX_PODS: u64 = 1_000_000_000_000;

/// A ratio rounded up to a whole count, at most MAX_PODS; a ratio within a billionth of a whole
/// number is that number (30,000 x 0.6 / 400 is 45, not 46 from binary rounding).
pub fn ceil_count(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    let nearest = ratio.round();
    let count = if (ratio - nearest).abs() <= nearest.max(1.0) * 1e-9 {
        nearest
    } else {
        ratio.ceil()
    };
    count.min(MAX_PODS as f64) as u64
}

/// A workload of the namespace that is not a modelled service: it counts at its fixed size.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherWorkload {
    pub subject: String,
    pub replicas: u64,
    pub pod: PodResources,
}

/// What a ResourceQuota key counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaResource {
    RequestsCpu,
    RequestsMemory,
    LimitsCpu,
    LimitsMemory,
    Pods,
}

impl QuotaResource {
    /// The amount one pod adds.
    pub fn per_pod(self, pod: &PodResources) -> Quantity {
        match self {
            QuotaResource::RequestsCpu => pod.requests_cpu,
            QuotaResource::RequestsMemory => pod.requests_memory,
            QuotaResource::LimitsCpu => pod.limits_cpu,
            QuotaResource::LimitsMemory => pod.limits_memory,
            QuotaResource::Pods => Quantity::from(1),
        }
    }

    pub fn is_memory(self) -> bool {
        matches!(
            self,
            QuotaResource::RequestsMemory | QuotaResource::LimitsMemory
        )
    }

    /// An amount of this resource as shown to people: `251.25`, `233.75Gi`, `325`.
    pub fn show(self, amount: Quantity) -> String {
        if self.is_memory() {
            amount.as_bytes_text()
        } else {
            amount.to_string()
        }
    }
}

/// One hard limit of a quota that counts pods or their resources.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaLimit {
    /// As written: `requests.cpu`, `memory`, `pods`.
    pub key: String,
    pub resource: QuotaResource,
    pub hard: Quantity,
    pub field: FieldRef,
}

/// A ResourceQuota of the services' namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub subject: String,
    pub limits: Vec<QuotaLimit>,
}

/// An EC2 instance type: size and hourly prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceType {
    pub name: String,
    pub vcpu: u32,
    #[serde(rename = "memoryGiB")]
    pub memory_gib: f64,
    pub max_pods: u64,
    pub on_demand_hourly_usd: f64,
    pub spot_hourly_usd: f64,
}

/// What one node gives to pods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeSpace {
    pub cpu: Quantity,
    pub memory: Quantity,
    pub pods: u64,
}

/// A node pool: instance type, capacity-type mix, size limit and which services it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePool {
    pub name: String,
    pub instance: InstanceType,
    /// The share of its nodes that are spot.
    pub spot_fraction: f64,
    pub max_nodes: u64,
    pub reserved_cpu: Quantity,
    pub reserved_memory: Quantity,
    /// Services whose pods may run here; empty: every workload.
    pub services: Vec<String>,
    pub max_nodes_field: FieldRef,
    pub instance_type_field: FieldRef,
}

impl NodePool {
    /// A node's size less what it keeps from pods.
    pub fn allocatable(&self) -> NodeSpace {
        NodeSpace {
            cpu: Quantity::from(i64::from(self.instance.vcpu)) - self.reserved_cpu,
            memory: Quantity::from_gib(self.instance.memory_gib) - self.reserved_memory,
            pods: self.instance.max_pods,
        }
    }

    /// Whether pods of `owner` (a service name, or another workload's subject) may run here.
    pub fn admits(&self, owner: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s == owner)
    }
}

/// How many clients one Redis node accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisLimit {
    pub node_type: Option<String>,
    pub max_clients_per_node: u64,
    pub field: FieldRef,
}

/// How many targets one ALB target group holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbLimit {
    pub max_targets_per_target_group: u64,
    pub field: FieldRef,
}

/// Everything capacity is computed from: the tree's services and quota, tacos.yaml's targets and platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub environment: String,
    pub namespace: String,
    pub sustained_rps: f64,
    pub spike_rps: f64,
    /// Spare capacity required above the target, e.g. 0.3.
    pub headroom: f64,
    pub services: Vec<Service>,
    pub other_workloads: Vec<OtherWorkload>,
    pub quotas: Vec<Quota>,
    pub node_pools: Vec<NodePool>,
    pub redis: RedisLimit,
    pub alb: AlbLimit,
}

impl Model {
    /// The rate that must fit for a target: the target plus headroom.
    pub fn with_headroom(&self, target_rps: f64) -> f64 {
        target_rps * (1.0 + self.headroom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_that_are_whole_numbers_do_not_round_up() {
        assert_eq!(ceil_count(30_000.0 * 0.6 / 400.0), 45);
        assert_eq!(ceil_count(30_000.0 * 0.6 / 800.0), 23);
        assert_eq!(ceil_count(50_000.0 / 600.0), 84);
        assert_eq!(ceil_count(0.0), 0);
        assert_eq!(ceil_count(f64::NAN), 0);
        assert_eq!(ceil_count(f64::INFINITY), MAX_PODS);
    }
}
