//! Lookups over a snapshot that every analysis shares: subjects, owners, readiness, events, selectors.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Map, Value};

use super::Snapshot;
pub use crate::k8s::typed::{Workload, labels, name, namespace, subject, subject_of};
use crate::k8s::workloads::selector_matches;

/// The subject of a custom object held as JSON.
pub fn json_subject(object: &Value) -> String {
    subject_of(
        object["kind"].as_str().unwrap_or("Object"),
        object["metadata"]["namespace"].as_str(),
        object["metadata"]["name"].as_str().unwrap_or("?"),
    )
}

pub fn pod_subject(pod: &Pod) -> String {
    subject("Pod", &pod.metadata)
}

/// The workload that owns `pod`: its Deployment (through the ReplicaSet), StatefulSet, DaemonSet or Job;
/// None for a bare pod.
pub fn owner_of(snapshot: &Snapshot, pod: &Pod) -> Option<String> {
    let namespace = pod.metadata.namespace.as_deref();
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller.unwrap_or(true))?;
    if owner.kind != "ReplicaSet" {
        return Some(subject_of(&owner.kind, namespace, &owner.name));
    }
    Some(replica_set_owner(snapshot, namespace, &owner.name, pod))
}

/// The Deployment behind a ReplicaSet, from the ReplicaSet's owner or, when the ReplicaSet is not in the
/// snapshot, from its name without the pod-template-hash suffix.
fn replica_set_owner(
    snapshot: &Snapshot,
    namespace: Option<&str>,
    replica_set: &str,
    pod: &Pod,
) -> String {
    let listed = snapshot.replica_sets.iter().find(|rs| {
        rs.metadata.namespace.as_deref() == namespace && name(&rs.metadata) == replica_set
    });
    if let Some(listed) = listed {
        return match listed.metadata.owner_references.iter().flatten().next() {
            Some(owner) => subject_of(&owner.kind, namespace, &owner.name),
            None => subject_of("ReplicaSet", namespace, replica_set),
        };
    }
    let hash = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get("pod-template-hash"));
    match hash.and_then(|hash| replica_set.strip_suffix(&format!("-{hash}"))) {
        Some(deployment) => subject_of("Deployment", namespace, deployment),
        None => subject_of("ReplicaSet", namespace, replica_set),
    }
}

/// The subject of the workload owning `pod`, or the pod itself when it has no owner.
pub fn workload_of(snapshot: &Snapshot, pod: &Pod) -> String {
    owner_of(snapshot, pod).unwrap_or_else(|| pod_subject(pod))
}

/// Whether the pod's Ready condition is True.
pub fn pod_is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Pods that should be running and are not Ready: not finished (Succeeded, or Failed such as evicted,
/// which their controller replaces) and not being deleted.
pub fn pod_is_stuck(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let finished = matches!(phase, Some("Succeeded" | "Failed"));
    !finished && pod.metadata.deletion_timestamp.is_none() && !pod_is_ready(pod)
}

pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

/// The Ready condition of a node is True.
pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Events about the object `kind` `namespace`/`name`.
pub fn events_for<'a>(
    snapshot: &'a Snapshot,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
) -> impl Iterator<Item = &'a Event> + 'a {
    snapshot.events.iter().filter(move |event| {
        let object = &event.involved_object;
        object.kind.as_deref() == Some(kind)
            && object.namespace.as_deref().unwrap_or_default() == namespace
            && object.name.as_deref() == Some(name)
    })
}

pub fn pod_events<'a>(
    snapshot: &'a Snapshot,
    pod: &'a Pod,
) -> impl Iterator<Item = &'a Event> + 'a {
    events_for(
        snapshot,
        "Pod",
        namespace(&pod.metadata),
        name(&pod.metadata),
    )
}

/// How many times an event was seen (1 when it does not say).
pub fn event_count(event: &Event) -> i64 {
    let series = event.series.as_ref().and_then(|s| s.count);
    i64::from(series.or(event.count).unwrap_or(1).max(1))
}

pub fn event_reason(event: &Event) -> &str {
    event.reason.as_deref().unwrap_or_default()
}

pub fn event_message(event: &Event) -> &str {
    event.message.as_deref().unwrap_or_default().trim()
}

/// Several events with the same meaning shown as one line: the most frequent message, with the total count.
pub fn summarize_events(reason: &str, events: &[&Event]) -> Option<String> {
    let most_seen = events.iter().max_by_key(|e| event_count(e))?;
    let total: i64 = events.iter().map(|e| event_count(e)).sum();
    let on = events
        .iter()
        .map(|e| e.involved_object.name.as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let times = if total == 1 {
        "once".to_string()
    } else {
        format!("{total} times")
    };
    let across = if on > 1 {
        format!(" across {on} objects")
    } else {
        String::new()
    };
    Some(format!(
        "event {reason} ({times}{across}): {}",
        event_message(most_seen)
    ))
}

/// Whether a LabelSelector selects `labels` (the same reading as lint's; `{}` selects all).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let selector = serde_json::to_value(selector).unwrap_or(Value::Null);
    let selector = if selector.is_null() {
        Value::Object(Map::new())
    } else {
        selector
    };
    selector_matches(&selector, &label_map(labels))
}

fn label_map(labels: &BTreeMap<String, String>) -> Map<String, Value> {
    labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

pub fn workloads(snapshot: &Snapshot) -> Vec<Workload<'_>> {
    let deployments = snapshot.deployments.iter().filter_map(|d| {
        Some(Workload {
            kind: "Deployment",
            meta: &d.metadata,
            template: &d.spec.as_ref()?.template,
        })
    });
    let stateful_sets = snapshot.stateful_sets.iter().filter_map(|s| {
        Some(Workload {
            kind: "StatefulSet",
            meta: &s.metadata,
            template: &s.spec.as_ref()?.template,
        })
    });
    let daemon_sets = snapshot.daemon_sets.iter().filter_map(|d| {
        Some(Workload {
            kind: "DaemonSet",
            meta: &d.metadata,
            template: &d.spec.as_ref()?.template,
        })
    });
    deployments
        .chain(stateful_sets)
        .chain(daemon_sets)
        .collect()
}

/// The last `count` non-empty lines of a log.
pub fn last_lines(log: &str, count: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..]
        .iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// Whether `resource` (a plural such as `services`) was read: no entry of `snapshot.unreadable` names it.
pub fn readable(snapshot: &Snapshot, resource: &str) -> bool {
    !snapshot.unreadable.iter().any(|entry| {
        entry
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word.eq_ignore_ascii_case(resource))
    })
}

/// The conditions of a custom object held as JSON.
pub fn json_conditions(conditions: &Value) -> impl Iterator<Item = &Value> {
    conditions.as_array().into_iter().flatten()
}

/// `Type=Status (Reason: message)` for a JSON condition.
pub fn describe_condition(condition: &Value) -> String {
    let type_ = condition["type"].as_str().unwrap_or("?");
    let status = condition["status"].as_str().unwrap_or("Unknown");
    let reason = condition["reason"].as_str().unwrap_or("no reason");
    match condition["message"].as_str().filter(|m| !m.is_empty()) {
        Some(message) => format!("{type_}={status} ({reason}: {message})"),
        None => format!("{type_}={status} ({reason})"),
    }
}

/// The symptoms stuck pods stand for: each pod and the workload owning it.
pub fn pod_symptoms(snapshot: &Snapshot, pods: &[&Pod]) -> Vec<String> {
    let mut symptoms: Vec<String> = pods
        .iter()
        .flat_map(|pod| [pod_subject(pod), workload_of(snapshot, pod)])
        .collect();
    symptoms.sort();
    symptoms.dedup();
    symptoms
}

/// `namespace/name` of an object.
pub fn qualified(meta: &ObjectMeta) -> String {
    format!("{}/{}", namespace(meta), name(meta))
}
