//! `tacos loadtest`: a k6-operator TestRun per scenario, rendered from k6/, followed through its stages, and judged by its runners' results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::{Deserialize, Serialize};

use crate::repo::{LoadOptions, Object, load, load_str};

pub mod replay;
pub mod shape;

pub use crate::phases::loadtest::Scenario;

pub const TESTRUN_NAMESPACE: &str = "loadtest";
/// The ConfigMap the TestRuns read their scripts from.
pub const SCRIPTS_CONFIG_MAP: &str = "k6-scenarios";
/// The line each runner's handleSummary prints (k6/scenarios/common.js).
pub const SUMMARY_PREFIX: &str = "TACOS-SUMMARY ";

#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    #[error("failed to read {path}: {message}")]
    Tree { path: PathBuf, message: String },
    #[error("the cluster could not be reached while {action}: {message}")]
    Unreachable { action: String, message: String },
    #[error("TestRun {namespace}/{name} did not finish within {seconds} s (last stage: {stage})")]
    Timeout {
        namespace: String,
        name: String,
        seconds: u64,
        stage: String,
    },
}

fn unreachable(action: &str, error: kube::Error) -> LoadtestError {
    LoadtestError::Unreachable {
        action: action.to_string(),
        message: error.to_string(),
    }
}

/// What `tacos loadtest` applies for a scenario: the namespace, the scripts ConfigMap, the TestRun.
pub fn render(repo: &Path, scenario: Scenario) -> Result<Vec<Object>, LoadtestError> {
    let testruns = repo.join("k6/testruns");
    let scripts = repo.join("k6/scenarios");
    let tree_error = |path: &Path, message: String| LoadtestError::Tree {
        path: path.to_path_buf(),
        message,
    };
    let tree = load(std::slice::from_ref(&testruns), &LoadOptions::default())
        .map_err(|e| tree_error(&testruns, e.to_string()))?;
    let source = match scenario {
        Scenario::E2e => "tacos-ramp".to_string(),
        other => format!("tacos-{}", other.name()),
    };
    let mut objects: Vec<Object> = tree
        .objects
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .cloned()
        .collect();
    let mut testrun = tree
        .objects
        .iter()
        .find(|o| o.is("k6.io", "TestRun") && o.name() == source)
        .cloned()
        .ok_or_else(|| tree_error(&testruns, format!("no TestRun named {source}")))?;
    if scenario == Scenario::E2e {
        let value = &mut testrun.value;
        value["metadata"]["name"] = "tacos-e2e".into();
        value["spec"]["arguments"] = "--tag testid=e2e-full".into();
        if let Some(env) = value["spec"]["runner"]["env"].as_array_mut() {
            for variable in env.iter_mut() {
                match variable["name"].as_str() {
                    Some("SCENARIO") => variable["value"] = Scenario::E2e.shape_name().into(),
                    Some("TEST_ID") => variable["value"] = "e2e-full".into(),
                    _ => {}
                }
            }
        }
    }
    let mut data = serde_json::Map::new();
    let entries = std::fs::read_dir(&scripts).map_err(|e| tree_error(&scripts, e.to_string()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "js" || x == "json"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| tree_error(&file, e.to_string()))?;
        let key = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        data.insert(key, text.into());
    }
    let config_map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": SCRIPTS_CONFIG_MAP,
            "namespace": TESTRUN_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "traffic-tacos", "app.kubernetes.io/component": "loadtest"},
        },
        "data": data,
    });
    let shown = scripts.display().to_string();
    let rendered = load_str(&shown, &config_map.to_string())
        .map_err(|e| tree_error(&scripts, e.to_string()))?;
    objects.extend(rendered.objects);
    objects.push(testrun);
    Ok(objects)
}

fn testruns(client: &kube::Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("k6.io", "v1alpha1", "TestRun"));
    Api::namespaced_with(client.clone(), TESTRUN_NAMESPACE, &resource)
}

/// k6-operator never reruns a TestRun: a finished one of the same name is deleted first.
pub async fn remove_previous_run(client: &kube::Client, name: &str) -> Result<bool, LoadtestError> {
    let api = testruns(client);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
        Err(error) => return Err(unreachable("deleting the previous TestRun", error)),
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        match api.get_opt(name).await {
            Ok(None) => return Ok(true),
            Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(error) => return Err(unreachable("waiting for the previous TestRun to go", error)),
        }
    }
    Ok(true)
}

/// What following a run reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowEvent {
    /// The TestRun moved to a stage (initialization, initialized, created, started, stopped, finished, error).
    Stage(String),
    /// Each service's autoscaler: name, current replicas, desired, max.
    Replicas(Vec<(String, i32, i32, i32)>),
}

/// What following a TestRun saw: the stage it ended in and each runner's result, read as each
/// runner pod terminated (with `cleanup: post` the operator deletes the pods right after
/// `finished`, so reading them afterwards would find nothing).
#[derive(Debug, Clone)]
pub struct Followed {
    pub stage: String,
    pub runners: Vec<RunnerResult>,
}

/// How long after `finished` the runners that have not been read yet are waited for.
const RUNNERS_GRACE: Duration = Duration::from_secs(10);

/// Follows the TestRun `name` through its stages (and the services' autoscalers every
/// `replicas_every`), reading each runner as it terminates, until it is finished or errored.
pub async fn follow(
    client: &kube::Client,
    name: &str,
    app_namespace: &str,
    timeout: Duration,
    replicas_every: Duration,
    on_event: &(dyn Fn(&FollowEvent) + Sync),
) -> Result<Followed, LoadtestError> {
    use futures::StreamExt;
    use kube::runtime::WatchStreamExt;
    use kube::runtime::watcher::{self, Event};

    let api = testruns(client);
    let autoscalers: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), app_namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), TESTRUN_NAMESPACE);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    let pod_config = watcher::Config::default().labels(&runner_selector(name));
    let mut pod_events =
        std::pin::pin!(watcher::watcher(pods.clone(), pod_config).default_backoff());
    let mut runners: BTreeMap<String, RunnerResult> = BTreeMap::new();
    let mut ticker = tokio::time::interval(replicas_every);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut stage = String::from("(not picked up by k6-operator yet)");
    let mut first_error: Option<(Instant, String)> = None;
    let parallelism = loop {
        tokio::select! {
            event = events.next() => {
                let run = match event {
                    Some(Ok(Event::Apply(run) | Event::InitApply(run))) => run,
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => {
                        let (since, _) = first_error.get_or_insert((Instant::now(), error.to_string()));
                        if since.elapsed() > Duration::from_secs(60) {
                            return Err(LoadtestError::Unreachable { action: "watching the TestRun".into(), message: error.to_string() });
                        }
                        continue;
                    }
                    None => {
                        return Err(LoadtestError::Unreachable { action: "watching the TestRun".into(), message: "the watch ended".into() });
                    }
                };
                first_error = None;
                let Some(now) = run.data["status"]["stage"].as_str() else { continue };
                if now != stage {
                    stage = now.to_string();
                    on_event(&FollowEvent::Stage(stage.clone()));
                }
                if matches!(stage.as_str(), "finished" | "error") {
                    break run.data["spec"]["parallelism"].as_u64().unwrap_or(1).max(1) as usize;
                }
            }
            event = pod_events.next() => {
                if let Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) = event {
                    read_runner(&pods, &pod, &mut runners).await;
                }
            }
            _ = ticker.tick() => {
                if let Ok(list) = autoscalers.list(&ListParams::default()).await {
                    let replicas = list
                        .items
                        .iter()
                        .map(|hpa| {
                            let status = hpa.status.clone().unwrap_or_default();
                            (
                                hpa.metadata.name.clone().unwrap_or_default(),
                                status.current_replicas.unwrap_or(0),
                                status.desired_replicas,
                                hpa.spec.max_replicas,
                            )
                        })
                        .collect();
                    on_event(&FollowEvent::Replicas(replicas));
                }
            }
            _ = &mut deadline => {
                return Err(LoadtestError::Timeout {
                    namespace: TESTRUN_NAMESPACE.into(),
                    name: name.into(),
                    seconds: timeout.as_secs(),
                    stage,
                });
            }
        }
    };
    // The pod watch may trail the TestRun's: the runners not read yet are still in it.
    let grace = tokio::time::sleep(RUNNERS_GRACE);
    tokio::pin!(grace);
    while runners.len() < parallelism {
        tokio::select! {
            event = pod_events.next() => match event {
                Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => read_runner(&pods, &pod, &mut runners).await,
                Some(_) => {}
                None => break,
            },
            _ = &mut grace => break,
        }
    }
    Ok(Followed {
        stage,
        runners: runners.into_values().collect(),
    })
}

fn runner_selector(name: &str) -> String {
    format!("k6_cr={name},runner=true")
}

/// Records a runner pod that has terminated, with its exit code and the summary its log prints
/// (read now: the operator deletes the pods once the run is finished).
async fn read_runner(pods: &Api<Pod>, pod: &Pod, runners: &mut BTreeMap<String, RunnerResult>) {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let Some(exit_code) = terminated_exit_code(pod) else {
        return;
    };
    if runners.contains_key(&pod_name) {
        return;
    }
    let log = pods
        .logs(
            &pod_name,
            &LogParams {
                tail_lines: Some(50),
                ..LogParams::default()
            },
        )
        .await
        .unwrap_or_default();
    runners.insert(
        pod_name.clone(),
        RunnerResult {
            pod: pod_name,
            exit_code: Some(exit_code),
            summary: parse_summary(&log),
        },
    );
}

/// The exit code of a pod's first container once it has terminated.
fn terminated_exit_code(pod: &Pod) -> Option<i32> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
        .map(|t| t.exit_code)
}

/// What one runner's handleSummary printed (k6/scenarios/common.js).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnerSummary {
    pub requests: f64,
    pub rps: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub error_rate: f64,
    /// `metric: expression` -> passed.
    pub thresholds: BTreeMap<String, bool>,
}

/// The summary line in a runner's log, if it printed one.
pub fn parse_summary(log: &str) -> Option<RunnerSummary> {
    log.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(SUMMARY_PREFIX))
        .and_then(|json| serde_json::from_str(json).ok())
}

/// One runner pod at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunnerResult {
    pub pod: String,
    /// k6's exit code: 0 passed, 99 a threshold failed, anything else an error.
    pub exit_code: Option<i32>,
    pub summary: Option<RunnerSummary>,
}

/// The judgement of a run: passed or not, why, and the combined numbers when the runners printed them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub passed: bool,
    pub reasons: Vec<String>,
    /// Sum over runners.
    pub rps: Option<f64>,
    /// The worst runner's (an upper bound of the run's percentile).
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Weighted by each runner's requests.
    pub error_rate: Option<f64>,
    pub failed_thresholds: Vec<String>,
}

/// Passed only when the TestRun finished and every runner exited 0.
pub fn judge(stage: &str, runners: &[RunnerResult]) -> Verdict {
    let mut reasons = Vec::new();
    if stage != "finished" {
        reasons.push(format!("the TestRun ended in stage {stage}"));
    }
    if runners.is_empty() {
        reasons.push("no runner pods were found".into());
    }
    for runner in runners {
        match runner.exit_code {
            Some(0) => {}
            Some(99) => reasons.push(format!(
                "{}: a threshold failed (k6 exit code 99)",
                runner.pod
            )),
            Some(code) => reasons.push(format!("{}: k6 exited with {code}", runner.pod)),
            None => reasons.push(format!("{}: did not terminate", runner.pod)),
        }
    }
    let summaries: Vec<&RunnerSummary> =
        runners.iter().filter_map(|r| r.summary.as_ref()).collect();
    let complete = !summaries.is_empty() && summaries.len() == runners.len();
    let requests: f64 = summaries.iter().map(|s| s.requests).sum();
    let mut failed_thresholds: Vec<String> = summaries
        .iter()
        .flat_map(|s| {
            s.thresholds
                .iter()
                .filter(|(_, ok)| !**ok)
                .map(|(t, _)| t.clone())
        })
        .collect();
    failed_thresholds.sort();
    failed_thresholds.dedup();
    let max = |f: fn(&RunnerSummary) -> f64| summaries.iter().map(|s| f(s)).fold(0.0, f64::max);
    Verdict {
        passed: reasons.is_empty(),
        reasons,
        rps: complete.then(|| summaries.iter().map(|s| s.rps).sum()),
        p95_ms: complete.then(|| max(|s| s.p95_ms)),
        p99_ms: complete.then(|| max(|s| s.p99_ms)),
        error_rate: (complete && requests > 0.0).then(|| {
            summaries
                .iter()
                .map(|s| s.error_rate * s.requests)
                .sum::<f64>()
                / requests
        }),
        failed_thresholds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "     running (10m00.0s), 0000/3000 VUs\nTACOS-SUMMARY {\"requests\":1800000,\"rps\":3000.5,\"p95Ms\":120.5,\"p99Ms\":310.0,\"errorRate\":0.0004,\"thresholds\":{\"http_req_duration: p(95)<200\":true,\"http_req_failed: rate<0.001\":true}}\n1800000 requests, 3000.5 RPS\n";

    fn runner(pod: &str, exit_code: Option<i32>, summary: Option<RunnerSummary>) -> RunnerResult {
        RunnerResult {
            pod: pod.into(),
            exit_code,
            summary,
        }
    }

    #[test]
    fn the_summary_line_is_read_from_a_runner_log() {
        let summary = parse_summary(LOG).expect("a summary");
        assert_eq!(summary.rps, 3000.5);
        assert_eq!(summary.p99_ms, 310.0);
        assert_eq!(summary.thresholds.len(), 2);
        assert_eq!(parse_summary("no summary here\n"), None);
        assert_eq!(parse_summary("TACOS-SUMMARY {not json"), None);
    }

    #[test]
    fn a_finished_run_whose_runners_exit_0_passes_with_combined_numbers() {
        let summary = parse_summary(LOG).unwrap();
        let mut slower = summary.clone();
        slower.p95_ms = 180.0;
        slower.error_rate = 0.0;
        let verdict = judge(
            "finished",
            &[
                runner("tacos-ramp-1", Some(0), Some(summary)),
                runner("tacos-ramp-2", Some(0), Some(slower)),
            ],
        );
        assert!(verdict.passed, "{verdict:?}");
        assert_eq!(verdict.rps, Some(6001.0));
        assert_eq!(verdict.p95_ms, Some(180.0));
        assert_eq!(verdict.error_rate, Some(0.0002));
    }

    #[test]
    fn a_runner_exiting_99_fails_the_run_as_a_threshold_failure() {
        let mut summary = parse_summary(LOG).unwrap();
        summary
            .thresholds
            .insert("http_req_duration: p(99)<500".into(), false);
        let verdict = judge(
            "finished",
            &[
                runner("tacos-spike-1", Some(0), None),
                runner("tacos-spike-2", Some(99), Some(summary)),
            ],
        );
        assert!(!verdict.passed);
        assert_eq!(
            verdict.reasons,
            ["tacos-spike-2: a threshold failed (k6 exit code 99)"]
        );
        assert_eq!(verdict.failed_thresholds, ["http_req_duration: p(99)<500"]);
        assert_eq!(verdict.rps, None, "numbers need every runner's summary");
    }

    #[test]
    fn an_errored_or_empty_run_fails() {
        assert!(!judge("error", &[runner("a", Some(0), None)]).passed);
        assert!(!judge("finished", &[]).passed);
        assert!(!judge("finished", &[runner("a", None, None)]).passed);
    }

    #[test]
    fn e2e_is_the_ramp_testrun_running_the_whole_plan() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let objects = render(repo, Scenario::E2e).unwrap();
        let testrun = objects.iter().find(|o| o.kind() == "TestRun").unwrap();
        assert_eq!(testrun.name(), "tacos-e2e");
        let env = testrun.value["spec"]["runner"]["env"].to_string();
        assert!(
            env.contains("\"full\"") && env.contains("e2e-full"),
            "{env}"
        );
        let scripts = objects.iter().find(|o| o.kind() == "ConfigMap").unwrap();
        assert!(
            scripts.value["data"]["e2e.js"]
                .as_str()
                .unwrap()
                .contains("handleSummary")
        );
        assert!(objects.iter().any(|o| o.kind() == "Namespace"));
    }
}
