//! ACM: the certificate for the domain is ISSUED, covers every listener hostname, and is not close to expiry.

use std::time::{Duration, SystemTime};

use aws_sdk_acm::types::CertificateStatus;

use super::{AwsContext, AwsError, name_covers};
use crate::phases::gateway::ACM_CERTIFICATE_ISSUED;
use crate::report::Finding;

/// Findings about the certificate for `domain` (e.g. `*.traffictacos.store`): none when one is
/// ISSUED, names every hostname in `hostnames`, and stays valid for `min_days` more days.
pub async fn check_certificate(
    aws: &AwsContext,
    domain: &str,
    hostnames: &[String],
    min_days: u32,
) -> Result<Vec<Finding>, AwsError> {
    let acm = aws_sdk_acm::Client::new(&aws.config);
    let subject = format!("ACM certificate {domain} ({})", aws.target);
    let mut summaries = Vec::new();
    let mut pages = acm
        .list_certificates()
        .certificate_statuses(CertificateStatus::Issued)
        .certificate_statuses(CertificateStatus::PendingValidation)
        .certificate_statuses(CertificateStatus::Expired)
        .certificate_statuses(CertificateStatus::Failed)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.unreachable("list ACM certificates", &e))?;
        summaries.extend(page.certificate_summary_list.unwrap_or_default());
    }
    let mut candidates = Vec::new();
    for summary in summaries
        .iter()
        .filter(|s| s.domain_name.as_deref() == Some(domain))
    {
        let Some(arn) = &summary.certificate_arn else {
            continue;
        };
        let detail = acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|e| aws.unreachable("describe an ACM certificate", &e))?;
        if let Some(certificate) = detail.certificate {
            candidates.push(certificate);
        }
    }
    if candidates.is_empty() {
        return Ok(vec![Finding::new(&ACM_CERTIFICATE_ISSUED, subject, None, "no certificate for this domain")
            .with_remedy(format!("request one: aws acm request-certificate --domain-name '{domain}' --validation-method DNS"))]);
    }
    candidates.sort_by_key(|c| {
        (
            c.status == Some(CertificateStatus::Issued),
            c.not_after.map(|t| t.secs()).unwrap_or(0),
        )
    });
    let best = candidates.last().expect("not empty");
    let arn = best.certificate_arn.clone().unwrap_or_default();
    let subject = format!("ACM certificate {arn} ({})", aws.target);
    let mut findings = Vec::new();
    let status = best
        .status
        .as_ref()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".into());
    if status != "ISSUED" {
        findings.push(
            Finding::new(&ACM_CERTIFICATE_ISSUED, subject.clone(), None, format!("the certificate is {status}, not ISSUED"))
                .with_remedy("finish DNS validation: create the CNAME records `aws acm describe-certificate` lists in the hosted zone"),
        );
    }
    let names: Vec<&str> = best
        .domain_name
        .iter()
        .map(String::as_str)
        .chain(best.subject_alternative_names().iter().map(String::as_str))
        .collect();
    for hostname in hostnames {
        if !names.iter().any(|n| name_covers(n, hostname)) {
            findings.push(Finding::new(
                &ACM_CERTIFICATE_ISSUED,
                subject.clone(),
                None,
                format!(
                    "does not cover listener hostname {hostname} (covers {})",
                    names.join(", ")
                ),
            ));
        }
    }
    if status == "ISSUED" {
        match best.not_after {
            Some(not_after) => {
                let expires =
                    SystemTime::UNIX_EPOCH + Duration::from_secs(not_after.secs().max(0) as u64);
                let days_left = expires
                    .duration_since(SystemTime::now())
                    .map(|d| d.as_secs() / 86_400)
                    .unwrap_or(0);
                if days_left < u64::from(min_days) {
                    findings.push(
                        Finding::new(&ACM_CERTIFICATE_ISSUED, subject, None, format!("expires in {days_left} day(s), under the {min_days}-day minimum"))
                            .with_remedy("renew or re-import the certificate; ACM-issued certificates renew only while their DNS validation records exist"),
                    );
                }
            }
            None => findings.push(
                Finding::new(
                    &ACM_CERTIFICATE_ISSUED,
                    subject,
                    None,
                    "ACM reports no expiry date",
                )
                .with_severity(crate::report::Severity::Warning),
            ),
        }
    }
    Ok(findings)
}
