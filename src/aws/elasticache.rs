//! ElastiCache: which cache a Redis host names, the security groups in front of it, and whether they admit the EKS cluster.

use std::fmt;

use aws_sdk_elasticache::types::{CacheCluster, Endpoint, ReplicationGroup};

use super::ec2::{self, Admission, ClusterNetwork};
use super::{AwsContext, AwsError, AwsTarget};

/// How the cache was found: a replication group, or a cache cluster outside any group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    ReplicationGroup,
    CacheCluster,
}

/// Where the cache's security groups were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityGroupSource {
    /// `SecurityGroups` of the member cache clusters (DescribeCacheClusters).
    CacheClusters,
    /// The groups of the network interfaces ElastiCache creates for the member clusters, described
    /// `ElastiCache <cache-cluster-id>`; read when DescribeCacheClusters names no group.
    NetworkInterfaces,
    /// Neither names any group.
    NotFound,
}

/// The ElastiCache cache behind a host, and the security groups in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEndpoint {
    /// The replication group id, or the cache cluster id for a cluster outside any group.
    pub cache_id: String,
    pub kind: CacheKind,
    pub engine: Option<String>,
    /// The port ElastiCache reports for the matched endpoint.
    pub endpoint_port: Option<u16>,
    pub member_cluster_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub security_groups_from: SecurityGroupSource,
}

/// What was found about a workload's cache: the cache, the cluster's network, and whether the
/// cache's security groups admit the workload's port from the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheAccess {
    pub cache: CacheEndpoint,
    /// `None` when the EKS cluster does not exist (then `admission` is `Unknown`).
    pub cluster: Option<ClusterNetwork>,
    /// The port the workload connects to.
    pub port: u16,
    pub admission: Admission,
}

impl CacheAccess {
    /// The security groups the cluster's traffic carries, the EKS-created one first.
    pub fn cluster_security_group_ids(&self) -> Vec<&str> {
        self.cluster
            .as_ref()
            .map(ClusterNetwork::security_group_ids)
            .unwrap_or_default()
    }

    /// The command that admits the port from the cluster's security group, when it is not admitted.
    pub fn authorize_command(&self, target: &AwsTarget) -> Option<String> {
        if self.admission != Admission::NotAdmitted {
            return None;
        }
        let cache_group = self.cache.security_group_ids.first()?;
        let cluster_group = self.cluster_security_group_ids().first().copied()?;
        let mut command = format!(
            "aws ec2 authorize-security-group-ingress --group-id {cache_group} --protocol tcp --port {} --source-group {cluster_group} --region {}",
            self.port, target.region
        );
        if let Some(profile) = &target.profile {
            command.push_str(&format!(" --profile {profile}"));
        }
        Some(command)
    }
}

impl fmt::Display for CacheAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = &self.cache.cache_id;
        let port = self.port;
        match &self.admission {
            Admission::Admitted {
                security_group_id,
                source,
            } => write!(
                f,
                "ElastiCache {cache}'s security group {security_group_id} admits TCP {port} from {source}"
            ),
            Admission::NotAdmitted => {
                let cache_groups = &self.cache.security_group_ids;
                let cluster_groups = self.cluster_security_group_ids();
                write!(
                    f,
                    "ElastiCache {cache}'s security group{} {} {} not admit TCP {port} from the cluster's security group{} {}",
                    plural(cache_groups.len()),
                    cache_groups.join(", "),
                    if cache_groups.len() == 1 {
                        "does"
                    } else {
                        "do"
                    },
                    plural(cluster_groups.len()),
                    cluster_groups.join(", "),
                )?;
                match self.cluster.as_ref().map(|c| c.vpc_cidrs.as_slice()) {
                    Some(cidrs) if !cidrs.is_empty() => {
                        write!(f, " or its VPC CIDR {}", cidrs.join(", "))
                    }
                    _ => Ok(()),
                }
            }
            Admission::Unknown { reason } => write!(
                f,
                "whether ElastiCache {cache} admits TCP {port} from the cluster is unknown: {reason}"
            ),
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Finds the ElastiCache cache `host` names and whether its security groups admit TCP `port`
/// from EKS cluster `cluster_name`; `None` when `host` is no ElastiCache endpoint in this
/// account and region.
pub async fn check_cache_reachable(
    aws: &AwsContext,
    cluster_name: &str,
    host: &str,
    port: u16,
) -> Result<Option<CacheAccess>, AwsError> {
    let Some(cache) = find_cache(aws, host).await? else {
        return Ok(None);
    };
    let cluster = ec2::cluster_network(aws, cluster_name).await?;
    let admission = match &cluster {
        None => Admission::Unknown {
            reason: format!("EKS cluster {cluster_name} does not exist ({})", aws.target),
        },
        Some(_) if cache.security_group_ids.is_empty() => Admission::Unknown {
            reason: format!(
                "no security group found for ElastiCache {} (its cache clusters and their network interfaces name none)",
                cache.cache_id
            ),
        },
        Some(network) => {
            ec2::ingress_admission(aws, &cache.security_group_ids, port, network).await?
        }
    };
    Ok(Some(CacheAccess {
        cache,
        cluster,
        port,
        admission,
    }))
}

/// The ElastiCache cache whose primary, reader, configuration or node endpoint is `host`
/// (a bare host name, compared without case or trailing dot), with its security groups.
pub async fn find_cache(aws: &AwsContext, host: &str) -> Result<Option<CacheEndpoint>, AwsError> {
    let elasticache = aws_sdk_elasticache::Client::new(&aws.config);
    let mut replication_groups = Vec::new();
    let mut pages = elasticache
        .describe_replication_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| aws.unreachable("describe ElastiCache replication groups", &e))?;
        replication_groups.extend(page.replication_groups.unwrap_or_default());
    }
    let mut cache_clusters = Vec::new();
    let mut pages = elasticache
        .describe_cache_clusters()
        .show_cache_node_info(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.unreachable("describe ElastiCache cache clusters", &e))?;
        cache_clusters.extend(page.cache_clusters.unwrap_or_default());
    }
    let Some(mut cache) = match_host(&replication_groups, &cache_clusters, host) else {
        return Ok(None);
    };
    if cache.security_group_ids.is_empty() {
        let from_interfaces =
            network_interface_security_groups(aws, &cache.member_cluster_ids).await?;
        if !from_interfaces.is_empty() {
            cache.security_group_ids = from_interfaces;
            cache.security_groups_from = SecurityGroupSource::NetworkInterfaces;
        }
    }
    Ok(Some(cache))
}

/// The cache `host` names among described replication groups and cache clusters, with the
/// security groups DescribeCacheClusters gives for its members.
fn match_host(
    replication_groups: &[ReplicationGroup],
    cache_clusters: &[CacheCluster],
    host: &str,
) -> Option<CacheEndpoint> {
    let host = normalized_host(host);
    let in_group = replication_groups.iter().find_map(|group| {
        replication_group_endpoints(group)
            .find(|e| endpoint_is(e, &host))
            .map(|e| (group, endpoint_port(e)))
    });
    let in_group = in_group.or_else(|| {
        cache_clusters.iter().find_map(|cluster| {
            let endpoint = cache_cluster_endpoints(cluster).find(|e| endpoint_is(e, &host))?;
            let group_id = cluster.replication_group_id.as_deref()?;
            let group = replication_groups
                .iter()
                .find(|g| g.replication_group_id.as_deref() == Some(group_id))?;
            Some((group, endpoint_port(endpoint)))
        })
    });
    let (cache_id, kind, engine, endpoint_port, member_cluster_ids) = match in_group {
        Some((group, port)) => {
            let members = group.member_clusters().to_vec();
            let engine = group.engine.clone().or_else(|| {
                cache_clusters
                    .iter()
                    .find(|c| {
                        c.cache_cluster_id
                            .as_ref()
                            .is_some_and(|id| members.contains(id))
                    })
                    .and_then(|c| c.engine.clone())
            });
            (
                group.replication_group_id.clone().unwrap_or_default(),
                CacheKind::ReplicationGroup,
                engine,
                port,
                members,
            )
        }
        None => {
            let (cluster, port) = cache_clusters.iter().find_map(|cluster| {
                cache_cluster_endpoints(cluster)
                    .find(|e| endpoint_is(e, &host))
                    .map(|e| (cluster, endpoint_port(e)))
            })?;
            let id = cluster.cache_cluster_id.clone().unwrap_or_default();
            (
                id.clone(),
                CacheKind::CacheCluster,
                cluster.engine.clone(),
                port,
                vec![id],
            )
        }
    };
    let mut security_group_ids: Vec<String> = Vec::new();
    for cluster in cache_clusters.iter().filter(|c| {
        c.cache_cluster_id
            .as_ref()
            .is_some_and(|id| member_cluster_ids.contains(id))
    }) {
        for id in cluster
            .security_groups()
            .iter()
            .filter_map(|m| m.security_group_id.clone())
        {
            if !security_group_ids.contains(&id) {
                security_group_ids.push(id);
            }
        }
    }
    let security_groups_from = if security_group_ids.is_empty() {
        SecurityGroupSource::NotFound
    } else {
        SecurityGroupSource::CacheClusters
    };
    Some(CacheEndpoint {
        cache_id,
        kind,
        engine,
        endpoint_port,
        member_cluster_ids,
        security_group_ids,
        security_groups_from,
    })
}

/// The security groups of the network interfaces ElastiCache created for `cache_cluster_ids`.
async fn network_interface_security_groups(
    aws: &AwsContext,
    cache_cluster_ids: &[String],
) -> Result<Vec<String>, AwsError> {
    if cache_cluster_ids.is_empty() {
        return Ok(Vec::new());
    }
    let descriptions: Vec<String> = cache_cluster_ids
        .iter()
        .map(|id| format!("ElastiCache {id}"))
        .collect();
    let ec2 = aws_sdk_ec2::Client::new(&aws.config);
    let mut pages = ec2
        .describe_network_interfaces()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("description")
                .set_values(Some(descriptions))
                .build(),
        )
        .into_paginator()
        .send();
    let mut security_group_ids: Vec<String> = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws.unreachable(
                &format!(
                    "describe the network interfaces of ElastiCache clusters {}",
                    cache_cluster_ids.join(", ")
                ),
                &e,
            )
        })?;
        for interface in page.network_interfaces.unwrap_or_default() {
            for id in interface.groups().iter().filter_map(|g| g.group_id.clone()) {
                if !security_group_ids.contains(&id) {
                    security_group_ids.push(id);
                }
            }
        }
    }
    Ok(security_group_ids)
}

fn replication_group_endpoints(group: &ReplicationGroup) -> impl Iterator<Item = &Endpoint> {
    group
        .configuration_endpoint
        .iter()
        .chain(group.node_groups().iter().flat_map(|node_group| {
            node_group
                .primary_endpoint
                .iter()
                .chain(&node_group.reader_endpoint)
                .chain(
                    node_group
                        .node_group_members()
                        .iter()
                        .filter_map(|member| member.read_endpoint.as_ref()),
                )
        }))
}

fn cache_cluster_endpoints(cluster: &CacheCluster) -> impl Iterator<Item = &Endpoint> {
    cluster.configuration_endpoint.iter().chain(
        cluster
            .cache_nodes()
            .iter()
            .filter_map(|node| node.endpoint.as_ref()),
    )
}

fn normalized_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn endpoint_is(endpoint: &Endpoint, host: &str) -> bool {
    endpoint
        .address
        .as_deref()
        .is_some_and(|address| normalized_host(address) == host)
}

fn endpoint_port(endpoint: &Endpoint) -> Option<u16> {
    endpoint.port.and_then(|p| u16::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticache::types::{
        CacheNode, NodeGroup, NodeGroupMember, SecurityGroupMembership,
    };

    use super::*;

    fn endpoint(address: &str) -> Endpoint {
        Endpoint::builder().address(address).port(6379).build()
    }

    fn member_cluster(id: &str, group: &str, security_group: &str) -> CacheCluster {
        CacheCluster::builder()
            .cache_cluster_id(id)
            .replication_group_id(group)
            .engine("redis")
            .cache_nodes(
                CacheNode::builder()
                    .endpoint(endpoint(&format!("{id}.tacos.apn2.cache.amazonaws.com")))
                    .build(),
            )
            .security_groups(
                SecurityGroupMembership::builder()
                    .security_group_id(security_group)
                    .status("active")
                    .build(),
            )
            .build()
    }

    fn cluster_mode_group() -> ReplicationGroup {
        ReplicationGroup::builder()
            .replication_group_id("traffic-tacos-redis")
            .configuration_endpoint(endpoint(
                "clustercfg.traffic-tacos-redis.xxxxxx.apn2.cache.amazonaws.com",
            ))
            .member_clusters("traffic-tacos-redis-0001-001")
            .member_clusters("traffic-tacos-redis-0001-002")
            .build()
    }

    fn members() -> Vec<CacheCluster> {
        vec![
            member_cluster(
                "traffic-tacos-redis-0001-001",
                "traffic-tacos-redis",
                "sg-a",
            ),
            member_cluster(
                "traffic-tacos-redis-0001-002",
                "traffic-tacos-redis",
                "sg-b",
            ),
            member_cluster("other-0001-001", "other", "sg-other"),
        ]
    }

    #[test]
    fn a_configuration_endpoint_names_its_replication_group_and_member_security_groups() {
        let cache = match_host(
            &[cluster_mode_group()],
            &members(),
            "ClusterCfg.traffic-tacos-redis.xxxxxx.apn2.cache.amazonaws.com.",
        )
        .unwrap();
        assert_eq!(cache.cache_id, "traffic-tacos-redis");
        assert_eq!(cache.kind, CacheKind::ReplicationGroup);
        assert_eq!(cache.engine.as_deref(), Some("redis"));
        assert_eq!(cache.endpoint_port, Some(6379));
        assert_eq!(cache.security_group_ids, ["sg-a", "sg-b"]);
        assert_eq!(
            cache.security_groups_from,
            SecurityGroupSource::CacheClusters
        );
    }

    #[test]
    fn primary_reader_and_member_endpoints_name_the_replication_group() {
        let group = ReplicationGroup::builder()
            .replication_group_id("tacos")
            .node_groups(
                NodeGroup::builder()
                    .primary_endpoint(endpoint("master.tacos.apn2.cache.amazonaws.com"))
                    .reader_endpoint(endpoint("replica.tacos.apn2.cache.amazonaws.com"))
                    .node_group_members(
                        NodeGroupMember::builder()
                            .read_endpoint(endpoint("tacos-001.tacos.apn2.cache.amazonaws.com"))
                            .build(),
                    )
                    .build(),
            )
            .build();
        for host in [
            "master.tacos.apn2.cache.amazonaws.com",
            "replica.tacos.apn2.cache.amazonaws.com",
            "tacos-001.tacos.apn2.cache.amazonaws.com",
        ] {
            let cache = match_host(std::slice::from_ref(&group), &[], host).unwrap();
            assert_eq!(cache.cache_id, "tacos", "{host}");
            assert_eq!(cache.security_groups_from, SecurityGroupSource::NotFound);
        }
    }

    #[test]
    fn a_node_endpoint_of_a_member_cluster_names_its_replication_group() {
        let cache = match_host(
            &[cluster_mode_group()],
            &members(),
            "traffic-tacos-redis-0001-002.tacos.apn2.cache.amazonaws.com",
        )
        .unwrap();
        assert_eq!(cache.cache_id, "traffic-tacos-redis");
        assert_eq!(cache.security_group_ids, ["sg-a", "sg-b"]);
    }

    #[test]
    fn a_node_endpoint_of_a_standalone_cluster_names_that_cluster() {
        let cache = match_host(
            &[cluster_mode_group()],
            &members(),
            "other-0001-001.tacos.apn2.cache.amazonaws.com",
        )
        .unwrap();
        assert_eq!(cache.cache_id, "other-0001-001");
        assert_eq!(cache.kind, CacheKind::CacheCluster);
        assert_eq!(cache.security_group_ids, ["sg-other"]);
    }

    #[test]
    fn a_host_no_endpoint_has_is_no_cache() {
        assert_eq!(
            match_host(&[cluster_mode_group()], &members(), "redis.tacos-app.svc"),
            None
        );
    }

    fn access(admission: Admission) -> CacheAccess {
        CacheAccess {
            cache: CacheEndpoint {
                cache_id: "traffic-tacos-redis".into(),
                kind: CacheKind::ReplicationGroup,
                engine: Some("redis".into()),
                endpoint_port: Some(6379),
                member_cluster_ids: vec!["traffic-tacos-redis-0001-001".into()],
                security_group_ids: vec!["sg-redis".into()],
                security_groups_from: SecurityGroupSource::CacheClusters,
            },
            cluster: Some(ClusterNetwork {
                cluster_name: "ticket-cluster".into(),
                cluster_security_group_id: Some("sg-eks".into()),
                additional_security_group_ids: vec![],
                vpc_id: Some("vpc-1".into()),
                vpc_cidrs: vec!["10.180.0.0/16".into()],
            }),
            port: 6379,
            admission,
        }
    }

    #[test]
    fn a_refused_cache_names_both_groups_and_the_command_that_admits() {
        let access = access(Admission::NotAdmitted);
        assert_eq!(
            access.to_string(),
            "ElastiCache traffic-tacos-redis's security group sg-redis does not admit TCP 6379 from the cluster's security group sg-eks or its VPC CIDR 10.180.0.0/16"
        );
        let target = AwsTarget {
            account: "137406935518".into(),
            profile: Some("tacos".into()),
            region: "ap-northeast-2".into(),
        };
        assert_eq!(
            access.authorize_command(&target).unwrap(),
            "aws ec2 authorize-security-group-ingress --group-id sg-redis --protocol tcp --port 6379 --source-group sg-eks --region ap-northeast-2 --profile tacos"
        );
    }

    #[test]
    fn an_admitted_cache_needs_no_command() {
        let access = access(Admission::Admitted {
            security_group_id: "sg-redis".into(),
            source: ec2::IngressSource::SecurityGroup("sg-eks".into()),
        });
        assert_eq!(
            access.to_string(),
            "ElastiCache traffic-tacos-redis's security group sg-redis admits TCP 6379 from security group sg-eks"
        );
        let target = AwsTarget {
            account: "137406935518".into(),
            profile: None,
            region: "ap-northeast-2".into(),
        };
        assert_eq!(access.authorize_command(&target), None);
    }
}
