//! Whether a workload's ElastiCache Redis admits the EKS cluster, read from moto's real server.

use tacos::aws::ec2::{Admission, IngressSource};
use tacos::aws::elasticache::{SecurityGroupSource, check_cache_reachable};
use tacos::aws::{AwsContext, AwsTarget};
use tacos_testenv::AwsEmulator;
use tacos_testenv::aws::{ACCOUNT_ID, AcmValidation, REGION};
use tacos_testenv::aws_network::{ClusterVpc, REDIS_PORT, RedisIngress};

const CLUSTER: &str = "ticket-cluster";

async fn context(aws: &AwsEmulator) -> AwsContext {
    AwsContext {
        config: aws.sdk_config().await,
        target: AwsTarget {
            account: ACCOUNT_ID.into(),
            profile: None,
            region: REGION.into(),
        },
        caller_arn: String::new(),
    }
}

async fn platform_network(aws: &AwsEmulator) -> ClusterVpc {
    aws.seed_cluster_network(CLUSTER, "1.35").await.unwrap()
}

#[tokio::test]
async fn a_cache_whose_security_group_admits_the_cluster_security_group_is_admitted() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    let vpc = platform_network(&aws).await;
    let redis = aws
        .seed_redis(
            &vpc,
            "traffic-tacos-redis",
            RedisIngress::FromClusterSecurityGroup,
        )
        .await
        .unwrap();

    let access = check_cache_reachable(
        &context(&aws).await,
        CLUSTER,
        &redis.configuration_endpoint,
        REDIS_PORT,
    )
    .await
    .unwrap()
    .expect("the configuration endpoint is an ElastiCache endpoint");

    assert_eq!(access.cache.cache_id, "traffic-tacos-redis");
    assert_eq!(access.cache.endpoint_port, Some(REDIS_PORT));
    assert_eq!(
        access.cache.security_group_ids,
        [redis.security_group_id.as_str()]
    );
    // moto returns no SecurityGroups for cache clusters; the network interfaces name them.
    assert_eq!(
        access.cache.security_groups_from,
        SecurityGroupSource::NetworkInterfaces
    );
    assert_eq!(
        access.cluster_security_group_ids(),
        [vpc.cluster_security_group_id.as_str()]
    );
    assert_eq!(
        access.admission,
        Admission::Admitted {
            security_group_id: redis.security_group_id,
            source: IngressSource::SecurityGroup(vpc.cluster_security_group_id),
        }
    );
    assert_eq!(access.authorize_command(&context(&aws).await.target), None);
}

#[tokio::test]
async fn a_cache_without_an_ingress_rule_is_refused_naming_both_security_groups() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    let vpc = platform_network(&aws).await;
    let redis = aws
        .seed_redis(&vpc, "traffic-tacos-redis", RedisIngress::Nothing)
        .await
        .unwrap();
    let context = context(&aws).await;

    let access = check_cache_reachable(&context, CLUSTER, &redis.configuration_endpoint, 6379)
        .await
        .unwrap()
        .expect("the configuration endpoint is an ElastiCache endpoint");

    assert_eq!(access.admission, Admission::NotAdmitted);
    assert_eq!(
        access.to_string(),
        format!(
            "ElastiCache traffic-tacos-redis's security group {} does not admit TCP 6379 from the cluster's security group {} or its VPC CIDR 10.180.0.0/16",
            redis.security_group_id, vpc.cluster_security_group_id
        )
    );
    assert_eq!(
        access.authorize_command(&context.target).unwrap(),
        format!(
            "aws ec2 authorize-security-group-ingress --group-id {} --protocol tcp --port 6379 --source-group {} --region ap-northeast-2",
            redis.security_group_id, vpc.cluster_security_group_id
        )
    );
}

#[tokio::test]
async fn a_cidr_rule_containing_the_cluster_vpc_admits() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    let vpc = platform_network(&aws).await;
    let redis = aws
        .seed_redis(
            &vpc,
            "traffic-tacos-redis",
            RedisIngress::FromCidr("10.0.0.0/8".into()),
        )
        .await
        .unwrap();

    let access = check_cache_reachable(
        &context(&aws).await,
        CLUSTER,
        &redis.configuration_endpoint,
        REDIS_PORT,
    )
    .await
    .unwrap()
    .expect("the configuration endpoint is an ElastiCache endpoint");

    assert_eq!(
        access.admission,
        Admission::Admitted {
            security_group_id: redis.security_group_id,
            source: IngressSource::Cidr("10.0.0.0/8".into()),
        }
    );
}

#[tokio::test]
async fn a_host_that_is_no_cache_endpoint_is_none() {
    let aws = AwsEmulator::start(AcmValidation::Immediate).await.unwrap();
    let vpc = platform_network(&aws).await;
    aws.seed_redis(
        &vpc,
        "traffic-tacos-redis",
        RedisIngress::FromClusterSecurityGroup,
    )
    .await
    .unwrap();

    let access = check_cache_reachable(
        &context(&aws).await,
        CLUSTER,
        "redis-master.tacos-app.svc.cluster.local",
        REDIS_PORT,
    )
    .await
    .unwrap();

    assert_eq!(access, None);
}
