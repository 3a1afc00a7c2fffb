//! Gateway API routes (HTTPRoute, GRPCRoute), read from the routing model `tacos routes` shows: unattached parents and why, ignored hostnames, shadowed rules, conflicting matches, plain HTTP, backends, exposed internal paths.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{LintContext, subject};
use crate::k8s::routing::{Criteria, Model, Place, Reason, Route, RouteKind};
use crate::repo::helm::plan_render;
use crate::repo::{Object, Tree};
use crate::report::rule;
use crate::report::{Finding, RuleInfo, Severity};

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
    "every parentRef of a route names a Gateway in the tree, and a listener of it (NoMatchingParent)",
    "fix the parentRef's name, namespace (default: the route's) or sectionName, or add the Gateway"
);
rule!(
    NOT_ALLOWED,
    FAMILY,
    "route-not-allowed",
    Error,
    "a listener a parentRef names admits the route: its allowedRoutes namespaces (Same by default, All, a Selector over the Namespace's labels) and kinds, and its protocol (NotAllowedByListeners)",
    "attach to a listener that admits the route's namespace and kind, or widen the listener's allowedRoutes (e.g. label the route's Namespace as the listener's selector asks)"
);
rule!(
    HOSTNAME_MISMATCH,
    FAMILY,
    "route-hostname-mismatch",
    Error,
    "a route's hostnames match the hostname of the listener it attaches to (a hostname that matches none is ignored; when none matches: NoMatchingListenerHostname)",
    "use a hostname the listener serves (exact, or any name under its `*.` wildcard), or attach to the listener that serves it"
);
rule!(
    KIND_HOSTNAME_CONFLICT,
    FAMILY,
    "route-kind-hostname-conflict",
    Error,
    "an HTTPRoute and a GRPCRoute never share a hostname on one listener (the Gateway accepts only the older one)",
    "give the gRPC service its own hostname (and listener), or serve it through the HTTPRoute"
);
rule!(
    SHADOWED,
    FAMILY,
    "route-rule-shadowed",
    Error,
    "every rule (and match) of a route gets requests: no higher-precedence match on the same listener and hostname takes all of them",
    "remove the rule or match, or make it more specific than what takes its requests (`tacos routes` shows the order)"
);
rule!(
    DUPLICATE_MATCH,
    FAMILY,
    "route-duplicate-match",
    Error,
    "no two routes claim the same hostname and match (path, method, headers, query) at the same precedence on one Gateway listener",
    "keep one of the rules; the Gateway picks the older route (then the first by namespace/name) and silently drops the other"
);
rule!(
    PLAIN_HTTP,
    FAMILY,
    "route-plain-http",
    Error,
    "a plain-HTTP listener only redirects to https (warning on a Gateway labelled tacos.traffictacos.store/exposure: internal)",
    "attach the route to an HTTPS listener (sectionName), and let an HTTP route redirect (RequestRedirect filter, scheme: https); when plain HTTP is meant, say why in an ignore annotation"
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

pub const RULES: &[RuleInfo] = &[
    PARENT_UNRESOLVED,
    NOT_ALLOWED,
    HOSTNAME_MISMATCH,
    KIND_HOSTNAME_CONFLICT,
    SHADOWED,
    DUPLICATE_MATCH,
    PLAIN_HTTP,
    BACKEND_UNRESOLVED,
    INTERNAL_PATH_EXPOSED,
];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    let model = Model::build(&tree.objects);
    let mut index = TreeIndex::new(tree);
    for pinned in &context.settings.pinned_values {
        index
            .unrendered_charts
            .entry(pinned.namespace.as_str())
            .or_insert_with(|| {
                format!(
                    "{} installs {}: the Service may come from it",
                    pinned.subject, pinned.installs
                )
            });
    }
    let mut findings = Vec::new();
    for route in &model.routes {
        check_attachment(route, &mut findings);
        check_backends(&index, route.object, &mut findings);
        check_internal_paths(&model, route, &mut findings);
    }
    findings.extend(shadowed(&model));
    findings.extend(conflicts(&model));
    findings.extend(plain_http(&model));
    findings
}

/// Services by namespace and name, which namespaces hold anything, and which get objects from
/// charts the tree does not hold rendered; looked up once.
struct TreeIndex<'a> {
    services: HashMap<(Option<&'a str>, &'a str), &'a Object>,
    namespaces_with_objects: HashSet<&'a str>,
    unrendered_charts: HashMap<&'a str, String>,
}

impl<'a> TreeIndex<'a> {
    fn new(tree: &'a Tree) -> Self {
        Self {
            services: tree
                .of_kind("", "Service")
                .map(|o| ((o.namespace(), o.name()), o))
                .collect(),
            namespaces_with_objects: tree.objects.iter().filter_map(Object::namespace).collect(),
            unrendered_charts: unrendered_charts(tree),
        }
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

/// Each parentRef that does not attach, each hostname ignored, each listener that drops the route
/// for a route of the other kind; a route without parentRefs attaches to nothing.
fn check_attachment(route: &Route<'_>, findings: &mut Vec<Finding>) {
    let object = route.object;
    let nowhere = if route.unattached() {
        "; the route attaches to no listener at all"
    } else {
        ""
    };
    if route.parents.is_empty() && route.other_parents == 0 {
        findings.push(Finding::new(
            &PARENT_UNRESOLVED,
            subject(object),
            Some(object.location_of("/spec/parentRefs")),
            "the route has no parentRefs, so it attaches to no Gateway",
        ));
    }
    for parent in &route.parents {
        let Err(error) = &parent.outcome else {
            continue;
        };
        let rule = match error.reason {
            Reason::NoMatchingParent => &PARENT_UNRESOLVED,
            Reason::NotAllowedByListeners => &NOT_ALLOWED,
            // Reported at each hostname, and at each listener that keeps the other route.
            Reason::NoMatchingListenerHostname | Reason::HostnameConflict => continue,
        };
        let mut finding = Finding::new(
            rule,
            subject(object),
            Some(object.location_of(&error.pointer)),
            format!("{}{nowhere}", error.message),
        );
        if !error.certain {
            finding = finding.with_severity(Severity::Warning);
        }
        findings.push(finding);
    }
    for ignored in &route.ignored_hostnames {
        findings.push(Finding::new(
            &HOSTNAME_MISMATCH,
            subject(object),
            Some(object.location_of(&format!("/spec/hostnames/{}", ignored.hostname))),
            format!("{}{nowhere}", ignored.message),
        ));
    }
    for rejection in &route.rejections {
        findings.push(Finding::new(
            &KIND_HOSTNAME_CONFLICT,
            subject(object),
            Some(object.location_of(&format!("/spec/parentRefs/{}", rejection.parent))),
            format!("{}{nowhere}", rejection.message),
        ));
    }
}

/// Where an entry loses, as a report reads it: `on host (listener ...): why`.
fn loss(model: &Model<'_>, place: Place) -> String {
    format!(
        "on {} ({}): {}",
        model.host(place),
        model.listeners[place.listener].shown(),
        model.why_lost(place).unwrap_or_default()
    )
}

/// A rule none of whose matches gets a request: one finding at the rule; a dead match of a rule
/// that still gets requests: one at the match.
fn shadowed(model: &Model<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for shadowed in model.shadowed() {
        let route = &model.routes[shadowed.route];
        let rule = &route.rules[shadowed.rule];
        let losses: Vec<(usize, String)> = shadowed
            .matches
            .iter()
            .map(|dead| {
                let more = match dead.losses.len() {
                    0 | 1 => String::new(),
                    n => format!(" (and on {} more host(s) or listener(s))", n - 1),
                };
                let shown = rule.matches[dead.matched].criteria.shown();
                (
                    dead.matched,
                    format!("{shown} {}{more}", loss(model, dead.losses[0])),
                )
            })
            .collect();
        if shadowed.whole_rule {
            let said: Vec<&str> = losses.iter().map(|(_, text)| text.as_str()).collect();
            findings.push(Finding::new(
                &SHADOWED,
                route.shown(),
                Some(route.object.location_of(&rule.pointer())),
                format!("rule {} gets no request: {}", rule.index, said.join("; ")),
            ));
            continue;
        }
        for (matched, text) in losses {
            findings.push(Finding::new(
                &SHADOWED,
                route.shown(),
                Some(route.object.location_of(&rule.match_pointer(matched))),
                format!(
                    "this match of rule {} gets no request (its other matches do): {text}",
                    rule.index
                ),
            ));
        }
    }
    findings
}

/// One finding per claimant of a conflicting match, naming the others and the winner; each place
/// reported once.
fn conflicts(model: &Model<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut reported: HashSet<(String, String)> = HashSet::new();
    for conflict in model.conflicts() {
        let row = &model.tables[conflict.listener][conflict.host];
        let winner = &row.entries[conflict.winner];
        let claimants: Vec<usize> = std::iter::once(conflict.winner)
            .chain(conflict.losers.iter().map(|(e, _)| *e))
            .collect();
        let verdict = format!(
            "{} wins by {}",
            model.routes[winner.route].shown(),
            conflict.losers[0].1.text()
        );
        let place_of = |e: usize| {
            let entry = &row.entries[e];
            let route = &model.routes[entry.route];
            (route, route.rules[entry.rule].match_pointer(entry.matched))
        };
        for (i, claimant) in claimants.iter().enumerate() {
            let (route, pointer) = place_of(*claimant);
            if !reported.insert((route.shown(), pointer.clone())) {
                continue;
            }
            let others: Vec<String> = claimants
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, other)| {
                    let (route, pointer) = place_of(*other);
                    format!(
                        "{} at {}",
                        route.shown(),
                        route.object.location_of(&pointer)
                    )
                })
                .collect();
            findings.push(Finding::new(
                &DUPLICATE_MATCH,
                route.shown(),
                Some(route.object.location_of(&pointer)),
                format!(
                    "{} on {} ({}) is also claimed by {}; {verdict}",
                    model.criteria(&row.entries[*claimant]).shown(),
                    row.host,
                    model.listeners[conflict.listener].shown(),
                    others.join("; ")
                ),
            ));
        }
    }
    findings
}

/// One finding per rule that serves requests over plain HTTP, with what it serves where.
fn plain_http(model: &Model<'_>) -> Vec<Finding> {
    let mut by_rule: BTreeMap<(usize, usize), Vec<Place>> = BTreeMap::new();
    for plain in model.plain_http() {
        let entry = model.entry(plain.place);
        by_rule
            .entry((entry.route, entry.rule))
            .or_default()
            .push(plain.place);
    }
    by_rule
        .into_iter()
        .map(|((r, rule), places)| {
            let route = &model.routes[r];
            let rule = &route.rules[rule];
            let mut served: Vec<String> = places
                .iter()
                .map(|p| {
                    format!(
                        "{} on {} ({})",
                        model.criteria(model.entry(*p)).shown(),
                        model.host(*p),
                        model.listeners[p.listener].shown()
                    )
                })
                .collect();
            served.dedup();
            let public = places
                .iter()
                .any(|p| !is_internal_only(model.listeners[p.listener].gateway));
            let finding = Finding::new(
                &PLAIN_HTTP,
                route.shown(),
                Some(route.object.location_of(&rule.pointer())),
                format!(
                    "rule {} serves plain HTTP ({}): {}",
                    rule.index,
                    rule.action.shown(),
                    served.join("; ")
                ),
            );
            if public {
                finding
            } else {
                finding.with_severity(Severity::Warning)
            }
        })
        .collect()
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

fn check_internal_paths(model: &Model<'_>, route: &Route<'_>, findings: &mut Vec<Finding>) {
    let public = route
        .attachments
        .iter()
        .map(|a| model.listeners[a.listener].gateway)
        .find(|gateway| !is_internal_only(gateway));
    let Some(public) = public else {
        return;
    };
    let object = route.object;
    if route.kind != RouteKind::Http {
        return;
    }
    for rule in &route.rules {
        for matched in &rule.matches {
            let (Some(m), Criteria::Http(http)) = (matched.index, &matched.criteria) else {
                continue;
            };
            let Some(prefix) = internal_prefix(&http.path.value) else {
                continue;
            };
            findings.push(Finding::new(
                &INTERNAL_PATH_EXPOSED,
                subject(object),
                Some(object.location_of(&format!(
                    "/spec/rules/{}/matches/{m}/path/value",
                    rule.index
                ))),
                format!(
                    "path {} {} ({prefix} is for operators) is routed on public {}",
                    http.path.kind,
                    http.path.value,
                    subject(public)
                ),
            ));
        }
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

    /// A Gateway admitting routes from every namespace, a Service and a route to it: lines 1-30
    /// (the route starts on line 31).
    const BASE: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: gateway}
spec:
  gatewayClassName: alb
  listeners:
  - name: http
    protocol: HTTP
    port: 80
    allowedRoutes: {namespaces: {from: All}}
  - name: https-api
    protocol: HTTPS
    port: 443
    hostname: api.example.com
    allowedRoutes: {namespaces: {from: All}}
  - name: https-wild
    protocol: HTTPS
    port: 443
    hostname: "*.apps.example.com"
    allowedRoutes: {namespaces: {from: All}}
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

    /// Without a sectionName the route attaches to every listener whose hostname it matches: the
    /// wildcard one, and the plain-HTTP one, where it forwards requests unencrypted.
    #[test]
    fn no_section_attaches_to_every_listener_the_hostname_matches() {
        let route = ROUTE
            .replace("    sectionName: https-api\n", "")
            .replace("api.example.com", "shop.apps.example.com");
        let findings = lint(&with_route(&route));
        assert_eq!(rules_and_lines(&findings), vec![("route-plain-http", 41)]);
        assert!(
            findings[0].message.contains(
                "PathPrefix /api/v1 on shop.apps.example.com (listener http of Gateway gateway/public)"
            ),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn missing_gateway_is_flagged_at_the_parent_ref() {
        let route = ROUTE.replace("- name: public", "- name: private");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-parent-unresolved", 36)]
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
            vec![("route-parent-unresolved", 38)]
        );
        assert!(findings[0].message.contains("http, https-api, https-wild"));
    }

    #[test]
    fn hostname_the_listener_does_not_serve_is_flagged() {
        let route = ROUTE.replace("  - api.example.com", "  - www.example.com");
        assert_eq!(
            rules_and_lines(&lint(&with_route(&route))),
            vec![("route-hostname-mismatch", 40)]
        );
    }

    /// Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames: a listener
    /// `*.example.com` matches `test.example.com` and `foo.test.example.com`, not `example.com`.
    #[test]
    fn wildcard_listener_matches_names_at_any_depth_but_not_its_bare_domain() {
        let deep = ROUTE
            .replace("sectionName: https-api", "sectionName: https-wild")
            .replace("api.example.com", "a.b.apps.example.com");
        assert_eq!(lint(&with_route(&deep)), vec![]);
        let bare = deep.replace("a.b.apps.example.com", "apps.example.com");
        let findings = lint(&with_route(&bare));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-hostname-mismatch", 40)]
        );
        assert!(
            findings[0]
                .message
                .ends_with("so Gateway gateway/public does not accept it; the route attaches to no listener at all"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn missing_service_and_wrong_port_are_flagged() {
        let route = ROUTE.replace("    - name: web\n", "    - name: api\n");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-backend-unresolved", 45)]
        );
        assert_eq!(findings[0].severity, Severity::Error);

        let route = ROUTE.replace("port: 8000", "port: 8080");
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-backend-unresolved", 46)]
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
            vec![("route-internal-path-exposed", 43)]
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
                ("route-duplicate-match", "HTTPRoute app/web".to_string(), 43),
                (
                    "route-duplicate-match",
                    "HTTPRoute app/web-copy".to_string(),
                    60
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
            vec![("route-backend-unresolved", 46)]
        );
    }

    #[test]
    fn a_listener_admits_only_its_own_namespace_by_default() {
        let yaml =
            with_route(ROUTE).replacen("    allowedRoutes: {namespaces: {from: All}}\n", "", 2);
        let findings = lint(&yaml);
        assert_eq!(rules_and_lines(&findings), vec![("route-not-allowed", 34)]);
        assert!(
            findings[0].message.contains(
                "listener https-api takes routes only from its own namespace gateway (allowedRoutes.namespaces.from: Same, the default)"
            ),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_namespace_selector_reads_the_namespaces_labels_and_is_unsure_without_them() {
        let yaml = with_route(ROUTE).replace(
            "    hostname: api.example.com\n    allowedRoutes: {namespaces: {from: All}}",
            "    hostname: api.example.com\n    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway-access: \"true\"}}}}",
        );
        let findings = lint(&yaml);
        assert_eq!(rules_and_lines(&findings), vec![("route-not-allowed", 36)]);
        assert_eq!(
            findings[0].severity,
            Severity::Warning,
            "the tree holds no Namespace app"
        );
        let labelled = format!(
            "{yaml}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: app, labels: {{gateway-access: \"true\"}}}}\n"
        );
        assert_eq!(lint(&labelled), vec![]);
    }

    #[test]
    fn a_rule_whose_match_an_earlier_rule_already_takes_is_shadowed() {
        let route = ROUTE.replace(
            "    backendRefs:\n    - name: web\n      port: 8000\n",
            "    backendRefs:\n    - name: web\n      port: 8000\n  - matches:\n    - path: {type: PathPrefix, value: /api/v1}\n    backendRefs:\n    - name: web\n      port: 8000\n",
        );
        let findings = lint(&with_route(&route));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-rule-shadowed", 47)]
        );
        assert!(
            findings[0].message.contains(
                "rule 1 gets no request: PathPrefix /api/v1 on api.example.com (listener https-api of Gateway gateway/public): taken by HTTPRoute app/web rule 0 (PathPrefix /api/v1), which ranks higher by coming first in the route's rules"
            ),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_redirect_to_https_is_the_only_clean_plain_http() {
        let redirect = r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirect, namespace: gateway}
spec:
  parentRefs: [{name: public, sectionName: http}]
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
"#;
        assert_eq!(lint(&format!("{}{redirect}", with_route(ROUTE))), vec![]);
        let plain = redirect.replace("scheme: https, ", "");
        let findings = lint(&format!("{}{plain}", with_route(ROUTE)));
        assert_eq!(rules_and_lines(&findings), vec![("route-plain-http", 54)]);
        assert_eq!(findings[0].severity, Severity::Error);
        let internal = format!("{}{plain}", with_route(ROUTE)).replace(
            "metadata: {name: public, namespace: gateway}",
            "metadata:\n  name: public\n  namespace: gateway\n  labels: {tacos.traffictacos.store/exposure: internal}",
        );
        assert_eq!(lint(&internal)[0].severity, Severity::Warning);
    }

    #[test]
    fn an_http_and_a_grpc_route_on_one_hostname_keep_only_one() {
        let grpc = ROUTE
            .replace("kind: HTTPRoute", "kind: GRPCRoute")
            .replace(
                "{name: web, namespace: app}",
                "{name: web-grpc, namespace: app}",
            )
            .replace(
                "  - matches:\n    - path: {type: PathPrefix, value: /api/v1}\n",
                "  - matches:\n    - method: {service: shop.Cart}\n",
            );
        let findings = lint(&with_route(&format!("{ROUTE}---\n{grpc}")));
        assert_eq!(
            rules_and_lines(&findings),
            vec![("route-kind-hostname-conflict", 53)]
        );
        assert!(
            findings[0].message.contains(
                "keeps HTTPRoute app/web, which shares hostname api.example.com with this GRPCRoute"
            ),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_route_without_parent_refs_attaches_nowhere() {
        let route = ROUTE.replace(
            "  parentRefs:\n  - name: public\n    namespace: gateway\n    sectionName: https-api\n",
            "",
        );
        assert_eq!(
            rules_and_lines(&lint(&with_route(&route))),
            vec![("route-parent-unresolved", 34)]
        );
    }
}
