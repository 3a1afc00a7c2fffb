//! Known inputs for the capacity unit tests: services, c7i.4xlarge pools, quotas and a model around them.

use super::model::{
    AlbLimit, FieldRef, InstanceType, Model, NodePool, PodResources, Quota, QuotaLimit,
    QuotaResource, RedisLimit, Scaler, Service, ServiceFields,
};
use crate::k8s::quantity::Quantity;
use crate::repo::Location;

pub fn quantity(text: &str) -> Quantity {
    Quantity::parse(text).unwrap()
}

/// A field written at `file:line`.
pub fn field(name: &str, file: &str, line: usize) -> FieldRef {
    FieldRef {
        field: name.into(),
        location: Location {
            file: file.into(),
            line,
            column: 3,
            rendered_for: None,
        },
    }
}

/// An HPA-scaled service; limits are twice the requests.
pub fn service(
    name: &str,
    rps_per_pod: f64,
    share: f64,
    (min, max): (u64, u64),
    (cpu, memory): (&str, &str),
) -> Service {
    let values = format!("helm-values/{name}.yaml");
    Service {
        name: name.into(),
        subject: format!("Deployment tacos-app/{name}"),
        scaler_subject: format!("HorizontalPodAutoscaler tacos-app/{name}"),
        scaler: Scaler::Hpa,
        rps_per_pod,
        share,
        min_replicas: min,
        max_replicas: max,
        pod: PodResources {
            requests_cpu: quantity(cpu),
            requests_memory: quantity(memory),
            limits_cpu: quantity(cpu) * 2,
            limits_memory: quantity(memory) * 2,
        },
        redis_pool: None,
        behind_alb: false,
        declared_peak_rps: None,
        fields: ServiceFields {
            max_replicas: field("autoscaling.maxReplicas", &values, 90),
            rps_per_pod: field("capacity.rpsPerPod", &values, 85),
            requests: field("resources.requests", &values, 40),
            share: field(&format!("capacity.shares.{name}"), "tacos.yaml", 30),
            redis_pool: None,
            peak_rps: None,
        },
    }
}

/// gateway-api as this repository sizes it: 600 RPS per pod, 10..110 pods of 1 cpu / 512Mi.
pub fn gateway() -> Service {
    service("gateway-api", 600.0, 1.0, (10, 110), ("1", "512Mi"))
}

/// A c7i.4xlarge pool ($0.8064 on-demand, $0.32 spot per hour) keeping 1 cpu and 3.5Gi per node:
/// 15 cpu, 28.5Gi and 234 pods allocatable.
pub fn c7i_pool(name: &str, spot_fraction: f64, max_nodes: u64) -> NodePool {
    NodePool {
        name: name.into(),
        instance: InstanceType {
            name: "c7i.4xlarge".into(),
            vcpu: 16,
            memory_gib: 32.0,
            max_pods: 234,
            on_demand_hourly_usd: 0.8064,
            spot_hourly_usd: 0.32,
        },
        spot_fraction,
        max_nodes,
        reserved_cpu: quantity("1"),
        reserved_memory: quantity("3584Mi"),
        services: Vec::new(),
        max_nodes_field: field("capacity.nodePools[0].maxNodes", "tacos.yaml", 50),
        instance_type_field: field("capacity.nodePools[0].instanceType", "tacos.yaml", 48),
    }
}

/// A quota of the namespace with `hard` limits (key, amount), written from line 10 on.
pub fn quota(hard: &[(&str, &str)]) -> Quota {
    Quota {
        subject: "ResourceQuota tacos-app/tacos-app-compute".into(),
        limits: hard
            .iter()
            .enumerate()
            .map(|(index, (key, amount))| QuotaLimit {
                key: key.to_string(),
                resource: match *key {
                    "requests.cpu" => QuotaResource::RequestsCpu,
                    "requests.memory" => QuotaResource::RequestsMemory,
                    "limits.cpu" => QuotaResource::LimitsCpu,
                    "limits.memory" => QuotaResource::LimitsMemory,
                    _ => QuotaResource::Pods,
                },
                hard: quantity(amount),
                field: field(
                    &format!("spec.hard.{key}"),
                    "manifests/tacos/resourcequota.yaml",
                    10 + index,
                ),
            })
            .collect(),
    }
}

/// 30,000 RPS sustained, 50,000 spike, 30% headroom; no quota; Redis 65,000 clients; 1,000 ALB targets.
pub fn model(services: Vec<Service>, node_pools: Vec<NodePool>) -> Model {
    Model {
        environment: "prod".into(),
        namespace: "tacos-app".into(),
        sustained_rps: 30_000.0,
        spike_rps: 50_000.0,
        headroom: 0.3,
        services,
        other_workloads: Vec::new(),
        quotas: Vec::new(),
        node_pools,
        redis: RedisLimit {
            node_type: Some("cache.r7g.large".into()),
            max_clients_per_node: 65_000,
            field: field("capacity.redis.maxClientsPerNode", "tacos.yaml", 60),
        },
        alb: AlbLimit {
            max_targets_per_target_group: 1_000,
            field: field("capacity.alb.maxTargetsPerTargetGroup", "tacos.yaml", 63),
        },
    }
}
