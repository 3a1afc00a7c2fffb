//! The cluster guard: before tacos reads or writes a cluster for an environment, it proves the kube connection reaches that environment's EKS cluster (the apiserver's service-account issuer is the one EKS reports).

use std::fmt;

use crate::aws::eks::{self, ClusterFacts};
use crate::aws::{AwsContext, AwsError, AwsTarget};

/// The path every apiserver serves its service-account issuer discovery document at.
pub const ISSUER_DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Which kube connection tacos is about to use: named in every guard message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeTarget {
    /// The kubeconfig context, or how the connection was made.
    pub context: String,
    pub server: String,
    /// The kube user of the context (or the one impersonated).
    pub user: String,
}

impl fmt::Display for KubeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kube context {} (server {}, user {})",
            self.context, self.server, self.user
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "refusing to act: {kube} is not EKS cluster {cluster} ({target}): its service-account issuer is {found}, EKS reports {expected}; switch to that cluster's context (aws eks update-kubeconfig --name {cluster} --region {region}) or pick the environment of this cluster with --env",
        region = target.region
    )]
    WrongCluster {
        kube: KubeTarget,
        cluster: String,
        target: AwsTarget,
        found: String,
        expected: String,
    },
    #[error(
        "refusing to act: EKS cluster {cluster} does not exist ({target}), so {kube} cannot be shown to be it; check cluster.name and aws.region in tacos.yaml, or --env"
    )]
    NoSuchCluster {
        kube: KubeTarget,
        cluster: String,
        target: AwsTarget,
    },
    #[error(
        "refusing to act: EKS reports no OIDC issuer for cluster {cluster} ({target}), so {kube} cannot be shown to be it"
    )]
    NoIssuer {
        kube: KubeTarget,
        cluster: String,
        target: AwsTarget,
    },
    #[error(
        "refusing to act: cannot read the service-account issuer of {kube} (GET {ISSUER_DISCOVERY_PATH}): {message}; grant get on that URL (manifests/access/tacos-verify.yaml) or use another identity"
    )]
    IssuerUnreadable { kube: KubeTarget, message: String },
    #[error("the cluster could not be reached at {server}: {message}")]
    Unreachable { server: String, message: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Proves `client` (as described by `kube`) talks to the EKS cluster `cluster` of the AWS account
/// and region of `aws`: the issuer in the apiserver's discovery document must be the cluster's
/// `identity.oidc.issuer`. Returns what EKS says of the cluster.
pub async fn ensure_environment_cluster(
    client: &kube::Client,
    kube: &KubeTarget,
    aws: &AwsContext,
    cluster: &str,
) -> Result<ClusterFacts, GuardError> {
    let facts =
        eks::describe_cluster(aws, cluster)
            .await?
            .ok_or_else(|| GuardError::NoSuchCluster {
                kube: kube.clone(),
                cluster: cluster.to_string(),
                target: aws.target.clone(),
            })?;
    let Some(expected) = facts.oidc_issuer.clone() else {
        return Err(GuardError::NoIssuer {
            kube: kube.clone(),
            cluster: cluster.to_string(),
            target: aws.target.clone(),
        });
    };
    let found = apiserver_issuer(client, kube).await?;
    if !same_issuer(&found, &expected) {
        return Err(GuardError::WrongCluster {
            kube: kube.clone(),
            cluster: cluster.to_string(),
            target: aws.target.clone(),
            found,
            expected,
        });
    }
    Ok(facts)
}

/// The `issuer` of the apiserver's service-account discovery document.
pub async fn apiserver_issuer(
    client: &kube::Client,
    kube: &KubeTarget,
) -> Result<String, GuardError> {
    let request = http::Request::get(ISSUER_DISCOVERY_PATH)
        .body(Vec::new())
        .map_err(|e| GuardError::IssuerUnreadable {
            kube: kube.clone(),
            message: e.to_string(),
        })?;
    let document: serde_json::Value = match client.request(request).await {
        Ok(document) => document,
        Err(kube::Error::Api(status)) => {
            return Err(GuardError::IssuerUnreadable {
                kube: kube.clone(),
                message: format!("{} {}", status.code, status.message),
            });
        }
        Err(error) if crate::apply::applier::is_connection_error(&error) => {
            return Err(GuardError::Unreachable {
                server: kube.server.clone(),
                message: error.to_string(),
            });
        }
        Err(error) => {
            return Err(GuardError::IssuerUnreadable {
                kube: kube.clone(),
                message: error.to_string(),
            });
        }
    };
    document["issuer"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| GuardError::IssuerUnreadable {
            kube: kube.clone(),
            message: "the document has no issuer".into(),
        })
}

/// Issuers compare as URLs do: scheme and host without case, and no trailing slash.
fn same_issuer(a: &str, b: &str) -> bool {
    let normal = |s: &str| {
        let s = s.trim().trim_end_matches('/');
        match s.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                format!(
                    "{}://{}/{path}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase()
                )
            }
            None => s.to_string(),
        }
    };
    normal(a) == normal(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_compare_without_trailing_slash_or_host_case_but_with_path_case() {
        assert!(same_issuer(
            "https://oidc.eks.ap-northeast-2.amazonaws.com/id/ABC",
            "https://OIDC.eks.ap-northeast-2.amazonaws.com/id/ABC/"
        ));
        assert!(!same_issuer(
            "https://oidc.eks.ap-northeast-2.amazonaws.com/id/ABC",
            "https://oidc.eks.ap-northeast-2.amazonaws.com/id/abc"
        ));
        assert!(!same_issuer(
            "https://kubernetes.default.svc",
            "https://oidc.eks.ap-northeast-2.amazonaws.com/id/ABC"
        ));
    }
}
