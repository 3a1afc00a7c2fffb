//! Workloads configured to reach a host and port that the NetworkPolicies selecting their pods do not let them reach.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::analysis::Diagnoses;
use super::cluster::{self, Workload, pod_is_stuck};
use super::{Diagnosis, Snapshot};
use crate::k8s::endpoints;
pub use crate::k8s::endpoints::Endpoint;
use crate::report::rule;

rule!(
    EGRESS_BLOCKED,
    "doctor",
    "egress-blocked",
    Error,
    "NetworkPolicies let each workload reach the hosts and ports its configuration names",
    "add an egress rule for the host and port to a NetworkPolicy selecting the pods"
);

/// Every host:port the snapshot's workloads are configured to call.
pub fn configured_endpoints(snapshot: &Snapshot) -> Vec<Endpoint> {
    endpoints::configured_endpoints(&cluster::workloads(snapshot), &snapshot.config_maps)
}

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    for workload in cluster::workloads(snapshot) {
        let blocked: Vec<(Endpoint, Vec<&NetworkPolicy>)> =
            endpoints::endpoints_of(&snapshot.config_maps, &workload)
                .into_iter()
                .filter_map(|endpoint| {
                    let policies = blocking_policies(snapshot, &workload, &endpoint)?;
                    Some((endpoint, policies))
                })
                .collect();
        if !blocked.is_empty() {
            diagnoses.add(blocked_diagnosis(snapshot, &workload, &blocked));
        }
    }
}

/// Where a host leads: a Service of the cluster (known or not), or outside it.
enum Destination<'a> {
    /// `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`.
    InCluster {
        namespace: String,
        service: Option<&'a Service>,
    },
    External,
}

fn destination<'a>(snapshot: &'a Snapshot, own_namespace: &str, host: &str) -> Destination<'a> {
    let host = host.trim_end_matches('.');
    let short = host.strip_suffix(".cluster.local").unwrap_or(host);
    let short = short.strip_suffix(".svc").unwrap_or(short);
    let labels: Vec<&str> = short.split('.').collect();
    let known_namespace = |namespace: &str| {
        snapshot
            .namespaces
            .iter()
            .any(|n| cluster::name(&n.metadata) == namespace)
            || snapshot
                .services
                .iter()
                .any(|s| cluster::namespace(&s.metadata) == namespace)
    };
    let (name, namespace) = match labels.as_slice() {
        [name] => (*name, own_namespace.to_string()),
        [name, namespace] if short != host || known_namespace(namespace) => {
            (*name, namespace.to_string())
        }
        _ => return Destination::External,
    };
    let service = snapshot.services.iter().find(|s| {
        cluster::namespace(&s.metadata) == namespace && cluster::name(&s.metadata) == name
    });
    Destination::InCluster { namespace, service }
}

/// The port NetworkPolicies see for a connection: a Service's target port, else the port itself.
#[derive(Debug, Clone, PartialEq)]
enum PolicyPort {
    Number(i32),
    Named(String),
}

fn policy_port(destination: &Destination, port: u16) -> PolicyPort {
    let target = match destination {
        Destination::InCluster {
            service: Some(service),
            ..
        } => service
            .spec
            .as_ref()
            .and_then(|spec| spec.ports.as_ref())
            .into_iter()
            .flatten()
            .find(|p| p.port == i32::from(port))
            .and_then(|p| p.target_port.clone()),
        _ => None,
    };
    match target {
        Some(IntOrString::Int(number)) => PolicyPort::Number(number),
        Some(IntOrString::String(name)) => match name.parse() {
            Ok(number) => PolicyPort::Number(number),
            Err(_) => PolicyPort::Named(name),
        },
        None => PolicyPort::Number(i32::from(port)),
    }
}

/// The policies that isolate the workload's pods for egress, when none of them lets `endpoint` through;
/// None when the connection is allowed (or no policy isolates the pods).
fn blocking_policies<'a>(
    snapshot: &'a Snapshot,
    workload: &Workload,
    endpoint: &Endpoint,
) -> Option<Vec<&'a NetworkPolicy>> {
    let policies = isolating_policies(snapshot, workload);
    if policies.is_empty() {
        return None;
    }
    let destination = destination(snapshot, &endpoint.namespace, &endpoint.host);
    let port = policy_port(&destination, endpoint.port);
    let allowed = policies.iter().any(|policy| {
        egress_rules(policy).iter().any(|rule| {
            rule_allows_port(snapshot, rule, &destination, &port)
                && rule_allows_peer(snapshot, policy, rule, &destination)
        })
    });
    (!allowed).then_some(policies)
}

/// The NetworkPolicies in the workload's namespace that select its pods and govern egress.
fn isolating_policies<'a>(snapshot: &'a Snapshot, workload: &Workload) -> Vec<&'a NetworkPolicy> {
    let labels = workload.pod_labels();
    let namespace = cluster::namespace(workload.meta);
    snapshot
        .network_policies
        .iter()
        .filter(|policy| cluster::namespace(&policy.metadata) == namespace)
        .filter(|policy| {
            let spec = policy.spec.as_ref();
            let selects = spec
                .and_then(|s| s.pod_selector.as_ref())
                .is_none_or(|selector| cluster::selects(selector, &labels));
            let governs_egress = match spec.and_then(|s| s.policy_types.as_ref()) {
                Some(types) => types.iter().any(|t| t == "Egress"),
                None => !egress_rules(policy).is_empty(),
            };
            selects && governs_egress
        })
        .collect()
}

fn egress_rules(policy: &NetworkPolicy) -> &[NetworkPolicyEgressRule] {
    policy
        .spec
        .as_ref()
        .and_then(|s| s.egress.as_deref())
        .unwrap_or_default()
}

/// Whether a rule's ports cover the connection (TCP): no ports means every port; a named port in the
/// rule is compared with the destination pods' container port names where they are known.
fn rule_allows_port(
    snapshot: &Snapshot,
    rule: &NetworkPolicyEgressRule,
    destination: &Destination,
    port: &PolicyPort,
) -> bool {
    let Some(ports) = rule.ports.as_ref().filter(|ports| !ports.is_empty()) else {
        return true;
    };
    ports.iter().any(|entry| {
        if entry.protocol.as_deref().unwrap_or("TCP") != "TCP" {
            return false;
        }
        match (&entry.port, port) {
            (None, _) => true,
            (Some(IntOrString::Int(first)), PolicyPort::Number(number)) => {
                (*first..=entry.end_port.unwrap_or(*first)).contains(number)
            }
            (Some(IntOrString::String(name)), PolicyPort::Named(wanted)) => name == wanted,
            (Some(IntOrString::String(name)), PolicyPort::Number(number)) => {
                named_port_matches(snapshot, destination, name, *number)
            }
            // A number in the rule against a named target port: the number behind the name is on the pods.
            (Some(IntOrString::Int(_)), PolicyPort::Named(_)) => true,
        }
    })
}

/// Whether the destination's pods name `number` as `name`; unknown pods get the benefit of the doubt,
/// and hosts outside the cluster have no named ports.
fn named_port_matches(
    snapshot: &Snapshot,
    destination: &Destination,
    name: &str,
    number: i32,
) -> bool {
    let Destination::InCluster { service, namespace } = destination else {
        return false;
    };
    let backing: Vec<_> = backing_pods_labels(snapshot, namespace, *service);
    if backing.is_empty() {
        return true;
    }
    snapshot
        .pods
        .iter()
        .filter(|pod| cluster::namespace(&pod.metadata) == namespace)
        .filter(|pod| backing.contains(&cluster::labels(&pod.metadata)))
        .flat_map(|pod| pod.spec.iter().flat_map(|s| &s.containers))
        .flat_map(|c| c.ports.iter().flatten())
        .any(|p| p.name.as_deref() == Some(name) && p.container_port == number)
}

/// Labels of the pods behind a Service (the pods its selector picks, else the selector itself).
fn backing_pods_labels(
    snapshot: &Snapshot,
    namespace: &str,
    service: Option<&Service>,
) -> Vec<BTreeMap<String, String>> {
    let Some(selector) = service
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.selector.clone())
    else {
        return Vec::new();
    };
    let pods: Vec<BTreeMap<String, String>> = snapshot
        .pods
        .iter()
        .filter(|pod| cluster::namespace(&pod.metadata) == namespace)
        .map(|pod| cluster::labels(&pod.metadata))
        .filter(|labels| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
        .collect();
    if pods.is_empty() {
        vec![selector]
    } else {
        pods
    }
}

/// Whether a rule's peers may include the destination: no peers means everywhere; an ipBlock may hold
/// any address (doctor cannot resolve names); only ipBlocks reach outside the cluster.
fn rule_allows_peer(
    snapshot: &Snapshot,
    policy: &NetworkPolicy,
    rule: &NetworkPolicyEgressRule,
    destination: &Destination,
) -> bool {
    let Some(peers) = rule.to.as_ref().filter(|peers| !peers.is_empty()) else {
        return true;
    };
    peers.iter().any(|peer| match destination {
        Destination::External => peer.ip_block.is_some(),
        Destination::InCluster { namespace, service } => {
            peer.ip_block.is_some() || peer_selects(snapshot, policy, peer, namespace, *service)
        }
    })
}

fn peer_selects(
    snapshot: &Snapshot,
    policy: &NetworkPolicy,
    peer: &NetworkPolicyPeer,
    namespace: &str,
    service: Option<&Service>,
) -> bool {
    let namespace_matches = match &peer.namespace_selector {
        None => cluster::namespace(&policy.metadata) == namespace,
        Some(selector) => {
            let mut labels = snapshot
                .namespaces
                .iter()
                .find(|n| cluster::name(&n.metadata) == namespace)
                .map(|n| cluster::labels(&n.metadata))
                .unwrap_or_default();
            labels.insert(
                "kubernetes.io/metadata.name".to_string(),
                namespace.to_string(),
            );
            cluster::selects(selector, &labels)
        }
    };
    let pods_match = match (&peer.pod_selector, service) {
        (None, _) | (Some(_), None) => true,
        (Some(selector), Some(_)) => backing_pods_labels(snapshot, namespace, service)
            .iter()
            .any(|labels| cluster::selects(selector, labels)),
    };
    namespace_matches && pods_match
}

fn blocked_diagnosis(
    snapshot: &Snapshot,
    workload: &Workload,
    blocked: &[(Endpoint, Vec<&NetworkPolicy>)],
) -> Diagnosis {
    let subject = workload.subject();
    let policies = &blocked[0].1;
    let policy_names: Vec<&str> = policies
        .iter()
        .map(|p| cluster::name(&p.metadata))
        .collect();
    let targets: Vec<String> = blocked
        .iter()
        .map(|(endpoint, _)| {
            format!(
                "{}:{} ({})",
                endpoint.host, endpoint.port, endpoint.configured_in
            )
        })
        .collect();
    let mut diagnosis = Diagnosis::new(
        &EGRESS_BLOCKED,
        subject.clone(),
        format!(
            "its pods may not connect to {}: NetworkPolicies {} select them for egress and none allows it",
            targets.join(", "),
            policy_names.join(", ")
        ),
    );
    diagnosis.evidence = policies
        .iter()
        .map(|policy| {
            format!(
                "NetworkPolicy {}: {}",
                cluster::qualified(&policy.metadata),
                describe_egress(policy)
            )
        })
        .collect();
    let pods: Vec<_> = snapshot
        .pods
        .iter()
        .filter(|pod| cluster::owner_of(snapshot, pod).as_deref() == Some(subject.as_str()))
        .collect();
    // A blocked dependency makes pods crash or fail their probes; it does not stop images or volumes.
    let stuck: Vec<_> = pods
        .iter()
        .copied()
        .filter(|pod| pod_is_stuck(pod) && started(pod))
        .collect();
    if !pods.is_empty() {
        diagnosis.evidence.push(format!(
            "{} of {} pod(s) Ready",
            pods.iter().filter(|pod| cluster::pod_is_ready(pod)).count(),
            pods.len()
        ));
    }
    for pod in &stuck {
        for (key, log) in &snapshot.logs {
            if !key.starts_with(&format!("{}/", cluster::qualified(&pod.metadata))) {
                continue;
            }
            let mut mentioning = cluster::last_lines(log, 50).into_iter().filter(|line| {
                blocked
                    .iter()
                    .any(|(e, _)| line.contains(&e.host) || line.contains(&format!(":{}", e.port)))
            });
            if let Some(line) = mentioning.next_back() {
                diagnosis.evidence.push(format!("log of {key}: {line}"));
            }
        }
    }
    diagnosis.symptoms = cluster::pod_symptoms(snapshot, &stuck);
    diagnosis.remedy = remedy(snapshot, workload, blocked);
    diagnosis
}

/// Whether the pod's containers got as far as running (so a connection can have failed).
fn started(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    statuses.iter().any(|status| {
        let state = status.state.as_ref();
        let waiting = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref());
        state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
            || waiting == Some("CrashLoopBackOff")
    })
}

/// One line per rule: what a policy lets out.
fn describe_egress(policy: &NetworkPolicy) -> String {
    let rules = egress_rules(policy);
    if rules.is_empty() {
        return "no egress rules (denies all egress)".to_string();
    }
    let shown: Vec<String> = rules
        .iter()
        .map(|rule| {
            let ports = match rule.ports.as_ref().filter(|p| !p.is_empty()) {
                None => "every port".to_string(),
                Some(ports) => ports
                    .iter()
                    .map(|p| {
                        let protocol = p.protocol.as_deref().unwrap_or("TCP");
                        match (&p.port, p.end_port) {
                            (None, _) => format!("{protocol} any"),
                            (Some(IntOrString::Int(first)), Some(last)) => {
                                format!("{protocol} {first}-{last}")
                            }
                            (Some(IntOrString::Int(port)), None) => format!("{protocol} {port}"),
                            (Some(IntOrString::String(name)), _) => format!("{protocol} {name}"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let to = match rule.to.as_ref().filter(|t| !t.is_empty()) {
                None => "anywhere".to_string(),
                Some(peers) => peers
                    .iter()
                    .map(|peer| match &peer.ip_block {
                        Some(block) => format!("ipBlock {}", block.cidr),
                        None => "selected pods".to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!("egress on {ports} to {to}")
        })
        .collect();
    shown.join("; ")
}

/// A NetworkPolicy that would let the blocked connections out, as YAML.
fn remedy(
    snapshot: &Snapshot,
    workload: &Workload,
    blocked: &[(Endpoint, Vec<&NetworkPolicy>)],
) -> String {
    let namespace = cluster::namespace(workload.meta);
    let name = cluster::name(workload.meta);
    let labels = flow_map(&workload.pod_labels());
    let mut rules = Vec::new();
    for (endpoint, _) in blocked {
        let destination = destination(snapshot, namespace, &endpoint.host);
        let port = match policy_port(&destination, endpoint.port) {
            PolicyPort::Number(number) => number.to_string(),
            PolicyPort::Named(name) => name,
        };
        let to = match &destination {
            Destination::External => format!(
                "[{{ipBlock: {{cidr: <CIDR of {}, e.g. its subnets>}}}}]",
                endpoint.host
            ),
            Destination::InCluster { namespace, service } => {
                let pods = service
                    .and_then(|s| s.spec.as_ref())
                    .and_then(|s| s.selector.as_ref())
                    .map(|selector| {
                        format!(", podSelector: {{matchLabels: {}}}", flow_map(selector))
                    })
                    .unwrap_or_default();
                format!(
                    "[{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {namespace}}}}}{pods}}}]"
                )
            }
        };
        rules.push(format!(
            "  - to: {to}\n    ports: [{{port: {port}, protocol: TCP}}]"
        ));
    }
    format!(
        "add a NetworkPolicy (or an egress rule to one) selecting these pods, e.g.\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow-{name}-egress, namespace: {namespace}}}\nspec:\n  podSelector: {{matchLabels: {labels}}}\n  policyTypes: [Egress]\n  egress:\n{}",
        rules.join("\n")
    )
}

/// `{a: b, c: "1"}`: labels as a YAML flow mapping, quoting values YAML would not read as strings.
fn flow_map(labels: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = labels
        .iter()
        .map(|(key, value)| {
            let plain = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
                && value.parse::<f64>().is_err()
                && !matches!(
                    value.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~"
                );
            if plain {
                format!("{key}: {value}")
            } else {
                format!("{key}: \"{value}\"")
            }
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, healthy_with, of_check, snapshot};
    use super::*;

    /// The Redis allow lost its port: gateway-api may resolve names but reach nothing.
    fn redis_blocked() -> String {
        HEALTHY.replace(
            "  - to: [{ipBlock: {cidr: 10.0.0.0/16}}]\n    ports: [{port: 6379, protocol: TCP}]",
            "  - to: [{ipBlock: {cidr: 10.0.0.0/16}}]\n    ports: [{port: 6380, protocol: TCP}]",
        )
    }

    #[test]
    fn allowed_egress_is_silent() {
        assert!(of_check(&diagnose(&snapshot(HEALTHY)), "egress-blocked").is_empty());
    }

    #[test]
    fn configured_endpoints_come_from_env_values_urls_pairs_and_config_maps() {
        let extra = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: reservation-config, namespace: tacos-app}
data:
  DB_HOST: tacos.cluster-abc.ap-northeast-2.rds.amazonaws.com
  DB_PORT: "5432"
  INVENTORY_URL: http://inventory-api.tacos-app.svc.cluster.local:8080/v1
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reservation-api, namespace: tacos-app}
spec:
  selector: {matchLabels: {app: reservation-api}}
  template:
    metadata: {labels: {app: reservation-api}}
    spec:
      containers:
      - name: app
        image: reservation-api:1
        envFrom: [{configMapRef: {name: reservation-config}}]
        env:
        - {name: QUEUE_URL, value: "rediss://:secret@queue.example.com/0"}
        - {name: BIND_ADDR, value: "0.0.0.0:8080"}
        - {name: TIMEOUT, value: "10:30"}
"#;
        let endpoints: Vec<(String, u16, String)> = configured_endpoints(&healthy_with(extra))
            .into_iter()
            .filter(|e| e.workload == "Deployment tacos-app/reservation-api")
            .map(|e| (e.host, e.port, e.configured_in))
            .collect();
        assert_eq!(
            endpoints,
            vec![
                (
                    "inventory-api.tacos-app.svc.cluster.local".to_string(),
                    8080,
                    "env INVENTORY_URL of container app, from ConfigMap tacos-app/reservation-config".to_string()
                ),
                ("queue.example.com".to_string(), 6379, "env QUEUE_URL of container app".to_string()),
                (
                    "tacos.cluster-abc.ap-northeast-2.rds.amazonaws.com".to_string(),
                    5432,
                    "env DB_HOST of container app, from ConfigMap tacos-app/reservation-config + DB_PORT".to_string()
                ),
            ]
        );
    }

    #[test]
    fn config_map_key_refs_are_resolved() {
        let extra = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: redis, namespace: tacos-app}
data: {address: "redis.tacos-app:6379"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: worker, namespace: tacos-app}
spec:
  selector: {matchLabels: {app: worker}}
  serviceName: worker
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
      - name: worker
        image: worker:1
        env: [{name: REDIS, valueFrom: {configMapKeyRef: {name: redis, key: address}}}]
"#;
        let endpoints = configured_endpoints(&healthy_with(extra));
        let worker: Vec<_> = endpoints
            .iter()
            .filter(|e| e.workload == "StatefulSet tacos-app/worker")
            .collect();
        assert_eq!(worker.len(), 1);
        assert_eq!(worker[0].host, "redis.tacos-app");
        assert_eq!(
            worker[0].configured_in,
            "env REDIS of container worker, from ConfigMap tacos-app/redis key address"
        );
    }

    #[test]
    fn external_endpoint_without_an_allowing_rule_names_the_policies_and_the_rule_to_add() {
        let diagnoses = diagnose(&snapshot(&redis_blocked()));
        let found = of_check(&diagnoses, "egress-blocked");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(found[0].subject, "Deployment tacos-app/gateway-api");
        assert_eq!(
            found[0].cause,
            "its pods may not connect to master.tacos-redis.abc123.apn2.cache.amazonaws.com:6379 (env REDIS_ADDR of container gateway-api): NetworkPolicies default-deny, allow-dns, allow-redis select them for egress and none allows it"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "NetworkPolicy tacos-app/default-deny: no egress rules (denies all egress)",
                "NetworkPolicy tacos-app/allow-dns: egress on UDP 53, TCP 53 to anywhere",
                "NetworkPolicy tacos-app/allow-redis: egress on TCP 6380 to ipBlock 10.0.0.0/16",
                "2 of 2 pod(s) Ready",
            ]
        );
        assert!(
            found[0].remedy.ends_with(
                "  podSelector: {matchLabels: {app: gateway-api}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: <CIDR of master.tacos-redis.abc123.apn2.cache.amazonaws.com, e.g. its subnets>}}]\n    ports: [{port: 6379, protocol: TCP}]"
            ),
            "{}",
            found[0].remedy
        );
    }

    #[test]
    fn pod_selector_peers_do_not_reach_outside_the_cluster() {
        let yaml = HEALTHY.replace(
            "  - to: [{ipBlock: {cidr: 10.0.0.0/16}}]",
            "  - to: [{namespaceSelector: {}}]",
        );
        assert_eq!(
            of_check(&diagnose(&snapshot(&yaml)), "egress-blocked").len(),
            1
        );
    }

    #[test]
    fn crashing_pods_of_a_blocked_workload_are_its_symptoms_with_the_log_line() {
        let yaml = redis_blocked().replace(
            "imageID: \"\", ready: true, restartCount: 0, state: {running: {}}}",
            "imageID: \"\", ready: false, restartCount: 7, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 1, reason: Error}}}",
        ).replace(
            "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"True\"}]",
            "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"False\"}]",
        );
        let mut snapshot = snapshot(&yaml);
        snapshot.logs.insert(
            "tacos-app/gateway-api-7d9-abc/gateway-api".to_string(),
            "starting\nredis: dial tcp 10.0.1.5:6379: i/o timeout\n".to_string(),
        );
        let diagnoses = diagnose(&snapshot);
        let found = of_check(&diagnoses, "egress-blocked");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(
            found[0].symptoms,
            vec![
                "Deployment tacos-app/gateway-api",
                "Pod tacos-app/gateway-api-7d9-abc",
                "Pod tacos-app/gateway-api-7d9-def",
            ]
        );
        assert!(found[0].evidence.contains(
            &"log of tacos-app/gateway-api-7d9-abc/gateway-api: redis: dial tcp 10.0.1.5:6379: i/o timeout".to_string()
        ));
        assert!(
            of_check(&diagnoses, "pods-not-ready").is_empty(),
            "{diagnoses:#?}"
        );
    }

    #[test]
    fn in_cluster_service_is_checked_at_its_target_port_and_pods() {
        let extra = r#"
apiVersion: v1
kind: Service
metadata: {name: inventory-api, namespace: tacos-app}
spec:
  selector: {app: inventory-api}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reservation-api, namespace: tacos-app}
spec:
  selector: {matchLabels: {app: reservation-api}}
  template:
    metadata: {labels: {app: reservation-api}}
    spec:
      containers:
      - name: app
        image: reservation-api:1
        env: [{name: INVENTORY_URL, value: "http://inventory-api/v1"}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-inventory, namespace: tacos-app}
spec:
  podSelector: {matchLabels: {app: reservation-api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: inventory-api}}}]
    ports: [{port: 8080}]
"#;
        assert!(of_check(&diagnose(&healthy_with(extra)), "egress-blocked").is_empty());
        let service_port_only = extra.replace("ports: [{port: 8080}]", "ports: [{port: 80}]");
        let diagnoses = diagnose(&healthy_with(&service_port_only));
        let found = of_check(&diagnoses, "egress-blocked");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert!(found[0].remedy.ends_with(
            "  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: tacos-app}}, podSelector: {matchLabels: {app: inventory-api}}}]\n    ports: [{port: 8080, protocol: TCP}]"
        ), "{}", found[0].remedy);
        let other_pods = extra.replace(
            "podSelector: {matchLabels: {app: inventory-api}}}]",
            "podSelector: {matchLabels: {app: payment}}}]",
        );
        assert_eq!(
            of_check(&diagnose(&healthy_with(&other_pods)), "egress-blocked").len(),
            1
        );
    }

    #[test]
    fn pods_no_policy_isolates_may_reach_anything() {
        let yaml = redis_blocked().replace("policyTypes: [Ingress, Egress]", "policyTypes: [Ingress]")
            .replace("  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 53", "  podSelector: {matchLabels: {app: none}}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 53")
            .replace("  podSelector: {matchLabels: {app: gateway-api}}\n  policyTypes: [Egress]", "  podSelector: {matchLabels: {app: none}}\n  policyTypes: [Egress]");
        assert!(of_check(&diagnose(&snapshot(&yaml)), "egress-blocked").is_empty());
    }
}
