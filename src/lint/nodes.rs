//! Karpenter EC2NodeClasses in the tree: nodes answer instance metadata only over IMDSv2 with a short hop limit, and boot from encrypted volumes.

use super::{LintContext, subject};
use crate::k8s::nodeclass::{self, Weakness};
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

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in context
        .tree
        .objects
        .iter()
        .filter(|o| o.is(nodeclass::GROUP, nodeclass::KIND))
    {
        for weakness in nodeclass::weaknesses(&object.value["spec"]) {
            let rule = match weakness {
                Weakness::ImdsV1 { .. } => &IMDSV2_REQUIRED,
                Weakness::LongHopLimit { .. } => &IMDS_HOP_LIMIT,
                Weakness::UnencryptedVolume { .. } | Weakness::CustomAmiUnmapped => {
                    &VOLUMES_ENCRYPTED
                }
            };
            findings.push(Finding::new(
                rule,
                subject(object),
                Some(object.location_of(&weakness.pointer())),
                weakness.message(),
            ));
        }
    }
    findings
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
