//! Test snapshots built from inline multi-document YAML, and a healthy cluster the analyses' tests break one way at a time.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Diagnosis, Snapshot};

/// A snapshot holding every object of `yaml`, each in the list for its kind.
pub fn snapshot(yaml: &str) -> Snapshot {
    let tree = crate::repo::load_str("test.yaml", yaml).expect("test YAML loads");
    let mut snapshot = Snapshot::default();
    for object in tree.objects {
        let value = object.value;
        match value["kind"].as_str().unwrap_or_default() {
            "Namespace" => snapshot.namespaces.push(typed(value)),
            "Node" => snapshot.nodes.push(typed(value)),
            "Pod" => snapshot.pods.push(typed(value)),
            "Event" => snapshot.events.push(typed(value)),
            "DaemonSet" => snapshot.daemon_sets.push(typed(value)),
            "Deployment" => snapshot.deployments.push(typed(value)),
            "ReplicaSet" => snapshot.replica_sets.push(typed(value)),
            "StatefulSet" => snapshot.stateful_sets.push(typed(value)),
            "Service" => snapshot.services.push(typed(value)),
            "ConfigMap" => snapshot.config_maps.push(typed(value)),
            "NetworkPolicy" => snapshot.network_policies.push(typed(value)),
            "HorizontalPodAutoscaler" => snapshot.autoscalers.push(typed(value)),
            "PodDisruptionBudget" => snapshot.disruption_budgets.push(typed(value)),
            "ResourceQuota" => snapshot.quotas.push(typed(value)),
            "Gateway" => snapshot.gateways.push(value),
            "HTTPRoute" => snapshot.http_routes.push(value),
            "GRPCRoute" => snapshot.grpc_routes.push(value),
            "Application" => snapshot.applications.push(value),
            "SecretProviderClass" => snapshot.secret_provider_classes.push(value),
            other => panic!("fixtures do not hold kind {other:?}"),
        }
    }
    snapshot
}

fn typed<T: DeserializeOwned>(value: Value) -> T {
    let shown = value.to_string();
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}: {shown}"))
}

/// The healthy cluster plus `extra` documents.
pub fn healthy_with(extra: &str) -> Snapshot {
    snapshot(&format!("{HEALTHY}\n---\n{extra}"))
}

/// `yaml` without the documents containing `marker`.
pub fn without_document(yaml: &str, marker: &str) -> String {
    yaml.split("\n---\n")
        .filter(|document| !document.contains(marker))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// The status both gateway-api pods have in [`HEALTHY`].
pub const GATEWAY_POD_STATUS: &str = "status:\n  phase: Running\n  conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"True\"}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: true, restartCount: 0, state: {running: {}}}";

/// [`HEALTHY`] with both gateway-api pods in `status` (a whole `status:` block).
pub fn gateway_pods_in(status: &str) -> String {
    assert_eq!(HEALTHY.matches(GATEWAY_POD_STATUS).count(), 2);
    HEALTHY.replace(GATEWAY_POD_STATUS, status.trim())
}

/// The diagnoses of one check.
pub fn of_check<'a>(diagnoses: &'a [Diagnosis], check: &str) -> Vec<&'a Diagnosis> {
    diagnoses.iter().filter(|d| d.check == check).collect()
}

/// The live outage: the AWS provider does not tolerate the spot node's taint, so both gateway-api
/// pods there wait for their secrets volume.
pub fn provider_outage() -> String {
    without_document(HEALTHY, "name: csi-secrets-store-provider-aws-c")
        .replace(
            "      nodeSelector: {kubernetes.io/os: linux}\n      tolerations: [{key: spot, operator: Equal, value: \"true\", effect: NoSchedule}]\n",
            "      nodeSelector: {kubernetes.io/os: linux}\n",
        )
        .replace(
            "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"True\"}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: true, restartCount: 0, state: {running: {}}}",
            "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"False\", reason: ContainersNotReady}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: ContainerCreating}}}",
        )
        + MOUNT_EVENTS
}

const MOUNT_EVENTS: &str = r#"
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9-abc.1, namespace: tacos-app}
involvedObject: {kind: Pod, namespace: tacos-app, name: gateway-api-7d9-abc}
reason: FailedMount
type: Warning
count: 12
message: 'MountVolume.SetUp failed for volume "secrets" : rpc error: code = Unknown desc = failed to mount secrets store objects for pod tacos-app/gateway-api-7d9-abc, err: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix /etc/kubernetes/secrets-store-csi-providers/aws.sock: connect: no such file or directory"'
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9-def.1, namespace: tacos-app}
involvedObject: {kind: Pod, namespace: tacos-app, name: gateway-api-7d9-def}
reason: FailedMount
type: Warning
count: 9
message: 'MountVolume.SetUp failed for volume "secrets" : rpc error: code = Unknown desc = failed to mount secrets store objects for pod tacos-app/gateway-api-7d9-def'
"#;

/// A healthy cluster shaped like the live one: three nodes (the third a tainted spot node), the Secrets
/// Store CSI driver and its AWS provider on all three, gateway-api's two pods on the spot node mounting
/// secrets through the CSI driver, reaching ElastiCache on 6379 under a default-deny egress, behind a
/// programmed Gateway and route, managed by a Synced and Healthy Argo CD Application.
pub const HEALTHY: &str = include_str!("../../tests/fixtures/doctor/healthy-cluster.yaml.fixture");
