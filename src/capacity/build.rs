//! Builds the capacity model from the rendered tree (workloads, autoscalers, requests, quotas, routes) and an environment of tacos.yaml.

use serde_json::Value;

use super::CapacityError;
use super::model::{
    AlbLimit, InstanceType, MAX_PODS, Model, NodePool, OtherWorkload, PodResources, Quota,
    QuotaLimit, QuotaResource, RedisLimit, Scaler, Service, ServiceFields,
};
use super::origin::{SettingsFile, ValuesOrigin};
use crate::config::{CapacitySettings, Environment};
use crate::k8s::quantity::Quantity;
use crate::k8s::workloads::{ReplicaRange, is_scalable, services_selecting};
use crate::lint::scaling::{Declared, QUOTA_RESOURCES, pod_amount};
use crate::lint::{PEAK_RPS_ANNOTATION, RPS_PER_POD_ANNOTATION, subject};
use crate::repo::object::pointer;
use crate::repo::{Object, Tree};

/// The model of `environment` (named `environment_name`) over `tree`, a tree whose Applications'
/// charts are rendered. `settings` gives the lines of the tacos.yaml settings used.
pub fn build_model(
    tree: &Tree,
    environment_name: &str,
    environment: &Environment,
    settings: &SettingsFile,
) -> Result<Model, CapacityError> {
    let capacity = &environment.capacity;
    let namespace = environment.app_namespace.as_str();
    let missing = |field: &str, what: &'static str| {
        let setting = settings.field(&[field]);
        CapacityError::MissingSetting {
            location: setting.location,
            field: format!("environments.{environment_name}.{}", setting.field),
            what,
        }
    };
    if capacity.shares.is_empty() {
        return Err(missing(
            "shares",
            "the calls each service receives per gateway-api request, e.g. gateway-api: 1.0",
        ));
    }
    if capacity.node_pools.is_empty() {
        return Err(missing(
            "nodePools",
            "the node pools pods run on (name, instanceType, spotFraction, maxNodes, reserved)",
        ));
    }
    let origin = ValuesOrigin::new(tree);
    let workloads: Vec<&Object> = tree
        .objects
        .iter()
        .filter(|o| is_scalable(o) && o.namespace() == Some(namespace))
        .collect();
    let mut services = Vec::new();
    for (name, share) in &capacity.shares {
        let workload = workloads
            .iter()
            .find(|w| w.name() == name || w.label("app.kubernetes.io/name") == Some(name))
            .ok_or_else(|| CapacityError::ServiceNotInTree {
                location: settings.field(&["shares", name]).location,
                service: name.clone(),
                namespace: namespace.to_string(),
            })?;
        services.push(service(
            tree, &origin, settings, capacity, workload, name, *share,
        )?);
    }
    for workload in &workloads {
        let range = ReplicaRange::of(tree, workload);
        let modelled = services.iter().any(|s| s.subject == subject(workload));
        if !modelled && Declared::find(workload, &range, RPS_PER_POD_ANNOTATION).is_some() {
            return Err(CapacityError::ShareMissing {
                location: settings.field(&["shares"]).location,
                subject: subject(workload),
            });
        }
    }
    Ok(Model {
        environment: environment_name.to_string(),
        namespace: namespace.to_string(),
        sustained_rps: f64::from(capacity.sustained_rps),
        spike_rps: f64::from(capacity.spike_rps),
        headroom: capacity.headroom,
        other_workloads: other_workloads(tree, namespace, &services),
        quotas: quotas(tree, namespace),
        node_pools: node_pools(capacity, settings),
        redis: RedisLimit {
            node_type: capacity.redis.node_type.clone(),
            max_clients_per_node: u64::from(capacity.redis.max_clients_per_node),
            field: settings.field(&["redis", "maxClientsPerNode"]),
        },
        alb: AlbLimit {
            max_targets_per_target_group: u64::from(capacity.alb.max_targets_per_target_group),
            field: settings.field(&["alb", "maxTargetsPerTargetGroup"]),
        },
        services,
    })
}

/// A replica count from the tree, within what the model counts.
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0).min(MAX_PODS)
}

fn pod_resources(workload: &Object) -> PodResources {
    let Some((_, pod)) = workload.pod_spec() else {
        return PodResources::default();
    };
    PodResources {
        requests_cpu: pod_amount(pod, "requests", "cpu"),
        requests_memory: pod_amount(pod, "requests", "memory"),
        limits_cpu: pod_amount(pod, "limits", "cpu"),
        limits_memory: pod_amount(pod, "limits", "memory"),
    }
}

fn service(
    tree: &Tree,
    origin: &ValuesOrigin<'_>,
    settings: &SettingsFile,
    capacity: &CapacitySettings,
    workload: &Object,
    name: &str,
    share: f64,
) -> Result<Service, CapacityError> {
    let range = ReplicaRange::of(tree, workload);
    let (scaler, scaler_object, max_pointer) = match range.autoscaler {
        Some(autoscaler) if autoscaler.object.is("keda.sh", "ScaledObject") => {
            (Scaler::Keda, autoscaler.object, autoscaler.max_pointer())
        }
        Some(autoscaler) => (Scaler::Hpa, autoscaler.object, autoscaler.max_pointer()),
        None => (Scaler::Fixed, workload, "/spec/replicas"),
    };
    let annotation = |declared: &Declared<'_>, values_path: &[&str]| {
        origin.field(
            declared.object,
            &pointer(&["metadata", "annotations", declared.key]),
            values_path,
        )
    };
    let declared = Declared::find(workload, &range, RPS_PER_POD_ANNOTATION);
    let rps_per_pod = declared
        .as_ref()
        .and_then(Declared::number)
        .ok_or_else(|| CapacityError::RpsPerPodMissing {
            location: declared.as_ref().map_or_else(
                || workload.location(),
                |d| annotation(d, &["capacity", "rpsPerPod"]).location,
            ),
            subject: subject(workload),
        })?;
    let rps_per_pod_field = match &declared {
        Some(d) => annotation(d, &["capacity", "rpsPerPod"]),
        None => origin.field(
            workload,
            "/metadata/annotations",
            &["capacity", "rpsPerPod"],
        ),
    };
    let peak = Declared::find(workload, &range, PEAK_RPS_ANNOTATION);
    let pod_pointer = workload
        .pod_spec()
        .map_or("/spec/template/spec", |(pointer, _)| pointer);
    let redis = redis_pool(origin, settings, capacity, workload, pod_pointer)?;
    Ok(Service {
        name: name.to_string(),
        subject: subject(workload),
        scaler_subject: subject(scaler_object),
        scaler,
        rps_per_pod,
        share,
        min_replicas: count(range.min),
        max_replicas: count(range.max),
        pod: pod_resources(workload),
        redis_pool: redis.as_ref().map(|(pool, _)| *pool),
        behind_alb: services_selecting(tree, workload).any(|svc| routed_to(tree, svc)),
        declared_peak_rps: peak.as_ref().and_then(Declared::number),
        fields: ServiceFields {
            max_replicas: origin.field(scaler_object, max_pointer, &["autoscaling", "maxReplicas"]),
            rps_per_pod: rps_per_pod_field,
            requests: origin.field(
                workload,
                &format!("{pod_pointer}/containers/0/resources/requests"),
                &["resources", "requests"],
            ),
            share: settings.field(&["shares", name]),
            redis_pool: redis.map(|(_, field)| field),
            peak_rps: peak
                .as_ref()
                .map(|d| annotation(d, &["capacity", "peakRps"])),
        },
    })
}

/// Connections per Redis node one pod opens, and where that is set: the pool-size variable of a
/// container that has the Redis address variable, else tacos.yaml's default pool size.
fn redis_pool(
    origin: &ValuesOrigin<'_>,
    settings: &SettingsFile,
    capacity: &CapacitySettings,
    workload: &Object,
    pod_pointer: &str,
) -> Result<Option<(u64, super::model::FieldRef)>, CapacityError> {
    let redis = &capacity.redis;
    let Some((_, pod)) = workload.pod_spec() else {
        return Ok(None);
    };
    let mut uses_redis = false;
    let mut declared = None;
    for (c, container) in pod["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (e, variable) in container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            match variable["name"].as_str() {
                Some(name) if name == redis.address_env => uses_redis = true,
                Some(name) if name == redis.pool_size_env => {
                    declared = Some((
                        format!("{pod_pointer}/containers/{c}/env/{e}/value"),
                        variable,
                    ));
                }
                _ => {}
            }
        }
    }
    if !uses_redis {
        return Ok(None);
    }
    let Some((value_pointer, variable)) = declared else {
        return Ok(Some((
            u64::from(redis.default_pool_size),
            settings.field(&["redis", "defaultPoolSize"]),
        )));
    };
    let field = origin.field(
        workload,
        &value_pointer,
        &["env", redis.pool_size_env.as_str()],
    );
    let text = match &variable["value"] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let pool = text
        .trim()
        .parse::<u64>()
        .map_err(|_| CapacityError::PoolSizeInvalid {
            location: Box::new(field.location.clone()),
            subject: subject(workload),
            variable: redis.pool_size_env.clone(),
            value: text.clone(),
        })?;
    Ok(Some((pool, field)))
}

/// Whether an HTTPRoute or GRPCRoute (of a Gateway, an ALB on this platform) sends traffic to `service`.
fn routed_to(tree: &Tree, service: &Object) -> bool {
    let routes = tree.objects.iter().filter(|o| {
        o.group() == "gateway.networking.k8s.io" && matches!(o.kind(), "HTTPRoute" | "GRPCRoute")
    });
    routes.into_iter().any(|route| {
        let rules = route.value["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten();
        rules
            .flat_map(|rule| rule["backendRefs"].as_array().into_iter().flatten())
            .any(|backend| {
                backend["kind"].as_str().unwrap_or("Service") == "Service"
                    && backend["group"].as_str().unwrap_or("").is_empty()
                    && backend["name"].as_str() == Some(service.name())
                    && backend["namespace"].as_str().or(route.namespace()) == service.namespace()
            })
    })
}

/// Pod-running objects of the namespace that are not modelled services, at their largest count.
/// DaemonSets run per node and are part of each pool's reserve.
fn other_workloads(tree: &Tree, namespace: &str, services: &[Service]) -> Vec<OtherWorkload> {
    tree.objects
        .iter()
        .filter(|o| o.namespace() == Some(namespace) && o.pod_spec().is_some())
        .filter(|o| o.kind() != "DaemonSet")
        .filter(|o| !services.iter().any(|s| s.subject == subject(o)))
        .map(|workload| OtherWorkload {
            subject: subject(workload),
            replicas: count(ReplicaRange::of(tree, workload).max),
            pod: pod_resources(workload),
        })
        .collect()
}

/// The namespace's quotas that count every pod (scoped quotas count only some and are left out).
fn quotas(tree: &Tree, namespace: &str) -> Vec<Quota> {
    tree.in_namespace("", "ResourceQuota", Some(namespace))
        .filter(|q| {
            q.value["spec"]["scopes"].is_null() && q.value["spec"]["scopeSelector"].is_null()
        })
        .map(|quota| {
            let hard = quota.value["spec"]["hard"]
                .as_object()
                .into_iter()
                .flatten();
            let limits = hard
                .filter_map(|(key, value)| {
                    let resource = quota_resource(key)?;
                    Some(QuotaLimit {
                        key: key.clone(),
                        resource,
                        hard: Quantity::of_value(value)?,
                        field: super::model::FieldRef {
                            field: format!("spec.hard.{key}"),
                            location: quota.location_of(&pointer(&["spec", "hard", key])),
                        },
                    })
                })
                .collect();
            Quota {
                subject: subject(quota),
                limits,
            }
        })
        .collect()
}

/// What a quota key counts, by the lint rules' table of quota keys.
fn quota_resource(key: &str) -> Option<QuotaResource> {
    if key == "pods" {
        return Some(QuotaResource::Pods);
    }
    let (_, section, resource) = QUOTA_RESOURCES.iter().find(|(hard, _, _)| *hard == key)?;
    Some(match (*section, *resource) {
        ("requests", "cpu") => QuotaResource::RequestsCpu,
        ("requests", _) => QuotaResource::RequestsMemory,
        (_, "cpu") => QuotaResource::LimitsCpu,
        _ => QuotaResource::LimitsMemory,
    })
}

fn node_pools(capacity: &CapacitySettings, settings: &SettingsFile) -> Vec<NodePool> {
    capacity
        .node_pools
        .iter()
        .enumerate()
        .filter_map(|(index, pool)| {
            // The config loader has checked the instance type exists and the reserve parses.
            let instance = capacity.instance_types.get(&pool.instance_type)?;
            let index = index.to_string();
            Some(NodePool {
                name: pool.name.clone(),
                instance: InstanceType {
                    name: pool.instance_type.clone(),
                    vcpu: instance.vcpu,
                    memory_gib: instance.memory_gib,
                    max_pods: u64::from(instance.max_pods),
                    on_demand_hourly_usd: instance.on_demand_hourly_usd,
                    spot_hourly_usd: instance.spot_hourly_usd,
                },
                spot_fraction: pool.spot_fraction,
                max_nodes: u64::from(pool.max_nodes),
                reserved_cpu: pool.reserved.cpu.quantity()?,
                reserved_memory: pool.reserved.memory.quantity()?,
                services: pool.services.clone(),
                max_nodes_field: settings.field(&["nodePools", &index, "maxNodes"]),
                instance_type_field: settings.field(&["nodePools", &index, "instanceType"]),
            })
        })
        .collect()
}
