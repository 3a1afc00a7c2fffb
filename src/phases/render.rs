//! Turns a phase into objects: its folders of the tree plus the upstream material it pins (CRDs from Go modules, Helm charts rendered with the tree's values).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::apply::readiness::{ReplicaFloor, replica_floors};
use crate::repo::object::Source;
use crate::repo::yaml::parse_documents;
use crate::repo::{LoadOptions, Object, load, load_str};
use crate::upstream::{GoModuleCrds, PinnedChart, fetch_crds};

use super::{Phase, PhaseError};

/// Upstream material a phase renders beside its folders, pinned by version and checksum.
#[derive(Debug)]
pub enum Upstream {
    /// The CRDs inside a project's Go module, checked against its go.sum hash.
    Crds(&'static GoModuleCrds),
    /// A Helm chart rendered by `helm template` with a values file of the tree into a namespace
    /// (Helm renders only: no release).
    Chart {
        chart: &'static PinnedChart,
        /// The release name the templates are rendered for (it prefixes object names).
        release: &'static str,
        values: &'static str,
        namespace: &'static str,
    },
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Crds(crds) => write!(
                f,
                "{} {} CRDs from the Go module {} ({}, {})",
                crds.name, crds.version, crds.module, crds.dir, crds.h1
            ),
            Upstream::Chart {
                chart,
                values,
                namespace,
                ..
            } => write!(
                f,
                "{} chart {} from {} (archive sha256 {}) with {values}, into namespace {namespace}",
                chart.name, chart.version, chart.repo, chart.digest
            ),
        }
    }
}

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

/// Every object the phase applies: its upstream material, then its folders.
pub async fn render_phase(
    phase: &Phase,
    options: &RenderOptions,
) -> Result<Vec<Object>, PhaseError> {
    let mut objects = Vec::new();
    for upstream in phase.upstream {
        match upstream {
            Upstream::Crds(crds) => {
                for (path, text) in fetch_crds(crds, options.chart_dir.as_deref()).await? {
                    let tree =
                        load_str(&path.display().to_string(), &text).map_err(PhaseError::Load)?;
                    objects.extend(
                        tree.objects
                            .into_iter()
                            .filter(|o| o.is("apiextensions.k8s.io", "CustomResourceDefinition")),
                    );
                }
            }
            Upstream::Chart {
                chart,
                release,
                values,
                namespace,
            } => {
                let local = options
                    .chart_dir
                    .as_ref()
                    .map(|d| d.join(chart.name))
                    .filter(|d| d.join("Chart.yaml").is_file());
                let source = match local {
                    Some(dir) => dir,
                    None => {
                        crate::upstream::fetch_chart(chart, &crate::upstream::chart_cache_dir())
                            .await
                            .map_err(PhaseError::Upstream)?
                    }
                };
                objects.extend(render_chart(
                    chart, &source, release, values, namespace, options,
                )?)
            }
        }
    }
    let folders: Vec<PathBuf> = phase.folders.iter().map(|f| options.repo.join(f)).collect();
    if let Some(missing) = folders.iter().find(|f| !f.exists()) {
        return Err(PhaseError::Usage(format!(
            "{} not found: run tacos from the repository root or pass --repo",
            missing.display()
        )));
    }
    let tree = load(&folders, &LoadOptions::default()).map_err(PhaseError::Load)?;
    objects.extend(tree.objects);
    Ok(objects)
}

/// A phase's own folders (without upstream material) less the kinds it does not wait on: what a
/// dependent phase checks is up.
pub fn render_folders_only(
    phase: &Phase,
    options: &RenderOptions,
) -> Result<Vec<Object>, PhaseError> {
    let folders: Vec<_> = phase.folders.iter().map(|f| options.repo.join(f)).collect();
    let tree = load(&folders, &LoadOptions::default()).map_err(PhaseError::Load)?;
    Ok(tree
        .objects
        .into_iter()
        .filter(|o| !phase.leaves(o.kind()))
        .collect())
}

/// `helm template` of a pinned chart (`source`: the `--chart-dir/<chart name>` folder, or the
/// archive fetched and checked against its digest) with a values file of the tree, CRDs
/// included, into `namespace`. Helm renders only.
fn render_chart(
    chart: &PinnedChart,
    source: &Path,
    release: &str,
    values: &str,
    namespace: &str,
    options: &RenderOptions,
) -> Result<Vec<Object>, PhaseError> {
    let values = options.repo.join(values);
    let helm = options
        .helm
        .clone()
        .unwrap_or_else(|| PathBuf::from("helm"));
    let mut command = Command::new(&helm);
    command.args(["template", release]);
    command.arg(source);
    let chart_label = if source.is_dir() {
        source.display().to_string()
    } else {
        format!(
            "{} {} from {} (sha256 {})",
            chart.name, chart.version, chart.repo, chart.digest
        )
    };
    command
        .args(["--namespace", namespace, "--include-crds", "--values"])
        .arg(&values);
    let output = command.output().map_err(|e| {
        PhaseError::Render(format!(
            "cannot run {}: {e}; install helm or set TACOS_HELM",
            helm.display()
        ))
    })?;
    if !output.status.success() {
        return Err(PhaseError::Render(format!(
            "helm template of {chart_label} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let documents = parse_documents(&text).map_err(|e| {
        PhaseError::Render(format!("helm rendered invalid YAML for {chart_label}: {e}"))
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
                metadata.insert("namespace".into(), namespace.into());
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
) -> Result<Vec<Object>, PhaseError> {
    let cache = &options.rendered_charts.0;
    if let Some(rendered) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(phase.name)
    {
        return Ok(rendered.clone());
    }
    let folders: Vec<PathBuf> = phase.folders.iter().map(|f| options.repo.join(f)).collect();
    let tree = load(&folders, &LoadOptions::default()).map_err(PhaseError::Load)?;
    let rendered = crate::repo::helm::render_applications(&tree, options.helm.as_deref()).map_err(
        |problems| {
            PhaseError::Render(
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
        .insert(phase.name, rendered.clone());
    Ok(rendered)
}

/// The replica floors of the phase's autoscalers: those tacos applies and those in the charts its
/// Applications render.
pub fn replica_floors_of(
    phase: &Phase,
    objects: &[Object],
    options: &RenderOptions,
) -> Result<Vec<ReplicaFloor>, PhaseError> {
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
