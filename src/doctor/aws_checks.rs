//! The AWS half of doctor: the Secrets key and ECR (on the images pods cannot pull) read for the analysis, caches the workloads call that their security groups shut out, and the edge's certificate and DNS as the Gateways use them.

use crate::aws::ecr::{self, EcrImage};
use crate::aws::elasticache::check_cache_reachable;
use crate::aws::{AwsContext, AwsError, acm, ec2::Admission, eks, kms};
use crate::config::Environment;
use crate::k8s::gateway::listener_hostnames_of;
use crate::phases::gateway::{alias_findings, certificate_findings};
use crate::report::{Finding, RuleInfo, rule};

use super::egress::configured_endpoints;
use super::pods;
use super::secrets_key::{SECRETS_KEY_ENABLED, SecretsKey};
use super::snapshot::RegistryAnswer;
use super::{Diagnosis, Snapshot};

/// The same check as the apps phase's preflight, judged on what the live workloads call.
pub const CACHE_INGRESS: RuleInfo = crate::phases::apps::CACHES_ADMIT_CLUSTER;
rule!(
    EDGE_CERTIFICATE,
    "doctor",
    "aws-edge-certificate",
    Error,
    "the ACM certificate is ISSUED, covers the Gateway hostnames and is not near expiry",
    "finish DNS validation or renew the certificate (aws acm describe-certificate)"
);
rule!(
    EDGE_DNS,
    "doctor",
    "aws-edge-dns",
    Error,
    "Route53 aliases every Gateway hostname to the Gateway's load balancer",
    "point the alias records at the Gateway's ALB (ExternalDNS or the hosted zone)"
);

pub const CHECKS: &[RuleInfo] = &[CACHE_INGRESS, EDGE_CERTIFICATE, EDGE_DNS];

fn from_finding(check: &RuleInfo, finding: Finding) -> Diagnosis {
    Diagnosis {
        severity: finding.severity,
        remedy: finding.remedy,
        ..Diagnosis::new(check, finding.subject, finding.message)
    }
}

/// What the AWS half found, and the checks it could not finish (with why): one failing call never
/// hides what the other checks found.
#[derive(Debug, Default)]
pub struct AwsFindings {
    pub diagnoses: Vec<Diagnosis>,
    pub skipped: Vec<(&'static str, String)>,
}

impl AwsFindings {
    fn keep(&mut self, check: &RuleInfo, found: Result<Vec<Diagnosis>, AwsError>) {
        match found {
            Ok(diagnoses) => self.diagnoses.extend(diagnoses),
            Err(error) => self.skipped.push((check.id, error.to_string())),
        }
    }
}

/// Checks whose facts the AWS half reads before the analysis, which judges them with the cluster's.
pub const READ_BEFORE_ANALYSIS: &[RuleInfo] = &[SECRETS_KEY_ENABLED];

/// Reads what the analysis judges together with the cluster: ECR on the images pods cannot pull,
/// and the cluster's Secrets key. Returns the checks it could not read for, with why.
pub async fn read_before_analysis(
    aws: &AwsContext,
    environment: &Environment,
    snapshot: &mut Snapshot,
) -> Vec<(&'static str, String)> {
    ask_registry(aws, snapshot).await;
    let mut skipped = Vec::new();
    match secrets_key(aws, &environment.cluster.name).await {
        Ok(key) => snapshot.secrets_key = key,
        Err(error) => skipped.push((SECRETS_KEY_ENABLED.id, error.to_string())),
    }
    skipped
}

/// The KMS key the cluster encrypts Secrets with, and its state (None: no such cluster, or no key).
async fn secrets_key(aws: &AwsContext, cluster: &str) -> Result<Option<SecretsKey>, AwsError> {
    let Some(key_arn) = eks::describe_cluster(aws, cluster)
        .await?
        .and_then(|facts| facts.secrets_key_arn)
    else {
        return Ok(None);
    };
    let state = kms::key_state(aws, &key_arn).await?;
    Ok(Some(SecretsKey {
        cluster: cluster.to_string(),
        key_arn,
        state,
    }))
}

/// Asks ECR about each ECR image pods fail to pull, so the analysis can say whether the tag, the
/// repository or the nodes' access is at fault. A registry that does not answer is evidence, not
/// an error.
async fn ask_registry(aws: &AwsContext, snapshot: &mut Snapshot) {
    for image in pods::images_failing_to_pull(snapshot) {
        let Some(ecr_image) = EcrImage::parse(&image) else {
            continue;
        };
        let answer = match ecr::image_presence(aws, &ecr_image).await {
            Ok(presence) => RegistryAnswer::Ecr(presence),
            Err(error) => RegistryAnswer::Unanswered(error.to_string()),
        };
        snapshot.registry.insert(image, answer);
    }
}

/// Every AWS-side root cause the snapshot points at.
pub async fn diagnose_aws(
    aws: &AwsContext,
    environment: &Environment,
    snapshot: &Snapshot,
) -> AwsFindings {
    let mut found = AwsFindings::default();
    found.keep(&CACHE_INGRESS, caches(aws, environment, snapshot).await);
    let gateways: Vec<&serde_json::Value> = snapshot.gateways.iter().collect();
    let hostnames = listener_hostnames_of(gateways.iter().copied());
    if !hostnames.is_empty() {
        let domain = &environment.certificate.domain;
        let certificate = acm::best_certificate(aws, domain).await.map(|best| {
            certificate_findings(
                &EDGE_CERTIFICATE,
                &aws.target,
                domain,
                best.as_ref(),
                &hostnames,
                environment.certificate.min_days_valid,
            )
            .into_iter()
            .map(|f| from_finding(&EDGE_CERTIFICATE, f))
            .collect()
        });
        found.keep(&EDGE_CERTIFICATE, certificate);
    }
    found.keep(&EDGE_DNS, dns(aws, environment, &gateways).await);
    found
}

/// Caches the workloads call whose security groups shut the cluster out.
async fn caches(
    aws: &AwsContext,
    environment: &Environment,
    snapshot: &Snapshot,
) -> Result<Vec<Diagnosis>, AwsError> {
    let mut diagnoses = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for endpoint in configured_endpoints(snapshot) {
        if !seen.insert((endpoint.host.clone(), endpoint.port)) {
            continue;
        }
        let Some(access) = check_cache_reachable(
            aws,
            &environment.cluster.name,
            &endpoint.host,
            endpoint.port,
        )
        .await?
        else {
            continue;
        };
        if matches!(access.admission, Admission::Admitted { .. }) {
            continue;
        }
        let mut diagnosis = Diagnosis::new(
            &CACHE_INGRESS,
            format!("ElastiCache {} ({})", access.cache.cache_id, aws.target),
            access.to_string(),
        );
        diagnosis.evidence.push(format!(
            "{} calls {}:{} ({})",
            endpoint.workload, endpoint.host, endpoint.port, endpoint.configured_in
        ));
        diagnosis.symptoms.push(endpoint.workload.clone());
        if let Some(command) = access.authorize_command(&aws.target) {
            diagnosis.remedy = command;
        }
        diagnoses.push(diagnosis);
    }
    Ok(diagnoses)
}

/// Each Gateway's hostnames must alias its own load balancer.
async fn dns(
    aws: &AwsContext,
    environment: &Environment,
    gateways: &[&serde_json::Value],
) -> Result<Vec<Diagnosis>, AwsError> {
    let mut diagnoses = Vec::new();
    for gateway in gateways {
        let Some(address) = gateway["status"]["addresses"][0]["value"].as_str() else {
            continue;
        };
        let records = listener_hostnames_of(std::iter::once(*gateway));
        let findings =
            alias_findings(&EDGE_DNS, aws, &environment.hosted_zone, &records, address).await?;
        diagnoses.extend(findings.into_iter().map(|f| from_finding(&EDGE_DNS, f)));
    }
    Ok(diagnoses)
}
