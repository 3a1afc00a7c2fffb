//! `tacos plan`: offline, for each phase the checks it runs and the objects it applies, in apply order.

use serde_json::json;

use crate::apply::order::{ApplyStep, sort_for_apply};
use crate::cli::{GlobalArgs, OutputFormat, PhaseSelection};
use crate::exit::{ExitStatus, StatusError};
use crate::repo::{LoadOptions, Object, load};

pub fn run(global: &GlobalArgs, selection: PhaseSelection) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "plan",
    )?;
    let mut planned = Vec::new();
    for phase in selection.phases() {
        let name = phase.name;
        let folders: Vec<_> = phase.folders.iter().map(|f| global.repo.join(f)).collect();
        let missing: Vec<_> = folders
            .iter()
            .filter(|f| !f.exists())
            .map(|f| f.display().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(StatusError::bad_input(format!(
                "phase {}: {} not found; run tacos from the repository root or pass --repo",
                name,
                missing.join(", ")
            ))
            .into());
        }
        let tree = load(&folders, &LoadOptions::default())
            .map_err(|e| StatusError::bad_input(e.to_string()))?;
        let mut objects = tree.objects;
        sort_for_apply(&mut objects);
        planned.push((phase, objects));
    }
    if global.output == OutputFormat::Json {
        let phases: Vec<_> = planned
            .iter()
            .map(|(phase, objects)| {
                json!({
                    "phase": phase.name,
                    "summary": phase.summary,
                    "dependsOn": phase.depends_on,
                    "upstream": phase.upstream.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
                    "preflight": phase.preflight.iter().map(|c| json!({"id": c.info.id, "summary": c.info.summary})).collect::<Vec<_>>(),
                    "objects": objects.iter().map(|o| json!({
                        "step": ApplyStep::of(o).title(),
                        "apiVersion": o.api_version(),
                        "kind": o.kind(),
                        "namespace": o.namespace(),
                        "name": o.name(),
                        "source": o.location().to_string(),
                    })).collect::<Vec<_>>(),
                    "substitutes": phase.substitutes.iter().map(|s| json!({"name": s.name, "summary": s.summary})).collect::<Vec<_>>(),
                    "waitsFor": phase.waits_for,
                    "postflight": phase.postflight.iter().map(|c| json!({"id": c.info.id, "summary": c.info.summary})).collect::<Vec<_>>(),
                    "audits": phase.audits.iter().map(|c| json!({"id": c.info.id, "summary": c.info.summary})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "phases": phases }))?
        );
        return Ok(ExitStatus::Clean);
    }
    for (phase, objects) in &planned {
        println!("Phase {}: {}", phase.name, phase.summary);
        println!("  depends on: {}", phase.depends_on.unwrap_or("nothing"));
        for upstream in phase.upstream {
            println!("  renders upstream: {upstream}");
        }
        for substitution in phase.substitutes {
            println!(
                "  fills in ${{{}}}: {}",
                substitution.name, substitution.summary
            );
        }
        println!("  checks before:");
        for check in phase.preflight {
            println!("    {:<36} {}", check.info.id, check.info.summary);
        }
        println!("  applies {} object(s):", objects.len());
        print_objects(objects);
        println!("  waits for: {}", phase.waits_for);
        println!("  checks after:");
        for check in phase.postflight {
            println!("    {:<36} {}", check.info.id, check.info.summary);
        }
        if !phase.audits.is_empty() {
            println!("  audits (verify fails on them, deploy warns):");
            for check in phase.audits {
                println!("    {:<36} {}", check.info.id, check.info.summary);
            }
        }
        println!();
    }
    Ok(ExitStatus::Clean)
}

fn print_objects(objects: &[Object]) {
    let mut step = None;
    for object in objects {
        let this = ApplyStep::of(object);
        if step != Some(this) {
            println!("    {}:", this.title());
            step = Some(this);
        }
        println!(
            "      {:<56} {}",
            object.key().to_string(),
            object.location()
        );
    }
}
