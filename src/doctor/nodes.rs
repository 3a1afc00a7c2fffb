//! Nodes that are NotReady or under memory, disk or PID pressure, with the pods stranded on them.

use k8s_openapi::api::core::v1::{Node, NodeCondition};

use super::analysis::Diagnoses;
use super::cluster::{self, node_name, pod_is_stuck};
use super::{Diagnosis, Snapshot};
use crate::report::rule;

rule!(
    NODE_HEALTH,
    "doctor",
    "node-health",
    Error,
    "every node is Ready and under no memory, disk or PID pressure",
    "kubectl describe node NAME; replace a node that stays NotReady (kubectl drain NAME --ignore-daemonsets --delete-emptydir-data)"
);

const PRESSURES: &[(&str, &str)] = &[
    (
        "MemoryPressure",
        "set memory limits on the pods using the most (kubectl top pods -A --sort-by=memory) or move to larger nodes",
    ),
    (
        "DiskPressure",
        "free the node's disk (unused images, emptyDir volumes, container logs) or grow its root volume in the node group's launch template",
    ),
    (
        "PIDPressure",
        "find the pod spawning processes (kubectl top pods -A) and fix it, or raise the kubelet's podPidsLimit",
    ),
];

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    for node in &snapshot.nodes {
        if let Some(diagnosis) = diagnose_node(snapshot, node) {
            diagnoses.add(diagnosis);
        }
    }
}

fn diagnose_node(snapshot: &Snapshot, node: &Node) -> Option<Diagnosis> {
    let name = cluster::name(&node.metadata);
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let ready = conditions.iter().find(|c| c.type_ == "Ready");
    let not_ready = ready.is_none_or(|c| c.status != "True");
    let pressures: Vec<&(&str, &str)> = PRESSURES
        .iter()
        .filter(|(type_, _)| {
            conditions
                .iter()
                .any(|c| c.type_ == *type_ && c.status == "True")
        })
        .collect();
    if !not_ready && pressures.is_empty() {
        return None;
    }
    let mut states = Vec::new();
    if not_ready {
        states.push("NotReady".to_string());
    }
    if !pressures.is_empty() {
        let names: Vec<&str> = pressures.iter().map(|(type_, _)| *type_).collect();
        states.push(format!("under {}", names.join(" and ")));
    }
    let mut diagnosis = Diagnosis::new(
        &NODE_HEALTH,
        cluster::subject("Node", &node.metadata),
        format!("node {name} is {}", states.join(" and ")),
    );
    diagnosis.evidence = match ready {
        Some(ready) if not_ready => vec![describe(ready)],
        None => vec!["no Ready condition: the kubelet never reported".to_string()],
        Some(_) => Vec::new(),
    };
    diagnosis.evidence.extend(
        conditions
            .iter()
            .filter(|c| c.type_ != "Ready" && c.status == "True")
            .map(describe),
    );
    let on_node = || {
        snapshot
            .pods
            .iter()
            .filter(move |pod| node_name(pod) == Some(name))
    };
    let evicted = on_node()
        .filter(|pod| pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted"))
        .count();
    if evicted > 0 {
        diagnosis
            .evidence
            .push(format!("{evicted} pod(s) evicted from this node"));
    }
    let mut remedies = Vec::new();
    if not_ready {
        let stranded: Vec<_> = on_node().filter(|pod| pod_is_stuck(pod)).collect();
        diagnosis.symptoms = cluster::pod_symptoms(snapshot, &stranded);
        remedies.push(format!(
            "check the kubelet and the instance (kubectl describe node {name}; aws ec2 describe-instance-status), then drain and replace the node: kubectl drain {name} --ignore-daemonsets --delete-emptydir-data"
        ));
    }
    remedies.extend(
        pressures
            .iter()
            .map(|(type_, remedy)| format!("{type_}: {remedy}")),
    );
    diagnosis.remedy = remedies.join("; ");
    Some(diagnosis)
}

fn describe(condition: &NodeCondition) -> String {
    let reason = condition.reason.as_deref().unwrap_or("no reason");
    match condition.message.as_deref().filter(|m| !m.is_empty()) {
        Some(message) => format!(
            "{}={} ({reason}: {message})",
            condition.type_, condition.status
        ),
        None => format!("{}={} ({reason})", condition.type_, condition.status),
    }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, of_check, snapshot};

    #[test]
    fn ready_nodes_without_pressure_are_silent() {
        assert!(of_check(&diagnose(&snapshot(HEALTHY)), "node-health").is_empty());
    }

    #[test]
    fn not_ready_node_claims_the_pods_stranded_on_it() {
        let yaml = HEALTHY
            .replace(
                "  - {type: Ready, status: \"True\", reason: KubeletReady}\n---\napiVersion: apps/v1",
                "  - {type: Ready, status: Unknown, reason: NodeStatusUnknown, message: Kubelet stopped posting node status.}\n---\napiVersion: apps/v1",
            )
            .replace(
                "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"True\"}]",
                "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"False\"}]",
            );
        let diagnoses = diagnose(&snapshot(&yaml));
        let found = of_check(&diagnoses, "node-health");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(found[0].subject, "Node ip-10-0-3-12");
        assert_eq!(found[0].cause, "node ip-10-0-3-12 is NotReady");
        assert_eq!(
            found[0].evidence,
            vec!["Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)"]
        );
        assert!(
            found[0]
                .symptoms
                .contains(&"Pod tacos-app/gateway-api-7d9-abc".to_string())
        );
        assert!(
            found[0]
                .symptoms
                .contains(&"Deployment tacos-app/gateway-api".to_string())
        );
        assert!(
            of_check(&diagnoses, "pods-not-ready").is_empty(),
            "{diagnoses:#?}"
        );
    }

    #[test]
    fn memory_pressure_is_an_error_naming_the_evictions() {
        let yaml = format!(
            "{}\n---\n{}",
            HEALTHY.replacen(
                "  - {type: MemoryPressure, status: \"False\", reason: KubeletHasSufficientMemory}",
                "  - {type: MemoryPressure, status: \"True\", reason: KubeletHasInsufficientMemory, message: kubelet has insufficient memory available}",
                1,
            ),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: evicted, namespace: tacos-app}\nspec: {nodeName: ip-10-0-1-10, containers: [{name: c, image: c}]}\nstatus: {phase: Failed, reason: Evicted}\n"
        );
        let diagnoses = diagnose(&snapshot(&yaml));
        let found = of_check(&diagnoses, "node-health");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(found[0].cause, "node ip-10-0-1-10 is under MemoryPressure");
        assert_eq!(
            found[0].evidence,
            vec![
                "MemoryPressure=True (KubeletHasInsufficientMemory: kubelet has insufficient memory available)",
                "1 pod(s) evicted from this node",
            ]
        );
        assert!(
            found[0]
                .remedy
                .starts_with("MemoryPressure: set memory limits")
        );
    }
}
