//! Argo CD Applications and AppProjects: the project exists and permits the sources and destination, no wildcard projects, value files exist.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{LintContext, subject};
use crate::k8s::appproject::glob_match;
use crate::repo::helm::{missing_value_files, plan_render, repository_roots};
use crate::repo::{Object, Tree};
use crate::report::rule;
use crate::report::{Finding, RuleInfo, Severity};

const ARGO_GROUP: &str = "argoproj.io";

/// The project Argo CD creates by itself, which permits everything.
const DEFAULT_PROJECT: &str = "default";

/// The API server's address from inside the cluster, which Argo CD also names `in-cluster`.
const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

const DESTINATION_FIELDS: [&str; 3] = ["server", "name", "namespace"];

const FAMILY: &str = "argocd";

rule!(
    PROJECT_MISSING,
    FAMILY,
    "argocd-project-missing",
    Error,
    "an Application's project is an AppProject in the tree",
    "add the AppProject, or set spec.project to one that exists"
);
rule!(
    PROJECT_DENIES,
    FAMILY,
    "argocd-project-denies",
    Error,
    "an Application's project permits its source repositories and its destination",
    "add the repository to the AppProject's sourceRepos or the server and namespace to its destinations, or move the Application to a project that permits them"
);
rule!(
    PROJECT_WILDCARD,
    FAMILY,
    "argocd-project-wildcard",
    Warning,
    "an AppProject names its source repositories and destinations instead of `*`",
    "list the repositories, servers and namespaces the project's Applications use"
);
rule!(
    VALUE_FILE_MISSING,
    FAMILY,
    "argocd-value-file-missing",
    Error,
    "every Helm value file an Application names exists",
    "fix the path in spec.source(s).helm.valueFiles (`$<ref>/` paths are from the root of the ref source's repository), or add the file"
);

pub const RULES: &[RuleInfo] = &[
    PROJECT_MISSING,
    PROJECT_DENIES,
    PROJECT_WILDCARD,
    VALUE_FILE_MISSING,
];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    let mut findings = Vec::new();
    for project in tree.of_kind(ARGO_GROUP, "AppProject") {
        check_wildcards(project, &mut findings);
    }
    for application in tree.of_kind(ARGO_GROUP, "Application") {
        match find_project(tree, application) {
            Some(project) => findings.extend(denials(application, project)),
            None => findings.push(missing_project(application)),
        }
    }
    check_in_tree_chart_value_files(tree, &mut findings);
    check_ref_value_files(tree, &mut findings);
    findings
}

fn check_wildcards(project: &Object, findings: &mut Vec<Finding>) {
    let spec = &project.value["spec"];
    let mut flag = |pointer: String, message: String| {
        findings.push(Finding::new(
            &PROJECT_WILDCARD,
            subject(project),
            Some(project.location_of(&pointer)),
            message,
        ));
    };
    for (i, repo) in strings(&spec["sourceRepos"]) {
        if repo == "*" {
            flag(
                format!("/spec/sourceRepos/{i}"),
                "sourceRepos permits every repository (`*`)".into(),
            );
        }
    }
    let destinations = spec["destinations"].as_array().into_iter().flatten();
    for (i, destination) in destinations.enumerate() {
        let wild: Vec<&str> = DESTINATION_FIELDS
            .into_iter()
            .filter(|field| destination[*field].as_str() == Some("*"))
            .collect();
        if !wild.is_empty() && !is_deny_entry(destination) {
            flag(
                format!("/spec/destinations/{i}"),
                format!(
                    "a destination permits every {} (`*`)",
                    wild.join(" and every ")
                ),
            );
        }
    }
}

/// The strings of a YAML list, with their index.
fn strings(list: &Value) -> Vec<(usize, &str)> {
    list.as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| v.as_str().map(|s| (i, s)))
        .collect()
}

/// The project an Application names (`default` when it names none).
fn project_name(application: &Object) -> &str {
    application.value["spec"]["project"]
        .as_str()
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PROJECT)
}

/// The AppProject of an Application: in the Application's namespace, else anywhere in the tree.
pub(super) fn find_project<'a>(tree: &'a Tree, application: &Object) -> Option<&'a Object> {
    let name = project_name(application);
    tree.find(ARGO_GROUP, "AppProject", application.namespace(), name)
        .or_else(|| tree.find(ARGO_GROUP, "AppProject", None, name))
}

fn missing_project(application: &Object) -> Finding {
    let name = project_name(application);
    let pointer = if application.value["spec"]["project"].is_null() {
        "/spec"
    } else {
        "/spec/project"
    };
    let mut finding = Finding::new(
        &PROJECT_MISSING,
        subject(application),
        Some(application.location_of(pointer)),
        format!("project {name} is not an AppProject in the tree"),
    );
    if name == DEFAULT_PROJECT {
        finding = finding.with_severity(Severity::Warning);
        finding
            .message
            .push_str(" (Argo CD creates it, permitting every repository and destination)");
    }
    finding
}

/// What an Application asks for that its project does not permit: source repositories, destination.
fn denials(application: &Object, project: &Object) -> Vec<Finding> {
    let mut findings = Vec::new();
    let project_spec = &project.value["spec"];
    let permitted_repos: Vec<&str> = strings(&project_spec["sourceRepos"])
        .into_iter()
        .map(|(_, repo)| repo)
        .collect();
    for (pointer, repo) in source_repos(application) {
        if !repo_permitted(&permitted_repos, repo) {
            findings.push(Finding::new(
                &PROJECT_DENIES,
                subject(application),
                Some(application.location_of(&pointer)),
                format!(
                    "source repository {repo} is not in the sourceRepos of {} ({})",
                    subject(project),
                    permitted_repos.join(", ")
                ),
            ));
        }
    }
    let destination = &application.value["spec"]["destination"];
    if !destination_permitted(project_spec, destination) {
        let cluster = destination["server"]
            .as_str()
            .or(destination["name"].as_str())
            .unwrap_or("(no server)");
        let namespace = destination["namespace"]
            .as_str()
            .unwrap_or("(no namespace)");
        findings.push(Finding::new(
            &PROJECT_DENIES,
            subject(application),
            Some(application.location_of("/spec/destination")),
            format!(
                "destination {cluster} namespace {namespace} is not among the destinations of {}",
                subject(project)
            ),
        ));
    }
    findings
}

/// The sources of an Application (`spec.source` or `spec.sources`) with their pointers.
pub(super) fn sources(application: &Object) -> Vec<(String, &Value)> {
    let spec = &application.value["spec"];
    match spec["sources"].as_array() {
        Some(sources) => sources
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("/spec/sources/{i}"), s))
            .collect(),
        None if spec["source"].is_object() => vec![("/spec/source".to_string(), &spec["source"])],
        None => Vec::new(),
    }
}

fn source_repos(application: &Object) -> Vec<(String, &str)> {
    sources(application)
        .into_iter()
        .filter_map(|(pointer, source)| {
            source["repoURL"]
                .as_str()
                .map(|repo| (format!("{pointer}/repoURL"), repo))
        })
        .collect()
}

/// A repository URL as Argo CD compares them: lower case, without a trailing `/` or `.git`.
pub(super) fn normalize_repo(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git").unwrap_or(url).to_string()
}

/// Argo CD's rule for a list of patterns: some pattern matches and no `!pattern` does.
fn permitted_by(patterns: &[&str], value: &str, matches: impl Fn(&str, &str) -> bool) -> bool {
    let denied = patterns
        .iter()
        .filter_map(|p| p.strip_prefix('!'))
        .any(|p| matches(p, value));
    let allowed = patterns
        .iter()
        .filter(|p| !p.starts_with('!'))
        .any(|p| matches(p, value));
    allowed && !denied
}

fn repo_permitted(patterns: &[&str], repo: &str) -> bool {
    permitted_by(patterns, repo, |pattern, repo| {
        glob_match(&normalize_repo(pattern), &normalize_repo(repo))
    })
}

fn destination_permitted(project_spec: &Value, destination: &Value) -> bool {
    let name = destination["name"].as_str().unwrap_or_default();
    let server = destination["server"].as_str().unwrap_or(match name {
        "in-cluster" => IN_CLUSTER_SERVER,
        _ => "",
    });
    let namespace = destination["namespace"].as_str().unwrap_or_default();
    let entries: Vec<&Value> = project_spec["destinations"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let field_matches = |entry: &Value, field: &str, value: &str| {
        let pattern = entry[field].as_str().unwrap_or_default();
        !value.is_empty() && glob_match(pattern.trim_start_matches('!'), value)
    };
    let entry_matches = |entry: &Value| {
        (field_matches(entry, "server", server) || field_matches(entry, "name", name))
            && glob_match(
                entry["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('!'),
                namespace,
            )
    };
    let denied = entries.iter().any(|e| is_deny_entry(e) && entry_matches(e));
    let allowed = entries
        .iter()
        .any(|e| !is_deny_entry(e) && entry_matches(e));
    allowed && !denied
}

/// A project destination that denies (`!pattern` in any field) rather than permits.
fn is_deny_entry(entry: &Value) -> bool {
    DESTINATION_FIELDS
        .iter()
        .any(|f| entry[*f].as_str().is_some_and(|v| v.starts_with('!')))
}

/// The `helm.valueFiles` entries of an Application, in the order plan_render resolves them.
fn value_file_entries(application: &Object) -> Vec<(String, &str)> {
    let mut entries = Vec::new();
    for (pointer, source) in sources(application) {
        for (i, file) in strings(&source["helm"]["valueFiles"]) {
            entries.push((format!("{pointer}/helm/valueFiles/{i}"), file));
        }
    }
    entries
}

fn value_file_finding(application: &Object, pointer: &str, shown: &Path) -> Finding {
    Finding::new(
        &VALUE_FILE_MISSING,
        subject(application),
        Some(application.location_of(pointer)),
        format!("value file {} does not exist", shown.display()),
    )
}

/// Value files of Applications whose chart is a folder of the tree (what rendering would need).
fn check_in_tree_chart_value_files(tree: &Tree, findings: &mut Vec<Finding>) {
    for (location, _, missing) in missing_value_files(tree) {
        let Some(application) = tree
            .of_kind(ARGO_GROUP, "Application")
            .find(|a| a.location() == location)
        else {
            continue;
        };
        let resolved = plan_render(tree, application)
            .map(|render| render.value_files)
            .unwrap_or_default();
        let pointer = value_file_entries(application)
            .into_iter()
            .zip(resolved)
            .find(|(_, path)| *path == missing)
            .map_or_else(|| "/spec".to_string(), |((pointer, _), _)| pointer);
        findings.push(value_file_finding(application, &pointer, &missing));
    }
}

/// Repositories this tree is a checkout of: the repoURL of every Application source whose `path`
/// is a folder under one of the tree's repository roots, with that root.
pub(super) fn local_repositories(tree: &Tree) -> HashMap<String, PathBuf> {
    let roots = repository_roots(tree);
    let mut local = HashMap::new();
    for application in tree.of_kind(ARGO_GROUP, "Application") {
        for (_, source) in sources(application) {
            let (Some(repo), Some(path)) = (source["repoURL"].as_str(), source["path"].as_str())
            else {
                continue;
            };
            if let Some(root) = roots.iter().find(|root| root.join(path).is_dir()) {
                local
                    .entry(normalize_repo(repo))
                    .or_insert_with(|| root.clone());
            }
        }
    }
    local
}

/// `$ref/...` value files of Applications whose chart is not in the tree (a Helm repository chart),
/// when the `ref:` source is a repository this tree is a checkout of.
fn check_ref_value_files(tree: &Tree, findings: &mut Vec<Finding>) {
    let local = local_repositories(tree);
    if local.is_empty() {
        return;
    }
    for application in tree.of_kind(ARGO_GROUP, "Application") {
        if plan_render(tree, application).is_some() {
            continue;
        }
        let all_sources = sources(application);
        for (pointer, file) in value_file_entries(application) {
            let Some((reference, rest)) =
                file.strip_prefix('$').and_then(|file| file.split_once('/'))
            else {
                continue;
            };
            let Some(root) = all_sources
                .iter()
                .find(|(_, source)| source["ref"].as_str() == Some(reference))
                .and_then(|(_, source)| source["repoURL"].as_str())
                .and_then(|repo| local.get(&normalize_repo(repo)))
            else {
                continue;
            };
            let path = root.join(rest);
            if !path.is_file() {
                findings.push(value_file_finding(application, &pointer, &path));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::LintSettings;
    use crate::repo::load_str;
    use crate::repo::test_files::write;

    fn lint_tree(tree: &Tree) -> Vec<Finding> {
        check(&LintContext {
            tree,
            settings: LintSettings::default(),
        })
    }

    fn lint(yaml: &str) -> Vec<Finding> {
        lint_tree(&load_str("test.yaml", yaml).unwrap())
    }

    fn rules_and_lines(findings: &[Finding]) -> Vec<(&'static str, usize)> {
        findings
            .iter()
            .map(|f| (f.rule, f.location.as_ref().map_or(0, |l| l.line)))
            .collect()
    }

    /// An AppProject (lines 1-11) and an Application in it (from line 13).
    const PROJECT_AND_APP: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: shop, namespace: argocd}
spec:
  sourceRepos:
  - https://github.com/example/gitops.git
  - https://charts.example.com/*
  destinations:
  - server: https://kubernetes.default.svc
    namespace: shop-*
  - {server: "*", namespace: "!shop-secret"}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: cart, namespace: argocd}
spec:
  project: shop
  source:
    repoURL: https://github.com/example/gitops
    path: apps/cart
  destination:
    server: https://kubernetes.default.svc
    namespace: shop-cart
"#;

    #[test]
    fn application_its_project_permits_is_clean() {
        assert_eq!(lint(PROJECT_AND_APP), vec![]);
    }

    #[test]
    fn missing_project_is_an_error_and_missing_default_a_warning() {
        let yaml = PROJECT_AND_APP.replace("project: shop", "project: payments");
        let findings = lint(&yaml);
        assert_eq!(
            rules_and_lines(&findings),
            vec![("argocd-project-missing", 17)]
        );
        assert_eq!(findings[0].severity, Severity::Error);

        let yaml = PROJECT_AND_APP.replace("  project: shop\n", "");
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            (findings[0].rule, findings[0].severity),
            ("argocd-project-missing", Severity::Warning)
        );
    }

    #[test]
    fn repository_outside_source_repos_is_denied() {
        let yaml = PROJECT_AND_APP.replace(
            "repoURL: https://github.com/example/gitops",
            "repoURL: https://github.com/someone/else",
        );
        assert_eq!(
            rules_and_lines(&lint(&yaml)),
            vec![("argocd-project-denies", 19)]
        );
    }

    #[test]
    fn destination_outside_the_project_or_denied_by_negation_is_flagged() {
        let yaml = PROJECT_AND_APP.replace("namespace: shop-cart", "namespace: kube-system");
        let findings = lint(&yaml);
        assert_eq!(
            rules_and_lines(&findings),
            vec![("argocd-project-denies", 21)]
        );
        assert!(findings[0].message.contains("namespace kube-system"));

        let yaml = PROJECT_AND_APP.replace("namespace: shop-cart", "namespace: shop-secret");
        assert_eq!(
            rules_and_lines(&lint(&yaml)),
            vec![("argocd-project-denies", 21)]
        );
    }

    #[test]
    fn wildcard_project_is_a_warning_at_the_entry() {
        let yaml = PROJECT_AND_APP
            .replace(
                "  - https://charts.example.com/*\n",
                "  - https://charts.example.com/*\n  - \"*\"\n",
            )
            .replace("namespace: shop-*", "namespace: \"*\"");
        let findings = lint(&yaml);
        let warnings: Vec<_> = findings
            .iter()
            .map(|f| (f.rule, f.severity, f.location.as_ref().unwrap().line))
            .collect();
        assert_eq!(
            warnings,
            vec![
                ("argocd-project-wildcard", Severity::Warning, 8),
                ("argocd-project-wildcard", Severity::Warning, 10)
            ],
            "the `*` repository and the `namespace: \"*\"` destination, not the deny entry"
        );
    }

    #[test]
    fn globs_match_like_argo_cd() {
        assert!(glob_match("shop-*", "shop-cart"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("shop-*", "kube-system"));
        assert!(glob_match(
            "https://github.com/*/gitops",
            "https://github.com/x/gitops"
        ));
        assert!(repo_permitted(
            &["https://github.com/example/gitops.git"],
            "https://GitHub.com/example/gitops/"
        ));
    }

    /// A repository with a chart, one value file, and the Applications from `yaml` at its root.
    fn repository(yaml: &str) -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.0.0\n",
        );
        write(dir.path(), "values/web.yaml", "replicas: 2\n");
        write(dir.path(), "manifests/app.yaml", yaml);
        let mut tree = load_str("manifests/app.yaml", yaml).unwrap();
        tree.roots = vec![dir.path().join("manifests")];
        (dir, tree)
    }

    const CHART_APP: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: default, namespace: argocd}
spec:
  sourceRepos: [https://github.com/example/gitops.git, https://charts.example.com]
  destinations: [{server: https://kubernetes.default.svc, namespace: web}]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  sources:
  - repoURL: https://github.com/example/gitops.git
    path: charts/web
    helm:
      valueFiles:
      - $values/values/web.yaml
  - repoURL: https://github.com/example/gitops.git
    ref: values
  destination: {server: https://kubernetes.default.svc, namespace: web}
"#;

    #[test]
    fn value_files_of_an_in_tree_chart_exist() {
        let (_dir, tree) = repository(CHART_APP);
        assert_eq!(lint_tree(&tree), vec![]);
    }

    #[test]
    fn missing_value_file_of_an_in_tree_chart_is_flagged_at_its_entry() {
        let yaml = CHART_APP.replace("$values/values/web.yaml", "$values/values/typo.yaml");
        let (_dir, tree) = repository(&yaml);
        let findings = lint_tree(&tree);
        assert_eq!(
            rules_and_lines(&findings),
            vec![("argocd-value-file-missing", 17)]
        );
        assert!(findings[0].message.contains("values/typo.yaml"));
    }

    /// A Helm repository chart with its values from this repository (`$values`), beside an
    /// Application whose source path shows which repository this tree is.
    const REPO_CHART_APP: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: default, namespace: argocd}
spec:
  sourceRepos: [https://github.com/example/gitops.git, https://charts.example.com]
  destinations: [{server: https://kubernetes.default.svc, namespace: web}]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  sources:
  - repoURL: https://charts.example.com
    chart: web
    targetRevision: 1.0.0
    helm:
      valueFiles:
      - $values/values/web.yaml
  - repoURL: https://github.com/example/gitops.git
    ref: values
  destination: {server: https://kubernetes.default.svc, namespace: web}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: manifests, namespace: argocd}
spec:
  source: {repoURL: https://github.com/example/gitops, path: manifests}
  destination: {server: https://kubernetes.default.svc, namespace: web}
"#;

    #[test]
    fn ref_value_files_of_a_repository_chart_resolve_against_this_repository() {
        let (_dir, tree) = repository(REPO_CHART_APP);
        assert_eq!(lint_tree(&tree), vec![]);

        let yaml = REPO_CHART_APP.replace("$values/values/web.yaml", "$values/values/gone.yaml");
        let (_dir, tree) = repository(&yaml);
        assert_eq!(
            rules_and_lines(&lint_tree(&tree)),
            vec![("argocd-value-file-missing", 18)]
        );
    }

    #[test]
    fn ref_to_a_repository_this_tree_is_not_is_not_checked() {
        let yaml = REPO_CHART_APP
            .replace("$values/values/web.yaml", "$values/values/gone.yaml")
            .replace(
                "  - repoURL: https://github.com/example/gitops.git\n    ref: values",
                "  - repoURL: https://github.com/example/other.git\n    ref: values",
            )
            .replace(
                "[https://github.com/example/gitops.git,",
                "[https://github.com/example/gitops.git, https://github.com/example/other.git,",
            );
        let (_dir, tree) = repository(&yaml);
        assert_eq!(lint_tree(&tree), vec![]);
    }
}
