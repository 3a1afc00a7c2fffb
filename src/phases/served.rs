//! The kinds a phase's Applications' charts render are served by the cluster: checked before Argo CD is handed them, since a sync that meets a kind without its CRD fails object by object.

use std::collections::BTreeMap;

use super::check::{Check, CheckContext, PhaseError, crd_served};
use super::render::render_application_charts;
use crate::report::{Finding, rule};
use crate::upstream::{PINNED_CRDS, UNPINNED_CRD_GROUPS};

rule!(
    CHART_KINDS_SERVED,
    "deploy",
    "cluster-chart-kinds-served",
    Error,
    "every kind the Applications' charts render is served by the cluster (its CRDs are installed)",
    "install the CRDs of the project the finding names (or turn the object off in the service's helm-values), then deploy again"
);

/// Every custom kind the Applications' charts render is served.
pub const CHART_KINDS: Check = Check {
    info: CHART_KINDS_SERVED,
    run: |cx| Box::pin(chart_kinds_served(cx)),
    in_verify: true,
};

async fn chart_kinds_served(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let rendered = render_application_charts(cx.phase, cx.render)?;
    // Kind -> the objects of it, so a finding says what needs it.
    let mut kinds: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for object in rendered.iter().filter(|o| o.group().contains('.')) {
        kinds
            .entry((
                object.group().to_string(),
                object.version().to_string(),
                object.kind().to_string(),
            ))
            .or_default()
            .push(object.key().to_string());
    }
    // The phase installs these itself, before Argo CD is handed the charts: skipped only at a
    // version and kind its CRDs serve.
    let installed_by_phase = |group: &str, version: &str, kind: &str| {
        cx.objects
            .iter()
            .filter(|o| o.is("apiextensions.k8s.io", "CustomResourceDefinition"))
            .any(|crd| {
                crd.value["spec"]["group"] == group
                    && crd.value["spec"]["names"]["kind"] == kind
                    && crd.value["spec"]["versions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|v| v["name"] == version && v["served"] == true)
            })
    };
    let mut findings = Vec::new();
    for ((group, version, kind), objects) in kinds {
        if installed_by_phase(&group, &version, &kind) {
            continue;
        }
        for finding in crd_served(cx.client, &group, &version, &kind, &CHART_KINDS_SERVED).await? {
            findings.push(Finding {
                message: format!(
                    "{}; the charts render {} of it ({})",
                    finding.message,
                    objects.len(),
                    shown(&objects)
                ),
                remedy: remedy(&group),
                ..finding
            });
        }
    }
    Ok(findings)
}

/// The first few of `objects`, comma-separated.
fn shown(objects: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = objects
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if objects.len() > SHOWN {
        text.push_str(&format!(", and {} more", objects.len() - SHOWN));
    }
    text
}

/// What to install for `group`: the project and version tacos pins, or where its CRDs are published.
pub fn remedy(group: &str) -> String {
    if let Some(set) = PINNED_CRDS.iter().find(|set| set.groups.contains(&group)) {
        return format!(
            "install the {} CRDs ({} {}, directory {}) or the project's chart, then deploy again",
            set.project, set.module, set.version, set.dir
        );
    }
    if let Some(set) = UNPINNED_CRD_GROUPS.iter().find(|set| set.group == group) {
        return format!(
            "install {} and its CRDs ({}), then deploy again",
            set.project, set.source
        );
    }
    format!(
        "install the CRDs that define group {group}, or turn those objects off in the service's helm-values"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedy_names_the_pinned_project_and_version() {
        let text = remedy("autoscaling.k8s.io");
        assert!(text.contains("Vertical Pod Autoscaler"), "{text}");
        assert!(
            text.contains("k8s.io/autoscaler/vertical-pod-autoscaler v1.8.1"),
            "{text}"
        );
    }

    #[test]
    fn remedy_points_unpinned_groups_at_their_source() {
        let text = remedy("elbv2.k8s.aws");
        assert!(text.contains("AWS Load Balancer Controller"), "{text}");
    }

    #[test]
    fn shown_lists_three_and_counts_the_rest() {
        let objects: Vec<String> = (1..=5).map(|i| format!("o{i}")).collect();
        assert_eq!(shown(&objects), "o1, o2, o3, and 2 more");
    }
}
