//! `tacos doctor` as on-call runs it: incidents recreated on a real apiserver (the harness plays the kubelets and controllers by writing status and events), and the AWS side against the emulator.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ResourceQuota};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};
use tacos_testenv::aws::{ACCOUNT_ID, AcmValidation, IMAGE_TAG, REGION};
use tacos_testenv::aws_network::RedisIngress;
use tacos_testenv::{
    AwsEmulator, ControlPlane, ControlPlaneOptions, FakeNode, Run, SimulatedCluster, tacos_command,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A cluster shaped like the live one, healthy: 3 nodes (one tainted spot node), the Secrets Store CSI
/// driver and its AWS provider on all three, gateway-api's pods on the spot node, a programmed Gateway,
/// a Synced and Healthy Application.
fn healthy_cluster() -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/doctor/healthy-cluster.yaml.fixture"))
        .unwrap()
}

async fn control_plane() -> ControlPlane {
    ControlPlane::start(ControlPlaneOptions {
        skip_crds: vec!["keda".into(), "prometheus-operator".into()],
        ..ControlPlaneOptions::default()
    })
    .await
    .unwrap()
}

fn api_for(client: &kube::Client, value: &Value) -> Api<DynamicObject> {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = value["kind"].as_str().unwrap_or_default();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    match value["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Writes a whole cluster picture: each object, then its status (what kubelets and controllers would
/// report), creating the namespaces it needs and their `default` ServiceAccount (the controller's job).
async fn play(client: &kube::Client, yaml: &str) {
    let tree = tacos::repo::load_str("scenario.yaml", yaml).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for object in &tree.objects {
        if let Some(namespace) = object.namespace() {
            let namespace =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            namespaces
                .patch(
                    namespace["metadata"]["name"].as_str().unwrap(),
                    &PatchParams::apply("doctor-tests"),
                    &Patch::Apply(&namespace),
                )
                .await
                .unwrap();
            let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace["metadata"]["name"]}});
            api_for(client, &account)
                .patch(
                    "default",
                    &PatchParams::apply("doctor-tests"),
                    &Patch::Apply(&account),
                )
                .await
                .unwrap();
        }
    }
    for object in &tree.objects {
        let api = api_for(client, &object.value);
        let name = object.name();
        api.patch(
            name,
            &PatchParams::apply("doctor-tests").force(),
            &Patch::Apply(&object.value),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {}: {e}", object.key()));
        if !object.value["status"].is_null() {
            let mut status = json!({"status": object.value["status"]});
            complete_status(&mut status);
            match api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
                .await
            {
                Ok(_) => {}
                // Kinds without a status subresource took their status with the object.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => panic!("status of {}: {e}", object.key()),
            }
        }
    }
}

/// Fills what a controller always writes and the scenarios leave out: each condition's
/// lastTransitionTime, message and reason; a Gateway listener's attachedRoutes and supportedKinds.
fn complete_status(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(conditions)) = map.get_mut("conditions") {
                for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
                    condition
                        .entry("lastTransitionTime")
                        .or_insert_with(|| json!("2026-11-26T00:00:00Z"));
                    condition.entry("message").or_insert_with(|| json!(""));
                    let reason = condition
                        .get("type")
                        .cloned()
                        .unwrap_or_else(|| json!("Played"));
                    condition.entry("reason").or_insert(reason);
                }
            }
            if let Some(Value::Array(listeners)) = map.get_mut("listeners") {
                for listener in listeners.iter_mut().filter_map(Value::as_object_mut) {
                    listener.entry("attachedRoutes").or_insert_with(|| json!(0));
                    listener
                        .entry("supportedKinds")
                        .or_insert_with(|| json!([]));
                }
            }
            for child in map.values_mut() {
                complete_status(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(complete_status),
        _ => {}
    }
}

/// `tacos doctor ARGS` at the repository root, with the emulator's AWS or, without one, an AWS
/// that refuses every connection (the cluster half must still work).
async fn doctor(kubeconfig: &Path, aws: Option<&AwsEmulator>, args: &[&str]) -> Run {
    let command = tacos_command!().kubeconfig(kubeconfig);
    let command = match aws {
        Some(aws) => command.aws(aws),
        None => command.aws_unreachable(),
    };
    command.arg("doctor").args(args).run_async().await
}

fn diagnoses(run: &Run) -> Vec<Value> {
    run.json()["diagnoses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_healthy_cluster_has_no_root_causes_even_without_aws() {
    let plane = control_plane().await;
    play(&plane.client().await.unwrap(), &healthy_cluster()).await;
    let run = doctor(&plane.kubeconfig, None, &[]).await;
    run.assert_code(0);
    run.assert_stdout_contains("✔ node agents (DaemonSets) run on every node whose pods need them");
    assert!(!run.stdout.contains("✗"), "{run}");
    run.assert_stdout_contains("AWS checks skipped");
    assert!(
        run.stdout.contains("- the ACM certificate is ISSUED, covers the Gateway hostnames and is not near expiry (skipped)"),
        "checks that did not run are not shown as passed: {run}"
    );
    assert!(
        run.stdout.contains("- the KMS key EKS encrypts Secrets with exists and is enabled (eks:DescribeCluster, kms:DescribeKey): without it the API server can read no Secret (skipped)"),
        "{run}"
    );
    run.assert_stdout_contains("0 root cause(s)");
}

#[tokio::test]
async fn a_disabled_secrets_key_is_the_root_cause_of_the_pods_that_read_secrets() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let migrate = "apiVersion: v1
kind: Pod
metadata: {name: migrate-db, namespace: tacos-app}
spec:
  nodeName: ip-10-0-1-10
  containers:
  - name: migrate
    image: migrate:1
    env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db-auth, key: password}}}]
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 128Mi}}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"False\"}]
  containerStatuses:
  - {name: migrate, image: migrate:1, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: CreateContainerConfigError, message: 'Internal error occurred: failed to decrypt'}}}
";
    play(&client, &format!("{}\n---\n{migrate}", healthy_cluster())).await;
    let run = doctor(&plane.kubeconfig, Some(&aws), &["--output", "json"]).await;
    assert!(
        diagnoses(&run)
            .iter()
            .all(|d| d["check"] != "aws-secrets-key-enabled"),
        "an enabled key is no cause: {run}"
    );

    let key = aws.disable_secrets_key("ticket-cluster").await.unwrap();
    let run = doctor(&plane.kubeconfig, Some(&aws), &["--output", "json"]).await;
    run.assert_code(1);
    let found = diagnoses(&run);
    let causes: Vec<&Value> = found
        .iter()
        .filter(|d| d["check"] == "aws-secrets-key-enabled")
        .collect();
    assert_eq!(causes.len(), 1, "{found:#?}");
    assert!(
        causes[0]["cause"]
            .as_str()
            .unwrap()
            .contains(&format!("KMS key {key}, which is Disabled")),
        "{:#}",
        causes[0]
    );
    assert_eq!(
        causes[0]["symptoms"],
        json!(["Pod tacos-app/migrate-db"]),
        "{:#}",
        causes[0]
    );
    assert!(
        found
            .iter()
            .all(|d| d["subject"] != "Pod tacos-app/migrate-db"),
        "the pod is the key's symptom, not a cause of its own: {found:#?}"
    );
}

#[tokio::test]
async fn a_csi_provider_missing_on_the_spot_node_is_one_root_cause_with_the_gateway_pods_under_it()
{
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    play(&client, &healthy_cluster()).await;

    // The incident: the provider's toleration of the spot taint is lost, its pod on the spot node goes,
    // and the gateway pods there wait for their secrets volume.
    let providers: Api<DaemonSet> = Api::namespaced(client.clone(), "kube-system");
    let no_toleration = json!({"spec": {"template": {"spec": {"tolerations": null}}}});
    providers
        .patch(
            "csi-secrets-store-provider-aws",
            &PatchParams::default(),
            &Patch::Merge(&no_toleration),
        )
        .await
        .unwrap();
    let system_pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    system_pods
        .delete(
            "csi-secrets-store-provider-aws-c",
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            },
        )
        .await
        .unwrap();
    let app_pods: Api<Pod> = Api::namespaced(client.clone(), "tacos-app");
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(client.clone(), "tacos-app");
    for pod in ["gateway-api-7d9-abc", "gateway-api-7d9-def"] {
        let stuck = json!({"status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{"name": "gateway-api", "image": "gateway-api:1.4.2", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]
        }});
        app_pods
            .patch_status(pod, &PatchParams::default(), &Patch::Merge(&stuck))
            .await
            .unwrap();
        let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
            "metadata": {"name": format!("{pod}.failedmount"), "namespace": "tacos-app"},
            "involvedObject": {"kind": "Pod", "namespace": "tacos-app", "name": pod},
            "reason": "FailedMount",
            "type": "Warning",
            "count": 7,
            "message": format!("MountVolume.SetUp failed for volume \"secrets\" : rpc error: code = Unknown desc = failed to mount secrets store objects for pod tacos-app/{pod}, err: rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial unix /etc/kubernetes/secrets-store-csi-providers/aws.sock: connect: no such file or directory\""),
        }))
        .unwrap();
        events.create(&PostParams::default(), &event).await.unwrap();
    }

    let run = doctor(&plane.kubeconfig, None, &["--output", "json"]).await;
    run.assert_code(1);
    let found = diagnoses(&run);
    let agent: Vec<&Value> = found
        .iter()
        .filter(|d| d["check"] == "node-agent-missing")
        .collect();
    assert_eq!(agent.len(), 1, "one root cause: {found:#?}");
    let agent = agent[0];
    assert_eq!(
        agent["subject"],
        "DaemonSet kube-system/csi-secrets-store-provider-aws"
    );
    let cause = agent["cause"].as_str().unwrap();
    assert!(
        cause.contains("ip-10-0-3-12") && cause.contains("spot=true:NoSchedule"),
        "{cause}"
    );
    let symptoms = agent["symptoms"].to_string();
    for symptom in [
        "Pod tacos-app/gateway-api-7d9-abc",
        "Pod tacos-app/gateway-api-7d9-def",
        "Deployment tacos-app/gateway-api",
    ] {
        assert!(symptoms.contains(symptom), "{symptom} in {symptoms}");
    }
    assert!(
        agent["evidence"].to_string().contains("FailedMount"),
        "{agent:#}"
    );
    assert!(
        agent["remedy"].to_string().contains("tolerations"),
        "{agent:#}"
    );
    let separately: Vec<&Value> = found
        .iter()
        .filter(|d| d["check"] != "node-agent-missing" && d.to_string().contains("gateway-api-7d9"))
        .collect();
    assert!(
        separately.is_empty(),
        "the gateway pods are not reported again: {separately:#?}"
    );
}

#[tokio::test]
async fn crash_looping_and_image_pull_failures_are_named_with_their_evidence() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    play(&client, &healthy_cluster()).await;
    let app_pods: Api<Pod> = Api::namespaced(client.clone(), "tacos-app");
    let crash = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [{"name": "gateway-api", "image": "gateway-api:1.4.2", "imageID": "", "ready": false, "restartCount": 6,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 137}}}]
    }});
    app_pods
        .patch_status(
            "gateway-api-7d9-abc",
            &PatchParams::default(),
            &Patch::Merge(&crash),
        )
        .await
        .unwrap();
    let pull = json!({"status": {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [{"name": "gateway-api", "image": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.3", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image: not found"}}}]
    }});
    app_pods
        .patch_status(
            "gateway-api-7d9-def",
            &PatchParams::default(),
            &Patch::Merge(&pull),
        )
        .await
        .unwrap();
    let run = doctor(&plane.kubeconfig, None, &[]).await;
    run.assert_code(1);
    run.assert_stdout_contains("CrashLoopBackOff");
    run.assert_stdout_contains("137");
    run.assert_stdout_contains(
        "cannot be pulled from 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com",
    );
    let first_cause = run
        .stdout
        .lines()
        .position(|l| l.starts_with("✗"))
        .expect("a failing check");
    assert!(
        run.stdout
            .lines()
            .skip(first_cause)
            .any(|l| l.contains("fix:")),
        "each cause comes with its fix: {run}"
    );
}

#[tokio::test]
async fn a_cache_whose_security_group_shuts_out_the_cluster_is_found_through_aws() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    let vpc = aws
        .seed_cluster_network("ticket-cluster", "1.35")
        .await
        .unwrap();
    let redis = aws
        .seed_redis(&vpc, "tacos-redis", RedisIngress::Nothing)
        .await
        .unwrap();
    let cluster = healthy_cluster().replace(
        "master.tacos-redis.abc123.apn2.cache.amazonaws.com",
        &redis.configuration_endpoint,
    );
    play(&client, &cluster).await;

    let run = doctor(&plane.kubeconfig, Some(&aws), &["--output", "json"]).await;
    run.assert_code(1);
    let found = diagnoses(&run);
    let cache: Vec<&Value> = found
        .iter()
        .filter(|d| d["check"] == "aws-cache-admits-cluster")
        .collect();
    assert_eq!(cache.len(), 1, "{found:#?}");
    let cause = cache[0]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&redis.security_group_id) && cause.contains("6379"),
        "{cause}"
    );
    assert!(
        cache[0]["remedy"]
            .as_str()
            .unwrap()
            .contains("authorize-security-group-ingress"),
        "{:#}",
        cache[0]
    );
    assert!(
        cache[0]["symptoms"]
            .to_string()
            .contains("Deployment tacos-app/gateway-api"),
        "{:#}",
        cache[0]
    );
}

/// The gateway pods' ECR image, at `tag` of `repository`, in the emulator's account.
fn ecr_image(repository: &str, tag: &str) -> String {
    format!("{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag}")
}

/// Pod `name` of the gateway now runs `image` and waits to pull it (`reason`).
async fn pulling(pods: &Api<Pod>, name: &str, image: &str, reason: &str) {
    pods.patch(
        name,
        &PatchParams::default(),
        &Patch::Strategic(
            json!({"spec": {"containers": [{"name": "gateway-api", "image": image}]}}),
        ),
    )
    .await
    .unwrap();
    let status = json!({"status": {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [{"name": "gateway-api", "image": image, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": format!("Back-off pulling image \"{image}\"")}}}]
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// The pull diagnoses of a doctor run, by cause.
fn pull_diagnoses(run: &Run) -> Vec<Value> {
    diagnoses(run)
        .into_iter()
        .filter(|d| {
            d["cause"]
                .as_str()
                .unwrap_or_default()
                .contains("cannot be pulled")
        })
        .collect()
}

#[tokio::test]
async fn ecr_says_whether_the_tag_the_repository_or_the_nodes_access_keeps_an_image_from_its_pods()
{
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    aws.seed_ecr_image("traffic-tacos-gateway-api", "v1.4.1", true)
        .await
        .unwrap();
    let pushed = ecr_image("traffic-tacos-gateway-api", IMAGE_TAG);
    play(
        &client,
        &healthy_cluster().replace(
            "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2",
            &pushed,
        ),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "tacos-app");

    // A tag never pushed, and a repository that does not exist.
    let unpushed = ecr_image("traffic-tacos-gateway-api", "v1.4.3");
    let nowhere = ecr_image("traffic-tacos-checkout", "v1.0.0");
    pulling(&pods, "gateway-api-7d9-abc", &unpushed, "ImagePullBackOff").await;
    pulling(&pods, "gateway-api-7d9-def", &nowhere, "ErrImagePull").await;
    let run = doctor(&plane.kubeconfig, Some(&aws), &["--output", "json"]).await;
    run.assert_code(1);
    let found = pull_diagnoses(&run);
    assert_eq!(found.len(), 2, "{found:#?}");
    let of = |image: &str| {
        found
            .iter()
            .find(|d| {
                d["cause"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("image {image} "))
            })
            .unwrap_or_else(|| panic!("{image} diagnosed: {found:#?}"))
            .clone()
    };
    let missing_tag = of(&unpushed);
    // v1.4.1 was pushed last (or in the same second, when the tag order decides).
    assert!(
        missing_tag["cause"].as_str().unwrap().ends_with(&format!(
            "ECR repository traffic-tacos-gateway-api (account {ACCOUNT_ID}, region {REGION}) has no tag v1.4.3; its newest tags: v1.4.1, {IMAGE_TAG}"
        )),
        "{missing_tag:#}"
    );
    assert!(
        missing_tag["remedy"].as_str().unwrap().starts_with(
            "push tag v1.4.3 to traffic-tacos-gateway-api, or set spec.template.spec.containers[gateway-api].image of Deployment tacos-app/gateway-api to a tag it has (v1.4.1)"
        ),
        "{missing_tag:#}"
    );
    assert!(
        missing_tag["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("kubelet: Back-off pulling image"),
        "kubelet's words stay as evidence: {missing_tag:#}"
    );
    let missing_repository = of(&nowhere);
    assert!(
        missing_repository["cause"]
            .as_str()
            .unwrap()
            .ends_with(&format!("ECR repository traffic-tacos-checkout does not exist (account {ACCOUNT_ID}, region {REGION})")),
        "{missing_repository:#}"
    );
    assert!(
        missing_repository["remedy"]
            .as_str()
            .unwrap()
            .contains("aws ecr create-repository --repository-name traffic-tacos-checkout"),
        "{missing_repository:#}"
    );

    // The image is in ECR: what is left is the nodes' access to it.
    pulling(&pods, "gateway-api-7d9-abc", &pushed, "ImagePullBackOff").await;
    pods.delete("gateway-api-7d9-def", &DeleteParams::default())
        .await
        .unwrap();
    let run = doctor(&plane.kubeconfig, Some(&aws), &["--output", "json"]).await;
    let found = pull_diagnoses(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    let cause = found[0]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!("ECR has it (traffic-tacos-gateway-api tag {IMAGE_TAG} is sha256:"))
            && cause.ends_with("so the nodes cannot fetch it: the node role's ECR permissions or the nodes' route to ECR"),
        "{cause}"
    );
    assert!(
        found[0]["remedy"]
            .as_str()
            .unwrap()
            .contains("AmazonEC2ContainerRegistryReadOnly"),
        "{:#}",
        found[0]
    );
}

#[tokio::test]
async fn a_pending_certificate_and_a_record_pointing_elsewhere_are_edge_root_causes() {
    let plane = control_plane().await;
    let client = plane.client().await.unwrap();
    let aws = AwsEmulator::start(AcmValidation::Pending).await.unwrap();
    let zone = aws.seed_platform().await.unwrap();
    aws.seed_alias_record(
        &zone,
        "api.traffictacos.store",
        "k8s-old-gateway-999.ap-northeast-2.elb.amazonaws.com",
    )
    .await
    .unwrap();
    let cluster = healthy_cluster().replace(
        "hostname: \"*.traffictacos.store\"",
        "hostname: api.traffictacos.store",
    );
    play(&client, &cluster).await;
    let run = doctor(&plane.kubeconfig, Some(&aws), &["--output", "json"]).await;
    run.assert_code(1);
    let found = diagnoses(&run);
    assert!(
        found.iter().any(|d| d["check"] == "aws-edge-certificate"
            && d["cause"].as_str().unwrap().contains("PENDING_VALIDATION")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|d| d["check"] == "aws-edge-dns"
            && d["cause"]
                .as_str()
                .unwrap()
                .contains("points at k8s-old-gateway-999")),
        "{found:#?}"
    );
}

#[tokio::test]
async fn an_exhausted_quota_named_under_the_pods_check_is_no_pass_of_the_quota_check() {
    // The real ReplicaSet controller runs into a real quota: two pods of 500m fit 1 CPU, the third is refused.
    let cluster = SimulatedCluster::start(FakeNode::eks_default_pool())
        .await
        .unwrap();
    let client = cluster.client().await.unwrap();
    let namespace = cluster.fresh_namespace("quota").await.unwrap();
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "lowered-by-hand"},
        "spec": {"hard": {"requests.cpu": "1"}},
    }))
    .unwrap();
    Api::<ResourceQuota>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &quota)
        .await
        .unwrap();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "api"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "registry.example/api:1", "resources": {"requests": {"cpu": "500m"}}}]},
            },
        },
    }))
    .unwrap();
    // The quota controller must have counted the quota before it admits pods against it.
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), &namespace);
    for _ in 0..60 {
        if quotas
            .get("lowered-by-hand")
            .await
            .unwrap()
            .status
            .and_then(|s| s.hard)
            .is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Api::<Deployment>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let mut refused = false;
    for _ in 0..60 {
        refused = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("FailedCreate")
                    && e.message
                        .as_deref()
                        .is_some_and(|m| m.contains("exceeded quota: lowered-by-hand"))
            });
        if refused {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(refused, "the ReplicaSet controller never hit the quota");

    let kubeconfig = &cluster.control_plane.kubeconfig;
    let output = doctor(kubeconfig, None, &[]).await;
    let stdout = &output.stdout;
    let quota_subject = format!("ResourceQuota {namespace}/lowered-by-hand");
    assert!(
        stdout.contains(&format!(
            "it cannot create pods: {quota_subject} is exhausted"
        )),
        "the pods check names the quota: {output}"
    );
    assert!(
        !stdout.contains("✔ resource quotas have room for the pods their namespace creates"),
        "no ✔ for the quota that is the cause: {stdout}"
    );
    let quota_check = stdout
        .split_once("resource quotas have room for the pods their namespace creates\n")
        .map(|(before, after)| {
            let mark = before.lines().last().unwrap_or_default().trim_end();
            (mark.to_string(), after)
        })
        .unwrap_or_else(|| panic!("no quota check line: {stdout}"));
    assert!(
        quota_check.0.ends_with('!') || quota_check.0.ends_with('✗'),
        "the quota check is marked failed: {stdout}"
    );
    assert!(
        quota_check
            .1
            .lines()
            .next()
            .is_some_and(|l| l.contains(&format!(
                "{quota_subject}: explained by the cause under \"every pod that should run"
            ))),
        "the quota check points to the cause: {stdout}"
    );

    let json_output = doctor(kubeconfig, None, &["--output", "json"]).await;
    let report: Value = json_output.json();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "quota-exhausted")
        .unwrap();
    assert_eq!(check["passed"], json!(false), "{report:#}");
}
