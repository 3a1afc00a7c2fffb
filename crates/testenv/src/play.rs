//! Stand-ins for controllers the simulated cluster does not run (AWS Load Balancer Controller, Argo CD, KEDA, k6-operator): each writes the status that controller would write.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::{Result, kube_err};

fn api(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    namespace: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), namespace, &resource)
}

fn condition(type_: &str, status: bool, reason: &str, generation: i64) -> Value {
    json!({
        "type": type_,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": format!("set by the tacos test harness playing the controller ({reason})"),
        "observedGeneration": generation,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    })
}

async fn patch_status(
    api: &Api<DynamicObject>,
    name: &str,
    status: Value,
    manager: &str,
) -> Result<()> {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .map_err(kube_err(format!("set status of {name} as {manager}")))?;
    Ok(())
}

/// Plays the AWS Load Balancer Controller: the Gateway Accepted and Programmed at its current
/// generation, every listener ResolvedRefs, with `alb_hostname` as its address.
pub async fn aws_lbc_program_gateway(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    alb_hostname: &str,
) -> Result<()> {
    let gateways = api(
        client,
        "gateway.networking.k8s.io",
        "v1",
        "Gateway",
        namespace,
    );
    let gateway = gateways
        .get(name)
        .await
        .map_err(kube_err(format!("get Gateway {namespace}/{name}")))?;
    let generation = gateway.metadata.generation.unwrap_or(1);
    let listeners: Vec<Value> = gateway.data["spec"]["listeners"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|listener| {
            let kinds = if listener["protocol"] == "HTTPS" || listener["protocol"] == "HTTP" {
                json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}, {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}])
            } else {
                json!([])
            };
            json!({
                "name": listener["name"],
                "attachedRoutes": 0,
                "supportedKinds": kinds,
                "conditions": [
                    condition("Accepted", true, "Accepted", generation),
                    condition("Programmed", true, "Programmed", generation),
                    condition("ResolvedRefs", true, "ResolvedRefs", generation),
                ],
            })
        })
        .collect();
    let status = json!({
        "addresses": [{"type": "Hostname", "value": alb_hostname}],
        "conditions": [
            condition("Accepted", true, "Accepted", generation),
            condition("Programmed", true, "Programmed", generation),
        ],
        "listeners": listeners,
    });
    patch_status(&gateways, name, status, "AWS Load Balancer Controller").await
}

/// Plays the AWS Load Balancer Controller: a GatewayClass naming it Accepted.
pub async fn aws_lbc_accept_gateway_class(client: &kube::Client, name: &str) -> Result<()> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        "GatewayClass",
    ));
    let classes: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let class = classes
        .get(name)
        .await
        .map_err(kube_err(format!("get GatewayClass {name}")))?;
    let generation = class.metadata.generation.unwrap_or(1);
    patch_status(
        &classes,
        name,
        json!({"conditions": [condition("Accepted", true, "Accepted", generation)]}),
        "AWS Load Balancer Controller",
    )
    .await
}

/// Plays the AWS Load Balancer Controller for a route (`kind` HTTPRoute or GRPCRoute): every parent Accepted and ResolvedRefs.
pub async fn aws_lbc_accept_route(
    client: &kube::Client,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<()> {
    let routes = api(client, "gateway.networking.k8s.io", "v1", kind, namespace);
    let route = routes
        .get(name)
        .await
        .map_err(kube_err(format!("get {kind} {namespace}/{name}")))?;
    let generation = route.metadata.generation.unwrap_or(1);
    let parents: Vec<Value> = route.data["spec"]["parentRefs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|parent| {
            json!({
                "parentRef": parent,
                "controllerName": "gateway.k8s.aws/alb",
                "conditions": [
                    condition("Accepted", true, "Accepted", generation),
                    condition("ResolvedRefs", true, "ResolvedRefs", generation),
                ],
            })
        })
        .collect();
    patch_status(
        &routes,
        name,
        json!({ "parents": parents }),
        "AWS Load Balancer Controller",
    )
    .await
}

/// Plays the KEDA operator for a ScaledObject: the HorizontalPodAutoscaler `keda-hpa-<name>` it
/// creates (owned by the ScaledObject, bounded by its replica counts; the real one feeds it the
/// trigger's external metric, which this cluster has no server for) and the Ready condition.
pub async fn keda_scale_object(client: &kube::Client, scaled_object: &DynamicObject) -> Result<()> {
    let namespace = scaled_object
        .metadata
        .namespace
        .as_deref()
        .unwrap_or("default");
    let name = scaled_object.metadata.name.as_deref().unwrap_or_default();
    let spec = &scaled_object.data["spec"];
    let hpa_name = format!("keda-hpa-{name}");
    let hpa = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": hpa_name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "keda-operator", "scaledobject.keda.sh/name": name},
            "ownerReferences": [{
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "name": name,
                "uid": scaled_object.metadata.uid,
                "controller": true,
            }],
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": spec["scaleTargetRef"]["apiVersion"].as_str().unwrap_or("apps/v1"),
                "kind": spec["scaleTargetRef"]["kind"].as_str().unwrap_or("Deployment"),
                "name": spec["scaleTargetRef"]["name"],
            },
            "minReplicas": spec["minReplicaCount"].as_i64().unwrap_or(0).max(1),
            "maxReplicas": spec["maxReplicaCount"].as_i64().unwrap_or(100),
        },
    });
    let hpas: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
        )),
    );
    hpas.patch(
        &hpa_name,
        &PatchParams::apply("keda-operator-stand-in").force(),
        &Patch::Apply(&hpa),
    )
    .await
    .map_err(kube_err(format!(
        "apply HorizontalPodAutoscaler {namespace}/{hpa_name} as KEDA"
    )))?;
    let generation = scaled_object.metadata.generation.unwrap_or(1);
    patch_status(
        &api(client, "keda.sh", "v1alpha1", "ScaledObject", namespace),
        name,
        json!({
            "hpaName": hpa_name,
            "conditions": [condition("Ready", true, "ScaledObjectReady", generation)],
        }),
        "KEDA",
    )
    .await
}

/// Plays k6-operator: moves a TestRun to `stage` (initialization, created, started, finished, error).
pub async fn k6_operator_set_stage(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    stage: &str,
) -> Result<()> {
    let runs = api(client, "k6.io", "v1alpha1", "TestRun", namespace);
    patch_status(&runs, name, json!({ "stage": stage }), "k6-operator").await
}

/// Plays k6-operator (v1.6.0) through a whole run once the TestRun exists: its stages, one runner
/// pod per `spec.parallelism` (named, labelled and owned as the operator's runner Jobs make them)
/// that ends with k6's `exit_code` (0 passed, 99 a threshold failed), and with `spec.cleanup:
/// post` the TestRun and its runner pods deleted right after `finished`, as the operator does.
/// Kubelets are played too: the pods get their terminated status directly.
pub async fn k6_operator_run(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    exit_code: i32,
) -> Result<()> {
    use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
    let runs = api(client, "k6.io", "v1alpha1", "TestRun", namespace);
    let started = std::time::Instant::now();
    let run = loop {
        if let Some(run) = runs
            .get_opt(name)
            .await
            .map_err(kube_err(format!("read TestRun {namespace}/{name}")))?
        {
            break run;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            return Err(crate::TestenvError::Timeout {
                what: format!("TestRun {namespace}/{name} to appear"),
                seconds: 120,
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let runners = run.data["spec"]["parallelism"].as_u64().unwrap_or(1);
    let cleanup_post = run.data["spec"]["cleanup"] == "post";
    let owner = json!([{
        "apiVersion": "k6.io/v1alpha1", "kind": "TestRun", "name": name,
        "uid": run.metadata.uid.clone().unwrap_or_default(),
        "controller": true, "blockOwnerDeletion": true,
    }]);
    // Each stage lasts a moment, as with the real operator (a follower must see them all).
    for stage in ["initialization", "initialized", "created", "started"] {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        k6_operator_set_stage(client, namespace, name, stage).await?;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
    accounts
        .patch(
            "default",
            &PatchParams::apply("k6-operator"),
            &Patch::Apply(&account),
        )
        .await
        .map_err(kube_err(format!(
            "create ServiceAccount {namespace}/default"
        )))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("app=k6,k6_cr={name},runner=true");
    for index in 1..=runners {
        let pod_name = format!("{name}-{index}");
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod_name, "ownerReferences": owner,
                         "labels": {"app": "k6", "k6_cr": name, "runner": "true"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "k6", "image": "grafana/k6:1.4.2"}]}
        });
        pods.patch(
            &pod_name,
            &PatchParams::apply("k6-operator"),
            &Patch::Apply(&pod),
        )
        .await
        .map_err(kube_err(format!(
            "create runner pod {namespace}/{pod_name}"
        )))?;
        let status = json!({"status": {
            "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
            "containerStatuses": [{"name": "k6", "image": "grafana/k6:1.4.2", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" }}}}]
        }});
        pods.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(kube_err(format!(
                "set status of runner pod {namespace}/{pod_name}"
            )))?;
    }
    k6_operator_set_stage(client, namespace, name, "finished").await?;
    if cleanup_post {
        // The operator's next reconcile deletes the TestRun; garbage collection takes its
        // runner Jobs and pods (done here directly: a bare control plane runs no collector).
        let delete = kube::api::DeleteParams::background();
        runs.delete(name, &delete)
            .await
            .map_err(kube_err(format!("delete TestRun {namespace}/{name}")))?;
        pods.delete_collection(&delete, &kube::api::ListParams::default().labels(&selector))
            .await
            .map_err(kube_err(format!(
                "delete the runner pods of {namespace}/{name}"
            )))?;
    }
    Ok(())
}
