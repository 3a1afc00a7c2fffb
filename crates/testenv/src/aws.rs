//! moto's server on a free loopback port, reached by the real AWS SDK through the standard endpoint override, and seeding helpers.

use std::time::{Duration, Instant};

use sha2::Digest;

use crate::control_plane::run_dir;
use crate::process::ManagedProcess;
use crate::{Binaries, Result, TestenvError, free_port};

/// The account the emulator answers for: the platform's own, so tacos's account guard can be tested.
pub const ACCOUNT_ID: &str = "137406935518";
pub const REGION: &str = "ap-northeast-2";
/// The Kubernetes version seeded clusters report: one inside EKS standard support until
/// 2027-03-27 (tacos.yaml's compliance.eksStandardSupportEnds).
pub const EKS_VERSION: &str = "1.35";
/// The tag the services' charts run (helm-values/*.yaml image.tag).
pub const IMAGE_TAG: &str = "v1.4.2";
/// The platform's AWS Budget (tacos.yaml compliance.budget.name) and its monthly limit in USD,
/// above what `tacos capacity` estimates the nodes cost at the sustained rate.
pub const BUDGET_NAME: &str = "traffic-tacos-monthly";
pub const BUDGET_LIMIT_USD: u32 = 8_000;
/// The CloudWatch Logs group the collector writes the services' logs to (manifests/observability).
pub const SERVICES_LOG_GROUP: &str = "/traffic-tacos/services";
/// The five services, each with a ServiceAccount of the same name in tacos-app and an IRSA role.
pub const PLATFORM_SERVICES: [&str; 5] = [
    "gateway-api",
    "reservation-api",
    "inventory-api",
    "payment-sim-api",
    "reservation-worker",
];

/// The seed of moto's random ids. EKS gives every cluster of one moto process the same OIDC
/// issuer, drawn once when its EKS backend is imported: seeded first, the issuer is known before the
/// emulator starts, so the shared kube-apiserver can be started with it as its service-account
/// issuer and tacos's cluster guard (apiserver issuer == EKS issuer) is tested for real.
pub const MOTO_SEED: u64 = 20_261_202;

/// Seeds moto's random ids, imports its EKS backend (drawing the issuer), then runs its server.
const SEEDED_SERVER: &str = "\
import sys
from moto.moto_api._internal import mock_random
mock_random.seed(int(sys.argv[1]))
import moto.eks.models
from moto.server import main
sys.argv = ['moto_server'] + sys.argv[2:]
main()
";

/// The OIDC issuer the emulator started with `seed` reports for every EKS cluster in `region`.
pub fn eks_issuer(seed: u64, region: &str) -> Result<String> {
    static TEMPLATES: std::sync::Mutex<Vec<(u64, String)>> = std::sync::Mutex::new(Vec::new());
    let mut templates = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, template)) = templates.iter().find(|(s, _)| *s == seed) {
        return Ok(template.replace("{region}", region));
    }
    let binaries = Binaries::locate()?;
    let python = moto_python(&binaries);
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(
            "import sys\nfrom moto.moto_api._internal import mock_random\nmock_random.seed(int(sys.argv[1]))\nimport moto.eks.models as m\nprint(m.ISSUER_TEMPLATE)",
        )
        .arg(seed.to_string())
        .output()
        .map_err(crate::io_err(format!("run {}", python.display())))?;
    let template = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || !template.starts_with("https://") {
        return Err(TestenvError::NotReady {
            what: format!(
                "moto's EKS issuer ({}): {}",
                python.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            seconds: 0,
            log: python.clone(),
            tail: template,
        });
    }
    templates.push((seed, template.clone()));
    Ok(template.replace("{region}", region))
}

/// The virtualenv's python that moto_server runs with.
fn moto_python(binaries: &Binaries) -> std::path::PathBuf {
    binaries.moto_server.with_file_name("python3")
}

/// How moto treats requested ACM certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmValidation {
    /// Requested certificates are ISSUED at once (`MOTO_ACM_VALIDATION_WAIT=0`).
    Immediate,
    /// Requested certificates stay PENDING_VALIDATION (moto's default wait).
    Pending,
}

/// A running moto server. Dropping it stops the server.
#[derive(Debug)]
pub struct AwsEmulator {
    pub endpoint: String,
    process: ManagedProcess,
    _dir: tempfile::TempDir,
}

impl AwsEmulator {
    pub async fn start(acm: AcmValidation) -> Result<Self> {
        Self::start_for_account(acm, ACCOUNT_ID).await
    }

    /// Starts moto answering as `account` (moto's `MOTO_ACCOUNT_ID`).
    pub async fn start_for_account(acm: AcmValidation, account: &str) -> Result<Self> {
        Self::start_seeded(acm, account, MOTO_SEED).await
    }

    /// Starts moto answering as `account` with its random ids seeded by `seed` (another seed: EKS
    /// clusters with another issuer, as another cluster would have).
    pub async fn start_seeded(acm: AcmValidation, account: &str, seed: u64) -> Result<Self> {
        let binaries = Binaries::locate()?;
        binaries.require("moto_server", &binaries.moto_server)?;
        let dir = run_dir("moto")?;
        let port = free_port()?;
        let args = vec![
            "-c".to_string(),
            SEEDED_SERVER.to_string(),
            seed.to_string(),
            "-H".to_string(),
            "127.0.0.1".to_string(),
            "-p".to_string(),
            port.to_string(),
        ];
        let mut env = vec![("MOTO_ACCOUNT_ID", account)];
        if acm == AcmValidation::Immediate {
            env.push(("MOTO_ACM_VALIDATION_WAIT", "0"));
        }
        let mut process = ManagedProcess::spawn(
            "moto_server",
            &moto_python(&binaries),
            &args,
            &env,
            dir.path().join("moto.log"),
        )?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let http = crate::http_client();
        loop {
            if let Ok(response) = http.get(format!("{endpoint}/moto-api/")).send().await
                && response.status().is_success()
            {
                break;
            }
            if process.has_exited() || started.elapsed() > Duration::from_secs(60) {
                return Err(TestenvError::NotReady {
                    what: "moto_server".into(),
                    seconds: started.elapsed().as_secs(),
                    log: process.log.clone(),
                    tail: process.log_tail(25),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Self {
            endpoint,
            process,
            _dir: dir,
        })
    }

    /// The environment a process (tacos itself) needs to reach this emulator through the SDK's standard settings.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }

    /// SDK configuration for seeding and reading the emulator from a test.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_eks::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "tacos-testenv",
            ))
            .load()
            .await
    }

    /// Creates an EKS cluster (moto reports it ACTIVE at once), set up as the platform's
    /// compliance audits require: Secrets encrypted with a customer-managed KMS key, api, audit
    /// and authenticator logs on, the public endpoint off.
    pub async fn seed_eks_cluster(&self, name: &str, version: &str) -> Result<()> {
        use aws_sdk_eks::types::{EncryptionConfig, LogSetup, LogType, Logging, Provider};
        let key_arn = self.seed_kms_key(&format!("{name} Secrets")).await?;
        let eks = aws_sdk_eks::Client::new(&self.sdk_config().await);
        eks.create_cluster()
            .name(name)
            .version(version)
            .role_arn(format!(
                "arn:aws:iam::{ACCOUNT_ID}:role/{name}-cluster-role"
            ))
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .subnet_ids("subnet-0a1b2c3d")
                    .security_group_ids("sg-0cluster")
                    .endpoint_public_access(false)
                    .endpoint_private_access(true)
                    .build(),
            )
            .encryption_config(
                EncryptionConfig::builder()
                    .provider(Provider::builder().key_arn(key_arn).build())
                    .build(),
            )
            .logging(
                Logging::builder()
                    .cluster_logging(
                        LogSetup::builder()
                            .types(LogType::Api)
                            .types(LogType::Audit)
                            .types(LogType::Authenticator)
                            .enabled(true)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_err("create EKS cluster", e))?;
        Ok(())
    }

    /// Creates an enabled symmetric KMS key and returns its ARN.
    pub async fn seed_kms_key(&self, description: &str) -> Result<String> {
        let kms = aws_sdk_kms::Client::new(&self.sdk_config().await);
        let key = kms
            .create_key()
            .description(description)
            .send()
            .await
            .map_err(|e| aws_err("create KMS key", e))?;
        key.key_metadata
            .and_then(|m| m.arn)
            .ok_or_else(|| TestenvError::Aws {
                action: "create KMS key".into(),
                message: "no ARN in the answer".into(),
            })
    }

    /// Disables the KMS key EKS cluster `cluster` encrypts Secrets with; returns its ARN.
    pub async fn disable_secrets_key(&self, cluster: &str) -> Result<String> {
        let config = self.sdk_config().await;
        let described = aws_sdk_eks::Client::new(&config)
            .describe_cluster()
            .name(cluster)
            .send()
            .await
            .map_err(|e| aws_err("describe EKS cluster", e))?;
        let key = described
            .cluster
            .as_ref()
            .and_then(|c| c.encryption_config().first())
            .and_then(|e| e.provider.as_ref())
            .and_then(|p| p.key_arn.clone())
            .ok_or_else(|| TestenvError::Aws {
                action: format!("read the Secrets key of EKS cluster {cluster}"),
                message: "the cluster has no encryptionConfig".into(),
            })?;
        aws_sdk_kms::Client::new(&config)
            .disable_key()
            .key_id(key.rsplit('/').next().unwrap_or(&key))
            .send()
            .await
            .map_err(|e| aws_err("disable KMS key", e))?;
        Ok(key)
    }

    /// Creates ECR repository `name` (scan-on-push as given) unless it exists, pushes an image
    /// tagged `tag` to it, and scans it (moto's scan of it finds one HIGH vulnerability,
    /// CVE-9999-9999, unless told otherwise).
    pub async fn seed_ecr_image(&self, name: &str, tag: &str, scan_on_push: bool) -> Result<()> {
        let ecr = aws_sdk_ecr::Client::new(&self.sdk_config().await);
        let created = ecr
            .create_repository()
            .repository_name(name)
            .image_scanning_configuration(
                aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                    .scan_on_push(scan_on_push)
                    .build(),
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_repository_already_exists_exception()) => {}
            Err(error) => return Err(aws_err("create ECR repository", error)),
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": format!("sha256:{}", hex::encode(sha2::Sha256::digest(format!("{name}:{tag}:config")))),
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 32654,
                "digest": format!("sha256:{}", hex::encode(sha2::Sha256::digest(format!("{name}:{tag}:layer")))),
            }],
        });
        ecr.put_image()
            .repository_name(name)
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send()
            .await
            .map_err(|e| aws_err("put ECR image", e))?;
        ecr.start_image_scan()
            .repository_name(name)
            .image_id(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_err("start ECR image scan", e))?;
        Ok(())
    }

    /// Makes the next scan-findings answer for `repository`:`tag` the given findings, each
    /// `(CVE, severity, package name, package version)`, through moto's own API for it.
    pub async fn seed_scan_findings(
        &self,
        repository: &str,
        tag: &str,
        findings: &[(&str, &str, &str, &str)],
    ) -> Result<()> {
        let mut counts = serde_json::Map::new();
        for (_, severity, _, _) in findings {
            let count = counts.entry(severity.to_string()).or_insert(0.into());
            *count = (count.as_u64().unwrap_or(0) + 1).into();
        }
        let result = serde_json::json!({
            "registryId": ACCOUNT_ID,
            "repositoryName": repository,
            "imageId": {"imageTag": tag},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {
                "findings": findings.iter().map(|(id, severity, package, version)| serde_json::json!({
                    "name": id,
                    "severity": severity,
                    "attributes": [
                        {"key": "package_name", "value": package},
                        {"key": "package_version", "value": version},
                    ],
                })).collect::<Vec<_>>(),
                "findingSeverityCounts": counts,
            },
        });
        let action = "set ECR scan findings";
        let response = crate::http_client()
            .post(format!(
                "{}/moto-api/static/ecr/scan-finding-results",
                self.endpoint
            ))
            .json(&serde_json::json!({"results": [result], "region": REGION, "account_id": ACCOUNT_ID}))
            .send()
            .await
            .map_err(|e| aws_err(action, e))?;
        if !response.status().is_success() {
            return Err(TestenvError::Aws {
                action: action.into(),
                message: response.status().to_string(),
            });
        }
        Ok(())
    }

    /// Creates a monthly cost budget of `limit_usd` with a FORECASTED notification at each of
    /// `alert_percents` of the limit.
    pub async fn seed_budget(
        &self,
        name: &str,
        limit_usd: u32,
        alert_percents: &[f64],
    ) -> Result<()> {
        use aws_sdk_budgets::types::{
            Budget, BudgetType, ComparisonOperator, Notification, NotificationType,
            NotificationWithSubscribers, Spend, Subscriber, SubscriptionType, ThresholdType,
            TimeUnit,
        };
        let budgets = aws_sdk_budgets::Client::new(&self.sdk_config().await);
        let built = |what: &str, e: aws_sdk_budgets::error::BuildError| TestenvError::Aws {
            action: format!("build {what}"),
            message: e.to_string(),
        };
        let mut request = budgets.create_budget().account_id(ACCOUNT_ID).budget(
            Budget::builder()
                .budget_name(name)
                .budget_limit(
                    Spend::builder()
                        .amount(limit_usd.to_string())
                        .unit("USD")
                        .build()
                        .map_err(|e| built("spend", e))?,
                )
                .time_unit(TimeUnit::Monthly)
                .budget_type(BudgetType::Cost)
                .build()
                .map_err(|e| built("budget", e))?,
        );
        for percent in alert_percents {
            request = request.notifications_with_subscribers(
                NotificationWithSubscribers::builder()
                    .notification(
                        Notification::builder()
                            .notification_type(NotificationType::Forecasted)
                            .comparison_operator(ComparisonOperator::GreaterThan)
                            .threshold(*percent)
                            .threshold_type(ThresholdType::Percentage)
                            .build()
                            .map_err(|e| built("notification", e))?,
                    )
                    .subscribers(
                        Subscriber::builder()
                            .subscription_type(SubscriptionType::Email)
                            .address("oncall@traffictacos.store")
                            .build()
                            .map_err(|e| built("subscriber", e))?,
                    )
                    .build()
                    .map_err(|e| built("notification", e))?,
            );
        }
        request
            .send()
            .await
            .map_err(|e| aws_err("create budget", e))?;
        Ok(())
    }

    /// Creates the CloudWatch Logs group `name`, keeping its events `retention_days` (None: forever).
    pub async fn seed_log_group(&self, name: &str, retention_days: Option<i32>) -> Result<()> {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.sdk_config().await);
        logs.create_log_group()
            .log_group_name(name)
            .send()
            .await
            .map_err(|e| aws_err("create log group", e))?;
        if let Some(days) = retention_days {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| aws_err("put retention policy", e))?;
        }
        Ok(())
    }

    /// Requests an ACM certificate and returns its ARN.
    pub async fn seed_certificate(
        &self,
        domain: &str,
        alternative_names: &[&str],
    ) -> Result<String> {
        let acm = aws_sdk_acm::Client::new(&self.sdk_config().await);
        let mut request = acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns);
        for name in alternative_names {
            request = request.subject_alternative_names(*name);
        }
        let output = request
            .send()
            .await
            .map_err(|e| aws_err("request ACM certificate", e))?;
        output.certificate_arn.ok_or_else(|| TestenvError::Aws {
            action: "request ACM certificate".into(),
            message: "no ARN returned".into(),
        })
    }

    /// Creates a public hosted zone and returns its id.
    pub async fn seed_hosted_zone(&self, name: &str) -> Result<String> {
        let route53 = aws_sdk_route53::Client::new(&self.sdk_config().await);
        let output = route53
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("tacos-testenv-{name}"))
            .send()
            .await
            .map_err(|e| aws_err("create hosted zone", e))?;
        Ok(output.hosted_zone.map(|z| z.id).unwrap_or_default())
    }

    /// Creates the IRSA role a ServiceAccount names, trusting exactly that ServiceAccount through the
    /// cluster's OIDC provider (as `eksctl create iamserviceaccount` does).
    pub async fn seed_irsa_role(
        &self,
        role_name: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<()> {
        let issuer = "oidc.eks.ap-northeast-2.amazonaws.com/id/TACOSTESTENV";
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}")},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    format!("{issuer}:sub"): format!("system:serviceaccount:{namespace}:{service_account}"),
                    format!("{issuer}:aud"): "sts.amazonaws.com",
                }}
            }]
        });
        let iam = aws_sdk_iam::Client::new(&self.sdk_config().await);
        iam.create_role()
            .role_name(role_name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .map_err(|e| aws_err("create IAM role", e))?;
        Ok(())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

fn aws_err(action: &str, error: impl std::error::Error) -> TestenvError {
    TestenvError::Aws {
        action: action.to_string(),
        message: crate::shared::error_chain(&error),
    }
}

impl AwsEmulator {
    /// The emulator's default subnets in two zones (moto creates a default VPC per region), read through EC2's query API.
    pub async fn default_subnets(&self) -> Result<Vec<String>> {
        let scope = format!(
            "Credential=testing/20260101/{REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0"
        );
        let response = crate::http_client()
            .post(&self.endpoint)
            .header("Authorization", format!("AWS4-HMAC-SHA256 {scope}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("Action=DescribeSubnets&Version=2016-11-15")
            .send()
            .await
            .map_err(|e| TestenvError::Aws {
                action: "describe subnets".into(),
                message: e.to_string(),
            })?;
        let body = response.text().await.map_err(|e| TestenvError::Aws {
            action: "describe subnets".into(),
            message: e.to_string(),
        })?;
        let subnets: Vec<String> = body
            .split("<subnetId>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</subnetId>").map(|(id, _)| id.to_string()))
            .collect();
        if subnets.len() < 2 {
            return Err(TestenvError::Aws {
                action: "describe subnets".into(),
                message: format!("expected default subnets, got: {body}"),
            });
        }
        Ok(subnets)
    }

    /// Creates an internet-facing ALB (as the AWS Load Balancer Controller would) and returns its DNS name.
    pub async fn seed_load_balancer(&self, name: &str) -> Result<String> {
        let subnets = self.default_subnets().await?;
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk_config().await);
        let output = elbv2
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(subnets.into_iter().take(3).collect()))
            .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::InternetFacing)
            .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Application)
            .send()
            .await
            .map_err(|e| aws_err("create load balancer", e))?;
        let load_balancer = output.load_balancers.unwrap_or_default().into_iter().next();
        load_balancer
            .and_then(|lb| lb.dns_name)
            .ok_or_else(|| TestenvError::Aws {
                action: "create load balancer".into(),
                message: "no DNS name returned".into(),
            })
    }

    /// Upserts an alias A record `name` -> `target_dns` in the zone (as ExternalDNS would).
    pub async fn seed_alias_record(
        &self,
        zone_id: &str,
        name: &str,
        target_dns: &str,
    ) -> Result<()> {
        use aws_sdk_route53::types::{
            AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
        };
        let route53 = aws_sdk_route53::Client::new(&self.sdk_config().await);
        let record = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id("ZWKZPGTI48KDX")
                    .dns_name(target_dns)
                    .evaluate_target_health(true)
                    .build()
                    .map_err(|e| aws_err("build alias", e))?,
            )
            .build()
            .map_err(|e| aws_err("build record", e))?;
        let change = Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(record)
            .build()
            .map_err(|e| aws_err("build change", e))?;
        route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .map_err(|e| aws_err("build batch", e))?,
            )
            .send()
            .await
            .map_err(|e| aws_err("upsert alias record", e))?;
        Ok(())
    }

    /// What the Traffic Tacos platform expects to find in its AWS account: the EKS cluster and a
    /// node of each NodePool, an issued wildcard certificate, the public hosted zone, each
    /// service's IRSA role and scanned ECR image, the platform's budget, and the collector's role
    /// and log group. Returns the zone id.
    pub async fn seed_platform(&self) -> Result<String> {
        self.seed_eks_cluster("ticket-cluster", EKS_VERSION).await?;
        for pool in ["tacos-on-demand", "tacos-spot"] {
            self.seed_node_instance(
                "ticket-cluster",
                &crate::aws_nodes::NodeLaunch::karpenter_default(pool),
            )
            .await?;
        }
        for service in PLATFORM_SERVICES {
            self.seed_ecr_image(&format!("traffic-tacos-{service}"), IMAGE_TAG, true)
                .await?;
        }
        self.seed_budget(BUDGET_NAME, BUDGET_LIMIT_USD, &[80.0, 100.0])
            .await?;
        self.seed_certificate("*.traffictacos.store", &["traffictacos.store"])
            .await?;
        for service in PLATFORM_SERVICES {
            self.seed_irsa_role(
                &format!("traffic-tacos-{service}-sa-role"),
                "tacos-app",
                service,
            )
            .await?;
        }
        // The OpenTelemetry Collector's (manifests/observability): its role and its log group.
        self.seed_irsa_role(
            "traffic-tacos-otel-collector-sa-role",
            "observability",
            "otel-collector",
        )
        .await?;
        self.seed_log_group(SERVICES_LOG_GROUP, Some(30)).await?;
        self.seed_hosted_zone("traffictacos.store").await
    }
}
