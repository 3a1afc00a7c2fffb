//! NetworkPolicies: a default deny in every namespace that runs pods, explicit allows for each workload, and DNS egress.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{LintContext, subject};
use crate::k8s::workloads::{selecting, services_selecting};
use crate::repo::{Object, Tree};
use crate::report::rule;
use crate::report::{Finding, RuleInfo};

const FAMILY: &str = "network";

rule!(
    DEFAULT_DENY,
    FAMILY,
    "net-default-deny",
    Error,
    "every namespace that runs pods must deny all ingress and egress by default",
    "add a NetworkPolicy with podSelector: {}, policyTypes: [Ingress, Egress] and no ingress or egress rules"
);
rule!(
    WORKLOAD_NOT_ALLOWED,
    FAMILY,
    "net-workload-not-allowed",
    Warning,
    "under a default deny, each workload needs a NetworkPolicy allowing its traffic",
    "add a NetworkPolicy selecting the pods with an ingress rule (workloads behind a Service) and an egress rule for what they call"
);
rule!(
    DNS_EGRESS,
    FAMILY,
    "net-dns-egress",
    Error,
    "under a default-deny egress, pods must be allowed to reach DNS on port 53",
    "add a NetworkPolicy with podSelector: {} allowing egress to kube-dns in kube-system on UDP and TCP 53"
);

pub const RULES: &[RuleInfo] = &[DEFAULT_DENY, WORKLOAD_NOT_ALLOWED, DNS_EGRESS];

/// Which way traffic flows relative to the selected pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// The name in policyTypes.
    fn policy_type(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }

    /// The spec field holding the rules.
    fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// One namespace's NetworkPolicies: whether they deny by default, and which select a workload.
struct Namespace<'a> {
    name: &'a str,
    tree: &'a Tree,
    denies_ingress: bool,
    denies_egress: bool,
}

impl<'a> Namespace<'a> {
    fn of(tree: &'a Tree, name: &'a str) -> Namespace<'a> {
        let denies = |direction: Direction| {
            tree.in_namespace("networking.k8s.io", "NetworkPolicy", Some(name))
                .any(|policy| is_default_deny(policy, direction))
        };
        Namespace {
            name,
            tree,
            denies_ingress: denies(Direction::Ingress),
            denies_egress: denies(Direction::Egress),
        }
    }

    fn denies_by_default(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.denies_ingress,
            Direction::Egress => self.denies_egress,
        }
    }

    /// The policies that select a workload's pods (the workload is in this namespace).
    fn selecting(&self, workload: &Object) -> Vec<&'a Object> {
        selecting(self.tree, ("networking.k8s.io", "NetworkPolicy"), workload)
    }
}

/// Whether a policy governs `direction`: listed in policyTypes, or (when policyTypes is unset)
/// always for ingress and for egress when it has egress rules, as Kubernetes defaults it.
fn governs(policy: &Object, direction: Direction) -> bool {
    let spec = &policy.value["spec"];
    match spec["policyTypes"].as_array() {
        Some(types) => types
            .iter()
            .any(|t| t.as_str() == Some(direction.policy_type())),
        None => direction == Direction::Ingress || !rules(policy, Direction::Egress).is_empty(),
    }
}

fn rules(policy: &Object, direction: Direction) -> &[Value] {
    policy.value["spec"][direction.field()]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn is_default_deny(policy: &Object, direction: Direction) -> bool {
    let selector = &policy.value["spec"]["podSelector"];
    let selects_all = selector.is_object()
        && selector["matchLabels"]
            .as_object()
            .is_none_or(Map::is_empty)
        && selector["matchExpressions"]
            .as_array()
            .is_none_or(Vec::is_empty);
    selects_all && governs(policy, direction) && rules(policy, direction).is_empty()
}

/// Whether an egress rule lets traffic out to port 53 over UDP or TCP (no ports means every port).
/// Named ports count when they are CoreDNS's names for 53.
fn allows_dns(rule: &Value) -> bool {
    let Some(ports) = rule["ports"].as_array().filter(|ports| !ports.is_empty()) else {
        return true;
    };
    ports.iter().any(|entry| {
        let protocol = entry["protocol"].as_str().unwrap_or("TCP");
        let port = &entry["port"];
        let covers_53 = match port {
            Value::Null => true,
            Value::String(name) => matches!(name.as_str(), "53" | "dns" | "dns-tcp"),
            _ => {
                let first = port.as_i64().unwrap_or(-1);
                let last = entry["endPort"].as_i64().unwrap_or(first);
                (first..=last).contains(&53)
            }
        };
        matches!(protocol, "UDP" | "TCP") && covers_53
    })
}

/// Whether an egress rule allows more than DNS (a workload that may only resolve names cannot work).
fn allows_beyond_dns(rule: &Value) -> bool {
    rule["ports"].as_array().is_none_or(|ports| {
        ports.is_empty()
            || ports.iter().any(|entry| {
                !matches!(&entry["port"], Value::Number(n) if n.as_i64() == Some(53) && entry["endPort"].is_null())
            })
    })
}

/// Namespaces that run pods: those of pod templates, and Namespaces enforcing the restricted Pod Security level.
fn namespaces_with_workloads(tree: &Tree) -> BTreeSet<&str> {
    let of_workloads = tree
        .objects
        .iter()
        .filter(|o| o.pod_spec().is_some())
        .filter_map(Object::namespace);
    let restricted = tree
        .of_kind("", "Namespace")
        .filter(|ns| ns.label("pod-security.kubernetes.io/enforce") == Some("restricted"))
        .map(Object::name);
    of_workloads
        .chain(restricted)
        .filter(|name| !name.is_empty())
        .collect()
}

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    let mut findings = Vec::new();
    for name in namespaces_with_workloads(tree) {
        let namespace = Namespace::of(tree, name);
        findings.extend(missing_default_deny(tree, &namespace));
        let workloads = tree
            .all_in_namespace(name)
            .filter(|o| o.pod_spec().is_some());
        for workload in workloads {
            findings.extend(unallowed_traffic(tree, &namespace, workload));
            findings.extend(missing_dns(&namespace, workload));
        }
    }
    findings
}

fn missing_default_deny(tree: &Tree, namespace: &Namespace<'_>) -> Option<Finding> {
    let missing: Vec<&str> = [Direction::Ingress, Direction::Egress]
        .into_iter()
        .filter(|direction| !namespace.denies_by_default(*direction))
        .map(Direction::field)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let located_at = tree
        .find("", "Namespace", None, namespace.name)
        .or_else(|| {
            tree.all_in_namespace(namespace.name)
                .find(|o| o.pod_spec().is_some())
        });
    Some(Finding::new(
        &DEFAULT_DENY,
        format!("Namespace {}", namespace.name),
        located_at.map(Object::location),
        format!(
            "no NetworkPolicy denies all {} by default in namespace {}",
            missing.join(" and "),
            namespace.name
        ),
    ))
}

fn unallowed_traffic(tree: &Tree, namespace: &Namespace<'_>, workload: &Object) -> Vec<Finding> {
    let policies = namespace.selecting(workload);
    let allowed = |direction: Direction, rule_counts: fn(&Value) -> bool| {
        policies
            .iter()
            .any(|p| governs(p, direction) && rules(p, direction).iter().any(rule_counts))
    };
    let mut problems = Vec::new();
    if namespace.denies_by_default(Direction::Ingress)
        && let Some(service) = services_selecting(tree, workload).next()
        && !allowed(Direction::Ingress, |_| true)
    {
        problems.push(format!(
            "is behind {} but no NetworkPolicy allows ingress to its pods",
            subject(service)
        ));
    }
    if namespace.denies_by_default(Direction::Egress)
        && !allowed(Direction::Egress, allows_beyond_dns)
    {
        problems.push("has no NetworkPolicy allowing egress beyond DNS from its pods".to_string());
    }
    problems
        .into_iter()
        .map(|problem| {
            Finding::new(
                &WORKLOAD_NOT_ALLOWED,
                subject(workload),
                Some(workload.location()),
                format!(
                    "{problem}, so the default deny of namespace {} drops its traffic",
                    namespace.name
                ),
            )
        })
        .collect()
}

fn missing_dns(namespace: &Namespace<'_>, workload: &Object) -> Option<Finding> {
    if !namespace.denies_by_default(Direction::Egress) {
        return None;
    }
    let resolves = namespace.selecting(workload).iter().any(|policy| {
        governs(policy, Direction::Egress)
            && rules(policy, Direction::Egress).iter().any(allows_dns)
    });
    (!resolves).then(|| {
        Finding::new(
            &DNS_EGRESS,
            subject(workload),
            Some(workload.location()),
            format!(
                "no NetworkPolicy lets its pods reach DNS on port 53 under the default-deny egress of namespace {}",
                namespace.name
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Severity, sort_findings};

    fn lint(yaml: &str) -> Vec<Finding> {
        let mut findings = crate::lint::lint_yaml(check, yaml);
        sort_findings(&mut findings);
        findings
    }

    fn rules_of(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.rule).collect()
    }

    /// A restricted namespace with a default deny, DNS and HTTPS egress for all pods, ingress to the
    /// Service-backed api, and a worker without a Service.
    const LOCKED_DOWN: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: app}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: app}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec: {containers: [{name: worker, image: worker:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: app}
spec: {selector: {app: api}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: app}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: app}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-https-egress, namespace: app}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-api-ingress, namespace: app}
spec:
  podSelector:
    matchExpressions: [{key: app, operator: In, values: [api]}]
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 8000}]
"#;

    #[test]
    fn default_deny_with_dns_and_explicit_allows_is_clean() {
        assert_eq!(lint(LOCKED_DOWN), vec![]);
    }

    #[test]
    fn namespace_without_default_deny_is_flagged_at_the_namespace() {
        let yaml = LOCKED_DOWN.replace("policyTypes: [Ingress, Egress]", "policyTypes: [Ingress]");
        let findings = lint(&yaml);
        assert_eq!(rules_of(&findings), vec!["net-default-deny"]);
        assert_eq!(findings[0].subject, "Namespace app");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 2);
        assert_eq!(
            findings[0].message,
            "no NetworkPolicy denies all egress by default in namespace app"
        );
    }

    #[test]
    fn missing_ingress_and_egress_deny_are_named_together() {
        let yaml = LOCKED_DOWN.replace(
            "name: default-deny, namespace: app",
            "name: default-deny, namespace: elsewhere",
        );
        let findings = lint(&yaml);
        let deny: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "net-default-deny")
            .collect();
        assert_eq!(deny.len(), 1, "{findings:?}");
        assert_eq!(
            deny[0].message,
            "no NetworkPolicy denies all ingress and egress by default in namespace app"
        );
    }

    #[test]
    fn policy_with_allow_rules_is_not_a_default_deny() {
        let yaml = LOCKED_DOWN.replace(
            "policyTypes: [Ingress, Egress]\n",
            "policyTypes: [Ingress, Egress]\n  ingress: [{}]\n",
        );
        let findings = lint(&yaml);
        assert_eq!(rules_of(&findings), vec!["net-default-deny"]);
        assert!(findings[0].message.contains("all ingress by default"));
    }

    #[test]
    fn namespace_is_located_at_its_first_workload_when_not_in_the_tree() {
        let yaml = LOCKED_DOWN
            .replace(
                "kind: Namespace\nmetadata:\n  name: app",
                "kind: Namespace\nmetadata:\n  name: other",
            )
            .replace("policyTypes: [Ingress, Egress]", "policyTypes: [Egress]");
        let findings: Vec<_> = lint(&yaml)
            .into_iter()
            .filter(|f| f.rule == "net-default-deny")
            .collect();
        let lines: Vec<_> = findings
            .iter()
            .map(|f| (f.subject.as_str(), f.location.as_ref().unwrap().line))
            .collect();
        assert_eq!(lines, vec![("Namespace other", 2), ("Namespace app", 8)]);
    }

    #[test]
    fn service_backed_workload_without_ingress_allow_is_a_warning_at_the_workload() {
        let yaml = LOCKED_DOWN.replace("values: [api]", "values: [web]");
        let findings = lint(&yaml);
        assert_eq!(rules_of(&findings), vec!["net-workload-not-allowed"]);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].subject, "Deployment app/api");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 8);
        assert!(
            findings[0]
                .message
                .starts_with("is behind Service app/api but no NetworkPolicy allows ingress")
        );
    }

    #[test]
    fn workload_without_service_needs_no_ingress_allow() {
        let findings = lint(LOCKED_DOWN);
        assert!(
            findings
                .iter()
                .all(|f| f.subject != "Deployment app/worker"),
            "{findings:?}"
        );
    }

    #[test]
    fn workload_allowed_only_dns_egress_is_a_warning() {
        let yaml = LOCKED_DOWN.replace("  - ports: [{port: 443}]", "  - ports: [{port: 53}]");
        let subjects: Vec<_> = lint(&yaml)
            .iter()
            .map(|f| (f.rule, f.subject.clone()))
            .collect();
        assert_eq!(
            subjects,
            vec![
                ("net-workload-not-allowed", "Deployment app/api".to_string()),
                (
                    "net-workload-not-allowed",
                    "Deployment app/worker".to_string()
                ),
            ]
        );
    }

    #[test]
    fn default_deny_egress_without_dns_allow_is_an_error_for_each_workload() {
        let yaml = LOCKED_DOWN.replace(
            "ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]",
            "ports: [{port: 5353, protocol: UDP}]",
        );
        let findings = lint(&yaml);
        assert_eq!(
            rules_of(&findings),
            vec!["net-dns-egress", "net-dns-egress"]
        );
        assert_eq!(findings[0].location.as_ref().unwrap().line, 8);
        assert_eq!(findings[1].location.as_ref().unwrap().line, 17);
    }

    #[test]
    fn egress_rule_without_ports_allows_dns() {
        let yaml = LOCKED_DOWN.replace(
            "  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]",
            "  - to: [{namespaceSelector: {}}]",
        );
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn dns_allowed_for_one_workload_only_flags_the_other() {
        let yaml = LOCKED_DOWN.replace(
            "metadata: {name: allow-dns, namespace: app}\nspec:\n  podSelector: {}",
            "metadata: {name: allow-dns, namespace: app}\nspec:\n  podSelector: {matchLabels: {app: api}}",
        );
        let findings = lint(&yaml);
        assert_eq!(rules_of(&findings), vec!["net-dns-egress"]);
        assert_eq!(findings[0].subject, "Deployment app/worker");
    }

    #[test]
    fn objects_without_namespace_are_not_checked() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: loose}\nspec:\n  template: {spec: {containers: [{name: c, image: c:1}]}}\n";
        assert_eq!(lint(yaml), vec![]);
    }
}
