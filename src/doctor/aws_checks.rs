//! The AWS half of doctor: caches the workloads call that their security groups shut out, and the edge's certificate and DNS as the Gateways use them.

use crate::aws::elasticache::check_cache_reachable;
use crate::aws::{AwsContext, AwsError, acm, ec2::Admission, route53};
use crate::config::Environment;
use crate::report::{Finding, RuleInfo, Severity};

use super::egress::configured_endpoints;
use super::{Diagnosis, Snapshot};

pub const CACHE_INGRESS: RuleInfo = RuleInfo {
    id: "aws-cache-admits-cluster",
    family: "doctor",
    severity: Severity::Error,
    summary: "the ElastiCache clusters workloads call admit the EKS cluster's security group",
    remedy: "authorize TCP on the cache port from the cluster's security group",
};
pub const EDGE_CERTIFICATE: RuleInfo = RuleInfo {
    id: "aws-edge-certificate",
    family: "doctor",
    severity: Severity::Error,
    summary: "the ACM certificate is ISSUED, covers the Gateway hostnames and is not near expiry",
    remedy: "finish DNS validation or renew the certificate (aws acm describe-certificate)",
};
pub const EDGE_DNS: RuleInfo = RuleInfo {
    id: "aws-edge-dns",
    family: "doctor",
    severity: Severity::Error,
    summary: "Route53 aliases every Gateway hostname to the Gateway's load balancer",
    remedy: "point the alias records at the Gateway's ALB (ExternalDNS or the hosted zone)",
};

pub const CHECKS: &[RuleInfo] = &[CACHE_INGRESS, EDGE_CERTIFICATE, EDGE_DNS];

fn from_finding(check: &RuleInfo, finding: Finding) -> Diagnosis {
    Diagnosis {
        severity: finding.severity,
        remedy: finding.remedy,
        ..Diagnosis::new(check, finding.subject, finding.message)
    }
}

/// Every AWS-side root cause the snapshot points at.
pub async fn diagnose_aws(
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

    let hostnames: Vec<String> = snapshot
        .gateways
        .iter()
        .flat_map(|g| {
            g["spec"]["listeners"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|l| l["hostname"].as_str().map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !hostnames.is_empty() {
        let findings = acm::check_certificate(
            aws,
            &environment.certificate.domain,
            &hostnames,
            environment.certificate.min_days_valid,
        )
        .await?;
        diagnoses.extend(
            findings
                .into_iter()
                .map(|f| from_finding(&EDGE_CERTIFICATE, f)),
        );
    }
    for gateway in &snapshot.gateways {
        let Some(address) = gateway["status"]["addresses"][0]["value"].as_str() else {
            continue;
        };
        let records: Vec<String> = gateway["spec"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["hostname"].as_str().map(str::to_string))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let findings =
            route53::check_aliases(aws, &environment.hosted_zone, &records, address).await?;
        diagnoses.extend(findings.into_iter().map(|f| from_finding(&EDGE_DNS, f)));
    }
    Ok(diagnoses)
}
