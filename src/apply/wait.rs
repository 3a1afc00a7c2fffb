//! Waits by watching (not sleeping) until every applied object is ready by its kind's rule; a failure must hold for a window before it fails the wait.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use super::readiness::{Readiness, at_floor, readiness};
use crate::repo::ObjectKey;

/// How long to wait and how patient to be with failures.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub timeout: Duration,
    /// A failing condition must hold this long before it fails the wait.
    pub failure_window: Duration,
    /// Connection errors for this long mean the cluster is gone.
    pub unreachable_after: Duration,
    /// The Git revision Argo CD Applications must be synced at.
    pub expected_revision: Option<String>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            failure_window: Duration::from_secs(30),
            unreachable_after: Duration::from_secs(15),
            expected_revision: None,
        }
    }
}

/// An object to wait for.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: ObjectKey,
    pub resource: ApiResource,
    /// For a workload an autoscaler owns: the replicas it must reach (see [`at_floor`]).
    pub floor: Option<i64>,
}

/// What the wait reports as it goes.
#[derive(Debug, Clone)]
pub enum WaitEvent {
    /// Waiting on `pending` (object, the condition it waits on); `done` of `total` settled.
    Progress {
        done: usize,
        total: usize,
        pending: Vec<(ObjectKey, String)>,
    },
    Ready(ObjectKey),
    NotWaited(ObjectKey, String),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {seconds} s waiting on {}", describe_pending(.pending))]
    Timeout {
        seconds: u64,
        pending: Vec<(ObjectKey, String)>,
    },
    #[error("{object} failed: {reason} (held for {seconds} s)")]
    Failed {
        object: ObjectKey,
        reason: String,
        seconds: u64,
    },
    #[error("the cluster could not be reached for {seconds} s while waiting: {message}")]
    Unreachable { seconds: u64, message: String },
}

fn describe_pending(pending: &[(ObjectKey, String)]) -> String {
    pending
        .iter()
        .map(|(key, why)| format!("\n  {key}: {why}"))
        .collect()
}

struct TargetState {
    readiness: Readiness,
    failing_since: Option<Instant>,
}

/// Watches every target until all are ready (or not waited on), a failure holds for the window,
/// the cluster stays unreachable, or the timeout passes. Returns the objects not waited on.
pub async fn wait_until_ready(
    client: &kube::Client,
    targets: &[Target],
    options: &WaitOptions,
    on_event: &(dyn Fn(&WaitEvent) + Sync),
) -> Result<Vec<(ObjectKey, String)>, WaitError> {
    let streams = targets.iter().enumerate().map(|(index, target)| {
        let api: Api<DynamicObject> = match &target.key.namespace {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, &target.resource),
            None => Api::all_with(client.clone(), &target.resource),
        };
        let config =
            watcher::Config::default().fields(&format!("metadata.name={}", target.key.name));
        watcher::watcher(api, config)
            .default_backoff()
            .map(move |event| (index, event))
            .boxed()
    });
    let mut events = futures::stream::select_all(streams);
    let mut states: Vec<TargetState> = targets
        .iter()
        .map(|_| TargetState {
            readiness: Readiness::Pending("not seen yet".into()),
            failing_since: None,
        })
        .collect();
    let started = Instant::now();
    let mut first_error: Option<(Instant, String)> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut reported = vec![false; targets.len()];
    loop {
        let settled = states.iter().filter(|s| s.readiness.is_settled()).count();
        if settled == targets.len() {
            return Ok(targets
                .iter()
                .zip(&states)
                .filter_map(|(t, s)| match &s.readiness {
                    Readiness::NotWaited(why) => Some((t.key.clone(), why.clone())),
                    _ => None,
                })
                .collect());
        }
        tokio::select! {
            next = events.next() => {
                let Some((index, event)) = next else { continue };
                match event {
                    Ok(Event::Apply(object) | Event::InitApply(object)) => {
                        first_error = None;
                        let live = serde_json::to_value(&object).unwrap_or_default();
                        let mut live = live;
                        live["apiVersion"] = serde_json::json!(targets[index].resource.api_version);
                        live["kind"] = serde_json::json!(targets[index].resource.kind);
                        let now = match targets[index].floor {
                            Some(floor) => at_floor(&live, floor),
                            None => readiness(&live, options.expected_revision.as_deref()),
                        };
                        let state = &mut states[index];
                        state.failing_since = match (&now, state.failing_since) {
                            (Readiness::Failed(_), Some(since)) => Some(since),
                            (Readiness::Failed(_), None) => Some(Instant::now()),
                            _ => None,
                        };
                        state.readiness = now;
                        if !reported[index] {
                            match &state.readiness {
                                Readiness::Ready => { reported[index] = true; on_event(&WaitEvent::Ready(targets[index].key.clone())); }
                                Readiness::NotWaited(why) => { reported[index] = true; on_event(&WaitEvent::NotWaited(targets[index].key.clone(), why.clone())); }
                                _ => {}
                            }
                        }
                    }
                    Ok(Event::Delete(_)) => states[index].readiness = Readiness::Pending("the object was deleted".into()),
                    Ok(_) => first_error = None,
                    Err(error) => {
                        let message = error.to_string();
                        first_error.get_or_insert((Instant::now(), message));
                    }
                }
            }
            _ = ticker.tick() => {
                if let Some((since, message)) = &first_error
                    && since.elapsed() >= options.unreachable_after
                {
                    return Err(WaitError::Unreachable { seconds: since.elapsed().as_secs(), message: message.clone() });
                }
                if let Some((index, state)) = states.iter().enumerate().find(|(_, s)| s.failing_since.is_some_and(|t| t.elapsed() >= options.failure_window)) {
                    let Readiness::Failed(reason) = &state.readiness else { continue };
                    return Err(WaitError::Failed {
                        object: targets[index].key.clone(),
                        reason: reason.clone(),
                        seconds: state.failing_since.map(|t| t.elapsed().as_secs()).unwrap_or(0),
                    });
                }
                let pending = pending_list(targets, &states);
                if started.elapsed() >= options.timeout {
                    return Err(WaitError::Timeout { seconds: options.timeout.as_secs(), pending });
                }
                on_event(&WaitEvent::Progress { done: targets.len() - pending.len(), total: targets.len(), pending });
            }
        }
    }
}

fn pending_list(targets: &[Target], states: &[TargetState]) -> Vec<(ObjectKey, String)> {
    targets
        .iter()
        .zip(states)
        .filter(|(_, s)| !s.readiness.is_settled())
        .map(|(t, s)| {
            let why = match &s.readiness {
                Readiness::Pending(why) => why.clone(),
                Readiness::Failed(why) => format!("failing: {why}"),
                _ => String::new(),
            };
            (t.key.clone(), why)
        })
        .collect()
}
