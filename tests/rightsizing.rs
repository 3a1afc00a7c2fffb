//! Right-sizing on the simulated cluster: the chart's VerticalPodAutoscaler (updateMode "Off") gets a real recommendation from the VPA recommender reading metrics-server, the pods are left as they are, and `tacos verify` names a service whose requests are far under the recommender's target.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tacos::k8s::quantity::Quantity;
use tacos_testenv::apply::apply_yaml;
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::metrics::{USAGE_CPU_ANNOTATION, USAGE_MEMORY_ANNOTATION};
use tacos_testenv::{AwsEmulator, Binaries, shared_simulated_cluster, tacos_command};

const NAMESPACE: &str = "tacos-app";
const SERVICE: &str = "inventory-api";
/// What each pod uses: far more memory than the 256Mi helm-values/inventory-api.yaml requests.
const USED_MEMORY: &str = "3Gi";
const USED_CPU: &str = "300m";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The service's objects as the tree's chart renders them, its pods using what the kwok
/// annotations say.
fn rendered_service(binaries: &Binaries) -> String {
    let annotation = |key: &str| format!("podAnnotations.{}", key.replace('.', "\\."));
    let output = Command::new(&binaries.helm)
        .arg("template")
        .arg(SERVICE)
        .arg(repo().join("charts/tacos-service"))
        .arg("--namespace")
        .arg(NAMESPACE)
        .arg("-f")
        .arg(repo().join(format!("helm-values/{SERVICE}.yaml")))
        .arg("--set-string")
        .arg(format!(
            "{}={USED_MEMORY},{}={USED_CPU}",
            annotation(USAGE_MEMORY_ANNOTATION),
            annotation(USAGE_CPU_ANNOTATION)
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "helm template: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn vpa_api(client: &kube::Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "autoscaling.k8s.io",
        "v1",
        "VerticalPodAutoscaler",
    ));
    Api::namespaced_with(client.clone(), NAMESPACE, &resource)
}

/// The VPA's first container recommendation, once the recommender has seen the pods' usage
/// (its first one, before any sample, is its floor: 25m and 250Mi).
async fn wait_for_recommendation(client: &kube::Client, log: &Path) -> Value {
    let vpas = vpa_api(client);
    let used = quantity(&json!(USED_MEMORY));
    let started = Instant::now();
    loop {
        let vpa = vpas.get(SERVICE).await.unwrap();
        let status = vpa.data["status"].clone();
        if let Some(first) = status["recommendation"]["containerRecommendations"].get(0)
            && Quantity::of_value(&first["target"]["memory"]).is_some_and(|t| t >= used)
        {
            return first.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no recommendation within 180 s; status: {status}; recommender log:\n{}",
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn quantity(value: &Value) -> Quantity {
    Quantity::of_value(value).unwrap_or_else(|| panic!("not a quantity: {value}"))
}

#[tokio::test]
async fn the_recommender_fills_the_charts_vpa_and_verify_names_requests_under_its_target() {
    let cluster = shared_simulated_cluster();
    let client = cluster.client().await.unwrap();
    let binaries = Binaries::locate().unwrap();
    Api::<Namespace>::all(client.clone())
        .patch(
            NAMESPACE,
            &PatchParams::apply("rightsizing-tests"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
            ),
        )
        .await
        .unwrap();
    let rendered = rendered_service(&binaries);
    assert!(
        rendered.contains("kind: VerticalPodAutoscaler")
            && rendered.contains("updateMode: \"Off\""),
        "the chart renders a VPA in recommendation mode:\n{rendered}"
    );
    // The workload and its VPA; the rest (HPA, policies, monitors) plays no part here.
    let skip = [
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "SecretProviderClass",
        "TargetGroupConfiguration",
        "ScaledObject",
        "TriggerAuthentication",
        "Service",
    ];
    apply_yaml(
        &client,
        Path::new("helm template"),
        &rendered,
        "rightsizing-tests",
        NAMESPACE,
        &skip,
    )
    .await
    .unwrap();
    let log = cluster.start_vpa_recommender(NAMESPACE).unwrap();

    let recommendation = wait_for_recommendation(&client, &log).await;
    assert_eq!(recommendation["containerName"], SERVICE);
    let target = quantity(&recommendation["target"]["memory"]);
    let lower = quantity(&recommendation["lowerBound"]["memory"]);
    let requested = quantity(&json!("256Mi"));
    assert!(
        target.as_units() > 2.0 * requested.as_units(),
        "the target is more than twice the 256Mi request: {recommendation}"
    );

    // updateMode "Off": the pods keep the requests the chart gave them.
    let pods = Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={SERVICE}")))
        .await
        .unwrap();
    assert!(!pods.items.is_empty(), "the Deployment runs pods");
    for pod in &pods.items {
        let requests = serde_json::to_value(&pod.spec.as_ref().unwrap().containers[0].resources)
            .unwrap()["requests"]
            .clone();
        assert_eq!(requests["memory"], "256Mi", "the VPA resized nothing");
    }

    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let chart_dir = tempfile::tempdir().unwrap();
    prepare_chart_dir(&binaries, chart_dir.path()).unwrap();
    let chart_arg = chart_dir.path().display().to_string();
    let verified = tacos_command!()
        .kubeconfig(&cluster.control_plane.kubeconfig)
        .aws(&aws)
        .helm()
        .args([
            "verify",
            "--phase",
            "apps",
            "--chart-dir",
            &chart_arg,
            "--output",
            "json",
        ])
        .run_async()
        .await;
    let report: Value = verified.json();
    let findings: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("verify reports its checks: {verified}"))
        .iter()
        .filter(|c| c["check"] == "rightsizing-vpa-recommendations")
        .flat_map(|c| c["findings"].as_array().into_iter().flatten())
        .collect();
    let subject = format!("VerticalPodAutoscaler {NAMESPACE}/{SERVICE}");
    let memory = findings
        .iter()
        .find(|f| {
            f["subject"] == subject.as_str()
                && f["message"].as_str().unwrap_or("").contains("memory")
        })
        .unwrap_or_else(|| panic!("no right-sizing finding for {subject}: {verified}"));
    let message = memory["message"].as_str().unwrap();
    assert_eq!(memory["severity"], "warning", "{memory}");
    assert!(
        message.contains(&format!(
            "container {SERVICE}: requests 256Mi memory, less than 1/2 of the recommender's target {} (lower bound {})",
            target.as_bytes_text(),
            lower.as_bytes_text()
        )),
        "{message}"
    );
    assert!(
        memory["remedy"]
            .as_str()
            .unwrap()
            .contains(&format!("near {}", target.as_bytes_text())),
        "{memory}"
    );
}
