//! `tacos diff`: a server-side dry run of each phase against the live cluster, listing what deploy would create, change or prune (Secret values masked).

use serde_json::json;

use crate::apply::applyset::ApplySet;
use crate::apply::diff::changes;
use crate::apply::{Applier, ApplyOptions, Mode, Outcome};
use crate::cli::{GlobalArgs, OutputFormat, PhaseSelection};
use crate::exit::{ExitStatus, StatusError};
use crate::phases::render::{RenderOptions, render_phase};

pub async fn run(
    global: &GlobalArgs,
    selection: PhaseSelection,
    chart_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitStatus> {
    super::require_output(
        global.output,
        &[OutputFormat::Human, OutputFormat::Json],
        "diff",
    )?;
    let environment = super::environment(global)?;
    let super::Connection { client, aws, .. } = super::connect(global, &environment).await?;
    let config = super::config_source(global);
    let render = RenderOptions {
        repo: global.repo.clone(),
        chart_dir,
        helm: std::env::var_os("TACOS_HELM").map(Into::into),
        ..RenderOptions::default()
    };
    let mut report = Vec::new();
    let mut changed = false;
    for phase in selection.phases() {
        let name = phase.name;
        let failed = |e: crate::phases::PhaseError| {
            let status = super::deploy::phase_status(&e);
            anyhow::Error::new(e).context(StatusError {
                status,
                message: format!("cannot render phase {}", name),
            })
        };
        let rendered = render_phase(phase, &render).await.map_err(failed)?;
        let check_context = crate::phases::CheckContext {
            phase,
            client: &client,
            aws: Some(&aws),
            environment: &environment,
            config: &config,
            render: &render,
            objects: &rendered,
        };
        // The change deploy would make: with the values it fills in from the account.
        let mut objects = crate::phases::substitute::resolved(&check_context)
            .await
            .map_err(failed)?;
        // Helm hooks run on every deploy and are no part of the phase's ApplySet: no drift to show.
        objects.retain(|o| !matches!(crate::repo::hooks::hook_of(&o.value), Ok(Some(_))));
        // The same ApplySet label as deploy (or the dry run would show it removed), and drift made
        // by another manager shown as the change deploy --force-conflicts would make.
        let options = ApplyOptions {
            mode: Mode::DryRun,
            force_conflicts: true,
            applyset: Some(ApplySet::for_phase(name)),
            ..ApplyOptions::default()
        };
        // What Argo CD syncs is compared with the tree as Argo CD applies it: without tacos's
        // ApplySet label (drift there is what self-heal, or the next sync, undoes).
        let wiring: Vec<_> = objects
            .iter()
            .filter(|o| crate::deploy::gitops::is_wiring(o))
            .cloned()
            .collect();
        let owners =
            crate::deploy::gitops::folder_owners(&client, &wiring, &environment.git.repo_url)
                .await
                .map_err(|e| {
                    anyhow::Error::new(e).context(StatusError {
                        status: ExitStatus::Unreachable,
                        message: "cannot read Argo CD's Applications".into(),
                    })
                })?;
        let (synced, own): (Vec<_>, Vec<_>) = objects
            .into_iter()
            .partition(|o| crate::deploy::gitops::owner_of(o, &render.repo, &owners).is_some());
        let dry_run_failed = |e: crate::apply::ApplyError| {
            let status = if e.is_unreachable() {
                ExitStatus::Unreachable
            } else {
                ExitStatus::BadInput
            };
            anyhow::Error::new(e).context(StatusError {
                status,
                message: format!("the server-side dry run of phase {} failed", name),
            })
        };
        let unlabelled = ApplyOptions {
            applyset: None,
            ..options.clone()
        };
        let mut applied = Applier::new(client.clone(), unlabelled)
            .apply(&synced, &|_| {})
            .await
            .map_err(dry_run_failed)?;
        let own_applier = Applier::new(client.clone(), options);
        applied.extend(
            own_applier
                .apply(&own, &|_| {})
                .await
                .map_err(dry_run_failed)?,
        );
        // The members of the phase's ApplySet the tree no longer holds: what deploy would delete
        // (a dry-run delete each, so nothing goes).
        let pruned = own_applier
            .prune(&own, &applied)
            .await
            .map_err(dry_run_failed)?;
        applied.extend(pruned);
        let mut phase_changes = Vec::new();
        for object in applied.iter().filter(|a| a.outcome != Outcome::Unchanged) {
            changed = true;
            let fields = match (&object.previous, object.outcome) {
                (Some(previous), Outcome::Configured) => {
                    changes(&object.key.kind, previous, &object.live)
                }
                _ => Vec::new(),
            };
            phase_changes.push((object.key.to_string(), object.outcome, fields));
        }
        report.push((name, phase_changes));
    }
    if global.output == OutputFormat::Json {
        let phases: Vec<_> = report
            .iter()
            .map(|(phase, objects)| {
                json!({"phase": phase, "changes": objects.iter().map(|(object, outcome, fields)| json!({"object": object, "action": outcome, "fields": fields})).collect::<Vec<_>>()})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"changed": changed, "phases": phases}))?
        );
    } else {
        for (phase, objects) in &report {
            println!(
                "phase {phase}: {}",
                if objects.is_empty() {
                    "no changes".to_string()
                } else {
                    format!("{} object(s) would change", objects.len())
                }
            );
            for (object, outcome, fields) in objects {
                let mark = match outcome {
                    Outcome::Created => "+",
                    Outcome::Pruned => "-",
                    _ => "~",
                };
                println!("  {mark} {object}");
                for field in fields {
                    println!(
                        "      {}: {} -> {}",
                        field.path,
                        field.before.as_deref().unwrap_or("(none)"),
                        field.after.as_deref().unwrap_or("(none)")
                    );
                }
            }
        }
    }
    Ok(if changed {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    })
}
