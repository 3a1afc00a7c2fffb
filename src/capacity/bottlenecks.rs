//! What caps the platform before the target: autoscaler maximums, quota, node pools, Redis connections, ALB targets.

use std::collections::BTreeMap;

use super::assessment::{ByLevel, Level, LevelPlan};
use super::model::{Model, Scaler, Service, ceil_count};
use super::packing::{PodGroup, Unplaced, pack_within};
use super::show_number;
use crate::k8s::quantity::format_decimal;
use crate::report::rule;
use crate::report::{Finding, RuleInfo, Severity, sort_findings};

const FAMILY: &str = "capacity";

rule!(
    HPA_MAX,
    FAMILY,
    "capacity-hpa-max",
    Error,
    "each service's maximum replicas x rpsPerPod carry its share of the target plus headroom",
    "raise the autoscaler's maximum replicas, or re-measure rpsPerPod"
);
rule!(
    QUOTA,
    FAMILY,
    "capacity-quota",
    Error,
    "the namespace's ResourceQuota admits the pods the target plus headroom needs",
    "raise the quota's hard limit, or lower the services' requests"
);
rule!(
    NODE_POOL,
    FAMILY,
    "capacity-node-pool",
    Error,
    "the node pools hold the pods the target plus headroom needs",
    "raise the pools' maxNodes in tacos.yaml (and the Karpenter NodePool limits)"
);
rule!(
    REDIS_CONNECTIONS,
    FAMILY,
    "capacity-redis-connections",
    Error,
    "connections per Redis node (pool size x pods, summed) stay below maxclients",
    "lower the services' Redis pool sizes, or use a node type that accepts more clients"
);
rule!(
    ALB_TARGETS,
    FAMILY,
    "capacity-alb-targets",
    Error,
    "pods behind the ALB fit in one target group",
    "raise the AWS quota on targets per target group, or serve more per pod"
);
rule!(
    PEAK_RPS,
    FAMILY,
    "capacity-peak-rps",
    Error,
    "a service's declared peak-rps is at least tacos.yaml's spike x its share",
    "raise the service's capacity.peakRps to its share of the spike, or fix the share in tacos.yaml"
);

/// Every capacity rule, for listings.
pub const RULES: &[RuleInfo] = &[
    HPA_MAX,
    QUOTA,
    NODE_POOL,
    REDIS_CONNECTIONS,
    ALB_TARGETS,
    PEAK_RPS,
];

/// The bottlenecks of `target_rps`: errors for what caps the target plus headroom, warnings for
/// limits the autoscalers could run into at their maximum replicas, sorted for stable output.
pub fn find(model: &Model, target_rps: f64, plans: &ByLevel<LevelPlan>) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(autoscaler_maximums(model, target_rps));
    for (level, severity) in [
        (Level::TargetWithHeadroom, Severity::Error),
        (Level::MaxReplicas, Severity::Warning),
    ] {
        let context = LevelContext {
            model,
            plan: plans.get(level),
            level,
            target_rps,
        };
        findings.extend(
            [
                context.quota_overruns(),
                context.node_pool_overruns(),
                context.redis_overrun().into_iter().collect(),
                context.alb_overruns(),
            ]
            .into_iter()
            .flatten()
            .map(|finding| finding.with_severity(severity)),
        );
    }
    findings.extend(peak_disagreements(model));
    drop_warnings_repeating_errors(&mut findings);
    sort_findings(&mut findings);
    findings
}

/// A limit already overrun at the target needs no second warning at maximum replicas.
fn drop_warnings_repeating_errors(findings: &mut Vec<Finding>) {
    let key = |f: &Finding| (f.rule, f.subject.clone(), f.location.clone());
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(key)
        .collect();
    findings.retain(|f| f.severity == Severity::Error || !errors.contains(&key(f)));
}

/// The autoscaler's maximum field as the object names it.
fn max_field_name(scaler: Scaler) -> &'static str {
    match scaler {
        Scaler::Hpa => "maxReplicas",
        Scaler::Keda => "maxReplicaCount",
        Scaler::Fixed => "replicas",
    }
}

fn autoscaler_maximums(model: &Model, target_rps: f64) -> Vec<Finding> {
    let with_headroom = model.with_headroom(target_rps);
    model
        .services
        .iter()
        .filter_map(|service| {
            let demand = service.demand_rps(with_headroom);
            let carried = service.capacity_at_max();
            // A relative tolerance, so 100 x 650 still carries 50,000 x 1.3.
            if carried >= demand * (1.0 - 1e-9) {
                return None;
            }
            let needed = ceil_count(demand / service.rps_per_pod);
            Some(
                Finding::new(
                    &HPA_MAX,
                    service.scaler_subject.clone(),
                    Some(service.fields.max_replicas.location.clone()),
                    format!(
                        "{} {} x rpsPerPod {} = {} RPS < {} RPS x share {} x {} (headroom {}%) = {} RPS",
                        max_field_name(service.scaler),
                        service.max_replicas,
                        show_number(service.rps_per_pod),
                        show_number(carried),
                        show_number(target_rps),
                        format_decimal(service.share),
                        format_decimal(1.0 + model.headroom),
                        format_decimal(model.headroom * 100.0),
                        show_number(demand),
                    ),
                )
                .with_remedy(format!(
                    "raise {} to at least {needed}, or, once a k6 run measures more per pod, {}",
                    service.fields.max_replicas, service.fields.rps_per_pod
                )),
            )
        })
        .collect()
}

/// One level's checks.
struct LevelContext<'a> {
    model: &'a Model,
    plan: &'a LevelPlan,
    level: Level,
    target_rps: f64,
}

impl LevelContext<'_> {
    /// What the level is, for messages: `65,000 RPS (50,000 + 30% headroom)`, `maximum replicas`.
    fn describe(&self) -> String {
        match self.level {
            Level::MaxReplicas => format!(
                "every service at its maximum replicas ({} pods)",
                show_number(self.plan.service_pods.iter().sum::<u64>() as f64)
            ),
            _ => format!(
                "{} RPS ({} + {}% headroom)",
                show_number(self.model.with_headroom(self.target_rps)),
                show_number(self.target_rps),
                format_decimal(self.model.headroom * 100.0)
            ),
        }
    }

    fn at_max(&self) -> bool {
        self.level == Level::MaxReplicas
    }

    /// The services with their pod counts at this level, largest count first.
    fn services_by_pods(&self) -> Vec<(&Service, u64)> {
        let mut services: Vec<(&Service, u64)> = self
            .model
            .services
            .iter()
            .zip(self.plan.service_pods.iter().copied())
            .collect();
        services.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
        services
    }

    fn quota_overruns(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (q, quota) in self.model.quotas.iter().enumerate() {
            for (l, limit) in quota.limits.iter().enumerate() {
                let used = self.plan.quota_use[q][l];
                if used <= limit.hard {
                    continue;
                }
                let show = |amount| limit.resource.show(amount);
                let parts: Vec<String> = self
                    .services_by_pods()
                    .into_iter()
                    .filter(|(_, pods)| *pods > 0)
                    .map(|(service, pods)| {
                        format!(
                            "{} {pods} x {}",
                            service.name,
                            show(limit.resource.per_pod(&service.pod))
                        )
                    })
                    .collect();
                let mut remedy = format!("raise {} to at least {}", limit.field, show(used));
                if let Some((largest, _)) = self.services_by_pods().first() {
                    if self.at_max() {
                        remedy.push_str(&format!(
                            ", or lower the maximum replicas, e.g. {}",
                            largest.fields.max_replicas
                        ));
                    } else {
                        remedy.push_str(&format!(
                            ", or lower the requests of the largest user, {}",
                            largest.fields.requests
                        ));
                    }
                }
                findings.push(
                    Finding::new(
                        &QUOTA,
                        quota.subject.clone(),
                        Some(limit.field.location.clone()),
                        format!(
                            "{}: {} needs {} but the quota allows {} ({}){}",
                            limit.key,
                            self.describe(),
                            show(used),
                            show(limit.hard),
                            parts.join(" + "),
                            if self.at_max() {
                                ": the autoscalers cannot all reach their maximum"
                            } else {
                                ""
                            }
                        ),
                    )
                    .with_remedy(remedy),
                );
            }
        }
        findings
    }

    fn node_pool_overruns(&self) -> Vec<Finding> {
        let pools = &self.model.node_pools;
        let mut findings = Vec::new();
        let mut full_pools: BTreeMap<usize, Vec<(String, u64)>> = BTreeMap::new();
        for unplaced in &self.plan.packing.unplaced {
            let service = self
                .model
                .services
                .iter()
                .find(|s| s.name == unplaced.owner);
            let admitting: Vec<usize> = (0..pools.len())
                .filter(|&i| pools[i].admits(&unplaced.owner))
                .collect();
            match (unplaced.reason, admitting.last()) {
                (Unplaced::PoolsFull, Some(&last)) => full_pools
                    .entry(last)
                    .or_default()
                    .push((unplaced.owner.clone(), unplaced.count)),
                (Unplaced::LargerThanNode, Some(&last)) => {
                    let pool = &pools[last];
                    let allocatable = pool.allocatable();
                    let subject = service.map_or(unplaced.owner.clone(), |s| s.subject.clone());
                    let mut remedy = format!(
                        "use a larger instance type for pool {}: {}",
                        pool.name, pool.instance_type_field
                    );
                    if let Some(service) = service {
                        remedy.push_str(&format!(
                            ", or lower the pod's requests: {}",
                            service.fields.requests
                        ));
                    }
                    findings.push(
                        Finding::new(
                            &NODE_POOL,
                            subject,
                            Some(pool.instance_type_field.location.clone()),
                            format!(
                                "{} pod(s) of {} find no node: one requests more than a {} node of pool {} allocates ({} cpu, {}, {} pods)",
                                unplaced.count,
                                unplaced.owner,
                                pool.instance.name,
                                pool.name,
                                allocatable.cpu,
                                allocatable.memory.as_bytes_text(),
                                allocatable.pods
                            ),
                        )
                        .with_remedy(remedy),
                    );
                }
                (_, _) => {
                    let setting = pools.first().map(|p| p.max_nodes_field.location.clone());
                    findings.push(
                        Finding::new(
                            &NODE_POOL,
                            service.map_or(unplaced.owner.clone(), |s| s.subject.clone()),
                            setting,
                            format!(
                                "no node pool admits {}: {} pod(s) find no node",
                                unplaced.owner, unplaced.count
                            ),
                        )
                        .with_remedy(format!(
                            "add {} to the services of a pool in capacity.nodePools, or leave a pool's services empty",
                            unplaced.owner
                        )),
                    );
                }
            }
        }
        if full_pools.is_empty() {
            return findings;
        }
        let mut limits: Vec<u64> = pools.iter().map(|p| p.max_nodes).collect();
        for &pool in full_pools.keys() {
            limits[pool] = u64::MAX;
        }
        let unbounded = pack_within(&self.groups(), pools, &limits);
        let allowed: Vec<String> = pools
            .iter()
            .map(|p| format!("{} {}", p.name, p.max_nodes))
            .collect();
        for (pool_index, owners) in full_pools {
            let pool = &pools[pool_index];
            let pods: u64 = owners.iter().map(|(_, count)| count).sum();
            let names: Vec<String> = owners
                .iter()
                .map(|(owner, count)| format!("{owner} {count}"))
                .collect();
            findings.push(
                Finding::new(
                    &NODE_POOL,
                    format!("node pool {}", pool.name),
                    Some(pool.max_nodes_field.location.clone()),
                    format!(
                        "{} needs {} nodes but the pools allow {} (maxNodes {}): {pods} pod(s) find no node ({})",
                        self.describe(),
                        unbounded.total_nodes(),
                        pools.iter().map(|p| p.max_nodes).sum::<u64>(),
                        allowed.join(", "),
                        names.join(", ")
                    ),
                )
                .with_remedy(format!(
                    "raise {} to at least {} (and the Karpenter NodePool's limits with it)",
                    pool.max_nodes_field, unbounded.nodes[pool_index]
                )),
            );
        }
        findings
    }

    /// The pods of this level as packing groups.
    fn groups(&self) -> Vec<PodGroup> {
        let services =
            self.model
                .services
                .iter()
                .zip(&self.plan.service_pods)
                .map(|(service, &count)| PodGroup {
                    owner: service.name.clone(),
                    count,
                    pod: service.pod,
                });
        let others = self.model.other_workloads.iter().map(|w| PodGroup {
            owner: w.subject.clone(),
            count: w.replicas,
            pod: w.pod,
        });
        services.chain(others).collect()
    }

    fn redis_overrun(&self) -> Option<Finding> {
        let redis = &self.model.redis;
        let connections = self.plan.redis_connections;
        if connections <= redis.max_clients_per_node {
            return None;
        }
        let mut users: Vec<(&Service, u64, u64)> = self
            .services_by_pods()
            .into_iter()
            .filter_map(|(service, pods)| {
                let pool = service.redis_pool?;
                (pods > 0).then_some((service, pods, pool.saturating_mul(pods)))
            })
            .collect();
        users.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.name.cmp(&b.0.name)));
        let parts: Vec<String> = users
            .iter()
            .map(|(service, pods, _)| {
                format!(
                    "{} {pods} x {}",
                    service.name,
                    service.redis_pool.unwrap_or(0)
                )
            })
            .collect();
        let largest = users.first()?;
        let pool_field = largest.0.fields.redis_pool.as_ref()?;
        let node = redis
            .node_type
            .as_ref()
            .map_or_else(|| "Redis node".to_string(), |t| format!("Redis node ({t})"));
        Some(
            Finding::new(
                &REDIS_CONNECTIONS,
                node,
                Some(pool_field.location.clone()),
                format!(
                    "{} opens {} connections per Redis node ({}) but maxclients is {}",
                    self.describe(),
                    show_number(connections as f64),
                    parts.join(" + "),
                    show_number(redis.max_clients_per_node as f64)
                ),
            )
            .with_remedy(format!(
                "lower the largest pool, {} ({} per pod), or add shards and raise {} only if the node type accepts more clients",
                pool_field,
                largest.0.redis_pool.unwrap_or(0),
                redis.field
            )),
        )
    }

    fn alb_overruns(&self) -> Vec<Finding> {
        let alb = &self.model.alb;
        self.model
            .services
            .iter()
            .zip(&self.plan.service_pods)
            .filter(|(service, pods)| service.behind_alb && **pods > alb.max_targets_per_target_group)
            .map(|(service, pods)| {
                let remedy = if self.at_max() {
                    format!(
                        "lower {} to {}, or have AWS raise \"Targets per target group per Region\" and then {}",
                        service.fields.max_replicas, alb.max_targets_per_target_group, alb.field
                    )
                } else {
                    format!(
                        "have AWS raise \"Targets per target group per Region\" and then {}, or serve more per pod (larger pods, re-measured {})",
                        alb.field, service.fields.rps_per_pod
                    )
                };
                Finding::new(
                    &ALB_TARGETS,
                    service.subject.clone(),
                    Some(alb.field.location.clone()),
                    format!(
                        "{} runs {} pods of {}, each an IP target of its ALB target group, but a target group holds {}",
                        self.describe(),
                        show_number(*pods as f64),
                        service.name,
                        show_number(alb.max_targets_per_target_group as f64)
                    ),
                )
                .with_remedy(remedy)
            })
            .collect()
    }
}

fn peak_disagreements(model: &Model) -> Vec<Finding> {
    model
        .services
        .iter()
        .filter_map(|service| {
            let declared = service.declared_peak_rps?;
            let expected = service.demand_rps(model.spike_rps);
            // A larger declared peak only makes the chart's guard stricter.
            if declared >= expected * (1.0 - 1e-9) {
                return None;
            }
            let peak_field = service.fields.peak_rps.as_ref()?;
            Some(
                Finding::new(
                    &PEAK_RPS,
                    service.scaler_subject.clone(),
                    Some(peak_field.location.clone()),
                    format!(
                        "declares peak-rps {} but tacos.yaml's spike {} x share {} = {}: the chart's render-time guard checks too little",
                        show_number(declared),
                        show_number(model.spike_rps),
                        format_decimal(service.share),
                        show_number(expected)
                    ),
                )
                .with_remedy(format!(
                    "set {} to {}, or fix {}",
                    peak_field,
                    show_number(expected).replace(',', ""),
                    service.fields.share
                ))
                .with_severity(Severity::Warning),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::capacity::assessment::{assess, check_fit};
    use crate::capacity::model::Model;
    use crate::capacity::testing::{c7i_pool, gateway, model, quota, service};
    use crate::report::{Finding, Severity};

    fn gateway_model() -> Model {
        model(vec![gateway()], vec![c7i_pool("a", 0.0, 20)])
    }

    fn findings(model: &Model) -> Vec<Finding> {
        assess(model, 50_000.0).bottlenecks
    }

    fn rules(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
        findings.iter().map(|f| (f.rule, f.severity)).collect()
    }

    #[test]
    fn max_replicas_below_the_target_plus_headroom_is_the_bottleneck() {
        let mut model = gateway_model();
        model.services[0].max_replicas = 100;
        let found = findings(&model);
        assert_eq!(rules(&found), vec![("capacity-hpa-max", Severity::Error)]);
        let finding = &found[0];
        assert_eq!(
            finding.subject,
            "HorizontalPodAutoscaler tacos-app/gateway-api"
        );
        assert_eq!(
            finding.message,
            "maxReplicas 100 x rpsPerPod 600 = 60,000 RPS < 50,000 RPS x share 1 x 1.3 (headroom 30%) = 65,000 RPS"
        );
        assert_eq!(
            finding.location.as_ref().unwrap().to_string(),
            "helm-values/gateway-api.yaml:90:3"
        );
        assert!(
            finding.remedy.starts_with(
                "raise autoscaling.maxReplicas (helm-values/gateway-api.yaml:90:3) to at least 109"
            ),
            "{}",
            finding.remedy
        );
        assert!(!assess(&model, 50_000.0).fits);
        assert_eq!(check_fit(&model, 50_000.0).unwrap_err(), found);
    }

    #[test]
    fn quota_below_what_the_target_needs_is_the_bottleneck() {
        let mut model = gateway_model();
        model.quotas = vec![quota(&[("requests.cpu", "100"), ("pods", "400")])];
        let found = findings(&model);
        assert_eq!(rules(&found), vec![("capacity-quota", Severity::Error)]);
        assert_eq!(
            found[0].subject,
            "ResourceQuota tacos-app/tacos-app-compute"
        );
        assert_eq!(
            found[0].message,
            "requests.cpu: 65,000 RPS (50,000 + 30% headroom) needs 109 but the quota allows 100 (gateway-api 109 x 1)"
        );
        assert_eq!(
            found[0].location.as_ref().unwrap().to_string(),
            "manifests/tacos/resourcequota.yaml:10:3"
        );
        assert!(
            found[0]
                .remedy
                .starts_with("raise spec.hard.requests.cpu (manifests/tacos/resourcequota.yaml:10:3) to at least 109"),
            "{}",
            found[0].remedy
        );
        assert!(check_fit(&model, 50_000.0).is_err());
    }

    #[test]
    fn quota_that_fits_the_target_but_not_the_maximum_is_a_warning_only() {
        let mut model = gateway_model();
        model.quotas = vec![quota(&[("requests.cpu", "109")])];
        let found = findings(&model);
        assert_eq!(rules(&found), vec![("capacity-quota", Severity::Warning)]);
        assert!(found[0].message.starts_with(
            "requests.cpu: every service at its maximum replicas (110 pods) needs 110 but the quota allows 109"
        ));
        assert_eq!(check_fit(&model, 50_000.0), Ok(()));
    }

    #[test]
    fn memory_quota_is_shown_in_binary_units() {
        let mut model = gateway_model();
        model.quotas = vec![quota(&[("limits.memory", "100Gi")])];
        let found = findings(&model);
        assert!(
            found[0].message.starts_with(
                "limits.memory: 65,000 RPS (50,000 + 30% headroom) needs 109Gi but the quota allows 100Gi"
            ),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn node_pools_too_small_for_the_target_name_the_pool_to_raise_and_by_how_much() {
        // 109 pods of 1 cpu need 8 nodes of 15 cpu; the pools allow 2 + 3.
        let mut model = model(
            vec![gateway()],
            vec![c7i_pool("on-demand", 0.0, 2), c7i_pool("spot", 1.0, 3)],
        );
        model.node_pools[1].max_nodes_field =
            crate::capacity::testing::field("capacity.nodePools[1].maxNodes", "tacos.yaml", 56);
        let found = findings(&model);
        assert_eq!(rules(&found), vec![("capacity-node-pool", Severity::Error)]);
        assert_eq!(found[0].subject, "node pool spot");
        assert_eq!(
            found[0].message,
            "65,000 RPS (50,000 + 30% headroom) needs 8 nodes but the pools allow 5 (maxNodes on-demand 2, spot 3): 34 pod(s) find no node (gateway-api 34)"
        );
        assert!(
            found[0].remedy.starts_with(
                "raise capacity.nodePools[1].maxNodes (tacos.yaml:56:3) to at least 6"
            ),
            "{}",
            found[0].remedy
        );
    }

    #[test]
    fn a_pod_larger_than_any_node_says_so() {
        let model = model(
            vec![service("big", 600.0, 1.0, (3, 200), ("20", "1Gi"))],
            vec![c7i_pool("a", 0.0, 20)],
        );
        let found = findings(&model);
        assert_eq!(rules(&found), vec![("capacity-node-pool", Severity::Error)]);
        assert!(
            found[0].message.contains("one requests more than a c7i.4xlarge node of pool a allocates (15 cpu, 28.5Gi, 234 pods)"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn redis_connections_beyond_maxclients_name_the_largest_pool() {
        // 109 pods x 600 connections = 65,400 per node > 65,000.
        let mut model = gateway_model();
        model.services[0].redis_pool = Some(600);
        model.services[0].fields.redis_pool = Some(crate::capacity::testing::field(
            "env.REDIS_POOL_SIZE",
            "helm-values/gateway-api.yaml",
            57,
        ));
        let found = findings(&model);
        assert_eq!(
            rules(&found),
            vec![("capacity-redis-connections", Severity::Error)]
        );
        assert_eq!(found[0].subject, "Redis node (cache.r7g.large)");
        assert_eq!(
            found[0].message,
            "65,000 RPS (50,000 + 30% headroom) opens 65,400 connections per Redis node (gateway-api 109 x 600) but maxclients is 65,000"
        );
        assert!(found[0].remedy.starts_with(
            "lower the largest pool, env.REDIS_POOL_SIZE (helm-values/gateway-api.yaml:57:3) (600 per pod)"
        ));
    }

    #[test]
    fn pods_behind_the_alb_beyond_a_target_group_are_the_bottleneck() {
        let mut model = gateway_model();
        model.services[0].behind_alb = true;
        model.alb.max_targets_per_target_group = 100;
        let found = findings(&model);
        assert_eq!(
            rules(&found),
            vec![("capacity-alb-targets", Severity::Error)]
        );
        assert_eq!(
            found[0].message,
            "65,000 RPS (50,000 + 30% headroom) runs 109 pods of gateway-api, each an IP target of its ALB target group, but a target group holds 100"
        );
    }

    #[test]
    fn maximum_replicas_above_the_alb_limit_warn_when_the_target_fits() {
        let mut model = gateway_model();
        model.services[0].behind_alb = true;
        model.alb.max_targets_per_target_group = 109;
        assert_eq!(
            rules(&findings(&model)),
            vec![("capacity-alb-targets", Severity::Warning)]
        );
    }

    #[test]
    fn declared_peak_rps_below_spike_times_share_is_a_warning() {
        let mut model = gateway_model();
        model.services[0].declared_peak_rps = Some(40_000.0);
        model.services[0].fields.peak_rps = Some(crate::capacity::testing::field(
            "capacity.peakRps",
            "helm-values/gateway-api.yaml",
            86,
        ));
        let found = findings(&model);
        assert_eq!(
            rules(&found),
            vec![("capacity-peak-rps", Severity::Warning)]
        );
        assert!(
            found[0]
                .remedy
                .starts_with("set capacity.peakRps (helm-values/gateway-api.yaml:86:3) to 50000")
        );
        assert!(assess(&model, 50_000.0).fits);
        model.services[0].declared_peak_rps = Some(60_000.0);
        assert_eq!(
            findings(&model),
            vec![],
            "a larger declared peak is stricter"
        );
    }
}
