//! Renders the in-tree Helm charts that Argo CD Applications use, with `helm template` and the Application's values (helm as a renderer only).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

use super::object::{Location, Object, Source};
use super::yaml::parse_documents;
use super::{LoadProblem, Tree};

/// One chart render an Application asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRender {
    pub application: String,
    pub application_location: Location,
    pub release: String,
    pub namespace: String,
    pub chart_dir: PathBuf,
    pub value_files: Vec<PathBuf>,
}

/// Value files an Application names that do not exist (for lint), with the Application's location.
pub fn missing_value_files(tree: &Tree) -> Vec<(Location, String, PathBuf)> {
    tree.of_kind("argoproj.io", "Application")
        .filter_map(|app| plan_render(tree, app))
        .flat_map(|render| {
            render
                .value_files
                .iter()
                .filter(|f| !f.is_file())
                .map(|f| {
                    (
                        render.application_location.clone(),
                        render.application.clone(),
                        f.clone(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The render an Application needs, when its chart is a folder of this tree (found from the
/// tree's roots and their parents, since Applications name paths from the repository root).
pub fn plan_render(tree: &Tree, application: &Object) -> Option<ChartRender> {
    let spec = &application.value["spec"];
    let sources: Vec<&Value> = match spec["sources"].as_array() {
        Some(sources) => sources.iter().collect(),
        None => vec![&spec["source"]],
    };
    let chart_source = sources.iter().find(|s| s["path"].is_string())?;
    let chart_path = chart_source["path"].as_str()?;
    let repo_root = repository_roots(tree)
        .into_iter()
        .find(|root| root.join(chart_path).join("Chart.yaml").is_file())?;
    let chart_dir = repo_root.join(chart_path);
    let mut value_files = Vec::new();
    for source in &sources {
        for file in source["helm"]["valueFiles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            value_files.push(match file.split_once('/') {
                Some((reference, rest)) if reference.starts_with('$') => repo_root.join(rest),
                _ => chart_dir.join(file),
            });
        }
    }
    let name = application.name().to_string();
    Some(ChartRender {
        release: chart_source["helm"]["releaseName"]
            .as_str()
            .unwrap_or(&name)
            .to_string(),
        namespace: spec["destination"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string(),
        application_location: application.location(),
        application: name,
        chart_dir,
        value_files,
    })
}

/// How objects rendered for the Application `name` at `location` are labelled
/// (`Source::rendered_for`), so a check can find the objects of an Application.
pub fn rendered_for_label(name: &str, location: &Location) -> String {
    format!("Application {name} at {location}")
}

/// The Application a rendered object's `Source::rendered_for` label names (the inverse of
/// [`rendered_for_label`]; Kubernetes names hold no spaces).
pub fn application_of_rendered(label: &str) -> Option<&str> {
    label
        .strip_prefix("Application ")?
        .split_once(" at ")
        .map(|(name, _)| name)
}

/// The tree's roots and all their parents, shown relative to the current folder where possible.
pub(crate) fn repository_roots(tree: &Tree) -> Vec<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut roots = Vec::new();
    for root in &tree.roots {
        let Ok(absolute) = root.canonicalize() else {
            continue;
        };
        let start = if absolute.is_file() {
            absolute.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            absolute
        };
        for dir in start.ancestors() {
            let shown = dir
                .strip_prefix(&cwd)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| dir.to_path_buf());
            if !roots.contains(&shown) {
                roots.push(shown);
            }
        }
    }
    roots
}

/// Renders every in-tree chart an Application uses. Applications whose value files are missing
/// are left to lint (which reports them); a failing helm is an error for the whole load.
pub fn render_applications(
    tree: &Tree,
    helm: Option<&Path>,
) -> Result<Vec<Object>, Vec<LoadProblem>> {
    let (objects, problems) = render_applications_all(tree, helm);
    if problems.is_empty() {
        Ok(objects)
    } else {
        Err(problems)
    }
}

/// Renders every in-tree chart an Application uses, each on its own: the objects of the charts
/// that rendered, and one problem for each that did not.
pub fn render_applications_all(
    tree: &Tree,
    helm: Option<&Path>,
) -> (Vec<Object>, Vec<LoadProblem>) {
    let renders: Vec<ChartRender> = tree
        .of_kind("argoproj.io", "Application")
        .filter_map(|app| plan_render(tree, app))
        .filter(|render| render.value_files.iter().all(|f| f.is_file()))
        .collect();
    let helm = helm
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("helm"));
    let results: Vec<Result<Vec<Object>, LoadProblem>> = std::thread::scope(|scope| {
        let handles: Vec<_> = renders
            .iter()
            .map(|render| scope.spawn(|| render_one(&helm, render)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a helm render thread panicked"))
            .collect()
    });
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for result in results {
        match result {
            Ok(mut rendered) => objects.append(&mut rendered),
            Err(problem) => problems.push(problem),
        }
    }
    (objects, problems)
}

/// Where a failed render is best reported: a value file that is not valid YAML (at the parser's
/// line and column), else a value file helm's message names, else the Application.
fn failure_location(render: &ChartRender, helm_message: &str) -> Location {
    for file in &render.value_files {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Err(error) = parse_documents(&text)
        {
            return Location {
                file: file.clone(),
                line: error.position_line,
                column: error.position_column,
                rendered_for: None,
            };
        }
    }
    render
        .value_files
        .iter()
        .find(|file| helm_message.contains(&file.display().to_string()))
        .map(|file| Location {
            file: file.clone(),
            line: 0,
            column: 0,
            rendered_for: None,
        })
        .unwrap_or_else(|| render.application_location.clone())
}

fn render_one(helm: &Path, render: &ChartRender) -> Result<Vec<Object>, LoadProblem> {
    let fail = |message: String| LoadProblem {
        location: render.application_location.clone(),
        message,
    };
    let mut command = Command::new(helm);
    command
        .arg("template")
        .arg(&render.release)
        .arg(&render.chart_dir)
        .arg("--namespace")
        .arg(&render.namespace);
    for file in &render.value_files {
        command.arg("--values").arg(file);
    }
    let output = command.output().map_err(|error| {
        fail(format!(
            "cannot run `{}` to render chart {} for Application {}: {error}; install helm (v3.8+), set TACOS_HELM, or pass --no-render",
            helm.display(),
            render.chart_dir.display(),
            render.application
        ))
    })?;
    if !output.status.success() {
        let message = helm_reason(&String::from_utf8_lossy(&output.stderr));
        let values = if render.value_files.is_empty() {
            String::new()
        } else {
            let files: Vec<String> = render
                .value_files
                .iter()
                .map(|f| tidy(f).display().to_string())
                .collect();
            format!(" with values {}", files.join(", "))
        };
        return Err(LoadProblem {
            location: failure_location(render, &message),
            message: format!(
                "helm template of {}{values} for Application {} failed: {message}",
                render.chart_dir.display(),
                render.application,
            ),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let documents = parse_documents(&text).map_err(|e| {
        fail(format!(
            "helm rendered invalid YAML for Application {}: {e}",
            render.application
        ))
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let chart_parent = render.chart_dir.parent().unwrap_or(Path::new("."));
    let rendered_for = rendered_for_label(&render.application, &render.application_location);
    Ok(documents
        .into_iter()
        .map(|document| {
            let template = source_comment(&lines, document.start.line)
                .map(|s| chart_parent.join(s))
                .unwrap_or_else(|| render.chart_dir.clone());
            let mut value = document.value.clone();
            if value["metadata"]["namespace"].is_null()
                && !is_cluster_scoped(value["kind"].as_str().unwrap_or_default())
                && let Some(metadata) = value["metadata"].as_object_mut()
            {
                metadata.insert("namespace".into(), Value::String(render.namespace.clone()));
            }
            Object {
                value,
                source: Source {
                    file: template,
                    document: Arc::new(document),
                    pointer: String::new(),
                    rendered_for: Some(rendered_for.clone()),
                },
            }
        })
        .collect())
}

/// helm's error output without its `Error: ` prefix and its advice to rerun with --debug.
fn helm_reason(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("Use --debug"))
        .map(|line| line.strip_prefix("Error: ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `a/b/../c` as `a/c`, for messages (value files are named relative to the chart).
pub(crate) fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir
                if out
                    .components()
                    .next_back()
                    .is_some_and(|c| matches!(c, std::path::Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The `# Source: chart/templates/x.yaml` line helm writes above a rendered document.
fn source_comment(lines: &[&str], document_line: usize) -> Option<String> {
    lines[..document_line.saturating_sub(1).min(lines.len())]
        .iter()
        .rev()
        .find_map(|line| line.strip_prefix("# Source: ").map(str::to_string))
}

/// Kinds that have no namespace: the built-in ones, and the custom ones of projects tacos knows
/// (Gateway API, Karpenter).
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "StorageClass"
            | "PriorityClass"
            | "IngressClass"
            | "GatewayClass"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "APIService"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "NodePool"
            | "NodeClaim"
            | "EC2NodeClass"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_reason_drops_the_prefix_and_the_debug_advice() {
        assert_eq!(
            helm_reason(
                "Error: execution error at (web/templates/a.yaml:6:10): tag is required\n\nUse --debug flag to render out invalid YAML\n"
            ),
            "execution error at (web/templates/a.yaml:6:10): tag is required"
        );
    }

    #[test]
    fn tidy_folds_parent_folders_it_can() {
        assert_eq!(
            tidy(Path::new("charts/web/../../values/web.yaml")),
            PathBuf::from("values/web.yaml")
        );
        assert_eq!(
            tidy(Path::new("../values/a.yaml")),
            PathBuf::from("../values/a.yaml")
        );
    }

    #[test]
    fn source_comment_is_the_nearest_one_above_the_document() {
        let lines = vec![
            "---",
            "# Source: c/templates/a.yaml",
            "kind: A",
            "---",
            "# Source: c/templates/b.yaml",
            "kind: B",
        ];
        assert_eq!(
            source_comment(&lines, 3).as_deref(),
            Some("c/templates/a.yaml")
        );
        assert_eq!(
            source_comment(&lines, 6).as_deref(),
            Some("c/templates/b.yaml")
        );
        assert_eq!(source_comment(&lines, 1), None);
    }
}
