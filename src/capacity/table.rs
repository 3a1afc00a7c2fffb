//! The assessment for a person: tables of services, node pools, cost, quota and Redis, then the bottlenecks with their fixes.

use std::fmt::Write;

use super::assessment::{Assessment, ServiceStatus};
use super::{show_number, show_usd};
use crate::k8s::quantity::format_decimal;
use crate::report;

/// Columns aligned two spaces apart: those in `left` to the left, numbers to the right.
fn aligned(header: &[String], rows: &[Vec<String>], left: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                let width = widths.get(index).copied().unwrap_or(0);
                if left.contains(&index) {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

fn at(rps: f64) -> String {
    format!("@{}", show_number(rps))
}

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// The whole report.
pub fn render(assessment: &Assessment, color: bool) -> String {
    let rates = &assessment.rps;
    let mut out = String::new();
    let target_is = if rates.target == rates.spike {
        "the spike"
    } else {
        "asked with --rps"
    };
    let _ = writeln!(
        out,
        "Capacity of environment {} (namespace {}): sustained {} RPS, target {} RPS ({target_is}), {} RPS with {}% headroom must fit",
        assessment.environment,
        assessment.namespace,
        show_number(rates.sustained),
        show_number(rates.target),
        show_number(rates.target_with_headroom),
        format_decimal(rates.headroom * 100.0)
    );
    let levels = [
        at(rates.sustained),
        at(rates.target),
        at(rates.target_with_headroom),
    ];

    let _ = writeln!(
        out,
        "\nServices: replicas running {} and {}, needed {} (ceil(RPS x share / rpsPerPod), at least min)",
        levels[0], levels[1], levels[2]
    );
    let mut header = strings(&["service", "scaler", "rps/pod", "share", "min", "max"]);
    header.extend(levels.iter().cloned());
    header.extend(strings(&["RPS at max", "status"]));
    let mut rows: Vec<Vec<String>> = assessment
        .services
        .iter()
        .map(|service| {
            let replicas = &service.replicas;
            vec![
                service.name.clone(),
                service.autoscaler.short_name().to_string(),
                show_number(service.rps_per_pod),
                format_decimal(service.share),
                service.min_replicas.to_string(),
                service.max_replicas.to_string(),
                replicas.sustained.to_string(),
                replicas.target.to_string(),
                replicas.target_with_headroom.to_string(),
                show_number(service.capacity_at_max_rps),
                match service.status {
                    ServiceStatus::Ok => "ok".to_string(),
                    ServiceStatus::Capped => format!("capped at {}", service.max_replicas),
                },
            ]
        })
        .collect();
    let sum = |pick: fn(&super::assessment::ServiceRow) -> u64| {
        assessment
            .services
            .iter()
            .map(pick)
            .sum::<u64>()
            .to_string()
    };
    rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        String::new(),
        sum(|s| s.min_replicas),
        sum(|s| s.max_replicas),
        sum(|s| s.replicas.sustained),
        sum(|s| s.replicas.target),
        sum(|s| s.replicas.target_with_headroom),
        String::new(),
        String::new(),
    ]);
    out.push_str(&aligned(&header, &rows, &[0, 1, 10]));

    let _ = writeln!(
        out,
        "\nNode pools: nodes needed (first-fit decreasing of pod requests; allocatable = instance less reserved)"
    );
    let mut header = strings(&[
        "pool",
        "instance",
        "spot",
        "allocatable per node",
        "maxNodes",
    ]);
    header.extend(levels.iter().cloned());
    header.push("@max replicas".into());
    let mut rows: Vec<Vec<String>> = assessment
        .node_pools
        .iter()
        .map(|pool| {
            let allocatable = &pool.allocatable;
            vec![
                pool.name.clone(),
                pool.instance_type.clone(),
                format!("{}%", format_decimal(pool.spot_fraction * 100.0)),
                format!(
                    "{} cpu, {}Gi, {} pods",
                    format_decimal(allocatable.cpu),
                    format_decimal(allocatable.memory_gib),
                    allocatable.pods
                ),
                pool.max_nodes.to_string(),
                pool.nodes.sustained.to_string(),
                pool.nodes.target.to_string(),
                pool.nodes.target_with_headroom.to_string(),
                pool.nodes.max_replicas.to_string(),
            ]
        })
        .collect();
    let pools = &assessment.node_pools;
    rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        String::new(),
        pools.iter().map(|p| p.max_nodes).sum::<u64>().to_string(),
        pools
            .iter()
            .map(|p| p.nodes.sustained)
            .sum::<u64>()
            .to_string(),
        pools
            .iter()
            .map(|p| p.nodes.target)
            .sum::<u64>()
            .to_string(),
        pools
            .iter()
            .map(|p| p.nodes.target_with_headroom)
            .sum::<u64>()
            .to_string(),
        pools
            .iter()
            .map(|p| p.nodes.max_replicas)
            .sum::<u64>()
            .to_string(),
    ]);
    out.push_str(&aligned(&header, &rows, &[0, 1, 3]));
    let unplaced = &assessment.unplaced_pods;
    if unplaced.target_with_headroom > 0 || unplaced.max_replicas > 0 {
        let _ = writeln!(
            out,
            "  pods without a node: {} {}, {} at max replicas",
            unplaced.target_with_headroom, levels[2], unplaced.max_replicas
        );
    }

    let _ = writeln!(
        out,
        "\nMonthly cost ({} h), nodes only",
        format_decimal(assessment.hours_per_month)
    );
    let header = strings(&["load", "nodes", "all on-demand", "spot mix", "saving"]);
    let rows: Vec<Vec<String>> = [
        (rates.sustained, &assessment.cost.sustained),
        (rates.target, &assessment.cost.target),
    ]
    .into_iter()
    .map(|(rps, cost)| {
        vec![
            format!("{} RPS", show_number(rps)),
            cost.nodes.to_string(),
            show_usd(cost.all_on_demand_usd),
            show_usd(cost.spot_mix_usd),
            format!("{}%", format_decimal((cost.spot_saving() * 100.0).round())),
        ]
    })
    .collect();
    out.push_str(&aligned(&header, &rows, &[0]));

    let mut subjects: Vec<&str> = assessment
        .quotas
        .iter()
        .map(|q| q.subject.as_str())
        .collect();
    subjects.dedup();
    for subject in subjects {
        let _ = writeln!(out, "\n{subject}: what the pods count against it");
        let mut header = strings(&["key", "hard"]);
        header.push(levels[2].clone());
        header.push("@max replicas".into());
        let rows: Vec<Vec<String>> = assessment
            .quotas
            .iter()
            .filter(|quota| quota.subject == subject)
            .map(|quota| {
                let unit = if quota.unit == "GiB" { "Gi" } else { "" };
                let show = |value: f64| format!("{}{unit}", show_number(value));
                vec![
                    quota.key.clone(),
                    show(quota.hard),
                    show(quota.used.target_with_headroom),
                    show(quota.used.max_replicas),
                ]
            })
            .collect();
        out.push_str(&aligned(&header, &rows, &[0]));
    }

    let redis = &assessment.redis;
    let connections = &redis.connections_per_node;
    let _ = writeln!(
        out,
        "\nRedis connections per node{} (maxclients {}): {} {}, {} {}, {} {}, {} at max replicas",
        redis
            .node_type
            .as_ref()
            .map(|t| format!(" of {t}"))
            .unwrap_or_default(),
        show_number(redis.max_clients_per_node as f64),
        show_number(connections.sustained as f64),
        levels[0],
        show_number(connections.target as f64),
        levels[1],
        show_number(connections.target_with_headroom as f64),
        levels[2],
        show_number(connections.max_replicas as f64),
    );

    let _ = writeln!(out, "\nBottlenecks");
    if assessment.bottlenecks.is_empty() {
        let _ = writeln!(out, "  none");
    } else {
        for line in report::human::render(&assessment.bottlenecks, color).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(
        out,
        "{}",
        if assessment.fits {
            format!(
                "\n{} RPS ({} + {}% headroom) fits.",
                show_number(rates.target_with_headroom),
                show_number(rates.target),
                format_decimal(rates.headroom * 100.0)
            )
        } else {
            format!(
                "\n{} RPS ({} + {}% headroom) does not fit: {} bottleneck(s) cap it.",
                show_number(rates.target_with_headroom),
                show_number(rates.target),
                format_decimal(rates.headroom * 100.0),
                assessment.summary.errors
            )
        }
    );
    out
}
