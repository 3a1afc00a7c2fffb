//! The cluster's node instances in moto: EC2 instances tagged as the cluster's nodes, with the metadata options and root volume a node launch sets.

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, HttpTokensState, InstanceMetadataOptionsRequest,
    InstanceType, ResourceType, Tag, TagSpecification,
};

use crate::aws::AwsEmulator;
use crate::{Result, TestenvError};

/// How a node is launched, as an EC2NodeClass (or launch template) sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLaunch {
    /// The NodePool named in the `karpenter.sh/nodepool` tag.
    pub node_pool: String,
    pub imdsv2_required: bool,
    pub hop_limit: i32,
    pub encrypted_root: bool,
}

impl NodeLaunch {
    /// What Karpenter's EC2NodeClass defaults give: IMDSv2 only, hop limit 1, an encrypted root.
    pub fn karpenter_default(node_pool: &str) -> Self {
        Self {
            node_pool: node_pool.to_string(),
            imdsv2_required: true,
            hop_limit: 1,
            encrypted_root: true,
        }
    }
}

fn aws_error(action: &str, error: impl std::error::Error) -> TestenvError {
    TestenvError::Aws {
        action: action.to_string(),
        message: crate::shared::error_chain(&error),
    }
}

impl AwsEmulator {
    /// Launches one node of `cluster` as `launch` says and returns its instance id. The root
    /// mapping is named after the AMI's root device, as a launch template's is.
    pub async fn seed_node_instance(&self, cluster: &str, launch: &NodeLaunch) -> Result<String> {
        let action = "launch a node instance";
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk_config().await);
        let image = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .map_err(|e| aws_error(action, e))?
            .images
            .unwrap_or_default()
            .into_iter()
            .find(|i| i.root_device_name.is_some())
            .ok_or_else(|| TestenvError::Aws {
                action: action.into(),
                message: "moto lists no Amazon AMI".into(),
            })?;
        let tags = [
            (
                format!("kubernetes.io/cluster/{cluster}"),
                "owned".to_string(),
            ),
            (
                "karpenter.sh/nodepool".to_string(),
                launch.node_pool.clone(),
            ),
        ];
        let output = ec2
            .run_instances()
            .image_id(image.image_id.unwrap_or_default())
            .instance_type(InstanceType::M7i2xlarge)
            .min_count(1)
            .max_count(1)
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(if launch.imdsv2_required {
                        HttpTokensState::Required
                    } else {
                        HttpTokensState::Optional
                    })
                    .http_put_response_hop_limit(launch.hop_limit)
                    .build(),
            )
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(image.root_device_name.unwrap_or_default())
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(20)
                            .encrypted(launch.encrypted_root)
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(
                        tags.iter()
                            .map(|(key, value)| Tag::builder().key(key).value(value).build())
                            .collect(),
                    ))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(action, e))?;
        output
            .instances
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|i| i.instance_id)
            .ok_or_else(|| TestenvError::Aws {
                action: action.into(),
                message: "no instance returned".into(),
            })
    }
}
