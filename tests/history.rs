//! `tacos history` for real: deploys on the lab (the real Argo CD syncing a local Git repository) leave one entry per phase run that changed something, with who, which commit and what changed, never a Secret's value; a read-only identity lists and shows them.

use std::path::{Path, PathBuf};

use base64::Engine;
use kube::api::Api;
use serde_json::Value;
use tacos_testenv::lab::Lab;
use tacos_testenv::{Run, TacosCommand, tacos_command};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// tacos in the lab's Git working tree (what Argo CD syncs is what tacos reads), on the lab.
fn tacos(lab: &Lab) -> TacosCommand {
    tacos_command!()
        .current_dir(lab.git.dir.clone())
        .envs(lab.env())
        .aws(&lab.aws)
        .kubeconfig(lab.kubeconfig())
        .helm()
}

async fn deploy(lab: &Lab, phase: &str) -> Run {
    let run = tacos(lab)
        .args(["deploy", "--timeout", "4m", "--failure-window", "20s"])
        .args(["--phase", phase])
        .run_async()
        .await;
    run.assert_code(0);
    run
}

async fn history(lab: &Lab, args: &[&str]) -> Run {
    tacos(lab).arg("history").args(args).run_async().await
}

/// The ids of `tacos history -o json`, in its order.
fn ids(listed: &Value) -> Vec<String> {
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Applies every object of a YAML file as the test's own field manager (what `kubectl apply` would do).
async fn apply_file(client: &kube::Client, path: &Path) {
    tacos_testenv::apply::apply_file(client, path)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A new commit of inventory-api's image tag (Argo CD syncs it; tacos's own objects stay as they are).
fn commit_tag(lab: &Lab, from: &str, to: &str) -> String {
    let values = std::fs::read_to_string(lab.git.dir.join("helm-values/inventory-api.yaml"))
        .unwrap()
        .replace(&format!("tag: {from}"), &format!("tag: {to}"));
    lab.git
        .commit_file(
            "helm-values/inventory-api.yaml",
            &values,
            &format!("inventory-api {to}"),
        )
        .unwrap()
}

#[tokio::test]
async fn deploys_leave_a_bounded_history_of_who_deployed_which_commit_and_what_changed() {
    let lab = Lab::start(&repo_root()).await.unwrap();
    let client = lab.client.clone();

    // Two entries per phase, and a value the argo-cd chart puts into the Secret argocd-secret.
    const PROBE: &str = "history-probe-value-5c1e9a";
    let config = std::fs::read_to_string(lab.git.dir.join("tacos.yaml"))
        .unwrap()
        .replacen("      keep: 10\n", "      keep: 2\n", 1);
    assert!(config.contains("keep: 2"), "tacos.yaml sets history.keep");
    std::fs::write(lab.git.dir.join("tacos.yaml"), config).unwrap();
    let values = std::fs::read_to_string(lab.git.dir.join("helm-values/argocd-values.yaml"))
        .unwrap()
        .replacen(
            "    createSecret: true\n",
            &format!("    createSecret: true\n    extra:\n      history-probe: {PROBE}\n"),
            1,
        );
    assert!(values.contains(PROBE));
    std::fs::write(lab.git.dir.join("helm-values/argocd-values.yaml"), values).unwrap();
    let first = lab.git.commit("keep two entries; a Secret value").unwrap();

    // Who acts: the emulator's AWS identity, and the lab kubeconfig's user.
    let caller = aws_sdk_sts::Client::new(&lab.aws.sdk_config().await)
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let kubeconfig = kube::config::Kubeconfig::read_from(lab.kubeconfig()).unwrap();
    let current = kubeconfig.current_context.clone().unwrap();
    let kube_user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .unwrap();

    let empty = history(&lab, &[]).await;
    empty.assert_code(0);
    empty.assert_stdout_contains("no deploy history on this cluster yet");

    let all = deploy(&lab, "all").await;
    for phase in ["gateway", "argocd", "apps", "monitoring"] {
        all.assert_stdout_contains(&format!("recorded as history entry {phase}-1"));
    }
    let listed = history(&lab, &["-o", "json"]).await;
    listed.assert_code(0);
    let listed = listed.json();
    assert_eq!(
        ids(&listed),
        ["monitoring-1", "apps-1", "argocd-1", "gateway-1"],
        "newest first"
    );
    for entry in listed.as_array().unwrap() {
        let id = &entry["id"];
        assert_eq!(entry["tree"]["commit"], first.as_str(), "{id}: {entry}");
        assert_eq!(entry["tree"]["dirty"], false, "{id}: {entry}");
        assert_eq!(entry["awsCallerArn"], caller.as_str(), "{id}");
        assert_eq!(entry["kube"]["user"], kube_user.as_str(), "{id}");
        assert_eq!(entry["result"]["status"], "up", "{id}");
        assert_eq!(entry["environment"], "prod", "{id}");
        assert_eq!(entry["source"]["repoURL"], lab.git.url().as_str(), "{id}");
        assert!(
            entry["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["change"] == "created"),
            "{id} created objects: {entry}"
        );
    }
    let apps_1 = &listed[1];
    let synced: Vec<(&str, &str)> = apps_1["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["commit"].as_str().unwrap()))
        .collect();
    assert!(
        synced.contains(&("inventory-api", first.as_str())),
        "{synced:?}"
    );
    assert!(synced.iter().all(|(_, c)| *c == first), "{synced:?}");

    // A new commit Argo CD syncs is an entry, though none of tacos's own objects changed.
    let second = commit_tag(&lab, "v1.4.2", "v1.4.3");
    deploy(&lab, "apps")
        .await
        .assert_stdout_contains("recorded as history entry apps-2");
    // The same again changes nothing: no entry.
    let again = deploy(&lab, "apps").await;
    assert!(
        !again.stdout.contains("recorded as history entry"),
        "{again}"
    );
    let apps = history(&lab, &["--phase", "apps", "-o", "json"])
        .await
        .json();
    assert_eq!(ids(&apps), ["apps-2", "apps-1"]);
    assert_eq!(apps[0]["tree"]["commit"], second.as_str());
    assert!(
        apps[0]["applications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "inventory-api" && a["commit"] == second.as_str()),
        "{}",
        apps[0]
    );

    // A third entry from a tree with uncommitted changes: the oldest apps entry goes (keep: 2).
    let third = commit_tag(&lab, "v1.4.3", "v1.4.4");
    std::fs::write(lab.git.dir.join("NOTES.txt"), "not committed\n").unwrap();
    deploy(&lab, "apps")
        .await
        .assert_stdout_contains("recorded as history entry apps-3")
        .assert_stdout_contains("deleted apps-1 to keep the last 2");
    let table = history(&lab, &[]).await;
    table.assert_code(0);
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert!(rows[0].starts_with("ID "), "{table}");
    let order: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["apps-3", "apps-2", "monitoring-1", "argocd-1", "gateway-1"]
    );
    assert!(
        rows[1].contains(&format!("{}+dirty", &third[..7])),
        "{table}"
    );
    assert!(rows[2].contains(&second[..7]) && !rows[2].contains("+dirty"));
    assert!(
        rows[2].contains(&format!("Applications at {}", &second[..7])),
        "{table}"
    );
    assert!(
        rows[1].contains(&caller) && rows[1].contains(" up "),
        "{table}"
    );

    // One entry whole: what was created, never a Secret's value.
    let shown = history(&lab, &["show", "argocd-1"]).await;
    shown.assert_code(0);
    shown.assert_stdout_contains(&format!("tree:       {first}"));
    shown.assert_stdout_contains(&format!("AWS caller: {caller}"));
    shown.assert_stdout_contains("created     Secret argocd/argocd-secret");
    shown.assert_stdout_contains("created     Namespace argocd");
    let as_json = history(&lab, &["show", "argocd-1", "-o", "json"]).await;
    as_json.assert_code(0);
    assert_eq!(as_json.json()["id"], "argocd-1");
    let encoded = base64::engine::general_purpose::STANDARD.encode(PROBE);
    let stored: k8s_openapi::api::core::v1::Secret = Api::namespaced(client.clone(), "argocd")
        .get("argocd-secret")
        .await
        .unwrap();
    assert_eq!(
        stored.data.unwrap()["history-probe"].0,
        PROBE.as_bytes(),
        "the Secret holds the value the entry must not"
    );
    for run in [&shown, &as_json] {
        assert!(
            !run.stdout.contains(PROBE) && !run.stdout.contains(&encoded),
            "{run}"
        );
    }
    let entries: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "kube-system");
    let stored =
        serde_json::to_string(&entries.get("tacos-history-argocd-1").await.unwrap()).unwrap();
    assert!(!stored.contains(PROBE) && !stored.contains(&encoded));
    history(&lab, &["show", "apps-2"])
        .await
        .assert_stdout_contains(&format!("inventory-api at {second}"));

    // An id that is not there (pruned) names those that are.
    let gone = history(&lab, &["show", "apps-1"]).await;
    gone.assert_code(2);
    gone.assert_output_contains("no history entry apps-1; the entries are: apps-3, apps-2");

    // The read-only identity the repository ships reads the history.
    apply_file(
        &client,
        &repo_root().join("manifests/access/tacos-verify.yaml"),
    )
    .await;
    let as_verify = ["--as", "system:serviceaccount:tacos-system:tacos-verify"];
    let read_only = history(&lab, &as_verify).await;
    read_only.assert_code(0);
    read_only.assert_stdout_contains("apps-3");
    let show_read_only = history(&lab, &[&["show", "apps-3"][..], &as_verify[..]].concat()).await;
    show_read_only.assert_code(0);
    show_read_only.assert_stdout_contains(&format!("inventory-api at {third}"));

    rollback_pins_the_applications_and_deploy_respects_the_pin(&lab, &second, &third).await;
    rollback_deploys_a_phase_tacos_applies_from_the_commits_files(&lab, &first).await;
}

/// The lab's custom resources of one kind in `namespace`.
fn custom_resources(
    lab: &Lab,
    namespace: &str,
    group: &str,
    version: &str,
    kind: &str,
) -> Api<kube::core::DynamicObject> {
    Api::namespaced_with(
        lab.client.clone(),
        namespace,
        &kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            group, version, kind,
        )),
    )
}

/// The apps Applications' live targetRevisions and pin annotations.
async fn pins(lab: &Lab) -> Vec<(String, Vec<String>, Option<String>)> {
    let applications = custom_resources(lab, "argocd", "argoproj.io", "v1alpha1", "Application");
    let mut found = Vec::new();
    for name in ["gateway-api", "inventory-api"] {
        let live = applications.get(name).await.unwrap();
        let revisions = live.data["spec"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["targetRevision"].as_str().unwrap().to_string())
            .collect();
        let pin = live
            .metadata
            .annotations
            .unwrap_or_default()
            .get("tacos.traffictacos.store/pinned-revision")
            .cloned();
        found.push((name.to_string(), revisions, pin));
    }
    found
}

async fn inventory_image(lab: &Lab) -> String {
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(lab.client.clone(), "tacos-app");
    let live = deployments.get("inventory-api").await.unwrap();
    live.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap()
}

/// `tacos rollback` on the lab's real Argo CD: back to the entry of the `second` commit while
/// the branch is at `third`, held there against deploys, then unpinned.
async fn rollback_pins_the_applications_and_deploy_respects_the_pin(
    lab: &Lab,
    second: &str,
    third: &str,
) {
    let rollback = |args: &[&str]| {
        tacos(lab)
            .args(["rollback", "--phase", "apps", "--timeout", "4m"])
            .args(["--failure-window", "20s"])
            .args(args.to_vec())
    };
    assert!(inventory_image(lab).await.ends_with(":v1.4.4"));

    // A commit the repository does not have: refused, nothing changed.
    let before = pins(lab).await;
    let unknown = rollback(&["--to", "0123456789abcdef0123"])
        .run_async()
        .await;
    unknown.assert_code(2);
    unknown.assert_output_contains("has no commit `0123456789abcdef0123`");
    assert_eq!(pins(lab).await, before);

    // The read-only identity lists history but cannot roll back: the permission is named.
    let read_only = rollback(&["--to", "apps-2"])
        .args(["--as", "system:serviceaccount:tacos-system:tacos-verify"])
        .run_async()
        .await;
    assert_ne!(read_only.code, 0, "{read_only}");
    assert!(
        read_only.transcript().contains("forbidden")
            || read_only.transcript().contains("permission denied"),
        "{read_only}"
    );
    assert_eq!(pins(lab).await, before);

    // Back to apps-2: Argo CD syncs the second commit's inventory-api again, and holds it.
    let back = rollback(&["--to", "apps-2"]).run_async().await;
    back.assert_code(0);
    back.assert_output_contains(&format!("(commit {second})"));
    back.assert_stdout_contains("recorded as history entry apps-4");
    assert!(inventory_image(lab).await.ends_with(":v1.4.3"));
    for (name, revisions, pin) in pins(lab).await {
        assert!(
            revisions.iter().all(|r| r == second),
            "{name}: {revisions:?}"
        );
        assert_eq!(pin.as_deref(), Some(second), "{name}");
    }
    let entry = history(lab, &["show", "apps-4", "-o", "json"]).await.json();
    assert_eq!(entry["command"], "rollback", "{entry}");
    assert_eq!(entry["source"]["revision"], second, "{entry}");
    assert!(
        entry["applications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["commit"] == second),
        "{entry}"
    );

    // verify: the pin is a warning naming the commit, and the phase is otherwise as it should be.
    let verify = tacos(lab)
        .args(["verify", "--phase", "apps"])
        .run_async()
        .await;
    for check in ["verify-matches-tree", "verify-ready"] {
        verify.assert_stdout_contains(&format!("✔ {check}"));
    }
    verify.assert_stdout_contains("! gitops-not-pinned");
    verify.assert_stdout_contains(&format!(
        "pinned at commit {second} by `tacos rollback --phase apps --to apps-2`"
    ));

    // A deploy would move it off the pin: refused before any write.
    let refused = tacos(lab)
        .args(["deploy", "--phase", "apps", "--timeout", "4m"])
        .run_async()
        .await;
    refused.assert_code(1);
    refused.assert_output_contains("phase apps is held by a rollback");
    refused.assert_output_contains("--unpin");
    assert!(
        pins(lab)
            .await
            .iter()
            .all(|(_, _, pin)| pin.as_deref() == Some(second))
    );

    // Unpinned: back to the branch, at its commit.
    let unpinned = rollback(&["--unpin"]).run_async().await;
    unpinned.assert_code(0);
    unpinned.assert_output_contains(&format!("(commit {third})"));
    assert!(inventory_image(lab).await.ends_with(":v1.4.4"));
    for (name, revisions, pin) in pins(lab).await {
        assert!(
            revisions.iter().all(|r| r == "main"),
            "{name}: {revisions:?}"
        );
        assert_eq!(pin, None, "{name}");
    }
    let verify = tacos(lab)
        .args(["verify", "--phase", "apps"])
        .run_async()
        .await;
    for check in ["verify-matches-tree", "verify-ready", "gitops-not-pinned"] {
        verify.assert_stdout_contains(&format!("✔ {check}"));
    }
}

/// The live Gateway's ExternalDNS TTL annotation, and whether the probe ConfigMap exists.
async fn gateway_state(lab: &Lab) -> (String, bool) {
    let gateways = custom_resources(lab, "gateway", "gateway.networking.k8s.io", "v1", "Gateway");
    let gateway = gateways.get("api-traffictacos-gateway").await.unwrap();
    let ttl =
        gateway.metadata.annotations.unwrap_or_default()["external-dns.alpha.kubernetes.io/ttl"]
            .clone();
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(lab.client.clone(), "gateway");
    (
        ttl,
        config_maps.get_opt(GATEWAY_PROBE).await.unwrap().is_some(),
    )
}

const GATEWAY_PROBE: &str = "gateway-rollback-probe";

/// `tacos rollback --phase gateway`: the phase deployed from the files of the commit gateway-1
/// was at (`first`), pruning what was added since, the work tree untouched; an entry from a
/// dirty work tree is refused; the next deploy moves the phase forward again.
async fn rollback_deploys_a_phase_tacos_applies_from_the_commits_files(lab: &Lab, first: &str) {
    assert_eq!(gateway_state(lab).await, ("60".to_string(), false));
    // gateway.yaml is the file tacos applies itself (the gateway Application excludes it).
    let path = "manifests/gateway/gateway.yaml";
    let changed = std::fs::read_to_string(lab.git.dir.join(path))
        .unwrap()
        .replacen(
            "external-dns.alpha.kubernetes.io/ttl: \"60\"",
            "external-dns.alpha.kubernetes.io/ttl: \"30\"",
            1,
        )
        + &format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {GATEWAY_PROBE}\n  namespace: gateway\n  labels:\n    app.kubernetes.io/part-of: traffic-tacos\n    app.kubernetes.io/component: gateway\n    team: platform\n    cost-center: tt-platform\n    environment: production\ndata:\n  probe: \"1\"\n"
        );
    assert!(changed.contains("ttl: \"30\""));
    lab.git
        .commit_file(
            path,
            &changed,
            "gateway: a shorter TTL and a probe ConfigMap",
        )
        .unwrap();
    // A change left uncommitted: this entry is from a dirty work tree.
    std::fs::write(lab.git.dir.join("NOTES.txt"), "changed, not committed\n").unwrap();
    deploy(lab, "gateway")
        .await
        .assert_stdout_contains("recorded as history entry gateway-2");
    assert_eq!(gateway_state(lab).await, ("30".to_string(), true));

    let rollback = |args: &[&str]| {
        tacos(lab)
            .args(["rollback", "--phase", "gateway", "--timeout", "4m"])
            .args(["--failure-window", "20s"])
            .args(args.to_vec())
    };
    let dirty = rollback(&["--to", "gateway-2"]).run_async().await;
    dirty.assert_code(2);
    dirty
        .assert_output_contains("gateway-2 was deployed from a work tree with uncommitted changes");
    let unpin = rollback(&["--unpin"]).run_async().await;
    unpin.assert_code(2);
    unpin.assert_output_contains("nothing holds it at a commit");
    assert_eq!(gateway_state(lab).await, ("30".to_string(), true));

    let back = rollback(&["--to", "gateway-1"]).run_async().await;
    back.assert_code(0);
    back.assert_output_contains(&format!("rolling back phase gateway to commit {first}"));
    back.assert_stdout_contains("recorded as history entry gateway-3");
    assert_eq!(
        gateway_state(lab).await,
        ("60".to_string(), false),
        "the commit's Gateway, and the ConfigMap added since pruned"
    );
    assert_eq!(
        std::fs::read_to_string(lab.git.dir.join(path)).unwrap(),
        changed,
        "the work tree is untouched"
    );
    let entry = history(lab, &["show", "gateway-3", "-o", "json"])
        .await
        .json();
    assert_eq!(entry["command"], "rollback", "{entry}");
    assert_eq!(entry["tree"]["commit"], first, "{entry}");
    assert_eq!(entry["tree"]["dirty"], false, "{entry}");
    assert!(
        entry["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "ConfigMap"
                && o["name"] == GATEWAY_PROBE
                && o["change"] == "pruned"),
        "{entry}"
    );

    // Nothing holds a self-applied phase: the next deploy applies the work tree again.
    deploy(lab, "gateway")
        .await
        .assert_stdout_contains("recorded as history entry gateway-4");
    assert_eq!(gateway_state(lab).await, ("30".to_string(), true));
}
