//! IAM: the roles ServiceAccounts name for IRSA exist in the configured account and trust those ServiceAccounts.

use super::{AwsContext, AwsError};
use crate::phases::apps::IRSA_ROLES_EXIST;
use crate::repo::{Location, Object};
use crate::report::Finding;

/// The annotation through which a ServiceAccount names its IAM role (IRSA).
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// A ServiceAccount that names an IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleClaim {
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    /// Where the ServiceAccount is written (file:line, or the Application that renders it).
    pub location: Location,
}

/// Every ServiceAccount among `objects` that names a role; one written without a namespace is in
/// `default_namespace` (where it is applied).
pub fn role_claims<'a>(
    objects: impl IntoIterator<Item = &'a Object>,
    default_namespace: &str,
) -> Vec<RoleClaim> {
    objects
        .into_iter()
        .filter(|o| o.is("", "ServiceAccount"))
        .filter_map(|sa| {
            let arn = sa.value["metadata"]["annotations"][ROLE_ARN_ANNOTATION].as_str()?;
            Some(RoleClaim {
                namespace: sa.namespace().unwrap_or(default_namespace).to_string(),
                service_account: sa.name().to_string(),
                role_arn: arn.to_string(),
                location: sa.location(),
            })
        })
        .collect()
}

/// The parts of a role ARN tacos checks: `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn<'a> {
    pub account: &'a str,
    pub name: &'a str,
}

pub fn parse_role_arn(arn: &str) -> Option<RoleArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next().filter(|n| !n.is_empty())?;
    (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
        .then_some(RoleArn { account, name })
}

/// Whether a trust policy lets the ServiceAccount assume the role through the cluster's OIDC provider.
/// IAM returns the document URL-encoded; both forms are accepted.
pub fn trusts_service_account(policy_document: &str, namespace: &str, name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(policy_document)
        .decode_utf8_lossy()
        .into_owned();
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return false;
    };
    let exact = format!("system:serviceaccount:{namespace}:{name}");
    let any_in_namespace = format!("system:serviceaccount:{namespace}:*");
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    };
    let names = |value: &serde_json::Value, wanted: &[&str]| match value {
        serde_json::Value::String(one) => wanted.contains(&one.as_str()),
        serde_json::Value::Array(many) => many
            .iter()
            .any(|v| v.as_str().is_some_and(|v| wanted.contains(&v))),
        _ => false,
    };
    // Only `<issuer>:sub` under StringEquals (exact) or StringLike (exact, or `ns:*`) admits the
    // ServiceAccount; a StringNotEquals naming it does the opposite.
    let subject_admitted = |condition: &serde_json::Value| {
        [
            ("StringEquals", vec![exact.as_str()]),
            (
                "StringLike",
                vec![exact.as_str(), any_in_namespace.as_str()],
            ),
        ]
        .iter()
        .any(|(operator, wanted)| {
            condition[*operator].as_object().is_some_and(|keys| {
                keys.iter()
                    .any(|(key, value)| key.ends_with(":sub") && names(value, wanted))
            })
        })
    };
    statements.iter().any(|statement| {
        statement["Effect"].as_str() == Some("Allow")
            && names(&statement["Action"], &["sts:AssumeRoleWithWebIdentity"])
            && subject_admitted(&statement["Condition"])
    })
}

/// Findings for roles that are malformed, in another account, missing, or not trusting their ServiceAccount.
pub async fn check_roles(aws: &AwsContext, claims: &[RoleClaim]) -> Result<Vec<Finding>, AwsError> {
    let iam = aws_sdk_iam::Client::new(&aws.config);
    let mut findings = Vec::new();
    for claim in claims {
        let subject = format!(
            "ServiceAccount {}/{}",
            claim.namespace, claim.service_account
        );
        let location = Some(claim.location.clone());
        let Some(arn) = parse_role_arn(&claim.role_arn) else {
            findings.push(Finding::new(
                &IRSA_ROLES_EXIST,
                subject,
                location,
                format!(
                    "{ROLE_ARN_ANNOTATION} is `{}`, not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                    claim.role_arn
                ),
            ));
            continue;
        };
        if arn.account != aws.target.account {
            findings.push(Finding::new(
                &IRSA_ROLES_EXIST,
                subject,
                location,
                format!(
                    "role {} is in account {}, not the configured account ({})",
                    claim.role_arn, arn.account, aws.target
                ),
            ));
            continue;
        }
        let role = match iam.get_role().role_name(arn.name).send().await {
            Ok(output) => output.role,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                None
            }
            Err(error) => {
                return Err(
                    aws.unreachable(&format!("read IAM role {} (iam:GetRole)", arn.name), &error)
                );
            }
        };
        let Some(role) = role else {
            findings.push(Finding::new(
                &IRSA_ROLES_EXIST,
                subject,
                location,
                format!("IAM role {} does not exist ({})", arn.name, aws.target),
            ));
            continue;
        };
        let document = role.assume_role_policy_document.unwrap_or_default();
        if !trusts_service_account(&document, &claim.namespace, &claim.service_account) {
            findings.push(
                Finding::new(
                    &IRSA_ROLES_EXIST,
                    subject,
                    location,
                    format!(
                        "IAM role {} does not trust system:serviceaccount:{}:{} (no sts:AssumeRoleWithWebIdentity statement with that subject); its pods would get no AWS credentials",
                        arn.name, claim.namespace, claim.service_account
                    ),
                )
                .with_remedy(format!(
                    "add to the role's trust policy an Allow of sts:AssumeRoleWithWebIdentity for the cluster's OIDC provider with condition `<oidc>:sub = system:serviceaccount:{}:{}` (aws iam update-assume-role-policy --role-name {})",
                    claim.namespace, claim.service_account, arn.name
                )),
            );
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arn_gives_account_and_name_without_path() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::137406935518:role/traffic-tacos-gateway-api-sa-role"),
            Some(RoleArn {
                account: "137406935518",
                name: "traffic-tacos-gateway-api-sa-role"
            })
        );
        assert_eq!(
            parse_role_arn("arn:aws:iam::137406935518:role/service/tacos/x").map(|a| a.name),
            Some("x")
        );
    }

    #[test]
    fn malformed_role_arns_are_refused() {
        for arn in [
            "",
            "traffic-tacos-gateway-api-sa-role",
            "arn:aws:iam::1374:role/x",
            "arn:aws:iam::137406935518:user/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::137406935518:role/",
        ] {
            assert_eq!(parse_role_arn(arn), None, "{arn}");
        }
    }

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::137406935518:oidc-provider/oidc.eks.ap-northeast-2.amazonaws.com/id/ABC"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.eks.ap-northeast-2.amazonaws.com/id/ABC:sub":"system:serviceaccount:tacos-app:gateway-api"}}}]}"#;

    #[test]
    fn trust_policy_must_name_the_service_account() {
        assert!(trusts_service_account(TRUST, "tacos-app", "gateway-api"));
        assert!(!trusts_service_account(TRUST, "tacos-app", "inventory-api"));
        assert!(!trusts_service_account(TRUST, "other", "gateway-api"));
    }

    #[test]
    fn url_encoded_trust_policy_is_read() {
        let encoded: String =
            percent_encoding::utf8_percent_encode(TRUST, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert!(trusts_service_account(&encoded, "tacos-app", "gateway-api"));
    }

    #[test]
    fn a_condition_that_excludes_the_service_account_does_not_trust_it() {
        let excluding = TRUST.replace("StringEquals", "StringNotEquals");
        assert!(!trusts_service_account(
            &excluding,
            "tacos-app",
            "gateway-api"
        ));
        let other_key = TRUST.replace(":sub", ":aud");
        assert!(!trusts_service_account(
            &other_key,
            "tacos-app",
            "gateway-api"
        ));
        let namespace_wide = TRUST
            .replace("StringEquals", "StringLike")
            .replace("tacos-app:gateway-api", "tacos-app:*");
        assert!(trusts_service_account(
            &namespace_wide,
            "tacos-app",
            "inventory-api"
        ));
    }

    #[test]
    fn trust_without_web_identity_does_not_count() {
        let ec2_only = TRUST.replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole");
        assert!(!trusts_service_account(
            &ec2_only,
            "tacos-app",
            "gateway-api"
        ));
    }
}
