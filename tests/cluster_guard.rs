//! The cluster guard as a user meets it: the real binary, a real apiserver whose service-account issuer is the one the AWS emulator reports for the environment's EKS cluster, and an emulator of another cluster.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use tacos_testenv::aws::{ACCOUNT_ID, AcmValidation, MOTO_SEED, REGION};
use tacos_testenv::{AwsEmulator, Run, shared_control_plane, tacos_command};

/// tacos against `kubeconfig` with these AWS settings (the emulator's, or a test's own) and `--profile`.
async fn tacos(
    kubeconfig: &Path,
    aws_env: Vec<(String, String)>,
    profile: &str,
    args: &[&str],
) -> Run {
    tacos_command!()
        .kubeconfig(kubeconfig)
        .envs(aws_env)
        .args(["--profile", profile])
        .helm()
        .args(args)
        .run_async()
        .await
}

async fn gateway_namespace_exists(client: &kube::Client) -> bool {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.get_opt("gateway").await.unwrap().is_some()
}

#[tokio::test]
async fn a_cluster_whose_issuer_is_not_the_environments_is_refused_before_any_write_or_read() {
    let plane = shared_control_plane();
    // Another moto seed: the environment's EKS cluster there has another issuer, as another
    // cluster would, while the kube context still points at the local apiserver.
    let other = AwsEmulator::start_seeded(AcmValidation::Immediate, ACCOUNT_ID, MOTO_SEED + 1)
        .await
        .unwrap();
    other.seed_platform().await.unwrap();
    let expected = tacos_testenv::aws::eks_issuer(MOTO_SEED + 1, REGION).unwrap();
    let found = tacos_testenv::aws::eks_issuer(MOTO_SEED, REGION).unwrap();
    assert_ne!(expected, found);
    for args in [
        &["deploy", "--phase", "gateway"][..],
        &["diff", "--phase", "gateway"][..],
        &["verify", "--phase", "gateway"][..],
        &["doctor"][..],
    ] {
        let run = tacos(&plane.kubeconfig, other.env(), "", args).await;
        run.assert_code(2);
        let all = format!("{}{}", run.stdout, run.stderr);
        for named in [
            "kube context tacos-local",
            plane.server.as_str(),
            found.as_str(),
            expected.as_str(),
            "EKS cluster ticket-cluster",
            "account 137406935518",
            "region ap-northeast-2",
        ] {
            assert!(all.contains(named), "{args:?} does not name {named}: {all}");
        }
    }
    assert!(
        !gateway_namespace_exists(&plane.client().await.unwrap()).await,
        "nothing was applied"
    );
}

#[tokio::test]
async fn the_environments_cluster_passes_and_every_command_says_who_acts_on_what() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let run = tacos(
        &plane.kubeconfig,
        aws.env(),
        "",
        &["deploy", "--phase", "gateway", "--dry-run"],
    )
    .await;
    assert!(!run.stderr.contains("refusing to act"), "{run}");
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("acting on "))
        .unwrap_or_else(|| panic!("no start-of-command line: {run}"));
    for named in [
        "EKS cluster ticket-cluster",
        "account 137406935518",
        "region ap-northeast-2",
        "arn:aws:",
        "kube context tacos-local",
        "user admin",
        plane.server.as_str(),
    ] {
        assert!(
            line.contains(named),
            "the line does not name {named}: {line}"
        );
    }
}

/// A kubeconfig whose user logs in through an exec plugin (as `aws eks update-kubeconfig` writes it,
/// with its own AWS_PROFILE): the plugin records the AWS settings it was run with and answers with
/// the admin's client certificate.
fn exec_plugin_kubeconfig(dir: &Path, admin_kubeconfig: &Path, server: &str) -> (PathBuf, PathBuf) {
    let admin = std::fs::read_to_string(admin_kubeconfig).unwrap();
    let field = |name: &str| {
        admin
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_string()
    };
    let (ca, cert, key) = (
        field("certificate-authority"),
        field("client-certificate"),
        field("client-key"),
    );
    let seen = dir.join("plugin-env");
    let plugin = dir.join("get-token.sh");
    let credential = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {
            "clientCertificateData": std::fs::read_to_string(&cert).unwrap(),
            "clientKeyData": std::fs::read_to_string(&key).unwrap(),
        }
    });
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho \"AWS_PROFILE=$AWS_PROFILE AWS_REGION=$AWS_REGION\" > '{}'\ncat <<'EOF'\n{credential}\nEOF\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: eks\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\n\
users:\n- name: eks-user\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {plugin}\n      interactiveMode: Never\n      env:\n      - name: AWS_PROFILE\n        value: someone-else\n\
contexts:\n- name: eks\n  context:\n    cluster: eks\n    user: eks-user\ncurrent-context: eks\n",
            plugin = plugin.display()
        ),
    )
    .unwrap();
    (kubeconfig, seen)
}

#[tokio::test]
async fn an_exec_plugin_kubeconfig_logs_in_with_the_profile_and_region_tacos_uses() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (kubeconfig, seen) = exec_plugin_kubeconfig(dir.path(), &plane.kubeconfig, &plane.server);
    let aws_config = dir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        "[profile tacos-ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let mut env: Vec<(String, String)> = aws
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS_KEY") && !k.starts_with("AWS_SECRET"))
        .collect();
    env.push(("AWS_CONFIG_FILE".into(), aws_config.display().to_string()));
    env.push((
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        dir.path().join("none").display().to_string(),
    ));
    let run = tacos(
        &kubeconfig,
        env,
        "tacos-ci",
        &["verify", "--phase", "gateway"],
    )
    .await;
    assert!(!run.stderr.contains("refusing to act"), "{run}");
    run.assert_stderr_contains("kube context eks");
    let recorded = std::fs::read_to_string(&seen).unwrap_or_else(|e| panic!("{e}: {run}"));
    assert_eq!(
        recorded.trim(),
        "AWS_PROFILE=tacos-ci AWS_REGION=ap-northeast-2",
        "{run}"
    );
}

#[tokio::test]
async fn the_eks_token_is_a_presigned_sts_call_that_answers_with_the_caller() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = tacos(&dir.path().join("unused"), aws.env(), "", &["eks-token"]).await;
    run.assert_code(0);
    let credential = run.json();
    assert_eq!(credential["kind"], "ExecCredential");
    assert!(
        credential["status"]["expirationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{credential}"
    );
    let token = credential["status"]["token"].as_str().unwrap();
    let url = tacos::aws::eks_token::url_of(token).expect("k8s-aws-v1. + base64url of a URL");
    assert!(url.starts_with(&aws.endpoint), "{url}");
    for part in [
        "Action=GetCallerIdentity",
        "X-Amz-Expires=60",
        "X-Amz-Signature=",
        "X-Amz-Credential=testing%2F",
        "%2Fap-northeast-2%2Fsts%2Faws4_request",
    ] {
        assert!(url.contains(part), "the URL lacks {part}: {url}");
    }
    let signed = url
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap();
    assert!(signed.contains("x-k8s-aws-id"), "{signed}");
    // What the EKS authenticator does with the token: GET the URL with the cluster's name. moto's
    // server picks the service from an Authorization header's credential scope, which a presigned
    // URL carries in its query instead (moto checks no signature), so the URL's own scope is
    // repeated there for moto to route by.
    let credential = url
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Credential="))
        .unwrap()
        .replace("%2F", "/");
    let response = tacos_testenv::http_client()
        .get(&url)
        .header("x-k8s-aws-id", "ticket-cluster")
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}"),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.status());
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<Account>137406935518</Account>") && body.contains("<Arn>arn:aws:"),
        "{body}"
    );
}
