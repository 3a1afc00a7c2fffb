//! The CloudWatch Logs groups the OpenTelemetry Collector's configuration (a ConfigMap of the phase) writes to exist and expire their events: the collector may write to a group, not create it.

use std::collections::BTreeMap;

use super::check::{Check, CheckContext, PhaseError};
use crate::aws::logs::log_group;
use crate::repo::yaml::parse_documents;
use crate::repo::{Location, Object};
use crate::report::{Finding, rule};

rule!(
    LOG_GROUPS_RETAINED_INFO,
    "deploy",
    "aws-log-groups-retained",
    Error,
    "every CloudWatch Logs group the OpenTelemetry Collector's awscloudwatchlogs exporters write to exists with a retention set (logs:DescribeLogGroups)",
    "create the group and set its retention (`aws logs create-log-group`, `aws logs put-retention-policy --retention-in-days 30`): the collector's role may write to the group, not create it"
);

/// Every log group the collector writes to exists and expires its events.
pub const LOG_GROUPS_RETAINED: Check = Check {
    info: LOG_GROUPS_RETAINED_INFO,
    run: |cx| Box::pin(log_groups_retained(cx)),
    in_verify: true,
};

/// The OpenTelemetry Collector exporter that writes to CloudWatch Logs (`awscloudwatchlogs` or
/// `awscloudwatchlogs/NAME`).
const EXPORTER: &str = "awscloudwatchlogs";

/// A log group a collector configuration names, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogGroupUse {
    /// The exporter's `region`, when it sets one (else the configured region).
    region: Option<String>,
    subject: String,
    location: Location,
}

async fn log_groups_retained(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let mut findings = Vec::new();
    for ((region, name), used) in log_groups_used(cx.objects) {
        let region = region.unwrap_or_else(|| aws.target.region.clone());
        let at = format!("account {}, region {region}", aws.target.account);
        let finding = |message: String, remedy: String| {
            Finding::new(
                &LOG_GROUPS_RETAINED_INFO,
                used.subject.clone(),
                Some(used.location.clone()),
                message,
            )
            .with_remedy(remedy)
        };
        let retention = format!(
            "aws logs put-retention-policy --log-group-name {name} --retention-in-days 30 --region {region}"
        );
        match log_group(aws, &region, &name).await? {
            None => findings.push(finding(
                format!(
                    "log group {name} does not exist in {at}: the collector's logs pipeline fails on every batch (its role may not create groups)"
                ),
                format!(
                    "aws logs create-log-group --log-group-name {name} --region {region} && {retention}"
                ),
            )),
            Some(group) if group.retention_days.is_none() => findings.push(finding(
                format!(
                    "log group {name} in {at} keeps its events forever (no retention set): its storage cost only grows"
                ),
                retention,
            )),
            Some(_) => {}
        }
    }
    Ok(findings)
}

/// The log groups the collector configurations among `objects` write to, by (region, name):
/// every ConfigMap value that reads as a collector configuration with an awscloudwatchlogs
/// exporter.
fn log_groups_used(objects: &[Object]) -> BTreeMap<(Option<String>, String), LogGroupUse> {
    let mut used = BTreeMap::new();
    for config_map in objects.iter().filter(|o| o.is("", "ConfigMap")) {
        let Some(data) = config_map.value["data"].as_object() else {
            continue;
        };
        for (key, text) in data {
            let Some(text) = text.as_str() else { continue };
            let Ok(documents) = parse_documents(text) else {
                continue;
            };
            for document in documents {
                let Some(exporters) = document.value["exporters"].as_object() else {
                    continue;
                };
                for (exporter_name, exporter) in exporters {
                    if exporter_name != EXPORTER
                        && !exporter_name.starts_with(&format!("{EXPORTER}/"))
                    {
                        continue;
                    }
                    let Some(group) = exporter["log_group_name"].as_str() else {
                        continue;
                    };
                    let region = exporter["region"].as_str().map(str::to_string);
                    used.entry((region.clone(), group.to_string()))
                        .or_insert_with(|| LogGroupUse {
                            region,
                            subject: format!("{} (exporter {exporter_name})", config_map.key()),
                            location: config_map.location_of(&format!(
                                "/data/{}",
                                key.replace('~', "~0").replace('/', "~1")
                            )),
                        });
                }
            }
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::load_str;

    #[test]
    fn the_log_groups_of_every_cloudwatch_logs_exporter_are_found_with_their_region() {
        let tree = load_str(
            "collector.yaml",
            r#"apiVersion: v1
kind: ConfigMap
metadata: {name: otel-collector, namespace: observability}
data:
  config.yaml: |
    exporters:
      awsxray: {region: ap-northeast-2}
      awscloudwatchlogs:
        log_group_name: /traffic-tacos/services
      awscloudwatchlogs/audit:
        region: us-east-1
        log_group_name: /traffic-tacos/audit
      otlp: {endpoint: elsewhere:4317}
  other: "not: [a collector"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain, namespace: observability}
data: {greeting: hello}
"#,
        )
        .unwrap();
        let used = log_groups_used(&tree.objects);
        let keys: Vec<(Option<&str>, &str)> = used
            .keys()
            .map(|(region, name)| (region.as_deref(), name.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (None, "/traffic-tacos/services"),
                (Some("us-east-1"), "/traffic-tacos/audit")
            ]
        );
        let services = &used[&(None, "/traffic-tacos/services".to_string())];
        assert_eq!(
            services.subject,
            "ConfigMap observability/otel-collector (exporter awscloudwatchlogs)"
        );
        assert_eq!(services.location.line, 5);
    }
}
