//! EKS: the cluster exists, is ACTIVE, and runs a supported Kubernetes version.

use super::{AwsContext, AwsError};
use crate::phases::gateway::EKS_CLUSTER_ACTIVE;
use crate::report::Finding;

/// Findings about the EKS cluster `name` (none when it is ACTIVE at `min_version` or newer).
pub async fn check_cluster(
    aws: &AwsContext,
    name: &str,
    min_version: &str,
) -> Result<Vec<Finding>, AwsError> {
    let subject = format!("EKS cluster {name} ({})", aws.target);
    let eks = aws_sdk_eks::Client::new(&aws.config);
    let cluster = match eks.describe_cluster().name(name).send().await {
        Ok(output) => output.cluster,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(error) => return Err(aws.unreachable(&format!("describe EKS cluster {name}"), &error)),
    };
    let Some(cluster) = cluster else {
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
    let status = cluster
        .status
        .as_ref()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".into());
    if status != "ACTIVE" {
        findings.push(Finding::new(
            &EKS_CLUSTER_ACTIVE,
            subject.clone(),
            None,
            format!("the cluster is {status}, not ACTIVE"),
        ));
    }
    let version = cluster.version.unwrap_or_default();
    if !version_at_least(&version, min_version) {
        findings.push(
            Finding::new(
                &EKS_CLUSTER_ACTIVE,
                subject,
                None,
                format!("Kubernetes {version} is older than the supported minimum {min_version}"),
            )
            .with_remedy("upgrade the cluster (aws eks update-cluster-version) before deploying"),
        );
    }
    Ok(findings)
}

/// Compares MAJOR.MINOR versions.
pub fn version_at_least(version: &str, minimum: &str) -> bool {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let mut parts = v.trim_start_matches('v').split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(version), parse(minimum)) {
        (Some(have), Some(want)) => have >= want,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::version_at_least;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("1.33", "1.31"));
        assert!(version_at_least("1.31", "1.31"));
        assert!(!version_at_least("1.9", "1.31"));
        assert!(!version_at_least("garbage", "1.31"));
    }
}
