//! The kinds a phase's Applications' charts render are permitted by their AppProjects as the cluster holds them: checked before Argo CD is handed them, since it refuses a kind its project does not list and retries the refusal for minutes.

use std::collections::BTreeMap;

use kube::core::GroupVersionKind;
use kube::discovery::Scope;

use super::check::{Check, CheckContext, PhaseError};
use super::render::render_application_charts;
use crate::apply::live::get_live_by_key;
use crate::k8s::appproject::refusal;
use crate::k8s::argocd::ARGOCD_NAMESPACE;
use crate::repo::helm::application_of_rendered;
use crate::repo::{Object, ObjectKey};
use crate::report::{Finding, rule};

rule!(
    CHART_KINDS_PERMITTED_INFO,
    "deploy",
    "gitops-project-permits-kinds",
    Error,
    "every kind the Applications' charts render is permitted by the Application's AppProject in the cluster",
    "add the group and kind to the AppProject's namespaceResourceWhitelist (applications/argocd/) and deploy phase argocd, then deploy this phase again"
);

/// Every kind the Applications' charts render is permitted by their projects.
pub const CHART_KINDS_PERMITTED: Check = Check {
    info: CHART_KINDS_PERMITTED_INFO,
    run: |cx| Box::pin(chart_kinds_permitted(cx)),
    in_verify: true,
};

/// (group, version, kind) -> the Applications that render it, for one project.
type KindsWanted = BTreeMap<(String, String, String), Vec<String>>;

/// The project Argo CD gives an Application that names none.
const DEFAULT_PROJECT: &str = "default";

async fn chart_kinds_permitted(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let rendered = render_application_charts(cx.phase, cx.render)?;
    let mut wanted: BTreeMap<String, KindsWanted> = BTreeMap::new();
    for object in &rendered {
        let Some(application) = object
            .source
            .rendered_for
            .as_deref()
            .and_then(application_of_rendered)
        else {
            continue;
        };
        let project = project_of(cx.objects, application);
        let applications = wanted
            .entry(project.to_string())
            .or_default()
            .entry((
                object.group().to_string(),
                object.version().to_string(),
                object.kind().to_string(),
            ))
            .or_default();
        if !applications.iter().any(|a| a == application) {
            applications.push(application.to_string());
        }
    }
    let mut findings = Vec::new();
    for (project, kinds) in wanted {
        let key = ObjectKey {
            group: "argoproj.io".into(),
            kind: "AppProject".into(),
            namespace: Some(ARGOCD_NAMESPACE.into()),
            name: project.clone(),
        };
        // A project missing from the cluster is Argo CD's InvalidSpecError, which the wait
        // reports at once; the argocd phase applies the projects.
        let Some(live) = get_live_by_key(cx.client, "argoproj.io/v1alpha1", &key).await? else {
            continue;
        };
        for ((group, version, kind), applications) in kinds {
            let Some(namespaced) = namespaced(cx.client, &group, &version, &kind).await else {
                continue;
            };
            if let Some(refused) = refusal(&live["spec"], &group, &kind, namespaced) {
                findings.push(Finding::new(
                    &CHART_KINDS_PERMITTED_INFO,
                    key.to_string(),
                    None,
                    format!(
                        "kind {kind} of group {} is {} in the cluster: Argo CD would refuse it (\"resource {group}:{kind} is not permitted in project {project}\") for Application(s) {}",
                        if group.is_empty() { "\"\" (core)" } else { &group },
                        refused.reason,
                        applications.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(findings)
}

/// The project of the phase's Application `name`.
fn project_of<'a>(objects: &'a [Object], name: &str) -> &'a str {
    objects
        .iter()
        .find(|o| o.is("argoproj.io", "Application") && o.name() == name)
        .and_then(|o| o.value["spec"]["project"].as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PROJECT)
}

/// Whether the cluster serves the kind as namespaced (None when it does not serve it, which
/// `cluster-chart-kinds-served` reports).
async fn namespaced(client: &kube::Client, group: &str, version: &str, kind: &str) -> Option<bool> {
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (_, capabilities) = kube::discovery::pinned_kind(client, &gvk).await.ok()?;
    Some(capabilities.scope == Scope::Namespaced)
}
