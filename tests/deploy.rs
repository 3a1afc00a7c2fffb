//! `tacos deploy` as a user runs it: the real binary against a real apiserver and the AWS emulator.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::aws_network::RedisIngress;
use tacos_testenv::charts::prepare_chart_dir;
use tacos_testenv::players::{Players, install_load_balancer_controller};
use tacos_testenv::{
    AwsEmulator, Binaries, ControlPlaneOptions, FakeNode, SimulatedCluster, shared_control_plane,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tacos` with the emulator's environment and the given kubeconfig.
async fn tacos(kubeconfig: &Path, aws: &AwsEmulator, args: &[&str]) -> Output {
    tacos_in(&repo_root(), kubeconfig, aws, args).await
}

/// tacos run in `repo` (a copy of the repository's tree, or the repository itself).
async fn tacos_in(repo: &Path, kubeconfig: &Path, aws: &AwsEmulator, args: &[&str]) -> Output {
    tacos_with_aws_env(repo, kubeconfig, aws.env(), args).await
}

/// tacos run in `repo` with `aws_env` as its AWS environment (endpoint, credentials, region).
async fn tacos_with_aws_env(
    repo: &Path,
    kubeconfig: &Path,
    aws_env: Vec<(String, String)>,
    args: &[&str],
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tacos"));
    command
        .current_dir(repo)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--profile", ""])
        .args(args)
        .envs(aws_env);
    let binaries = Binaries::locate().unwrap();
    command
        .env("TACOS_HELM", &binaries.helm)
        .env_remove("TACOS_CHART_DIR")
        .env("NO_COLOR", "1");
    command.output().await.expect("run tacos")
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Applies every object of a YAML file as the test's own field manager (what `kubectl apply` would do).
async fn apply_file(client: &kube::Client, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let tree = tacos::repo::load_str(&path.display().to_string(), &text).unwrap();
    for object in &tree.objects {
        let resource = kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            object.group(),
            object.version(),
            object.kind(),
        ));
        let api: Api<kube::core::DynamicObject> = match object.namespace() {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            object.name(),
            &kube::api::PatchParams::apply("tacos-tests").force(),
            &kube::api::Patch::Apply(&object.value),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {}: {e}", object.key()));
    }
}

async fn gateway_namespace_exists(client: &kube::Client) -> bool {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.get_opt("gateway").await.unwrap().is_some()
}

#[tokio::test]
async fn pending_certificate_stops_the_gateway_phase_before_anything_is_applied() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Pending).await.unwrap();
    aws.seed_platform().await.unwrap();
    let output = tacos(&plane.kubeconfig, &aws, &["deploy", "--phase", "gateway"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(
        all.contains("✗ aws-acm-certificate-issued") && all.contains("PENDING_VALIDATION"),
        "{all}"
    );
    assert!(all.contains("nothing was applied"), "{all}");
    assert!(
        !gateway_namespace_exists(&plane.client().await.unwrap()).await,
        "no object of the phase was applied"
    );
}

#[tokio::test]
async fn missing_eks_cluster_is_reported_with_account_and_region() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_certificate("*.traffictacos.store", &[])
        .await
        .unwrap();
    aws.seed_hosted_zone("traffictacos.store").await.unwrap();
    let output = tacos(&plane.kubeconfig, &aws, &["deploy", "--phase", "gateway"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(
        all.contains("✗ aws-eks-cluster-active") && all.contains("does not exist"),
        "{all}"
    );
    assert!(
        all.contains("account 137406935518") && all.contains("region ap-northeast-2"),
        "{all}"
    );
    assert!(!gateway_namespace_exists(&plane.client().await.unwrap()).await);
}

#[tokio::test]
async fn certificate_that_misses_a_listener_hostname_stops_the_phase() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_eks_cluster("ticket-cluster", "1.33")
        .await
        .unwrap();
    aws.seed_certificate("traffictacos.store", &[])
        .await
        .unwrap();
    aws.seed_hosted_zone("traffictacos.store").await.unwrap();
    let config = tempfile::NamedTempFile::new().unwrap();
    let tacos_yaml = std::fs::read_to_string(repo_root().join("tacos.yaml"))
        .unwrap()
        .replace(
            "domain: \"*.traffictacos.store\"",
            "domain: traffictacos.store",
        );
    std::fs::write(config.path(), tacos_yaml).unwrap();
    let config_arg = config.path().display().to_string();
    let output = tacos(
        &plane.kubeconfig,
        &aws,
        &["deploy", "--phase", "gateway", "--config", &config_arg],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(
        all.contains("does not cover listener hostname api.traffictacos.store"),
        "{all}"
    );
}

/// The apps phase stopped at its preflight: it says so and the app namespace was never created.
async fn assert_apps_not_applied(all: &str, client: kube::Client) {
    assert!(all.contains("nothing was applied"), "{all}");
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get_opt("tacos-app").await.unwrap().is_none());
}

#[tokio::test]
async fn a_missing_irsa_role_stops_the_apps_phase_before_anything_is_applied() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    for service in ["gateway-api", "reservation-api", "payment-sim-api"] {
        aws.seed_irsa_role(
            &format!("traffic-tacos-{service}-sa-role"),
            "tacos-app",
            service,
        )
        .await
        .unwrap();
    }
    // A role that exists but trusts another ServiceAccount gives its pods no credentials either.
    aws.seed_irsa_role(
        "traffic-tacos-reservation-worker-sa-role",
        "tacos-app",
        "someone-else",
    )
    .await
    .unwrap();
    let output = tacos(
        &plane.kubeconfig,
        &aws,
        &["deploy", "--phase", "apps", "--skip-deps"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(all.contains("✗ aws-irsa-roles-exist"), "{all}");
    assert!(
        all.contains("IAM role traffic-tacos-inventory-api-sa-role does not exist")
            && all.contains("account 137406935518"),
        "{all}"
    );
    assert!(
        all.contains("does not trust system:serviceaccount:tacos-app:reservation-worker"),
        "{all}"
    );
    assert!(
        !all.contains("traffic-tacos-gateway-api-sa-role"),
        "roles that exist and trust their ServiceAccount are not findings: {all}"
    );
    assert_apps_not_applied(&all, plane.client().await.unwrap()).await;
}

/// A copy of the repository's GitOps tree and tacos.yaml in `dir`, with `from` replaced by `to`
/// in every file of helm-values/.
fn tree_copy_with_values(dir: &Path, from: &str, to: &str) {
    for top in [
        "manifests",
        "applications",
        "charts",
        "helm-values",
        "tacos.yaml",
    ] {
        for entry in walkdir::WalkDir::new(repo_root().join(top)) {
            let entry = entry.unwrap();
            let relative = entry.path().strip_prefix(repo_root()).unwrap();
            let target = dir.join(relative);
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
                continue;
            }
            let mut text = std::fs::read_to_string(entry.path()).unwrap();
            if top == "helm-values" {
                text = text.replace(from, to);
            }
            std::fs::write(&target, text).unwrap();
        }
    }
}

#[tokio::test]
async fn a_cache_that_shuts_out_the_cluster_stops_the_apps_phase_before_anything_is_applied() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    for service in tacos_testenv::aws::PLATFORM_SERVICES {
        aws.seed_irsa_role(
            &format!("traffic-tacos-{service}-sa-role"),
            "tacos-app",
            service,
        )
        .await
        .unwrap();
    }
    let vpc = aws
        .seed_cluster_network("ticket-cluster", "1.33")
        .await
        .unwrap();
    // The live platform's second outage: Redis timed out because its security group had no rule.
    let redis = aws
        .seed_redis(&vpc, "traffic-tacos-redis", RedisIngress::Nothing)
        .await
        .unwrap();
    let repo = tempfile::tempdir().unwrap();
    tree_copy_with_values(
        repo.path(),
        "clustercfg.traffic-tacos-redis.xxxxxx.apn2.cache.amazonaws.com",
        &redis.configuration_endpoint,
    );
    let output = tacos_in(
        repo.path(),
        &plane.kubeconfig,
        &aws,
        &["deploy", "--phase", "apps", "--skip-deps"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(all.contains("✔ aws-irsa-roles-exist"), "{all}");
    assert!(all.contains("✗ aws-cache-admits-cluster"), "{all}");
    assert!(
        all.contains(&format!("{}'s security group", redis.replication_group_id))
            && all.contains(&redis.security_group_id)
            && all.contains("does not admit TCP 6379")
            && all.contains("Deployment tacos-app/gateway-api (env REDIS_ADDRESS"),
        "names the cache, its group, the port and who calls it: {all}"
    );
    assert!(
        all.contains("aws ec2 authorize-security-group-ingress"),
        "the fix is the command: {all}"
    );
    assert_apps_not_applied(&all, plane.client().await.unwrap()).await;
}

#[tokio::test]
async fn ctrl_c_while_waiting_stops_cleanly_and_lists_what_was_applied() {
    // Its own apiserver: the phase is left half-done on purpose.
    let plane = tacos_testenv::ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(plane.client().await.unwrap());
    let argocd: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "argocd"}})).unwrap();
    namespaces
        .create(&Default::default(), &argocd)
        .await
        .unwrap();
    let binaries = Binaries::locate().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tacos"));
    command
        .current_dir(repo_root())
        .arg("--kubeconfig")
        .arg(&plane.kubeconfig)
        .args(["--profile", "", "deploy", "--phase", "apps", "--skip-deps"])
        .envs(aws.env())
        .env("TACOS_HELM", &binaries.helm)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut seen = String::new();
    // No Argo CD runs here, so the phase's Applications never become Synced: it waits.
    let waiting = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("waiting on") {
                return true;
            }
        }
        false
    })
    .await;
    if waiting != Ok(true) {
        let _ = child.start_kill();
        let output = child.wait_with_output().await.unwrap();
        panic!(
            "tacos never reached the wait: {seen}\n--- stderr\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("tacos stops within 30 s of Ctrl-C")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{seen}\n{stderr}");
    assert!(
        stderr.contains("interrupted in phase apps")
            && stderr.contains("namespace tacos-app (created)")
            && stderr.contains("re-run the same command to converge"),
        "{stderr}"
    );
    assert!(
        namespaces.get_opt("tacos-app").await.unwrap().is_some(),
        "what was applied before the stop stays applied"
    );
}

#[tokio::test]
async fn credentials_of_another_account_are_refused_before_any_check() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start_for_account(AcmValidation::Immediate, "111122223333")
        .await
        .unwrap();
    let output = tacos(&plane.kubeconfig, &aws, &["deploy", "--phase", "gateway"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("111122223333")
            && stderr.contains("137406935518")
            && stderr.contains("ap-northeast-2"),
        "{stderr}"
    );
    assert!(!gateway_namespace_exists(&plane.client().await.unwrap()).await);
}

#[tokio::test]
async fn unreachable_aws_exits_3_naming_the_account_and_region_and_applies_nothing() {
    let plane = shared_control_plane();
    // Port 1 (tcpmux) is privileged and served by nothing here: connections are refused at once,
    // where a free port could be taken by another test's emulator in the meantime.
    let port = 1;
    for args in [
        &["deploy", "--phase", "gateway"][..],
        &["verify", "--phase", "gateway"][..],
    ] {
        let aws_env = [
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "ap-northeast-2".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .map(|(key, value)| (key.to_string(), value))
        .to_vec();
        let output = tacos_with_aws_env(&repo_root(), &plane.kubeconfig, aws_env, args).await;
        assert_eq!(output.status.code(), Some(3), "{args:?}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("cannot reach AWS")
                && stderr.contains("137406935518")
                && stderr.contains("ap-northeast-2"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!gateway_namespace_exists(&plane.client().await.unwrap()).await);
}

#[tokio::test]
async fn unreachable_cluster_exits_3_and_a_broken_kubeconfig_exits_2() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = tacos_testenv::free_port().unwrap();
    let dead = dir.path().join("dead");
    std::fs::write(&dead, format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n")).unwrap();
    let output = tacos(&dead, &aws, &["deploy", "--phase", "apps"]).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&output)
    );
    for read_only in [&["verify"][..], &["doctor"][..]] {
        let output = tacos(&dead, &aws, read_only).await;
        assert_eq!(
            output.status.code(),
            Some(3),
            "{read_only:?}: {}",
            text(&output)
        );
    }
    let broken = dir.path().join("broken");
    std::fs::write(&broken, "clusters: [not, a, kubeconfig\n").unwrap();
    let output = tacos(&broken, &aws, &["deploy", "--phase", "apps"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("kubeconfig"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn every_phase_comes_up_on_the_simulated_cluster_and_a_second_run_changes_nothing() {
    let options = ControlPlaneOptions {
        skip_crds: vec!["gateway-api".into(), "argo-cd".into()],
        ..ControlPlaneOptions::default()
    };
    let cluster = SimulatedCluster::start_with(options, FakeNode::eks_default_pool())
        .await
        .unwrap();
    let aws = Arc::new(AwsEmulator::start(AcmValidation::Immediate).await.unwrap());
    let zone = aws.seed_platform().await.unwrap();
    let client = cluster.client().await.unwrap();
    let binaries = Binaries::locate().unwrap();
    install_load_balancer_controller(&client, &binaries.helm)
        .await
        .unwrap();
    let players = tokio::spawn(
        Players::new(
            client.clone(),
            aws.clone(),
            zone,
            repo_root(),
            binaries.helm.clone(),
        )
        .run(),
    );
    let chart_dir = tempfile::tempdir().unwrap();
    prepare_chart_dir(&binaries, chart_dir.path()).unwrap();
    let chart_arg = chart_dir.path().display().to_string();
    let args = [
        "deploy",
        "--phase",
        "all",
        "--chart-dir",
        &chart_arg,
        "--timeout",
        "3m",
    ];

    let first = tacos(&cluster.control_plane.kubeconfig, &aws, &args).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let first_out = String::from_utf8_lossy(&first.stdout);
    for phase in ["gateway", "argocd", "apps", "monitoring"] {
        assert!(
            first_out.contains(&format!("✔ {phase} is up in")),
            "{phase}: {first_out}"
        );
    }
    assert!(
        first_out.contains("✔ aws-alb-exists") && first_out.contains("✔ aws-route53-alias"),
        "{first_out}"
    );
    let services: Api<Deployment> = Api::namespaced(client.clone(), "tacos-app");
    let rolled_out = services.list(&ListParams::default()).await.unwrap().items;
    let mut names: Vec<String> = rolled_out
        .iter()
        .filter_map(|d| d.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "gateway-api",
            "inventory-api",
            "payment-sim-api",
            "reservation-api",
            "reservation-worker"
        ]
    );
    // The charts leave replicas to the autoscalers (an HPA, or KEDA's for the worker): apps is up
    // only once each service is available at its autoscaler's floor (helm-values' minReplicas).
    for deployment in &rolled_out {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        let values =
            std::fs::read_to_string(repo_root().join(format!("helm-values/{name}.yaml"))).unwrap();
        let values = tacos::repo::yaml::parse_documents(&values)
            .unwrap()
            .remove(0)
            .value;
        let floor = values["autoscaling"]["minReplicas"].as_i64().unwrap();
        let available = deployment
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0);
        assert!(
            i64::from(available) >= floor,
            "{name}: {available} available when apps was reported up, floor {floor}"
        );
    }

    let second = tacos(&cluster.control_plane.kubeconfig, &aws, &args).await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let second_out = String::from_utf8_lossy(&second.stdout);
    assert_eq!(
        second_out.matches("(no changes,").count(),
        4,
        "every phase reports no changes: {second_out}"
    );
    // The argo-cd chart's pre-install,pre-upgrade hook runs on every deploy, as Helm and Argo CD
    // run it on every upgrade (before-hook-creation: deleted and created anew); nothing else is written.
    assert!(
        second_out.contains("Job argocd/argocd-redis-secret-init created"),
        "the pre-upgrade hook runs again: {second_out}"
    );
    assert!(
        !second_out
            .lines()
            .filter(|l| !l.contains("argocd-redis-secret-init"))
            .any(|l| l.ends_with(" created") || l.ends_with(" configured")),
        "nothing is written: {second_out}"
    );

    let verify_args = ["verify", "--phase", "all", "--chart-dir", &chart_arg];
    let verified = tacos(&cluster.control_plane.kubeconfig, &aws, &verify_args).await;
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    let junit_args = [&verify_args[..], &["--output", "junit"]].concat();
    let junit = tacos(&cluster.control_plane.kubeconfig, &aws, &junit_args).await;
    let junit_out = String::from_utf8_lossy(&junit.stdout);
    assert!(
        junit_out.contains("<testsuite name=\"apps\"")
            && junit_out.contains("name=\"aws-irsa-roles-exist\"")
            && !junit_out.contains("<failure"),
        "{junit_out}"
    );

    // The read-only identity the repo ships is enough for verify; a role without one permission
    // is reported as that permission, never as a missing object.
    apply_file(
        &client,
        &repo_root().join("manifests/access/tacos-verify.yaml"),
    )
    .await;
    let as_verify = [
        &verify_args[..],
        &["--as", "system:serviceaccount:tacos-system:tacos-verify"],
    ]
    .concat();
    let read_only = tacos(&cluster.control_plane.kubeconfig, &aws, &as_verify).await;
    assert_eq!(read_only.status.code(), Some(0), "{}", text(&read_only));
    let narrow = std::fs::read_to_string(repo_root().join("manifests/access/tacos-verify.yaml"))
        .unwrap()
        .replace("name: tacos-verify", "name: tacos-verify-narrow")
        .replace("resources: [networkpolicies]", "resources: [ingresses]");
    let narrow_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(narrow_file.path(), narrow).unwrap();
    apply_file(&client, narrow_file.path()).await;
    let as_narrow = [
        &verify_args[..],
        &[
            "--as",
            "system:serviceaccount:tacos-system:tacos-verify-narrow",
        ],
    ]
    .concat();
    let denied = tacos(&cluster.control_plane.kubeconfig, &aws, &as_narrow).await;
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied));
    let denied_out = String::from_utf8_lossy(&denied.stdout);
    assert!(
        denied_out.contains("✗ verify-permission")
            && denied_out
                .contains("permission denied for get NetworkPolicy tacos-app/default-deny-all"),
        "{denied_out}"
    );
    assert!(
        !denied_out.contains("missing from the cluster"),
        "{denied_out}"
    );

    let diff_args = ["diff", "--phase", "all", "--chart-dir", &chart_arg];
    let clean = tacos(&cluster.control_plane.kubeconfig, &aws, &diff_args).await;
    assert_eq!(
        clean.status.code(),
        Some(0),
        "diff after deploy: no changes\n{}",
        text(&clean)
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let drift = serde_json::json!({"metadata": {"labels": {"cost-center": "someone-else"}}});
    namespaces
        .patch(
            "gateway",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&drift),
        )
        .await
        .unwrap();
    let drifted = tacos(&cluster.control_plane.kubeconfig, &aws, &diff_args).await;
    assert_eq!(
        drifted.status.code(),
        Some(1),
        "diff sees the drift\n{}",
        text(&drifted)
    );
    let drifted_out = String::from_utf8_lossy(&drifted.stdout);
    assert!(
        drifted_out.contains("~ Namespace gateway")
            && drifted_out.contains("/metadata/labels/cost-center: someone-else -> "),
        "{drifted_out}"
    );

    // A field tacos manages, changed by hand: verify names the field and who changed it.
    let hand_edit = serde_json::json!({"metadata": {"labels": {"team": "someone-else"}}});
    Api::<Namespace>::all(client.clone())
        .patch(
            "tacos-app",
            &kube::api::PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &kube::api::Patch::Merge(&hand_edit),
        )
        .await
        .unwrap();
    let edited = tacos(&cluster.control_plane.kubeconfig, &aws, &verify_args).await;
    assert_eq!(edited.status.code(), Some(1), "{}", text(&edited));
    let edited_out = String::from_utf8_lossy(&edited.stdout);
    assert!(
        edited_out.contains("✗ verify-matches-tree")
            && edited_out.contains("Namespace tacos-app")
            && edited_out.contains("/metadata/labels/team")
            && edited_out.contains("kubectl-edit"),
        "{edited_out}"
    );
    players.abort();
}
