//! CloudWatch Logs: whether a log group exists and how long it keeps its events (DescribeLogGroups).

use super::{AwsContext, AwsError};

/// A log group's retention as CloudWatch Logs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogGroup {
    /// Days its events are kept; None: they never expire.
    pub retention_days: Option<i32>,
}

/// The log group `name` in `region`, None when there is none.
pub async fn log_group(
    aws: &AwsContext,
    region: &str,
    name: &str,
) -> Result<Option<LogGroup>, AwsError> {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(&aws.config)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(config);
    // The name is a prefix to the API: the exact group is one of the groups it lists.
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.unreachable(&format!("describe log group {name}"), &e))?;
        if let Some(group) = page
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            return Ok(Some(LogGroup {
                retention_days: group.retention_in_days(),
            }));
        }
    }
    Ok(None)
}
