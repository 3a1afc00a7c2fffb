//! The GitOps tree against the real apiserver: every object of every phase (chart renders included) passes a server-side dry run, and every workload's pods are admitted under Pod Security `restricted`.

use std::path::PathBuf;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;
use tacos::apply::{Applier, ApplyOptions, Mode};
use tacos::phases;
use tacos::phases::render::{RenderOptions, render_phase};
use tacos::repo::{LoadOptions, Object, load};
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::{Binaries, shared_control_plane};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every phase's objects, with the in-tree chart rendered for each service's Application.
async fn whole_tree() -> Vec<Object> {
    let binaries = Binaries::locate().unwrap();
    let chart_dir = tempfile::tempdir().unwrap();
    // The argocd phase's upstream chart is not served by any registry here: the stand-in renders.
    prepare_chart_dir(&binaries, chart_dir.path()).unwrap();
    let options = RenderOptions {
        repo: repo_root(),
        chart_dir: Some(chart_dir.path().to_path_buf()),
        helm: Some(binaries.helm.clone()),
        ..RenderOptions::default()
    };
    let mut objects = Vec::new();
    for phase in phases::ALL {
        objects.extend(
            render_phase(phase, &options)
                .await
                .unwrap_or_else(|e| panic!("phase {}: {e}", phase.name)),
        );
    }
    let charts = load(
        &[repo_root().join("applications")],
        &LoadOptions {
            render_charts: true,
            helm: Some(binaries.helm.clone()),
        },
    )
    .unwrap();
    objects.extend(
        charts
            .objects
            .into_iter()
            .filter(|o| o.source.rendered_for.is_some()),
    );
    objects
}

#[tokio::test]
async fn every_object_of_every_phase_passes_a_server_side_dry_run() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let objects = whole_tree().await;
    assert!(
        objects.len() > 100,
        "the whole tree renders ({} objects)",
        objects.len()
    );
    let services = objects
        .iter()
        .filter(|o| o.is("apps", "Deployment") && o.namespace() == Some("tacos-app"))
        .count();
    assert_eq!(
        services, 5,
        "one Deployment per service rendered from the chart"
    );
    // Namespaces for real (a dry run cannot create what later objects live in); everything else dry.
    let namespaces: Vec<Object> = objects
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .cloned()
        .collect();
    Applier::new(client.clone(), ApplyOptions::default())
        .apply(&namespaces, &|_| {})
        .await
        .unwrap();
    let rest: Vec<Object> = objects
        .into_iter()
        .filter(|o| !o.is("", "Namespace"))
        .collect();
    let dry = ApplyOptions {
        mode: Mode::DryRun,
        force_conflicts: true,
        ..ApplyOptions::default()
    };
    let applier = Applier::new(client, dry);
    let mut failures = Vec::new();
    for object in &rest {
        if let Err(error) = applier.apply(std::slice::from_ref(object), &|_| {}).await {
            failures.push(error.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} object(s) rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn pods_of_every_workload_are_admitted_in_their_namespace() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let objects = whole_tree().await;
    let namespaces: Vec<Object> = objects
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .cloned()
        .collect();
    assert!(namespaces.iter().any(|n| n.name() == "tacos-app"
        && n.label("pod-security.kubernetes.io/enforce") == Some("restricted")));
    Applier::new(client.clone(), ApplyOptions::default())
        .apply(&namespaces, &|_| {})
        .await
        .unwrap();
    let pods_api = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Pod"));
    let mut checked = 0;
    let mut refused = Vec::new();
    for workload in objects
        .iter()
        .filter(|o| o.pod_spec().is_some() && o.kind() != "Pod")
    {
        let (_, spec) = workload.pod_spec().unwrap();
        let namespace = workload.namespace().unwrap_or("default");
        let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(client.clone(), namespace);
        let account = spec["serviceAccountName"].as_str().unwrap_or("default");
        let _ = accounts
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": account}})).unwrap(),
            )
            .await;
        let pod: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{}-admission", workload.name()), "namespace": namespace},
            "spec": spec,
        }))
        .unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &pods_api);
        match api
            .create(
                &PostParams {
                    dry_run: true,
                    ..PostParams::default()
                },
                &pod,
            )
            .await
        {
            Ok(_) => checked += 1,
            Err(error) => refused.push(format!(
                "{} {}: {error}",
                workload.key(),
                workload.location()
            )),
        }
    }
    assert!(checked >= 10, "checked {checked} workloads");
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}
