//! Gateway API routes (HTTPRoute, GRPCRoute): parents and listeners, hostnames, backends, exposed internal paths, duplicate matches.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{LintContext, subject};
use crate::repo::helm::plan_render;
use crate::repo::{Object, Tree};
use crate::report::rule;
use crate::report::{Finding, RuleInfo, Severity};

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Label or annotation on a Gateway that only the cluster's own network reaches: `internal`.
pub const EXPOSURE_KEY: &str = "tacos.traffictacos.store/exposure";

/// Paths that serve operators, not the public (metrics, actuators, debuggers, API docs, admin pages).
const INTERNAL_PATH_PREFIXES: &[&str] = &[
    "/metrics",
    "/actuator",
    "/debug",
    "/swagger",
    "/v3/api-docs",
    "/admin",
    "/internal",
    "/pprof",
];

const FAMILY: &str = "routing";

rule!(
    PARENT_UNRESOLVED,
    FAMILY,
    "route-parent-unresolved",
    Error,
    "every parentRef of a route names a Gateway in the tree, and a listener of it",
    "fix the parentRef's name, namespace (default: the route's) or sectionName, or add the Gateway"
);
rule!(
    HOSTNAME_MISMATCH,
    FAMILY,
    "route-hostname-mismatch",
    Error,
    "a route's hostnames match the hostname of the listener it attaches to",
    "use a hostname the listener serves (exact, or one label under its `*.` wildcard), or attach to the listener that serves it"
);
rule!(
    BACKEND_UNRESOLVED,
    FAMILY,
    "route-backend-unresolved",
    Error,
    "every backendRef of a route names a Service in the tree, and one of its ports",
    "fix the backendRef's name, namespace (default: the route's) or port (a spec.ports[].port of the Service), or add the Service"
);
rule!(
    INTERNAL_PATH_EXPOSED,
    FAMILY,
    "route-internal-path-exposed",
    Error,
    "operator paths (/metrics, /actuator, /debug, /swagger, /admin, ...) are not routed on a public Gateway",
    "route only public paths, or attach the route to a Gateway labelled tacos.traffictacos.store/exposure: internal"
);
rule!(
    DUPLICATE_MATCH,
    FAMILY,
    "route-duplicate-match",
    Error,
    "no two route rules claim the same hostname, path and method on one Gateway listener",
    "keep one of the rules; the Gateway picks the older route and silently drops the other"
);

pub const RULES: &[RuleInfo] = &[
    PARENT_UNRESOLVED,
    HOSTNAME_MISMATCH,
    BACKEND_UNRESOLVED,
    INTERNAL_PATH_EXPOSED,
    DUPLICATE_MATCH,
];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    let index = TreeIndex::new(tree);
    let mut findings = Vec::new();
    let mut claims = Claims::new();
    for route in tree.objects.iter().filter(|o| is_route(o)) {
        let attachments = resolve_parents(&index, route, &mut findings);
        check_hostnames(route, &attachments, &mut findings);
        check_backends(&index, route, &mut findings);
        check_internal_paths(route, &attachments, &mut findings);
        claims.add(route, &attachments);
    }
    findings.extend(claims.duplicates());
    findings
}

fn is_route(object: &Object) -> bool {
    object.is(GATEWAY_GROUP, "HTTPRoute") || object.is(GATEWAY_GROUP, "GRPCRoute")
}

/// Gateways and Services by namespace and name, which namespaces hold anything, and which get
/// objects from charts the tree does not hold rendered; looked up once.
struct TreeIndex<'a> {
    gateways: HashMap<(Option<&'a str>, &'a str), &'a Object>,
    services: HashMap<(Option<&'a str>, &'a str), &'a Object>,
    namespaces_with_objects: HashSet<&'a str>,
    unrendered_charts: HashMap<&'a str, String>,
}

impl<'a> TreeIndex<'a> {
    fn new(tree: &'a Tree) -> Self {
        let by_name = |kind: &'static str, group: &'static str| {
            tree.of_kind(group, kind)
                .map(|o| ((o.namespace(), o.name()), o))
                .collect()
        };
        Self {
            gateways: by_name("Gateway", GATEWAY_GROUP),
            services: by_name("Service", ""),
            namespaces_with_objects: tree.objects.iter().filter_map(Object::namespace).collect(),
            unrendered_charts: unrendered_charts(tree),
        }
    }

    fn gateway(&self, namespace: Option<&str>, name: &str) -> Option<&'a Object> {
        self.gateways.get(&(namespace, name)).copied()
    }

    fn service(&self, namespace: Option<&str>, name: &str) -> Option<&'a Object> {
        self.services.get(&(namespace, name)).copied()
    }
}

/// Namespaces Argo CD Applications deploy charts into whose objects the tree does not hold: a Helm
/// repository chart (never rendered), or an in-tree chart when nothing was rendered (`--no-render`).
/// Each with the Application that says so.
fn unrendered_charts(tree: &Tree) -> HashMap<&str, String> {
    let rendered_any = tree.objects.iter().any(|o| o.source.rendered_for.is_some());
    let mut namespaces = HashMap::new();
    for application in tree.of_kind("argoproj.io", "Application") {
        let spec = &application.value["spec"];
        let Some(namespace) = spec["destination"]["namespace"].as_str() else {
            continue;
        };
        let sources: Vec<&Value> = match spec["sources"].as_array() {
            Some(sources) => sources.iter().collect(),
            None => vec![&spec["source"]],
        };
        let repository_chart = sources.iter().find_map(|s| s["chart"].as_str());
        let why = match (repository_chart, rendered_any) {
            (Some(chart), _) => format!("Helm repository chart {chart}"),
            (None, false) => match plan_render(tree, application) {
                Some(render) => format!("chart {} (not rendered)", render.chart_dir.display()),
                None => continue,
            },
            (None, true) => continue,
        };
        namespaces.entry(namespace).or_insert_with(|| {
            format!(
                "{} deploys {why} into namespace {namespace}: the Service may come from it",
                subject(application)
            )
        });
    }
    namespaces
}

/// `Kind namespace/name` or `Kind name` for an object looked up by reference.
fn shown(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// One parentRef of a route that resolved: its Gateway and the listeners the route attaches to.
struct Attachment<'a> {
    gateway: &'a Object,
    listeners: Vec<&'a Value>,
}

fn listener_name(listener: &Value) -> &str {
    listener["name"].as_str().unwrap_or_default()
}

fn listener_hostname(listener: &Value) -> Option<&str> {
    listener["hostname"].as_str().filter(|h| !h.is_empty())
}

fn resolve_parents<'a>(
    index: &TreeIndex<'a>,
    route: &Object,
    findings: &mut Vec<Finding>,
) -> Vec<Attachment<'a>> {
    let mut attachments = Vec::new();
    let parents = route.value["spec"]["parentRefs"].as_array();
    for (i, parent) in parents.into_iter().flatten().enumerate() {
        let group = parent["group"].as_str().unwrap_or(GATEWAY_GROUP);
        let kind = parent["kind"].as_str().unwrap_or("Gateway");
        if group != GATEWAY_GROUP || kind != "Gateway" {
            continue;
        }
        let name = parent["name"].as_str().unwrap_or_default();
        let namespace = parent["namespace"].as_str().or(route.namespace());
        let resolved = match index.gateway(namespace, name) {
            Some(gateway) => attached_listeners(gateway, parent)
                .map(|listeners| Attachment { gateway, listeners }),
            None => Err((
                String::new(),
                format!(
                    "parent {} is not in the tree",
                    shown("Gateway", namespace, name)
                ),
            )),
        };
        match resolved {
            Ok(attachment) => attachments.push(attachment),
            Err((field, message)) => findings.push(Finding::new(
                &PARENT_UNRESOLVED,
                subject(route),
                Some(route.location_of(&format!("/spec/parentRefs/{i}{field}"))),
                message,
            )),
        }
    }
    attachments
}

/// The listeners of `gateway` a parentRef attaches to (the one its sectionName names, those on its
/// port), or the parentRef's field at fault (`/sectionName`, `/port`) and why when there is none.
fn attached_listeners<'a>(
    gateway: &'a Object,
    parent: &Value,
) -> Result<Vec<&'a Value>, (String, String)> {
    let all: Vec<&Value> = gateway.value["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let section = parent["sectionName"].as_str();
    let port = parent["port"].as_i64();
    let attached: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|l| section.is_none_or(|s| listener_name(l) == s))
        .filter(|l| port.is_none_or(|p| l["port"].as_i64() == Some(p)))
        .collect();
    if !attached.is_empty() {
        return Ok(attached);
    }
    let (field, wanted) = match (section, port) {
        (Some(section), Some(port)) => ("/sectionName", format!("{section} on port {port}")),
        (Some(section), None) => ("/sectionName", section.to_string()),
        (None, Some(port)) => ("/port", format!("on port {port}")),
        (None, None) => ("", "at all".to_string()),
    };
    let names: Vec<&str> = all.iter().map(|l| listener_name(l)).collect();
    Err((
        field.to_string(),
        format!(
            "{} has no listener {wanted} (its listeners: {})",
            subject(gateway),
            names.join(", ")
        ),
    ))
}

/// Whether a route hostname and a listener hostname can both serve one request: equal, or one is
/// `*.domain` and the other is one label under that domain.
fn hostnames_intersect(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || wildcard_covers(&a, &b) || wildcard_covers(&b, &a)
}

fn wildcard_covers(pattern: &str, hostname: &str) -> bool {
    let Some(domain) = pattern.strip_prefix("*.") else {
        return false;
    };
    hostname
        .strip_suffix(domain)
        .and_then(|rest| rest.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty() && !label.contains('.') && label != "*")
}

fn route_hostnames(route: &Object) -> Vec<(usize, &str)> {
    route.value["spec"]["hostnames"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, h)| h.as_str().map(|h| (i, h)))
        .collect()
}

fn check_hostnames(route: &Object, attachments: &[Attachment<'_>], findings: &mut Vec<Finding>) {
    for attachment in attachments {
        for (i, hostname) in route_hostnames(route) {
            let served = attachment.listeners.iter().any(|listener| {
                listener_hostname(listener).is_none_or(|l| hostnames_intersect(l, hostname))
            });
            if served {
                continue;
            }
            let listeners: Vec<String> = attachment
                .listeners
                .iter()
                .map(|l| {
                    format!(
                        "{} ({})",
                        listener_name(l),
                        listener_hostname(l).unwrap_or("any")
                    )
                })
                .collect();
            findings.push(Finding::new(
                &HOSTNAME_MISMATCH,
                subject(route),
                Some(route.location_of(&format!("/spec/hostnames/{i}"))),
                format!(
                    "hostname {hostname} matches no listener it attaches to on {}: {}",
                    subject(attachment.gateway),
                    listeners.join(", ")
                ),
            ));
        }
    }
}

fn route_rules(route: &Object) -> impl Iterator<Item = (usize, &Value)> {
    route.value["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
}

fn check_backends(index: &TreeIndex<'_>, route: &Object, findings: &mut Vec<Finding>) {
    for (r, rule) in route_rules(route) {
        let backends = rule["backendRefs"].as_array().into_iter().flatten();
        for (b, backend) in backends.enumerate() {
            let group = backend["group"].as_str().unwrap_or("");
            let kind = backend["kind"].as_str().unwrap_or("Service");
            if !group.is_empty() || kind != "Service" {
                continue;
            }
            let pointer = format!("/spec/rules/{r}/backendRefs/{b}");
            let name = backend["name"].as_str().unwrap_or_default();
            let namespace = backend["namespace"].as_str().or(route.namespace());
            let wanted = shown("Service", namespace, name);
            let port = backend["port"].as_i64();
            let problem = match (index.service(namespace, name), port) {
                (None, _) => Some((pointer, format!("backend {wanted} is not in the tree"))),
                (Some(_), None) => Some((
                    pointer,
                    format!("backendRef to {wanted} has no port; a Service backend needs one"),
                )),
                (Some(service), Some(port)) => {
                    let ports = service_ports(service);
                    (!ports.contains(&port)).then(|| {
                        let listed: Vec<String> = ports.iter().map(i64::to_string).collect();
                        (
                            format!("{pointer}/port"),
                            format!(
                                "{wanted} has no port {port} (its ports: {})",
                                listed.join(", ")
                            ),
                        )
                    })
                }
            };
            let Some((pointer, message)) = problem else {
                continue;
            };
            let mut finding = Finding::new(
                &BACKEND_UNRESOLVED,
                subject(route),
                Some(route.location_of(&pointer)),
                message,
            );
            if let Some(why) = namespace.and_then(|ns| partial_namespace(index, ns)) {
                finding = finding.with_severity(Severity::Warning);
                finding.message.push_str(&format!(" ({why})"));
            }
            findings.push(finding);
        }
    }
}

/// Why the tree may not hold every object of a namespace, when it may not.
fn partial_namespace(index: &TreeIndex<'_>, namespace: &str) -> Option<String> {
    if !index.namespaces_with_objects.contains(namespace) {
        return Some(format!(
            "the tree holds nothing in namespace {namespace}: it may be partial"
        ));
    }
    index.unrendered_charts.get(namespace).cloned()
}

fn service_ports(service: &Object) -> Vec<i64> {
    service.value["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["port"].as_i64())
        .collect()
}

fn is_internal_only(gateway: &Object) -> bool {
    gateway.label(EXPOSURE_KEY) == Some("internal")
        || gateway.annotation(EXPOSURE_KEY) == Some("internal")
}

fn internal_prefix(path: &str) -> Option<&'static str> {
    let path = path.trim_start_matches('^').to_ascii_lowercase();
    INTERNAL_PATH_PREFIXES
        .iter()
        .copied()
        .find(|prefix| path.starts_with(prefix))
}

fn check_internal_paths(
    route: &Object,
    attachments: &[Attachment<'_>],
    findings: &mut Vec<Finding>,
) {
    let Some(public) = attachments.iter().find(|a| !is_internal_only(a.gateway)) else {
        return;
    };
    if !route.is(GATEWAY_GROUP, "HTTPRoute") {
        return;
    }
    for (r, rule) in route_rules(route) {
        for (m, matched) in rule["matches"].as_array().into_iter().flatten().enumerate() {
            let Some(value) = matched["path"]["value"].as_str() else {
                continue;
            };
            let Some(prefix) = internal_prefix(value) else {
                continue;
            };
            let kind = matched["path"]["type"].as_str().unwrap_or("PathPrefix");
            findings.push(Finding::new(
                &INTERNAL_PATH_EXPOSED,
                subject(route),
                Some(route.location_of(&format!("/spec/rules/{r}/matches/{m}/path/value"))),
                format!(
                    "path {kind} {value} ({prefix} is for operators) is routed on public {}",
                    subject(public.gateway)
                ),
            ));
        }
    }
}

/// What a rule's match claims on a listener, comparable across routes, and how to show it.
struct MatchClaim {
    key: String,
    shown: String,
    pointer: String,
}

/// The claims of one route rule; a rule without matches claims everything (`PathPrefix /`).
fn rule_matches(route: &Object, r: usize, rule: &Value) -> Vec<MatchClaim> {
    let grpc = route.is(GATEWAY_GROUP, "GRPCRoute");
    let matches: Vec<&Value> = rule["matches"].as_array().into_iter().flatten().collect();
    if matches.is_empty() {
        let shown = if grpc { "every method" } else { "PathPrefix /" };
        return vec![MatchClaim {
            key: shown.to_string(),
            shown: shown.to_string(),
            pointer: format!("/spec/rules/{r}"),
        }];
    }
    matches
        .iter()
        .enumerate()
        .map(|(m, matched)| {
            let shown = if grpc {
                grpc_match(matched)
            } else {
                http_match(matched)
            };
            let extras = [&matched["headers"], &matched["queryParams"]]
                .iter()
                .map(|list| sorted_json(list))
                .collect::<Vec<_>>()
                .join(" ");
            MatchClaim {
                key: format!("{shown} {extras}"),
                shown,
                pointer: format!("/spec/rules/{r}/matches/{m}"),
            }
        })
        .collect()
}

fn http_match(matched: &Value) -> String {
    let kind = matched["path"]["type"].as_str().unwrap_or("PathPrefix");
    let value = matched["path"]["value"].as_str().unwrap_or("/");
    match matched["method"].as_str() {
        Some(method) => format!("{method} {kind} {value}"),
        None => format!("{kind} {value}"),
    }
}

fn grpc_match(matched: &Value) -> String {
    let method = &matched["method"];
    format!(
        "{} {}/{}",
        method["type"].as_str().unwrap_or("Exact"),
        method["service"].as_str().unwrap_or("*"),
        method["method"].as_str().unwrap_or("*")
    )
}

/// A list of header or query matches as text that does not depend on their order.
fn sorted_json(list: &Value) -> String {
    let mut items: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect();
    items.sort();
    items.join(",")
}

/// The hostnames a route serves on a listener: the route's hostnames that the listener accepts
/// (the narrower of the two when one is a wildcard), or the listener's own when the route has none.
fn effective_hostnames(route: &Object, listener: &Value) -> Vec<String> {
    let listener_host = listener_hostname(listener);
    let route_hosts: Vec<&str> = route_hostnames(route).into_iter().map(|(_, h)| h).collect();
    if route_hosts.is_empty() {
        return vec![listener_host.unwrap_or("*").to_ascii_lowercase()];
    }
    route_hosts
        .into_iter()
        .filter_map(|host| match listener_host {
            None => Some(host),
            Some(listener_host) if hostnames_intersect(listener_host, host) => {
                Some(if host.starts_with("*.") {
                    listener_host
                } else {
                    host
                })
            }
            Some(_) => None,
        })
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Where a route rule claims a match: the route, its rule, and the match's pointer.
#[derive(Clone)]
struct Claimant<'a> {
    route: &'a Object,
    rule: usize,
    pointer: String,
    shown: String,
}

/// Every claim on (Gateway, listener, hostname, route kind, match), to find rules that collide.
struct Claims<'a> {
    by_key: BTreeMap<(String, String, String, String, String), Vec<Claimant<'a>>>,
}

impl<'a> Claims<'a> {
    fn new() -> Self {
        Self {
            by_key: BTreeMap::new(),
        }
    }

    fn add(&mut self, route: &'a Object, attachments: &[Attachment<'_>]) {
        for attachment in attachments {
            for listener in &attachment.listeners {
                for hostname in effective_hostnames(route, listener) {
                    for (r, rule) in route_rules(route) {
                        for claim in rule_matches(route, r, rule) {
                            let key = (
                                subject(attachment.gateway),
                                listener_name(listener).to_string(),
                                hostname.clone(),
                                route.kind().to_string(),
                                claim.key,
                            );
                            let claimants = self.by_key.entry(key).or_default();
                            let already = claimants
                                .iter()
                                .any(|c| std::ptr::eq(c.route, route) && c.rule == r);
                            if !already {
                                claimants.push(Claimant {
                                    route,
                                    rule: r,
                                    pointer: claim.pointer,
                                    shown: claim.shown,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    /// One finding per colliding claim, naming the other claimants; each place reported once.
    fn duplicates(self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut reported: HashSet<(String, String)> = HashSet::new();
        for ((gateway, listener, hostname, _, _), claimants) in self.by_key {
            if claimants.len() < 2 {
                continue;
            }
            for (i, claimant) in claimants.iter().enumerate() {
                let who = subject(claimant.route);
                if !reported.insert((who.clone(), claimant.pointer.clone())) {
                    continue;
                }
                let others: Vec<String> = claimants
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, other)| {
                        format!(
                            "{} at {}",
                            subject(other.route),
                            other.route.location_of(&other.pointer)
                        )
                    })
                    .collect();
                findings.push(Finding::new(
                    &DUPLICATE_MATCH,
                    who,
                    Some(claimant.route.location_of(&claimant.pointer)),
                    format!(
                        "{} on {hostname} (listener {listener} of {gateway}) is also claimed by {}",
                        claimant.shown,
                        others.join("; ")
                    ),
                ));
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::lint_yaml(check, yaml)
    }

    fn rules_and_lines(findings: &[Finding]) -> Vec<(&'static str, usize)> {
        findings
            .iter()
            .map(|f| (f.rule, f.location.as_ref().map_or(0, |l| l.line)))
            .collect()
    }

    /// A Gateway, a Service and a route to it: lines 1-27 (the route starts on line 28).
    const BASE: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: gateway}
spec:
  gatewayClassName: alb
  listeners:
  - name: http
    protocol: HTTP
    port: 80
  - name: https-api
    protocol: HTTPS
    port: 443
    hostname: api.example.com
  - name: https-wild
    protocol: HTTPS
    port: 443
    hostname: "*.apps.example.com"
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  selector: {app: web}
  ports:
  - port: 8000
    targetPort: 8000
---
"#;

    const ROUTE: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: app}
spec:
  parentRefs:
  - name: public
    namespace: gateway
    sectionName: https-api
  hostnames:
  - api.example.com
  rules:
  - matches:
    - path: {type: PathPrefix, value: /api/v1}
    backendRefs:
    - name: web
      port: 8000
"#;

    fn with_route(route: &str) -> String {
        format!("{BASE}{route}")
    }

    #[test]
    fn resolved_route_is_clean() {
        assert_eq!(lint(&with_route(ROUTE)), vec![]);
    }

    #[test]
    fn wildcard_listener_accepts_one_label_and_no_section_attaches_to_any_listener() {
        let route = ROUTE
            .replace("    sectionName: https-api\n", "")
            .replace("api.example.com", "shop.apps.example.com");
        assert_eq!(lint(&with_route(&route)), vec![]);
    }

    #[test]
    fn missing_gateway_is_flagged_at_the_parent_ref() {
        let route = ROUTE.replace("- name: public", "- name: private");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-parent-unresolved", 33)]
        );
        assert!(
            findings[0]
                .message
                .contains("Gateway gateway/private is not in the tree"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn parent_namespace_defaults_to_the_routes() {
        let route = ROUTE.replace("    namespace: gateway\n", "");
        let findings = lint(&with_route(&route));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].message.contains("Gateway app/public"));
    }

    #[test]
    fn unknown_section_name_is_flagged_at_the_section_name() {
        let route = ROUTE.replace("sectionName: https-api", "sectionName: https");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-parent-unresolved", 35)]
        );
        assert!(findings[0].message.contains("http, https-api, https-wild"));
    }

    #[test]
    fn hostname_the_listener_does_not_serve_is_flagged() {
        let route = ROUTE.replace("  - api.example.com", "  - www.example.com");
        assert_eq!(
            rules_and_lines(&lint(&with_route(&route))),
            vec![("route-hostname-mismatch", 37)]
        );
    }

    #[test]
    fn wildcard_matches_one_label_only() {
        let route = ROUTE
            .replace("sectionName: https-api", "sectionName: https-wild")
            .replace("api.example.com", "a.b.apps.example.com");
        assert_eq!(
            rules_and_lines(&lint(&with_route(&route))),
            vec![("route-hostname-mismatch", 37)]
        );
        assert!(hostnames_intersect("*.example.com", "api.example.com"));
        assert!(hostnames_intersect("api.example.com", "*.example.com"));
        assert!(!hostnames_intersect("*.example.com", "example.com"));
    }

    #[test]
    fn missing_service_and_wrong_port_are_flagged() {
        let route = ROUTE.replace("    - name: web\n", "    - name: api\n");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-backend-unresolved", 42)]
        );
        assert_eq!(findings[0].severity, Severity::Error);

        let route = ROUTE.replace("port: 8000", "port: 8080");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-backend-unresolved", 43)]
        );
        assert!(findings[0].message.contains("its ports: 8000"));
    }

    #[test]
    fn backend_in_a_namespace_the_tree_does_not_hold_is_only_a_warning() {
        let route = ROUTE.replace(
            "    - name: web\n",
            "    - name: web\n      namespace: other\n",
        );
        let findings = lint(&with_route(&route));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            (findings[0].rule, findings[0].severity),
            ("route-backend-unresolved", Severity::Warning)
        );
    }

    #[test]
    fn backend_in_a_namespace_a_repository_chart_deploys_into_is_only_a_warning() {
        let route = ROUTE.replace("    - name: web\n", "    - name: argocd-server\n");
        let application = r#"---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: argocd, namespace: argocd}
spec:
  source: {repoURL: https://argoproj.github.io/argo-helm, chart: argo-cd, targetRevision: 9.1.4}
  destination: {server: https://kubernetes.default.svc, namespace: app}
"#;
        let findings = lint(&format!("{}{application}", with_route(&route)));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(
            findings[0]
                .message
                .contains("Application argocd/argocd deploys Helm repository chart argo-cd"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn metrics_path_on_a_public_gateway_is_flagged() {
        let route = ROUTE.replace("value: /api/v1", "value: /actuator/prometheus");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-internal-path-exposed", 40)]
        );
    }

    #[test]
    fn metrics_path_on_an_internal_gateway_is_clean() {
        let yaml = with_route(&ROUTE.replace("value: /api/v1", "value: /metrics")).replace(
            "metadata: {name: public, namespace: gateway}",
            "metadata:\n  name: public\n  namespace: gateway\n  labels: {tacos.traffictacos.store/exposure: internal}",
        );
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn two_routes_claiming_the_same_path_are_both_flagged() {
        let other = ROUTE.replace(
            "{name: web, namespace: app}",
            "{name: web-copy, namespace: app}",
        );
        let findings = lint(&with_route(&format!("{ROUTE}---\n{other}")));
        let mut places: Vec<(&str, String, usize)> = findings
            .iter()
            .map(|f| (f.rule, f.subject.clone(), f.location.as_ref().unwrap().line))
            .collect();
        places.sort();
        assert_eq!(
            places,
            vec![
                ("route-duplicate-match", "HTTPRoute app/web".to_string(), 40),
                (
                    "route-duplicate-match",
                    "HTTPRoute app/web-copy".to_string(),
                    57
                ),
            ]
        );
        assert!(
            findings[0]
                .message
                .contains("PathPrefix /api/v1 on api.example.com")
        );
    }

    #[test]
    fn same_path_with_different_methods_or_hostnames_is_clean() {
        let get = ROUTE.replace(
            "- path: {type: PathPrefix, value: /api/v1}",
            "- path: {type: PathPrefix, value: /api/v1}\n      method: GET",
        );
        let other = ROUTE.replace(
            "{name: web, namespace: app}",
            "{name: web-post, namespace: app}",
        );
        let post = other.replace(
            "- path: {type: PathPrefix, value: /api/v1}",
            "- path: {type: PathPrefix, value: /api/v1}\n      method: POST",
        );
        assert_eq!(lint(&with_route(&format!("{get}---\n{post}"))), vec![]);
    }

    #[test]
    fn grpc_route_resolves_like_an_http_route() {
        let grpc = ROUTE.replace("kind: HTTPRoute", "kind: GRPCRoute").replace(
            "  - matches:\n    - path: {type: PathPrefix, value: /api/v1}\n",
            "  - matches:\n    - method: {service: shop.Cart, method: Add}\n",
        );
        assert_eq!(lint(&with_route(&grpc)), vec![]);
        let broken = grpc.replace("port: 8000", "port: 9000");
        assert_eq!(
            rules_and_lines(&lint(&with_route(&broken))),
            vec![("route-backend-unresolved", 43)]
        );
    }
}
