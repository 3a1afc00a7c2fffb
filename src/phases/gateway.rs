//! gateway: Gateway API CRDs, the gateway namespace, GatewayClass and LoadBalancerConfiguration for the AWS Load Balancer Controller, the Gateway, redirect route, NetworkPolicy.

use std::time::SystemTime;

use super::check::{Check, CheckContext, PhaseError};
use super::{Phase, Upstream};
use crate::apply::readiness::{Readiness, readiness};
use crate::aws::acm::{self, CertificateFacts};
use crate::aws::{AwsTarget, eks, elbv2, name_covers, route53};
use crate::k8s::gateway::listener_hostnames;
use crate::report::{Finding, RuleInfo, Severity, rule};
use crate::upstream::GATEWAY_API;

pub const PHASE: Phase = Phase {
    name: "gateway",
    summary: "Gateway API CRDs and the public ALB Gateway for api. and argocd.",
    folders: &["manifests/gateway"],
    upstream: &[Upstream::Crds(&GATEWAY_API)],
    depends_on: None,
    in_all: true,
    needs_aws: true,
    substitutes: &[super::substitute::ACM_CERTIFICATE_ARN],
    preflight: &[
        Check {
            info: EKS_CLUSTER_ACTIVE,
            run: |cx| Box::pin(eks_cluster_active(cx)),
            in_verify: true,
        },
        Check {
            info: ACM_CERTIFICATE_ISSUED,
            run: |cx| Box::pin(acm_certificate_issued(cx)),
            in_verify: true,
        },
        Check {
            info: ROUTE53_ZONE_PRESENT,
            run: |cx| Box::pin(route53_zone_present(cx)),
            in_verify: true,
        },
        Check {
            info: AWS_LBC_RUNNING,
            run: |cx| Box::pin(load_balancer_controller_running(cx)),
            in_verify: true,
        },
        super::lbc::SUPPORTS_GATEWAY_API,
    ],
    waits_for: "CRDs Established; Gateway Accepted and Programmed with an address; routes Accepted",
    postflight: &[
        Check {
            info: GATEWAY_PROGRAMMED,
            run: |cx| Box::pin(gateway_programmed(cx)),
            in_verify: true,
        },
        Check {
            info: ALB_EXISTS,
            run: |cx| Box::pin(alb_exists(cx)),
            in_verify: true,
        },
        Check {
            info: DNS_ALIASES_ALB,
            run: |cx| Box::pin(dns_aliases_alb(cx)),
            in_verify: true,
        },
    ],
    audits: &super::compliance::EKS_AUDITS,
    not_applied: &[],
};

rule!(
    EKS_CLUSTER_ACTIVE,
    "deploy",
    "aws-eks-cluster-active",
    Error,
    "the EKS cluster is ACTIVE and its version supported",
    "check the cluster in the EKS console or `aws eks describe-cluster`; wait for an update to finish"
);
rule!(
    ACM_CERTIFICATE_ISSUED,
    "deploy",
    "aws-acm-certificate-issued",
    Error,
    "the ACM certificate is ISSUED, covers every listener hostname and is valid for 30+ days",
    "finish DNS validation (`aws acm describe-certificate`) or request a certificate covering the hostnames"
);
rule!(
    ROUTE53_ZONE_PRESENT,
    "deploy",
    "aws-route53-zone-present",
    Error,
    "the Route53 hosted zone exists",
    "create the hosted zone or fix hostedZone in tacos.yaml"
);
rule!(
    AWS_LBC_RUNNING,
    "deploy",
    "cluster-aws-lbc-running",
    Error,
    "the AWS Load Balancer Controller runs in the cluster",
    "install the AWS Load Balancer Controller (v2.14+ with ALB Gateway API support) in kube-system"
);
rule!(
    GATEWAY_PROGRAMMED,
    "deploy",
    "gateway-programmed",
    Error,
    "the Gateway is Accepted and Programmed with an address",
    "read the Gateway's conditions (kubectl describe gateway) and the AWS Load Balancer Controller's log"
);
rule!(
    ALB_EXISTS,
    "deploy",
    "aws-alb-exists",
    Error,
    "the Gateway's ALB exists in elbv2",
    "check the AWS Load Balancer Controller's log for errors creating the ALB"
);
rule!(
    DNS_ALIASES_ALB,
    "deploy",
    "aws-route53-alias",
    Error,
    "Route53 records for api. and argocd. alias the Gateway's ALB",
    "create or fix the alias records (ExternalDNS, or the hosted zone by hand)"
);

async fn eks_cluster_active(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let cluster = &cx.environment.cluster;
    let subject = format!("EKS cluster {} ({})", cluster.name, aws.target);
    let Some(facts) = eks::describe_cluster(aws, &cluster.name).await? else {
        return Ok(vec![
            Finding::new(
                &EKS_CLUSTER_ACTIVE,
                subject,
                None,
                "the cluster does not exist in this account and region",
            )
            .with_remedy("check cluster.name and aws.region in tacos.yaml, or --env"),
        ]);
    };
    let mut findings = Vec::new();
    if facts.status != "ACTIVE" {
        findings.push(Finding::new(
            &EKS_CLUSTER_ACTIVE,
            subject.clone(),
            None,
            format!("the cluster is {}, not ACTIVE", facts.status),
        ));
    }
    if !eks::version_at_least(&facts.version, &cluster.min_version) {
        findings.push(
            Finding::new(
                &EKS_CLUSTER_ACTIVE,
                subject,
                None,
                format!(
                    "Kubernetes {} is older than the supported minimum {}",
                    facts.version, cluster.min_version
                ),
            )
            .with_remedy("upgrade the cluster (aws eks update-cluster-version) before deploying"),
        );
    }
    Ok(findings)
}

async fn acm_certificate_issued(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let certificate = &cx.environment.certificate;
    let best = acm::best_certificate(aws, &certificate.domain).await?;
    Ok(certificate_findings(
        &ACM_CERTIFICATE_ISSUED,
        &aws.target,
        &certificate.domain,
        best.as_ref(),
        &listener_hostnames(cx.objects),
        certificate.min_days_valid,
    ))
}

/// Findings of `rule` about the certificate found for `domain`: none when it is ISSUED, names
/// every one of `hostnames`, and stays valid for `min_days` more days. Deploy and doctor both judge
/// a certificate this way.
pub fn certificate_findings(
    rule: &RuleInfo,
    target: &AwsTarget,
    domain: &str,
    found: Option<&CertificateFacts>,
    hostnames: &[String],
    min_days: u32,
) -> Vec<Finding> {
    let Some(best) = found else {
        return vec![
            Finding::new(
                rule,
                format!("ACM certificate {domain} ({target})"),
                None,
                "no certificate for this domain",
            )
            .with_remedy(format!(
                "request one: aws acm request-certificate --domain-name '{domain}' --validation-method DNS"
            )),
        ];
    };
    let subject = format!("ACM certificate {} ({target})", best.arn);
    let mut findings = Vec::new();
    if best.status != "ISSUED" {
        findings.push(
            Finding::new(rule, subject.clone(), None, format!("the certificate is {}, not ISSUED", best.status))
                .with_remedy("finish DNS validation: create the CNAME records `aws acm describe-certificate` lists in the hosted zone"),
        );
    }
    for hostname in hostnames {
        if !best.names.iter().any(|n| name_covers(n, hostname)) {
            findings.push(Finding::new(
                rule,
                subject.clone(),
                None,
                format!(
                    "does not cover listener hostname {hostname} (covers {})",
                    best.names.join(", ")
                ),
            ));
        }
    }
    if best.status == "ISSUED" {
        match best.days_left(SystemTime::now()) {
            Some(days_left) if days_left < u64::from(min_days) => findings.push(
                Finding::new(rule, subject, None, format!("expires in {days_left} day(s), under the {min_days}-day minimum"))
                    .with_remedy("renew or re-import the certificate; ACM-issued certificates renew only while their DNS validation records exist"),
            ),
            Some(_) => {}
            None => findings.push(
                Finding::new(rule, subject, None, "ACM reports no expiry date")
                    .with_severity(Severity::Warning),
            ),
        }
    }
    findings
}

async fn route53_zone_present(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let zone = &cx.environment.hosted_zone;
    Ok(match route53::find_zone(aws, zone).await? {
        Some(_) => Vec::new(),
        None => vec![zone_missing(&ROUTE53_ZONE_PRESENT, zone, &aws.target)],
    })
}

fn zone_missing(rule: &RuleInfo, zone: &str, target: &AwsTarget) -> Finding {
    Finding::new(
        rule,
        format!("Route53 zone {zone} ({target})"),
        None,
        "no hosted zone with this name",
    )
}

/// The controller's Deployment in kube-system must be ready.
async fn load_balancer_controller_running(
    cx: &CheckContext<'_>,
) -> Result<Vec<Finding>, PhaseError> {
    let check = &AWS_LBC_RUNNING;
    let subject = super::lbc::SUBJECT;
    let Some(deployment) = super::lbc::read_controller(cx).await? else {
        return Ok(vec![Finding::new(check, subject, None, "not installed")]);
    };
    let mut live = serde_json::to_value(&deployment).unwrap_or_default();
    live["apiVersion"] = "apps/v1".into();
    live["kind"] = "Deployment".into();
    Ok(match readiness(&live, None) {
        Readiness::Ready => Vec::new(),
        Readiness::Pending(why) | Readiness::Failed(why) | Readiness::NotWaited(why) => {
            vec![Finding::new(
                check,
                subject,
                None,
                format!("not running: {why}"),
            )]
        }
    })
}

/// Each Gateway of the phase with the address the controller gave it (None: it has none yet).
async fn gateway_addresses<'a>(
    cx: &'a CheckContext<'a>,
) -> Result<Vec<(&'a crate::repo::Object, Option<String>)>, PhaseError> {
    let mut addresses = Vec::new();
    for gateway in cx
        .objects
        .iter()
        .filter(|o| o.is("gateway.networking.k8s.io", "Gateway"))
    {
        let live = crate::apply::live::get_live(cx.client, gateway).await?;
        let address = live
            .as_ref()
            .and_then(|l| l["status"]["addresses"][0]["value"].as_str())
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        addresses.push((gateway, address));
    }
    Ok(addresses)
}

async fn gateway_programmed(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    Ok(gateway_addresses(cx)
        .await?
        .into_iter()
        .filter(|(_, address)| address.is_none())
        .map(|(gateway, _)| {
            Finding::new(
                &GATEWAY_PROGRAMMED,
                gateway.key().to_string(),
                Some(gateway.location()),
                "the Gateway has no address",
            )
        })
        .collect())
}

/// A check of the Gateway's load balancer cannot run before the Gateway has an address: a warning,
/// so the line is not a ✔ (gateway-programmed fails the phase).
fn not_checked_without_address(rule: &RuleInfo, gateway: &crate::repo::Object) -> Finding {
    Finding::new(
        rule,
        gateway.key().to_string(),
        Some(gateway.location()),
        "not checked: the Gateway has no address yet",
    )
    .with_severity(Severity::Warning)
}

async fn alb_exists(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let mut findings = Vec::new();
    for (gateway, address) in gateway_addresses(cx).await? {
        let Some(address) = address else {
            findings.push(not_checked_without_address(&ALB_EXISTS, gateway));
            continue;
        };
        let subject = format!("load balancer {address} ({})", aws.target);
        match elbv2::find_load_balancer(aws, &address).await? {
            Some(lb) if lb.state == "active" || lb.state == "provisioning" => {}
            Some(lb) => findings.push(Finding::new(
                &ALB_EXISTS,
                subject,
                None,
                format!("the load balancer is {}", lb.state),
            )),
            None => findings.push(Finding::new(
                &ALB_EXISTS,
                subject,
                None,
                "no load balancer with this DNS name in this account and region",
            )),
        }
    }
    Ok(findings)
}

async fn dns_aliases_alb(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let mut findings = Vec::new();
    for (gateway, address) in gateway_addresses(cx).await? {
        let Some(address) = address else {
            findings.push(not_checked_without_address(&DNS_ALIASES_ALB, gateway));
            continue;
        };
        let records = listener_hostnames(std::slice::from_ref(gateway));
        findings.extend(
            alias_findings(
                &DNS_ALIASES_ALB,
                aws,
                &cx.environment.hosted_zone,
                &records,
                &address,
            )
            .await?,
        );
    }
    Ok(findings)
}

/// Findings of `rule` for each of `records` that is missing from `zone` or does not alias
/// `load_balancer_dns` (deploy and doctor judge the edge's DNS this way).
pub async fn alias_findings(
    rule: &RuleInfo,
    aws: &crate::aws::AwsContext,
    zone: &str,
    records: &[String],
    load_balancer_dns: &str,
) -> Result<Vec<Finding>, crate::aws::AwsError> {
    let Some(zone_id) = route53::find_zone(aws, zone).await? else {
        return Ok(vec![zone_missing(&ROUTE53_ZONE_PRESENT, zone, &aws.target)]);
    };
    let mut findings = Vec::new();
    for (record, target) in route53::record_targets(aws, &zone_id, records).await? {
        let subject = format!("Route53 record {record} ({})", aws.target);
        match target {
            None => findings.push(Finding::new(
                rule,
                subject,
                None,
                format!("no record; it should alias {load_balancer_dns}"),
            )),
            Some(target)
                if route53::normalize(&target).trim_start_matches("dualstack.")
                    != route53::normalize(load_balancer_dns) =>
            {
                findings.push(Finding::new(
                    rule,
                    subject,
                    None,
                    format!(
                        "points at {target}, not at the Gateway's load balancer {load_balancer_dns}"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(findings)
}
