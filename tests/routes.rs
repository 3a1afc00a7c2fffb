//! `tacos routes` end to end: the real binary on routes written to conflict and shadow each other, checked against the Gateway API's documented precedence, and `tacos lint` reporting the same model's findings at file:line.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use tacos_testenv::fixtures::fixture_tree;
use tacos_testenv::{Run, tacos_command};
use tempfile::TempDir;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// tests/fixtures/routes/contested copied into a fresh folder, each `x.yaml.fixture` as `x.yaml`.
fn contested() -> TempDir {
    fixture_tree(Path::new(FIXTURES), &["routes/contested"])
}

fn tacos(dir: &Path, args: &[&str]) -> Run {
    tacos_command!().current_dir(dir).args(args).run()
}

/// `tacos routes . -o json` on the contested tree, which it shows (exit 0) though it has findings.
fn routes_json() -> Value {
    let tree = contested();
    let run = tacos(
        &tree.path().join("contested"),
        &["routes", ".", "--no-render", "-o", "json"],
    );
    run.assert_code(0);
    run.json()
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_default()
}

fn file_line(location: &Value) -> (String, u64) {
    (
        text(&location["file"]),
        location["line"].as_u64().unwrap_or(0),
    )
}

/// The row of `hostname` on `listener`: (route, rule, match, status, decidedBy) in precedence order.
fn row(
    report: &Value,
    listener: &str,
    hostname: &str,
) -> Vec<(String, u64, String, String, String)> {
    let listener = report["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["listener"] == listener)
        .unwrap_or_else(|| panic!("no listener {listener}: {report:#}"));
    let host = listener["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == hostname)
        .unwrap_or_else(|| panic!("no host {hostname} on {listener:#}"));
    host["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                text(&m["route"]),
                m["rule"].as_u64().unwrap(),
                text(&m["match"]),
                text(&m["status"]),
                text(&m["decidedBy"]),
            )
        })
        .collect()
}

fn entry(
    route: &str,
    rule: u64,
    matched: &str,
    status: &str,
    decided_by: &str,
) -> (String, u64, String, String, String) {
    (
        format!("HTTPRoute storefront/{route}"),
        rule,
        matched.to_string(),
        status.to_string(),
        decided_by.to_string(),
    )
}

/// Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteRule.Matches: "precedence must be
/// given to the match having: "Exact" path match. "Prefix" path match with largest number of
/// characters. Method match. Largest number of header matches. Largest number of query param
/// matches." Then "The oldest Route based on creation timestamp", then "{namespace}/{name}"
/// alphabetically, then "the FIRST matching rule (in list order)" within a route.
#[test]
fn the_api_host_ranks_exact_then_longest_prefix_then_headers_and_ties_go_to_the_oldest_route() {
    let report = routes_json();
    assert_eq!(
        row(&report, "https-api", "api.shop.example.com"),
        vec![
            // Exact before any PathPrefix; between two Exacts, the route with a creationTimestamp
            // (cart) is older than one not yet created (orders).
            entry("cart", 1, "Exact /cart/checkout", "wins", ""),
            entry("orders", 1, "Exact /orders/new", "wins", ""),
            // /orders has more characters than /cart.
            entry("orders", 0, "PathPrefix /orders", "wins", ""),
            entry("orders", 1, "PathPrefix /orders", "shadowed", "ruleOrder"),
            entry("orders", 2, "PathPrefix /orders", "shadowed", "ruleOrder"),
            // One header match more wins the same path.
            entry(
                "cart-v2",
                1,
                "PathPrefix /cart header x-canary=true",
                "wins",
                ""
            ),
            // The same match in two routes: cart (2024-01-10) is older than cart-v2 (2024-03-02).
            entry("cart", 0, "PathPrefix /cart", "wins", ""),
            entry(
                "cart-v2",
                0,
                "PathPrefix /cart",
                "conflict",
                "creationTimestamp"
            ),
        ]
    );
    let conflicts = report["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{report:#}");
    let conflict = &conflicts[0];
    assert_eq!(conflict["hostname"], "api.shop.example.com");
    assert_eq!(conflict["match"], "PathPrefix /cart");
    assert_eq!(
        (
            text(&conflict["winner"]["route"]),
            file_line(&conflict["winner"]["location"])
        ),
        (
            "HTTPRoute storefront/cart".into(),
            ("routes/cart.yaml".into(), 16)
        )
    );
    let loser = &conflict["losers"][0];
    assert_eq!(
        (
            text(&loser["route"]),
            file_line(&loser["location"]),
            text(&loser["decidedBy"])
        ),
        (
            "HTTPRoute storefront/cart-v2".into(),
            ("routes/cart.yaml".into(), 34),
            "creationTimestamp".into()
        )
    );
}

/// apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames: "precedence must be given to rules from
/// the HTTPRoute with the largest number of: Characters in a matching non-wildcard hostname.
/// Characters in a matching hostname." apis/v1/gateway_types.go, "Listeners that are distinct only
/// by Hostname": "Exact matches MUST be processed before wildcard matches".
#[test]
fn hostnames_decide_first_and_an_exact_listener_takes_its_host_from_the_wildcard_one() {
    let report = routes_json();
    assert_eq!(
        row(&report, "https", "www.shop.example.com"),
        vec![
            entry("www", 0, "PathPrefix /", "wins", ""),
            entry("static", 0, "PathPrefix /static", "shadowed", "hostname"),
        ]
    );
    assert_eq!(
        row(&report, "https", "*.shop.example.com"),
        vec![entry("static", 0, "PathPrefix /static", "wins", "")]
    );
    let api = row(&report, "https", "api.shop.example.com");
    assert!(
        api.iter().all(|(.., status, _)| status == "unreachable"),
        "{api:?}"
    );
    let host = report["listeners"][1]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == "api.shop.example.com")
        .unwrap();
    assert_eq!(
        host["servedBy"],
        "listener https-api of Gateway gateway/edge"
    );

    // Shadowed: what no request reaches on any host. static still serves *.shop.example.com.
    let shadowed: BTreeSet<(String, u64, bool, (String, u64))> = report["shadowed"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["matches"].as_array().unwrap().iter().map(|m| {
                (
                    text(&s["route"]),
                    s["rule"].as_u64().unwrap(),
                    s["wholeRule"].as_bool().unwrap(),
                    file_line(&m["location"]),
                )
            })
        })
        .collect();
    assert_eq!(
        shadowed,
        BTreeSet::from([
            (
                "HTTPRoute storefront/api-on-wildcard".into(),
                0,
                true,
                ("routes/hosts.yaml".into(), 41)
            ),
            (
                "HTTPRoute storefront/orders".into(),
                1,
                false,
                ("routes/orders.yaml".into(), 16)
            ),
            (
                "HTTPRoute storefront/orders".into(),
                2,
                true,
                ("routes/orders.yaml".into(), 20)
            ),
        ]),
        "{report:#}"
    );
}

#[test]
fn plain_http_unattached_routes_and_unreadable_files_are_shown() {
    let report = routes_json();
    // Port 80: the Exact /healthz outranks the redirect's PathPrefix / and is served unencrypted.
    let http = row(&report, "http", "api.shop.example.com");
    assert_eq!(http[0].0, "HTTPRoute storefront/health");
    let plain: Vec<(String, String, (String, u64))> = report["plainHttp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                text(&p["route"]),
                text(&p["hostname"]),
                file_line(&p["location"]),
            )
        })
        .collect();
    assert_eq!(
        plain,
        vec![(
            "HTTPRoute storefront/health".into(),
            "api.shop.example.com".into(),
            ("routes/http.yaml".into(), 28)
        )]
    );
    let unattached: BTreeSet<(String, String, (String, u64))> = report["unattached"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| {
            u["parents"].as_array().unwrap().iter().map(|p| {
                (
                    text(&u["route"]),
                    text(&p["reason"]),
                    file_line(&p["location"]),
                )
            })
        })
        .collect();
    assert_eq!(
        unattached,
        BTreeSet::from([
            (
                "HTTPRoute legacy/old-shop".into(),
                "NotAllowedByListeners".into(),
                ("routes/unattached.yaml".into(), 10)
            ),
            (
                "HTTPRoute storefront/typo".into(),
                "NoMatchingParent".into(),
                ("routes/unattached.yaml".into(), 22)
            ),
            (
                "HTTPRoute storefront/elsewhere".into(),
                "NoMatchingListenerHostname".into(),
                ("routes/unattached.yaml".into(), 35)
            ),
        ])
    );
    let problems: Vec<(String, u64)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| file_line(&p["location"]))
        .collect();
    assert_eq!(problems, vec![("routes/broken.yaml".to_string(), 5)]);
}

/// The lint rule each part of the routing report is a finding of.
fn rule_of_reason(reason: &str) -> &'static str {
    match reason {
        "NoMatchingParent" => "route-parent-unresolved",
        "NotAllowedByListeners" => "route-not-allowed",
        "NoMatchingListenerHostname" => "route-hostname-mismatch",
        "HostnameConflict" => "route-kind-hostname-conflict",
        other => panic!("unknown reason {other}"),
    }
}

#[test]
fn lint_reports_what_routes_shows_as_findings_at_file_and_line() {
    let tree = contested();
    let dir = tree.path().join("contested");
    let run = tacos(&dir, &["lint", ".", "--no-render", "-o", "json"]);
    run.assert_code(1);
    let lint = run.json();
    let findings = lint["findings"].as_array().unwrap();
    let places: BTreeSet<(String, String, u64)> = findings
        .iter()
        .map(|f| {
            let (file, line) = file_line(&f["location"]);
            (text(&f["rule"]), file, line)
        })
        .collect();
    let place = |rule: &str, file: &str, line: u64| (rule.to_string(), file.to_string(), line);
    assert_eq!(
        places,
        BTreeSet::from([
            place("lint-input-unreadable", "routes/broken.yaml", 5),
            place("lint-input-incomplete", "routes/broken.yaml", 5),
            // Both claimants of the conflict.
            place("route-duplicate-match", "routes/cart.yaml", 16),
            place("route-duplicate-match", "routes/cart.yaml", 34),
            // A whole rule at the rule, a dead match of a live rule at the match.
            place("route-rule-shadowed", "routes/hosts.yaml", 40),
            place("route-rule-shadowed", "routes/orders.yaml", 16),
            place("route-rule-shadowed", "routes/orders.yaml", 19),
            place("route-plain-http", "routes/http.yaml", 27),
            place("route-not-allowed", "routes/unattached.yaml", 10),
            place("route-parent-unresolved", "routes/unattached.yaml", 22),
            place("route-hostname-mismatch", "routes/unattached.yaml", 35),
        ]),
        "{lint:#}"
    );

    // The same routes, by rule, as `tacos routes` names them.
    let report = routes_json();
    let mut shown: BTreeSet<(String, String)> = BTreeSet::new();
    for s in report["shadowed"].as_array().unwrap() {
        shown.insert(("route-rule-shadowed".into(), text(&s["route"])));
    }
    for c in report["conflicts"].as_array().unwrap() {
        shown.insert(("route-duplicate-match".into(), text(&c["winner"]["route"])));
        for loser in c["losers"].as_array().unwrap() {
            shown.insert(("route-duplicate-match".into(), text(&loser["route"])));
        }
    }
    for p in report["plainHttp"].as_array().unwrap() {
        shown.insert(("route-plain-http".into(), text(&p["route"])));
    }
    for u in report["unattached"].as_array().unwrap() {
        for p in u["parents"].as_array().unwrap() {
            shown.insert((
                rule_of_reason(&text(&p["reason"])).into(),
                text(&u["route"]),
            ));
        }
    }
    let linted: BTreeSet<(String, String)> = findings
        .iter()
        .filter(|f| text(&f["rule"]).starts_with("route-"))
        .map(|f| (text(&f["rule"]), text(&f["subject"])))
        .collect();
    assert_eq!(linted, shown);
}

#[test]
fn the_human_table_names_winners_and_losers_and_exit_is_0() {
    let tree = contested();
    let run = tacos(
        &tree.path().join("contested"),
        &["routes", ".", "--no-render"],
    );
    run.assert_code(0);
    for expected in [
        "Gateway gateway/edge listener https-api (HTTPS :443, api.shop.example.com)  gateway.yaml:25:7",
        "conflict: the same match as HTTPRoute storefront/cart rule 0 (PathPrefix /cart), which wins by the older creationTimestamp",
        "wins, plain HTTP: -> Service storefront/web:80",
        "shadowed: taken by HTTPRoute storefront/www rule 0 (PathPrefix /), which ranks higher by more characters in a matching non-wildcard hostname",
        "routes/unattached.yaml:22:40  HTTPRoute storefront/typo parentRef 0 (Gateway gateway/edge): NoMatchingParent",
        "Unreadable input (left out):\n  routes/broken.yaml:5:5: invalid YAML",
    ] {
        run.assert_stdout_contains(expected);
    }
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["routes", "no-such-folder"][..],
        &["routes", ".", "--output", "sarif"],
        &["routes", "--no-such-flag"],
    ] {
        let run = tacos(dir.path(), args);
        run.assert_code(2);
        assert!(!run.stderr.trim().is_empty(), "{args:?} says why: {run}");
    }
}

/// The repository's own tree, charts rendered: every listener has a route, plain HTTP only
/// redirects, every HTTPS winner forwards to a Service, and nothing is shadowed, conflicts or
/// attaches nowhere.
#[test]
fn the_repository_routes_cleanly() {
    let run = tacos_command!()
        .helm()
        .args(["routes", ".", "-o", "json"])
        .run();
    run.assert_code(0);
    let report = run.json();
    for section in [
        "shadowed",
        "conflicts",
        "plainHttp",
        "unattached",
        "problems",
    ] {
        assert_eq!(
            report[section],
            serde_json::json!([]),
            "{section}: {report:#}"
        );
    }
    let listeners = report["listeners"].as_array().unwrap();
    assert!(!listeners.is_empty(), "{report:#}");
    for listener in listeners {
        let name = text(&listener["listener"]);
        assert!(
            !listener["routes"].as_array().unwrap().is_empty(),
            "no route on {name}: {report:#}"
        );
        for host in listener["hosts"].as_array().unwrap() {
            for m in host["matches"].as_array().unwrap() {
                assert_eq!(m["status"], "wins", "{name}: {m:#}");
                let action = text(&m["action"]);
                if listener["protocol"] == "HTTP" {
                    assert_eq!(action, "redirect to https", "{name}: {m:#}");
                } else {
                    assert!(action.starts_with("-> Service "), "{name}: {m:#}");
                }
            }
        }
    }
}
