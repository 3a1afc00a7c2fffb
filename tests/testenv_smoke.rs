//! Proves each part of the local test environment is the real thing: admission, controllers, CRD schemas, the AWS emulator, RBAC.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::{AwsEmulator, shared_control_plane, shared_simulated_cluster};

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("test object")
}

#[tokio::test]
async fn apiserver_rejects_a_privileged_pod_in_a_restricted_namespace() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("psa").await.unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            &ns,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    let privileged: Pod = from_json(json!({
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": true}}]}
    }));
    let error = pods
        .create(&PostParams::default(), &privileged)
        .await
        .expect_err("a privileged pod must be refused");
    let kube::Error::Api(status) = error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(status.code, 403, "{status:?}");
    assert!(
        status.message.contains("violates PodSecurity \"restricted"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn invalid_gateway_is_rejected_by_the_real_gateway_api_schema() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("gwschema").await.unwrap();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        "Gateway",
    ));
    let gateways: Api<DynamicObject> = Api::namespaced_with(client, &ns, &resource);
    let valid: DynamicObject = from_json(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "ok"},
        "spec": {"gatewayClassName": "aws-alb-gateway-class", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}
    }));
    gateways
        .create(&PostParams::default(), &valid)
        .await
        .expect("a valid Gateway is accepted");
    let invalid: DynamicObject = from_json(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "bad"},
        "spec": {"gatewayClassName": "aws-alb-gateway-class", "listeners": [{"name": "http", "protocol": "HTTP", "port": 70000}]}
    }));
    let error = gateways
        .create(&PostParams::default(), &invalid)
        .await
        .expect_err("port 70000 must be refused");
    let kube::Error::Api(status) = error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(status.code, 422, "{status:?}");
    assert!(status.message.contains("port"), "{}", status.message);
}

#[tokio::test]
async fn service_account_bound_to_a_read_only_role_is_denied_a_write() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("rbac").await.unwrap();
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let role_name = format!("{ns}-reader");
    roles
        .create(&PostParams::default(), &from_json(json!({
            "metadata": {"name": role_name},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
        })))
        .await
        .unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
    bindings
        .create(&PostParams::default(), &from_json(json!({
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]
        })))
        .await
        .unwrap();
    let reader = plane
        .client_as(&format!("system:serviceaccount:{ns}:default"))
        .await
        .unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(reader, &ns);
    config_maps
        .list(&Default::default())
        .await
        .expect("the read-only role may list");
    let error = config_maps
        .create(
            &PostParams::default(),
            &from_json(json!({"metadata": {"name": "written"}})),
        )
        .await
        .expect_err("the read-only role must not write");
    let kube::Error::Api(status) = error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(status.code, 403, "{status:?}");
}

#[tokio::test]
async fn deployment_becomes_available_on_the_simulated_cluster() {
    let cluster = shared_simulated_cluster();
    let client = cluster.client().await.unwrap();
    let ns = cluster.fresh_namespace("rollout").await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client, &ns);
    let deployment: Deployment = from_json(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
                    "containers": [{"name": "web", "image": "nginx:1.27"}]
                }
            }
        }
    }));
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let available = await_condition(
        deployments.clone(),
        "web",
        conditions::is_deployment_completed(),
    );
    tokio::time::timeout(Duration::from_secs(120), available)
        .await
        .expect("the Deployment rolls out within 120 s")
        .unwrap();
    let status = deployments.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.available_replicas, Some(3));
}

#[tokio::test]
async fn aws_sdk_reads_back_the_eks_cluster_seeded_in_the_emulator() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_eks_cluster("ticket-cluster", "1.35")
        .await
        .unwrap();
    let eks = aws_sdk_eks::Client::new(&aws.sdk_config().await);
    let cluster = eks
        .describe_cluster()
        .name("ticket-cluster")
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(
        cluster.status,
        Some(aws_sdk_eks::types::ClusterStatus::Active)
    );
    assert_eq!(cluster.version.as_deref(), Some("1.35"));
    assert!(
        cluster.arn.unwrap().contains(":137406935518:"),
        "the emulator answers as the platform's account"
    );
}
