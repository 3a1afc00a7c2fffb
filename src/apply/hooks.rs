//! Runs a chart's Helm hooks on the cluster as Helm does: by weight, the previous object deleted first (before-hook-creation), each group waited on until it succeeded, and deleted after when its policy says so.

use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject};
use kube::core::GroupVersionKind;

use super::applier::{Applied, Applier, ApplyError, Mode};
use super::wait::{Target, WaitError, WaitEvent, WaitOptions, wait_until_ready};
use crate::repo::hooks::Hook;
use crate::repo::{Object, ObjectKey};

#[derive(Debug, thiserror::Error)]
pub enum HookRunError {
    #[error("hook {object}: {source}")]
    Apply {
        object: ObjectKey,
        #[source]
        source: Box<ApplyError>,
    },
    #[error("hook {object} did not succeed: {source}")]
    Wait {
        object: ObjectKey,
        #[source]
        source: Box<WaitError>,
    },
    #[error("hook {object}: failed to delete it ({policy}): {source}")]
    Delete {
        object: ObjectKey,
        policy: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("hook {object}: its previous object was still being deleted after {seconds} s")]
    StillDeleting { object: ObjectKey, seconds: u64 },
}

/// Runs `hooks` (already in weight order) one weight after the other. A dry run only applies them
/// dry. Returns what was applied.
pub async fn run_hooks(
    client: &kube::Client,
    applier: &Applier,
    hooks: &[(Object, Hook)],
    wait: &WaitOptions,
    on_applied: &(dyn Fn(&Applied) + Sync),
    on_event: &(dyn Fn(&WaitEvent) + Sync),
) -> Result<Vec<Applied>, HookRunError> {
    let mut all = Vec::new();
    let dry = applier.options().mode == Mode::DryRun;
    let mut start = 0;
    while start < hooks.len() {
        let weight = hooks[start].1.weight;
        let end = hooks[start..]
            .iter()
            .position(|(_, h)| h.weight != weight)
            .map_or(hooks.len(), |p| start + p);
        let group = &hooks[start..end];
        start = end;
        if !dry {
            for (object, _) in group.iter().filter(|(_, h)| h.before_hook_creation) {
                delete_and_wait(client, object, "before-hook-creation", wait.timeout).await?;
            }
        }
        let objects: Vec<Object> = group.iter().map(|(o, _)| o.clone()).collect();
        let applied =
            applier
                .apply(&objects, on_applied)
                .await
                .map_err(|e| HookRunError::Apply {
                    object: objects[0].key(),
                    source: Box::new(e),
                })?;
        if dry {
            all.extend(applied);
            continue;
        }
        let targets: Vec<Target> = applied
            .iter()
            .map(|a| Target {
                key: a.key.clone(),
                resource: a.resource.clone(),
                floor: None,
            })
            .collect();
        if let Err(error) = wait_until_ready(client, &targets, wait, on_event).await {
            let object = match &error {
                WaitError::Failed { object, .. } => object.clone(),
                _ => objects[0].key(),
            };
            for (object, _) in group.iter().filter(|(_, h)| h.hook_failed) {
                delete(client, object, "hook-failed").await?;
            }
            return Err(HookRunError::Wait {
                object,
                source: Box::new(error),
            });
        }
        for (object, _) in group.iter().filter(|(_, h)| h.hook_succeeded) {
            delete(client, object, "hook-succeeded").await?;
        }
        all.extend(applied);
    }
    Ok(all)
}

async fn api_for(
    client: &kube::Client,
    object: &Object,
) -> Result<Api<DynamicObject>, kube::Error> {
    let gvk = GroupVersionKind::gvk(object.group(), object.version(), object.kind());
    let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk).await?;
    Ok(match object.namespace() {
        Some(namespace) if capabilities.scope == kube::discovery::Scope::Namespaced => {
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    })
}

/// Deletes the object (its Job's pods with it), if it exists.
async fn delete(
    client: &kube::Client,
    object: &Object,
    policy: &'static str,
) -> Result<(), HookRunError> {
    let failed = |source| HookRunError::Delete {
        object: object.key(),
        policy,
        source,
    };
    let api = api_for(client, object).await.map_err(failed)?;
    match api.delete(object.name(), &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(failed(error)),
    }
}

/// Deletes the object and waits until it is gone, so the hook is created anew.
async fn delete_and_wait(
    client: &kube::Client,
    object: &Object,
    policy: &'static str,
    timeout: Duration,
) -> Result<(), HookRunError> {
    delete(client, object, policy).await?;
    let api = api_for(client, object)
        .await
        .map_err(|source| HookRunError::Delete {
            object: object.key(),
            policy,
            source,
        })?;
    let started = std::time::Instant::now();
    loop {
        match api.get_opt(object.name()).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) if started.elapsed() < timeout => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(Some(_)) => {
                return Err(HookRunError::StillDeleting {
                    object: object.key(),
                    seconds: timeout.as_secs(),
                });
            }
            Err(source) => {
                return Err(HookRunError::Delete {
                    object: object.key(),
                    policy,
                    source,
                });
            }
        }
    }
}
