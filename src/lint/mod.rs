//! Offline rules over a loaded tree: each family in its own file, each rule with a stable id, severity, message and remedy.

pub mod api_versions;
pub mod argocd;
pub mod argocd_kinds;
pub mod crds;
pub mod helm_values;
pub mod labels;
pub mod network;
pub mod nodes;
pub mod pod_security;
pub mod resources;
pub mod routes;
pub mod scaling;
pub mod secrets;
pub mod sync_options;
pub mod vpa;

use std::collections::{BTreeSet, HashMap};

use crate::repo::{LoadProblem, Object, Tree};
use crate::report::{Finding, RuleInfo, rule, sort_findings};

/// Annotation prefix that silences a rule for one object: `ignore.tacos.traffictacos.store/<rule-id>: "<reason>"`.
pub const IGNORE_PREFIX: &str = "ignore.tacos.traffictacos.store/";

/// Annotation on a workload or its autoscaler: the requests per second one pod is sized for.
pub const RPS_PER_POD_ANNOTATION: &str = "tacos.traffictacos.store/rps-per-pod";
/// Annotation on a workload or its autoscaler: the peak requests per second this service must carry.
pub const PEAK_RPS_ANNOTATION: &str = "tacos.traffictacos.store/peak-rps";

// An ignore annotation with no reason.
rule!(
    IGNORE_WITHOUT_REASON,
    "lint",
    "lint-ignore-without-reason",
    Error,
    "an ignore annotation must say why the rule does not apply",
    "write the reason as the annotation's value, e.g. ignore.tacos.traffictacos.store/pss-read-only-root-filesystem: \"nginx writes its cache\""
);

rule!(
    INPUT_UNREADABLE,
    "lint",
    "lint-input-unreadable",
    Error,
    "every YAML file under the linted paths reads as Kubernetes objects (valid YAML, no duplicate keys or objects, mappings with apiVersion, kind and metadata.name, the fields their kind has) and every in-tree chart renders",
    "fix the file at the place shown (the message is the parser's or helm's reason); until then the objects it holds are left out of every rule"
);
rule!(
    INPUT_INCOMPLETE,
    "lint",
    "lint-input-incomplete",
    Info,
    "rules that look across files ran without the objects of the inputs that could not be read",
    "fix the unreadable inputs and lint again: a finding about a missing object (a route's Gateway, a Secret a pod reads, an Application's project) may be one of them"
);

/// Platform settings some rules need (from tacos.yaml when there is one).
#[derive(Debug, Clone)]
pub struct LintSettings {
    /// Spare capacity required above the peak, e.g. 0.3 for 30 %.
    pub headroom: f64,
    /// CustomResourceDefinitions from outside the tree (`--schema-dir`, the pinned sets) to check
    /// custom resources against.
    pub crds: Vec<Object>,
    /// API groups whose pinned CRDs could not be had, each with the reason.
    pub crd_unavailable: std::collections::BTreeMap<String, String>,
    /// The cluster's oldest Kubernetes minor version (1.x), from tacos.yaml's cluster.minVersion.
    pub cluster_minor: Option<u32>,
    /// Folders where charts not in the tree are looked for (`--chart-dir`, the chart cache).
    pub chart_dirs: Vec<std::path::PathBuf>,
    /// Values files tacos's phases give pinned upstream charts.
    pub pinned_values: Vec<helm_values::PinnedValues>,
}

impl Default for LintSettings {
    fn default() -> Self {
        Self {
            headroom: 0.3,
            crds: Vec::new(),
            crd_unavailable: Default::default(),
            cluster_minor: None,
            chart_dirs: Vec::new(),
            pinned_values: Vec::new(),
        }
    }
}

/// What every rule family reads.
pub struct LintContext<'a> {
    pub tree: &'a Tree,
    pub settings: LintSettings,
}

/// A family of rules: its catalogue and its check over the whole tree.
pub struct Family {
    pub rules: &'static [RuleInfo],
    pub check: fn(&LintContext<'_>) -> Vec<Finding>,
}

/// Every rule family, in the order they run.
pub fn families() -> Vec<Family> {
    vec![
        Family {
            rules: pod_security::RULES,
            check: pod_security::check,
        },
        Family {
            rules: resources::RULES,
            check: resources::check,
        },
        Family {
            rules: scaling::RULES,
            check: scaling::check,
        },
        Family {
            rules: vpa::RULES,
            check: vpa::check,
        },
        Family {
            rules: network::RULES,
            check: network::check,
        },
        Family {
            rules: nodes::RULES,
            check: nodes::check,
        },
        Family {
            rules: labels::RULES,
            check: labels::check,
        },
        Family {
            rules: routes::RULES,
            check: routes::check,
        },
        Family {
            rules: argocd::RULES,
            check: argocd::check,
        },
        Family {
            rules: argocd_kinds::RULES,
            check: argocd_kinds::check,
        },
        Family {
            rules: sync_options::RULES,
            check: sync_options::check,
        },
        Family {
            rules: secrets::RULES,
            check: secrets::check,
        },
        Family {
            rules: crds::RULES,
            check: crds::check,
        },
        Family {
            rules: api_versions::RULES,
            check: api_versions::check,
        },
        Family {
            rules: helm_values::RULES,
            check: helm_values::check,
        },
    ]
}

/// Every rule tacos lint knows, for SARIF and `--list-rules`.
pub fn catalogue() -> Vec<RuleInfo> {
    let mut rules = vec![IGNORE_WITHOUT_REASON, INPUT_UNREADABLE, INPUT_INCOMPLETE];
    for family in families() {
        rules.extend_from_slice(family.rules);
    }
    rules
}

/// Runs every family, drops findings silenced by a reasoned ignore annotation on their object,
/// and reports ignore annotations without a reason.
pub fn run(context: &LintContext<'_>) -> Vec<Finding> {
    // Families read the tree and nothing else: they run side by side, their findings in order.
    let mut findings: Vec<Finding> =
        crate::parallel::map_in_order(&families(), |family| (family.check)(context))
            .into_iter()
            .flatten()
            .collect();
    let ignoring = Ignoring::of(context.tree);
    findings.retain(|finding| !ignoring.silences(finding));
    for object in &context.tree.objects {
        let annotations = object.value["metadata"]["annotations"].as_object();
        for (key, value) in annotations.into_iter().flatten() {
            if let Some(rule) = key.strip_prefix(IGNORE_PREFIX)
                && value.as_str().is_none_or(|reason| reason.trim().is_empty())
            {
                findings.push(Finding::new(
                    &IGNORE_WITHOUT_REASON,
                    subject(object),
                    Some(
                        object.location_of(&format!(
                            "/metadata/annotations/{}",
                            key.replace('/', "~1")
                        )),
                    ),
                    format!("ignores {rule} without a reason, so the rule still applies"),
                ));
            }
        }
    }
    sort_findings(&mut findings);
    findings
}

/// The load problems of a tree as findings, one each, and once, when there are any, a note that
/// the rules ran without what could not be read.
pub fn input_findings(problems: &[LoadProblem]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = problems
        .iter()
        .map(|problem| {
            Finding::new(
                &INPUT_UNREADABLE,
                format!("file {}", problem.location.file.display()),
                Some(problem.location.clone()),
                problem.message.clone(),
            )
        })
        .collect();
    let files: BTreeSet<String> = problems
        .iter()
        .map(|p| p.location.file.display().to_string())
        .collect();
    if let Some(first) = problems.first() {
        findings.push(Finding::new(
            &INPUT_INCOMPLETE,
            "the linted tree",
            Some(first.location.clone()),
            format!(
                "{} problem(s) in {} input(s) ({}): the objects there are left out, so every rule that looks across files ran as if they did not exist",
                problems.len(),
                files.len(),
                files.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    findings
}

/// The objects that carry ignore annotations, by how findings name them: looked up once per
/// finding instead of scanning the tree.
struct Ignoring<'a> {
    by_subject: HashMap<String, Vec<&'a Object>>,
}

impl<'a> Ignoring<'a> {
    fn of(tree: &'a Tree) -> Self {
        let mut by_subject: HashMap<String, Vec<&'a Object>> = HashMap::new();
        for object in &tree.objects {
            let annotations = object.value["metadata"]["annotations"].as_object();
            if annotations
                .into_iter()
                .flatten()
                .any(|(key, _)| key.starts_with(IGNORE_PREFIX))
            {
                by_subject.entry(subject(object)).or_default().push(object);
            }
        }
        Self { by_subject }
    }

    /// Whether an object the finding is about ignores its rule, with a reason.
    fn silences(&self, finding: &Finding) -> bool {
        self.by_subject
            .get(&finding.subject)
            .into_iter()
            .flatten()
            .any(|object| {
                object
                    .annotation(&format!("{IGNORE_PREFIX}{}", finding.rule))
                    .is_some_and(|reason| !reason.trim().is_empty())
            })
    }
}

/// Runs one family's check over inline YAML read as `test.yaml` (the families' unit tests).
#[cfg(test)]
pub(crate) fn lint_yaml(check: fn(&LintContext<'_>) -> Vec<Finding>, yaml: &str) -> Vec<Finding> {
    let tree = crate::repo::load_str("test.yaml", yaml).expect("valid test YAML");
    check(&LintContext {
        tree: &tree,
        settings: LintSettings::default(),
    })
}

/// How findings name an object: `Kind namespace/name` (or `Kind name` when cluster-scoped or unset).
pub fn subject(object: &Object) -> String {
    object.key().to_string()
}

/// Every container of a pod spec (init containers included), with its JSON pointer.
pub fn containers<'a>(
    pod_pointer: &str,
    pod_spec: &'a serde_json::Value,
) -> Vec<(String, &'a serde_json::Value)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers"] {
        for (index, container) in pod_spec[list].as_array().into_iter().flatten().enumerate() {
            out.push((format!("{pod_pointer}/{list}/{index}"), container));
        }
    }
    out
}
