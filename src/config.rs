//! tacos.yaml: the environments tacos deploys to (cluster, region, profile, domain, certificate, Git source, capacity targets), validated with file:line errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::repo::yaml::parse_documents;

/// The whole file: several named environments and which one is used by default.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    pub default_environment: String,
    pub environments: BTreeMap<String, Environment>,
}

/// One environment: where the platform runs and what it must carry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    pub aws: AwsSettings,
    pub cluster: ClusterSettings,
    pub domain: String,
    pub certificate: CertificateSettings,
    pub hosted_zone: String,
    pub git: GitSettings,
    /// The namespace the five services run in (`tacos-app` on the live cluster).
    pub app_namespace: String,
    pub capacity: CapacitySettings,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsSettings {
    /// tacos refuses to touch any other account.
    pub account_id: String,
    pub region: String,
    /// The AWS profile (`--profile` overrides it).
    #[serde(default)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSettings {
    pub name: String,
    /// The oldest Kubernetes minor version tacos accepts, e.g. "1.31".
    pub min_version: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSettings {
    /// The ACM certificate's domain, e.g. `*.traffictacos.store`.
    pub domain: String,
    /// Days before expiry at which tacos stops trusting the certificate.
    #[serde(default = "default_min_days")]
    pub min_days_valid: u32,
}

fn default_min_days() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitSettings {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub revision: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapacitySettings {
    pub sustained_rps: u32,
    pub spike_rps: u32,
    /// Spare capacity above the peak, e.g. 0.3 for 30 %.
    pub headroom: f64,
}

/// Why tacos.yaml could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read {path}: {source}; create it (see tacos.yaml in the repository) or pass --config"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: no environment named \"{name}\"; it has: {known}")]
    UnknownEnvironment {
        path: PathBuf,
        name: String,
        known: String,
    },
}

impl ConfigFile {
    /// Reads and validates tacos.yaml.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |line, column, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let documents = parse_documents(text).map_err(|e| {
            invalid(
                e.position_line,
                e.position_column,
                format!("invalid YAML: {}", e.message),
            )
        })?;
        let [document] = documents.as_slice() else {
            return Err(invalid(
                1,
                1,
                format!("expected one YAML document, found {}", documents.len()),
            ));
        };
        let config: ConfigFile =
            serde_path_to_error::deserialize(&document.value).map_err(|error| {
                let pointer: String = error
                    .path()
                    .iter()
                    .filter_map(|segment| match segment {
                        serde_path_to_error::Segment::Map { key } => Some(format!("/{key}")),
                        serde_path_to_error::Segment::Seq { index } => Some(format!("/{index}")),
                        _ => None,
                    })
                    .collect();
                let at = document.position_of(&pointer);
                let field = error.path().to_string();
                invalid(
                    at.line,
                    at.column,
                    format!(
                        "{}: {}",
                        if field == "." { "file" } else { &field },
                        error.into_inner()
                    ),
                )
            })?;
        for (name, environment) in &config.environments {
            if let Err((field, message)) = environment.validate() {
                let at = document
                    .position_of(&format!("/environments/{name}/{}", field.replace('.', "/")));
                return Err(invalid(
                    at.line,
                    at.column,
                    format!("environments.{name}.{field}: {message}"),
                ));
            }
        }
        if !config
            .environments
            .contains_key(&config.default_environment)
        {
            let at = document.position_of("/defaultEnvironment");
            return Err(invalid(
                at.line,
                at.column,
                format!(
                    "defaultEnvironment \"{}\" is not one of the environments",
                    config.default_environment
                ),
            ));
        }
        Ok(config)
    }

    /// The environment named `name`, or the default one.
    pub fn environment(
        &self,
        path: &Path,
        name: Option<&str>,
    ) -> Result<(String, &Environment), ConfigError> {
        let name = name.unwrap_or(&self.default_environment);
        self.environments
            .get(name)
            .map(|e| (name.to_string(), e))
            .ok_or_else(|| ConfigError::UnknownEnvironment {
                path: path.to_path_buf(),
                name: name.to_string(),
                known: self
                    .environments
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl Environment {
    /// Checks values serde cannot: formats and relations between fields. Returns the field and why.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.aws.account_id.len() != 12
            || !self.aws.account_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err((
                "aws.accountId",
                format!(
                    "\"{}\" is not a 12-digit AWS account id (quote it so YAML keeps leading zeros)",
                    self.aws.account_id
                ),
            ));
        }
        let region_ok = {
            let parts: Vec<&str> = self.aws.region.split('-').collect();
            parts.len() >= 3
                && parts
                    .last()
                    .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        };
        if !region_ok {
            return Err((
                "aws.region",
                format!(
                    "\"{}\" is not an AWS region like ap-northeast-2",
                    self.aws.region
                ),
            ));
        }
        if self.cluster.min_version.split('.').count() != 2
            || !self
                .cluster
                .min_version
                .split('.')
                .all(|p| p.parse::<u32>().is_ok())
        {
            return Err((
                "cluster.minVersion",
                format!(
                    "\"{}\" is not a MAJOR.MINOR version like 1.31",
                    self.cluster.min_version
                ),
            ));
        }
        let on_domain = self.certificate.domain == self.domain
            || self.certificate.domain == format!("*.{}", self.domain);
        if !on_domain {
            return Err((
                "certificate.domain",
                format!(
                    "\"{}\" does not cover {}",
                    self.certificate.domain, self.domain
                ),
            ));
        }
        if !(self.git.repo_url.starts_with("https://")
            || self.git.repo_url.starts_with("git@")
            || self.git.repo_url.starts_with("ssh://"))
        {
            return Err((
                "git.repoURL",
                format!(
                    "\"{}\" is not an https://, ssh:// or git@ URL",
                    self.git.repo_url
                ),
            ));
        }
        if self.capacity.spike_rps < self.capacity.sustained_rps {
            return Err((
                "capacity.spikeRps",
                format!(
                    "{} is below sustainedRps {}",
                    self.capacity.spike_rps, self.capacity.sustained_rps
                ),
            ));
        }
        if !(0.0..=2.0).contains(&self.capacity.headroom) {
            return Err((
                "capacity.headroom",
                format!(
                    "{} is not a fraction between 0 and 2 (0.3 means 30 %)",
                    self.capacity.headroom
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = include_str!("../tacos.yaml");

    #[test]
    fn repository_tacos_yaml_is_valid_and_names_the_live_platform() {
        let config = ConfigFile::parse(Path::new("tacos.yaml"), VALID).unwrap();
        let (_, prod) = config
            .environment(Path::new("tacos.yaml"), Some("prod"))
            .unwrap();
        assert_eq!(prod.cluster.name, "ticket-cluster");
        assert_eq!(prod.aws.region, "ap-northeast-2");
        assert_eq!(prod.aws.account_id, "137406935518");
        assert_eq!(prod.capacity.sustained_rps, 30_000);
        assert_eq!(prod.capacity.spike_rps, 50_000);
    }

    #[test]
    fn unknown_key_names_the_key_and_its_line() {
        let text = VALID.replacen(
            "    domain: traffictacos.store",
            "    domian: traffictacos.store",
            1,
        );
        let line = text.lines().position(|l| l.contains("domian")).unwrap() + 1;
        let error = ConfigFile::parse(Path::new("tacos.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("domian"), "{error}");
        assert!(error.starts_with(&format!("tacos.yaml:{line}:")), "{error}");
    }

    #[test]
    fn bad_account_id_names_the_field() {
        let text = VALID.replacen("\"137406935518\"", "\"1374\"", 1);
        let error = ConfigFile::parse(Path::new("tacos.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("aws.accountId"), "{error}");
    }

    #[test]
    fn unknown_environment_lists_the_known_ones() {
        let config = ConfigFile::parse(Path::new("tacos.yaml"), VALID).unwrap();
        let error = config
            .environment(Path::new("tacos.yaml"), Some("staging"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("dev") && error.contains("prod"), "{error}");
    }
}
