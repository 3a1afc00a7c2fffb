//! Turns a phase into objects: its folders of the tree plus the upstream material it pins (Gateway API CRDs, the argo-cd chart rendered with our values).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::apply::readiness::{ReplicaFloor, replica_floors};
use crate::cli::PhaseName;
use crate::phases::Phase;
use crate::repo::object::Source;
use crate::repo::yaml::parse_documents;
use crate::repo::{LoadOptions, Object, load, load_str};
use crate::upstream::{ARGO_CD_CHART, GATEWAY_API, fetch_crds};

use super::DeployError;

/// Where the phase's upstream material comes from.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub repo: PathBuf,
    /// Air-gapped copies: `gateway-api-<version>/` and `argo-cd/` (a chart folder).
    pub chart_dir: Option<PathBuf>,
    pub helm: Option<PathBuf>,
    /// Charts the phases' Applications render, kept for the run: preflight and the wait read them.
    pub rendered_charts: RenderedCharts,
}

/// What [`render_application_charts`] rendered, by phase (shared by clones of the options).
#[derive(Debug, Clone, Default)]
pub struct RenderedCharts(
    Arc<std::sync::Mutex<std::collections::HashMap<&'static str, Vec<Object>>>>,
);

/// Every object the phase applies.
pub async fn render_phase(
    phase: &Phase,
    options: &RenderOptions,
) -> Result<Vec<Object>, DeployError> {
    let mut objects = Vec::new();
    match phase.name {
        PhaseName::Gateway => {
            for (path, text) in fetch_crds(&GATEWAY_API, options.chart_dir.as_deref()).await? {
                let tree =
                    load_str(&path.display().to_string(), &text).map_err(DeployError::Load)?;
                objects.extend(
                    tree.objects
                        .into_iter()
                        .filter(|o| o.is("apiextensions.k8s.io", "CustomResourceDefinition")),
                );
            }
        }
        PhaseName::Argocd => objects.extend(render_argo_cd(options)?),
        _ => {}
    }
    let folders: Vec<PathBuf> = phase.folders.iter().map(|f| options.repo.join(f)).collect();
    if let Some(missing) = folders.iter().find(|f| !f.exists()) {
        return Err(DeployError::Usage(format!(
            "{} not found: run tacos from the repository root or pass --repo",
            missing.display()
        )));
    }
    let tree = load(&folders, &LoadOptions::default()).map_err(DeployError::Load)?;
    objects.extend(tree.objects);
    Ok(objects)
}

/// `helm template` of the pinned argo-cd chart (from `--chart-dir/argo-cd` when given) with
/// helm-values/argocd-values.yaml, CRDs included, into namespace argocd. Helm renders only.
fn render_argo_cd(options: &RenderOptions) -> Result<Vec<Object>, DeployError> {
    let values = options.repo.join("helm-values/argocd-values.yaml");
    let helm = options
        .helm
        .clone()
        .unwrap_or_else(|| PathBuf::from("helm"));
    let mut command = Command::new(&helm);
    command.args(["template", "argocd"]);
    let local = options
        .chart_dir
        .as_ref()
        .map(|d| d.join("argo-cd"))
        .filter(|d| d.join("Chart.yaml").is_file());
    let chart_label = match &local {
        Some(dir) => {
            command.arg(dir);
            dir.display().to_string()
        }
        None => {
            command.args([
                ARGO_CD_CHART.name,
                "--repo",
                ARGO_CD_CHART.repo,
                "--version",
                ARGO_CD_CHART.version,
            ]);
            format!(
                "{} {} from {}",
                ARGO_CD_CHART.name, ARGO_CD_CHART.version, ARGO_CD_CHART.repo
            )
        }
    };
    command
        .args(["--namespace", "argocd", "--include-crds", "--values"])
        .arg(&values);
    let output = command.output().map_err(|e| {
        DeployError::Render(format!(
            "cannot run {}: {e}; install helm or set TACOS_HELM",
            helm.display()
        ))
    })?;
    if !output.status.success() {
        return Err(DeployError::Render(format!(
            "helm template of {chart_label} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let documents = parse_documents(&text).map_err(|e| {
        DeployError::Render(format!("helm rendered invalid YAML for {chart_label}: {e}"))
    })?;
    let rendered_for = format!("chart {chart_label} with {}", values.display());
    Ok(documents
        .into_iter()
        // Test hooks (redis-ha's test pod) and delete hooks: Helm and Argo CD never apply them on a deploy.
        .filter(|document| !crate::repo::hooks::never_applied(&document.value))
        .map(|document| {
            let mut value = document.value.clone();
            let kind = value["kind"].as_str().unwrap_or_default().to_string();
            if value["metadata"]["namespace"].is_null()
                && !crate::repo::helm::is_cluster_scoped(&kind)
                && let Some(metadata) = value["metadata"].as_object_mut()
            {
                metadata.insert("namespace".into(), "argocd".into());
            }
            Object {
                value,
                source: Source {
                    file: Path::new(&chart_label).to_path_buf(),
                    document: Arc::new(document),
                    pointer: String::new(),
                    rendered_for: Some(rendered_for.clone()),
                },
            }
        })
        .collect())
}

/// What Argo CD will render for the phase's Applications (their in-tree charts with their values):
/// never applied by tacos, only read by checks (e.g. the ServiceAccounts' IRSA roles).
pub fn render_application_charts(
    phase: &Phase,
    options: &RenderOptions,
) -> Result<Vec<Object>, DeployError> {
    let cache = &options.rendered_charts.0;
    if let Some(rendered) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(phase.name.as_str())
    {
        return Ok(rendered.clone());
    }
    let folders: Vec<PathBuf> = phase.folders.iter().map(|f| options.repo.join(f)).collect();
    let tree = load(&folders, &LoadOptions::default()).map_err(DeployError::Load)?;
    let rendered = crate::repo::helm::render_applications(&tree, options.helm.as_deref()).map_err(
        |problems| {
            DeployError::Render(
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.location, p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        },
    )?;
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(phase.name.as_str(), rendered.clone());
    Ok(rendered)
}

/// The replica floors of the phase's autoscalers: those tacos applies and those in the charts its
/// Applications render.
pub fn replica_floors_of(
    phase: &Phase,
    objects: &[Object],
    options: &RenderOptions,
) -> Result<Vec<ReplicaFloor>, DeployError> {
    let rendered = render_application_charts(phase, options)?;
    let mut floors: Vec<ReplicaFloor> = Vec::new();
    for floor in replica_floors(objects)
        .into_iter()
        .chain(replica_floors(&rendered))
    {
        match floors
            .iter_mut()
            .find(|known| known.workload == floor.workload)
        {
            // Two autoscalers on one workload: the higher floor is the one it settles at.
            Some(known) if known.min_replicas < floor.min_replicas => *known = floor,
            Some(_) => {}
            None => floors.push(floor),
        }
    }
    Ok(floors)
}
