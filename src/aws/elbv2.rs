//! ELBv2: the load balancer behind a DNS name, and its state.

use super::{AwsContext, AwsError};

/// A load balancer as DescribeLoadBalancers lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerFacts {
    pub dns_name: String,
    /// active, provisioning, failed, ...
    pub state: String,
}

/// The load balancer whose DNS name is `dns_name` (None when the account and region have none).
pub async fn find_load_balancer(
    aws: &AwsContext,
    dns_name: &str,
) -> Result<Option<LoadBalancerFacts>, AwsError> {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&aws.config);
    let mut pages = elbv2.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.unreachable("describe load balancers", &e))?;
        for load_balancer in page.load_balancers.unwrap_or_default() {
            let Some(found) = load_balancer.dns_name.as_deref() else {
                continue;
            };
            if found.eq_ignore_ascii_case(dns_name.trim_end_matches('.')) {
                return Ok(Some(LoadBalancerFacts {
                    dns_name: found.to_string(),
                    state: load_balancer
                        .state
                        .and_then(|s| s.code)
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_else(|| "unknown".into()),
                }));
            }
        }
    }
    Ok(None)
}
