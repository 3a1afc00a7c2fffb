//! The GitOps loop for real: the real Argo CD (application-controller and repo-server) syncs the tree from a local Git repository into the simulated cluster, and `tacos deploy` hands folders over to it and waits on the commit.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tacos_testenv::lab::Lab;
use tacos_testenv::{Run, TacosCommand, tacos_command};

/// tacos in the lab's Git working tree (what Argo CD syncs is what tacos reads), on the lab.
fn tacos(lab: &Lab) -> TacosCommand {
    tacos_command!()
        .current_dir(lab.git.dir.clone())
        .envs(lab.env())
        .aws(&lab.aws)
        .kubeconfig(lab.kubeconfig())
        .helm()
}

fn applications(client: &kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        "argocd",
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "argoproj.io",
            "v1alpha1",
            "Application",
        )),
    )
}

/// Every commit an Application's status says it is synced at.
fn synced_revisions(application: &DynamicObject) -> Vec<String> {
    let sync = &application.data["status"]["sync"];
    sync["revision"]
        .as_str()
        .into_iter()
        .chain(
            sync["revisions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        )
        .map(str::to_string)
        .collect()
}

fn managers(live: &Value) -> Vec<String> {
    live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["manager"].as_str().map(str::to_string))
        .collect()
}

/// A change made by hand (as `kubectl edit` would), under its own field manager.
async fn edit_by_hand<K>(api: &Api<K>, name: &str, patch: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &Patch::Merge(patch),
    )
    .await
    .unwrap();
}

async fn deploy(lab: &Lab, args: &[&str]) -> Run {
    tacos(lab)
        .args(["deploy", "--timeout", "4m", "--failure-window", "20s"])
        .args(args)
        .run_async()
        .await
}

async fn wait_for<F, Fut>(what: &str, seconds: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..seconds {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{what} did not happen within {seconds} s");
}

#[tokio::test]
async fn argo_cd_syncs_the_served_commit_and_tacos_waits_on_it_and_hands_folders_over() {
    let lab = Lab::start(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .await
        .unwrap();
    let client = lab.client.clone();

    // The main job: gateway and argocd bootstrapped, then apps through Argo CD.
    for phase in ["gateway", "argocd", "apps"] {
        let run = deploy(&lab, &["--phase", phase]).await;
        if run.code != 0 {
            let log = lab.git.git(&["log", "--all", "--format=%H %s"]).unwrap();
            let statuses: Vec<Value> = applications(&client)
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .map(|a| json!({"name": a.metadata.name, "status": a.data["status"]}))
                .collect();
            eprintln!(
                "git log:\n{log}\nApplications: {}",
                serde_json::to_string_pretty(&statuses).unwrap()
            );
        }
        run.assert_code(0);
        run.assert_stdout_contains(&format!("✔ {phase} is up in"));
    }
    let served = lab.git.head().unwrap();
    let all = applications(&client)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let mut names: Vec<String> = all.iter().filter_map(|a| a.metadata.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "argocd-config",
            "gateway",
            "gateway-api",
            "inventory-api",
            "payment-sim-api",
            "reservation-api",
            "reservation-worker",
            "tacos-app-baseline",
            "vpa-recommender"
        ]
    );
    for application in &all {
        let name = application.metadata.name.clone().unwrap_or_default();
        let status = &application.data["status"];
        assert_eq!(status["sync"]["status"], "Synced", "{name}: {status}");
        assert_eq!(status["health"]["status"], "Healthy", "{name}: {status}");
        assert!(
            synced_revisions(application).iter().all(|r| r == &served),
            "{name} is at the served commit {served}: {status}"
        );
        assert_eq!(
            application.data["spec"]["sources"][0]["repoURL"]
                .as_str()
                .or(application.data["spec"]["source"]["repoURL"].as_str()),
            Some(lab.git.url().as_str()),
            "{name} points at the environment's repository"
        );
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "tacos-app");
    let image = |d: &Deployment| {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .image
            .clone()
            .unwrap_or_default()
    };
    assert!(
        image(&deployments.get("inventory-api").await.unwrap()).ends_with(":v1.4.2"),
        "the Deployment carries helm-values/inventory-api.yaml's image tag"
    );
    // The folders tacos bootstrapped are Argo CD's alone now.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for namespace in ["gateway", "argocd", "tacos-app"] {
        let live = serde_json::to_value(namespaces.get(namespace).await.unwrap()).unwrap();
        let owners = managers(&live);
        assert!(
            !owners.iter().any(|m| m == "tacos") && owners.iter().any(|m| m == "argocd-controller"),
            "Namespace {namespace} has one owner: {owners:?}"
        );
    }

    // A new commit of helm-values: apps waits until Argo CD is at it and the Deployment has it.
    let values = std::fs::read_to_string(lab.git.dir.join("helm-values/inventory-api.yaml"))
        .unwrap()
        .replace("tag: v1.4.2", "tag: v1.4.3");
    let changed = lab
        .git
        .commit_file(
            "helm-values/inventory-api.yaml",
            &values,
            "inventory-api v1.4.3",
        )
        .unwrap();
    let run = deploy(&lab, &["--phase", "apps"]).await;
    run.assert_code(0);
    run.assert_stdout_contains(&format!("commit {changed}"));
    assert!(image(&deployments.get("inventory-api").await.unwrap()).ends_with(":v1.4.3"));
    let inventory = applications(&client).get("inventory-api").await.unwrap();
    assert!(synced_revisions(&inventory).contains(&changed));

    // A committed change to a handed-over folder: no conflict, no fight, one owner of the field.
    let limits = std::fs::read_to_string(lab.git.dir.join("manifests/tacos/limitrange.yaml"))
        .unwrap()
        .replacen("cpu: 100m", "cpu: 150m", 1);
    lab.git
        .commit_file(
            "manifests/tacos/limitrange.yaml",
            &limits,
            "a bigger default request",
        )
        .unwrap();
    let run = deploy(&lab, &["--phase", "apps"]).await;
    run.assert_code(0);
    assert!(!run.stdout.contains("conflict"), "{run}");
    let ranges: Api<LimitRange> = Api::namespaced(client.clone(), "tacos-app");
    let range = ranges
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let live = serde_json::to_value(&range).unwrap();
    assert_eq!(
        live["spec"]["limits"][0]["defaultRequest"]["cpu"], "150m",
        "{live}"
    );
    let owners = tacos::apply::drift::owners(&live, "/spec/limits");
    assert_eq!(owners, ["argocd-controller"], "{live}");

    // The same for the folders tacos bootstrapped before Argo CD ran (gateway, argocd): each
    // phase's re-run converges through Argo CD, and the changed field has Argo CD as its owner.
    for (phase, file, namespace, name) in [
        (
            "gateway",
            "manifests/gateway/networkpolicy.yaml",
            "gateway",
            "default-deny-all",
        ),
        (
            "argocd",
            "manifests/argocd/networkpolicy-allow-redis.yaml",
            "argocd",
            "allow-argocd-to-redis-haproxy",
        ),
    ] {
        let text = std::fs::read_to_string(lab.git.dir.join(file))
            .unwrap()
            .replacen("    team: platform\n", "    team: platform-networking\n", 1);
        assert!(
            text.contains("platform-networking"),
            "{file} has a team label"
        );
        lab.git
            .commit_file(
                file,
                &text,
                &format!("{phase}: another team owns the policy"),
            )
            .unwrap();
        let run = deploy(&lab, &["--phase", phase]).await;
        run.assert_code(0);
        assert!(!run.stdout.contains("conflict"), "{run}");
        let live = serde_json::to_value(
            Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(
                client.clone(),
                namespace,
            )
            .get(name)
            .await
            .unwrap(),
        )
        .unwrap();
        assert_eq!(live["metadata"]["labels"]["team"], "platform-networking");
        assert_eq!(
            tacos::apply::drift::owners(&live, "/metadata/labels/team"),
            ["argocd-controller"],
            "{phase}: {live}"
        );
    }

    // An object Argo CD manages, edited by hand: self-heal puts it back.
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "tacos-app");
    let quota = quotas
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let quota_name = quota.metadata.name.clone().unwrap();
    let team = quota.metadata.labels.clone().unwrap_or_default()["team"].clone();
    edit_by_hand(
        &quotas,
        &quota_name,
        json!({"metadata": {"labels": {"team": "someone-else"}}}),
    )
    .await;
    wait_for("self-heal of the hand-edited ResourceQuota", 60, || {
        let quotas = quotas.clone();
        let (name, team) = (quota_name.clone(), team.clone());
        async move {
            quotas
                .get(&name)
                .await
                .unwrap()
                .metadata
                .labels
                .unwrap_or_default()["team"]
                == team
        }
    })
    .await;

    // An Application whose value file is missing: apps fails with Argo CD's message.
    let application_file = lab.git.dir.join("applications/tacos/payment-sim-api.yaml");
    let good = std::fs::read_to_string(&application_file).unwrap();
    let broken = good.replace(
        "$values/helm-values/payment-sim-api.yaml",
        "$values/helm-values/payment-sim-api-missing.yaml",
    );
    lab.git
        .commit_file(
            "applications/tacos/payment-sim-api.yaml",
            &broken,
            "a value file that does not exist",
        )
        .unwrap();
    let run = deploy(&lab, &["--phase", "apps"]).await;
    run.assert_code(1);
    run.assert_output_contains("payment-sim-api");
    run.assert_output_contains("payment-sim-api-missing.yaml");
    assert!(!run.stdout.contains("✔ apps is up"), "{run}");
    lab.git
        .commit_file(
            "applications/tacos/payment-sim-api.yaml",
            &good,
            "put it back",
        )
        .unwrap();

    // Another branch: the Applications carry it and the wait is on its commit.
    lab.git.checkout_branch("dev").unwrap();
    let values = values.replace("tag: v1.4.3", "tag: v1.5.0-rc.1");
    let dev = lab
        .git
        .commit_file(
            "helm-values/inventory-api.yaml",
            &values,
            "dev: inventory-api rc",
        )
        .unwrap();
    let run = deploy(&lab, &["--phase", "apps", "--git-revision", "dev"]).await;
    run.assert_code(0);
    run.assert_stdout_contains(&format!("commit {dev}"));
    let inventory = applications(&client).get("inventory-api").await.unwrap();
    assert_eq!(
        inventory.data["spec"]["sources"][0]["targetRevision"],
        "dev"
    );
    assert!(synced_revisions(&inventory).contains(&dev));
    assert!(image(&deployments.get("inventory-api").await.unwrap()).ends_with(":v1.5.0-rc.1"));

    // With automated sync (and so self-heal) off, a hand edit stays: verify and doctor read the
    // real OutOfSync.
    edit_by_hand(
        &applications(&client),
        "tacos-app-baseline",
        json!({"spec": {"syncPolicy": {"automated": null}}}),
    )
    .await;
    // The controller reads the change from its informer: give it a moment, or it heals the edit.
    tokio::time::sleep(Duration::from_secs(5)).await;
    edit_by_hand(
        &quotas,
        &quota_name,
        json!({"metadata": {"labels": {"team": "someone-else"}}}),
    )
    .await;
    let mut seen = false;
    for _ in 0..60 {
        let baseline = applications(&client)
            .get("tacos-app-baseline")
            .await
            .unwrap();
        if baseline.data["status"]["sync"]["status"] == "OutOfSync" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !seen {
        let baseline = applications(&client)
            .get("tacos-app-baseline")
            .await
            .unwrap();
        let quota = quotas.get(&quota_name).await.unwrap();
        panic!(
            "Argo CD did not see the edit within 60 s: quota labels {:?}, managed {:?}; Application spec {} status {}",
            quota.metadata.labels,
            quota
                .metadata
                .managed_fields
                .iter()
                .flatten()
                .map(|m| m.manager.clone())
                .collect::<Vec<_>>(),
            baseline.data["spec"]["syncPolicy"],
            serde_json::to_string(&baseline.data["status"]).unwrap()
        );
    }
    let verified = tacos(&lab)
        .args(["verify", "--phase", "apps", "--git-revision", "dev"])
        .run_async()
        .await;
    verified.assert_code(1);
    verified.assert_stdout_contains("Application argocd/tacos-app-baseline");
    verified.assert_stdout_contains("OutOfSync");
    verified.assert_stdout_contains(&format!("ResourceQuota tacos-app/{quota_name}"));
    verified.assert_stdout_contains("/metadata/labels/team");
    // The fix is Argo CD's to make: tacos does not write what an Application syncs.
    verified.assert_stdout_contains("argocd app sync tacos-app-baseline");
    let doctor = tacos(&lab).args(["doctor"]).run_async().await;
    doctor.assert_output_contains("Application argocd/tacos-app-baseline is OutOfSync");
    doctor.assert_output_contains(&format!("ResourceQuota tacos-app/{quota_name}"));
}
