//! The VPC side of the platform in moto: the cluster's VPC and security group, the EKS cluster in it, and Redis caches behind security groups of their own.

use aws_sdk_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use aws_sdk_elasticache::types::ClusterMode;

use crate::aws::{ACCOUNT_ID, AwsEmulator, REGION};
use crate::{Result, TestenvError};

/// The IPv4 range of the seeded cluster VPC.
pub const CLUSTER_VPC_CIDR: &str = "10.180.0.0/16";
/// The port every seeded Redis listens on.
pub const REDIS_PORT: u16 = 6379;

/// A VPC with two subnets and the security group EKS would create for the cluster.
#[derive(Debug, Clone)]
pub struct ClusterVpc {
    pub vpc_id: String,
    pub vpc_cidr: String,
    pub subnet_ids: Vec<String>,
    /// Named `eks-cluster-sg-<cluster>` as EKS names the group it creates.
    pub cluster_security_group_id: String,
}

/// Which traffic a Redis's security group admits on the Redis port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisIngress {
    /// A rule whose source is the cluster's security group.
    FromClusterSecurityGroup,
    /// A rule whose source is this CIDR range.
    FromCidr(String),
    /// No ingress rule at all (what the live platform's timeout came from).
    Nothing,
}

/// A cluster-mode Redis replication group as seeded.
#[derive(Debug, Clone)]
pub struct SeededRedis {
    pub replication_group_id: String,
    /// `clustercfg.<id>.<random>.<region>.cache.amazonaws.com`, the host workloads are given.
    pub configuration_endpoint: String,
    pub port: u16,
    pub member_cluster_ids: Vec<String>,
    pub security_group_id: String,
}

fn aws_error(action: &str, error: impl std::error::Error) -> TestenvError {
    TestenvError::Aws {
        action: action.to_string(),
        message: crate::shared::error_chain(&error),
    }
}

fn missing(action: &str, what: &str) -> TestenvError {
    TestenvError::Aws {
        action: action.to_string(),
        message: format!("no {what} returned"),
    }
}

impl AwsEmulator {
    /// Creates the cluster's VPC ([`CLUSTER_VPC_CIDR`]), a subnet in each of two zones, and the
    /// security group EKS would create for cluster `cluster_name`.
    pub async fn seed_cluster_vpc(&self, cluster_name: &str) -> Result<ClusterVpc> {
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk_config().await);
        let vpc_id = ec2
            .create_vpc()
            .cidr_block(CLUSTER_VPC_CIDR)
            .send()
            .await
            .map_err(|e| aws_error("create VPC", e))?
            .vpc
            .and_then(|vpc| vpc.vpc_id)
            .ok_or_else(|| missing("create VPC", "VPC id"))?;
        let mut subnet_ids = Vec::new();
        for (zone, cidr) in [("a", "10.180.1.0/24"), ("c", "10.180.2.0/24")] {
            let subnet_id = ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(cidr)
                .availability_zone(format!("{REGION}{zone}"))
                .send()
                .await
                .map_err(|e| aws_error("create subnet", e))?
                .subnet
                .and_then(|subnet| subnet.subnet_id)
                .ok_or_else(|| missing("create subnet", "subnet id"))?;
            subnet_ids.push(subnet_id);
        }
        let cluster_security_group_id = ec2
            .create_security_group()
            .group_name(format!("eks-cluster-sg-{cluster_name}"))
            .description(format!(
                "EKS created security group for cluster {cluster_name}"
            ))
            .vpc_id(&vpc_id)
            .send()
            .await
            .map_err(|e| aws_error("create cluster security group", e))?
            .group_id
            .ok_or_else(|| missing("create cluster security group", "group id"))?;
        Ok(ClusterVpc {
            vpc_id,
            vpc_cidr: CLUSTER_VPC_CIDR.to_string(),
            subnet_ids,
            cluster_security_group_id,
        })
    }

    /// Creates EKS cluster `name` in `vpc`, described as EKS describes a real one: with
    /// `resourcesVpcConfig.vpcId` and `clusterSecurityGroupId`; compliant like
    /// [`seed_eks_cluster`](Self::seed_eks_cluster).
    ///
    /// moto keeps `resourcesVpcConfig` exactly as sent and fills in neither field itself, and the
    /// SDK's request type has no place for them; so the cluster is created through EKS's REST API
    /// with the two fields EKS would add.
    pub async fn seed_eks_cluster_in_vpc(
        &self,
        name: &str,
        version: &str,
        vpc: &ClusterVpc,
    ) -> Result<()> {
        let action = format!("create EKS cluster {name}");
        let key_arn = self.seed_kms_key(&format!("{name} Secrets")).await?;
        let body = serde_json::json!({
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}],
            "logging": {"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": true}]},
            "name": name,
            "version": version,
            "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}-cluster-role"),
            "resourcesVpcConfig": {
                "subnetIds": vpc.subnet_ids,
                "securityGroupIds": [],
                "clusterSecurityGroupId": vpc.cluster_security_group_id,
                "vpcId": vpc.vpc_id,
                "endpointPublicAccess": false,
                "endpointPrivateAccess": true,
            },
        });
        let scope = format!(
            "Credential=testing/20260101/{REGION}/eks/aws4_request, SignedHeaders=host, Signature=0"
        );
        let response = crate::http_client()
            .post(format!("{}/clusters", self.endpoint))
            .header("Authorization", format!("AWS4-HMAC-SHA256 {scope}"))
            .json(&body)
            .send()
            .await
            .map_err(|e| aws_error(&action, e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(TestenvError::Aws {
                action,
                message: format!("{status}: {text}"),
            });
        }
        Ok(())
    }

    /// [`seed_cluster_vpc`](Self::seed_cluster_vpc) and an EKS cluster in it.
    pub async fn seed_cluster_network(&self, name: &str, version: &str) -> Result<ClusterVpc> {
        let vpc = self.seed_cluster_vpc(name).await?;
        self.seed_eks_cluster_in_vpc(name, version, &vpc).await?;
        Ok(vpc)
    }

    /// Creates a cluster-mode Redis replication group `id` (one shard, one replica) on port
    /// [`REDIS_PORT`] in `vpc`, behind a security group of its own that admits `ingress`.
    ///
    /// moto 5.2.5 keeps the group's security groups but never returns them, and creates no cache
    /// clusters for the members; so each member gets the network interface ElastiCache creates,
    /// described `ElastiCache <cache-cluster-id>` and carrying the cache's security group.
    pub async fn seed_redis(
        &self,
        vpc: &ClusterVpc,
        id: &str,
        ingress: RedisIngress,
    ) -> Result<SeededRedis> {
        let config = self.sdk_config().await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let security_group_id = ec2
            .create_security_group()
            .group_name(format!("{id}-redis"))
            .description(format!("Redis {id}"))
            .vpc_id(&vpc.vpc_id)
            .send()
            .await
            .map_err(|e| aws_error("create Redis security group", e))?
            .group_id
            .ok_or_else(|| missing("create Redis security group", "group id"))?;
        self.authorize_redis_ingress(vpc, &security_group_id, ingress)
            .await?;

        let elasticache = aws_sdk_elasticache::Client::new(&config);
        let subnet_group = format!("{id}-subnets");
        elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(&subnet_group)
            .cache_subnet_group_description(format!("Redis {id}"))
            .set_subnet_ids(Some(vpc.subnet_ids.clone()))
            .send()
            .await
            .map_err(|e| aws_error("create cache subnet group", e))?;
        let action = format!("create replication group {id}");
        let group = elasticache
            .create_replication_group()
            .replication_group_id(id)
            .replication_group_description(format!("Redis {id}"))
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .cluster_mode(ClusterMode::Enabled)
            .num_node_groups(1)
            .replicas_per_node_group(1)
            .port(i32::from(REDIS_PORT))
            .security_group_ids(&security_group_id)
            .cache_subnet_group_name(&subnet_group)
            .send()
            .await
            .map_err(|e| aws_error(&action, e))?
            .replication_group
            .ok_or_else(|| missing(&action, "replication group"))?;
        let configuration_endpoint = group
            .configuration_endpoint
            .and_then(|e| e.address)
            .ok_or_else(|| missing(&action, "configuration endpoint"))?;
        let member_cluster_ids = group.member_clusters.unwrap_or_default();

        for (index, member) in member_cluster_ids.iter().enumerate() {
            let subnet = vpc
                .subnet_ids
                .get(index % vpc.subnet_ids.len().max(1))
                .ok_or_else(|| missing(&action, "subnet in the cluster VPC"))?;
            ec2.create_network_interface()
                .subnet_id(subnet)
                .description(format!("ElastiCache {member}"))
                .groups(&security_group_id)
                .send()
                .await
                .map_err(|e| aws_error(&format!("create network interface of {member}"), e))?;
        }
        Ok(SeededRedis {
            replication_group_id: id.to_string(),
            configuration_endpoint,
            port: REDIS_PORT,
            member_cluster_ids,
            security_group_id,
        })
    }

    /// Adds the ingress rule `ingress` on [`REDIS_PORT`] to `security_group_id` (nothing for
    /// [`RedisIngress::Nothing`]); e.g. what the remedy for a refused cache does.
    pub async fn authorize_redis_ingress(
        &self,
        vpc: &ClusterVpc,
        security_group_id: &str,
        ingress: RedisIngress,
    ) -> Result<()> {
        let rule = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(i32::from(REDIS_PORT))
            .to_port(i32::from(REDIS_PORT));
        let rule = match ingress {
            RedisIngress::Nothing => return Ok(()),
            RedisIngress::FromClusterSecurityGroup => rule.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(&vpc.cluster_security_group_id)
                    .build(),
            ),
            RedisIngress::FromCidr(cidr) => {
                rule.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            }
        };
        aws_sdk_ec2::Client::new(&self.sdk_config().await)
            .authorize_security_group_ingress()
            .group_id(security_group_id)
            .ip_permissions(rule.build())
            .send()
            .await
            .map_err(|e| aws_error("authorize Redis ingress", e))?;
        Ok(())
    }
}
