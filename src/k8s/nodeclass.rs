//! What leaves a Karpenter EC2NodeClass's nodes soft: IMDSv1, a long metadata hop limit, EBS volumes not marked encrypted; judged the same on the tree's objects (lint) and the cluster's (verify).

use serde_json::Value;

/// The API group of EC2NodeClass.
pub const GROUP: &str = "karpenter.k8s.aws";
/// The version Karpenter v1 serves it at.
pub const VERSION: &str = "v1";
/// The kind.
pub const KIND: &str = "EC2NodeClass";

/// The highest metadata hop limit a node may have: 1 (Karpenter's default) keeps pods off the
/// metadata service, 2 lets containers in pods reach it (what EKS managed node groups set); more
/// serves nothing.
pub const MAX_HOP_LIMIT: i32 = 2;

/// One way an EC2NodeClass's spec leaves its nodes soft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    /// `metadataOptions.httpTokens` is not `required`.
    ImdsV1 { tokens: String },
    /// `metadataOptions.httpPutResponseHopLimit` is above [`MAX_HOP_LIMIT`].
    LongHopLimit { hops: i64 },
    /// A `blockDeviceMappings` entry that does not say `ebs.encrypted: true`.
    UnencryptedVolume {
        index: usize,
        device: String,
        root: bool,
    },
    /// `amiFamily: Custom` with no mappings: the AMI's own mapping decides.
    CustomAmiUnmapped,
}

impl Weakness {
    /// The JSON pointer of the field at fault, in the object.
    pub fn pointer(&self) -> String {
        match self {
            Weakness::ImdsV1 { .. } => "/spec/metadataOptions/httpTokens".into(),
            Weakness::LongHopLimit { .. } => "/spec/metadataOptions/httpPutResponseHopLimit".into(),
            Weakness::UnencryptedVolume { index, .. } => {
                format!("/spec/blockDeviceMappings/{index}")
            }
            Weakness::CustomAmiUnmapped => "/spec".into(),
        }
    }

    /// What is wrong, in a sentence.
    pub fn message(&self) -> String {
        match self {
            Weakness::ImdsV1 { tokens } => format!("httpTokens is {tokens:?}: the node answers IMDSv1"),
            Weakness::LongHopLimit { hops } => format!(
                "httpPutResponseHopLimit is {hops}: above {MAX_HOP_LIMIT}, the metadata service answers past the pods on the node"
            ),
            Weakness::UnencryptedVolume { device, root, .. } => format!(
                "the volume at {device}{} does not say ebs.encrypted: true: it is encrypted only if the account encrypts EBS by default",
                if *root { " (the root volume)" } else { "" }
            ),
            Weakness::CustomAmiUnmapped => "amiFamily Custom with no blockDeviceMappings: the AMI's own mapping decides whether the root volume is encrypted".into(),
        }
    }
}

/// Every weakness of an EC2NodeClass `spec`. Fields left out take Karpenter's defaults, which are
/// hardened (httpTokens required, hop limit 1, encrypted mappings for every AMI family but Custom).
pub fn weaknesses(spec: &Value) -> Vec<Weakness> {
    let mut found = Vec::new();
    let metadata = &spec["metadataOptions"];
    let endpoint_off = metadata["httpEndpoint"].as_str() == Some("disabled");
    if let Some(tokens) = metadata["httpTokens"].as_str()
        && tokens != "required"
        && !endpoint_off
    {
        found.push(Weakness::ImdsV1 {
            tokens: tokens.to_string(),
        });
    }
    if let Some(hops) = metadata["httpPutResponseHopLimit"].as_i64()
        && hops > i64::from(MAX_HOP_LIMIT)
        && !endpoint_off
    {
        found.push(Weakness::LongHopLimit { hops });
    }
    match spec["blockDeviceMappings"].as_array() {
        Some(mappings) => {
            for (index, mapping) in mappings.iter().enumerate() {
                if mapping["ebs"]["encrypted"] != Value::Bool(true) {
                    found.push(Weakness::UnencryptedVolume {
                        index,
                        device: mapping["deviceName"]
                            .as_str()
                            .unwrap_or("(no deviceName)")
                            .to_string(),
                        root: mapping["rootVolume"] == Value::Bool(true),
                    });
                }
            }
        }
        None if spec["amiFamily"].as_str() == Some("Custom") => {
            found.push(Weakness::CustomAmiUnmapped)
        }
        None => {}
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn karpenters_defaults_are_hardened() {
        assert!(weaknesses(&json!({"role": "KarpenterNodeRole"})).is_empty());
        assert!(
            weaknesses(&json!({"metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}}))
                .is_empty()
        );
    }

    #[test]
    fn each_weakness_is_found_and_the_metadata_endpoint_off_needs_no_tokens() {
        let loose = json!({
            "metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 3},
            "blockDeviceMappings": [
                {"deviceName": "/dev/xvda", "rootVolume": true, "ebs": {"encrypted": false}},
                {"deviceName": "/dev/xvdb", "ebs": {"encrypted": true}}
            ]
        });
        assert_eq!(
            weaknesses(&loose),
            vec![
                Weakness::ImdsV1 {
                    tokens: "optional".into()
                },
                Weakness::LongHopLimit { hops: 3 },
                Weakness::UnencryptedVolume {
                    index: 0,
                    device: "/dev/xvda".into(),
                    root: true
                },
            ]
        );
        let off = json!({"amiFamily": "Custom", "metadataOptions": {"httpEndpoint": "disabled", "httpTokens": "optional", "httpPutResponseHopLimit": 8}});
        assert_eq!(weaknesses(&off), vec![Weakness::CustomAmiUnmapped]);
    }
}
