//! `tacos capacity` end to end: the real binary on this repository, its numbers checked against docs/scaling-strategy.md, the chart, exit codes.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use tacos_testenv::{Run, tacos_command};

const REPOSITORY: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `tacos ARGS` at the repository root with the testenv helm.
fn tacos(args: &[&str]) -> Run {
    tacos_command!().helm().args(args).run()
}

/// The capacity report for the default target, which must fit.
fn report() -> Value {
    let run = tacos(&["capacity", "--output", "json"]);
    run.assert_code(0);
    run.json()
}

/// A number as the doc writes it: `50,000`, `**12,600**`, `233.75 Gi`, `300Gi`, `0.6`.
fn number(cell: &str) -> Option<f64> {
    let digits: String = cell
        .chars()
        .take_while(|c| !c.is_ascii_alphabetic() && *c != '(')
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// The rows of the first markdown table after the heading `heading` in the doc, as header -> cell.
fn doc_table(heading: &str) -> Vec<BTreeMap<String, String>> {
    let doc = std::fs::read_to_string(Path::new(REPOSITORY).join("docs/scaling-strategy.md"))
        .expect("docs/scaling-strategy.md");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section \"## {heading}\" in the doc"));
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('*').trim().to_string())
            .collect()
    };
    let mut lines = section
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'));
    let header = cells(lines.next().expect("a table header"));
    lines
        .skip(1)
        .map(|line| header.iter().cloned().zip(cells(line)).collect())
        .collect()
}

fn cell(row: &BTreeMap<String, String>, column: &str) -> f64 {
    let text = row
        .get(column)
        .unwrap_or_else(|| panic!("no column {column:?} in {row:?}"));
    number(text).unwrap_or_else(|| panic!("{column} = {text:?} is not a number"))
}

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not among the services of {report:#}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn replicas_per_service_agree_with_the_scaling_doc() {
    let report = report();
    assert_eq!(
        report["rps"]["sustained"], 30_000.0,
        "the doc's table is at 30k"
    );
    let spike = report["rps"]["spike"].as_f64().unwrap();
    let headroom = report["rps"]["headroom"].as_f64().unwrap();
    let rows = doc_table("Replicas per service");
    assert_eq!(rows.len(), report["services"].as_array().unwrap().len());
    for row in &rows {
        let name = &row["service"];
        let model = service(&report, name);
        let share = model["share"].as_f64().unwrap();
        let checks = [
            ("rpsPerPod", model["rpsPerPod"].as_f64()),
            ("minReplicas", model["minReplicas"].as_f64()),
            ("maxReplicas", model["maxReplicas"].as_f64()),
            ("share of gateway RPS", Some(share)),
            ("spike RPS", Some(spike * share)),
            ("spike x 1.3", Some(spike * share * (1.0 + headroom))),
            (
                "capacity at maxReplicas",
                model["capacityAtMaxRps"].as_f64(),
            ),
            (
                "pods at 30k sustained",
                model["replicas"]["sustained"].as_f64(),
            ),
        ];
        for (column, computed) in checks {
            let written = cell(row, column);
            let computed = computed.unwrap_or(f64::NAN);
            assert!(
                close(written, computed),
                "{name}: the doc says {column} {written}, tacos capacity {computed}"
            );
        }
    }
}

#[test]
fn quota_use_at_maximum_replicas_agrees_with_the_scaling_doc() {
    let report = report();
    let quotas = report["quotas"].as_array().unwrap();
    let doc =
        std::fs::read_to_string(Path::new(REPOSITORY).join("docs/scaling-strategy.md")).unwrap();
    let quota_table = doc
        .split("`manifests/tacos/resourcequota.yaml`")
        .nth(1)
        .expect("the quota table follows the resourcequota.yaml mention");
    let lines: Vec<&str> = quota_table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let header: Vec<&str> = lines[0]
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(header[0], "resource");
    let at_max = header
        .iter()
        .position(|h| *h == "all services at maxReplicas")
        .unwrap();
    let hard = header.iter().position(|h| *h == "quota").unwrap();
    for line in &lines[2..] {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let key = cells[0];
        let row = quotas
            .iter()
            .find(|q| q["key"] == key)
            .unwrap_or_else(|| panic!("quota key {key} is not in the report"));
        let used = row["used"]["maxReplicas"].as_f64().unwrap();
        assert!(
            close(number(cells[at_max]).unwrap(), used),
            "{key}: the doc says {} at maxReplicas, tacos capacity {used}",
            cells[at_max]
        );
        assert!(
            close(number(cells[hard]).unwrap(), row["hard"].as_f64().unwrap()),
            "{key}: the doc says quota {}, the tree {}",
            cells[hard],
            row["hard"]
        );
    }
}

#[test]
fn redis_connections_at_maximum_replicas_agree_with_the_scaling_doc() {
    let report = report();
    let rows = doc_table("Redis connections");
    let total = rows
        .iter()
        .find(|row| row["service"] == "total")
        .expect("a total row");
    assert_eq!(
        cell(total, "connections per node at max"),
        report["redis"]["connectionsPerNode"]["maxReplicas"]
            .as_f64()
            .unwrap()
    );
    assert_eq!(
        report["redis"]["maxClientsPerNode"], 65_000,
        "the doc's heading says maxclients 65,000"
    );
}

#[test]
fn nodes_and_cost_agree_with_the_scaling_doc() {
    let report = report();
    let rows = doc_table("Nodes, cost and bottlenecks");
    assert_eq!(rows.len(), 4);
    let levels = ["sustained", "target", "targetWithHeadroom", "maxReplicas"];
    for (row, level) in rows.iter().zip(levels) {
        let pods: u64 = report["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["replicas"][level].as_u64().unwrap())
            .sum();
        assert_eq!(cell(row, "pods"), pods as f64, "{}: pods", row["load"]);
        for pool in report["nodePools"].as_array().unwrap() {
            let column = format!("{} nodes", pool["name"].as_str().unwrap());
            assert_eq!(
                cell(row, &column),
                pool["nodes"][level].as_f64().unwrap(),
                "{}: {column}",
                row["load"]
            );
        }
        if let Some(cost) = report["cost"].get(level) {
            for (column, field) in [
                ("all on-demand / month", "allOnDemandUsd"),
                ("spot mix / month", "spotMixUsd"),
            ] {
                let computed = (cost[field].as_f64().unwrap() * 100.0).round() / 100.0;
                assert_eq!(cell(row, column), computed, "{}: {column}", row["load"]);
            }
        }
    }
}

#[test]
fn the_repository_fits_its_spike_with_nodes_and_cost_for_each_level() {
    let report = report();
    assert_eq!(report["fits"], true, "{:#}", report["bottlenecks"]);
    assert_eq!(report["summary"]["errors"], 0);
    let pools = report["nodePools"].as_array().unwrap();
    assert!(!pools.is_empty());
    for pool in pools {
        let nodes = &pool["nodes"];
        assert!(nodes["sustained"].as_u64() <= nodes["target"].as_u64());
        assert!(nodes["targetWithHeadroom"].as_u64() <= pool["maxNodes"].as_u64());
    }
    let cost = &report["cost"];
    for level in ["sustained", "target"] {
        let on_demand = cost[level]["allOnDemandUsd"].as_f64().unwrap();
        let mix = cost[level]["spotMixUsd"].as_f64().unwrap();
        assert!(
            on_demand > 0.0 && mix <= on_demand,
            "{level}: {on_demand} vs {mix}"
        );
    }
}

#[test]
fn human_output_has_the_tables_and_says_the_target_fits() {
    let run = tacos(&["capacity"]);
    run.assert_code(0);
    for expected in [
        "gateway-api",
        "reservation-worker",
        "Node pools",
        "Monthly cost (730 h)",
        "Redis connections per node",
        "65,000 RPS (50,000 + 30% headroom) fits.",
    ] {
        run.assert_stdout_contains(expected);
    }
}

/// The line of `text` in a repository file, 1-based.
fn line_of(file: &str, text: &str) -> u64 {
    let content = std::fs::read_to_string(Path::new(REPOSITORY).join(file)).unwrap();
    content
        .lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{text:?} not in {file}")) as u64
        + 1
}

#[test]
fn a_target_beyond_the_autoscalers_exits_one_naming_the_values_line_to_change() {
    // 60,000 x 1.3 = 78,000 RPS at gateway-api; 110 x 600 = 66,000.
    let run = tacos(&["capacity", "--rps", "60000", "--output", "json"]);
    run.assert_code(1);
    let report = run.json();
    assert_eq!(report["fits"], false);
    let finding = report["bottlenecks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["rule"] == "capacity-hpa-max"
                && f["subject"] == "HorizontalPodAutoscaler tacos-app/gateway-api"
        })
        .unwrap_or_else(|| {
            panic!(
                "no capacity-hpa-max for gateway-api in {:#}",
                report["bottlenecks"]
            )
        });
    let line = line_of("helm-values/gateway-api.yaml", "maxReplicas: 110");
    assert_eq!(finding["location"]["file"], "helm-values/gateway-api.yaml");
    assert_eq!(finding["location"]["line"], line);
    let remedy = finding["remedy"].as_str().unwrap();
    assert!(
        remedy.contains(&format!(
            "autoscaling.maxReplicas (helm-values/gateway-api.yaml:{line}:"
        )) && remedy.contains("to at least 130"),
        "{remedy}"
    );
}

#[test]
fn the_chart_is_an_svg_with_replicas_and_both_costs_from_zero_to_the_spike() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("capacity.svg");
    let run = tacos(&["capacity", "--chart", path.to_str().unwrap()]);
    run.assert_code(0);
    let svg = std::fs::read_to_string(&path).expect("the chart is written");
    assert!(svg.starts_with("<svg "), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for series in [
        "series-replicas",
        "series-cost-on-demand",
        "series-cost-spot-mix",
    ] {
        let line = svg
            .lines()
            .find(|l| l.contains(&format!("id=\"{series}\"")))
            .unwrap_or_else(|| panic!("no {series}"));
        let points = line.split("points=\"").nth(1).unwrap();
        assert_eq!(
            points.split(' ').count(),
            21,
            "{series}: 0..spike in 20 steps"
        );
    }
    for label in [
        "gateway-api requests per second",
        "total replicas",
        "50,000",
    ] {
        assert!(svg.contains(label), "no {label:?} in the chart");
    }
    assert_tags_balance(&svg);
}

/// Every element opened is closed, in order (self-closing ones need nothing).
fn assert_tags_balance(svg: &str) {
    let mut open: Vec<String> = Vec::new();
    for tag in svg.split('<').skip(1) {
        let tag = tag.split('>').next().expect("a tag ends with >");
        if tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop().as_deref(),
                Some(name.trim()),
                "</{name}> closes nothing open"
            );
        } else {
            open.push(
                tag.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

#[test]
fn a_missing_helm_is_bad_input_with_what_to_do() {
    let run = tacos_command!()
        .env("TACOS_HELM", "/nonexistent/helm")
        .arg("capacity")
        .run();
    run.assert_code(2);
    run.assert_stderr_contains("TACOS_HELM");
}

#[test]
fn an_environment_without_node_pools_is_bad_input_at_its_line() {
    let text = std::fs::read_to_string(Path::new(REPOSITORY).join("tacos.yaml")).unwrap();
    let start = text.find("      nodePools:").unwrap();
    let end = start + text[start..].find("      redis:").unwrap();
    let without_pools = format!("{}{}", &text[..start], &text[end..]);
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("tacos.yaml");
    std::fs::write(&config, without_pools).unwrap();
    let run = tacos(&["capacity", "--config", config.to_str().unwrap()]);
    run.assert_code(2);
    run.assert_stderr_contains("environments.prod.capacity.nodePools is not set");
}

#[test]
fn an_unknown_environment_is_bad_input() {
    let run = tacos(&["capacity", "--env", "staging"]);
    run.assert_code(2);
    run.assert_stderr_contains("no environment named \"staging\"");
}
