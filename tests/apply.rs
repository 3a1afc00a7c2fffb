//! The applier and the wait against a real kube-apiserver: order, idempotency, conflicts, prune, CRDs with their resources, timeouts, a vanishing apiserver.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tacos::apply::applyset::ApplySet;
use tacos::apply::wait::{Target, WaitError, WaitOptions, wait_until_ready};
use tacos::apply::{Applied, Applier, ApplyError, ApplyOptions, Mode, Outcome};
use tacos::repo::{Object, load_str};
use tacos_testenv::{ControlPlane, ControlPlaneOptions, shared_control_plane};

fn objects(yaml: &str) -> Vec<Object> {
    load_str("test.yaml", yaml)
        .expect("valid test YAML")
        .objects
}

fn config_maps(namespace: &str, names: &[&str]) -> Vec<Object> {
    let yaml: String = names
        .iter()
        .map(|name| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {namespace}}}\ndata: {{key: value}}\n"))
        .collect();
    objects(&yaml)
}

/// A Deployment a bare control plane (no controllers) can never roll out.
fn deployment(namespace: &str, name: &str, replicas: u32) -> Vec<Object> {
    objects(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: 'c:1'}}]}}\n"
    ))
}

fn targets(applied: &[Applied]) -> Vec<Target> {
    applied
        .iter()
        .map(|a| Target {
            key: a.key.clone(),
            resource: a.resource.clone(),
            floor: None,
        })
        .collect()
}

fn ignore(_: &Applied) {}

fn outcomes(applied: &[Applied]) -> Vec<(String, Outcome)> {
    let mut out: Vec<_> = applied
        .iter()
        .map(|a| (a.key.name.clone(), a.outcome))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn second_apply_of_the_same_objects_writes_nothing() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("idem").await.unwrap();
    let applier = Applier::new(client, ApplyOptions::default());
    let set = config_maps(&ns, &["a", "b"]);
    let first = applier.apply(&set, &ignore).await.unwrap();
    assert_eq!(
        outcomes(&first),
        vec![
            ("a".into(), Outcome::Created),
            ("b".into(), Outcome::Created)
        ]
    );
    let second = applier.apply(&set, &ignore).await.unwrap();
    assert_eq!(
        outcomes(&second),
        vec![
            ("a".into(), Outcome::Unchanged),
            ("b".into(), Outcome::Unchanged)
        ]
    );
    for applied in &first {
        let live = second.iter().find(|a| a.key == applied.key).unwrap();
        assert_eq!(
            live.live["metadata"]["resourceVersion"], applied.live["metadata"]["resourceVersion"],
            "no write on the second apply"
        );
    }
}

#[tokio::test]
async fn namespace_and_objects_in_it_apply_in_one_run_in_order() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = format!("ordered-{}", std::process::id());
    // The ConfigMap comes first in the file; the Namespace must still be created first.
    let set = objects(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {ns}}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
    ));
    let applied = Applier::new(client, ApplyOptions::default())
        .apply(&set, &ignore)
        .await
        .unwrap();
    assert_eq!(applied[0].key.kind, "Namespace");
    assert!(applied.iter().all(|a| a.outcome == Outcome::Created));
}

#[tokio::test]
async fn crd_and_its_custom_resources_apply_in_one_run() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("crd").await.unwrap();
    let group = format!("g{}.tacos.test", std::process::id());
    let set = objects(&format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: widgets.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, properties: {{size: {{type: integer}}}}}}}}}}}}\n---\napiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w, namespace: {ns}}}\nspec: {{size: 3}}\n"
    ));
    let applied = Applier::new(client, ApplyOptions::default())
        .apply(&set, &ignore)
        .await
        .unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[1].live["spec"]["size"], 3);
}

#[tokio::test]
async fn conflict_with_another_field_manager_names_it_and_force_takes_over() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("conflict").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": ns}, "data": {"key": "theirs"}});
    api.patch(
        "shared",
        &PatchParams::apply("someone-else"),
        &Patch::Apply(&theirs),
    )
    .await
    .unwrap();
    let ours = objects(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: {ns}}}\ndata: {{key: ours}}\n"
    ));
    let error = Applier::new(client.clone(), ApplyOptions::default())
        .apply(&ours, &ignore)
        .await
        .unwrap_err();
    let ApplyError::Conflict { message, .. } = &error else {
        panic!("expected a conflict, got {error}")
    };
    assert!(
        message.contains("someone-else"),
        "names the other manager: {message}"
    );
    assert!(error.to_string().contains("--force-conflicts"), "{error}");
    let forced = ApplyOptions {
        force_conflicts: true,
        ..ApplyOptions::default()
    };
    Applier::new(client, forced)
        .apply(&ours, &ignore)
        .await
        .unwrap();
    assert_eq!(
        api.get("shared").await.unwrap().data.unwrap()["key"],
        "ours"
    );
}

#[tokio::test]
async fn dry_run_validates_without_storing() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("dryrun").await.unwrap();
    let options = ApplyOptions {
        mode: Mode::DryRun,
        ..ApplyOptions::default()
    };
    let applied = Applier::new(client.clone(), options.clone())
        .apply(&config_maps(&ns, &["ghost"]), &ignore)
        .await
        .unwrap();
    assert_eq!(applied[0].outcome, Outcome::Created);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(
        api.get_opt("ghost").await.unwrap().is_none(),
        "a dry run stores nothing"
    );
    let invalid = objects(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: bad, namespace: {ns}}}\nspec: {{ports: [{{port: 70000}}]}}\n"
    ));
    let error = Applier::new(client, options)
        .apply(&invalid, &ignore)
        .await
        .unwrap_err();
    assert!(matches!(error, ApplyError::Rejected { .. }), "{error}");
}

#[tokio::test]
async fn prune_deletes_what_the_phase_no_longer_holds() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("prune").await.unwrap();
    let options = ApplyOptions {
        applyset: Some(ApplySet::for_phase(&format!("test-{ns}"))),
        ..ApplyOptions::default()
    };
    let applier = Applier::new(client.clone(), options);
    let before = config_maps(&ns, &["keep", "drop"]);
    let applied = applier.apply(&before, &ignore).await.unwrap();
    assert!(
        applier.prune(&before, &applied).await.unwrap().is_empty(),
        "nothing to prune the first time"
    );
    let after = config_maps(&ns, &["keep"]);
    let applied = applier.apply(&after, &ignore).await.unwrap();
    let pruned = applier.prune(&after, &applied).await.unwrap();
    assert_eq!(
        pruned
            .iter()
            .map(|p| p.key.name.as_str())
            .collect::<Vec<_>>(),
        vec!["drop"]
    );
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(api.get_opt("keep").await.unwrap().is_some());
    let dropped = api.get_opt("drop").await.unwrap();
    assert!(
        dropped.is_none_or(|d| d.metadata.deletion_timestamp.is_some()),
        "the dropped object is gone"
    );
    let unrelated = config_maps(&ns, &["not-ours"]);
    Applier::new(client.clone(), ApplyOptions::default())
        .apply(&unrelated, &ignore)
        .await
        .unwrap();
    applier.prune(&after, &applied).await.unwrap();
    assert!(
        api.get_opt("not-ours").await.unwrap().is_some(),
        "objects outside the ApplySet are never pruned"
    );
}

#[tokio::test]
async fn timeout_names_the_object_and_the_condition_it_waits_on() {
    let plane = shared_control_plane();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("timeout").await.unwrap();
    // A bare control plane runs no controllers: the Deployment can never roll out.
    let deployment = deployment(&ns, "stuck", 2);
    let applied = Applier::new(client.clone(), ApplyOptions::default())
        .apply(&deployment, &ignore)
        .await
        .unwrap();
    let targets = targets(&applied);
    let options = WaitOptions {
        timeout: Duration::from_secs(3),
        ..WaitOptions::default()
    };
    let error = wait_until_ready(&client, &targets, &options, &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(error, WaitError::Timeout { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains(&format!("Deployment {ns}/stuck")), "{text}");
    assert!(
        text.contains("generation") || text.contains("replicas"),
        "says which condition: {text}"
    );
}

#[tokio::test]
async fn wait_reports_an_unreachable_cluster_and_a_rerun_after_restart_converges() {
    let plane = ControlPlane::start(ControlPlaneOptions {
        install_crds: false,
        ..ControlPlaneOptions::default()
    })
    .await
    .unwrap();
    let client = plane.client().await.unwrap();
    let ns = plane.fresh_namespace("outage").await.unwrap();
    let set = config_maps(&ns, &["survivor"]);
    let applied = Applier::new(client.clone(), ApplyOptions::default())
        .apply(&set, &ignore)
        .await
        .unwrap();
    let deployment = deployment(&ns, "waits", 1);
    let pending = Applier::new(client.clone(), ApplyOptions::default())
        .apply(&deployment, &ignore)
        .await
        .unwrap();
    let targets = targets(&pending);
    let options = WaitOptions {
        timeout: Duration::from_secs(120),
        unreachable_after: Duration::from_secs(3),
        ..WaitOptions::default()
    };
    let waiting = wait_until_ready(&client, &targets, &options, &|_| {});
    let outage = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        plane.stop_apiserver();
    };
    let (result, ()) = tokio::join!(waiting, outage);
    let error = result.unwrap_err();
    assert!(matches!(error, WaitError::Unreachable { .. }), "{error}");
    let error = Applier::new(client, ApplyOptions::default())
        .apply(&set, &ignore)
        .await
        .unwrap_err();
    assert!(error.is_unreachable(), "{error}");
    plane.restart_apiserver().await.unwrap();
    let client = plane.client().await.unwrap();
    let again = Applier::new(client, ApplyOptions::default())
        .apply(&set, &ignore)
        .await
        .unwrap();
    assert_eq!(
        again[0].outcome,
        Outcome::Unchanged,
        "the data survived in etcd: the re-run converges"
    );
    assert_eq!(again[0].key, applied[0].key);
}
