//! ACM: the certificates for a domain, with their status, names and expiry.

use std::time::{Duration, SystemTime};

use aws_sdk_acm::types::CertificateStatus;

use super::{AwsContext, AwsError};

/// What DescribeCertificate says of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub arn: String,
    /// ISSUED, PENDING_VALIDATION, EXPIRED, FAILED, ...
    pub status: String,
    /// The domain name and the subject alternative names.
    pub names: Vec<String>,
    pub not_after: Option<SystemTime>,
}

impl CertificateFacts {
    /// Whole days of validity left at `now` (0 once expired).
    pub fn days_left(&self, now: SystemTime) -> Option<u64> {
        self.not_after.map(|end| {
            end.duration_since(now)
                .map(|d| d.as_secs() / 86_400)
                .unwrap_or(0)
        })
    }
}

/// The certificate ACM would use for `domain` (e.g. `*.traffictacos.store`): among those whose
/// domain name it is, an ISSUED one before any other, then the latest expiry. None when there is none.
pub async fn best_certificate(
    aws: &AwsContext,
    domain: &str,
) -> Result<Option<CertificateFacts>, AwsError> {
    let acm = aws_sdk_acm::Client::new(&aws.config);
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
        if let Some(certificate) = describe_certificate(aws, arn).await? {
            candidates.push(certificate);
        }
    }
    candidates.sort_by_key(|c| (c.status == "ISSUED", c.not_after));
    Ok(candidates.pop())
}

/// The certificate `arn` (None when the account and region have no such certificate).
pub async fn describe_certificate(
    aws: &AwsContext,
    arn: &str,
) -> Result<Option<CertificateFacts>, AwsError> {
    let acm = aws_sdk_acm::Client::new(&aws.config);
    let detail = match acm.describe_certificate().certificate_arn(arn).send().await {
        Ok(detail) => detail,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(aws.unreachable("describe an ACM certificate", &error)),
    };
    Ok(detail.certificate.map(|certificate| CertificateFacts {
        arn: certificate.certificate_arn.clone().unwrap_or_default(),
        status: certificate
            .status
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".into()),
        names: certificate
            .domain_name
            .iter()
            .cloned()
            .chain(certificate.subject_alternative_names().iter().cloned())
            .collect(),
        not_after: certificate
            .not_after
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t.secs().max(0) as u64)),
    }))
}
