//! EC2: the cluster's running node instances, their instance-metadata options and root volumes.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Instance};

use super::{AwsContext, AwsError};

/// One running node as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInstance {
    pub instance_id: String,
    pub instance_type: String,
    /// What launched it: `Karpenter NodePool tacos-spot`, `managed node group ng-1`, or `EC2`.
    pub launched_by: String,
    /// `required` (IMDSv2 only) or `optional` (IMDSv1 answers too).
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i32>,
    /// `disabled` turns the metadata endpoint off entirely (nothing to steal).
    pub http_endpoint: Option<String>,
    pub root_device: Option<String>,
    /// Whether the root EBS volume is encrypted; None when EC2 names no root volume.
    pub root_volume_encrypted: Option<bool>,
    pub root_volume_id: Option<String>,
}

/// The tag every node of an EKS cluster carries, whatever launched it (Karpenter, a managed
/// node group, a self-managed group).
pub fn cluster_tag_key(cluster_name: &str) -> String {
    format!("kubernetes.io/cluster/{cluster_name}")
}

/// The running (or starting) instances tagged as `cluster_name`'s nodes, with their root volumes.
pub async fn node_instances(
    aws: &AwsContext,
    cluster_name: &str,
) -> Result<Vec<NodeInstance>, AwsError> {
    let ec2 = aws_sdk_ec2::Client::new(&aws.config);
    let what = format!("describe the EC2 instances of cluster {cluster_name}");
    let mut pages = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values(cluster_tag_key(cluster_name))
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .into_paginator()
        .send();
    let mut instances = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.unreachable(&what, &e))?;
        for reservation in page.reservations.unwrap_or_default() {
            instances.extend(
                reservation
                    .instances
                    .unwrap_or_default()
                    .iter()
                    .map(node_of),
            );
        }
    }
    let volume_ids: Vec<String> = instances
        .iter()
        .filter_map(|i| i.root_volume_id.clone())
        .collect();
    let encrypted = volume_encryption(aws, &volume_ids).await?;
    for instance in &mut instances {
        instance.root_volume_encrypted = instance
            .root_volume_id
            .as_ref()
            .and_then(|id| encrypted.get(id).copied());
    }
    Ok(instances)
}

fn node_of(instance: &Instance) -> NodeInstance {
    let tag = |key: &str| {
        instance
            .tags()
            .iter()
            .find(|t| t.key.as_deref() == Some(key))
            .and_then(|t| t.value.clone())
    };
    let launched_by = if let Some(pool) = tag("karpenter.sh/nodepool") {
        format!("Karpenter NodePool {pool}")
    } else if let Some(group) = tag("eks:nodegroup-name") {
        format!("managed node group {group}")
    } else {
        "EC2".to_string()
    };
    let metadata = instance.metadata_options.as_ref();
    let root_device = instance.root_device_name.clone();
    let root_volume_id = instance
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name.is_some() && m.device_name == root_device)
        .and_then(|m| m.ebs.as_ref())
        .and_then(|ebs| ebs.volume_id.clone());
    NodeInstance {
        instance_id: instance.instance_id.clone().unwrap_or_default(),
        instance_type: instance
            .instance_type
            .as_ref()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        launched_by,
        http_tokens: metadata
            .and_then(|m| m.http_tokens.as_ref())
            .map(|t| t.as_str().to_string()),
        hop_limit: metadata.and_then(|m| m.http_put_response_hop_limit),
        http_endpoint: metadata
            .and_then(|m| m.http_endpoint.as_ref())
            .map(|e| e.as_str().to_string()),
        root_device,
        root_volume_encrypted: None,
        root_volume_id,
    }
}

/// Whether each of `volume_ids` is encrypted (volumes EC2 no longer knows are left out).
async fn volume_encryption(
    aws: &AwsContext,
    volume_ids: &[String],
) -> Result<BTreeMap<String, bool>, AwsError> {
    let mut encrypted = BTreeMap::new();
    if volume_ids.is_empty() {
        return Ok(encrypted);
    }
    let ec2 = aws_sdk_ec2::Client::new(&aws.config);
    // DescribeVolumes takes at most 500 filter values per call.
    for chunk in volume_ids.chunks(500) {
        let mut pages = ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("volume-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws.unreachable("describe the nodes' root volumes", &e))?;
            for volume in page.volumes.unwrap_or_default() {
                if let Some(id) = volume.volume_id {
                    encrypted.insert(id, volume.encrypted.unwrap_or(false));
                }
            }
        }
    }
    Ok(encrypted)
}
