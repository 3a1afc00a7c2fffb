//! Security and cost audits read through the AWS SDK: EKS Secrets encryption, control-plane logging, endpoint access and support window; ECR scanning of the images the services run; the platform's AWS Budget.

use std::collections::BTreeMap;

use jiff::civil::Date;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::check::{Check, CheckContext, PhaseError};
use super::render::render_application_charts;
use crate::aws::budgets::{self, BudgetFacts};
use crate::aws::ecr::{self, EcrImage, ImageReference, RepositoryScanning, ScanOutcome};
use crate::aws::eks::{self, ClusterFacts};
use crate::aws::nodes::{self, NodeInstance};
use crate::aws::{AwsContext, kms};
use crate::config::ComplianceSettings;
use crate::k8s::nodeclass::{self, MAX_HOP_LIMIT};
use crate::repo::{Location, Object};
use crate::report::{Finding, Severity, rule};

rule!(
    EKS_SECRETS_ENCRYPTED,
    "verify",
    "aws-eks-secrets-encrypted",
    Error,
    "the cluster envelope-encrypts Secrets with a KMS key that exists and is enabled (eks:DescribeCluster, kms:DescribeKey)",
    "aws eks associate-encryption-config --cluster-name CLUSTER --encryption-config '[{\"resources\":[\"secrets\"],\"provider\":{\"keyArn\":\"KEY_ARN\"}}]'"
);
rule!(
    EKS_CONTROL_PLANE_LOGGING,
    "verify",
    "aws-eks-control-plane-logging",
    Error,
    "the control plane sends its api, audit and authenticator logs to CloudWatch Logs (eks:DescribeCluster)",
    "aws eks update-cluster-config --name CLUSTER --logging '{\"clusterLogging\":[{\"types\":[\"api\",\"audit\",\"authenticator\"],\"enabled\":true}]}'"
);
rule!(
    EKS_ENDPOINT_RESTRICTED,
    "verify",
    "aws-eks-endpoint-restricted",
    Error,
    "the cluster's public endpoint is off, or open only to the CIDRs tacos.yaml lists (eks:DescribeCluster)",
    "aws eks update-cluster-config --name CLUSTER --resources-vpc-config endpointPublicAccess=false,endpointPrivateAccess=true (or publicAccessCidrs=CIDR,... within compliance.publicEndpointCidrs)"
);
rule!(
    EKS_STANDARD_SUPPORT,
    "verify",
    "aws-eks-standard-support",
    Error,
    "the cluster's Kubernetes version is within EKS standard support (compliance.eksStandardSupportEnds in tacos.yaml)",
    "upgrade the cluster one minor version at a time (aws eks update-cluster-version --name CLUSTER --kubernetes-version NEXT); extended support bills more per cluster hour"
);
rule!(
    NODES_HARDENED,
    "verify",
    "aws-nodes-imdsv2-encrypted",
    Error,
    "every node of the cluster answers instance metadata only over IMDSv2 with a hop limit of 1 or 2, and boots from an encrypted root volume (ec2:DescribeInstances, ec2:DescribeVolumes)",
    "set spec.metadataOptions (httpTokens: required, httpPutResponseHopLimit: 1) and an encrypted root blockDeviceMapping in the EC2NodeClass (or the launch template), then let Karpenter replace the nodes (drift)"
);
rule!(
    NODE_CLASSES_HARDENED,
    "verify",
    "karpenter-nodeclass-hardened",
    Error,
    "every Karpenter EC2NodeClass in the cluster requires IMDSv2, a hop limit of 1 or 2 and encrypted volumes, so the nodes Karpenter launches next are hardened too (the nodes running now: aws-nodes-imdsv2-encrypted)",
    "set spec.metadataOptions.httpTokens: required, httpPutResponseHopLimit: 1 and ebs.encrypted: true on every blockDeviceMappings entry where the EC2NodeClass is kept (the GitOps tree, else kubectl edit ec2nodeclass NAME); Karpenter replaces the drifted nodes"
);
rule!(
    ECR_IMAGES_SCANNED,
    "verify",
    "aws-ecr-images-scanned",
    Error,
    "every image the services run is pinned and comes from an ECR repository with scan-on-push or enhanced scanning (ecr:DescribeRepositories, ecr:GetRegistryScanningConfiguration)",
    "aws ecr put-image-scanning-configuration --repository-name REPO --image-scanning-configuration scanOnPush=true; pin images by tag or digest"
);
rule!(
    ECR_IMAGES_CLEAN,
    "verify",
    "aws-ecr-image-vulnerabilities",
    Error,
    "the latest scan of every image the services run found nothing at or above compliance.imageFindingSeverity (ecr:DescribeImageScanFindings)",
    "rebuild the image on a patched base (or upgrade the package), push it, and point the service's values at the new tag"
);
rule!(
    BUDGET_GUARDS_SPEND,
    "verify",
    "aws-budget-guards-spend",
    Error,
    "an AWS Budget covers the platform (compliance.budget), alerts at or below 100 % of its limit, and its limit covers the capacity estimate (budgets:ViewBudget)",
    "aws budgets create-budget --account-id ACCOUNT --budget file://budget.json --notifications-with-subscribers file://notifications.json (docs/security-guidelines.md, Compliance audits)"
);

/// The control-plane log types the audit requires.
pub const REQUIRED_LOG_TYPES: [&str; 3] = ["api", "audit", "authenticator"];

/// Days before the end of standard support at which the audit starts warning.
const SUPPORT_WARNING_DAYS: i32 = 90;

/// The EKS audits, in the order they run.
pub const EKS_AUDITS: [Check; 6] = [
    Check {
        info: EKS_SECRETS_ENCRYPTED,
        run: |cx| Box::pin(secrets_encrypted(cx)),
        in_verify: true,
    },
    Check {
        info: EKS_CONTROL_PLANE_LOGGING,
        run: |cx| {
            Box::pin(with_cluster(
                cx,
                &EKS_CONTROL_PLANE_LOGGING,
                logging_findings,
            ))
        },
        in_verify: true,
    },
    Check {
        info: EKS_ENDPOINT_RESTRICTED,
        run: |cx| {
            Box::pin(with_cluster(
                cx,
                &EKS_ENDPOINT_RESTRICTED,
                endpoint_findings,
            ))
        },
        in_verify: true,
    },
    Check {
        info: EKS_STANDARD_SUPPORT,
        run: |cx| {
            Box::pin(with_cluster(
                cx,
                &EKS_STANDARD_SUPPORT,
                support_findings_today,
            ))
        },
        in_verify: true,
    },
    Check {
        info: NODES_HARDENED,
        run: |cx| Box::pin(nodes_hardened(cx)),
        in_verify: true,
    },
    Check {
        info: NODE_CLASSES_HARDENED,
        run: |cx| Box::pin(node_classes_hardened(cx)),
        in_verify: true,
    },
];

/// The audits of what the services run and what they cost.
pub const APP_AUDITS: [Check; 4] = [
    Check {
        info: ECR_IMAGES_SCANNED,
        run: |cx| Box::pin(images_scanned(cx)),
        in_verify: true,
    },
    Check {
        info: ECR_IMAGES_CLEAN,
        run: |cx| Box::pin(images_clean(cx)),
        in_verify: true,
    },
    Check {
        info: BUDGET_GUARDS_SPEND,
        run: |cx| Box::pin(budget_guards_spend(cx)),
        in_verify: true,
    },
    super::rightsizing::RECOMMENDATIONS,
];

fn cluster_subject(cx: &CheckContext<'_>, aws: &AwsContext) -> String {
    format!(
        "EKS cluster {} ({})",
        cx.environment.cluster.name, aws.target
    )
}

/// The cluster's facts, or the finding that there is no such cluster.
async fn described(
    cx: &CheckContext<'_>,
    check: &crate::report::RuleInfo,
) -> Result<Result<ClusterFacts, Finding>, PhaseError> {
    let aws = cx.aws()?;
    let name = &cx.environment.cluster.name;
    Ok(match eks::describe_cluster(aws, name).await? {
        Some(facts) => Ok(facts),
        None => Err(Finding::new(
            check,
            cluster_subject(cx, aws),
            None,
            "not checked: the cluster does not exist in this account and region",
        )
        .with_remedy("check cluster.name and aws.region in tacos.yaml, or --env")),
    })
}

/// Runs `judge` on the cluster's facts.
async fn with_cluster(
    cx: &CheckContext<'_>,
    check: &crate::report::RuleInfo,
    judge: fn(&ClusterFacts, &ComplianceSettings, &str) -> Vec<Finding>,
) -> Result<Vec<Finding>, PhaseError> {
    let subject = cluster_subject(cx, cx.aws()?);
    Ok(match described(cx, check).await? {
        Ok(facts) => judge(&facts, &cx.environment.compliance, &subject),
        Err(missing) => vec![missing],
    })
}

fn remedy_for(check: &crate::report::RuleInfo, cluster: &str) -> String {
    check.remedy.replace("CLUSTER", cluster)
}

async fn secrets_encrypted(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let subject = cluster_subject(cx, aws);
    let name = &cx.environment.cluster.name;
    let facts = match described(cx, &EKS_SECRETS_ENCRYPTED).await? {
        Ok(facts) => facts,
        Err(missing) => return Ok(vec![missing]),
    };
    let Some(key) = &facts.secrets_key_arn else {
        return Ok(vec![
            Finding::new(
                &EKS_SECRETS_ENCRYPTED,
                subject,
                None,
                "Secrets are not envelope-encrypted with a customer-managed KMS key (no encryptionConfig): EKS's default AWS-owned key cannot be audited, rotated or revoked by the account",
            )
            .with_remedy(remedy_for(&EKS_SECRETS_ENCRYPTED, name)),
        ]);
    };
    let why = match kms::key_state(aws, key).await? {
        Some(state) if state == "Enabled" => return Ok(Vec::new()),
        Some(state) => format!(
            "Secrets are encrypted with KMS key {key}, which is {state}: the API server cannot decrypt them, and new Secrets fail"
        ),
        None => format!(
            "Secrets are encrypted with KMS key {key}, which does not exist in {}",
            aws.target
        ),
    };
    Ok(vec![
        Finding::new(&EKS_SECRETS_ENCRYPTED, subject, None, why).with_remedy(format!(
            "aws kms enable-key --key-id {key} (or cancel its deletion: aws kms cancel-key-deletion --key-id {key})"
        )),
    ])
}

async fn nodes_hardened(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let cluster = &cx.environment.cluster.name;
    let instances = nodes::node_instances(aws, cluster).await?;
    Ok(node_findings(&instances, cluster, &aws.target.to_string()))
}

/// The EC2NodeClasses the cluster holds, judged as lint judges the tree's: the nodes Karpenter
/// launches next. A cluster that does not serve the kind (no Karpenter) has none to judge.
async fn node_classes_hardened(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        nodeclass::GROUP,
        nodeclass::VERSION,
        nodeclass::KIND,
    ));
    let api: Api<DynamicObject> = Api::all_with(cx.client.clone(), &resource);
    let classes = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 404 => {
            return Ok(older_karpenter(cx).await.into_iter().collect());
        }
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Err(PhaseError::PermissionDenied(format!(
                "list ec2nodeclasses.{} ({})",
                nodeclass::GROUP,
                status.message
            )));
        }
        Err(error) => return Err(PhaseError::ClusterUnreachable(error.to_string())),
    };
    let cluster = &cx.environment.cluster.name;
    Ok(classes
        .iter()
        .flat_map(|class| {
            let name = class.metadata.name.clone().unwrap_or_default();
            nodeclass::weaknesses(&class.data["spec"])
                .into_iter()
                .map(move |weakness| {
                    Finding::new(
                        &NODE_CLASSES_HARDENED,
                        format!("EC2NodeClass {name} (cluster {cluster})"),
                        None,
                        format!("{} (at {})", weakness.message(), weakness.pointer()),
                    )
                })
        })
        .collect())
}

/// A warning when the cluster serves karpenter.k8s.aws, but not at v1 (Karpenter before 1.0):
/// its classes are not judged, and saying nothing would read as a pass.
async fn older_karpenter(cx: &CheckContext<'_>) -> Option<Finding> {
    let group = kube::discovery::group(cx.client, nodeclass::GROUP)
        .await
        .ok()?;
    let versions: Vec<String> = group.versions().map(str::to_string).collect();
    Some(
        Finding::new(
            &NODE_CLASSES_HARDENED,
            format!(
                "EC2NodeClass.{} (cluster {})",
                nodeclass::GROUP,
                cx.environment.cluster.name
            ),
            None,
            format!(
                "not judged: the cluster serves {} at {}, not {}: a Karpenter before 1.0",
                nodeclass::GROUP,
                versions.join(", "),
                nodeclass::VERSION
            ),
        )
        .with_severity(Severity::Warning)
        .with_remedy("upgrade Karpenter to v1 (its v1beta1 APIs are gone since 1.1)"),
    )
}

/// IMDSv2 only, a hop limit of at most [`MAX_HOP_LIMIT`], an encrypted root volume, on every node.
pub fn node_findings(instances: &[NodeInstance], cluster: &str, target: &str) -> Vec<Finding> {
    if instances.is_empty() {
        return vec![
            Finding::new(
                &NODES_HARDENED,
                format!("EKS cluster {cluster} ({target})"),
                None,
                format!(
                    "not checked: no running EC2 instance carries tag {}",
                    nodes::cluster_tag_key(cluster)
                ),
            )
            .with_severity(Severity::Warning)
            .with_remedy("nodes launched by Karpenter or a managed node group carry it; tag self-managed nodes the same way"),
        ];
    }
    let mut findings = Vec::new();
    for node in instances {
        let id = &node.instance_id;
        let subject = format!(
            "EC2 instance {id} ({}, {}, {target})",
            node.instance_type, node.launched_by
        );
        let finding = |message: String, remedy: String| {
            Finding::new(&NODES_HARDENED, subject.clone(), None, message).with_remedy(remedy)
        };
        let metadata_off = node.http_endpoint.as_deref() == Some("disabled");
        if !metadata_off && node.http_tokens.as_deref() != Some("required") {
            findings.push(finding(
                format!(
                    "instance metadata answers IMDSv1 (httpTokens {}): one SSRF in any pod on the node reads the node role's credentials",
                    node.http_tokens.as_deref().unwrap_or("unknown")
                ),
                format!(
                    "httpTokens: required in the EC2NodeClass's metadataOptions (or the launch template); now: aws ec2 modify-instance-metadata-options --instance-id {id} --http-tokens required"
                ),
            ));
        }
        if let Some(hops) = node
            .hop_limit
            .filter(|h| !metadata_off && *h > MAX_HOP_LIMIT)
        {
            findings.push(finding(
                format!("instance metadata hop limit is {hops}: above {MAX_HOP_LIMIT}, it reaches past the pods on the node"),
                format!(
                    "httpPutResponseHopLimit: 1 in the EC2NodeClass's metadataOptions (2 where containers need IMDS); now: aws ec2 modify-instance-metadata-options --instance-id {id} --http-put-response-hop-limit 1"
                ),
            ));
        }
        match (node.root_volume_encrypted, &node.root_volume_id) {
            (Some(true), _) => {}
            (Some(false), Some(volume)) => findings.push(finding(
                format!(
                    "root volume {volume} ({}) is not encrypted",
                    node.root_device.as_deref().unwrap_or("root device")
                ),
                "encrypted: true on the EC2NodeClass's root blockDeviceMapping (or aws ec2 enable-ebs-encryption-by-default), then replace the node: a volume cannot be encrypted in place".into(),
            )),
            _ => findings.push(
                Finding::new(
                    &NODES_HARDENED,
                    subject.clone(),
                    None,
                    format!(
                        "EC2 names no EBS volume at its root device {}: its encryption is not known",
                        node.root_device.as_deref().unwrap_or("(none)")
                    ),
                )
                .with_severity(Severity::Warning)
                .with_remedy(format!(
                    "aws ec2 describe-instances --instance-ids {id} --query 'Reservations[].Instances[].BlockDeviceMappings'"
                )),
            ),
        }
    }
    findings
}

/// Control-plane logging must send api, audit and authenticator.
pub fn logging_findings(
    facts: &ClusterFacts,
    _settings: &ComplianceSettings,
    subject: &str,
) -> Vec<Finding> {
    let missing: Vec<&str> = REQUIRED_LOG_TYPES
        .into_iter()
        .filter(|t| !facts.enabled_log_types.iter().any(|e| e == t))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    vec![
        Finding::new(
            &EKS_CONTROL_PLANE_LOGGING,
            subject,
            None,
            format!(
                "control-plane logging is off for {} (on: {}): who did what to the cluster is not recorded",
                missing.join(", "),
                if facts.enabled_log_types.is_empty() {
                    "none".to_string()
                } else {
                    facts.enabled_log_types.join(", ")
                }
            ),
        )
        .with_remedy(remedy_for(&EKS_CONTROL_PLANE_LOGGING, &facts.name)),
    ]
}

/// The public endpoint must be off, or open only within the listed CIDRs (never to everyone).
pub fn endpoint_findings(
    facts: &ClusterFacts,
    settings: &ComplianceSettings,
    subject: &str,
) -> Vec<Finding> {
    if !facts.endpoint_public_access {
        return Vec::new();
    }
    let allowed: Vec<ipnet::Ipv4Net> = settings
        .public_endpoint_cidrs
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    // AWS's default when none are given is 0.0.0.0/0.
    let open_to: Vec<String> = if facts.public_access_cidrs.is_empty() {
        vec!["0.0.0.0/0".to_string()]
    } else {
        facts.public_access_cidrs.clone()
    };
    let outside: Vec<&String> = open_to
        .iter()
        .filter(|cidr| match cidr.parse::<ipnet::Ipv4Net>() {
            Ok(net) => net.prefix_len() == 0 || !allowed.iter().any(|a| a.contains(&net)),
            Err(_) => true,
        })
        .collect();
    if outside.is_empty() {
        return Vec::new();
    }
    let listed = if settings.public_endpoint_cidrs.is_empty() {
        "tacos.yaml lists none (compliance.publicEndpointCidrs), so the public endpoint must be off"
            .to_string()
    } else {
        format!(
            "tacos.yaml allows {}",
            settings.public_endpoint_cidrs.join(", ")
        )
    };
    let everyone = outside.iter().any(|c| c.ends_with("/0"));
    vec![
        Finding::new(
            &EKS_ENDPOINT_RESTRICTED,
            subject,
            None,
            format!(
                "the public API endpoint is open to {}{}; {listed}",
                outside
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if everyone {
                    " (the whole internet)"
                } else {
                    ""
                }
            ),
        )
        .with_remedy(remedy_for(&EKS_ENDPOINT_RESTRICTED, &facts.name)),
    ]
}

fn support_findings_today(
    facts: &ClusterFacts,
    settings: &ComplianceSettings,
    subject: &str,
) -> Vec<Finding> {
    support_findings(facts, settings, subject, jiff::Zoned::now().date())
}

/// The version must be within standard support on `today`; warns within 90 days of its end.
pub fn support_findings(
    facts: &ClusterFacts,
    settings: &ComplianceSettings,
    subject: &str,
    today: Date,
) -> Vec<Finding> {
    let minor = facts
        .version
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    let remedy = remedy_for(&EKS_STANDARD_SUPPORT, &facts.name);
    let Some(ends) = settings.eks_standard_support_ends.get(&minor) else {
        return vec![
            Finding::new(
                &EKS_STANDARD_SUPPORT,
                subject,
                None,
                format!(
                    "Kubernetes {minor} is not in compliance.eksStandardSupportEnds (it lists {}): its end of standard support is unknown to tacos",
                    listed_versions(settings)
                ),
            )
            .with_severity(Severity::Warning)
            .with_remedy("add the version's end of standard support from the EKS version calendar (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html) to tacos.yaml"),
        ];
    };
    let days_left = (*ends - today).get_days();
    if today > *ends {
        return vec![
            Finding::new(
                &EKS_STANDARD_SUPPORT,
                subject,
                None,
                format!(
                    "Kubernetes {minor} left EKS standard support on {ends} ({} days ago): the cluster is on extended support (billed extra) and is upgraded automatically when that ends",
                    -days_left
                ),
            )
            .with_remedy(remedy),
        ];
    }
    if days_left <= SUPPORT_WARNING_DAYS {
        return vec![
            Finding::new(
                &EKS_STANDARD_SUPPORT,
                subject,
                None,
                format!(
                    "Kubernetes {minor} leaves EKS standard support on {ends}, in {days_left} days"
                ),
            )
            .with_severity(Severity::Warning)
            .with_remedy(remedy),
        ];
    }
    Vec::new()
}

fn listed_versions(settings: &ComplianceSettings) -> String {
    if settings.eks_standard_support_ends.is_empty() {
        "none".into()
    } else {
        settings
            .eks_standard_support_ends
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One image a workload runs, and where.
#[derive(Debug, Clone)]
struct RunImage {
    image: String,
    /// `Deployment tacos-app/gateway-api`.
    workload: String,
    location: Location,
}

/// The images the services run: the workloads of the app namespace, the rendered charts included.
/// The phase's platform add-ons elsewhere (the VPA recommender, from registry.k8s.io) are not
/// the services' images, and no ECR scan covers them.
fn images_run(cx: &CheckContext<'_>) -> Result<Vec<RunImage>, PhaseError> {
    let rendered = render_application_charts(cx.phase, cx.render)?;
    let app_namespace = cx.environment.app_namespace.as_str();
    Ok(images_of(
        cx.objects
            .iter()
            .chain(&rendered)
            .filter(|o| o.namespace() == Some(app_namespace)),
    ))
}

fn images_of<'a>(objects: impl Iterator<Item = &'a Object>) -> Vec<RunImage> {
    let mut images = Vec::new();
    for object in objects {
        let Some((pointer, spec)) = object.pod_spec() else {
            continue;
        };
        for list in ["initContainers", "containers"] {
            for (index, container) in spec
                .get(list)
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(image) = container.get("image").and_then(|i| i.as_str()) {
                    images.push(RunImage {
                        image: image.to_string(),
                        workload: object.key().to_string(),
                        location: object.location_of(&format!("{pointer}/{list}/{index}/image")),
                    });
                }
            }
        }
    }
    images
}

/// Each distinct image once, with the first workload that runs it.
fn distinct(images: Vec<RunImage>) -> Vec<RunImage> {
    let mut seen = BTreeMap::new();
    for image in images {
        seen.entry(image.image.clone()).or_insert(image);
    }
    seen.into_values().collect()
}

async fn images_scanned(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let mut findings = Vec::new();
    for run in distinct(images_run(cx)?) {
        let finding = |message: String| {
            Finding::new(
                &ECR_IMAGES_SCANNED,
                format!("{} image {}", run.workload, run.image),
                Some(run.location.clone()),
                message,
            )
        };
        let Some(image) = EcrImage::parse(&run.image) else {
            findings.push(finding(
                "not from an ECR repository: nothing scans it for vulnerabilities before it runs".into(),
            ).with_remedy("push the image to the platform's ECR registry (scan-on-push on) and run it from there"));
            continue;
        };
        if image.reference == ImageReference::Unpinned {
            findings.push(
                finding(
                    "not pinned (no tag but latest, no digest): what runs changes without a commit"
                        .into(),
                )
                .with_remedy(
                    "set image.tag to a release tag (or a digest) in the service's values",
                ),
            );
        }
        let repository = &image.repository;
        match ecr::repository_scanning(aws, &image).await? {
            RepositoryScanning::OnPush | RepositoryScanning::Enhanced => {}
            RepositoryScanning::Missing => findings.push(
                finding(format!(
                    "ECR repository {repository} does not exist in registry {} ({})",
                    image.registry_id, image.region
                ))
                .with_remedy(format!(
                    "aws ecr create-repository --repository-name {repository} --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE"
                )),
            ),
            RepositoryScanning::Off => findings.push(
                finding(format!(
                    "ECR repository {repository} has scan-on-push off and no enhanced scanning rule covers it: its images are never scanned"
                ))
                .with_remedy(format!(
                    "aws ecr put-image-scanning-configuration --repository-name {repository} --image-scanning-configuration scanOnPush=true"
                )),
            ),
        }
    }
    Ok(findings)
}

/// How many vulnerabilities of one image are named one by one; the rest are counted.
const NAMED_PER_IMAGE: usize = 20;

async fn images_clean(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let threshold = cx.environment.compliance.image_finding_severity;
    let mut findings = Vec::new();
    for run in distinct(images_run(cx)?) {
        // An image not in ECR, or not pinned, is aws-ecr-images-scanned's finding.
        let Some(image) = EcrImage::parse(&run.image) else {
            continue;
        };
        let subject = format!("{} image {}", run.workload, run.image);
        let finding = |message: String| {
            Finding::new(
                &ECR_IMAGES_CLEAN,
                subject.clone(),
                Some(run.location.clone()),
                message,
            )
        };
        let start_scan = format!(
            "aws ecr start-image-scan --repository-name {} --image-id {}",
            image.repository,
            match &image.reference {
                ImageReference::Digest(d) => format!("imageDigest={d}"),
                ImageReference::Tag(t) => format!("imageTag={t}"),
                ImageReference::Unpinned => "imageTag=latest".into(),
            }
        );
        match ecr::latest_scan(aws, &image).await? {
            ScanOutcome::RepositoryMissing => {}
            ScanOutcome::ImageMissing => findings.push(
                finding(format!(
                    "the image is not in ECR repository {}: pods cannot pull it",
                    image.repository
                ))
                .with_remedy(
                    "push the image, or point the service's values at a tag the repository has",
                ),
            ),
            ScanOutcome::NeverScanned => findings
                .push(finding("the image has never been scanned".into()).with_remedy(start_scan)),
            ScanOutcome::Incomplete {
                status,
                description,
            } => findings.push(
                finding(format!("the latest scan is {status}: {description}"))
                    .with_remedy(start_scan),
            ),
            ScanOutcome::Complete(vulnerabilities) => {
                let mut serious: Vec<_> = vulnerabilities
                    .into_iter()
                    .filter(|v| v.severity.is_some_and(|s| s >= threshold))
                    .collect();
                serious.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
                let total = serious.len();
                for vulnerability in serious.iter().take(NAMED_PER_IMAGE) {
                    findings.push(finding(format!(
                        "{} {} in {}",
                        vulnerability.severity_text,
                        vulnerability.id,
                        vulnerability
                            .package
                            .as_deref()
                            .unwrap_or("(package not named by the scan)")
                    )));
                }
                if total > NAMED_PER_IMAGE {
                    findings.push(finding(format!(
                        "and {} more at or above {}",
                        total - NAMED_PER_IMAGE,
                        threshold.as_str()
                    )));
                }
            }
        }
    }
    Ok(findings)
}

/// The platform's budget (by name or by cost-allocation tag) must exist, alert at or below its
/// limit, and have a limit no lower than the capacity estimate at the sustained rate.
async fn budget_guards_spend(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let budgets = budgets::budgets(aws).await?;
    let estimate = sustained_cost_estimate(cx)?;
    Ok(budget_findings(
        &budgets,
        &cx.environment.compliance,
        &aws.target.to_string(),
        estimate,
        cx.environment.capacity.sustained_rps,
    ))
}

/// The nodes' monthly cost at the sustained rate with each pool's spot mix, as `tacos capacity` estimates it.
fn sustained_cost_estimate(cx: &CheckContext<'_>) -> Result<f64, PhaseError> {
    let model = cx.capacity_model()?;
    let sustained = f64::from(cx.environment.capacity.sustained_rps);
    Ok(crate::capacity::assess(&model, sustained)
        .cost
        .sustained
        .spot_mix_usd)
}

/// Judges the account's budgets against compliance.budget and the cost estimate (USD per month).
pub fn budget_findings(
    budgets: &[BudgetFacts],
    settings: &ComplianceSettings,
    target: &str,
    estimate_usd: f64,
    sustained_rps: u32,
) -> Vec<Finding> {
    let wanted = &settings.budget;
    let (chosen, described): (Vec<&BudgetFacts>, String) = match (
        &wanted.name,
        &wanted.cost_allocation_tag,
    ) {
        (Some(name), _) => (
            budgets.iter().filter(|b| &b.name == name).collect(),
            format!("named {name}"),
        ),
        (None, Some(tag)) => (
            budgets.iter().filter(|b| b.tags.contains(tag)).collect(),
            format!("filtered on cost-allocation tag {tag}"),
        ),
        (None, None) => {
            return vec![
                    Finding::new(
                        &BUDGET_GUARDS_SPEND,
                        format!("AWS Budgets ({target})"),
                        None,
                        "tacos.yaml names no budget for the platform (compliance.budget.name or .costAllocationTag)",
                    )
                    .with_remedy("set compliance.budget.name in tacos.yaml to the platform's budget"),
                ];
        }
    };
    let Some(budget) = chosen.first() else {
        return vec![Finding::new(
            &BUDGET_GUARDS_SPEND,
            format!("AWS Budgets ({target})"),
            None,
            format!(
                "no budget {described}: nothing alerts when the platform's spend runs away (the account has: {})",
                budgets::names(budgets)
            ),
        )];
    };
    let subject = format!("AWS Budget {} ({target})", budget.name);
    let mut findings = Vec::new();
    let alerting = budget
        .notifications
        .iter()
        .any(|n| n.percent_of_limit.is_some_and(|p| p <= 100.0));
    if !alerting {
        let thresholds: Vec<String> = budget
            .notifications
            .iter()
            .map(|n| match n.percent_of_limit {
                Some(p) => format!("{} at {}%", n.kind, crate::capacity::show_number(p)),
                None => format!("{} at an unknown share", n.kind),
            })
            .collect();
        findings.push(
            Finding::new(
                &BUDGET_GUARDS_SPEND,
                subject.clone(),
                None,
                if thresholds.is_empty() {
                    "the budget has no notification: it alerts no one".to_string()
                } else {
                    format!(
                        "no notification at or below 100 % of the limit ({}): it alerts only after the limit is passed",
                        thresholds.join(", ")
                    )
                },
            )
            .with_remedy(format!(
                "aws budgets create-notification --account-id ACCOUNT --budget-name {} --notification NotificationType=FORECASTED,ComparisonOperator=GREATER_THAN,Threshold=80,ThresholdType=PERCENTAGE --subscribers SubscriptionType=EMAIL,Address=ONCALL",
                budget.name
            )),
        );
    }
    match budget.monthly_limit {
        Some(limit) if budget.unit == "USD" && limit < estimate_usd => findings.push(
            Finding::new(
                &BUDGET_GUARDS_SPEND,
                subject,
                None,
                format!(
                    "the budget's limit, {} a month ({}), is below what `tacos capacity` estimates the nodes alone cost at the sustained {} RPS: {} a month; it will alert every month",
                    crate::capacity::show_usd(limit),
                    budget.time_unit,
                    crate::capacity::show_number(f64::from(sustained_rps)),
                    crate::capacity::show_usd(estimate_usd)
                ),
            )
            .with_severity(Severity::Warning)
            .with_remedy(format!(
                "raise the limit to at least {} (aws budgets update-budget), or correct tacos.yaml's capacity settings if the estimate is wrong",
                crate::capacity::show_usd(estimate_usd.ceil())
            )),
        ),
        _ => {}
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::budgets::NotificationFacts;
    use crate::config::ScanSeverity;

    fn cluster() -> ClusterFacts {
        ClusterFacts {
            name: "ticket-cluster".into(),
            status: "ACTIVE".into(),
            version: "1.35".into(),
            enabled_log_types: vec!["api".into(), "audit".into(), "authenticator".into()],
            endpoint_private_access: true,
            ..Default::default()
        }
    }

    fn settings() -> ComplianceSettings {
        ComplianceSettings {
            eks_standard_support_ends: [
                ("1.33".to_string(), Date::constant(2026, 7, 29)),
                ("1.35".to_string(), Date::constant(2027, 3, 27)),
            ]
            .into(),
            public_endpoint_cidrs: vec!["203.0.113.0/24".into()],
            image_finding_severity: ScanSeverity::Critical,
            budget: crate::config::BudgetSettings {
                name: Some("traffic-tacos-monthly".into()),
                cost_allocation_tag: None,
            },
        }
    }

    #[test]
    fn logging_needs_api_audit_and_authenticator() {
        assert!(logging_findings(&cluster(), &settings(), "c").is_empty());
        let mut off = cluster();
        off.enabled_log_types = vec!["api".into(), "scheduler".into()];
        let findings = logging_findings(&off, &settings(), "c");
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.contains("off for audit, authenticator"));
        assert!(findings[0].remedy.contains("--name ticket-cluster"));
    }

    #[test]
    fn a_public_endpoint_passes_only_within_the_listed_cidrs() {
        let mut open = cluster();
        assert!(endpoint_findings(&open, &settings(), "c").is_empty());
        open.endpoint_public_access = true;
        // No CIDRs given means AWS's default, everyone.
        let findings = endpoint_findings(&open, &settings(), "c");
        assert!(
            findings[0]
                .message
                .contains("0.0.0.0/0 (the whole internet)")
        );
        open.public_access_cidrs = vec!["203.0.113.64/26".into()];
        assert!(endpoint_findings(&open, &settings(), "c").is_empty());
        open.public_access_cidrs = vec!["203.0.113.64/26".into(), "198.51.100.0/24".into()];
        let findings = endpoint_findings(&open, &settings(), "c");
        assert!(findings[0].message.contains("open to 198.51.100.0/24;"));
        let mut none_listed = settings();
        none_listed.public_endpoint_cidrs.clear();
        open.public_access_cidrs = vec!["203.0.113.64/26".into()];
        let findings = endpoint_findings(&open, &none_listed, "c");
        assert!(findings[0].message.contains("must be off"));
    }

    #[test]
    fn the_support_window_fails_after_its_end_and_warns_within_ninety_days() {
        let today = Date::constant(2026, 12, 3);
        assert!(support_findings(&cluster(), &settings(), "c", today).is_empty());
        let soon = support_findings(&cluster(), &settings(), "c", Date::constant(2027, 1, 10));
        assert_eq!(soon[0].severity, Severity::Warning);
        assert!(soon[0].message.contains("in 76 days"));
        let mut old = cluster();
        old.version = "1.33".into();
        let past = support_findings(&old, &settings(), "c", today);
        assert_eq!(past[0].severity, Severity::Error);
        assert!(past[0].message.contains("on 2026-07-29 (127 days ago)"));
        old.version = "1.36".into();
        let unknown = support_findings(&old, &settings(), "c", today);
        assert_eq!(unknown[0].severity, Severity::Warning);
        assert!(unknown[0].message.contains("it lists 1.33, 1.35"));
    }

    fn budget(limit: f64, notifications: &[f64]) -> BudgetFacts {
        BudgetFacts {
            name: "traffic-tacos-monthly".into(),
            monthly_limit: Some(limit),
            unit: "USD".into(),
            time_unit: "MONTHLY".into(),
            tags: vec!["Project=traffic-tacos".into()],
            notifications: notifications
                .iter()
                .map(|p| NotificationFacts {
                    kind: "FORECASTED".into(),
                    percent_of_limit: Some(*p),
                })
                .collect(),
        }
    }

    #[test]
    fn the_budget_must_exist_alert_in_time_and_cover_the_estimate() {
        let target = "account 1";
        assert!(
            budget_findings(
                &[budget(20_000.0, &[80.0])],
                &settings(),
                target,
                9_000.0,
                30_000
            )
            .is_empty()
        );
        let missing = budget_findings(&[], &settings(), target, 9_000.0, 30_000);
        assert!(
            missing[0]
                .message
                .contains("no budget named traffic-tacos-monthly")
        );
        let silent = budget_findings(
            &[budget(20_000.0, &[])],
            &settings(),
            target,
            9_000.0,
            30_000,
        );
        assert!(silent[0].message.contains("no notification"));
        let late = budget_findings(
            &[budget(20_000.0, &[120.0])],
            &settings(),
            target,
            9_000.0,
            30_000,
        );
        assert!(late[0].message.contains("FORECASTED at 120%"));
        let low = budget_findings(
            &[budget(5_000.0, &[80.0])],
            &settings(),
            target,
            9_000.0,
            30_000,
        );
        assert_eq!(low.len(), 1);
        assert_eq!(low[0].severity, Severity::Warning);
        assert!(low[0].message.contains("5,000"), "{}", low[0].message);
        assert!(low[0].message.contains("9,000"), "{}", low[0].message);
        let mut by_tag = settings();
        by_tag.budget = crate::config::BudgetSettings {
            name: None,
            cost_allocation_tag: Some("Project=traffic-tacos".into()),
        };
        assert!(
            budget_findings(
                &[budget(20_000.0, &[80.0])],
                &by_tag,
                target,
                9_000.0,
                30_000
            )
            .is_empty()
        );
    }

    fn node(tokens: &str, hops: i32, encrypted: Option<bool>) -> NodeInstance {
        NodeInstance {
            instance_id: "i-0abc".into(),
            instance_type: "m7i.2xlarge".into(),
            launched_by: "Karpenter NodePool tacos-spot".into(),
            http_tokens: Some(tokens.into()),
            hop_limit: Some(hops),
            http_endpoint: Some("enabled".into()),
            root_device: Some("/dev/xvda".into()),
            root_volume_encrypted: encrypted,
            root_volume_id: encrypted.map(|_| "vol-1".into()),
        }
    }

    #[test]
    fn nodes_need_imdsv2_a_short_hop_limit_and_an_encrypted_root() {
        let target = "account 1, region r";
        assert!(node_findings(&[node("required", 2, Some(true))], "c", target).is_empty());
        let loose = node_findings(&[node("optional", 3, Some(false))], "c", target);
        let messages: Vec<&str> = loose.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(loose.len(), 3, "{messages:?}");
        assert!(messages[0].contains("IMDSv1 (httpTokens optional)"));
        assert!(messages[1].contains("hop limit is 3"));
        assert!(messages[2].contains("root volume vol-1 (/dev/xvda) is not encrypted"));
        assert!(loose.iter().all(|f| f.severity == Severity::Error));
        assert!(
            loose[0]
                .subject
                .starts_with("EC2 instance i-0abc (m7i.2xlarge, Karpenter NodePool tacos-spot")
        );

        // The metadata endpoint turned off leaves nothing to steal; an unknown root only warns.
        let mut off = node("optional", 5, None);
        off.http_endpoint = Some("disabled".into());
        let findings = node_findings(&[off], "c", target);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);

        let none = node_findings(&[], "ticket-cluster", target);
        assert_eq!(none[0].severity, Severity::Warning);
        assert!(
            none[0]
                .message
                .contains("kubernetes.io/cluster/ticket-cluster")
        );
    }
}
