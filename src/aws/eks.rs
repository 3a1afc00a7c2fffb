//! EKS: what DescribeCluster says of the cluster (status, version, issuer, endpoint, Secrets encryption, control-plane logging, endpoint access).

use super::{AwsContext, AwsError};

/// What EKS DescribeCluster says of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterFacts {
    pub name: String,
    /// ACTIVE, CREATING, UPDATING, ...
    pub status: String,
    /// MAJOR.MINOR, e.g. `1.33`.
    pub version: String,
    /// The service-account issuer (`identity.oidc.issuer`).
    pub oidc_issuer: Option<String>,
    pub endpoint: Option<String>,
    /// The cluster CA as EKS gives it: base64 of the PEM.
    pub certificate_authority: Option<String>,
    /// The customer-managed KMS key that envelope-encrypts Secrets (`encryptionConfig`). Without
    /// one, EKS encrypts API data with an AWS-owned key no one can audit, rotate or revoke.
    pub secrets_key_arn: Option<String>,
    /// The control-plane log types sent to CloudWatch Logs (api, audit, authenticator, ...).
    pub enabled_log_types: Vec<String>,
    pub endpoint_public_access: bool,
    pub endpoint_private_access: bool,
    /// Who may reach the public endpoint (AWS's default is 0.0.0.0/0).
    pub public_access_cidrs: Vec<String>,
}

/// The EKS cluster `name` (None when this account and region have no such cluster).
pub async fn describe_cluster(
    aws: &AwsContext,
    name: &str,
) -> Result<Option<ClusterFacts>, AwsError> {
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
    Ok(cluster.map(|cluster| ClusterFacts {
        name: name.to_string(),
        status: cluster
            .status
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".into()),
        version: cluster.version.clone().unwrap_or_default(),
        oidc_issuer: cluster
            .identity
            .as_ref()
            .and_then(|i| i.oidc.as_ref())
            .and_then(|o| o.issuer.clone()),
        endpoint: cluster.endpoint.clone(),
        certificate_authority: cluster
            .certificate_authority
            .as_ref()
            .and_then(|c| c.data.clone()),
        secrets_key_arn: cluster
            .encryption_config()
            .iter()
            .find_map(|c| c.provider.as_ref())
            .and_then(|p| p.key_arn.clone()),
        enabled_log_types: cluster
            .logging
            .as_ref()
            .map(|l| l.cluster_logging())
            .unwrap_or_default()
            .iter()
            .filter(|setup| setup.enabled == Some(true))
            .flat_map(|setup| setup.types().iter().map(|t| t.as_str().to_string()))
            .collect(),
        endpoint_public_access: cluster
            .resources_vpc_config
            .as_ref()
            .is_some_and(|v| v.endpoint_public_access),
        endpoint_private_access: cluster
            .resources_vpc_config
            .as_ref()
            .is_some_and(|v| v.endpoint_private_access),
        public_access_cidrs: cluster
            .resources_vpc_config
            .as_ref()
            .map(|v| v.public_access_cidrs().to_vec())
            .unwrap_or_default(),
    }))
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
