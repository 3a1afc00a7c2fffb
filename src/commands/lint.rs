//! `tacos lint [PATH...]`: load what can be read, render charts, run every rule, report unreadable input and findings alike.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::{GlobalArgs, LintArgs, OutputFormat};
use crate::exit::{ExitStatus, StatusError};
use crate::lint::helm_values::{PinnedValues, Unavailable};
use crate::lint::{LintContext, LintSettings, catalogue, input_findings, run as run_rules};
use crate::phases::Upstream;
use crate::repo::{LoadOptions, Object, load_all};
use crate::report::{self, Severity};
use crate::upstream::{CrdFetch, PINNED_CRDS};

pub async fn run(global: &GlobalArgs, args: &LintArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json, OutputFormat::Sarif],
        "lint",
    )?;
    if args.list_rules {
        for rule in catalogue() {
            println!("{:<40} {:<8} {}", rule.id, rule.severity, rule.summary);
        }
        return Ok(ExitStatus::Clean);
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let options = LoadOptions {
        render_charts: !args.no_render,
        helm: args.helm.clone(),
    };
    for path in &paths {
        if !path.exists() {
            return Err(StatusError::bad_input(format!(
                "{}: no such file or folder; name the folders or files of Kubernetes YAML to lint",
                path.display()
            ))
            .into());
        }
    }
    let loaded = load_all(&paths, &options);
    let mut tree = loaded.tree;
    // Helm test hooks (and delete hooks) never reach a cluster on a deploy: nothing to lint.
    tree.objects
        .retain(|o| !crate::repo::hooks::never_applied(&o.value));
    let mut settings = lint_settings(global)?;
    settings.crds = schema_crds(&args.schema_dir, global.verbose > 0)?;
    let fetch = if args.offline {
        CrdFetch::CacheOnly
    } else {
        CrdFetch::Allowed
    };
    let (pinned, unavailable) = pinned_crds(&tree, &settings.crds, fetch).await;
    settings.crds.extend(pinned);
    settings.crd_unavailable = unavailable;
    let cache = crate::upstream::chart_cache_dir();
    settings.chart_dirs = args.chart_dir.iter().cloned().chain([cache]).collect();
    settings.pinned_values = pinned_values(&tree, &paths, args.chart_dir.as_deref());
    let mut findings = input_findings(&loaded.problems);
    findings.extend(run_rules(&LintContext {
        tree: &tree,
        settings,
    }));
    report::sort_findings(&mut findings);
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&findings))?
        ),
        OutputFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&report::sarif::render(&findings, &catalogue()))?
        ),
        _ => {
            let shown: Vec<_> = findings
                .iter()
                .filter(|f| !global.quiet || f.severity == Severity::Error)
                .cloned()
                .collect();
            print!("{}", report::human::render(&shown, super::use_color()));
            if global.verbose > 0 {
                eprintln!(
                    "read {} object(s); skipped {} YAML file(s) without Kubernetes objects; {} input problem(s)",
                    tree.objects.len(),
                    tree.skipped.len(),
                    loaded.problems.len()
                );
            }
        }
    }
    Ok(if findings.iter().any(|f| f.severity >= args.fail_on) {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    })
}

/// The values files tacos's phases give their pinned charts, when they are among the linted
/// files (found like the charts Applications name: from the roots and their parents), each with
/// its chart from `--chart-dir` (`<name>/` or `<name>-<version>.tgz`) or the chart cache, never
/// from the network.
fn pinned_values(
    tree: &crate::repo::Tree,
    paths: &[PathBuf],
    chart_dir: Option<&std::path::Path>,
) -> Vec<PinnedValues> {
    let linted: Vec<PathBuf> = paths.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let roots = crate::repo::helm::repository_roots(tree);
    let mut pinned = Vec::new();
    for phase in crate::phases::ALL {
        for upstream in phase.upstream {
            let Upstream::Chart {
                chart,
                values,
                namespace,
                ..
            } = upstream
            else {
                continue;
            };
            let Some(file) = roots.iter().map(|root| root.join(values)).find(|file| {
                file.canonicalize()
                    .is_ok_and(|real| linted.iter().any(|l| real.starts_with(l)))
            }) else {
                continue;
            };
            let folder = chart_dir.and_then(|dir| {
                let folder = dir.join(chart.name);
                let archive = dir.join(format!("{}-{}.tgz", chart.name, chart.version));
                if folder.join("Chart.yaml").is_file() {
                    Some(folder)
                } else {
                    archive.is_file().then_some(archive)
                }
            });
            let cache = crate::upstream::chart_cache_dir();
            let found = folder
                .or_else(|| crate::upstream::cached_chart(chart, &cache))
                .ok_or_else(|| Unavailable {
                    reason: format!(
                        "chart {} {} is neither in --chart-dir ({}/{}/ or {}-{}.tgz) nor in the chart cache ({})",
                        chart.name,
                        chart.version,
                        chart_dir.map_or_else(|| "DIR".to_string(), |d| d.display().to_string()),
                        chart.name,
                        chart.name,
                        chart.version,
                        crate::upstream::cached_archive(chart, &cache).display(),
                    ),
                    remedy: format!(
                        "`helm pull {} --repo {} --version {} --untar --untardir DIR` and lint with --chart-dir DIR (or TACOS_CHART_DIR=DIR); a deploy or diff of phase {} also puts the checked archive in the cache",
                        chart.name, chart.repo, chart.version, phase.name
                    ),
                });
            pinned.push(PinnedValues {
                subject: format!("phase {}", phase.name),
                values: file,
                chart: found,
                installs: format!(
                    "chart {} {} into namespace {namespace}",
                    chart.name, chart.version
                ),
                namespace: namespace.to_string(),
            });
        }
    }
    pinned
}

/// Headroom and the cluster's version from tacos.yaml when it exists; defaults when linting a tree that has none.
fn lint_settings(global: &GlobalArgs) -> anyhow::Result<LintSettings> {
    if !global.config.is_file() {
        return Ok(LintSettings::default());
    }
    let environment = super::environment(global)?;
    let environment = &environment;
    Ok(LintSettings {
        headroom: environment.capacity.headroom,
        cluster_minor: environment
            .cluster
            .min_version
            .split_once('.')
            .and_then(|(_, minor)| minor.parse().ok()),
        ..LintSettings::default()
    })
}

/// The pinned CRD sets that define an API group the tree uses and no CRD in the tree or a
/// `--schema-dir` defines, from the cache or the module proxy; for the sets that could not be
/// had, each of their groups with the reason.
async fn pinned_crds(
    tree: &crate::repo::Tree,
    schema_crds: &[Object],
    fetch: CrdFetch,
) -> (Vec<Object>, BTreeMap<String, String>) {
    let wanted = crate::lint::crds::groups_without_crds(tree, schema_crds);
    let sets = PINNED_CRDS
        .iter()
        .filter(|set| set.groups.iter().any(|g| wanted.contains(*g)));
    let fetched = futures::future::join_all(
        sets.map(|set| async move { (set, crate::upstream::crd_files(set, fetch).await) }),
    )
    .await;
    let mut crds = Vec::new();
    let mut unavailable = BTreeMap::new();
    for (set, files) in fetched {
        let reason =
            match files {
                Ok(files) => {
                    let mut problems = Vec::new();
                    for (path, text) in files {
                        match crate::repo::load_str(&path.display().to_string(), &text) {
                            Ok(loaded) => crds.extend(loaded.objects.into_iter().filter(|o| {
                                o.is("apiextensions.k8s.io", "CustomResourceDefinition")
                            })),
                            Err(error) => problems.push(error.to_string()),
                        }
                    }
                    if problems.is_empty() {
                        continue;
                    }
                    problems.join("; ")
                }
                Err(error) => error.to_string(),
            };
        let reason = format!(
            "{} {} ({}@{}): {reason}",
            set.project, set.version, set.module, set.version
        );
        for group in set.groups {
            unavailable.insert(group.to_string(), reason.clone());
        }
    }
    (crds, unavailable)
}

/// The CustomResourceDefinitions of every `--schema-dir`. Upstream folders hold more than CRDs
/// (a kustomization.yaml, one bundle beside the single files), so what is not a readable CRD is
/// passed over (listed with --verbose); the first definition of a CRD wins.
fn schema_crds(dirs: &[PathBuf], verbose: bool) -> anyhow::Result<Vec<Object>> {
    let mut crds = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(StatusError::bad_input(format!(
                "--schema-dir {}: no such folder; name a folder of CustomResourceDefinition YAML",
                dir.display()
            ))
            .into());
        }
        let loaded = load_all(std::slice::from_ref(dir), &LoadOptions::default());
        let before = crds.len();
        crds.extend(
            loaded
                .tree
                .objects
                .into_iter()
                .filter(|o| o.is("apiextensions.k8s.io", "CustomResourceDefinition")),
        );
        if crds.len() == before {
            return Err(StatusError::bad_input(format!(
                "--schema-dir {}: holds no CustomResourceDefinition; name a folder of CRD YAML",
                dir.display()
            ))
            .into());
        }
        if verbose {
            for problem in &loaded.problems {
                eprintln!(
                    "--schema-dir: passed over {}: {}",
                    problem.location, problem.message
                );
            }
        }
    }
    Ok(crds)
}
