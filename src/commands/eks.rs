//! Reaching the cluster through EKS itself (`--connect eks`): DescribeCluster gives the endpoint and CA, and `tacos eks-token` is the exec plugin that signs the token, so nothing but tacos.yaml and AWS credentials is needed.

use std::time::SystemTime;

use base64::Engine;
use serde_json::json;

use crate::aws::AwsContext;
use crate::aws::eks::{self, ClusterFacts};
use crate::cli::GlobalArgs;
use crate::cluster_guard::KubeTarget;
use crate::config::Environment;
use crate::exit::{ExitStatus, StatusError};

/// `tacos eks-token`: an ExecCredential holding a token for the environment's cluster.
pub async fn print_token(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let environment = super::environment(global)?;
    let aws = super::deploy::connect_aws(global, &environment).await?;
    let now = SystemTime::now();
    let token = crate::aws::eks_token::token(&aws, &environment.cluster.name, now)
        .await
        .map_err(|e| StatusError::unreachable(e.to_string()))?;
    let expires = jiff::Timestamp::try_from(token.expires)
        .map(|t| t.to_string())
        .unwrap_or_default();
    println!(
        "{}",
        json!({
            "kind": "ExecCredential",
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "spec": {},
            "status": {"expirationTimestamp": expires, "token": token.token},
        })
    );
    Ok(ExitStatus::Clean)
}

/// A kube configuration for the environment's EKS cluster, built from what EKS reports.
pub async fn eks_config(
    global: &GlobalArgs,
    aws: &AwsContext,
    environment: &Environment,
) -> anyhow::Result<(kube::Config, KubeTarget)> {
    let cluster = &environment.cluster.name;
    let facts = eks::describe_cluster(aws, cluster)
        .await
        .map_err(|e| StatusError::unreachable(e.to_string()))?
        .ok_or_else(|| {
            StatusError::bad_input(format!(
                "--connect eks: EKS cluster {cluster} does not exist ({}); check cluster.name and aws.region in tacos.yaml, or --env",
                aws.target
            ))
        })?;
    let exe = std::env::current_exe()
        .map_err(|e| StatusError::bad_input(format!("cannot find the tacos binary: {e}")))?;
    let config = config_from_facts(&facts, &exec_args(global, aws))
        .map_err(|why| StatusError::bad_input(format!("--connect eks: {why}")))?;
    let mut config = config;
    if let Some(exec) = config.auth_info.exec.as_mut() {
        exec.command = Some(exe.display().to_string());
    }
    let kube = KubeTarget {
        context: format!("eks:{cluster} (from {})", global.config.display()),
        server: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string(),
        user: aws.caller_arn.clone(),
    };
    Ok((config, kube))
}

/// The arguments `tacos eks-token` is run with: the same tacos.yaml, environment, profile and region.
fn exec_args(global: &GlobalArgs, aws: &AwsContext) -> Vec<String> {
    let config = std::path::absolute(&global.config).unwrap_or_else(|_| global.config.clone());
    let mut args = vec![
        "eks-token".to_string(),
        "--config".to_string(),
        config.display().to_string(),
        "--region".to_string(),
        aws.target.region.clone(),
        "--profile".to_string(),
        aws.target.profile.clone().unwrap_or_default(),
    ];
    if let Some(environment) = &global.environment {
        args.extend(["--env".to_string(), environment.clone()]);
    }
    args
}

/// The endpoint, the CA (EKS gives base64 of the PEM) and the exec plugin that makes the token.
fn config_from_facts(facts: &ClusterFacts, args: &[String]) -> Result<kube::Config, String> {
    let endpoint = facts
        .endpoint
        .as_deref()
        .ok_or("EKS reports no endpoint for the cluster")?;
    let url = endpoint
        .parse()
        .map_err(|e| format!("EKS's endpoint {endpoint} is not a URL: {e}"))?;
    let pem = facts
        .certificate_authority
        .as_deref()
        .map(|data| base64::engine::general_purpose::STANDARD.decode(data.trim()))
        .transpose()
        .map_err(|e| format!("EKS's certificate authority is not base64: {e}"))?
        .ok_or("EKS reports no certificate authority for the cluster")?;
    let certificates = pem_certificates(&String::from_utf8_lossy(&pem));
    if certificates.is_empty() {
        return Err("EKS's certificate authority holds no PEM certificate".into());
    }
    let mut config = kube::Config::new(url);
    config.root_cert = Some(certificates);
    config.auth_info.exec = Some(kube::config::ExecConfig {
        api_version: Some("client.authentication.k8s.io/v1beta1".into()),
        command: Some("tacos".into()),
        args: Some(args.to_vec()),
        interactive_mode: Some(kube::config::ExecInteractiveMode::Never),
        ..Default::default()
    });
    Ok(config)
}

/// The DER bytes of each `CERTIFICATE` block of a PEM text.
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut certificates = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match line {
            "-----BEGIN CERTIFICATE-----" => body = Some(String::new()),
            "-----END CERTIFICATE-----" => {
                if let Some(der) = body
                    .take()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                {
                    certificates.push(der);
                }
            }
            line => {
                if let Some(body) = body.as_mut() {
                    body.push_str(line);
                }
            }
        }
    }
    certificates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(endpoint: Option<&str>, ca: Option<&str>) -> ClusterFacts {
        ClusterFacts {
            name: "ticket-cluster".into(),
            status: "ACTIVE".into(),
            version: "1.33".into(),
            oidc_issuer: None,
            endpoint: endpoint.map(str::to_string),
            certificate_authority: ca.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn the_connection_is_the_endpoint_and_ca_eks_reports_with_tacos_as_the_exec_plugin() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n";
        let ca = base64::engine::general_purpose::STANDARD.encode(pem);
        let args = vec!["eks-token".to_string()];
        let config = config_from_facts(
            &facts(
                Some("https://ABC.gr7.ap-northeast-2.eks.amazonaws.com"),
                Some(&ca),
            ),
            &args,
        )
        .unwrap();
        assert_eq!(
            config.cluster_url.to_string(),
            "https://ABC.gr7.ap-northeast-2.eks.amazonaws.com/"
        );
        assert_eq!(config.root_cert, Some(vec![vec![0, 1, 2, 3]]));
        let exec = config.auth_info.exec.unwrap();
        assert_eq!(exec.args, Some(args));
        assert_eq!(
            exec.api_version.as_deref(),
            Some("client.authentication.k8s.io/v1beta1")
        );
    }

    #[test]
    fn a_cluster_without_endpoint_or_ca_is_refused_with_why() {
        assert!(
            config_from_facts(&facts(None, Some("eA==")), &[])
                .unwrap_err()
                .contains("endpoint")
        );
        assert!(
            config_from_facts(&facts(Some("https://x.example"), None), &[])
                .unwrap_err()
                .contains("certificate authority")
        );
        let not_pem = base64::engine::general_purpose::STANDARD.encode("hello");
        assert!(
            config_from_facts(&facts(Some("https://x.example"), Some(&not_pem)), &[])
                .unwrap_err()
                .contains("no PEM")
        );
    }
}
