//! ELBv2: the Gateway's address is a load balancer that exists and is active.

use super::{AwsContext, AwsError};
use crate::phases::gateway::ALB_EXISTS;
use crate::report::Finding;

/// Finding when no load balancer has `dns_name`, or it is not active.
pub async fn check_load_balancer(
    aws: &AwsContext,
    dns_name: &str,
) -> Result<Vec<Finding>, AwsError> {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&aws.config);
    let mut pages = elbv2.describe_load_balancers().into_paginator().send();
    let subject = format!("load balancer {dns_name} ({})", aws.target);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.unreachable("describe load balancers", &e))?;
        for load_balancer in page.load_balancers.unwrap_or_default() {
            if load_balancer
                .dns_name
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(dns_name.trim_end_matches('.')))
            {
                let state = load_balancer
                    .state
                    .and_then(|s| s.code)
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| "unknown".into());
                return Ok(if state == "active" || state == "provisioning" {
                    Vec::new()
                } else {
                    vec![Finding::new(
                        &ALB_EXISTS,
                        subject,
                        None,
                        format!("the load balancer is {state}"),
                    )]
                });
            }
        }
    }
    Ok(vec![Finding::new(
        &ALB_EXISTS,
        subject,
        None,
        "no load balancer with this DNS name in this account and region",
    )])
}
