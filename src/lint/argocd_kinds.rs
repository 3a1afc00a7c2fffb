//! Argo CD AppProjects permit every kind their Applications deploy: the resource white- and blacklists the application controller checks before it syncs an object.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::argocd::{find_project, sources};
use super::{LintContext, subject};
use crate::k8s::appproject::{Refusal, glob_match, refusal};
use crate::repo::helm::{is_cluster_scoped, rendered_for_label, repository_roots};
use crate::repo::{Object, Tree};
use crate::report::{Finding, RuleInfo, rule};

rule!(
    PROJECT_DENIES_KIND,
    "argocd",
    "argocd-project-denies-kind",
    Error,
    "an Application's project permits every kind its source deploys (namespaceResourceWhitelist/Blacklist for namespaced kinds, clusterResourceWhitelist/Blacklist for cluster-scoped ones); Argo CD refuses the sync of any other",
    "add the group and kind to the AppProject's namespaceResourceWhitelist (clusterResourceWhitelist for a cluster-scoped kind), or take it off the blacklist that names it"
);

pub const RULES: &[RuleInfo] = &[PROJECT_DENIES_KIND];

/// The Applications of one project that deploy one refused kind.
struct Denied<'a> {
    project: &'a Object,
    refusal: Refusal,
    applications: Vec<String>,
    first_object: &'a Object,
    objects: usize,
}

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    // One finding per project and kind: the fix is one list entry, however many objects need it.
    let mut denied: BTreeMap<(String, String, String), Denied<'_>> = BTreeMap::new();
    let applications: Vec<&Object> = tree.of_kind("argoproj.io", "Application").collect();
    if applications.is_empty() {
        return Vec::new();
    }
    let canonical = canonical_files(tree);
    for application in applications {
        let Some(project) = find_project(tree, application) else {
            continue;
        };
        for object in deployed_objects(tree, application, &canonical) {
            let namespaced = !cluster_scoped(tree, object);
            let Some(refusal) = refusal(
                &project.value["spec"],
                object.group(),
                object.kind(),
                namespaced,
            ) else {
                continue;
            };
            let key = (
                subject(project),
                object.group().to_string(),
                object.kind().to_string(),
            );
            let entry = denied.entry(key).or_insert_with(|| Denied {
                project,
                refusal,
                applications: Vec::new(),
                first_object: object,
                objects: 0,
            });
            entry.objects += 1;
            if !entry.applications.iter().any(|a| a == application.name()) {
                entry.applications.push(application.name().to_string());
            }
        }
    }
    denied
        .into_iter()
        .map(|((_, group, kind), denied)| {
            let others = match denied.objects {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            let shown_group = if group.is_empty() { "\"\" (core)" } else { &group };
            Finding::new(
                &PROJECT_DENIES_KIND,
                subject(denied.project),
                Some(denied.project.location_of(&denied.refusal.pointer)),
                format!(
                    "kind {kind} of group {shown_group} is {}: Application(s) {} deploy {} ({}{others}), and Argo CD fails their sync with \"resource {group}:{kind} is not permitted in project {}\"",
                    denied.refusal.reason,
                    denied.applications.join(", "),
                    subject(denied.first_object),
                    denied.first_object.location(),
                    denied.project.name(),
                ),
            )
        })
        .collect()
}

/// Whether the tree's CRD for the object's kind, else what tacos knows of the kind, says it is
/// cluster-scoped.
fn cluster_scoped(tree: &Tree, object: &Object) -> bool {
    let (group, kind) = (object.group(), object.kind());
    let crd = tree
        .of_kind("apiextensions.k8s.io", "CustomResourceDefinition")
        .find(|crd| {
            crd.value["spec"]["group"] == group && crd.value["spec"]["names"]["kind"] == kind
        });
    match crd {
        Some(crd) => crd.value["spec"]["scope"] == "Cluster",
        None => is_cluster_scoped(kind),
    }
}

/// The objects an Application deploys: those rendered from its chart, and those in the
/// directories its plain sources name.
fn deployed_objects<'a>(
    tree: &'a Tree,
    application: &Object,
    canonical: &HashMap<&Path, Option<PathBuf>>,
) -> Vec<&'a Object> {
    let label = rendered_for_label(application.name(), &application.location());
    let directories = source_directories(tree, application);
    tree.objects
        .iter()
        .filter(|object| match &object.source.rendered_for {
            Some(rendered_for) => *rendered_for == label,
            None => canonical
                .get(object.source.file.as_path())
                .and_then(Option::as_ref)
                .is_some_and(|file| directories.iter().any(|d| d.reads(file))),
        })
        .collect()
}

/// The canonical path of every file the tree's own (not rendered) objects come from, resolved
/// once for all Applications.
fn canonical_files(tree: &Tree) -> HashMap<&Path, Option<PathBuf>> {
    tree.objects
        .iter()
        .filter(|object| object.source.rendered_for.is_none())
        .map(|object| object.source.file.as_path())
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .map(|file| (file, file.canonicalize().ok()))
        .collect()
}

/// A plain folder of manifests an Application's source names: where it is (canonical), whether
/// Argo CD reads it recursively, and its `directory.include`/`exclude` globs.
struct SourceDirectory {
    dir: PathBuf,
    recurse: bool,
    include: Option<String>,
    exclude: Option<String>,
}

impl SourceDirectory {
    /// Whether Argo CD's repo server reads `file` (canonical) for this source: in the folder (or
    /// under it when recursive), matched by `include` and not by `exclude` (against the path
    /// relative to the folder, as `getPotentiallyValidManifestFile` matches).
    fn reads(&self, file: &Path) -> bool {
        let in_folder = if self.recurse {
            file.starts_with(&self.dir)
        } else {
            file.parent() == Some(self.dir.as_path())
        };
        let Some(relative) = file.strip_prefix(&self.dir).ok().and_then(Path::to_str) else {
            return false;
        };
        in_folder
            && self
                .include
                .as_deref()
                .is_none_or(|p| glob_with_braces(p, relative))
            && !self
                .exclude
                .as_deref()
                .is_some_and(|p| glob_with_braces(p, relative))
    }
}

/// Argo CD's directory globs: `*` and `?` as [`glob_match`], plus `{a,b}` alternatives.
fn glob_with_braces(pattern: &str, text: &str) -> bool {
    let Some((start, end)) = pattern
        .find('{')
        .and_then(|start| pattern[start..].find('}').map(|end| (start, start + end)))
    else {
        return glob_match(pattern, text);
    };
    pattern[start + 1..end].split(',').any(|alternative| {
        let expanded = format!("{}{alternative}{}", &pattern[..start], &pattern[end + 1..]);
        glob_with_braces(&expanded, text)
    })
}

/// The plain folders of manifests an Application's sources name.
fn source_directories(tree: &Tree, application: &Object) -> Vec<SourceDirectory> {
    let roots = repository_roots(tree);
    sources(application)
        .into_iter()
        .filter_map(|(_, source)| {
            let path = source["path"].as_str()?;
            let dir = roots
                .iter()
                .map(|root| root.join(path))
                .find(|dir| dir.is_dir() && !dir.join("Chart.yaml").is_file())?;
            let directory = &source["directory"];
            let glob = |field: &str| {
                directory[field]
                    .as_str()
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
            };
            Some(SourceDirectory {
                dir: dir.canonicalize().ok()?,
                recurse: directory["recurse"].as_bool().unwrap_or(false),
                include: glob("include"),
                exclude: glob("exclude"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::LintSettings;
    use crate::repo::loader::{LoadOptions, load};
    use crate::repo::test_files::write;

    /// A repository whose project `spec` (YAML flow mapping) holds an Application of the
    /// `manifests/web` folder, which holds `objects`.
    fn lint_repository(project_spec: &str, objects: &str) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "applications/project.yaml",
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {{name: shop, namespace: argocd}}\nspec: {project_spec}\n"
            ),
        );
        write(
            dir.path(),
            "applications/web.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec:\n  project: shop\n  source: {repoURL: https://example.com/gitops.git, path: manifests/web}\n  destination: {server: https://kubernetes.default.svc, namespace: web}\n",
        );
        write(dir.path(), "manifests/web/objects.yaml", objects);
        // Beside the Application's folder, not in it: not deployed by it.
        write(
            dir.path(),
            "manifests/other/job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: other, namespace: web}\n",
        );
        let tree = load(
            &[dir.path().to_path_buf()],
            &LoadOptions {
                render_charts: false,
                helm: None,
            },
        )
        .unwrap();
        check(&LintContext {
            tree: &tree,
            settings: LintSettings::default(),
        })
    }

    const DEPLOYMENT_AND_VPA: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: web}\n---\napiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata: {name: web, namespace: web}\n";

    #[test]
    fn a_namespaced_kind_off_the_whitelist_is_refused_at_the_whitelist() {
        let findings = lint_repository(
            "{namespaceResourceWhitelist: [{group: apps, kind: Deployment}]}",
            DEPLOYMENT_AND_VPA,
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(finding.rule, "argocd-project-denies-kind");
        assert!(
            finding.message.contains("kind VerticalPodAutoscaler of group autoscaling.k8s.io is not on the namespaceResourceWhitelist")
                && finding.message.contains("Application(s) web deploy")
                && finding.message.contains("not permitted in project shop"),
            "{}",
            finding.message
        );
        assert!(
            finding
                .location
                .as_ref()
                .unwrap()
                .file
                .ends_with("applications/project.yaml")
        );
    }

    #[test]
    fn no_namespaced_whitelist_permits_every_namespaced_kind_and_globs_match() {
        assert!(lint_repository("{}", DEPLOYMENT_AND_VPA).is_empty());
        assert!(
            lint_repository(
                "{namespaceResourceWhitelist: [{group: apps, kind: '*'}, {group: '*.k8s.io', kind: Vertical*}]}",
                DEPLOYMENT_AND_VPA,
            )
            .is_empty()
        );
    }

    #[test]
    fn a_blacklisted_kind_is_refused_even_without_a_whitelist() {
        let findings = lint_repository(
            "{namespaceResourceBlacklist: [{group: autoscaling.k8s.io, kind: VerticalPodAutoscaler}]}",
            DEPLOYMENT_AND_VPA,
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0]
                .message
                .contains("is on the namespaceResourceBlacklist")
        );
    }

    #[test]
    fn a_cluster_scoped_kind_needs_the_cluster_whitelist() {
        let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n";
        let findings = lint_repository("{}", namespace);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0]
                .message
                .contains("kind Namespace of group \"\" (core) is cluster-scoped and the project has no clusterResourceWhitelist"),
            "{}",
            findings[0].message
        );
        assert!(
            lint_repository(
                "{clusterResourceWhitelist: [{group: '', kind: Namespace}]}",
                namespace
            )
            .is_empty()
        );
    }

    #[test]
    fn a_crd_in_the_tree_decides_the_scope_of_its_kind() {
        let objects = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Widget, plural: widgets}, versions: []}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";
        let findings = lint_repository(
            "{clusterResourceWhitelist: [{group: apiextensions.k8s.io, kind: CustomResourceDefinition}]}",
            objects,
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0].message.contains(
                "kind Widget of group example.com is not on the clusterResourceWhitelist"
            ),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_source_folder_reads_what_argo_cd_reads() {
        let folder = |recurse, include: Option<&str>, exclude: Option<&str>| SourceDirectory {
            dir: PathBuf::from("/repo/manifests/monitoring"),
            recurse,
            include: include.map(str::to_string),
            exclude: exclude.map(str::to_string),
        };
        let top = Path::new("/repo/manifests/monitoring/rules.yaml");
        let nested = Path::new("/repo/manifests/monitoring/grafana/dashboard.yaml");
        let json = Path::new("/repo/manifests/monitoring/policy.json");
        let plain = folder(false, None, None);
        assert!(plain.reads(top) && !plain.reads(nested));
        assert!(!plain.reads(Path::new("/repo/manifests/tacos/quota.yaml")));
        assert!(folder(true, None, None).reads(nested));
        let yaml_only = folder(false, Some("*.yaml"), None);
        assert!(yaml_only.reads(top) && !yaml_only.reads(json));
        let either = folder(false, Some("{*.yaml,*.json}"), Some("policy.*"));
        assert!(either.reads(top) && !either.reads(json));
    }
}
