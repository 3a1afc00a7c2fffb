//! `tacos deploy` as a user runs it: the real binary against a real apiserver and the AWS emulator.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use tacos_testenv::aws::AcmValidation;
use tacos_testenv::aws_network::RedisIngress;
use tacos_testenv::lab::Lab;
use tacos_testenv::players::install_load_balancer_controller;
use tacos_testenv::{
    AwsEmulator, Binaries, ControlPlaneOptions, Run, TacosCommand, shared_control_plane,
    tacos_command,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// tacos at the repository root on `kubeconfig`'s cluster, with the emulator's AWS and the testenv helm.
fn tacos(kubeconfig: &Path, aws: &AwsEmulator) -> TacosCommand {
    tacos_command!().kubeconfig(kubeconfig).aws(aws).helm()
}

/// Applies every object of a YAML file as the test's own field manager (what `kubectl apply` would do).
async fn apply_file(client: &kube::Client, path: &Path) {
    tacos_testenv::apply::apply_file(client, path)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
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
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "gateway"])
        .run_async()
        .await;
    run.assert_code(1);
    run.assert_output_contains("✗ aws-acm-certificate-issued");
    run.assert_output_contains("PENDING_VALIDATION");
    run.assert_output_contains("nothing was applied");
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
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "gateway"])
        .run_async()
        .await;
    // The cluster guard cannot prove the kube connection is a cluster EKS does not have: refused.
    run.assert_code(2);
    run.assert_output_contains("EKS cluster ticket-cluster does not exist");
    run.assert_output_contains("account 137406935518");
    run.assert_output_contains("region ap-northeast-2");
    assert!(!gateway_namespace_exists(&plane.client().await.unwrap()).await);
}

#[tokio::test]
async fn certificate_that_misses_a_listener_hostname_stops_the_phase() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_eks_cluster("ticket-cluster", "1.35")
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
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "gateway", "--config", &config_arg])
        .run_async()
        .await;
    run.assert_code(1);
    run.assert_output_contains("does not cover listener hostname api.traffictacos.store");
}

/// The apps phase stopped at its preflight: it says so and the app namespace was never created.
async fn assert_apps_not_applied(run: &Run, client: kube::Client) {
    assert_not_applied(run, client, "tacos-app").await;
}

/// A phase stopped at its preflight: it says so and its `namespace` was never created.
async fn assert_not_applied(run: &Run, client: kube::Client, namespace: &str) {
    run.assert_output_contains("nothing was applied");
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get_opt(namespace).await.unwrap().is_none());
}

#[tokio::test]
async fn a_missing_irsa_role_stops_the_apps_phase_before_anything_is_applied() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_eks_cluster("ticket-cluster", "1.35")
        .await
        .unwrap();
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
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "apps", "--skip-deps"])
        .run_async()
        .await;
    run.assert_code(1);
    run.assert_output_contains("✗ aws-irsa-roles-exist");
    run.assert_output_contains("IAM role traffic-tacos-inventory-api-sa-role does not exist");
    run.assert_output_contains("account 137406935518");
    run.assert_output_contains("does not trust system:serviceaccount:tacos-app:reservation-worker");
    assert!(
        !run.transcript()
            .contains("traffic-tacos-gateway-api-sa-role"),
        "roles that exist and trust their ServiceAccount are not findings: {run}"
    );
    assert_apps_not_applied(&run, plane.client().await.unwrap()).await;
}

#[tokio::test]
async fn a_kind_the_live_project_does_not_permit_stops_the_apps_phase_before_anything_is_applied() {
    // Its own control plane: the test writes the AppProject other apps tests run without.
    let plane = tacos_testenv::ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    let client = plane.client().await.unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    // The project as an older tree applied it: before the charts rendered VerticalPodAutoscalers.
    let project = std::fs::read_to_string(
        repo_root().join("applications/argocd/appproject-traffic-tacos.yaml"),
    )
    .unwrap()
    .replace(
        "    - group: autoscaling.k8s.io\n      kind: VerticalPodAutoscaler\n",
        "",
    )
    .replace("${GIT_REPO_URL}", "https://github.com/traffictacos/gitops");
    assert!(!project.contains("VerticalPodAutoscaler"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("project.yaml");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\n{project}"),
    )
    .unwrap();
    apply_file(&client, &path).await;
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "apps", "--skip-deps"])
        .run_async()
        .await;
    run.assert_code(1);
    run.assert_output_contains("✗ gitops-project-permits-kinds");
    run.assert_output_contains(
        "kind VerticalPodAutoscaler of group autoscaling.k8s.io is not on the namespaceResourceWhitelist in the cluster",
    );
    run.assert_output_contains("inventory-api");
    assert!(
        !run.transcript().contains("kind Deployment of group apps"),
        "kinds the project lists are not findings: {run}"
    );
    assert_apps_not_applied(&run, client).await;
}

#[tokio::test]
async fn a_missing_collector_role_stops_the_monitoring_phase_before_anything_is_applied() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_eks_cluster("ticket-cluster", "1.35")
        .await
        .unwrap();
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "monitoring", "--skip-deps"])
        .run_async()
        .await;
    run.assert_code(1);
    run.assert_output_contains("✗ aws-irsa-roles-exist");
    run.assert_output_contains("ServiceAccount observability/otel-collector");
    run.assert_output_contains("IAM role traffic-tacos-otel-collector-sa-role does not exist");
    assert_not_applied(&run, plane.client().await.unwrap(), "observability").await;
}

#[tokio::test]
async fn the_collectors_log_group_must_exist_and_expire_its_events() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_eks_cluster("ticket-cluster", "1.35")
        .await
        .unwrap();
    aws.seed_irsa_role(
        "traffic-tacos-otel-collector-sa-role",
        "observability",
        "otel-collector",
    )
    .await
    .unwrap();
    let deploy = ["deploy", "--phase", "monitoring", "--skip-deps"];
    let missing = tacos(&plane.kubeconfig, &aws)
        .args(deploy)
        .run_async()
        .await;
    missing.assert_code(1);
    missing.assert_output_contains("✗ aws-log-groups-retained");
    missing.assert_output_contains(
        "log group /traffic-tacos/services does not exist in account 137406935518, region ap-northeast-2",
    );
    missing.assert_output_contains("manifests/observability/configmap-otel-collector.yaml");
    missing.assert_output_contains(
        "aws logs create-log-group --log-group-name /traffic-tacos/services --region ap-northeast-2",
    );
    missing.assert_output_contains("nothing was applied");

    aws.seed_log_group(tacos_testenv::aws::SERVICES_LOG_GROUP, None)
        .await
        .unwrap();
    let forever = tacos(&plane.kubeconfig, &aws)
        .args(deploy)
        .run_async()
        .await;
    forever.assert_code(1);
    forever.assert_output_contains("keeps its events forever (no retention set)");
    forever.assert_output_contains(
        "aws logs put-retention-policy --log-group-name /traffic-tacos/services --retention-in-days 30",
    );
    assert!(
        !forever.transcript().contains("does not exist in account"),
        "{forever}"
    );
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
        .seed_cluster_network("ticket-cluster", "1.35")
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
    let run = tacos(&plane.kubeconfig, &aws)
        .current_dir(repo.path())
        .args(["deploy", "--phase", "apps", "--skip-deps"])
        .run_async()
        .await;
    run.assert_code(1);
    run.assert_output_contains("✔ aws-irsa-roles-exist");
    run.assert_output_contains("✗ aws-cache-admits-cluster");
    // It names the cache, its group, the port and who calls it.
    run.assert_output_contains(&format!("{}'s security group", redis.replication_group_id));
    run.assert_output_contains(&redis.security_group_id);
    run.assert_output_contains("does not admit TCP 6379");
    run.assert_output_contains("Deployment tacos-app/gateway-api (env REDIS_ADDRESS");
    // The fix is the command.
    run.assert_output_contains("aws ec2 authorize-security-group-ingress");
    assert_apps_not_applied(&run, plane.client().await.unwrap()).await;
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
    // A full commit hash: nothing to resolve from a repository this test has none of.
    let deploy = tacos(&plane.kubeconfig, &aws)
        .env(
            "TACOS_GIT_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .args(["deploy", "--phase", "apps", "--skip-deps"]);
    let mut child = deploy.spawn();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut seen = String::new();
    // No Argo CD runs here, so the phase's Applications never become Synced: it waits.
    let waiting = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            // The VPA CRDs come first and are Established at once; the wait that lasts is the
            // first Application's.
            if line.contains("waiting on") && seen.contains("Application argocd/") {
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
    let run = Run::new(deploy.display(), output);
    assert_eq!(run.code, 130, "stdout read before the Ctrl-C:\n{seen}{run}");
    run.assert_stderr_contains("interrupted in phase apps");
    // Argo CD's kinds are served, so the app namespace is Argo CD's to apply: tacos applied the
    // first wave's Application (the VPA recommender's, wave -1) and was waiting on it.
    run.assert_stderr_contains("application argocd/vpa-recommender (created)");
    run.assert_stderr_contains("re-run the same command to converge");
    assert!(
        namespaces.get_opt("tacos-app").await.unwrap().is_none(),
        "tacos does not write what an Application syncs"
    );
    let applications: Api<kube::core::DynamicObject> = Api::namespaced_with(
        plane.client().await.unwrap(),
        "argocd",
        &kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "argoproj.io",
            "v1alpha1",
            "Application",
        )),
    );
    assert!(
        applications
            .get_opt("vpa-recommender")
            .await
            .unwrap()
            .is_some(),
        "what was applied before the stop stays applied"
    );
    // The stopped run is in the deploy history, with what it had applied.
    let entries: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(plane.client().await.unwrap(), "kube-system");
    let stored = entries.get("tacos-history-apps-1").await.unwrap();
    let entry: serde_json::Value =
        serde_json::from_str(&stored.data.unwrap()["entry.json"]).unwrap();
    assert_eq!(entry["result"]["status"], "interrupted", "{entry}");
    assert!(
        entry["objects"].as_array().unwrap().iter().any(|o| o
            == &serde_json::json!({"group": "argoproj.io", "kind": "Application",
                "namespace": "argocd", "name": "vpa-recommender", "change": "created"})),
        "{entry}"
    );
}

#[tokio::test]
async fn credentials_of_another_account_are_refused_before_any_check() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start_for_account(AcmValidation::Immediate, "111122223333")
        .await
        .unwrap();
    let run = tacos(&plane.kubeconfig, &aws)
        .args(["deploy", "--phase", "gateway"])
        .run_async()
        .await;
    run.assert_code(2);
    run.assert_stderr_contains("111122223333");
    run.assert_stderr_contains("137406935518");
    run.assert_stderr_contains("ap-northeast-2");
    assert!(!gateway_namespace_exists(&plane.client().await.unwrap()).await);
}

#[tokio::test]
async fn unreachable_aws_exits_3_naming_the_account_and_region_and_applies_nothing() {
    let plane = shared_control_plane();
    for args in [
        &["deploy", "--phase", "gateway"][..],
        &["verify", "--phase", "gateway"][..],
    ] {
        let run = tacos_command!()
            .kubeconfig(&plane.kubeconfig)
            .aws_unreachable()
            .helm()
            .args(args)
            .run_async()
            .await;
        run.assert_code(3);
        run.assert_stderr_contains("cannot reach AWS");
        run.assert_stderr_contains("137406935518");
        run.assert_stderr_contains("ap-northeast-2");
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
    let run = tacos(&dead, &aws)
        .args(["deploy", "--phase", "apps"])
        .run_async()
        .await;
    run.assert_code(3);
    run.assert_stderr_contains(&format!("127.0.0.1:{port}"));
    for read_only in [&["verify"][..], &["doctor"][..]] {
        tacos(&dead, &aws)
            .args(read_only)
            .run_async()
            .await
            .assert_code(3);
    }
    let broken = dir.path().join("broken");
    std::fs::write(&broken, "clusters: [not, a, kubeconfig\n").unwrap();
    let run = tacos(&broken, &aws)
        .args(["deploy", "--phase", "apps"])
        .run_async()
        .await;
    run.assert_code(2);
    run.assert_stderr_contains("kubeconfig");
}

#[tokio::test]
async fn every_phase_comes_up_on_the_simulated_cluster_and_a_second_run_changes_nothing() {
    // The real Argo CD syncs the tree from a local Git repository: tacos bootstraps gateway and
    // argocd, then hands their folders and the apps over to it.
    let lab = Lab::start(&repo_root()).await.unwrap();
    let (aws, client) = (&lab.aws, lab.client.clone());
    let chart_arg = lab.chart_dir.display().to_string();
    let args = [
        "deploy",
        "--phase",
        "all",
        "--chart-dir",
        &chart_arg,
        "--timeout",
        "4m",
    ];
    let tacos = || {
        tacos(lab.kubeconfig(), aws)
            .env("TACOS_GIT_REPO_URL", lab.git.url())
            .env("TACOS_GIT_REVISION", "main")
    };

    let first = tacos().args(args).run_async().await;
    first.assert_code(0);
    for phase in ["gateway", "argocd", "apps", "monitoring"] {
        assert!(
            first.stdout.contains(&format!("✔ {phase} is up in")),
            "{phase}: {first}"
        );
    }
    first.assert_stdout_contains("✔ aws-alb-exists");
    first.assert_stdout_contains("✔ aws-route53-alias");
    // The tree writes ${ACM_CERTIFICATE_ARN}; what was applied is the ARN of the certificate the
    // emulator holds for the domain.
    let issued = aws_sdk_acm::Client::new(&aws.sdk_config().await)
        .list_certificates()
        .send()
        .await
        .unwrap();
    let arn = issued
        .certificate_summary_list()
        .iter()
        .find(|c| c.domain_name() == Some("*.traffictacos.store"))
        .and_then(|c| c.certificate_arn())
        .unwrap()
        .to_string();
    let configuration = kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "gateway.k8s.aws",
        "v1",
        "LoadBalancerConfiguration",
    ));
    let configurations: Api<kube::core::DynamicObject> =
        Api::namespaced_with(client.clone(), "gateway", &configuration);
    let live = configurations.get("api-traffictacos-alb").await.unwrap();
    assert_eq!(
        live.data["spec"]["listenerConfigurations"][0]["defaultCertificate"],
        arn.as_str()
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

    // The collector gateway Argo CD synced from manifests/observability: its pods admitted by
    // the namespace's Pod Security restricted and available.
    let collector = Api::<Deployment>::namespaced(client.clone(), "observability")
        .get("otel-collector")
        .await
        .unwrap();
    let available = collector
        .status
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    assert_eq!(
        available, 2,
        "the collector's replicas when monitoring was reported up"
    );
    // The VPA recommender Argo CD synced from manifests/autoscaling (project platform), admitted
    // by namespace vpa's Pod Security restricted.
    let recommender = Api::<Deployment>::namespaced(client.clone(), "vpa")
        .get("vpa-recommender")
        .await
        .unwrap();
    assert_eq!(
        recommender.status.and_then(|s| s.available_replicas),
        Some(1),
        "the recommender when apps was reported up"
    );

    let second = tacos().args(args).run_async().await;
    second.assert_code(0);
    assert_eq!(
        second.stdout.matches("(no changes,").count(),
        4,
        "every phase reports no changes: {second}"
    );
    // The argo-cd chart's pre-install,pre-upgrade hook runs on every deploy, as Helm and Argo CD
    // run it on every upgrade (before-hook-creation: deleted and created anew); nothing else is written.
    second.assert_stdout_contains("Job argocd/argocd-redis-secret-init created");
    assert!(
        !second
            .stdout
            .lines()
            .filter(|l| !l.contains("argocd-redis-secret-init"))
            .any(|l| l.ends_with(" created") || l.ends_with(" configured")),
        "nothing is written: {second}"
    );

    let verify_args = ["verify", "--phase", "all", "--chart-dir", &chart_arg];
    let verified = tacos().args(verify_args).run_async().await;
    verified.assert_code(0);
    let junit_args = [&verify_args[..], &["--output", "junit"]].concat();
    let junit = tacos().args(junit_args).run_async().await;
    junit.assert_code(0);
    assert!(
        junit.stdout.contains("<testsuite name=\"apps\"")
            && junit.stdout.contains("name=\"aws-irsa-roles-exist\"")
            && !junit.stdout.contains("<failure"),
        "{junit}"
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
    let read_only = tacos().args(as_verify).run_async().await;
    read_only.assert_code(0);
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
    let denied = tacos().args(as_narrow).run_async().await;
    denied.assert_code(1);
    denied.assert_stdout_contains("✗ verify-permission");
    denied.assert_stdout_contains(
        "permission denied for get NetworkPolicy tacos-app/default-deny-all",
    );
    assert!(
        !denied.stdout.contains("missing from the cluster"),
        "{denied}"
    );

    let diff_args = ["diff", "--phase", "all", "--chart-dir", &chart_arg];
    let clean = tacos().args(diff_args).run_async().await;
    assert_eq!(clean.code, 0, "diff after deploy: no changes\n{clean}");
    // Drift on what tacos keeps for itself after the hand-over (the certificate's
    // LoadBalancerConfiguration: Argo CD's Applications leave it out). What Argo CD owns it
    // heals itself (tests/gitops.rs).
    let configurations_api = |client: &kube::Client| {
        Api::<kube::core::DynamicObject>::namespaced_with(client.clone(), "gateway", &configuration)
    };
    let drift = serde_json::json!({"metadata": {"labels": {"cost-center": "someone-else"}}});
    configurations_api(&client)
        .patch(
            "api-traffictacos-alb",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&drift),
        )
        .await
        .unwrap();
    let drifted = tacos().args(diff_args).run_async().await;
    assert_eq!(drifted.code, 1, "diff sees the drift\n{drifted}");
    drifted.assert_stdout_contains("~ LoadBalancerConfiguration gateway/api-traffictacos-alb");
    drifted.assert_stdout_contains("/metadata/labels/cost-center: someone-else -> ");

    // A member of the phase's ApplySet the tree no longer holds (what an earlier deploy of a
    // tree that had it left): diff lists it as what deploy would prune, and deletes nothing.
    let live = configurations_api(&client)
        .get("api-traffictacos-alb")
        .await
        .unwrap();
    let part_of = live.metadata.labels.as_ref().unwrap()["applyset.kubernetes.io/part-of"].clone();
    let retired: kube::core::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.k8s.aws/v1",
        "kind": "LoadBalancerConfiguration",
        "metadata": {
            "name": "retired-alb",
            "namespace": "gateway",
            "labels": {"applyset.kubernetes.io/part-of": part_of},
        },
        "spec": {},
    }))
    .unwrap();
    configurations_api(&client)
        .create(&kube::api::PostParams::default(), &retired)
        .await
        .unwrap();
    let removing = tacos().args(diff_args).run_async().await;
    assert_eq!(
        removing.code, 1,
        "diff sees what deploy would prune\n{removing}"
    );
    removing.assert_stdout_contains("- LoadBalancerConfiguration gateway/retired-alb");
    let removing_json = tacos()
        .args(["-o", "json"])
        .args(diff_args)
        .run_async()
        .await;
    assert!(
        removing_json.json()["phases"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["changes"].as_array().unwrap())
            .any(
                |c| c["object"] == "LoadBalancerConfiguration gateway/retired-alb"
                    && c["action"] == "pruned"
            ),
        "{removing_json}"
    );
    assert!(
        configurations_api(&client)
            .get_opt("retired-alb")
            .await
            .unwrap()
            .is_some(),
        "a diff deletes nothing"
    );
    configurations_api(&client)
        .delete("retired-alb", &kube::api::DeleteParams::default())
        .await
        .unwrap();

    // A field tacos manages, changed by hand: verify names the field and who changed it.
    let hand_edit = serde_json::json!({"metadata": {"labels": {"team": "someone-else"}}});
    configurations_api(&client)
        .patch(
            "api-traffictacos-alb",
            &kube::api::PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &kube::api::Patch::Merge(&hand_edit),
        )
        .await
        .unwrap();
    let edited = tacos().args(verify_args).run_async().await;
    edited.assert_code(1);
    edited.assert_stdout_contains("✗ verify-matches-tree");
    edited.assert_stdout_contains("LoadBalancerConfiguration gateway/api-traffictacos-alb");
    edited.assert_stdout_contains("/metadata/labels/team");
    edited.assert_stdout_contains("kubectl-edit");
}

/// The controller's Deployment (as its real chart renders it) with its container's image and args
/// replaced.
async fn run_load_balancer_controller_as(client: &kube::Client, image: &str, args: &[&str]) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    let mut deployment = deployments
        .get("aws-load-balancer-controller")
        .await
        .unwrap();
    let spec = deployment.spec.as_mut().unwrap();
    let container = &mut spec.template.spec.as_mut().unwrap().containers[0];
    container.image = Some(image.to_string());
    container.args = Some(args.iter().map(|a| a.to_string()).collect());
    deployment.metadata.managed_fields = None;
    deployments
        .replace(
            "aws-load-balancer-controller",
            &kube::api::PostParams::default(),
            &deployment,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_load_balancer_controller_without_alb_gateway_api_stops_the_gateway_phase_before_any_write()
 {
    // Its own control plane: the test changes kube-system's controller.
    let plane = tacos_testenv::ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    let client = plane.client().await.unwrap();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let binaries = Binaries::locate().unwrap();
    install_load_balancer_controller(&client, &binaries.helm)
        .await
        .unwrap();
    let image = |tag: &str| format!("public.ecr.aws/eks/aws-load-balancer-controller:{tag}");
    for (tag, args, expected) in [
        (
            "v2.13.4",
            &[
                "--cluster-name=ticket-cluster",
                "--feature-gates=ALBGatewayAPI=true",
            ][..],
            "v2.13.4 has no ALB Gateway API support",
        ),
        (
            "v2.14.1",
            &["--cluster-name=ticket-cluster"][..],
            "v2.14.1 needs the ALBGatewayAPI feature gate",
        ),
        (
            "v3.5.0",
            &[
                "--cluster-name=ticket-cluster",
                "--feature-gates=ALBGatewayAPI=false",
            ][..],
            "v3.5.0 runs with --feature-gates=ALBGatewayAPI=false",
        ),
    ] {
        run_load_balancer_controller_as(&client, &image(tag), args).await;
        let run = tacos(&plane.kubeconfig, &aws)
            .args(["deploy", "--phase", "gateway"])
            .run_async()
            .await;
        run.assert_code(1);
        run.assert_output_contains("✗ cluster-aws-lbc-gateway-api");
        run.assert_output_contains(expected);
        run.assert_output_contains("nothing was applied");
        assert!(
            !gateway_namespace_exists(&client).await,
            "{tag}: nothing applied"
        );
    }
}
