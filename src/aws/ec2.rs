//! EC2: whether security groups admit TCP traffic from the EKS cluster's security groups or VPC.

use std::fmt;
use std::net::Ipv4Addr;

use aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup};

use super::{AwsContext, AwsError};

/// Where the cluster's traffic comes from, as EKS and EC2 describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNetwork {
    pub cluster_name: String,
    /// The security group EKS creates and attaches to the control plane and managed nodes
    /// (`resourcesVpcConfig.clusterSecurityGroupId`).
    pub cluster_security_group_id: Option<String>,
    /// Further security groups named at creation (`resourcesVpcConfig.securityGroupIds`).
    pub additional_security_group_ids: Vec<String>,
    pub vpc_id: Option<String>,
    /// The VPC's associated IPv4 CIDR blocks (pods and nodes take their addresses from these).
    pub vpc_cidrs: Vec<String>,
}

impl ClusterNetwork {
    /// Every security group the cluster's traffic can carry, the EKS-created one first, without repeats.
    pub fn security_group_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for id in self
            .cluster_security_group_id
            .iter()
            .chain(&self.additional_security_group_ids)
        {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
        ids
    }
}

/// Whether ingress rules admit a TCP port from the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// An ingress rule of `security_group_id` admits the port from `source`.
    Admitted {
        security_group_id: String,
        source: IngressSource,
    },
    /// No ingress rule of the given security groups admits the port from the cluster.
    NotAdmitted,
    /// Nothing can be said, for the reason given (e.g. the cluster or the groups were not found).
    Unknown { reason: String },
}

impl Admission {
    pub fn is_admitted(&self) -> bool {
        matches!(self, Admission::Admitted { .. })
    }
}

/// The source half of an ingress rule that admits the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressSource {
    /// One of the cluster's security groups.
    SecurityGroup(String),
    /// A CIDR range containing the cluster's VPC.
    Cidr(String),
}

impl fmt::Display for IngressSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngressSource::SecurityGroup(id) => write!(f, "security group {id}"),
            IngressSource::Cidr(cidr) => write!(f, "{cidr}"),
        }
    }
}

/// The EKS cluster's security groups and VPC CIDRs; `None` when the cluster does not exist.
pub async fn cluster_network(
    aws: &AwsContext,
    cluster_name: &str,
) -> Result<Option<ClusterNetwork>, AwsError> {
    let eks = aws_sdk_eks::Client::new(&aws.config);
    let cluster = match eks.describe_cluster().name(cluster_name).send().await {
        Ok(output) => output.cluster,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(error) => {
            return Err(aws.unreachable(&format!("describe EKS cluster {cluster_name}"), &error));
        }
    };
    let Some(cluster) = cluster else {
        return Ok(None);
    };
    let vpc_config = cluster.resources_vpc_config;
    let vpc_id = vpc_config.as_ref().and_then(|c| c.vpc_id.clone());
    let vpc_cidrs = match &vpc_id {
        Some(vpc_id) => vpc_cidrs(aws, vpc_id).await?,
        None => Vec::new(),
    };
    Ok(Some(ClusterNetwork {
        cluster_name: cluster_name.to_string(),
        cluster_security_group_id: vpc_config
            .as_ref()
            .and_then(|c| c.cluster_security_group_id.clone()),
        additional_security_group_ids: vpc_config
            .and_then(|c| c.security_group_ids)
            .unwrap_or_default(),
        vpc_id,
        vpc_cidrs,
    }))
}

/// The associated IPv4 CIDR blocks of `vpc_id` (empty when the VPC is not found).
async fn vpc_cidrs(aws: &AwsContext, vpc_id: &str) -> Result<Vec<String>, AwsError> {
    let ec2 = aws_sdk_ec2::Client::new(&aws.config);
    let output = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| aws.unreachable(&format!("describe VPC {vpc_id}"), &e))?;
    let mut cidrs = Vec::new();
    for vpc in output.vpcs.unwrap_or_default() {
        let associated = vpc
            .cidr_block_association_set
            .unwrap_or_default()
            .into_iter()
            .filter(|a| {
                a.cidr_block_state
                    .as_ref()
                    .and_then(|s| s.state.as_ref())
                    .is_none_or(|s| s.as_str() == "associated")
            })
            .filter_map(|a| a.cidr_block);
        for cidr in associated.chain(vpc.cidr_block) {
            if !cidrs.contains(&cidr) {
                cidrs.push(cidr);
            }
        }
    }
    Ok(cidrs)
}

/// Describes `security_group_ids` (those that do not exist are left out).
pub async fn security_groups(
    aws: &AwsContext,
    security_group_ids: &[String],
) -> Result<Vec<SecurityGroup>, AwsError> {
    if security_group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ec2 = aws_sdk_ec2::Client::new(&aws.config);
    let mut pages = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-id")
                .set_values(Some(security_group_ids.to_vec()))
                .build(),
        )
        .into_paginator()
        .send();
    let mut groups = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws.unreachable(
                &format!("describe security groups {}", security_group_ids.join(", ")),
                &e,
            )
        })?;
        groups.extend(page.security_groups.unwrap_or_default());
    }
    Ok(groups)
}

/// Whether an ingress rule of `security_group_ids` admits TCP `port` from the cluster.
pub async fn ingress_admission(
    aws: &AwsContext,
    security_group_ids: &[String],
    port: u16,
    from: &ClusterNetwork,
) -> Result<Admission, AwsError> {
    if security_group_ids.is_empty() {
        return Ok(Admission::Unknown {
            reason: "no security groups to inspect".into(),
        });
    }
    let groups = security_groups(aws, security_group_ids).await?;
    if groups.is_empty() {
        return Ok(Admission::Unknown {
            reason: format!(
                "security groups {} do not exist in this account and region",
                security_group_ids.join(", ")
            ),
        });
    }
    Ok(admission(&groups, port, from))
}

/// Whether an ingress rule of `groups` admits TCP `port` from one of the cluster's security
/// groups, or from CIDR ranges that together contain every CIDR block of the cluster's VPC.
pub fn admission(groups: &[SecurityGroup], port: u16, from: &ClusterNetwork) -> Admission {
    let cluster_groups = from.security_group_ids();
    let mut cidr_grants: Vec<(&str, &str)> = Vec::new();
    for group in groups {
        let group_id = group.group_id.as_deref().unwrap_or_default();
        for rule in group.ip_permissions() {
            if !rule_covers_tcp_port(rule, port) {
                continue;
            }
            let source_group = rule
                .user_id_group_pairs()
                .iter()
                .filter_map(|pair| pair.group_id.as_deref())
                .find(|id| cluster_groups.contains(id));
            if let Some(source_group) = source_group {
                return Admission::Admitted {
                    security_group_id: group_id.to_string(),
                    source: IngressSource::SecurityGroup(source_group.to_string()),
                };
            }
            for range in rule.ip_ranges() {
                if let Some(cidr) = range.cidr_ip.as_deref() {
                    cidr_grants.push((group_id, cidr));
                }
            }
        }
    }
    if from.vpc_cidrs.is_empty() {
        return Admission::NotAdmitted;
    }
    let covering: Vec<Option<&(&str, &str)>> = from
        .vpc_cidrs
        .iter()
        .map(|vpc_cidr| {
            cidr_grants
                .iter()
                .find(|(_, cidr)| cidr_contains(cidr, vpc_cidr))
        })
        .collect();
    match covering.first() {
        Some(Some((group_id, cidr))) if covering.iter().all(Option::is_some) => {
            Admission::Admitted {
                security_group_id: group_id.to_string(),
                source: IngressSource::Cidr(cidr.to_string()),
            }
        }
        _ => Admission::NotAdmitted,
    }
}

/// Whether an ingress rule applies to TCP `port`: all traffic (`-1`), or TCP with a port range holding it.
fn rule_covers_tcp_port(rule: &IpPermission, port: u16) -> bool {
    match rule.ip_protocol.as_deref() {
        Some("-1") => true,
        Some("tcp" | "6") => match (rule.from_port, rule.to_port) {
            (Some(from), Some(to)) => (from..=to).contains(&i32::from(port)),
            (None, None) => true,
            _ => false,
        },
        _ => false,
    }
}

/// An IPv4 CIDR as (network address, prefix length).
fn parse_ipv4_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (address, prefix) = cidr.trim().split_once('/')?;
    let address: Ipv4Addr = address.parse().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    (prefix <= 32).then_some((u32::from(address), prefix))
}

/// Whether the IPv4 range `outer` contains all of `inner`.
fn cidr_contains(outer: &str, inner: &str) -> bool {
    let (Some((outer_address, outer_prefix)), Some((inner_address, inner_prefix))) =
        (parse_ipv4_cidr(outer), parse_ipv4_cidr(inner))
    else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - outer_prefix).unwrap_or(0);
    outer_prefix <= inner_prefix && outer_address & mask == inner_address & mask
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{IpRange, UserIdGroupPair};

    use super::*;

    fn network() -> ClusterNetwork {
        ClusterNetwork {
            cluster_name: "ticket-cluster".into(),
            cluster_security_group_id: Some("sg-eks".into()),
            additional_security_group_ids: vec!["sg-extra".into(), "sg-eks".into()],
            vpc_id: Some("vpc-1".into()),
            vpc_cidrs: vec!["10.180.0.0/16".into()],
        }
    }

    fn group(id: &str, rules: Vec<IpPermission>) -> SecurityGroup {
        SecurityGroup::builder()
            .group_id(id)
            .set_ip_permissions(Some(rules))
            .build()
    }

    fn tcp(from: i32, to: i32) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(from)
            .to_port(to)
    }

    fn from_group(id: &str) -> UserIdGroupPair {
        UserIdGroupPair::builder().group_id(id).build()
    }

    fn from_cidr(cidr: &str) -> IpRange {
        IpRange::builder().cidr_ip(cidr).build()
    }

    #[test]
    fn cluster_security_groups_come_eks_created_first_without_repeats() {
        assert_eq!(network().security_group_ids(), ["sg-eks", "sg-extra"]);
    }

    #[test]
    fn a_rule_from_the_cluster_security_group_admits() {
        let groups = [group(
            "sg-redis",
            vec![
                tcp(6379, 6379)
                    .user_id_group_pairs(from_group("sg-eks"))
                    .build(),
            ],
        )];
        assert_eq!(
            admission(&groups, 6379, &network()),
            Admission::Admitted {
                security_group_id: "sg-redis".into(),
                source: IngressSource::SecurityGroup("sg-eks".into()),
            }
        );
    }

    #[test]
    fn a_rule_from_another_security_group_does_not_admit() {
        let groups = [group(
            "sg-redis",
            vec![
                tcp(6379, 6379)
                    .user_id_group_pairs(from_group("sg-bastion"))
                    .build(),
            ],
        )];
        assert_eq!(admission(&groups, 6379, &network()), Admission::NotAdmitted);
    }

    #[test]
    fn a_rule_for_other_ports_does_not_admit() {
        let groups = [group(
            "sg-redis",
            vec![
                tcp(6380, 6390)
                    .user_id_group_pairs(from_group("sg-eks"))
                    .build(),
            ],
        )];
        assert_eq!(admission(&groups, 6379, &network()), Admission::NotAdmitted);
        let udp = IpPermission::builder()
            .ip_protocol("udp")
            .from_port(0)
            .to_port(65535)
            .user_id_group_pairs(from_group("sg-eks"))
            .build();
        assert_eq!(
            admission(&[group("sg-redis", vec![udp])], 6379, &network()),
            Admission::NotAdmitted
        );
    }

    #[test]
    fn an_all_traffic_rule_admits_any_port() {
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .user_id_group_pairs(from_group("sg-extra"))
            .build();
        assert!(admission(&[group("sg-redis", vec![all])], 6379, &network()).is_admitted());
    }

    #[test]
    fn a_cidr_containing_the_vpc_admits_and_a_narrower_one_does_not() {
        let wide = [group(
            "sg-redis",
            vec![tcp(6379, 6379).ip_ranges(from_cidr("10.0.0.0/8")).build()],
        )];
        assert_eq!(
            admission(&wide, 6379, &network()),
            Admission::Admitted {
                security_group_id: "sg-redis".into(),
                source: IngressSource::Cidr("10.0.0.0/8".into()),
            }
        );
        let narrow = [group(
            "sg-redis",
            vec![
                tcp(6379, 6379)
                    .ip_ranges(from_cidr("10.180.1.0/24"))
                    .build(),
            ],
        )];
        assert_eq!(admission(&narrow, 6379, &network()), Admission::NotAdmitted);
        let anywhere = [group(
            "sg-redis",
            vec![tcp(0, 65535).ip_ranges(from_cidr("0.0.0.0/0")).build()],
        )];
        assert!(admission(&anywhere, 6379, &network()).is_admitted());
    }

    #[test]
    fn every_vpc_cidr_block_must_be_admitted() {
        let mut network = network();
        network.vpc_cidrs.push("100.64.0.0/16".into());
        let primary_only = [group(
            "sg-redis",
            vec![
                tcp(6379, 6379)
                    .ip_ranges(from_cidr("10.180.0.0/16"))
                    .build(),
            ],
        )];
        assert_eq!(
            admission(&primary_only, 6379, &network),
            Admission::NotAdmitted
        );
        let both = [group(
            "sg-redis",
            vec![
                tcp(6379, 6379)
                    .ip_ranges(from_cidr("10.180.0.0/16"))
                    .ip_ranges(from_cidr("100.64.0.0/10"))
                    .build(),
            ],
        )];
        assert!(admission(&both, 6379, &network).is_admitted());
    }

    #[test]
    fn cidr_containment_is_by_prefix() {
        assert!(cidr_contains("0.0.0.0/0", "10.180.0.0/16"));
        assert!(cidr_contains("10.180.0.0/16", "10.180.0.0/16"));
        assert!(!cidr_contains("10.180.0.0/17", "10.180.0.0/16"));
        assert!(!cidr_contains("10.181.0.0/16", "10.180.0.0/16"));
        assert!(!cidr_contains("garbage", "10.180.0.0/16"));
        assert!(!cidr_contains("10.0.0.0/33", "10.180.0.0/16"));
    }
}
