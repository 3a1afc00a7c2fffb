//! `tacos routes [PATH...]`: offline, the routing the tree's Gateways and routes set up, per listener and host, with what is shadowed, conflicts, is served over plain HTTP or attaches nowhere.
//!
//! A read command, like `kubectl get`: it exits 0 whenever it could show the routing, findings
//! included (`tacos lint` reports the same model's findings and fails on them), and 2 for bad
//! usage. Files it cannot read are listed and left out, as lint does.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cli::{GlobalArgs, OutputFormat, RoutesArgs};
use crate::exit::{ExitStatus, StatusError};
use crate::k8s::routing::{Entry, Model, Outcome, Place, Route};
use crate::repo::{LoadOptions, LoadProblem, Location, load_all};

pub fn run(global: &GlobalArgs, args: &RoutesArgs) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "routes",
    )?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    for path in &paths {
        if !path.exists() {
            return Err(StatusError::bad_input(format!(
                "{}: no such file or folder; name the folders or files of Kubernetes YAML that hold the Gateways and routes",
                path.display()
            ))
            .into());
        }
    }
    let options = LoadOptions {
        render_charts: !args.no_render,
        helm: args.helm.clone(),
    };
    let loaded = load_all(&paths, &options);
    let mut tree = loaded.tree;
    tree.objects
        .retain(|o| !crate::repo::hooks::never_applied(&o.value));
    let model = Model::build(&tree.objects);
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&model, &loaded.problems))?
        ),
        _ => {
            print!("{}", human(&model, &loaded.problems));
            if global.verbose > 0 {
                eprintln!(
                    "read {} object(s): {} listener(s), {} route(s); {} input problem(s)",
                    tree.objects.len(),
                    model.listeners.len(),
                    model.routes.len(),
                    loaded.problems.len()
                );
            }
        }
    }
    Ok(ExitStatus::Clean)
}

/// `wins`, `shadowed`, `conflict` or `unreachable`.
fn status(entry: &Entry) -> &'static str {
    match entry.outcome {
        Outcome::Wins => "wins",
        Outcome::Shadowed { .. } => "shadowed",
        Outcome::Conflict { .. } => "conflict",
        Outcome::OtherListener(_) => "unreachable",
    }
}

fn is_plain_http(model: &Model<'_>, place: Place) -> bool {
    let entry = model.entry(place);
    model.listeners[place.listener].protocol == "HTTP"
        && matches!(entry.outcome, Outcome::Wins)
        && model.rule(entry).action != crate::k8s::routing::Action::RedirectToHttps
}

fn match_location(model: &Model<'_>, entry: &Entry) -> Location {
    let route = &model.routes[entry.route];
    route
        .object
        .location_of(&route.rules[entry.rule].match_pointer(entry.matched))
}

fn rule_location(route: &Route<'_>, rule: usize) -> Location {
    route.object.location_of(&route.rules[rule].pointer())
}

/// A rule's match, as JSON names it.
fn entry_ref(model: &Model<'_>, entry: &Entry) -> Value {
    let route = &model.routes[entry.route];
    json!({
        "route": route.shown(),
        "rule": entry.rule,
        "ruleName": route.rules[entry.rule].name(),
        "match": model.criteria(entry).shown(),
        "location": match_location(model, entry),
    })
}

/// The entry a lost entry loses to, when it is one of its row.
fn taker<'m>(model: &'m Model<'_>, place: Place) -> Option<&'m Entry> {
    let row = &model.tables[place.listener][place.host];
    match model.entry(place).outcome {
        Outcome::Shadowed { by, .. } => Some(&row.entries[by]),
        Outcome::Conflict { winner, .. } => Some(&row.entries[winner]),
        _ => None,
    }
}

fn decided(entry: &Entry) -> Option<crate::k8s::routing::Decider> {
    match entry.outcome {
        Outcome::Shadowed { why, .. } => Some(why),
        Outcome::Conflict { decided_by, .. } => Some(decided_by),
        _ => None,
    }
}

fn to_json(model: &Model<'_>, problems: &[LoadProblem]) -> Value {
    let listeners: Vec<Value> = model
        .listeners
        .iter()
        .enumerate()
        .map(|(l, listener)| {
            let routes: Vec<String> = model
                .routes
                .iter()
                .filter(|r| r.attachments.iter().any(|a| a.listener == l))
                .map(Route::shown)
                .collect();
            let hosts: Vec<Value> = model.tables[l]
                .iter()
                .enumerate()
                .map(|(h, row)| {
                    let matches: Vec<Value> = (0..row.entries.len())
                        .map(|e| {
                            let place = Place {
                                listener: l,
                                host: h,
                                entry: e,
                            };
                            let entry = model.entry(place);
                            let mut value = entry_ref(model, entry);
                            value["status"] = json!(status(entry));
                            value["action"] = json!(model.rule(entry).action.shown());
                            value["plainHttp"] = json!(is_plain_http(model, place));
                            value["by"] = taker(model, place)
                                .map(|t| entry_ref(model, t))
                                .unwrap_or(Value::Null);
                            value["decidedBy"] = json!(decided(entry).map(|d| d.id()));
                            value["why"] = json!(model.why_lost(place));
                            value
                        })
                        .collect();
                    json!({
                        "hostname": row.host.written(),
                        "servedBy": row.taken_by.map(|o| model.listeners[o].shown()),
                        "matches": matches,
                    })
                })
                .collect();
            json!({
                "gateway": listener.gateway.key().to_string(),
                "listener": listener.name,
                "protocol": listener.protocol,
                "port": listener.port,
                "hostname": listener.hostname.written(),
                "location": listener.gateway.location_of(&listener.pointer()),
                "routes": routes,
                "hosts": hosts,
            })
        })
        .collect();
    let shadowed: Vec<Value> = model
        .shadowed()
        .iter()
        .map(|s| {
            let route = &model.routes[s.route];
            let rule = &route.rules[s.rule];
            let matches: Vec<Value> = s
                .matches
                .iter()
                .map(|dead| {
                    let lost: Vec<Value> = dead
                        .losses
                        .iter()
                        .map(|place| {
                            json!({
                                "gateway": model.listeners[place.listener].gateway.key().to_string(),
                                "listener": model.listeners[place.listener].name,
                                "hostname": model.host(*place).written(),
                                "status": status(model.entry(*place)),
                                "servedBy": model.tables[place.listener][place.host].taken_by.map(|o| model.listeners[o].shown()),
                                "by": taker(model, *place).map(|t| entry_ref(model, t)),
                                "decidedBy": decided(model.entry(*place)).map(|d| d.id()),
                                "why": model.why_lost(*place),
                            })
                        })
                        .collect();
                    json!({
                        "match": rule.matches[dead.matched].criteria.shown(),
                        "location": route.object.location_of(&rule.match_pointer(dead.matched)),
                        "takenBy": lost,
                    })
                })
                .collect();
            json!({
                "route": route.shown(),
                "rule": s.rule,
                "ruleName": rule.name(),
                "wholeRule": s.whole_rule,
                "location": rule_location(route, s.rule),
                "matches": matches,
            })
        })
        .collect();
    let conflicts: Vec<Value> = model
        .conflicts()
        .iter()
        .map(|c| {
            let listener = &model.listeners[c.listener];
            let row = &model.tables[c.listener][c.host];
            let winner = &row.entries[c.winner];
            json!({
                "gateway": listener.gateway.key().to_string(),
                "listener": listener.name,
                "hostname": row.host.written(),
                "match": model.criteria(winner).shown(),
                "winner": entry_ref(model, winner),
                "losers": c.losers.iter().map(|(e, decider)| {
                    let mut loser = entry_ref(model, &row.entries[*e]);
                    loser["decidedBy"] = json!(decider.id());
                    loser["why"] = json!(decider.text());
                    loser
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let plain_http: Vec<Value> = model
        .plain_http()
        .iter()
        .map(|p| {
            let listener = &model.listeners[p.place.listener];
            let entry = model.entry(p.place);
            let mut value = entry_ref(model, entry);
            value["gateway"] = json!(listener.gateway.key().to_string());
            value["listener"] = json!(listener.name);
            value["hostname"] = json!(model.host(p.place).written());
            value["action"] = json!(model.rule(entry).action.shown());
            value
        })
        .collect();
    let unattached: Vec<Value> = model
        .unattached()
        .map(|route| {
            let parents: Vec<Value> = route
                .parents
                .iter()
                .filter_map(|p| p.outcome.as_ref().err().map(|e| (p, e)))
                .map(|(parent, error)| {
                    json!({
                        "parentRef": parent.index,
                        "parent": parent.target,
                        "reason": error.reason,
                        "message": error.message,
                        "certain": error.certain,
                        "location": route.object.location_of(&error.pointer),
                    })
                })
                .collect();
            json!({
                "route": route.shown(),
                "location": route.object.location(),
                "parents": parents,
            })
        })
        .collect();
    json!({
        "listeners": listeners,
        "shadowed": shadowed,
        "conflicts": conflicts,
        "plainHttp": plain_http,
        "unattached": unattached,
        "problems": problems,
    })
}

/// Rows of cells as columns padded to their widest cell, each line indented.
fn columns(rows: &[Vec<String>], indent: &str) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut line = indent.to_string();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn human(model: &Model<'_>, problems: &[LoadProblem]) -> String {
    let mut text = String::new();
    if model.listeners.is_empty() {
        text.push_str("no Gateway listener in the tree\n");
    }
    for (l, listener) in model.listeners.iter().enumerate() {
        text.push_str(&format!(
            "{} listener {} ({})  {}\n",
            listener.gateway.key(),
            listener.name,
            listener.summary(),
            listener.gateway.location_of(&listener.pointer())
        ));
        let mut rows = vec![
            ["HOST", "MATCH", "ROUTE", "RULE", "OUTCOME"]
                .map(String::from)
                .to_vec(),
        ];
        for (h, row) in model.tables[l].iter().enumerate() {
            for (e, entry) in row.entries.iter().enumerate() {
                let place = Place {
                    listener: l,
                    host: h,
                    entry: e,
                };
                let outcome = match model.why_lost(place) {
                    None if is_plain_http(model, place) => {
                        format!("wins, plain HTTP: {}", model.rule(entry).action.shown())
                    }
                    None => format!("wins: {}", model.rule(entry).action.shown()),
                    Some(why) => format!("{}: {why}", status(entry)),
                };
                rows.push(vec![
                    row.host.to_string(),
                    model.criteria(entry).shown(),
                    model.routes[entry.route].shown(),
                    entry.rule.to_string(),
                    outcome,
                ]);
            }
        }
        if rows.len() == 1 {
            text.push_str("  no route attaches\n\n");
        } else {
            text.push_str(&columns(&rows, "  "));
            text.push('\n');
        }
    }
    section(
        &mut text,
        "Shadowed (no request reaches them)",
        shadowed_lines(model),
    );
    section(
        &mut text,
        "Conflicts (identical matches, decided by the tie-breakers)",
        conflict_lines(model),
    );
    section(&mut text, "Plain HTTP served", plain_http_lines(model));
    section(
        &mut text,
        "Attached to no listener",
        unattached_lines(model),
    );
    if !problems.is_empty() {
        section(
            &mut text,
            "Unreadable input (left out)",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.location, p.message))
                .collect(),
        );
    }
    text
}

fn section(text: &mut String, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        text.push_str(&format!("{title}: none\n"));
        return;
    }
    text.push_str(&format!("{title}:\n"));
    for line in lines {
        text.push_str(&format!("  {line}\n"));
    }
}

fn shadowed_lines(model: &Model<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    for s in model.shadowed() {
        let route = &model.routes[s.route];
        let rule = &route.rules[s.rule];
        for dead in &s.matches {
            for place in &dead.losses {
                lines.push(format!(
                    "{}  {} rule {} ({}) on {} ({}): {}",
                    route.object.location_of(&rule.match_pointer(dead.matched)),
                    route.shown(),
                    s.rule,
                    rule.matches[dead.matched].criteria.shown(),
                    model.host(*place),
                    model.listeners[place.listener].shown(),
                    model.why_lost(*place).unwrap_or_default()
                ));
            }
        }
    }
    lines
}

fn conflict_lines(model: &Model<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    for c in model.conflicts() {
        let row = &model.tables[c.listener][c.host];
        let winner = &row.entries[c.winner];
        for (loser, decider) in &c.losers {
            let loser = &row.entries[*loser];
            lines.push(format!(
                "{}  {} on {} ({}): {} wins over {} at {} by {}",
                match_location(model, loser),
                model.criteria(winner).shown(),
                row.host,
                model.listeners[c.listener].shown(),
                model.shown_entry(winner),
                model.shown_entry(loser),
                match_location(model, winner),
                decider.text()
            ));
        }
    }
    lines
}

fn plain_http_lines(model: &Model<'_>) -> Vec<String> {
    model
        .plain_http()
        .iter()
        .map(|p| {
            let entry = model.entry(p.place);
            format!(
                "{}  {} on {} ({}): {}",
                match_location(model, entry),
                model.shown_entry(entry),
                model.host(p.place),
                model.listeners[p.place.listener].shown(),
                model.rule(entry).action.shown()
            )
        })
        .collect()
}

fn unattached_lines(model: &Model<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    for route in model.unattached() {
        if route.parents.is_empty() {
            lines.push(format!(
                "{}  {}: no parentRefs",
                route.object.location(),
                route.shown()
            ));
        }
        for parent in &route.parents {
            if let Err(error) = &parent.outcome {
                lines.push(format!(
                    "{}  {} parentRef {} ({}): {:?}: {}",
                    route.object.location_of(&error.pointer),
                    route.shown(),
                    parent.index,
                    parent.target,
                    error.reason,
                    error.message
                ));
            }
        }
    }
    lines
}
