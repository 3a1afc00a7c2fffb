//! Autoscalers, disruption budgets, capacity for the peak, quota room at maximum replicas, and agreement with docs/scaling-strategy.md.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{LintContext, PEAK_RPS_ANNOTATION, RPS_PER_POD_ANNOTATION, subject};
use crate::k8s::quantity::{Quantity, format_decimal};
use crate::k8s::workloads::{
    ReplicaRange, is_scalable, selecting, services_selecting, workloads_selected_by,
};
use crate::repo::object::pointer;
use crate::repo::{Location, Object, Tree};
use crate::report::rule;
use crate::report::{Finding, RuleInfo};

const FAMILY: &str = "scaling";

rule!(
    HPA_MISSING,
    FAMILY,
    "scale-hpa-missing",
    Warning,
    "Deployments and StatefulSets should be scaled by an HPA or a KEDA ScaledObject",
    "add a HorizontalPodAutoscaler (autoscaling/v2) or a KEDA ScaledObject whose scaleTargetRef names the workload"
);
rule!(
    PDB_MISSING,
    FAMILY,
    "scale-pdb-missing",
    Warning,
    "workloads with more than one replica should have a PodDisruptionBudget",
    "add a PodDisruptionBudget (maxUnavailable: 1) whose selector matches the pod template's labels"
);
rule!(
    PDB_BLOCKS_EVICTION,
    FAMILY,
    "scale-pdb-blocks-eviction",
    Error,
    "a PodDisruptionBudget must allow an eviction at the workload's minimum replicas",
    "use maxUnavailable: 1, or a minAvailable below the minimum replicas (percentages round up), or raise the minimum replicas"
);
rule!(
    HPA_MIN_REPLICAS,
    FAMILY,
    "scale-hpa-min-replicas",
    Warning,
    "autoscalers of workloads behind a Service should keep at least 2 replicas",
    "set minReplicas (minReplicaCount for KEDA) to 2 or more, one per zone when possible"
);
rule!(
    CAPACITY,
    FAMILY,
    "scale-capacity",
    Error,
    "maximum replicas x rps-per-pod must carry the peak RPS plus headroom",
    "raise maxReplicas, or re-measure rps-per-pod; both annotations must be plain numbers"
);
rule!(
    QUOTA_BLOCKS_HPA,
    FAMILY,
    "scale-quota-blocks-hpa",
    Error,
    "a namespace's ResourceQuota must fit every workload at its maximum replicas",
    "raise the ResourceQuota's hard limits, or lower maxReplicas or the containers' requests"
);
rule!(
    DOC_AGREEMENT,
    FAMILY,
    "scale-doc-agreement",
    Error,
    "docs/scaling-strategy.md must state the tree's rps-per-pod and min/max replicas",
    "update the table row or the workload's annotation and autoscaler so they agree"
);

pub const RULES: &[RuleInfo] = &[
    HPA_MISSING,
    PDB_MISSING,
    PDB_BLOCKS_EVICTION,
    HPA_MIN_REPLICAS,
    CAPACITY,
    QUOTA_BLOCKS_HPA,
    DOC_AGREEMENT,
];

/// Where the scaling strategy is written, relative to a repository root.
const SCALING_DOC: &str = "docs/scaling-strategy.md";

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    let mut findings = Vec::new();
    for workload in tree.objects.iter().filter(|o| is_scalable(o)) {
        let range = ReplicaRange::of(tree, workload);
        findings.extend(missing_autoscaler(workload, &range));
        findings.extend(missing_pdb(tree, workload, &range));
        findings.extend(low_min_replicas(tree, workload, &range));
        findings.extend(capacity(context, workload, &range));
    }
    for pdb in tree.of_kind("policy", "PodDisruptionBudget") {
        findings.extend(blocked_evictions(tree, pdb));
    }
    for quota in tree.of_kind("", "ResourceQuota") {
        findings.extend(quota_overruns(tree, quota));
    }
    findings.extend(doc_disagreements(tree));
    findings
}

/// Kinds whose objects run pods.
const POD_KINDS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "Pod"),
    ("", "ReplicationController"),
];

/// Objects that run pods, in the namespace of `namespace_of` (looked up by kind and namespace,
/// not by scanning the tree: this runs once per PDB and per quota).
fn pod_workloads_beside<'a>(
    tree: &'a Tree,
    namespace_of: &'a Object,
) -> impl Iterator<Item = &'a Object> + 'a {
    let namespace = namespace_of.namespace();
    POD_KINDS
        .iter()
        .flat_map(move |(group, kind)| tree.in_namespace(group, kind, namespace))
        .filter(|o| o.pod_spec().is_some())
}

fn missing_autoscaler(workload: &Object, range: &ReplicaRange<'_>) -> Option<Finding> {
    range.autoscaler.is_none().then(|| {
        Finding::new(
            &HPA_MISSING,
            subject(workload),
            Some(workload.location()),
            "no HorizontalPodAutoscaler or KEDA ScaledObject scales it",
        )
    })
}

fn missing_pdb(tree: &Tree, workload: &Object, range: &ReplicaRange<'_>) -> Option<Finding> {
    let protected = !selecting(tree, ("policy", "PodDisruptionBudget"), workload).is_empty();
    (range.min > 1 && !protected).then(|| {
        Finding::new(
            &PDB_MISSING,
            subject(workload),
            Some(workload.location()),
            format!(
                "runs at least {} replicas but no PodDisruptionBudget selects its pods",
                range.min
            ),
        )
    })
}

fn low_min_replicas(tree: &Tree, workload: &Object, range: &ReplicaRange<'_>) -> Option<Finding> {
    let autoscaler = range.autoscaler?;
    let service = services_selecting(tree, workload).next()?;
    (range.min < 2).then(|| {
        Finding::new(
            &HPA_MIN_REPLICAS,
            subject(autoscaler.object),
            Some(autoscaler.object.location_of(autoscaler.min_pointer())),
            format!(
                "{} {} lets {} (behind {}) run a single pod, so a restart or an eviction stops the service",
                field_name(autoscaler.min_pointer()),
                range.min,
                subject(workload),
                subject(service)
            ),
        )
    })
}

/// The last token of a pointer: `/spec/minReplicas` -> `minReplicas`.
fn field_name(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or(pointer)
}

/// A PodDisruptionBudget's findings: one per workload it selects whose minimum replicas it never lets go below.
fn blocked_evictions(tree: &Tree, pdb: &Object) -> Vec<Finding> {
    let spec = &pdb.value["spec"];
    workloads_selected_by(tree, pdb.namespace(), &spec["selector"])
        .into_iter()
        .filter(|workload| POD_KINDS.contains(&(workload.group(), workload.kind())))
        .filter_map(|workload| {
            let pods = ReplicaRange::of(tree, workload).min;
            let (field, why) = eviction_blocker(spec, pods)?;
            Some(Finding::new(
                &PDB_BLOCKS_EVICTION,
                subject(pdb),
                Some(pdb.location_of(&format!("/spec/{field}"))),
                format!(
                    "{why} at the minimum of {pods} replica(s) of {}, so node drains and spot interruptions wait forever",
                    subject(workload)
                ),
            ))
        })
        .collect()
}

/// Which field of a PDB spec blocks every eviction when `pods` pods run, and why.
fn eviction_blocker(spec: &Value, pods: i64) -> Option<(&'static str, String)> {
    if pods < 1 {
        return None;
    }
    if let Some(min_available) = spec.get("minAvailable").filter(|v| !v.is_null()) {
        let available = pods_of(min_available, pods)?;
        return (available >= pods).then(|| {
            (
                "minAvailable",
                format!(
                    "minAvailable {} keeps {available} of {pods} pod(s) up",
                    show(min_available)
                ),
            )
        });
    }
    let max_unavailable = spec.get("maxUnavailable").filter(|v| !v.is_null())?;
    (pods_of(max_unavailable, pods)? <= 0).then(|| {
        (
            "maxUnavailable",
            format!("maxUnavailable {} lets no pod go", show(max_unavailable)),
        )
    })
}

/// An int-or-percent PDB field as a pod count out of `pods`; percentages round up, as Kubernetes does.
fn pods_of(value: &Value, pods: i64) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => match text.trim().strip_suffix('%') {
            Some(percent) => {
                let percent: u64 = percent.trim().parse().ok()?;
                let scaled = percent
                    .checked_mul(u64::try_from(pods).ok()?)?
                    .div_ceil(100);
                i64::try_from(scaled).ok()
            }
            None => text.trim().parse().ok(),
        },
        _ => None,
    }
}

/// A scalar as written: `3`, `50%`.
fn show(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

/// A capacity annotation, read from the workload's autoscaler when it carries it, else from the workload.
pub(crate) struct Declared<'a> {
    pub(crate) object: &'a Object,
    pub(crate) key: &'static str,
    text: &'a str,
}

impl<'a> Declared<'a> {
    pub(crate) fn find(
        workload: &'a Object,
        range: &ReplicaRange<'a>,
        key: &'static str,
    ) -> Option<Declared<'a>> {
        let autoscaler = range.autoscaler.map(|a| a.object);
        autoscaler.into_iter().chain([workload]).find_map(|object| {
            object
                .annotation(key)
                .map(|text| Declared { object, key, text })
        })
    }

    /// The value as a positive number, or None when it is not one.
    pub(crate) fn number(&self) -> Option<f64> {
        self.text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0)
    }

    fn not_a_number(&self) -> Finding {
        Finding::new(
            &CAPACITY,
            subject(self.object),
            Some(
                self.object
                    .location_of(&pointer(&["metadata", "annotations", self.key])),
            ),
            format!(
                "annotation {} is {:?}, not a positive number",
                self.key, self.text
            ),
        )
    }
}

fn capacity(
    context: &LintContext<'_>,
    workload: &Object,
    range: &ReplicaRange<'_>,
) -> Vec<Finding> {
    let rps_per_pod = Declared::find(workload, range, RPS_PER_POD_ANNOTATION);
    let peak = Declared::find(workload, range, PEAK_RPS_ANNOTATION);
    let invalid: Vec<Finding> = [&rps_per_pod, &peak]
        .into_iter()
        .flatten()
        .filter(|declared| declared.number().is_none())
        .map(Declared::not_a_number)
        .collect();
    if !invalid.is_empty() {
        return invalid;
    }
    let (Some(rps_per_pod), Some(peak)) = (
        rps_per_pod.and_then(|d| d.number()),
        peak.and_then(|d| d.number()),
    ) else {
        return Vec::new();
    };
    let headroom = context.settings.headroom;
    let carried = range.max as f64 * rps_per_pod;
    let needed = peak * (1.0 + headroom);
    // A relative tolerance, so 100 x 650 still carries 50000 x 1.3.
    if carried >= needed * (1.0 - 1e-9) {
        return Vec::new();
    }
    let (owner, max_pointer) = match range.autoscaler {
        Some(autoscaler) => (autoscaler.object, autoscaler.max_pointer()),
        None => (workload, "/spec/replicas"),
    };
    vec![Finding::new(
        &CAPACITY,
        subject(owner),
        Some(owner.location_of(max_pointer)),
        format!(
            "{} {} x rps-per-pod {} = {} RPS < peak-rps {} x {} (headroom {}%) = {} RPS",
            field_name(max_pointer),
            range.max,
            format_decimal(rps_per_pod),
            format_decimal(carried),
            format_decimal(peak),
            format_decimal(1.0 + headroom),
            format_decimal(headroom * 100.0),
            format_decimal(needed),
        ),
    )]
}

/// Quota keys that limit pod resources: the hard key, and the container resource it sums.
pub(crate) const QUOTA_RESOURCES: [(&str, &str, &str); 6] = [
    ("requests.cpu", "requests", "cpu"),
    ("cpu", "requests", "cpu"),
    ("requests.memory", "requests", "memory"),
    ("memory", "requests", "memory"),
    ("limits.cpu", "limits", "cpu"),
    ("limits.memory", "limits", "memory"),
];

/// A ResourceQuota's findings: every hard limit the namespace's workloads overrun at maximum replicas.
/// Scoped quotas count only some pods and are left alone; DaemonSets' pod counts are unknown offline.
fn quota_overruns(tree: &Tree, quota: &Object) -> Vec<Finding> {
    let spec = &quota.value["spec"];
    if quota.namespace().is_none() || !spec["scopes"].is_null() || !spec["scopeSelector"].is_null()
    {
        return Vec::new();
    }
    let workloads: Vec<(&Object, i64)> = pod_workloads_beside(tree, quota)
        .filter(|o| o.kind() != "DaemonSet")
        .map(|o| (o, ReplicaRange::of(tree, o).max))
        .collect();
    let hard = spec["hard"].as_object().into_iter().flatten();
    hard.filter_map(|(key, limit)| {
        let allowed = Quantity::of_value(limit)?;
        let (needed, parts) = quota_usage(&workloads, key)?;
        (needed > allowed).then(|| {
            let show = |q: Quantity| {
                if key.ends_with("memory") {
                    q.as_bytes_text()
                } else {
                    q.to_string()
                }
            };
            let parts: Vec<String> = parts
                .iter()
                .map(|(workload, replicas, per_pod)| {
                    format!("{} {replicas} x {}", workload.name(), show(*per_pod))
                })
                .collect();
            Finding::new(
                &QUOTA_BLOCKS_HPA,
                subject(quota),
                Some(quota.location_of(&pointer(&["spec", "hard", key]))),
                format!(
                    "{key} at maximum replicas is {} but the quota allows {} ({})",
                    show(needed),
                    show(allowed),
                    parts.join(" + ")
                ),
            )
        })
    })
    .collect()
}

/// What a quota key adds up to over workloads at maximum replicas, and each workload's share
/// (maximum replicas, amount per pod); None for keys that do not count pod resources.
type QuotaUsage<'a> = (Quantity, Vec<(&'a Object, i64, Quantity)>);

fn quota_usage<'a>(workloads: &[(&'a Object, i64)], key: &str) -> Option<QuotaUsage<'a>> {
    let counted = match key {
        "pods" => None,
        _ => Some(QUOTA_RESOURCES.iter().find(|(hard, _, _)| *hard == key)?),
    };
    let per_pod = |workload: &Object| match counted {
        None => Some(Quantity::from(1)),
        Some((_, section, resource)) => workload
            .pod_spec()
            .map(|(_, pod)| pod_amount(pod, section, resource)),
    };
    let parts: Vec<(&Object, i64, Quantity)> = workloads
        .iter()
        .filter_map(|(workload, max)| Some((*workload, *max, per_pod(workload)?)))
        .filter(|(_, _, amount)| *amount > Quantity::ZERO)
        .collect();
    let total = parts
        .iter()
        .fold(Quantity::ZERO, |sum, (_, max, amount)| sum + *amount * *max);
    Some((total, parts))
}

/// A pod's effective request or limit of one resource: the larger of its containers' sum and its largest init container.
pub(crate) fn pod_amount(pod: &Value, section: &str, resource: &str) -> Quantity {
    let amounts = |list: &str| -> Vec<Quantity> {
        pod[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Quantity::of_value(&c["resources"][section][resource]))
            .collect()
    };
    let running = amounts("containers")
        .into_iter()
        .fold(Quantity::ZERO, |a, b| a + b);
    let init = amounts("initContainers")
        .into_iter()
        .max()
        .unwrap_or_default();
    running.max(init)
}

/// One row of a scaling table in the doc.
#[derive(Debug, Clone, PartialEq)]
struct DocRow {
    line: usize,
    service: String,
    rps_per_pod: Option<f64>,
    min_replicas: Option<f64>,
    max_replicas: Option<f64>,
}

fn doc_disagreements(tree: &Tree) -> Vec<Finding> {
    let Some(doc) = scaling_doc(tree) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&doc) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for row in doc_rows(&text) {
        let named = |o: &&Object| {
            o.name() == row.service || o.label("app.kubernetes.io/name") == Some(&row.service)
        };
        for workload in tree.objects.iter().filter(|o| is_scalable(o)).filter(named) {
            let differences = row_differences(&row, tree, workload);
            if differences.is_empty() {
                continue;
            }
            findings.push(Finding::new(
                &DOC_AGREEMENT,
                subject(workload),
                Some(Location {
                    file: doc.clone(),
                    line: row.line,
                    column: 1,
                    rendered_for: None,
                }),
                format!(
                    "row {} disagrees with the tree: {}",
                    row.service,
                    differences.join(", ")
                ),
            ));
        }
    }
    findings
}

/// What the tree says differently from a doc row, e.g. `maxReplicas 100 (doc: 110)`.
fn row_differences(row: &DocRow, tree: &Tree, workload: &Object) -> Vec<String> {
    let range = ReplicaRange::of(tree, workload);
    let (min_name, max_name) = match range.autoscaler {
        Some(autoscaler) => (
            field_name(autoscaler.min_pointer()),
            field_name(autoscaler.max_pointer()),
        ),
        None => ("replicas", "replicas"),
    };
    let declared = Declared::find(workload, &range, RPS_PER_POD_ANNOTATION);
    let in_tree = [
        (
            "rps-per-pod",
            declared.as_ref().and_then(Declared::number),
            row.rps_per_pod,
        ),
        (min_name, Some(range.min as f64), row.min_replicas),
        (max_name, Some(range.max as f64), row.max_replicas),
    ];
    in_tree
        .into_iter()
        .filter_map(|(name, tree_value, doc_value)| {
            let doc_value = doc_value?;
            match tree_value {
                Some(value) if value == doc_value => None,
                Some(value) => Some(format!(
                    "{name} {} (doc: {})",
                    format_decimal(value),
                    format_decimal(doc_value)
                )),
                None => Some(format!(
                    "no numeric {RPS_PER_POD_ANNOTATION} annotation (doc: {})",
                    format_decimal(doc_value)
                )),
            }
        })
        .collect()
}

/// The scaling doc in the nearest of the tree's roots or their parent folders.
fn scaling_doc(tree: &Tree) -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    tree.roots.iter().find_map(|root| {
        let absolute = root.canonicalize().ok()?;
        let start = if absolute.is_file() {
            absolute.parent()?.to_path_buf()
        } else {
            absolute
        };
        let doc = start
            .ancestors()
            .map(|dir| dir.join(SCALING_DOC))
            .find(|doc| doc.is_file())?;
        Some(doc.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or(doc))
    })
}

/// Which cells of a table row hold the service and its numbers.
struct Columns {
    service: usize,
    rps_per_pod: usize,
    min_replicas: usize,
    max_replicas: usize,
}

impl Columns {
    /// The columns of a header row, when it names all four (any case, spaces ignored).
    fn of_header(cells: &[String]) -> Option<Columns> {
        let position = |names: &[&str]| {
            cells.iter().position(|cell| {
                let normalized: String = cell
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                names.contains(&normalized.as_str())
            })
        };
        Some(Columns {
            service: position(&["service"])?,
            rps_per_pod: position(&["rpsperpod"])?,
            min_replicas: position(&["minreplicas", "min"])?,
            max_replicas: position(&["maxreplicas", "max"])?,
        })
    }

    fn row(&self, cells: &[String], line: usize) -> Option<DocRow> {
        let number = |index: usize| -> Option<f64> {
            cells
                .get(index)?
                .replace(',', "")
                .trim()
                .parse::<f64>()
                .ok()
        };
        let service = cells.get(self.service)?;
        (!service.is_empty()).then(|| DocRow {
            line,
            service: service.clone(),
            rps_per_pod: number(self.rps_per_pod),
            min_replicas: number(self.min_replicas),
            max_replicas: number(self.max_replicas),
        })
    }
}

/// Rows of every markdown table whose header names service, rpsPerPod, minReplicas and maxReplicas.
fn doc_rows(text: &str) -> Vec<DocRow> {
    let mut rows = Vec::new();
    // None outside a table; Some(None) inside a table of other columns.
    let mut table: Option<Option<Columns>> = None;
    for (index, line) in text.lines().enumerate() {
        let Some(cells) = table_cells(line) else {
            table = None;
            continue;
        };
        if cells
            .iter()
            .all(|cell| !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':')))
        {
            continue;
        }
        match &table {
            None => table = Some(Columns::of_header(&cells)),
            Some(Some(columns)) => rows.extend(columns.row(&cells, index + 1)),
            Some(None) => {}
        }
    }
    rows
}

/// The cells of a markdown table line, without emphasis or code marks; None for other lines.
fn table_cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?;
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    Some(
        inner
            .split('|')
            .map(|cell| cell.trim().trim_matches(['*', '`']).trim().to_string())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::LintSettings;
    use crate::repo::load_str;
    use crate::report::sort_findings;

    fn lint(yaml: &str) -> Vec<Finding> {
        let mut findings = crate::lint::lint_yaml(check, yaml);
        sort_findings(&mut findings);
        findings
    }

    fn rules(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.rule).collect()
    }

    /// A Service-backed Deployment with an HPA (3..10), a PDB allowing one eviction and room in its quota.
    const SCALED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
  labels: {app.kubernetes.io/name: web}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  template:
    metadata: {labels: {app.kubernetes.io/name: web}}
    spec:
      containers:
      - name: web
        image: web:1.0.0
        resources:
          requests: {cpu: 500m, memory: 512Mi}
          limits: {memory: 1Gi}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  selector: {app.kubernetes.io/name: web}
  ports: [{port: 80}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: app
  annotations:
    tacos.traffictacos.store/rps-per-pod: "500"
    tacos.traffictacos.store/peak-rps: "3000"
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 3
  maxReplicas: 10
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: app}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: web}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: app}
spec:
  hard:
    requests.cpu: "5"
    requests.memory: 5Gi
    limits.memory: 10Gi
    pods: "10"
"#;

    #[test]
    fn autoscaled_budgeted_deployment_within_capacity_and_quota_is_clean() {
        assert_eq!(lint(SCALED), vec![]);
    }

    #[test]
    fn deployment_without_autoscaler_is_flagged_at_the_deployment() {
        let yaml = SCALED.replace(
            "kind: Deployment, name: web",
            "kind: Deployment, name: other",
        );
        let findings: Vec<_> = lint(&yaml)
            .into_iter()
            .filter(|f| f.rule == "scale-hpa-missing")
            .collect();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].subject, "Deployment app/web");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 2);
    }

    #[test]
    fn autoscaler_in_another_namespace_does_not_count() {
        let yaml = SCALED.replace(
            "  name: web\n  namespace: app\n  annotations:",
            "  name: web\n  namespace: other\n  annotations:",
        );
        let found = rules(&lint(&yaml));
        assert!(found.contains(&"scale-hpa-missing"), "{found:?}");
    }

    #[test]
    fn keda_scaled_object_counts_as_an_autoscaler_targeting_a_deployment_by_default() {
        let yaml = SCALED
            .replace(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler",
                "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject",
            )
            .replace(
                "{apiVersion: apps/v1, kind: Deployment, name: web}",
                "{name: web}",
            )
            .replace("minReplicas: 3", "minReplicaCount: 3")
            .replace("maxReplicas: 10", "maxReplicaCount: 10");
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn replicated_deployment_without_pdb_is_flagged() {
        let yaml = SCALED.replace("selector: {matchLabels: {app.kubernetes.io/name: web}}\n---\napiVersion: v1\nkind: ResourceQuota", "selector: {matchLabels: {app.kubernetes.io/name: api}}\n---\napiVersion: v1\nkind: ResourceQuota");
        let findings = lint(&yaml);
        assert_eq!(rules(&findings), vec!["scale-pdb-missing"]);
        assert_eq!(
            findings[0].message,
            "runs at least 3 replicas but no PodDisruptionBudget selects its pods"
        );
    }

    #[test]
    fn single_replica_deployment_needs_no_pdb() {
        let yaml = SCALED
            .replace("minReplicas: 3", "minReplicas: 1")
            .replace(
                "selector: {app.kubernetes.io/name: web}",
                "selector: {app.kubernetes.io/name: other}",
            )
            .replace(
                "maxUnavailable: 1\n  selector: {matchLabels: {app.kubernetes.io/name: web}}",
                "maxUnavailable: 1\n  selector: {matchLabels: {app.kubernetes.io/name: other}}",
            );
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn min_available_equal_to_min_replicas_blocks_eviction_at_its_line() {
        let yaml = SCALED.replace("maxUnavailable: 1", "minAvailable: 3");
        let findings = lint(&yaml);
        assert_eq!(rules(&findings), vec!["scale-pdb-blocks-eviction"]);
        assert_eq!(findings[0].subject, "PodDisruptionBudget app/web");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 44);
        assert!(
            findings[0]
                .message
                .starts_with("minAvailable 3 keeps 3 of 3 pod(s) up"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn min_available_percent_rounds_up_and_blocks() {
        // 70% of 3 pods is 2.1, rounded up to 3: no pod may go.
        let yaml = SCALED.replace("maxUnavailable: 1", "minAvailable: 70%");
        assert_eq!(rules(&lint(&yaml)), vec!["scale-pdb-blocks-eviction"]);
    }

    #[test]
    fn min_available_below_min_replicas_allows_eviction() {
        let yaml = SCALED.replace("maxUnavailable: 1", "minAvailable: 60%");
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn max_unavailable_zero_percent_blocks_eviction() {
        let yaml = SCALED.replace("maxUnavailable: 1", "maxUnavailable: 0%");
        assert_eq!(rules(&lint(&yaml)), vec!["scale-pdb-blocks-eviction"]);
    }

    #[test]
    fn pdb_min_available_is_measured_against_spec_replicas_without_autoscaler() {
        let yaml = SCALED
            .replace("kind: Deployment, name: web", "kind: Deployment, name: other")
            .replace("spec:\n  selector: {matchLabels: {app.kubernetes.io/name: web}}\n  template", "spec:\n  replicas: 2\n  selector: {matchLabels: {app.kubernetes.io/name: web}}\n  template")
            .replace("maxUnavailable: 1", "minAvailable: 2");
        let found = rules(&lint(&yaml));
        assert!(found.contains(&"scale-pdb-blocks-eviction"), "{found:?}");
    }

    #[test]
    fn single_min_replica_behind_a_service_is_flagged_at_min_replicas() {
        let yaml = SCALED.replace("minReplicas: 3", "minReplicas: 1");
        let findings = lint(&yaml);
        assert_eq!(rules(&findings), vec!["scale-hpa-min-replicas"]);
        assert_eq!(findings[0].subject, "HorizontalPodAutoscaler app/web");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 37);
    }

    #[test]
    fn single_min_replica_without_a_service_is_fine() {
        let yaml = SCALED.replace("minReplicas: 3", "minReplicas: 1").replace(
            "selector: {app.kubernetes.io/name: web}",
            "selector: {app.kubernetes.io/name: other}",
        );
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn max_replicas_short_of_peak_plus_headroom_shows_the_arithmetic() {
        let yaml = SCALED.replace("peak-rps: \"3000\"", "peak-rps: \"4000\"");
        let findings = lint(&yaml);
        assert_eq!(rules(&findings), vec!["scale-capacity"]);
        assert_eq!(findings[0].location.as_ref().unwrap().line, 38);
        assert_eq!(
            findings[0].message,
            "maxReplicas 10 x rps-per-pod 500 = 5000 RPS < peak-rps 4000 x 1.3 (headroom 30%) = 5200 RPS"
        );
    }

    #[test]
    fn capacity_exactly_at_peak_plus_headroom_is_enough() {
        let yaml = SCALED
            .replace("peak-rps: \"3000\"", "peak-rps: \"5000\"")
            .replace("\"500\"", "\"650\"");
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn capacity_annotations_on_the_workload_are_used_without_autoscaler_ones() {
        let yaml = SCALED
            .replace("  annotations:\n    tacos.traffictacos.store/rps-per-pod: \"500\"\n    tacos.traffictacos.store/peak-rps: \"3000\"\n", "")
            .replace(
                "  labels: {app.kubernetes.io/name: web}\nspec:",
                "  labels: {app.kubernetes.io/name: web}\n  annotations: {tacos.traffictacos.store/rps-per-pod: \"100\", tacos.traffictacos.store/peak-rps: \"3000\"}\nspec:",
            );
        assert_eq!(rules(&lint(&yaml)), vec!["scale-capacity"]);
    }

    #[test]
    fn capacity_annotation_that_is_not_a_number_is_an_error_at_the_annotation() {
        let yaml = SCALED.replace("\"500\"", "\"500rps\"");
        let findings = lint(&yaml);
        assert_eq!(rules(&findings), vec!["scale-capacity"]);
        assert_eq!(findings[0].location.as_ref().unwrap().line, 33);
        assert!(findings[0].message.contains("not a positive number"));
    }

    #[test]
    fn quota_too_small_for_max_replicas_reports_each_resource_with_numbers() {
        let yaml = SCALED
            .replace("requests.cpu: \"5\"", "requests.cpu: 4500m")
            .replace("limits.memory: 10Gi", "limits.memory: 9Gi");
        let findings = lint(&yaml);
        assert_eq!(
            rules(&findings),
            vec!["scale-quota-blocks-hpa", "scale-quota-blocks-hpa"]
        );
        assert_eq!(findings[0].subject, "ResourceQuota app/compute");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 52);
        assert_eq!(
            findings[0].message,
            "requests.cpu at maximum replicas is 5 but the quota allows 4.5 (web 10 x 0.5)"
        );
        assert_eq!(
            findings[1].message,
            "limits.memory at maximum replicas is 10Gi but the quota allows 9Gi (web 10 x 1Gi)"
        );
    }

    #[test]
    fn quota_pods_count_every_replica_at_max() {
        let yaml = SCALED.replace("pods: \"10\"", "pods: \"9\"");
        assert_eq!(rules(&lint(&yaml)), vec!["scale-quota-blocks-hpa"]);
    }

    #[test]
    fn init_container_request_counts_when_larger_than_the_containers() {
        let yaml = SCALED.replace(
            "      containers:\n",
            "      initContainers:\n      - {name: warm, image: warm:1, resources: {requests: {cpu: '1', memory: 64Mi}, limits: {memory: 64Mi}}}\n      containers:\n",
        );
        let findings = lint(&yaml);
        assert_eq!(rules(&findings), vec!["scale-quota-blocks-hpa"]);
        assert!(
            findings[0]
                .message
                .starts_with("requests.cpu at maximum replicas is 10 ")
        );
    }

    #[test]
    fn scoped_quota_is_not_checked() {
        let yaml = SCALED.replace(
            "spec:\n  hard:\n    requests.cpu: \"5\"",
            "spec:\n  scopes: [BestEffort]\n  hard:\n    requests.cpu: \"1\"",
        );
        assert_eq!(lint(&yaml), vec![]);
    }

    const DOC: &str = "# Scaling\n\n| service | rpsPerPod | minReplicas | maxReplicas | notes |\n|---|---|---|---|---|\n| web | 500 | 3 | 10 | HPA |\n| **absent** | 1,000 | 2 | 4 | not in this tree |\n\n| service | requests cpu | maxReplicas |\n|---|---|---|\n| web | 500m | 99 |\n";

    fn lint_with_doc(yaml: &str, doc: &str) -> Vec<Finding> {
        let repository = tempfile::tempdir().unwrap();
        let manifests = repository.path().join("manifests");
        std::fs::create_dir_all(repository.path().join("docs")).unwrap();
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::write(repository.path().join(SCALING_DOC), doc).unwrap();
        let mut tree = load_str("test.yaml", yaml).unwrap();
        tree.roots = vec![manifests];
        check(&LintContext {
            tree: &tree,
            settings: LintSettings::default(),
        })
    }

    #[test]
    fn doc_table_agreeing_with_the_tree_is_clean_and_absent_services_are_skipped() {
        assert_eq!(lint_with_doc(SCALED, DOC), vec![]);
    }

    #[test]
    fn doc_row_disagreeing_with_the_autoscaler_is_flagged_at_the_row() {
        let doc = DOC.replace("| web | 500 | 3 | 10 |", "| web | 600 | 3 | 1,100 |");
        let findings = lint_with_doc(SCALED, &doc);
        assert_eq!(rules(&findings), vec!["scale-doc-agreement"]);
        let location = findings[0].location.as_ref().unwrap();
        assert!(location.file.ends_with(SCALING_DOC), "{location:?}");
        assert_eq!(location.line, 5);
        assert_eq!(
            findings[0].message,
            "row web disagrees with the tree: rps-per-pod 500 (doc: 600), maxReplicas 10 (doc: 1100)"
        );
    }

    #[test]
    fn doc_row_for_a_workload_without_rps_per_pod_annotation_is_flagged() {
        let yaml = SCALED.replace("    tacos.traffictacos.store/rps-per-pod: \"500\"\n", "");
        let findings = lint_with_doc(&yaml, DOC);
        assert_eq!(rules(&findings), vec!["scale-doc-agreement"]);
        assert_eq!(
            findings[0].message,
            "row web disagrees with the tree: no numeric tacos.traffictacos.store/rps-per-pod annotation (doc: 500)"
        );
    }

    #[test]
    fn doc_row_matches_a_workload_by_its_app_name_label() {
        let yaml = SCALED
            .replace(
                "metadata:\n  name: web\n  namespace: app\n  labels",
                "metadata:\n  name: web-prod\n  namespace: app\n  labels",
            )
            .replace(
                "kind: Deployment, name: web",
                "kind: Deployment, name: web-prod",
            );
        let doc = DOC.replace("| web | 500 | 3 | 10 |", "| web | 500 | 4 | 10 |");
        let findings = lint_with_doc(&yaml, &doc);
        assert_eq!(rules(&findings), vec!["scale-doc-agreement"]);
        assert_eq!(findings[0].subject, "Deployment app/web-prod");
    }

    #[test]
    fn tables_without_all_four_columns_are_not_read() {
        let rows = doc_rows(DOC);
        let services: Vec<_> = rows.iter().map(|r| r.service.as_str()).collect();
        assert_eq!(services, vec!["web", "absent"]);
        assert_eq!(rows[1].rps_per_pod, Some(1000.0));
    }
}
