//! Route53: the hosted zone exists, and the platform's records alias the Gateway's load balancer.

use super::{AwsContext, AwsError};
use crate::phases::gateway::{DNS_ALIASES_ALB, ROUTE53_ZONE_PRESENT};
use crate::report::Finding;

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The id of the public hosted zone named `zone`, if any.
pub async fn find_zone(aws: &AwsContext, zone: &str) -> Result<Option<String>, AwsError> {
    let route53 = aws_sdk_route53::Client::new(&aws.config);
    let output = route53
        .list_hosted_zones_by_name()
        .dns_name(zone)
        .send()
        .await
        .map_err(|e| aws.unreachable("list Route53 hosted zones", &e))?;
    Ok(output
        .hosted_zones
        .into_iter()
        .find(|z| normalize(&z.name) == normalize(zone))
        .map(|z| z.id))
}

/// Finding when the hosted zone is missing.
pub async fn check_zone(aws: &AwsContext, zone: &str) -> Result<Vec<Finding>, AwsError> {
    Ok(match find_zone(aws, zone).await? {
        Some(_) => Vec::new(),
        None => vec![Finding::new(
            &ROUTE53_ZONE_PRESENT,
            format!("Route53 zone {zone} ({})", aws.target),
            None,
            "no hosted zone with this name",
        )],
    })
}

/// Findings for each of `records` that is missing or does not alias `load_balancer_dns`.
pub async fn check_aliases(
    aws: &AwsContext,
    zone: &str,
    records: &[String],
    load_balancer_dns: &str,
) -> Result<Vec<Finding>, AwsError> {
    let Some(zone_id) = find_zone(aws, zone).await? else {
        return check_zone(aws, zone).await;
    };
    let route53 = aws_sdk_route53::Client::new(&aws.config);
    let mut record_sets = Vec::new();
    let mut start: Option<(String, aws_sdk_route53::types::RrType)> = None;
    loop {
        let mut request = route53.list_resource_record_sets().hosted_zone_id(&zone_id);
        if let Some((name, kind)) = start.take() {
            request = request.start_record_name(name).start_record_type(kind);
        }
        let page = request
            .send()
            .await
            .map_err(|e| aws.unreachable("list Route53 records", &e))?;
        record_sets.extend(page.resource_record_sets);
        match (
            page.is_truncated,
            page.next_record_name,
            page.next_record_type,
        ) {
            (true, Some(name), Some(kind)) => start = Some((name, kind)),
            _ => break,
        }
    }
    let mut findings = Vec::new();
    for record in records {
        let subject = format!("Route53 record {record} ({})", aws.target);
        let found = record_sets.iter().find(|r| {
            normalize(&r.name) == normalize(record)
                && matches!(r.r#type.as_str(), "A" | "AAAA" | "CNAME")
        });
        let target = found.and_then(|r| {
            r.alias_target
                .as_ref()
                .map(|a| a.dns_name.clone())
                .or_else(|| {
                    r.resource_records
                        .as_ref()
                        .and_then(|rr| rr.first())
                        .map(|v| v.value.clone())
                })
        });
        match target {
            None => findings.push(Finding::new(
                &DNS_ALIASES_ALB,
                subject,
                None,
                format!("no record; it should alias {load_balancer_dns}"),
            )),
            Some(target)
                if normalize(&target).trim_start_matches("dualstack.")
                    != normalize(load_balancer_dns) =>
            {
                findings.push(Finding::new(
                    &DNS_ALIASES_ALB,
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
