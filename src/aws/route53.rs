//! Route53: the hosted zone, and where the platform's records point.

use super::{AwsContext, AwsError};

/// A DNS name without its trailing dot, in lower case.
pub fn normalize(name: &str) -> String {
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

/// Where each of `records` points in the hosted zone `zone_id` (its alias target, or the first
/// value of an A, AAAA or CNAME record); None for a record that does not exist.
pub async fn record_targets(
    aws: &AwsContext,
    zone_id: &str,
    records: &[String],
) -> Result<Vec<(String, Option<String>)>, AwsError> {
    let route53 = aws_sdk_route53::Client::new(&aws.config);
    let mut record_sets = Vec::new();
    let mut start: Option<(String, aws_sdk_route53::types::RrType)> = None;
    loop {
        let mut request = route53.list_resource_record_sets().hosted_zone_id(zone_id);
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
    Ok(records
        .iter()
        .map(|record| {
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
            (record.clone(), target)
        })
        .collect())
}
