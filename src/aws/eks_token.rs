//! An EKS bearer token, as `aws eks get-token` makes it: `k8s-aws-v1.` and the base64url of an STS GetCallerIdentity URL presigned for 60 s with the cluster's name as a signed header.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;

use super::{AwsContext, AwsError};

/// The header the EKS authenticator reads the cluster's name from.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long the presigned URL is valid (what `aws eks get-token` signs).
pub const URL_VALIDITY: Duration = Duration::from_secs(60);
/// How long EKS accepts a token (15 min); clients renew it a minute before, as the AWS CLI does.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A token for the cluster and when to renew it.
#[derive(Clone, PartialEq, Eq)]
pub struct EksToken {
    pub token: String,
    pub expires: SystemTime,
}

impl std::fmt::Debug for EksToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksToken")
            .field("token", &"(redacted)")
            .field("expires", &self.expires)
            .finish()
    }
}

/// The URL the token carries: STS GetCallerIdentity at `endpoint`, presigned at `now` with
/// `x-k8s-aws-id: cluster`.
pub async fn presigned_url(
    aws: &AwsContext,
    cluster: &str,
    now: SystemTime,
) -> Result<String, AwsError> {
    let endpoint = aws
        .config
        .endpoint_url()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", aws.target.region));
    let url = format!("{endpoint}/?Action=GetCallerIdentity&Version=2011-06-15");
    let provider = aws.config.credentials_provider().ok_or_else(|| {
        aws.unreachable(
            "sign an EKS token",
            &std::io::Error::other("no credentials in the AWS configuration"),
        )
    })?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| aws.unreachable("read credentials to sign an EKS token", &e))?;
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(URL_VALIDITY);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&aws.target.region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| aws.unreachable("sign an EKS token", &e))?
        .into();
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .unwrap_or_default()
        .to_string();
    let headers = [("host", host.as_str()), (CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| aws.unreachable("sign an EKS token", &e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| aws.unreachable("sign an EKS token", &e))?
        .into_parts();
    let mut request = http::Request::get(&url)
        .body(())
        .map_err(|e| aws.unreachable("sign an EKS token", &e))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}

/// A bearer token for EKS cluster `cluster`, valid from `now`.
pub async fn token(aws: &AwsContext, cluster: &str, now: SystemTime) -> Result<EksToken, AwsError> {
    let url = presigned_url(aws, cluster, now).await?;
    Ok(EksToken {
        token: format!(
            "k8s-aws-v1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
        ),
        expires: now + TOKEN_LIFETIME,
    })
}

/// The URL inside a token (what the EKS authenticator calls).
pub fn url_of(token: &str) -> Option<String> {
    let encoded = token.strip_prefix("k8s-aws-v1.")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}
