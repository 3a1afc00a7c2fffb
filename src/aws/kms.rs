//! KMS: whether a key exists and can be used (DescribeKey).

use super::{AwsContext, AwsError};

/// A key's state as KMS reports it: `Enabled`, `Disabled`, `PendingDeletion`, ...; None when
/// there is no such key.
pub async fn key_state(aws: &AwsContext, key_arn: &str) -> Result<Option<String>, AwsError> {
    // A key lives in the region its ARN names (arn:aws:kms:REGION:ACCOUNT:key/ID).
    let region = key_arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .unwrap_or(&aws.target.region)
        .to_string();
    let config = aws_sdk_kms::config::Builder::from(&aws.config)
        .region(aws_config::Region::new(region))
        .build();
    let kms = aws_sdk_kms::Client::from_conf(config);
    match kms.describe_key().key_id(key_arn).send().await {
        Ok(output) => Ok(Some(
            output
                .key_metadata
                .and_then(|m| m.key_state)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Unknown".into()),
        )),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(aws.unreachable(&format!("describe KMS key {key_arn}"), &error)),
    }
}
