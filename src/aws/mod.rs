//! AWS through the SDK: one context (profile, region, verified account) and one module per service checked.

pub mod acm;
pub mod budgets;
pub mod ec2;
pub mod ecr;
pub mod eks;
pub mod eks_token;
pub mod elasticache;
pub mod elbv2;
pub mod iam;
pub mod kms;
pub mod logs;
pub mod nodes;
pub mod route53;

use std::fmt;

/// Which AWS identity and place a call was made with: named in every AWS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTarget {
    pub account: String,
    pub profile: Option<String>,
    pub region: String,
}

impl fmt::Display for AwsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "account {}, profile {}, region {}",
            self.account,
            self.profile.as_deref().unwrap_or("(default chain)"),
            self.region
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "cannot reach AWS ({target}) to {action}: {message}; check credentials (aws sts get-caller-identity --profile ...) and network"
    )]
    Unreachable {
        target: AwsTarget,
        action: String,
        message: String,
    },
    #[error(
        "refusing to act: the credentials belong to account {actual} but tacos.yaml expects {expected} (profile {profile}, region {region}); use the right --profile or --env"
    )]
    WrongAccount {
        expected: String,
        actual: String,
        profile: String,
        region: String,
    },
}

/// An SDK configuration whose account has been checked against the expected one.
#[derive(Debug, Clone)]
pub struct AwsContext {
    pub config: aws_config::SdkConfig,
    pub target: AwsTarget,
    /// Who the credentials are (sts:GetCallerIdentity), e.g. `arn:aws:iam::ACCOUNT:user/NAME`.
    pub caller_arn: String,
}

impl AwsContext {
    /// Loads the standard chain (with `profile` when given) for `region` and refuses any account but `expected_account`.
    pub async fn connect(
        profile: Option<&str>,
        region: &str,
        expected_account: &str,
    ) -> Result<Self, AwsError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        let mut target = AwsTarget {
            account: expected_account.to_string(),
            profile: profile.map(str::to_string),
            region: region.to_string(),
        };
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::Unreachable {
                target: target.clone(),
                action: "read the caller identity (sts:GetCallerIdentity)".into(),
                message: error_text(&e),
            })?;
        let actual = identity.account.unwrap_or_default();
        if actual != expected_account {
            return Err(AwsError::WrongAccount {
                expected: expected_account.to_string(),
                actual,
                profile: target
                    .profile
                    .clone()
                    .unwrap_or_else(|| "(default chain)".into()),
                region: region.to_string(),
            });
        }
        target.account = actual;
        Ok(Self {
            config,
            target,
            caller_arn: identity.arn.unwrap_or_default(),
        })
    }

    pub fn unreachable(&self, action: &str, error: &impl std::error::Error) -> AwsError {
        AwsError::Unreachable {
            target: self.target.clone(),
            action: action.to_string(),
            message: error_text(error),
        }
    }
}

/// An SDK error with its whole chain (the top-level text alone is often just "service error").
pub fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether `hostname` is covered by a certificate name (exact, or `*.domain` for one label).
pub fn name_covers(certificate_name: &str, hostname: &str) -> bool {
    let certificate_name = certificate_name.trim_end_matches('.').to_ascii_lowercase();
    let hostname = hostname.trim_end_matches('.').to_ascii_lowercase();
    match certificate_name.strip_prefix("*.") {
        Some(domain) => hostname
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
        None => certificate_name == hostname,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_one_label_only() {
        assert!(name_covers(
            "*.traffictacos.store",
            "api.traffictacos.store"
        ));
        assert!(name_covers(
            "*.traffictacos.store",
            "API.traffictacos.store."
        ));
        assert!(!name_covers("*.traffictacos.store", "traffictacos.store"));
        assert!(!name_covers(
            "*.traffictacos.store",
            "a.b.traffictacos.store"
        ));
        assert!(name_covers("traffictacos.store", "traffictacos.store"));
    }
}
