//! One target rate assessed: replicas, nodes, cost, quota and Redis use at each load level, and the bottlenecks.

use serde::Serialize;

use super::bottlenecks;
use super::model::{Model, QuotaResource, Scaler};
use super::packing::{Packing, PodGroup, pack};
use super::pricing::{Cost, HOURS_PER_MONTH, PoolCost, monthly};
use crate::k8s::quantity::Quantity;
use crate::report::{Finding, Severity};

/// The load levels an assessment looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The sustained rate: the replicas the autoscalers run.
    Sustained,
    /// The target (the spike unless asked otherwise): the replicas the autoscalers run.
    Target,
    /// The target plus headroom: the replicas needed, even above an autoscaler's maximum. What must fit.
    TargetWithHeadroom,
    /// Every service at its maximum replicas: how far the autoscalers may take the platform.
    MaxReplicas,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Sustained,
        Level::Target,
        Level::TargetWithHeadroom,
        Level::MaxReplicas,
    ];
}

/// One value per load level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ByLevel<T> {
    pub sustained: T,
    pub target: T,
    pub target_with_headroom: T,
    pub max_replicas: T,
}

impl<T> ByLevel<T> {
    pub fn from_fn(mut value: impl FnMut(Level) -> T) -> Self {
        ByLevel {
            sustained: value(Level::Sustained),
            target: value(Level::Target),
            target_with_headroom: value(Level::TargetWithHeadroom),
            max_replicas: value(Level::MaxReplicas),
        }
    }

    pub fn get(&self, level: Level) -> &T {
        match level {
            Level::Sustained => &self.sustained,
            Level::Target => &self.target,
            Level::TargetWithHeadroom => &self.target_with_headroom,
            Level::MaxReplicas => &self.max_replicas,
        }
    }
}

/// The request rates an assessment uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    pub sustained: f64,
    pub spike: f64,
    pub target: f64,
    pub headroom: f64,
    pub target_with_headroom: f64,
}

/// Pods of every workload at one level, and what they ask of the platform.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelPlan {
    /// Pods per service, in the model's order.
    pub service_pods: Vec<u64>,
    pub packing: Packing,
    pub cost: Cost,
    /// Connections per Redis node.
    pub redis_connections: u64,
    /// `quota_use[q][l]`: what limit `l` of quota `q` counts.
    pub quota_use: Vec<Vec<Quantity>>,
}

/// The pods each service runs at `level` for `target_rps`.
pub fn service_pods(model: &Model, level: Level, target_rps: f64) -> Vec<u64> {
    model
        .services
        .iter()
        .map(|service| match level {
            Level::Sustained => service.running_replicas(model.sustained_rps),
            Level::Target => service.running_replicas(target_rps),
            Level::TargetWithHeadroom => service.needed_replicas(model.with_headroom(target_rps)),
            Level::MaxReplicas => service.max_replicas,
        })
        .collect()
}

/// The nodes, cost, Redis connections and quota use of the services running `service_pods`
/// (and the namespace's other workloads at their fixed size).
pub fn plan(model: &Model, service_pods: Vec<u64>) -> LevelPlan {
    let mut groups: Vec<PodGroup> = model
        .services
        .iter()
        .zip(&service_pods)
        .map(|(service, &count)| PodGroup {
            owner: service.name.clone(),
            count,
            pod: service.pod,
        })
        .collect();
    groups.extend(model.other_workloads.iter().map(|workload| PodGroup {
        owner: workload.subject.clone(),
        count: workload.replicas,
        pod: workload.pod,
    }));
    let packing = pack(&groups, &model.node_pools);
    let cost = Cost::of(&model.node_pools, &packing.nodes);
    let redis_connections = model
        .services
        .iter()
        .zip(&service_pods)
        .map(|(service, &pods)| service.redis_pool.unwrap_or(0).saturating_mul(pods))
        .fold(0u64, u64::saturating_add);
    let quota_use = model
        .quotas
        .iter()
        .map(|quota| {
            quota
                .limits
                .iter()
                .map(|limit| {
                    groups.iter().fold(Quantity::ZERO, |sum, group| {
                        let count = i64::try_from(group.count).unwrap_or(i64::MAX);
                        sum + limit.resource.per_pod(&group.pod) * count
                    })
                })
                .collect()
        })
        .collect();
    LevelPlan {
        service_pods,
        packing,
        cost,
        redis_connections,
        quota_use,
    }
}

/// The plans of every level for `target_rps`.
pub fn plans(model: &Model, target_rps: f64) -> ByLevel<LevelPlan> {
    ByLevel::from_fn(|level| plan(model, service_pods(model, level, target_rps)))
}

/// Whether a service reaches what the target plus headroom needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    Ok,
    /// Its maximum replicas carry less than the target plus headroom.
    Capped,
}

/// A service's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    pub name: String,
    pub subject: String,
    pub autoscaler: Scaler,
    pub rps_per_pod: f64,
    pub share: f64,
    pub min_replicas: u64,
    pub max_replicas: u64,
    /// maxReplicas x rpsPerPod.
    pub capacity_at_max_rps: f64,
    /// Running replicas at the sustained rate and the target, replicas needed at the target plus
    /// headroom, and the maximum.
    pub replicas: ByLevel<u64>,
    pub status: ServiceStatus,
}

/// A node's allocatable resources as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocatable {
    pub cpu: f64,
    #[serde(rename = "memoryGiB")]
    pub memory_gib: f64,
    pub pods: u64,
}

/// A node pool's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolRow {
    pub name: String,
    pub instance_type: String,
    pub spot_fraction: f64,
    pub max_nodes: u64,
    pub allocatable: Allocatable,
    pub nodes: ByLevel<u64>,
    /// The pool's monthly cost at the sustained rate and at the target.
    pub cost: CostPair<PoolCost>,
}

/// A cost at the sustained rate and at the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostPair<T> {
    pub sustained: T,
    pub target: T,
}

/// What one quota limit counts at each level.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaRow {
    pub subject: String,
    pub key: String,
    /// `cores`, `GiB` or `pods`.
    pub unit: &'static str,
    pub hard: f64,
    pub used: ByLevel<f64>,
}

/// Connections per Redis node at each level.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedisRow {
    pub node_type: Option<String>,
    pub max_clients_per_node: u64,
    pub connections_per_node: ByLevel<u64>,
}

/// Findings by severity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
}

/// Everything `tacos capacity` reports for one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub environment: String,
    pub namespace: String,
    pub rps: Rates,
    /// The target plus headroom fits: no bottleneck caps it.
    pub fits: bool,
    pub services: Vec<ServiceRow>,
    pub node_pools: Vec<PoolRow>,
    /// How nodes are counted.
    pub packing: &'static str,
    /// Pods that find no node, per level.
    pub unplaced_pods: ByLevel<u64>,
    pub hours_per_month: f64,
    pub cost: CostPair<Cost>,
    pub quotas: Vec<QuotaRow>,
    pub redis: RedisRow,
    pub bottlenecks: Vec<Finding>,
    pub summary: Summary,
}

/// How `plan` counts nodes, for readers of the output.
pub const PACKING_METHOD: &str = "first-fit decreasing of pod requests (cpu, memory, pod slots) on each node's allocatable (instance size less reserved), pools in order";

/// Assesses `target_rps` (the gateway-api rate that must fit before headroom).
pub fn assess(model: &Model, target_rps: f64) -> Assessment {
    let plans = plans(model, target_rps);
    let bottlenecks = bottlenecks::find(model, target_rps, &plans);
    let count = |severity| {
        bottlenecks
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let summary = Summary {
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
    };
    let with_headroom = model.with_headroom(target_rps);
    let services = model
        .services
        .iter()
        .enumerate()
        .map(|(index, service)| ServiceRow {
            name: service.name.clone(),
            subject: service.subject.clone(),
            autoscaler: service.scaler,
            rps_per_pod: service.rps_per_pod,
            share: service.share,
            min_replicas: service.min_replicas,
            max_replicas: service.max_replicas,
            capacity_at_max_rps: service.capacity_at_max(),
            replicas: ByLevel::from_fn(|level| plans.get(level).service_pods[index]),
            status: if service.needed_replicas(with_headroom) > service.max_replicas {
                ServiceStatus::Capped
            } else {
                ServiceStatus::Ok
            },
        })
        .collect();
    let node_pools = model
        .node_pools
        .iter()
        .enumerate()
        .map(|(index, pool)| {
            let allocatable = pool.allocatable();
            let nodes = ByLevel::from_fn(|level| plans.get(level).packing.nodes[index]);
            PoolRow {
                name: pool.name.clone(),
                instance_type: pool.instance.name.clone(),
                spot_fraction: pool.spot_fraction,
                max_nodes: pool.max_nodes,
                allocatable: Allocatable {
                    cpu: allocatable.cpu.as_units(),
                    memory_gib: allocatable.memory.as_units() / GIB,
                    pods: allocatable.pods,
                },
                cost: CostPair {
                    sustained: monthly(pool, nodes.sustained),
                    target: monthly(pool, nodes.target),
                },
                nodes,
            }
        })
        .collect();
    let quotas = model
        .quotas
        .iter()
        .enumerate()
        .flat_map(|(q, quota)| {
            let plans = &plans;
            quota.limits.iter().enumerate().map(move |(l, limit)| {
                let (unit, scale) = match limit.resource {
                    QuotaResource::Pods => ("pods", 1.0),
                    resource if resource.is_memory() => ("GiB", GIB),
                    _ => ("cores", 1.0),
                };
                QuotaRow {
                    subject: quota.subject.clone(),
                    key: limit.key.clone(),
                    unit,
                    hard: limit.hard.as_units() / scale,
                    used: ByLevel::from_fn(|level| {
                        plans.get(level).quota_use[q][l].as_units() / scale
                    }),
                }
            })
        })
        .collect();
    Assessment {
        environment: model.environment.clone(),
        namespace: model.namespace.clone(),
        rps: Rates {
            sustained: model.sustained_rps,
            spike: model.spike_rps,
            target: target_rps,
            headroom: model.headroom,
            target_with_headroom: with_headroom,
        },
        fits: summary.errors == 0,
        services,
        node_pools,
        packing: PACKING_METHOD,
        unplaced_pods: ByLevel::from_fn(|level| plans.get(level).packing.unplaced_pods()),
        hours_per_month: HOURS_PER_MONTH,
        cost: CostPair {
            sustained: plans.sustained.cost,
            target: plans.target.cost,
        },
        quotas,
        redis: RedisRow {
            node_type: model.redis.node_type.clone(),
            max_clients_per_node: model.redis.max_clients_per_node,
            connections_per_node: ByLevel::from_fn(|level| plans.get(level).redis_connections),
        },
        bottlenecks,
        summary,
    }
}

/// Bytes in a GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Whether `target_rps` plus headroom fits the model: Ok, or the bottlenecks that cap it (for
/// callers such as a load test's preflight).
pub fn check_fit(model: &Model, target_rps: f64) -> Result<(), Vec<Finding>> {
    let plans = plans(model, target_rps);
    let capping: Vec<Finding> = bottlenecks::find(model, target_rps, &plans)
        .into_iter()
        .filter(|finding| finding.severity == Severity::Error)
        .collect();
    if capping.is_empty() {
        Ok(())
    } else {
        Err(capping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::testing::{c7i_pool, gateway, model, service};

    #[test]
    fn gateway_runs_fifty_pods_at_thirty_thousand_and_eighty_four_at_the_spike() {
        // 30,000 x 1.0 / 600 = 50; 50,000 / 600 = 83.3 -> 84; 65,000 / 600 = 108.3 -> 109.
        let assessment = assess(
            &model(vec![gateway()], vec![c7i_pool("a", 0.0, 20)]),
            50_000.0,
        );
        let row = &assessment.services[0];
        assert_eq!(
            row.replicas,
            ByLevel {
                sustained: 50,
                target: 84,
                target_with_headroom: 109,
                max_replicas: 110
            }
        );
        assert_eq!(row.capacity_at_max_rps, 66_000.0);
        assert_eq!(row.status, ServiceStatus::Ok);
        assert_eq!(assessment.rps.target_with_headroom, 65_000.0);
        assert!(assessment.fits, "{:?}", assessment.bottlenecks);
    }

    #[test]
    fn replicas_never_drop_below_the_minimum() {
        let model = model(vec![gateway()], vec![c7i_pool("a", 0.0, 20)]);
        assert_eq!(model.services[0].running_replicas(3_000.0), 10);
        assert_eq!(model.services[0].running_replicas(0.0), 10);
    }

    #[test]
    fn replicas_above_the_maximum_are_needed_but_not_run() {
        let model = model(vec![gateway()], vec![c7i_pool("a", 0.0, 20)]);
        assert_eq!(model.services[0].needed_replicas(70_000.0), 117);
        assert_eq!(model.services[0].running_replicas(70_000.0), 110);
    }

    #[test]
    fn known_pods_give_known_nodes_and_monthly_cost() {
        // 50 pods of 1 cpu at 30,000 RPS on nodes of 15 allocatable cpu: 4 nodes.
        // All on-demand: 4 x $0.8064 x 730 h = $2,354.688.
        // Half spot: 2 x $0.8064 x 730 + 2 x $0.32 x 730 = $1,177.344 + $467.20 = $1,644.544.
        let assessment = assess(
            &model(vec![gateway()], vec![c7i_pool("a", 0.5, 20)]),
            50_000.0,
        );
        let cost = assessment.cost.sustained;
        assert_eq!(cost.nodes, 4);
        assert!(
            (cost.all_on_demand_usd - 2_354.688).abs() < 1e-6,
            "{cost:?}"
        );
        assert!((cost.spot_mix_usd - 1_644.544).abs() < 1e-6, "{cost:?}");
        assert_eq!(assessment.node_pools[0].cost.sustained.spot_nodes, 2);
        // 84 pods at the spike: 6 nodes; 3 of them spot.
        assert_eq!(assessment.cost.target.nodes, 6);
        assert_eq!(assessment.node_pools[0].cost.target.spot_nodes, 3);
    }

    #[test]
    fn the_repository_sizing_needs_eight_nodes_at_thirty_thousand() {
        // Requests at 30,000 RPS: 50 x 1 + 45 x 1 + 23 x 0.5 + 12 x 0.25 + 15 x 0.25 = 113.25 cpu,
        // 8 nodes of 15 cpu (7.55 by the per-resource ceiling, rounded up).
        let services = vec![
            gateway(),
            service("reservation-api", 400.0, 0.6, (6, 100), ("1", "1536Mi")),
            service("inventory-api", 800.0, 0.6, (4, 50), ("500m", "256Mi")),
            service("payment-sim-api", 500.0, 0.2, (3, 30), ("250m", "256Mi")),
            service("reservation-worker", 400.0, 0.2, (3, 35), ("250m", "256Mi")),
        ];
        let model = model(
            services,
            vec![c7i_pool("on-demand", 0.0, 6), c7i_pool("spot", 1.0, 18)],
        );
        let assessment = assess(&model, 50_000.0);
        let sustained: Vec<u64> = assessment
            .services
            .iter()
            .map(|s| s.replicas.sustained)
            .collect();
        assert_eq!(sustained, vec![50, 45, 23, 12, 15]);
        assert_eq!(assessment.node_pools[0].nodes.sustained, 6);
        assert_eq!(assessment.node_pools[1].nodes.sustained, 2);
        assert_eq!(assessment.node_pools[1].nodes.max_replicas, 11);
        assert!(assessment.fits, "{:?}", assessment.bottlenecks);
    }

    #[test]
    fn check_fit_passes_a_target_that_fits_and_returns_the_caps_of_one_that_does_not() {
        let model = model(vec![gateway()], vec![c7i_pool("a", 0.0, 20)]);
        assert_eq!(check_fit(&model, 50_000.0), Ok(()));
        let caps = check_fit(&model, 60_000.0).unwrap_err();
        let rules: Vec<&str> = caps.iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec!["capacity-hpa-max"]);
    }
}
