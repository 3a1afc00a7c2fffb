//! ApplySet bookkeeping as `kubectl apply --prune --applyset` does it: a parent ConfigMap per phase, a part-of label on every member.

use std::collections::BTreeSet;

use base64::Engine;
use sha2::{Digest, Sha256};

pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// Where every phase's parent object lives (present on every cluster).
pub const PARENT_NAMESPACE: &str = "kube-system";

/// The parent object of one phase's ApplySet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySet {
    pub parent_name: String,
    pub id: String,
}

impl ApplySet {
    pub fn for_phase(phase: &str) -> Self {
        let parent_name = format!("tacos-{phase}");
        Self {
            id: applyset_id(&parent_name, PARENT_NAMESPACE, "ConfigMap", ""),
            parent_name,
        }
    }
}

/// The id kubectl computes: `applyset-<base64url(sha256(name.namespace.kind.group))>-v1`.
pub fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}"));
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// `Kind.group` as the contains-group-kinds annotation spells it (core kinds have no group).
pub fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

/// Parses a comma-separated annotation into a set.
pub fn parse_list(annotation: Option<&str>) -> BTreeSet<String> {
    annotation
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_matches_kubectls_formula() {
        // kubectl: base64url(sha256("<name>.<namespace>.<kind>.<group>")), no padding, "applyset-" prefix, "-v1" suffix.
        let id = applyset_id("tacos-gateway", "kube-system", "ConfigMap", "");
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"));
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert_ne!(
            id,
            applyset_id("tacos-apps", "kube-system", "ConfigMap", "")
        );
    }

    #[test]
    fn group_kinds_spell_core_kinds_without_a_group() {
        assert_eq!(group_kind("", "Service"), "Service");
        assert_eq!(group_kind("apps", "Deployment"), "Deployment.apps");
        assert_eq!(
            parse_list(Some("Deployment.apps, Service,")),
            BTreeSet::from(["Deployment.apps".to_string(), "Service".to_string()])
        );
    }
}
