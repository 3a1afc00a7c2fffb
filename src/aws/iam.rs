//! IAM: the roles ServiceAccounts name for IRSA, and whether a role's trust policy admits a ServiceAccount.

use super::{AwsContext, AwsError};
use crate::repo::{Location, Object};

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

/// The trust policy of the IAM role `name` (None when the account has no such role).
pub async fn role_trust_policy(aws: &AwsContext, name: &str) -> Result<Option<String>, AwsError> {
    let iam = aws_sdk_iam::Client::new(&aws.config);
    match iam.get_role().role_name(name).send().await {
        Ok(output) => Ok(output
            .role
            .map(|role| role.assume_role_policy_document.unwrap_or_default())),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(aws.unreachable(&format!("read IAM role {name} (iam:GetRole)"), &error)),
    }
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
