//! Karpenter EC2NodeClasses in the tree: nodes answer instance metadata only over IMDSv2 with a short hop limit, and boot from encrypted volumes.

use serde_json::Value;

use super::{LintContext, subject};
use crate::report::{Finding, RuleInfo, rule};

const FAMILY: &str = "nodes";

rule!(
    IMDSV2_REQUIRED,
    FAMILY,
    "nodes-imdsv2-required",
    Error,
    "the EC2NodeClass requires IMDSv2 (metadataOptions.httpTokens: required, Karpenter's default): with IMDSv1 one SSRF in any pod reads the node role's credentials",
    "set spec.metadataOptions.httpTokens: required (or leave metadataOptions out: Karpenter's default is required)"
);
rule!(
    IMDS_HOP_LIMIT,
    FAMILY,
    "nodes-imds-hop-limit",
    Error,
    "the EC2NodeClass's metadata hop limit is 1 or 2 (1, Karpenter's default, keeps pods off the metadata service; 2 lets containers reach it)",
    "set spec.metadataOptions.httpPutResponseHopLimit: 1 (2 only where pods need IMDS; IRSA needs neither)"
);
rule!(
    VOLUMES_ENCRYPTED,
    FAMILY,
    "nodes-volumes-encrypted",
    Error,
    "every EBS volume the EC2NodeClass maps is encrypted (Karpenter's default mappings are; a mapping written out is encrypted only if it says so or the account encrypts by default)",
    "set ebs.encrypted: true (and ebs.kmsKeyID for a customer-managed key) on every spec.blockDeviceMappings entry"
);

pub const RULES: &[RuleInfo] = &[IMDSV2_REQUIRED, IMDS_HOP_LIMIT, VOLUMES_ENCRYPTED];

/// The highest hop limit the rule accepts.
const MAX_HOP_LIMIT: i64 = 2;

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in context
        .tree
        .objects
        .iter()
        .filter(|o| o.is("karpenter.k8s.aws", "EC2NodeClass"))
    {
        let spec = &object.value["spec"];
        let finding = |rule: &RuleInfo, pointer: &str, message: String| {
            Finding::new(
                rule,
                subject(object),
                Some(object.location_of(pointer)),
                message,
            )
        };
        let metadata = &spec["metadataOptions"];
        let endpoint_off = metadata["httpEndpoint"].as_str() == Some("disabled");
        if let Some(tokens) = metadata["httpTokens"].as_str()
            && tokens != "required"
            && !endpoint_off
        {
            findings.push(finding(
                &IMDSV2_REQUIRED,
                "/spec/metadataOptions/httpTokens",
                format!("httpTokens is {tokens:?}: the node answers IMDSv1"),
            ));
        }
        if let Some(hops) = metadata["httpPutResponseHopLimit"].as_i64()
            && hops > MAX_HOP_LIMIT
            && !endpoint_off
        {
            findings.push(finding(
                &IMDS_HOP_LIMIT,
                "/spec/metadataOptions/httpPutResponseHopLimit",
                format!("httpPutResponseHopLimit is {hops}: above {MAX_HOP_LIMIT}, the metadata service answers past the pods on the node"),
            ));
        }
        match spec["blockDeviceMappings"].as_array() {
            Some(mappings) => {
                for (index, mapping) in mappings.iter().enumerate() {
                    if mapping["ebs"]["encrypted"] != Value::Bool(true) {
                        let device = mapping["deviceName"].as_str().unwrap_or("(no deviceName)");
                        let root = if mapping["rootVolume"] == Value::Bool(true) {
                            " (the root volume)"
                        } else {
                            ""
                        };
                        findings.push(finding(
                            &VOLUMES_ENCRYPTED,
                            &format!("/spec/blockDeviceMappings/{index}"),
                            format!("the volume at {device}{root} does not say ebs.encrypted: true: it is encrypted only if the account encrypts EBS by default"),
                        ));
                    }
                }
            }
            None if custom_ami(spec) => findings.push(finding(
                &VOLUMES_ENCRYPTED,
                "/spec",
                "amiFamily Custom with no blockDeviceMappings: the AMI's own mapping decides whether the root volume is encrypted".into(),
            )),
            None => {}
        }
    }
    findings
}

/// Karpenter maps encrypted volumes by default for every AMI family but Custom.
fn custom_ami(spec: &Value) -> bool {
    spec["amiFamily"].as_str() == Some("Custom")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_and_lines(yaml: &str) -> Vec<(String, usize)> {
        super::super::lint_yaml(check, yaml)
            .into_iter()
            .map(|f| (f.rule.to_string(), f.location.map(|l| l.line).unwrap_or(0)))
            .collect()
    }

    #[test]
    fn karpenter_defaults_pass() {
        let yaml = "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata:\n  name: default\nspec:\n  role: KarpenterNodeRole\n  amiSelectorTerms:\n    - alias: al2023@latest\n";
        assert!(ids_and_lines(yaml).is_empty());
    }

    #[test]
    fn imdsv1_a_long_hop_limit_and_plain_volumes_are_each_named_at_their_line() {
        let yaml = "\
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: loose
spec:
  metadataOptions:
    httpEndpoint: enabled
    httpTokens: optional
    httpPutResponseHopLimit: 3
  blockDeviceMappings:
    - deviceName: /dev/xvda
      rootVolume: true
      ebs:
        volumeSize: 100Gi
        encrypted: true
    - deviceName: /dev/xvdb
      ebs:
        volumeSize: 200Gi
";
        assert_eq!(
            ids_and_lines(yaml),
            vec![
                ("nodes-imdsv2-required".to_string(), 8),
                ("nodes-imds-hop-limit".to_string(), 9),
                ("nodes-volumes-encrypted".to_string(), 16),
            ]
        );
    }

    #[test]
    fn the_metadata_endpoint_off_needs_no_tokens_and_custom_amis_must_map_their_volumes() {
        let yaml = "apiVersion: karpenter.k8s.aws/v1beta1\nkind: EC2NodeClass\nmetadata:\n  name: custom\nspec:\n  amiFamily: Custom\n  metadataOptions:\n    httpEndpoint: disabled\n    httpTokens: optional\n    httpPutResponseHopLimit: 8\n";
        assert_eq!(
            ids_and_lines(yaml),
            vec![("nodes-volumes-encrypted".to_string(), 5)]
        );
    }
}
