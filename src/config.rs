//! tacos.yaml: the environments tacos deploys to (cluster, region, profile, domain, certificate, Git source, capacity targets), validated with file:line errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::k8s::quantity::Quantity;
use crate::repo::yaml::{escape_pointer_token, parse_documents};

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
    #[serde(default)]
    pub history: HistorySettings,
    #[serde(default)]
    pub compliance: ComplianceSettings,
}

/// What `tacos verify` holds the account to beyond the platform itself: security settings of the
/// cluster and images, and the cost guard-rail.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComplianceSettings {
    /// The last day of EKS standard support per MAJOR.MINOR (AWS's published calendar; a setting
    /// to keep current). A version not listed is a warning.
    #[serde(default)]
    pub eks_standard_support_ends: BTreeMap<String, jiff::civil::Date>,
    /// The CIDRs the cluster's public endpoint may be open to; empty: the public endpoint must be off.
    #[serde(default)]
    pub public_endpoint_cidrs: Vec<String>,
    /// The lowest ECR scan severity that fails verify.
    #[serde(default)]
    pub image_finding_severity: ScanSeverity,
    /// The AWS Budget that guards the platform's spend.
    #[serde(default)]
    pub budget: BudgetSettings,
}

/// An image scan finding's severity, in ECR's words, lowest first.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanSeverity {
    Informational,
    Low,
    Medium,
    High,
    #[default]
    Critical,
}

impl ScanSeverity {
    /// ECR's word for it (`UNDEFINED` and `UNTRIAGED` are None: below every threshold).
    pub fn parse(text: &str) -> Option<ScanSeverity> {
        Some(match text {
            "INFORMATIONAL" => ScanSeverity::Informational,
            "LOW" => ScanSeverity::Low,
            "MEDIUM" => ScanSeverity::Medium,
            "HIGH" => ScanSeverity::High,
            "CRITICAL" => ScanSeverity::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScanSeverity::Informational => "INFORMATIONAL",
            ScanSeverity::Low => "LOW",
            ScanSeverity::Medium => "MEDIUM",
            ScanSeverity::High => "HIGH",
            ScanSeverity::Critical => "CRITICAL",
        }
    }
}

/// Which AWS Budget is the platform's: by name, or by a cost-allocation tag filter.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetSettings {
    #[serde(default)]
    pub name: Option<String>,
    /// `KEY=VALUE`: a budget whose cost filter selects this cost-allocation tag.
    #[serde(default)]
    pub cost_allocation_tag: Option<String>,
}

/// `tacos history`: how many entries the cluster keeps per phase.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistorySettings {
    /// Entries kept per phase, the oldest deleted first (Argo CD's and Helm's default, 10).
    #[serde(default = "default_history_keep")]
    pub keep: u32,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            keep: default_history_keep(),
        }
    }
}

fn default_history_keep() -> u32 {
    10
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

/// A Git URL Argo CD can clone: https://, ssh://, git@host:path, or file:// (a local repository,
/// for a lab whose Argo CD runs on the same machine).
pub fn check_repo_url(url: &str) -> Result<(), String> {
    if ["https://", "ssh://", "git@", "file://"]
        .iter()
        .any(|scheme| url.starts_with(scheme) && url.len() > scheme.len())
    {
        Ok(())
    } else {
        Err(format!(
            "\"{url}\" is not an https://, ssh://, git@ or file:// URL"
        ))
    }
}

/// What the platform must carry and what it runs on: the settings of `tacos capacity`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapacitySettings {
    pub sustained_rps: u32,
    pub spike_rps: u32,
    /// Spare capacity above the peak, e.g. 0.3 for 30 %.
    pub headroom: f64,
    /// Calls each service receives per gateway-api request (the fan-out), by service name.
    #[serde(default)]
    pub shares: BTreeMap<String, f64>,
    /// EC2 instance types by name: size and hourly prices in the environment's region.
    #[serde(default)]
    pub instance_types: BTreeMap<String, InstanceTypeSettings>,
    /// Node pools in order of preference (Karpenter weight): pods fill the first pool that
    /// allows them up to its maxNodes, then the next.
    #[serde(default)]
    pub node_pools: Vec<NodePoolSettings>,
    #[serde(default)]
    pub redis: RedisSettings,
    #[serde(default)]
    pub alb: AlbSettings,
}

/// One EC2 instance type: what a node offers and what it costs per hour.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceTypeSettings {
    pub vcpu: u32,
    #[serde(rename = "memoryGiB")]
    pub memory_gib: f64,
    /// Pods the kubelet admits (110 is the kubelet's default; the VPC CNI allows more on large types).
    #[serde(default = "default_max_pods")]
    pub max_pods: u32,
    pub on_demand_hourly_usd: f64,
    pub spot_hourly_usd: f64,
}

fn default_max_pods() -> u32 {
    110
}

/// A node pool (Karpenter NodePool): its instance type, capacity-type mix and size limit.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePoolSettings {
    pub name: String,
    /// A key of `instanceTypes`.
    pub instance_type: String,
    /// The share of the pool's nodes that are spot: 0 on-demand only, 1 spot only.
    pub spot_fraction: f64,
    pub max_nodes: u32,
    /// What a node keeps from pods: kubelet and system reserve, eviction threshold, DaemonSets.
    pub reserved: ReservedResources,
    /// Services whose pods may run in this pool; empty: every service.
    #[serde(default)]
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReservedResources {
    pub cpu: ResourceAmount,
    pub memory: ResourceAmount,
}

/// A Kubernetes quantity as written in tacos.yaml (`500m`, `2`, `3Gi`), checked when validating.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(transparent)]
pub struct ResourceAmount(pub String);

impl ResourceAmount {
    pub fn quantity(&self) -> Option<Quantity> {
        Quantity::parse(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceAmount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AmountVisitor;
        impl serde::de::Visitor<'_> for AmountVisitor {
            type Value = ResourceAmount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a quantity like 500m, 2 or 3Gi")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ResourceAmount, E> {
                Ok(ResourceAmount(text.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<ResourceAmount, E> {
                Ok(ResourceAmount(number.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<ResourceAmount, E> {
                Ok(ResourceAmount(number.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<ResourceAmount, E> {
                Ok(ResourceAmount(number.to_string()))
            }
        }
        deserializer.deserialize_any(AmountVisitor)
    }
}

/// The Redis (ElastiCache) budget: how many clients one node accepts and how services declare pools.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisSettings {
    /// The node type, for messages (e.g. cache.r7g.large).
    #[serde(default)]
    pub node_type: Option<String>,
    /// maxclients of one node: 65,000 is the AWS default for Redis OSS on every node type.
    #[serde(default = "default_max_clients")]
    pub max_clients_per_node: u32,
    /// A container with this environment variable uses Redis.
    #[serde(default = "default_redis_address_env")]
    pub address_env: String,
    /// The environment variable holding a pod's connections per Redis node.
    #[serde(default = "default_redis_pool_size_env")]
    pub pool_size_env: String,
    /// Connections per Redis node of a pod that uses Redis without declaring its pool size.
    #[serde(default = "default_redis_pool_size")]
    pub default_pool_size: u32,
}

fn default_max_clients() -> u32 {
    65_000
}

fn default_redis_address_env() -> String {
    "REDIS_ADDRESS".into()
}

fn default_redis_pool_size_env() -> String {
    "REDIS_POOL_SIZE".into()
}

fn default_redis_pool_size() -> u32 {
    10
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            node_type: None,
            max_clients_per_node: default_max_clients(),
            address_env: default_redis_address_env(),
            pool_size_env: default_redis_pool_size_env(),
            default_pool_size: default_redis_pool_size(),
        }
    }
}

/// Application Load Balancer limits that count pods (IP targets).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlbSettings {
    /// The AWS quota "Targets per target group per Region" (1,000 unless raised).
    #[serde(default = "default_max_targets")]
    pub max_targets_per_target_group: u32,
}

fn default_max_targets() -> u32 {
    1_000
}

impl Default for AlbSettings {
    fn default() -> Self {
        Self {
            max_targets_per_target_group: default_max_targets(),
        }
    }
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
            if let Err(error) = environment.validate() {
                let pointer: String = std::iter::once(name.as_str())
                    .chain(error.path.iter().map(String::as_str))
                    .map(|segment| format!("/{}", escape_pointer_token(segment)))
                    .collect();
                let at = document.position_of(&format!("/environments{pointer}"));
                return Err(invalid(
                    at.line,
                    at.column,
                    format!("environments.{name}.{}: {}", error.field(), error.message),
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
    fn validate(&self) -> Result<(), FieldError> {
        if self.aws.account_id.len() != 12
            || !self.aws.account_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err(FieldError::at(
                &["aws", "accountId"],
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
            return Err(FieldError::at(
                &["aws", "region"],
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
            return Err(FieldError::at(
                &["cluster", "minVersion"],
                format!(
                    "\"{}\" is not a MAJOR.MINOR version like 1.31",
                    self.cluster.min_version
                ),
            ));
        }
        let on_domain = self.certificate.domain == self.domain
            || self.certificate.domain == format!("*.{}", self.domain);
        if !on_domain {
            return Err(FieldError::at(
                &["certificate", "domain"],
                format!(
                    "\"{}\" does not cover {}",
                    self.certificate.domain, self.domain
                ),
            ));
        }
        if let Err(why) = check_repo_url(&self.git.repo_url) {
            return Err(FieldError::at(&["git", "repoURL"], why));
        }
        if self.capacity.spike_rps < self.capacity.sustained_rps {
            return Err(FieldError::at(
                &["capacity", "spikeRps"],
                format!(
                    "{} is below sustainedRps {}",
                    self.capacity.spike_rps, self.capacity.sustained_rps
                ),
            ));
        }
        if !(0.0..=2.0).contains(&self.capacity.headroom) {
            return Err(FieldError::at(
                &["capacity", "headroom"],
                format!(
                    "{} is not a fraction between 0 and 2 (0.3 means 30 %)",
                    self.capacity.headroom
                ),
            ));
        }
        if !(1..=1000).contains(&self.history.keep) {
            return Err(FieldError::at(
                &["history", "keep"],
                format!(
                    "{} entries: keep between 1 and 1000 per phase (default 10)",
                    self.history.keep
                ),
            ));
        }
        self.compliance.validate()?;
        self.capacity.validate_model()
    }
}

impl ComplianceSettings {
    fn validate(&self) -> Result<(), FieldError> {
        for version in self.eks_standard_support_ends.keys() {
            let parts: Vec<&str> = version.split('.').collect();
            if parts.len() != 2 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
                return Err(FieldError::at(
                    &["compliance", "eksStandardSupportEnds", version],
                    format!("\"{version}\" is not a MAJOR.MINOR version like 1.33"),
                ));
            }
        }
        for cidr in &self.public_endpoint_cidrs {
            if cidr.parse::<ipnet::Ipv4Net>().is_err() {
                return Err(FieldError::at(
                    &["compliance", "publicEndpointCidrs"],
                    format!("\"{cidr}\" is not an IPv4 CIDR like 203.0.113.0/24"),
                ));
            }
        }
        if let Some(tag) = &self.budget.cost_allocation_tag
            && !tag
                .split_once('=')
                .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty())
        {
            return Err(FieldError::at(
                &["compliance", "budget", "costAllocationTag"],
                format!("\"{tag}\" is not KEY=VALUE like Project=traffic-tacos"),
            ));
        }
        Ok(())
    }
}

impl CapacitySettings {
    /// Checks the shares, instance types, node pools and limits `tacos capacity` models with.
    fn validate_model(&self) -> Result<(), FieldError> {
        let at = |path: &[&str], message: String| {
            let mut full = vec!["capacity"];
            full.extend_from_slice(path);
            Err(FieldError::at(&full, message))
        };
        let fraction_or_more = |value: f64| value.is_finite() && value >= 0.0;
        for (service, share) in &self.shares {
            if !fraction_or_more(*share) || *share > 1000.0 {
                return at(
                    &["shares", service],
                    format!("{share} is not a number of calls per gateway-api request (0 to 1000)"),
                );
            }
        }
        for (name, instance) in &self.instance_types {
            let field = |leaf: &'static str| ["instanceTypes", name.as_str(), leaf];
            if instance.vcpu == 0 {
                return at(&field("vcpu"), "must be at least 1".into());
            }
            if !(instance.memory_gib.is_finite() && instance.memory_gib > 0.0) {
                return at(
                    &field("memoryGiB"),
                    format!("{} is not a positive size in GiB", instance.memory_gib),
                );
            }
            if instance.max_pods == 0 {
                return at(&field("maxPods"), "must be at least 1".into());
            }
            for (leaf, price) in [
                ("onDemandHourlyUsd", instance.on_demand_hourly_usd),
                ("spotHourlyUsd", instance.spot_hourly_usd),
            ] {
                if !fraction_or_more(price) {
                    return at(
                        &field(leaf),
                        format!("{price} is not a price in USD per hour"),
                    );
                }
            }
            if instance.spot_hourly_usd > instance.on_demand_hourly_usd {
                return at(
                    &field("spotHourlyUsd"),
                    format!(
                        "{} is above onDemandHourlyUsd {}: spot never costs more than on-demand",
                        instance.spot_hourly_usd, instance.on_demand_hourly_usd
                    ),
                );
            }
        }
        let mut pool_names = std::collections::BTreeSet::new();
        for (index, pool) in self.node_pools.iter().enumerate() {
            let index = index.to_string();
            let field = |leaf: &'static str| ["nodePools", index.as_str(), leaf];
            if pool.name.trim().is_empty() || !pool_names.insert(pool.name.as_str()) {
                return at(
                    &field("name"),
                    format!("\"{}\" is empty or names another pool too", pool.name),
                );
            }
            let Some(instance) = self.instance_types.get(&pool.instance_type) else {
                return at(
                    &field("instanceType"),
                    format!(
                        "\"{}\" is not in capacity.instanceTypes; it has: {}",
                        pool.instance_type,
                        self.instance_types
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            };
            if !(0.0..=1.0).contains(&pool.spot_fraction) {
                return at(
                    &field("spotFraction"),
                    format!(
                        "{} is not a fraction between 0 (on-demand only) and 1 (spot only)",
                        pool.spot_fraction
                    ),
                );
            }
            if pool.max_nodes == 0 {
                return at(&field("maxNodes"), "must be at least 1".into());
            }
            let offered = [
                (
                    "cpu",
                    &pool.reserved.cpu,
                    Quantity::from(i64::from(instance.vcpu)),
                ),
                (
                    "memory",
                    &pool.reserved.memory,
                    Quantity::from_gib(instance.memory_gib),
                ),
            ];
            for (resource, reserved, size) in offered {
                let path = ["nodePools", index.as_str(), "reserved", resource];
                match reserved.quantity() {
                    None => {
                        return at(
                            &path,
                            format!("\"{}\" is not a quantity like 500m, 2 or 3Gi", reserved.0),
                        );
                    }
                    Some(amount) if amount < Quantity::ZERO || amount >= size => {
                        return at(
                            &path,
                            format!(
                                "{} leaves nothing of a {} node's {resource} to pods",
                                reserved.0, pool.instance_type
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
            for (position, service) in pool.services.iter().enumerate() {
                if !self.shares.contains_key(service) {
                    let position = position.to_string();
                    return at(
                        &["nodePools", index.as_str(), "services", position.as_str()],
                        format!("\"{service}\" is not a service of capacity.shares"),
                    );
                }
            }
        }
        if self.redis.max_clients_per_node == 0 {
            return at(&["redis", "maxClientsPerNode"], "must be at least 1".into());
        }
        if self.alb.max_targets_per_target_group == 0 {
            return at(
                &["alb", "maxTargetsPerTargetGroup"],
                "must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// A value of an environment that is wrong: its path under the environment, and why.
#[derive(Debug)]
struct FieldError {
    path: Vec<String>,
    message: String,
}

impl FieldError {
    fn at(path: &[&str], message: impl Into<String>) -> Self {
        Self {
            path: path.iter().map(|segment| segment.to_string()).collect(),
            message: message.into(),
        }
    }

    /// The path as written in messages: `capacity.nodePools[1].maxNodes`.
    fn field(&self) -> String {
        let mut text = String::new();
        for segment in &self.path {
            if segment.parse::<usize>().is_ok() {
                text.push_str(&format!("[{segment}]"));
            } else {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(segment);
            }
        }
        text
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
    fn repository_tacos_yaml_models_the_platform_for_tacos_capacity() {
        let config = ConfigFile::parse(Path::new("tacos.yaml"), VALID).unwrap();
        let capacity = &config.environments["prod"].capacity;
        assert_eq!(capacity.shares["gateway-api"], 1.0);
        assert_eq!(capacity.shares.len(), 5);
        let pool = &capacity.node_pools[0];
        let instance = &capacity.instance_types[&pool.instance_type];
        assert!(instance.spot_hourly_usd < instance.on_demand_hourly_usd);
        assert_eq!(capacity.redis.max_clients_per_node, 65_000);
        assert_eq!(capacity.redis.pool_size_env, "REDIS_POOL_SIZE");
        assert_eq!(capacity.alb.max_targets_per_target_group, 1_000);
    }

    #[test]
    fn history_keeps_ten_per_phase_unless_told_and_never_none() {
        let config = ConfigFile::parse(Path::new("tacos.yaml"), VALID).unwrap();
        assert_eq!(config.environments["prod"].history.keep, 10);
        assert_eq!(HistorySettings::default().keep, 10);
        let text = VALID.replacen("      keep: 10", "      keep: 0", 1);
        assert_invalid_at(&text, "keep: 0", "history.keep");
    }

    #[test]
    fn capacity_without_the_model_settings_is_still_valid() {
        let text = "defaultEnvironment: prod\nenvironments:\n  prod:\n    aws: {accountId: \"137406935518\", region: ap-northeast-2}\n    cluster: {name: c, minVersion: \"1.31\"}\n    domain: example.com\n    certificate: {domain: \"*.example.com\"}\n    hostedZone: example.com\n    git: {repoURL: \"https://example.com/r.git\", revision: main}\n    appNamespace: app\n    capacity: {sustainedRps: 10, spikeRps: 20, headroom: 0.3}\n";
        let config = ConfigFile::parse(Path::new("tacos.yaml"), text).unwrap();
        let capacity = &config.environments["prod"].capacity;
        assert!(capacity.node_pools.is_empty() && capacity.shares.is_empty());
        assert_eq!(capacity.redis, RedisSettings::default());
    }

    /// The error for `text`, which must name `field` at the line holding `marker`.
    fn assert_invalid_at(text: &str, marker: &str, field: &str) {
        let line = text
            .lines()
            .position(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("{marker} not in the text"))
            + 1;
        let error = ConfigFile::parse(Path::new("tacos.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(&format!("tacos.yaml:{line}:")), "{error}");
        assert!(error.contains(field), "{error}");
    }

    #[test]
    fn node_pool_naming_an_unknown_instance_type_is_refused_at_its_line() {
        let text = VALID.replacen("instanceType: c7i.4xlarge", "instanceType: c7i.9xlarge", 1);
        assert_invalid_at(
            &text,
            "instanceType: c7i.9xlarge",
            "environments.prod.capacity.nodePools[0].instanceType: \"c7i.9xlarge\" is not in capacity.instanceTypes",
        );
    }

    #[test]
    fn spot_price_above_on_demand_is_refused_at_the_instance_type() {
        let text = VALID.replacen("spotHourlyUsd: 0.32}", "spotHourlyUsd: 0.99}", 1);
        assert_invalid_at(
            &text,
            "spotHourlyUsd: 0.99",
            "capacity.instanceTypes.c7i.4xlarge.spotHourlyUsd",
        );
    }

    #[test]
    fn spot_fraction_outside_zero_to_one_is_refused() {
        let text = VALID.replacen("spotFraction: 1", "spotFraction: 1.5", 1);
        assert_invalid_at(&text, "spotFraction: 1.5", "nodePools[1].spotFraction");
    }

    #[test]
    fn reserve_that_is_not_a_quantity_or_eats_the_node_is_refused() {
        let text = VALID.replacen("memory: 3584Mi}", "memory: lots}", 1);
        assert_invalid_at(&text, "memory: lots", "nodePools[0].reserved.memory");
        let text = VALID.replacen("cpu: \"1\", memory", "cpu: \"16\", memory", 1);
        assert_invalid_at(
            &text,
            "cpu: \"16\"",
            "leaves nothing of a c7i.4xlarge node's cpu",
        );
    }

    #[test]
    fn pool_service_absent_from_the_shares_is_refused() {
        let text = VALID.replacen(
            "          maxNodes: 6\n",
            "          maxNodes: 6\n          services: [gateway-apj]\n",
            1,
        );
        assert_invalid_at(
            &text,
            "gateway-apj",
            "\"gateway-apj\" is not a service of capacity.shares",
        );
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
