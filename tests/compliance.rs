//! The security and cost audits of `tacos verify`, against the AWS emulator seeded passing and then failing: EKS Secrets encryption, control-plane logging, endpoint access and support window; ECR scanning and findings; the platform's budget.

use std::path::Path;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};

use tacos_testenv::aws::{
    AcmValidation, BUDGET_LIMIT_USD, BUDGET_NAME, EKS_VERSION, IMAGE_TAG, REGION,
};
use tacos_testenv::aws_nodes::NodeLaunch;
use tacos_testenv::{AwsEmulator, TacosCommand, shared_control_plane, tacos_command};

fn tacos(kubeconfig: &Path, aws: &AwsEmulator) -> TacosCommand {
    tacos_command!().kubeconfig(kubeconfig).aws(aws).helm()
}

/// Runs `verify --phase PHASE -o json` and returns each audit's findings by check id.
async fn audits(
    kubeconfig: &Path,
    aws: &AwsEmulator,
    phase: &str,
    ids: &[&str],
) -> Vec<(String, Vec<serde_json::Value>)> {
    let run = tacos(kubeconfig, aws)
        .args(["verify", "--phase", phase, "--output", "json"])
        .run_async()
        .await;
    assert!(matches!(run.code, 0 | 1), "verify ran to the end\n{run}");
    let report = run.json();
    ids.iter()
        .map(|id| {
            let check = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["check"] == *id)
                .unwrap_or_else(|| panic!("verify reports {id}\n{run}"));
            (
                id.to_string(),
                check["findings"].as_array().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

fn errors(findings: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect()
}

const EKS_AUDITS: [&str; 5] = [
    "aws-eks-secrets-encrypted",
    "aws-eks-control-plane-logging",
    "aws-eks-endpoint-restricted",
    "aws-eks-standard-support",
    "aws-nodes-imdsv2-encrypted",
];

#[tokio::test]
async fn verify_fails_on_each_eks_setting_that_breaks_compliance_naming_it_and_its_remedy() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let config = aws.sdk_config().await;
    let eks = aws_sdk_eks::Client::new(&config);

    for (id, findings) in audits(&plane.kubeconfig, &aws, "gateway", &EKS_AUDITS).await {
        assert!(
            errors(&findings).is_empty(),
            "{id} passes when compliant: {findings:?}"
        );
    }

    // The Secrets key disabled: the API server can no longer decrypt them.
    let key = aws.disable_secrets_key("ticket-cluster").await.unwrap();
    let found = audits(&plane.kubeconfig, &aws, "gateway", &EKS_AUDITS[..1]).await;
    let secrets = errors(&found[0].1);
    assert_eq!(secrets.len(), 1, "{found:?}");
    let message = secrets[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&key) && message.contains("Disabled"),
        "{message}"
    );
    assert!(
        secrets[0]["remedy"]
            .as_str()
            .unwrap()
            .contains(&format!("aws kms enable-key --key-id {key}")),
        "{secrets:?}"
    );

    // A node launched from a template that kept EC2's old defaults: IMDSv1 open, three hops, a
    // plain root volume. The seeded Karpenter nodes still pass.
    let loose = aws
        .seed_node_instance(
            "ticket-cluster",
            &NodeLaunch {
                node_pool: "legacy".into(),
                imdsv2_required: false,
                hop_limit: 3,
                encrypted_root: false,
            },
        )
        .await
        .unwrap();
    let found = audits(&plane.kubeconfig, &aws, "gateway", &EKS_AUDITS[4..]).await;
    let nodes = errors(&found[0].1);
    assert_eq!(nodes.len(), 3, "{found:?}");
    for (finding, (message, remedy)) in nodes.iter().zip([
        (
            "answers IMDSv1 (httpTokens optional)",
            "--http-tokens required",
        ),
        ("hop limit is 3", "--http-put-response-hop-limit 1"),
        ("is not encrypted", "encrypted: true"),
    ]) {
        assert!(
            finding["subject"].as_str().unwrap().starts_with(&format!(
                "EC2 instance {loose} (m7i.2xlarge, Karpenter NodePool legacy"
            )),
            "{finding}"
        );
        assert!(
            finding["message"].as_str().unwrap().contains(message),
            "{finding}"
        );
        assert!(
            finding["remedy"].as_str().unwrap().contains(remedy),
            "{finding}"
        );
    }
    aws_sdk_ec2::Client::new(&config)
        .terminate_instances()
        .instance_ids(&loose)
        .send()
        .await
        .unwrap();

    // The same cluster as a hand-made one is: no customer-managed key, logging off, the public
    // endpoint open to everyone, a version past standard support.
    eks.delete_cluster()
        .name("ticket-cluster")
        .send()
        .await
        .unwrap();
    eks.create_cluster()
        .name("ticket-cluster")
        .version("1.33")
        .role_arn("arn:aws:iam::137406935518:role/ticket-cluster-cluster-role")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids("subnet-0a1b2c3d")
                .endpoint_public_access(true)
                .public_access_cidrs("0.0.0.0/0")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let found = audits(&plane.kubeconfig, &aws, "gateway", &EKS_AUDITS[..4]).await;
    let expected = [
        (
            "no encryptionConfig",
            "aws eks associate-encryption-config --cluster-name ticket-cluster",
        ),
        (
            "control-plane logging is off for api, audit, authenticator",
            "aws eks update-cluster-config --name ticket-cluster --logging",
        ),
        (
            "open to 0.0.0.0/0 (the whole internet)",
            "endpointPublicAccess=false",
        ),
        (
            "Kubernetes 1.33 left EKS standard support on 2026-07-29",
            "aws eks update-cluster-version --name ticket-cluster",
        ),
    ];
    for ((id, findings), (message, remedy)) in found.iter().zip(expected) {
        let failed = errors(findings);
        assert_eq!(failed.len(), 1, "{id}: {findings:?}");
        assert!(
            failed[0]["message"].as_str().unwrap().contains(message),
            "{id}: {failed:?}"
        );
        assert!(
            failed[0]["remedy"].as_str().unwrap().contains(remedy),
            "{id}: {failed:?}"
        );
        assert!(
            failed[0]["subject"]
                .as_str()
                .unwrap()
                .contains(&format!("EKS cluster ticket-cluster (account 137406935518, profile (default chain), region {REGION})")),
            "{id}: {failed:?}"
        );
    }
    assert_ne!(EKS_VERSION, "1.33", "the seeded version is a supported one");
}

/// An EC2NodeClass as Karpenter's own CRD takes it (the apiserver fills metadataOptions'
/// defaults), then loosened the way an old launch template was.
#[tokio::test]
async fn verify_names_each_weakness_of_a_live_karpenter_node_class_at_its_field() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let client = plane.client().await.unwrap();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "karpenter.k8s.aws",
        "v1",
        "EC2NodeClass",
    ));
    let classes: Api<DynamicObject> = Api::all_with(client, &resource);
    let class = |spec: serde_json::Value| {
        serde_json::json!({
            "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
            "metadata": {"name": "tacos-default"},
            "spec": spec
        })
    };
    let selectors = serde_json::json!({
        "role": "KarpenterNodeRole-ticket-cluster",
        "amiSelectorTerms": [{"alias": "al2023@latest"}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "ticket-cluster"}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "ticket-cluster"}}]
    });
    let apply = PatchParams::apply("compliance-test").force();
    classes
        .patch(
            "tacos-default",
            &apply,
            &Patch::Apply(class(selectors.clone())),
        )
        .await
        .unwrap();
    let id = "karpenter-nodeclass-hardened";
    let found = audits(&plane.kubeconfig, &aws, "gateway", &[id]).await;
    assert!(
        errors(&found[0].1).is_empty(),
        "Karpenter's defaults pass: {found:?}"
    );

    let mut loose = selectors;
    loose["metadataOptions"] =
        serde_json::json!({"httpTokens": "optional", "httpPutResponseHopLimit": 3});
    loose["blockDeviceMappings"] = serde_json::json!([
        {"deviceName": "/dev/xvda", "rootVolume": true, "ebs": {"volumeSize": "100Gi"}}
    ]);
    classes
        .patch("tacos-default", &apply, &Patch::Apply(class(loose)))
        .await
        .unwrap();
    let found = audits(&plane.kubeconfig, &aws, "gateway", &[id]).await;
    classes
        .delete("tacos-default", &Default::default())
        .await
        .unwrap();
    let failed = errors(&found[0].1);
    let messages: Vec<&str> = failed
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{found:?}");
    for (message, expected) in messages.iter().zip([
        "httpTokens is \"optional\": the node answers IMDSv1 (at /spec/metadataOptions/httpTokens)",
        "httpPutResponseHopLimit is 3",
        "the volume at /dev/xvda (the root volume) does not say ebs.encrypted: true",
    ]) {
        assert!(message.contains(expected), "{message}");
    }
    for finding in failed {
        assert_eq!(
            finding["subject"], "EC2NodeClass tacos-default (cluster ticket-cluster)",
            "{finding}"
        );
        assert!(
            finding["remedy"]
                .as_str()
                .unwrap()
                .contains("httpTokens: required"),
            "{finding}"
        );
    }
}

const APP_AUDITS: [&str; 3] = [
    "aws-ecr-images-scanned",
    "aws-ecr-image-vulnerabilities",
    "aws-budget-guards-spend",
];

#[tokio::test]
async fn verify_names_unscanned_repositories_critical_cves_and_budgets_that_do_not_guard_spend() {
    let plane = shared_control_plane();
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    aws.seed_platform().await.unwrap();
    let config = aws.sdk_config().await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let budgets = aws_sdk_budgets::Client::new(&config);

    // moto's scans find one HIGH vulnerability in every image: below the CRITICAL threshold.
    for (id, findings) in audits(&plane.kubeconfig, &aws, "apps", &APP_AUDITS).await {
        assert!(
            findings.is_empty(),
            "{id} passes when compliant: {findings:?}"
        );
    }

    // The repository made again with scan-on-push off (moto keeps the old setting when
    // PutImageScanningConfiguration turns it off: the SDK leaves a false boolean out of the body).
    ecr.delete_repository()
        .repository_name("traffic-tacos-gateway-api")
        .force(true)
        .send()
        .await
        .unwrap();
    aws.seed_ecr_image("traffic-tacos-gateway-api", IMAGE_TAG, false)
        .await
        .unwrap();
    aws.seed_scan_findings(
        "traffic-tacos-reservation-api",
        IMAGE_TAG,
        &[
            ("CVE-2026-31337", "CRITICAL", "openssl", "3.0.1"),
            ("CVE-2026-0001", "MEDIUM", "zlib", "1.2.11"),
        ],
    )
    .await
    .unwrap();
    budgets
        .delete_budget()
        .account_id("137406935518")
        .budget_name(BUDGET_NAME)
        .send()
        .await
        .unwrap();
    let found = audits(&plane.kubeconfig, &aws, "apps", &APP_AUDITS).await;
    let (scanned, clean, budget) = (&found[0].1, &found[1].1, &found[2].1);
    assert_eq!(scanned.len(), 1, "{scanned:?}");
    let message = scanned[0]["message"].as_str().unwrap();
    assert!(
        message.contains("ECR repository traffic-tacos-gateway-api has scan-on-push off"),
        "{message}"
    );
    assert!(
        scanned[0]["subject"]
            .as_str()
            .unwrap()
            .contains("Deployment tacos-app/gateway-api image 137406935518.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos-gateway-api:v1.4.2"),
        "{scanned:?}"
    );
    assert!(
        scanned[0]["remedy"].as_str().unwrap().contains(
            "put-image-scanning-configuration --repository-name traffic-tacos-gateway-api"
        ),
        "{scanned:?}"
    );
    // Only the CRITICAL finding fails, named by CVE and package; the MEDIUM one is below the bar.
    assert_eq!(clean.len(), 1, "{clean:?}");
    assert_eq!(
        clean[0]["message"], "CRITICAL CVE-2026-31337 in openssl 3.0.1",
        "{clean:?}"
    );
    assert!(
        clean[0]["subject"]
            .as_str()
            .unwrap()
            .contains("traffic-tacos-reservation-api:v1.4.2"),
        "{clean:?}"
    );
    assert_eq!(budget.len(), 1, "{budget:?}");
    assert!(
        budget[0]["message"]
            .as_str()
            .unwrap()
            .contains("no budget named traffic-tacos-monthly"),
        "{budget:?}"
    );

    // A budget that alerts no one, then one whose limit is below the capacity estimate.
    aws.seed_budget(BUDGET_NAME, BUDGET_LIMIT_USD, &[])
        .await
        .unwrap();
    let found = audits(&plane.kubeconfig, &aws, "apps", &APP_AUDITS[2..]).await;
    let silent = errors(&found[0].1);
    assert_eq!(silent.len(), 1, "{found:?}");
    assert!(
        silent[0]["message"]
            .as_str()
            .unwrap()
            .contains("the budget has no notification"),
        "{silent:?}"
    );
    budgets
        .delete_budget()
        .account_id("137406935518")
        .budget_name(BUDGET_NAME)
        .send()
        .await
        .unwrap();
    aws.seed_budget(BUDGET_NAME, 1_000, &[80.0]).await.unwrap();
    let found = audits(&plane.kubeconfig, &aws, "apps", &APP_AUDITS[2..]).await;
    let low = &found[0].1;
    assert_eq!(low.len(), 1, "{low:?}");
    assert_eq!(low[0]["severity"], "warning", "{low:?}");
    let message = low[0]["message"].as_str().unwrap();
    assert!(
        message.contains("$1,000.00 a month") && message.contains("sustained 30,000 RPS"),
        "{message}"
    );
    // The estimate is tacos capacity's, whatever it is today: named, and above the limit.
    let capacity = tacos(&plane.kubeconfig, &aws)
        .args(["capacity", "--output", "json"])
        .run_async()
        .await;
    let estimate = capacity.json()["cost"]["sustained"]["spotMixUsd"]
        .as_f64()
        .unwrap();
    assert!(estimate > 1_000.0 && estimate < f64::from(BUDGET_LIMIT_USD));
    assert!(
        message.contains(&tacos::capacity::show_usd(estimate)),
        "{message} names {estimate}"
    );
}
