//! When an applied object is really up: one small rule per kind, evaluated on the live object's JSON (pure, unit-tested without a cluster).

use serde_json::Value;

use crate::repo::{Location, Object, ObjectKey};

/// What a readiness rule says about a live object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet: what it is waiting on.
    Pending(String),
    /// Failed: this must hold for the failure window before the phase fails (transients pass).
    Failed(String),
    /// No rule for this kind: reported as "not waited on", never called ready.
    NotWaited(String),
}

impl Readiness {
    pub fn is_settled(&self) -> bool {
        matches!(self, Readiness::Ready | Readiness::NotWaited(_))
    }
}

/// Kinds whose existence is all there is to wait for (no controller reports on them).
const EXISTS_IS_READY: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"),
    ("gateway.networking.k8s.io", "ReferenceGrant"),
    ("argoproj.io", "AppProject"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
    ("monitoring.coreos.com", "AlertmanagerConfig"),
    ("secrets-store.csi.x-k8s.io", "SecretProviderClass"),
    ("gateway.k8s.aws", "LoadBalancerConfiguration"),
    ("gateway.k8s.aws", "TargetGroupConfiguration"),
    ("keda.sh", "TriggerAuthentication"),
];

/// The readiness of `live` (a whole object as the apiserver returns it). `expected_revision` is the
/// Git revision Argo CD Applications must be synced at, when known.
pub fn readiness(live: &Value, expected_revision: Option<&str>) -> Readiness {
    let api_version = live["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let kind = live["kind"].as_str().unwrap_or_default();
    if EXISTS_IS_READY.contains(&(group, kind)) {
        return Readiness::Ready;
    }
    match (group, kind) {
        ("", "Namespace") => namespace(live),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(live),
        ("apps", "Deployment") => deployment(live),
        ("apps", "StatefulSet") => stateful_set(live),
        ("apps", "DaemonSet") => daemon_set(live),
        ("batch", "Job") => job(live),
        ("", "Service") => service(live),
        ("", "PersistentVolumeClaim") => pvc(live),
        ("", "Pod") => pod(live),
        ("gateway.networking.k8s.io", "Gateway") => gateway(live),
        ("gateway.networking.k8s.io", "GatewayClass") => condition_true(
            live,
            "Accepted",
            "the GatewayClass Accepted by its controller",
        ),
        ("gateway.networking.k8s.io", "HTTPRoute" | "GRPCRoute") => route(live),
        ("argoproj.io", "Application") => application(live, expected_revision),
        ("keda.sh", "ScaledObject") => {
            condition_true(live, "Ready", "the ScaledObject Ready (KEDA)")
        }
        _ => Readiness::NotWaited(format!("no readiness rule for {kind}.{group}")),
    }
}

fn conditions(live: &Value) -> impl Iterator<Item = &Value> {
    live["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
}

fn condition<'a>(live: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions(live).find(|c| c["type"] == type_)
}

fn describe(condition: &Value) -> String {
    let reason = condition["reason"].as_str().unwrap_or("no reason");
    match condition["message"].as_str().filter(|m| !m.is_empty()) {
        Some(message) => format!("{reason}: {message}"),
        None => reason.to_string(),
    }
}

fn condition_true(live: &Value, type_: &str, waiting_for: &str) -> Readiness {
    match condition(live, type_) {
        Some(c) if c["status"] == "True" => Readiness::Ready,
        Some(c) => Readiness::Pending(format!(
            "{waiting_for} ({type_}={}, {})",
            c["status"].as_str().unwrap_or("?"),
            describe(c)
        )),
        None => Readiness::Pending(format!("{waiting_for} (no {type_} condition yet)")),
    }
}

fn generation_observed(live: &Value) -> Option<Readiness> {
    let generation = live["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = live["status"]["observedGeneration"].as_i64().unwrap_or(0);
    (observed < generation).then(|| {
        Readiness::Pending(format!(
            "the controller to observe generation {generation} (seen {observed})"
        ))
    })
}

fn count(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn namespace(live: &Value) -> Readiness {
    match live["status"]["phase"].as_str() {
        Some("Active") | None => Readiness::Ready,
        Some(phase) => Readiness::Failed(format!("namespace is {phase}")),
    }
}

fn crd(live: &Value) -> Readiness {
    match condition_true(live, "Established", "the CRD Established") {
        Readiness::Ready => condition_true(live, "NamesAccepted", "the CRD's names accepted"),
        other => other,
    }
}

fn deployment(live: &Value) -> Readiness {
    if let Some(c) = condition(live, "Progressing")
        && c["status"] == "False"
        && c["reason"] == "ProgressDeadlineExceeded"
    {
        return Readiness::Failed(format!("rollout stalled: {}", describe(c)));
    }
    if let Some(pending) = generation_observed(live) {
        return pending;
    }
    let desired = live["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &live["status"];
    let updated = count(&status["updatedReplicas"]);
    let unavailable = count(&status["unavailableReplicas"]);
    let total = count(&status["replicas"]);
    if updated < desired {
        return Readiness::Pending(format!("{updated}/{desired} replicas updated"));
    }
    if total > updated {
        return Readiness::Pending(format!(
            "{} old replica(s) still terminating",
            total - updated
        ));
    }
    if unavailable > 0 || count(&status["availableReplicas"]) < desired {
        return Readiness::Pending(format!(
            "{}/{desired} replicas available",
            count(&status["availableReplicas"])
        ));
    }
    Readiness::Ready
}

fn stateful_set(live: &Value) -> Readiness {
    if let Some(pending) = generation_observed(live) {
        return pending;
    }
    let desired = live["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &live["status"];
    let ready = count(&status["readyReplicas"]);
    let updated = count(&status["updatedReplicas"]);
    if ready < desired || updated < desired {
        return Readiness::Pending(format!(
            "{ready}/{desired} replicas ready, {updated} updated"
        ));
    }
    Readiness::Ready
}

fn daemon_set(live: &Value) -> Readiness {
    if let Some(pending) = generation_observed(live) {
        return pending;
    }
    let status = &live["status"];
    let desired = count(&status["desiredNumberScheduled"]);
    let ready = count(&status["numberReady"]);
    let updated = count(&status["updatedNumberScheduled"]);
    if ready < desired || updated < desired {
        return Readiness::Pending(format!("{ready}/{desired} pods ready, {updated} updated"));
    }
    Readiness::Ready
}

fn job(live: &Value) -> Readiness {
    if let Some(c) = condition(live, "Failed").filter(|c| c["status"] == "True") {
        return Readiness::Failed(format!("job failed: {}", describe(c)));
    }
    condition_true(live, "Complete", "the Job to complete")
}

fn service(live: &Value) -> Readiness {
    if live["spec"]["type"] != "LoadBalancer" {
        return Readiness::Ready;
    }
    let has_address = live["status"]["loadBalancer"]["ingress"]
        .as_array()
        .is_some_and(|i| !i.is_empty());
    if has_address {
        Readiness::Ready
    } else {
        Readiness::Pending("a load balancer address".into())
    }
}

fn pvc(live: &Value) -> Readiness {
    match live["status"]["phase"].as_str() {
        Some("Bound") => Readiness::Ready,
        Some("Lost") => Readiness::Failed("the claim lost its volume".into()),
        phase => Readiness::Pending(format!(
            "the claim to be Bound (is {})",
            phase.unwrap_or("unset")
        )),
    }
}

fn pod(live: &Value) -> Readiness {
    match live["status"]["phase"].as_str() {
        Some("Succeeded") => Readiness::Ready,
        Some("Failed") => Readiness::Failed(format!(
            "pod failed: {}",
            live["status"]["reason"].as_str().unwrap_or("unknown")
        )),
        _ => condition_true(live, "Ready", "the pod Ready"),
    }
}

fn at_generation(live: &Value, condition: &Value) -> bool {
    let generation = live["metadata"]["generation"].as_i64().unwrap_or(0);
    condition["observedGeneration"]
        .as_i64()
        .is_none_or(|observed| observed >= generation)
}

fn gateway(live: &Value) -> Readiness {
    for type_ in ["Accepted", "Programmed"] {
        match condition(live, type_) {
            Some(c) if c["status"] == "True" && at_generation(live, c) => {}
            Some(c) if c["status"] == "False" && at_generation(live, c) && type_ == "Accepted" => {
                return Readiness::Failed(format!("Gateway not Accepted: {}", describe(c)));
            }
            Some(c) => {
                return Readiness::Pending(format!(
                    "Gateway {type_} at the current generation ({})",
                    describe(c)
                ));
            }
            None => {
                return Readiness::Pending(format!(
                    "Gateway {type_} (no condition yet; is the AWS Load Balancer Controller running?)"
                ));
            }
        }
    }
    for listener in live["status"]["listeners"].as_array().into_iter().flatten() {
        let name = listener["name"].as_str().unwrap_or("?");
        let resolved = listener["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "ResolvedRefs");
        match resolved {
            Some(c) if c["status"] == "True" => {}
            Some(c) => {
                return Readiness::Failed(format!(
                    "listener {name} refs not resolved: {}",
                    describe(c)
                ));
            }
            None => return Readiness::Pending(format!("listener {name} ResolvedRefs")),
        }
    }
    let has_address = live["status"]["addresses"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if has_address {
        Readiness::Ready
    } else {
        Readiness::Pending("an address for the Gateway (the ALB's DNS name)".into())
    }
}

fn route(live: &Value) -> Readiness {
    let parents = live["status"]["parents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if parents.is_empty() {
        return Readiness::Pending(
            "the route to be Accepted by its Gateway (no parent status yet)".into(),
        );
    }
    for parent in &parents {
        let gateway = parent["parentRef"]["name"].as_str().unwrap_or("?");
        for type_ in ["Accepted", "ResolvedRefs"] {
            match parent["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == type_)
            {
                Some(c) if c["status"] == "True" => {}
                Some(c) => {
                    return Readiness::Failed(format!(
                        "not {type_} by Gateway {gateway}: {}",
                        describe(c)
                    ));
                }
                None => return Readiness::Pending(format!("{type_} by Gateway {gateway}")),
            }
        }
    }
    Readiness::Ready
}

/// An Argo CD Application is up when it is Synced and Healthy at the expected commit with no sync
/// running and none failed at that commit. Argo CD's own failure (a comparison error, a failed sync, a Degraded
/// resource) fails it with Argo CD's message and the resource it names.
fn application(live: &Value, expected_revision: Option<&str>) -> Readiness {
    let status = &live["status"];
    let sync = status["sync"]["status"].as_str().unwrap_or("Unknown");
    let health = status["health"]["status"].as_str().unwrap_or("Unknown");
    let errors: Vec<String> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"].as_str().is_some_and(|t| t.ends_with("Error")))
        .map(|c| {
            format!(
                "{}: {}",
                c["type"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if !errors.is_empty() {
        return Readiness::Failed(errors.join("; "));
    }
    let operation = &status["operationState"];
    let phase = operation["phase"].as_str().unwrap_or_default();
    let at_expected = |revisions: &Value, single: &Value| match expected_revision {
        None => true,
        Some(expected) => single
            .as_str()
            .into_iter()
            .chain(
                revisions
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            )
            .any(|r| r == expected),
    };
    let operation_at_expected = at_expected(
        &operation["syncResult"]["revisions"],
        &operation["syncResult"]["revision"],
    );
    if matches!(phase, "Failed" | "Error") && operation_at_expected {
        let mut message = operation["message"]
            .as_str()
            .unwrap_or("the sync failed")
            .to_string();
        let failed = sync_failures(operation);
        if !failed.is_empty() {
            message = format!("{message} ({})", failed.join("; "));
        }
        return Readiness::Failed(format!("sync {phase}: {message}"));
    }
    // Argo CD retries a failed sync with backoff (syncPolicy.retry) and keeps the operation
    // Running meanwhile: the wait says what failed, since a refusal does not heal by retrying.
    let retries = operation["retryCount"].as_i64().unwrap_or(0);
    let failed = sync_failures(operation);
    if phase == "Running" && retries > 0 && operation_at_expected && !failed.is_empty() {
        // A kind the project does not permit stays refused until the AppProject changes.
        if failed.iter().any(|f| f.contains(NOT_PERMITTED_IN_PROJECT)) {
            return Readiness::Failed(format!(
                "Argo CD refuses the sync (retried {retries} time(s)): {}",
                failed.join("; ")
            ));
        }
        return Readiness::Pending(format!(
            "Argo CD's sync, retried {retries} time(s) after: {}",
            failed.join("; ")
        ));
    }
    if health == "Degraded" {
        let degraded: Vec<String> = status["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["health"]["status"] == "Degraded")
            .map(|r| {
                format!(
                    "{} {}: {}",
                    r["kind"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default(),
                    r["health"]["message"].as_str().unwrap_or("Degraded")
                )
            })
            .collect();
        let message = if degraded.is_empty() {
            status["health"]["message"]
                .as_str()
                .unwrap_or("see argocd app get")
                .to_string()
        } else {
            degraded.join("; ")
        };
        return Readiness::Failed(format!("Application Degraded: {message}"));
    }
    if !at_expected(&status["sync"]["revisions"], &status["sync"]["revision"]) {
        let is = status["sync"]["revision"]
            .as_str()
            .or_else(|| status["sync"]["revisions"][0].as_str())
            .unwrap_or("none yet");
        return Readiness::Pending(format!(
            "Application at commit {} (is {is})",
            expected_revision.unwrap_or_default()
        ));
    }
    if sync != "Synced" {
        let drifted: Vec<String> = status["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"].as_str().is_some_and(|s| s != "Synced"))
            .map(|r| {
                let namespace = r["namespace"].as_str().unwrap_or_default();
                let name = r["name"].as_str().unwrap_or_default();
                let name = if namespace.is_empty() {
                    name.to_string()
                } else {
                    format!("{namespace}/{name}")
                };
                format!("{} {name}", r["kind"].as_str().unwrap_or_default())
            })
            .collect();
        return Readiness::Pending(if drifted.is_empty() {
            format!("Application Synced (is {sync})")
        } else {
            format!("Application Synced (is {sync}: {})", drifted.join(", "))
        });
    }
    // A sync still running is not done; one that ran at an older commit is history when the
    // Application is Synced at this one (Argo CD syncs only what changed between them).
    if matches!(phase, "Running" | "Terminating") {
        return Readiness::Pending(format!("the sync in progress ({phase}) to finish"));
    }
    if health != "Healthy" {
        return Readiness::Pending(format!("Application Healthy (is {health})"));
    }
    Readiness::Ready
}

/// How Argo CD's application controller words a kind its AppProject does not permit.
const NOT_PERMITTED_IN_PROJECT: &str = "is not permitted in project";

/// The objects an Application's last sync operation failed on, each with Argo CD's message.
fn sync_failures(operation: &Value) -> Vec<String> {
    operation["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "SyncFailed")
        .map(|r| {
            format!(
                "{} {}: {}",
                r["kind"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
                r["message"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// A workload's replica floor, declared by the autoscaler that owns its `replicas` (an HPA's
/// `minReplicas` or a KEDA ScaledObject's `minReplicaCount`). Charts leave `replicas` unset so
/// Argo CD does not fight the autoscaler, so a Deployment first comes up with one pod and reaches
/// its floor only once the autoscaler acts: until then the service is up but not at strength.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaFloor {
    pub workload: ObjectKey,
    pub min_replicas: i64,
    /// The autoscaler that declares it, and where.
    pub declared_by: ObjectKey,
    pub declared_at: Location,
}

/// The replica floors the autoscalers among `objects` declare (floors of 0 or 1 need no wait).
pub fn replica_floors(objects: &[Object]) -> Vec<ReplicaFloor> {
    objects
        .iter()
        .filter_map(|object| {
            let (field, default) = if object.is("autoscaling", "HorizontalPodAutoscaler") {
                ("minReplicas", 1)
            } else if object.is("keda.sh", "ScaledObject") {
                ("minReplicaCount", 0)
            } else {
                return None;
            };
            let mut min_replicas = object.value["spec"][field].as_i64().unwrap_or(default);
            // KEDA scales an idle workload to idleReplicaCount, below its minReplicaCount, and a
            // paused autoscaler holds it wherever it is.
            if let Some(idle) = object.value["spec"]["idleReplicaCount"].as_i64() {
                min_replicas = min_replicas.min(idle);
            }
            let annotations = &object.value["metadata"]["annotations"];
            if !annotations["autoscaling.keda.sh/paused"].is_null()
                || !annotations["autoscaling.keda.sh/paused-replicas"].is_null()
            {
                return None;
            }
            let target = &object.value["spec"]["scaleTargetRef"];
            let kind = target["kind"].as_str().unwrap_or("Deployment");
            let name = target["name"].as_str()?;
            (min_replicas > 1 && matches!(kind, "Deployment" | "StatefulSet")).then(|| {
                ReplicaFloor {
                    workload: ObjectKey {
                        group: "apps".into(),
                        kind: kind.into(),
                        // As the applier places a namespaced object written without one.
                        namespace: Some(object.namespace().unwrap_or("default").to_string()),
                        name: name.into(),
                    },
                    min_replicas,
                    declared_by: object.key(),
                    declared_at: object.location_of(&format!("/spec/{field}")),
                }
            })
        })
        .collect()
}

/// Whether the live workload is ready at its floor: its kind's own rule holds (every replica it
/// asks for is available) and the autoscaler has scaled it to at least `floor` replicas.
pub fn at_floor(live: &Value, floor: i64) -> Readiness {
    let own = readiness(live, None);
    if own != Readiness::Ready {
        return own;
    }
    let replicas = live["spec"]["replicas"].as_i64().unwrap_or(1);
    if replicas == 0 {
        // Scaled to zero by hand: the HPA controller leaves such a workload alone.
        return Readiness::NotWaited(format!(
            "scaled to 0 replicas, so its autoscaler (floor {floor}) is off"
        ));
    }
    if replicas < floor {
        return Readiness::Pending(format!(
            "{replicas} replica(s), below the autoscaler's floor of {floor}: waiting for it to scale up"
        ));
    }
    Readiness::Ready
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        crate::repo::yaml::parse_documents(text)
            .unwrap()
            .remove(0)
            .value
    }

    #[test]
    fn deployment_is_ready_when_updated_and_available_at_current_generation() {
        let live = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 2}\nspec: {replicas: 2}\nstatus: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}\n",
        );
        assert_eq!(readiness(&live, None), Readiness::Ready);
    }

    #[test]
    fn deployment_waits_for_the_controller_to_observe_the_new_generation() {
        let live = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 3}\nspec: {replicas: 2}\nstatus: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}\n",
        );
        assert!(
            matches!(readiness(&live, None), Readiness::Pending(m) if m.contains("generation 3"))
        );
    }

    #[test]
    fn deployment_with_unavailable_replicas_is_pending() {
        let live = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 1}\nspec: {replicas: 2}\nstatus: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 0, unavailableReplicas: 2}\n",
        );
        assert!(matches!(readiness(&live, None), Readiness::Pending(m) if m.contains("0/2")));
    }

    #[test]
    fn deployment_past_its_progress_deadline_fails() {
        let live = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 1}\nstatus:\n  observedGeneration: 1\n  conditions: [{type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded, message: ReplicaSet web-1 has timed out}]\n",
        );
        assert!(matches!(readiness(&live, None), Readiness::Failed(m) if m.contains("timed out")));
    }

    #[test]
    fn gateway_needs_accepted_programmed_resolved_listeners_and_an_address() {
        let base = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {generation: 1}\nstatus:\n  conditions:\n  - {type: Accepted, status: \"True\", reason: Accepted, observedGeneration: 1}\n  - {type: Programmed, status: \"True\", reason: Programmed, observedGeneration: 1}\n  listeners:\n  - name: https\n    conditions: [{type: ResolvedRefs, status: \"True\", reason: ResolvedRefs}]\n";
        assert!(
            matches!(readiness(&yaml(base), None), Readiness::Pending(m) if m.contains("address"))
        );
        let with_address =
            format!("{base}  addresses: [{{type: Hostname, value: k8s-alb.elb.amazonaws.com}}]\n");
        assert_eq!(readiness(&yaml(&with_address), None), Readiness::Ready);
        let stale = with_address.replace("generation: 1}", "generation: 2}");
        assert!(
            matches!(readiness(&yaml(&stale), None), Readiness::Pending(m) if m.contains("current generation"))
        );
    }

    #[test]
    fn gateway_not_accepted_fails_with_the_controllers_reason() {
        let live = yaml(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {generation: 1}\nstatus:\n  conditions: [{type: Accepted, status: \"False\", reason: InvalidParameters, message: certificate not found, observedGeneration: 1}]\n",
        );
        assert!(
            matches!(readiness(&live, None), Readiness::Failed(m) if m.contains("InvalidParameters: certificate not found"))
        );
    }

    #[test]
    fn route_needs_every_parent_accepted_and_resolved() {
        let live = yaml(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nstatus:\n  parents:\n  - parentRef: {name: gw}\n    conditions: [{type: Accepted, status: \"True\"}, {type: ResolvedRefs, status: \"False\", reason: BackendNotFound}]\n",
        );
        assert!(
            matches!(readiness(&live, None), Readiness::Failed(m) if m.contains("BackendNotFound"))
        );
    }

    #[test]
    fn application_must_be_synced_at_the_expected_revision_and_healthy() {
        let synced = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nstatus: {sync: {status: Synced, revision: abc123}, health: {status: Healthy}, operationState: {phase: Succeeded, syncResult: {revision: abc123}}}\n";
        assert_eq!(readiness(&yaml(synced), Some("abc123")), Readiness::Ready);
        // A stale Synced from another commit is not up, and neither is a prefix of the commit.
        assert!(
            matches!(readiness(&yaml(synced), Some("def456")), Readiness::Pending(m) if m.contains("def456"))
        );
        assert!(matches!(
            readiness(&yaml(synced), Some("abc")),
            Readiness::Pending(_)
        ));
        let out_of_sync = synced.replace("status: Synced", "status: OutOfSync");
        assert!(matches!(
            readiness(&yaml(&out_of_sync), None),
            Readiness::Pending(_)
        ));
        // The wait names what differs from Git, as `argocd app diff` would, not just the verdict.
        let drifted = out_of_sync.replace(
            "health: {status: Healthy}",
            "health: {status: Healthy}, resources: [{kind: Service, namespace: app, name: api, status: Synced}, {group: autoscaling.k8s.io, kind: VerticalPodAutoscaler, namespace: app, name: api, status: OutOfSync}]",
        );
        assert_eq!(
            readiness(&yaml(&drifted), None),
            Readiness::Pending(
                "Application Synced (is OutOfSync: VerticalPodAutoscaler app/api)".into()
            )
        );
        let degraded = synced.replace("Healthy", "Degraded");
        assert!(matches!(
            readiness(&yaml(&degraded), None),
            Readiness::Failed(_)
        ));
        let running = synced.replace("phase: Succeeded", "phase: Running");
        assert!(matches!(
            readiness(&yaml(&running), Some("abc123")),
            Readiness::Pending(m) if m.contains("Running")
        ));
        // Synced at a new commit whose manifests did not change: the last sync at the old one stands.
        let unchanged = synced.replace(
            "syncResult: {revision: abc123}",
            "syncResult: {revision: old999}",
        );
        assert_eq!(
            readiness(&yaml(&unchanged), Some("abc123")),
            Readiness::Ready
        );
    }

    #[test]
    fn multi_source_application_is_at_the_commit_when_every_source_of_the_repo_is() {
        let live = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nstatus: {sync: {status: Synced, revisions: [abc123, abc123]}, health: {status: Healthy}}\n";
        assert_eq!(readiness(&yaml(live), Some("abc123")), Readiness::Ready);
        assert!(matches!(
            readiness(&yaml(live), Some("fff000")),
            Readiness::Pending(_)
        ));
    }

    #[test]
    fn application_fails_with_argo_cds_message_and_the_resource() {
        let comparison = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nstatus: {sync: {status: Unknown}, health: {status: Healthy}, conditions: [{type: ComparisonError, message: 'values.yaml: no such file'}]}\n";
        assert!(matches!(
            readiness(&yaml(comparison), Some("abc123")),
            Readiness::Failed(m) if m.contains("ComparisonError: values.yaml: no such file")
        ));
        let failed = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nstatus: {sync: {status: OutOfSync}, health: {status: Missing}, operationState: {phase: Failed, message: one or more objects failed to apply, syncResult: {revision: abc123, resources: [{kind: Deployment, name: api, status: SyncFailed, message: 'spec.replicas: Invalid value'}]}}}\n";
        assert!(matches!(
            readiness(&yaml(failed), Some("abc123")),
            Readiness::Failed(m) if m.contains("Deployment api: spec.replicas: Invalid value")
        ));
        // A failure Argo CD is retrying is still pending, and the wait names it; a refusal by
        // the project cannot heal by retrying, so it fails at once.
        let retrying = failed.replace("phase: Failed", "phase: Running, retryCount: 2");
        assert_eq!(
            readiness(&yaml(&retrying), Some("abc123")),
            Readiness::Pending(
                "Argo CD's sync, retried 2 time(s) after: Deployment api: spec.replicas: Invalid value".into()
            )
        );
        let refused = retrying.replace(
            "'spec.replicas: Invalid value'",
            "'resource apps:Deployment is not permitted in project shop'",
        );
        assert_eq!(
            readiness(&yaml(&refused), Some("abc123")),
            Readiness::Failed(
                "Argo CD refuses the sync (retried 2 time(s)): Deployment api: resource apps:Deployment is not permitted in project shop".into()
            )
        );
    }

    #[test]
    fn unknown_custom_kind_is_not_waited_on_never_ready() {
        let live = yaml("apiVersion: example.com/v1\nkind: Widget\n");
        assert!(
            matches!(readiness(&live, None), Readiness::NotWaited(m) if m.contains("Widget.example.com"))
        );
    }

    #[test]
    fn crd_needs_established_and_names_accepted() {
        let live = yaml(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nstatus:\n  conditions: [{type: Established, status: \"True\"}]\n",
        );
        assert!(
            matches!(readiness(&live, None), Readiness::Pending(m) if m.contains("NamesAccepted"))
        );
    }

    const AUTOSCALERS: &str = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: gateway-api, namespace: tacos-app}\nspec: {minReplicas: 10, maxReplicas: 90, scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: gateway-api}}\n---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: reservation-worker, namespace: tacos-app}\nspec: {minReplicaCount: 3, scaleTargetRef: {name: reservation-worker}}\n---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: idle-worker, namespace: tacos-app}\nspec: {scaleTargetRef: {name: idle-worker}}\n---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: batch-worker, namespace: tacos-app}\nspec: {minReplicaCount: 5, idleReplicaCount: 0, scaleTargetRef: {name: batch-worker}}\n---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: paused-worker, namespace: tacos-app, annotations: {autoscaling.keda.sh/paused: \"true\"}}\nspec: {minReplicaCount: 5, scaleTargetRef: {name: paused-worker}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: legacy}\nspec: {minReplicas: 2, maxReplicas: 4, scaleTargetRef: {kind: Deployment, name: legacy}}\n";

    #[test]
    fn floors_come_from_hpa_min_replicas_and_keda_min_replica_count() {
        let tree = crate::repo::load_str("charts.yaml", AUTOSCALERS).unwrap();
        let floors = replica_floors(&tree.objects);
        let described: Vec<String> = floors
            .iter()
            .map(|f| {
                format!(
                    "{} >= {} by {}",
                    f.workload, f.min_replicas, f.declared_by.kind
                )
            })
            .collect();
        assert_eq!(
            described,
            [
                "Deployment tacos-app/gateway-api >= 10 by HorizontalPodAutoscaler",
                "Deployment tacos-app/reservation-worker >= 3 by ScaledObject",
                "Deployment default/legacy >= 2 by HorizontalPodAutoscaler",
            ],
            "a ScaledObject without minReplicaCount, with an idleReplicaCount of 0, or paused, has no floor"
        );
    }

    #[test]
    fn a_deployment_ready_at_one_replica_is_pending_until_the_autoscaler_reaches_its_floor() {
        let one = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 1}\nspec: {replicas: 1}\nstatus: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1}\n",
        );
        assert_eq!(readiness(&one, None), Readiness::Ready);
        assert!(matches!(at_floor(&one, 6), Readiness::Pending(m) if m.contains("floor of 6")));
        let scaling = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 2}\nspec: {replicas: 6}\nstatus: {observedGeneration: 2, replicas: 6, updatedReplicas: 6, availableReplicas: 2}\n",
        );
        assert!(
            matches!(at_floor(&scaling, 6), Readiness::Pending(m) if m.contains("2/6 replicas available"))
        );
        let there = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 2}\nspec: {replicas: 7}\nstatus: {observedGeneration: 2, replicas: 7, updatedReplicas: 7, availableReplicas: 7}\n",
        );
        assert_eq!(at_floor(&there, 6), Readiness::Ready);
        let zero = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {generation: 3}\nspec: {replicas: 0}\nstatus: {observedGeneration: 3}\n",
        );
        assert!(matches!(at_floor(&zero, 6), Readiness::NotWaited(m) if m.contains("scaled to 0")));
    }
}
