//! The routing model on inline trees: attachment and its reasons, and the precedence of matches as Gateway API v1.6.3 documents it.

use super::*;
use crate::repo::{Tree, load_str};

fn tree(yaml: &str) -> Tree {
    load_str("test.yaml", yaml).expect("valid test YAML")
}

const GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: gateway}
spec:
  gatewayClassName: alb
  listeners:
  - name: http
    protocol: HTTP
    port: 80
    allowedRoutes: {namespaces: {from: All}}
  - name: https
    protocol: HTTPS
    port: 443
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: All}}
  - name: https-api
    protocol: HTTPS
    port: 443
    hostname: api.example.com
    allowedRoutes: {namespaces: {from: All}}
"#;

/// An HTTPRoute `name` in namespace shop on listener `section` with `hostnames` and `rules` (YAML
/// under `rules:`), created at `created` when given.
fn route(
    name: &str,
    section: &str,
    hostnames: &[&str],
    created: Option<&str>,
    rules: &str,
) -> String {
    let created = created
        .map(|c| format!("\n  creationTimestamp: \"{c}\""))
        .unwrap_or_default();
    let hostnames: Vec<String> = hostnames.iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: {name}\n  namespace: shop{created}\nspec:\n  parentRefs:\n  - {{name: public, namespace: gateway, sectionName: {section}}}\n  hostnames: [{}]\n  rules:\n{rules}",
        hostnames.join(", ")
    )
}

fn backend(name: &str) -> String {
    format!("    backendRefs: [{{name: {name}, port: 80}}]\n")
}

fn rule(matches: &str, to: &str) -> String {
    format!("  - matches: {matches}\n{}", backend(to))
}

fn listener(model: &Model<'_>, name: &str) -> usize {
    model
        .listeners
        .iter()
        .position(|l| l.name == name)
        .unwrap_or_else(|| panic!("no listener {name}"))
}

/// The row of `host` on listener `name`: each entry as (route, rule, match shown, outcome text).
fn row(model: &Model<'_>, name: &str, host: &str) -> Vec<(String, usize, String, String)> {
    let l = listener(model, name);
    let h = model.tables[l]
        .iter()
        .position(|t| t.host == Host::parse(host))
        .unwrap_or_else(|| panic!("no row {host} on {name}: {:#?}", model.tables[l]));
    model.tables[l][h]
        .entries
        .iter()
        .enumerate()
        .map(|(e, entry)| {
            let outcome = match model.why_lost(Place {
                listener: l,
                host: h,
                entry: e,
            }) {
                None => "wins".to_string(),
                Some(why) => why,
            };
            (
                model.routes[entry.route].object.name().to_string(),
                entry.rule,
                model.criteria(entry).shown(),
                outcome,
            )
        })
        .collect()
}

fn names(row: &[(String, usize, String, String)]) -> Vec<(&str, usize, &str)> {
    row.iter()
        .map(|(route, rule, shown, _)| (route.as_str(), *rule, shown.as_str()))
        .collect()
}

/// Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteRule.Matches: across all rules of
/// the routes on a listener, precedence goes to an "Exact" path match, then the "Prefix" path match
/// with the most characters, then a method match, then the most header matches, then the most
/// query param matches.
#[test]
fn matches_across_routes_rank_by_exact_path_longest_prefix_method_headers_query() {
    let rules_a = [
        rule("[{path: {type: PathPrefix, value: /api}}]", "a"),
        rule("[{path: {type: Exact, value: /api/login}}]", "a"),
        rule(
            "[{path: {value: /}, queryParams: [{name: debug, value: \"1\"}]}]",
            "a",
        ),
    ]
    .concat();
    let rules_b = [
        rule("[{path: {type: PathPrefix, value: /api/v1}}]", "b"),
        rule("[{path: {value: /}, method: GET}]", "b"),
        rule(
            "[{path: {value: /}, headers: [{name: x-canary, value: \"true\"}]}]",
            "b",
        ),
    ]
    .concat();
    let yaml = format!(
        "{GATEWAY}{}{}",
        route("a", "https-api", &["api.example.com"], None, &rules_a),
        route("b", "https-api", &["api.example.com"], None, &rules_b)
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let entries = row(&model, "https-api", "api.example.com");
    assert_eq!(
        names(&entries),
        vec![
            ("a", 1, "Exact /api/login"),
            ("b", 0, "PathPrefix /api/v1"),
            ("a", 0, "PathPrefix /api"),
            ("b", 1, "GET PathPrefix /"),
            ("b", 2, "PathPrefix / header x-canary=true"),
            ("a", 2, "PathPrefix / query debug=1"),
        ]
    );
    assert!(
        entries.iter().all(|(.., outcome)| outcome == "wins"),
        "{entries:#?}"
    );
    assert!(model.shadowed().is_empty() && model.conflicts().is_empty());
}

/// apis/v1/httproute_types.go, HTTPRouteRule.Matches: "If ties still exist across multiple
/// Routes, matching precedence MUST be determined in order of the following criteria, continuing
/// on ties: The oldest Route based on creation timestamp. The Route appearing first in
/// alphabetical order by "{namespace}/{name}"."
#[test]
fn identical_matches_of_two_routes_conflict_and_the_oldest_then_the_first_by_name_wins() {
    let same = rule("[{path: {type: PathPrefix, value: /cart}}]", "cart");
    let yaml = format!(
        "{GATEWAY}{}{}",
        route(
            "zeta",
            "https-api",
            &["api.example.com"],
            Some("2024-01-01T00:00:00Z"),
            &same
        ),
        route(
            "alpha",
            "https-api",
            &["api.example.com"],
            Some("2024-06-01T00:00:00Z"),
            &same
        )
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let entries = row(&model, "https-api", "api.example.com");
    assert_eq!(
        names(&entries),
        vec![
            ("zeta", 0, "PathPrefix /cart"),
            ("alpha", 0, "PathPrefix /cart")
        ]
    );
    assert_eq!(
        entries[1].3,
        "the same match as HTTPRoute shop/zeta rule 0 (PathPrefix /cart), which wins by the older creationTimestamp"
    );
    let conflicts = model.conflicts();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].losers[0].1, Decider::Created);
    assert!(
        model.shadowed().is_empty(),
        "a loss to an identical match is a conflict"
    );

    // Without timestamps, {namespace}/{name} decides.
    let yaml = format!(
        "{GATEWAY}{}{}",
        route("zeta", "https-api", &["api.example.com"], None, &same),
        route("alpha", "https-api", &["api.example.com"], None, &same)
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let entries = row(&model, "https-api", "api.example.com");
    assert_eq!(names(&entries)[0].0, "alpha");
    assert_eq!(
        model.conflicts()[0].losers[0].1,
        Decider::Name { timestamps: false }
    );
}

/// apis/v1/httproute_types.go, HTTPRouteRule.Matches: "If ties still exist within an HTTPRoute,
/// matching precedence MUST be granted to the FIRST matching rule (in list order)".
#[test]
fn a_later_rule_with_the_same_match_in_one_route_is_shadowed_by_the_first() {
    let rules = [
        rule("[{path: {type: PathPrefix, value: /cart}}]", "cart"),
        rule(
            "[{path: {type: PathPrefix, value: /cart}}, {path: {type: Exact, value: /cart/new}}]",
            "cart-v2",
        ),
        rule(
            "[{path: {type: PathPrefix, value: /cart}, method: POST}]",
            "cart-v2",
        ),
    ]
    .concat();
    let yaml = format!(
        "{GATEWAY}{}",
        route("cart", "https-api", &["api.example.com"], None, &rules)
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let shadowed = model.shadowed();
    assert_eq!(shadowed.len(), 1, "{shadowed:#?}");
    let (route, rule) = (shadowed[0].route, shadowed[0].rule);
    assert_eq!((model.routes[route].object.name(), rule), ("cart", 1));
    assert!(!shadowed[0].whole_rule, "its Exact /cart/new still wins");
    assert_eq!(shadowed[0].matches.len(), 1);
    let loss = shadowed[0].matches[0].losses[0];
    assert_eq!(
        model.entry(loss).outcome,
        Outcome::Shadowed {
            by: 2,
            why: Decider::Rule
        }
    );
    assert!(
        model.conflicts().is_empty(),
        "one route never conflicts with itself"
    );
}

/// apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames: "precedence must be given to rules from
/// the HTTPRoute with the largest number of: Characters in a matching non-wildcard hostname.
/// Characters in a matching hostname." A wildcard route's rule loses a host to an exact route
/// that matches everything it does, and still wins the rest of the wildcard.
#[test]
fn an_exact_hostname_route_takes_its_host_from_a_wildcard_route() {
    let yaml = format!(
        "{GATEWAY}{}{}",
        route(
            "shop",
            "https",
            &["shop.example.com"],
            None,
            &rule("[{path: {value: /}}]", "shop")
        ),
        route(
            "static",
            "https",
            &["*.example.com"],
            None,
            &rule("[{path: {value: /static}}]", "cdn")
        )
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let shop = row(&model, "https", "shop.example.com");
    assert_eq!(
        names(&shop),
        vec![
            ("shop", 0, "PathPrefix /"),
            ("static", 0, "PathPrefix /static")
        ]
    );
    assert!(
        shop[1]
            .3
            .ends_with("which ranks higher by more characters in a matching non-wildcard hostname"),
        "{shop:#?}"
    );
    let rest = row(&model, "https", "*.example.com");
    assert_eq!(names(&rest), vec![("static", 0, "PathPrefix /static")]);
    assert_eq!(rest[0].3, "wins");
    assert!(
        model.shadowed().is_empty(),
        "the static rule still serves the rest of *.example.com"
    );
}

/// apis/v1/gateway_types.go, "Listeners that are distinct only by Hostname": "Exact matches MUST be
/// processed before wildcard matches". A route on the wildcard listener for a host an exact
/// listener on the same port serves never gets a request.
#[test]
fn a_more_specific_listener_takes_the_host_from_the_wildcard_listener() {
    let yaml = format!(
        "{GATEWAY}{}",
        route(
            "lost",
            "https",
            &["api.example.com"],
            None,
            &rule("[{path: {value: /v2}}]", "api")
        )
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let lost = row(&model, "https", "api.example.com");
    assert_eq!(
        lost[0].3,
        "requests for api.example.com go to the more specific listener https-api of Gateway gateway/public"
    );
    let shadowed = model.shadowed();
    assert_eq!(shadowed.len(), 1);
    assert!(shadowed[0].whole_rule);
}

#[test]
fn attachment_follows_section_name_allowed_routes_and_hostnames_with_the_specs_reasons() {
    let gateway = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: gateway}
spec:
  gatewayClassName: alb
  listeners:
  - {name: same, protocol: HTTPS, port: 443, hostname: same.example.com}
  - name: selected
    protocol: HTTPS
    port: 443
    hostname: selected.example.com
    allowedRoutes:
      namespaces: {from: Selector, selector: {matchLabels: {gateway-access: "true"}}}
  - name: grpc-only
    protocol: HTTPS
    port: 8443
    allowedRoutes:
      namespaces: {from: All}
      kinds: [{kind: GRPCRoute}]
  - {name: tcp, protocol: TCP, port: 9000, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {gateway-access: "true"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: closed}
"#;
    let parent = |namespace: &str, section: &str, hostname: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r-{section}, namespace: {namespace}}}\nspec:\n  parentRefs: [{{name: edge, namespace: gateway, sectionName: {section}}}]\n  hostnames: [{hostname}]\n  rules: [{{backendRefs: [{{name: web, port: 80}}]}}]\n"
        )
    };
    let routes = [
        parent("shop", "same", "same.example.com"),
        parent("shop", "selected", "selected.example.com"),
        parent("closed", "selected", "selected.example.com"),
        parent("unknown", "selected", "selected.example.com"),
        parent("shop", "grpc-only", "x.example.com"),
        parent("shop", "tcp", "x.example.com"),
        parent("gateway", "same", "other.example.com"),
        parent("gateway", "nope", "same.example.com"),
    ];
    let loaded = tree(&format!("{gateway}{}", routes.concat()));
    let model = Model::build(&loaded.objects);
    let outcomes: Vec<(String, Option<Reason>, bool)> = model
        .routes
        .iter()
        .map(|r| {
            let outcome = &r.parents[0].outcome;
            (
                format!("{}/{}", r.object.namespace().unwrap(), r.object.name()),
                outcome.as_ref().err().map(|e| e.reason),
                outcome.as_ref().err().is_none_or(|e| e.certain),
            )
        })
        .collect();
    use Reason::*;
    assert_eq!(
        outcomes,
        vec![
            ("shop/r-same".into(), Some(NotAllowedByListeners), true),
            ("shop/r-selected".into(), None, true),
            (
                "closed/r-selected".into(),
                Some(NotAllowedByListeners),
                true
            ),
            (
                "unknown/r-selected".into(),
                Some(NotAllowedByListeners),
                false
            ),
            ("shop/r-grpc-only".into(), Some(NotAllowedByListeners), true),
            ("shop/r-tcp".into(), Some(NotAllowedByListeners), true),
            (
                "gateway/r-same".into(),
                Some(NoMatchingListenerHostname),
                true
            ),
            ("gateway/r-nope".into(), Some(NoMatchingParent), true),
        ]
    );
    let message = |i: usize| {
        model.routes[i].parents[0]
            .outcome
            .as_ref()
            .unwrap_err()
            .message
            .clone()
    };
    assert!(
        message(0).contains("only from its own namespace gateway"),
        "{}",
        message(0)
    );
    assert!(
        message(3).contains("namespace unknown is not in the tree"),
        "{}",
        message(3)
    );
    assert!(
        message(4).contains("takes only GRPCRoute"),
        "{}",
        message(4)
    );
    assert!(
        message(5).contains("is TCP, which takes no HTTPRoute"),
        "{}",
        message(5)
    );
    assert!(
        message(7).contains("has no listener nope (its listeners: same, selected, grpc-only, tcp)")
    );
    assert_eq!(model.routes[6].ignored_hostnames.len(), 1);
    assert_eq!(model.unattached().count(), 7);
}

/// apis/v1/grpcroute_types.go, GRPCRouteSpec.Hostnames: an HTTPRoute and a GRPCRoute with
/// intersecting hostnames on one listener: exactly one is accepted, the oldest (then the first by
/// {namespace}/{name}).
#[test]
fn an_http_and_a_grpc_route_sharing_a_hostname_keep_only_the_older() {
    let grpc = "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata:\n  name: grpc\n  namespace: shop\n  creationTimestamp: \"2024-01-01T00:00:00Z\"\nspec:\n  parentRefs: [{name: public, namespace: gateway, sectionName: https-api}]\n  rules: [{backendRefs: [{name: grpc, port: 9000}]}]\n";
    let yaml = format!(
        "{GATEWAY}{grpc}{}",
        route(
            "web",
            "https-api",
            &["api.example.com"],
            Some("2024-02-01T00:00:00Z"),
            &rule("[{path: {value: /}}]", "web")
        )
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let web = model
        .routes
        .iter()
        .find(|r| r.object.name() == "web")
        .unwrap();
    assert!(web.unattached());
    let error = web.parents[0].outcome.as_ref().unwrap_err();
    assert_eq!(error.reason, Reason::HostnameConflict);
    assert!(
        error.message.contains("keeps GRPCRoute shop/grpc"),
        "{}",
        error.message
    );
    assert_eq!(web.rejections[0].decided_by, Decider::Created);
}

#[test]
fn plain_http_is_whatever_an_http_listener_serves_but_a_redirect_to_https() {
    let redirect = "  - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]\n";
    let yaml = format!(
        "{GATEWAY}{}{}",
        route(
            "redirect",
            "http",
            &["api.example.com", "shop.example.com"],
            None,
            redirect
        ),
        route(
            "health",
            "http",
            &["api.example.com"],
            None,
            &rule("[{path: {type: Exact, value: /healthz}}]", "api")
        )
    );
    let loaded = tree(&yaml);
    let model = Model::build(&loaded.objects);
    let plain: Vec<String> = model
        .plain_http()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                model.host(p.place),
                model.shown_entry(model.entry(p.place))
            )
        })
        .collect();
    assert_eq!(
        plain,
        vec!["api.example.com HTTPRoute shop/health rule 0 (Exact /healthz)"]
    );
}
