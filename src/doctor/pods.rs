//! Pods that should run and are not Ready, grouped by workload and cause (crash loop, image pull, missing config, unschedulable, failing probe), and workloads that cannot create pods at all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Event, Pod, Probe};
use regex::Regex;

use super::analysis::Diagnoses;
use super::cluster::{self, pod_subject, qualified};
use super::snapshot::RegistryAnswer;
use super::{Diagnosis, Snapshot};
use crate::aws::ecr::{EcrImage, ImagePresence, ImageReference};
use crate::report::{Severity, rule};

rule!(
    PODS_NOT_READY,
    "doctor",
    "pods-not-ready",
    Error,
    "every pod that should run is Ready and every workload can create its pods",
    "kubectl describe pod NAME; kubectl logs NAME --previous"
);

/// A pod not Ready with nothing wrong to show for it (no crash, pull or mount failure, failing
/// probe, or scheduling trouble) is starting, not broken, while it is younger than this: a
/// rollout or a scale-up of 30 pods is not 30 causes. Past it, it is diagnosed as not Ready.
const STARTUP_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

/// How many log lines a crash diagnosis shows.
const LOG_LINES: usize = 10;

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    let mut groups: BTreeMap<(String, String), (Trouble, Vec<&Pod>)> = BTreeMap::new();
    let mut starting = Vec::new();
    for pod in &snapshot.pods {
        if !cluster::pod_is_stuck(pod) || diagnoses.explained(&PODS_NOT_READY, &pod_subject(pod)) {
            continue;
        }
        let trouble = classify(snapshot, pod);
        if trouble == Trouble::NotReady && is_starting(snapshot, pod) {
            starting.push(pod);
            continue;
        }
        let workload = cluster::workload_of(snapshot, pod);
        groups
            .entry((workload, trouble.key()))
            .or_insert_with(|| (trouble, Vec::new()))
            .1
            .push(pod);
    }
    for ((workload, _), (trouble, pods)) in groups {
        diagnoses.add(diagnosis(snapshot, &workload, &trouble, &pods));
    }
    if !starting.is_empty() {
        diagnoses.add(starting_pods(snapshot, &starting));
    }
    failed_creates(snapshot, diagnoses);
}

fn is_starting(snapshot: &Snapshot, pod: &Pod) -> bool {
    let (Some(now), Some(created)) = (snapshot.taken_at, pod.metadata.creation_timestamp.as_ref())
    else {
        return false;
    };
    now.duration_since(created.0)
        .try_into()
        .is_ok_and(|age: std::time::Duration| age < STARTUP_GRACE)
}

/// One note for every young pod with nothing wrong to show: not a cause, and not hidden either.
fn starting_pods(snapshot: &Snapshot, pods: &[&Pod]) -> Diagnosis {
    let mut workloads: Vec<String> = pods
        .iter()
        .map(|pod| cluster::workload_of(snapshot, pod))
        .collect();
    workloads.sort();
    workloads.dedup();
    let mut diagnosis = Diagnosis::new(
        &PODS_NOT_READY,
        format!("{} pod(s) starting", pods.len()),
        format!(
            "not Ready yet and younger than {} s, with no failure to show (a rollout or scale-up of {}): not judged yet",
            STARTUP_GRACE.as_secs(),
            workloads.join(", ")
        ),
    );
    diagnosis.severity = Severity::Info;
    diagnosis.symptoms = pods.iter().map(|pod| pod_subject(pod)).collect();
    diagnosis.remedy = format!(
        "run tacos doctor again in {} s: a pod still not Ready then is diagnosed",
        STARTUP_GRACE.as_secs()
    );
    diagnosis
}

/// Why a pod is not Ready, as far as its status and events tell.
#[derive(Debug, Clone, PartialEq)]
enum Trouble {
    Unschedulable { message: String },
    CrashLoop { container: String },
    ImagePull { container: String, image: String },
    ConfigError { container: String, missing: Missing },
    Waiting { container: String, reason: String },
    MountFailing,
    ProbeFailing { probe: String, container: String },
    NotReady,
}

/// What a CreateContainerConfigError is missing.
#[derive(Debug, Clone, PartialEq)]
enum Missing {
    Object {
        kind: &'static str,
        name: String,
    },
    Key {
        kind: &'static str,
        name: String,
        key: String,
    },
    /// Something else the kubelet refused (e.g. runAsNonRoot with a root image): its message.
    Other(String),
}

impl Trouble {
    /// Pods of one workload with the same key share one diagnosis.
    fn key(&self) -> String {
        match self {
            Trouble::Unschedulable { .. } => "unschedulable".into(),
            Trouble::CrashLoop { container } => format!("crash:{container}"),
            Trouble::ImagePull { image, .. } => format!("image:{image}"),
            Trouble::ConfigError { container, missing } => {
                format!("config:{container}:{missing:?}")
            }
            Trouble::Waiting { container, reason } => format!("waiting:{container}:{reason}"),
            Trouble::MountFailing => "mount".into(),
            Trouble::ProbeFailing { probe, container } => format!("probe:{probe}:{container}"),
            Trouble::NotReady => "not-ready".into(),
        }
    }
}

fn classify(snapshot: &Snapshot, pod: &Pod) -> Trouble {
    let status = pod.status.as_ref();
    let unscheduled = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False");
    if let Some(condition) = unscheduled {
        let message = condition
            .message
            .clone()
            .or_else(|| condition.reason.clone())
            .unwrap_or_else(|| "not scheduled".into());
        return Trouble::Unschedulable { message };
    }
    let statuses = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            status
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        );
    for container in statuses {
        if let Some(trouble) = container_trouble(snapshot, pod, container) {
            return trouble;
        }
    }
    let events: Vec<&Event> = cluster::pod_events(snapshot, pod).collect();
    if events
        .iter()
        .any(|e| cluster::event_reason(e) == "FailedMount")
    {
        return Trouble::MountFailing;
    }
    if let Some(event) = events
        .iter()
        .find(|e| cluster::event_reason(e) == "Unhealthy")
    {
        let probe = cluster::event_message(event)
            .split_whitespace()
            .next()
            .unwrap_or("Readiness")
            .to_string();
        return Trouble::ProbeFailing {
            probe,
            container: field_path_container(event).unwrap_or_default(),
        };
    }
    Trouble::NotReady
}

fn container_trouble(snapshot: &Snapshot, pod: &Pod, status: &ContainerStatus) -> Option<Trouble> {
    let state = status.state.as_ref()?;
    let container = status.name.clone();
    if let Some(terminated) = &state.terminated
        && terminated.exit_code != 0
    {
        return Some(Trouble::CrashLoop { container });
    }
    let waiting = state.waiting.as_ref()?;
    let reason = waiting.reason.as_deref().unwrap_or_default();
    match reason {
        "CrashLoopBackOff" => Some(Trouble::CrashLoop { container }),
        "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull" => {
            let image = container_spec(pod, &container)
                .and_then(|c| c.image.clone())
                .unwrap_or_else(|| status.image.clone());
            Some(Trouble::ImagePull { container, image })
        }
        "CreateContainerConfigError" => {
            let message = waiting.message.as_deref().unwrap_or_default();
            let missing = missing_config(snapshot, pod, &container, message);
            Some(Trouble::ConfigError { container, missing })
        }
        "" | "ContainerCreating" | "PodInitializing" => None,
        other => Some(Trouble::Waiting {
            container,
            reason: other.to_string(),
        }),
    }
}

fn container_spec<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .find(|c| c.name == name)
}

fn container_status<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find(|c| c.name == name)
}

/// `spec.containers{name}` → `name`.
fn field_path_container(event: &Event) -> Option<String> {
    let path = event.involved_object.field_path.as_deref()?;
    let start = path.find('{')?;
    let end = path.rfind('}')?;
    path.get(start + 1..end).map(str::to_string)
}

static SECRET_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(secret|configmap) "([^"]+)" not found"#).expect("pattern compiles")
});
static KEY_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"couldn't find key (\S+) in (Secret|ConfigMap) (?:[^/\s]+/)?(\S+)")
        .expect("pattern compiles")
});

fn object_kind(word: &str) -> &'static str {
    if word.eq_ignore_ascii_case("secret") {
        "Secret"
    } else {
        "ConfigMap"
    }
}

/// What the kubelet could not find, from its message (Secrets are never read, so their names come from
/// there) or, for ConfigMaps, from the container's references checked against the snapshot.
fn missing_config(snapshot: &Snapshot, pod: &Pod, container: &str, message: &str) -> Missing {
    if let Some(found) = KEY_NOT_FOUND.captures(message) {
        return Missing::Key {
            kind: object_kind(&found[2]),
            name: found[3].to_string(),
            key: found[1].to_string(),
        };
    }
    if let Some(found) = SECRET_NOT_FOUND.captures(message) {
        return Missing::Object {
            kind: object_kind(&found[1]),
            name: found[2].to_string(),
        };
    }
    let namespace = cluster::namespace(&pod.metadata);
    let config_map = |name: &str| {
        snapshot.config_maps.iter().find(|cm| {
            cluster::namespace(&cm.metadata) == namespace && cluster::name(&cm.metadata) == name
        })
    };
    let Some(spec) = container_spec(pod, container) else {
        return Missing::Other(message.to_string());
    };
    if cluster::readable(snapshot, "configmaps") {
        for reference in spec
            .env
            .iter()
            .flatten()
            .filter_map(|e| e.value_from.as_ref()?.config_map_key_ref.as_ref())
        {
            if reference.optional == Some(true) {
                continue;
            }
            match config_map(&reference.name) {
                None => {
                    return Missing::Object {
                        kind: "ConfigMap",
                        name: reference.name.clone(),
                    };
                }
                Some(cm)
                    if !cm
                        .data
                        .as_ref()
                        .is_some_and(|d| d.contains_key(&reference.key)) =>
                {
                    return Missing::Key {
                        kind: "ConfigMap",
                        name: reference.name.clone(),
                        key: reference.key.clone(),
                    };
                }
                Some(_) => {}
            }
        }
        for reference in spec
            .env_from
            .iter()
            .flatten()
            .filter_map(|e| e.config_map_ref.as_ref())
        {
            if reference.optional != Some(true) && config_map(&reference.name).is_none() {
                return Missing::Object {
                    kind: "ConfigMap",
                    name: reference.name.clone(),
                };
            }
        }
    }
    Missing::Other(message.to_string())
}

/// The env variables of a container that take their value from `kind` `name`.
fn referencing_variables(container: &Container, kind: &str, name: &str) -> Vec<String> {
    let mut names: Vec<String> = container
        .env
        .iter()
        .flatten()
        .filter(|variable| {
            let from = variable.value_from.as_ref();
            match kind {
                "Secret" => from
                    .and_then(|f| f.secret_key_ref.as_ref())
                    .is_some_and(|r| r.name == name),
                _ => from
                    .and_then(|f| f.config_map_key_ref.as_ref())
                    .is_some_and(|r| r.name == name),
            }
        })
        .map(|variable| format!("env {}", variable.name))
        .collect();
    let from_all = container
        .env_from
        .iter()
        .flatten()
        .any(|source| match kind {
            "Secret" => source.secret_ref.as_ref().is_some_and(|r| r.name == name),
            _ => source
                .config_map_ref
                .as_ref()
                .is_some_and(|r| r.name == name),
        });
    if from_all {
        names.push("envFrom".to_string());
    }
    names
}

fn diagnosis(snapshot: &Snapshot, workload: &str, trouble: &Trouble, pods: &[&Pod]) -> Diagnosis {
    let first = pods[0];
    let namespace = cluster::namespace(&first.metadata);
    let pod_name = cluster::name(&first.metadata);
    let events: Vec<&Event> = pods
        .iter()
        .flat_map(|pod| cluster::pod_events(snapshot, pod))
        .collect();
    let events_of = |reason: &str| -> Vec<&Event> {
        events
            .iter()
            .copied()
            .filter(|e| cluster::event_reason(e) == reason)
            .collect()
    };
    let mut diagnosis = match trouble {
        Trouble::CrashLoop { container } => crash_loop(snapshot, workload, container, pods),
        Trouble::ImagePull { container, image } => {
            let failures = events_of("Failed");
            let pull = Pull {
                workload,
                container,
                image,
            };
            image_pull(&pull, pods, &failures, snapshot.registry.get(image))
        }
        Trouble::ConfigError { container, missing } => {
            config_error(snapshot, workload, container, missing, first)
        }
        Trouble::Unschedulable { message } => {
            let mut diagnosis = Diagnosis::new(
                &PODS_NOT_READY,
                workload,
                format!("{} cannot be scheduled: {message}", pods_noun(pods).0),
            );
            diagnosis.evidence.extend(cluster::summarize_events(
                "FailedScheduling",
                &events_of("FailedScheduling"),
            ));
            diagnosis.remedy = unschedulable_remedy(workload, message);
            diagnosis
        }
        Trouble::Waiting { container, reason } => {
            let message = container_status(first, container)
                .and_then(|s| s.state.as_ref()?.waiting.as_ref()?.message.clone())
                .unwrap_or_default();
            let mut diagnosis = Diagnosis::new(
                &PODS_NOT_READY,
                workload,
                format!("container {container} cannot start ({reason}): {message}"),
            );
            diagnosis.remedy = format!(
                "kubectl -n {namespace} describe pod {pod_name}; fix what the message names in container {container} of {workload}"
            );
            diagnosis
        }
        Trouble::MountFailing => {
            let failures = events_of("FailedMount");
            let message = failures
                .iter()
                .max_by_key(|e| cluster::event_count(e))
                .map(|e| cluster::event_message(e).to_string())
                .unwrap_or_default();
            let mut diagnosis = Diagnosis::new(
                &PODS_NOT_READY,
                workload,
                format!("a volume of its pods cannot be mounted: {message}"),
            );
            diagnosis
                .evidence
                .extend(cluster::summarize_events("FailedMount", &failures));
            diagnosis.remedy = mount_remedy(namespace, pod_name, &message);
            diagnosis
        }
        Trouble::ProbeFailing { probe, container } => {
            let failures = events_of("Unhealthy");
            probe_failing(workload, probe, container, first, &failures)
        }
        Trouble::NotReady => {
            let ready = first
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "Ready");
            let phase = first
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Unknown");
            let detail = match ready {
                Some(c) => format!(
                    "{}{}",
                    c.reason.as_deref().unwrap_or("Ready=False"),
                    c.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
                None => "no Ready condition".to_string(),
            };
            let (noun, verb) = pods_noun(pods);
            let mut diagnosis = Diagnosis::new(
                &PODS_NOT_READY,
                workload,
                format!(
                    "{noun} {verb} {phase} but not Ready, with no more specific signal ({detail})"
                ),
            );
            let gated = ready.and_then(|c| c.reason.as_deref()) == Some("ReadinessGatesNotReady");
            diagnosis.remedy = if gated {
                format!(
                    "a readiness gate holds them (the AWS Load Balancer Controller's target health): check the target group's health check against the pods and the controller's log (kubectl -n kube-system logs deploy/aws-load-balancer-controller); kubectl -n {namespace} describe pod {pod_name}"
                )
            } else {
                format!(
                    "kubectl -n {namespace} describe pod {pod_name}; kubectl -n {namespace} logs {pod_name} --all-containers"
                )
            };
            diagnosis
        }
    };
    diagnosis.symptoms = pods
        .iter()
        .map(|pod| pod_subject(pod))
        .filter(|symptom| symptom != workload)
        .collect();
    diagnosis
}

/// `its pod` or `3 of its pods`, and the verb that goes with it.
fn pods_noun(pods: &[&Pod]) -> (String, &'static str) {
    match pods.len() {
        1 => ("its pod".to_string(), "is"),
        count => (format!("{count} of its pods"), "are"),
    }
}

fn crash_loop(snapshot: &Snapshot, workload: &str, container: &str, pods: &[&Pod]) -> Diagnosis {
    let statuses: Vec<&ContainerStatus> = pods
        .iter()
        .filter_map(|pod| container_status(pod, container))
        .collect();
    let last_exit = statuses.iter().find_map(|status| {
        status
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .or_else(|| status.state.as_ref().and_then(|s| s.terminated.as_ref()))
    });
    let exit = last_exit.map(|t| {
        format!(
            "{} (exit code {})",
            t.reason.as_deref().unwrap_or("terminated"),
            t.exit_code
        )
    });
    let cause = match &exit {
        Some(exit) => format!(
            "container {container} keeps crashing (CrashLoopBackOff): it last exited with {exit}"
        ),
        None => format!("container {container} keeps crashing (CrashLoopBackOff)"),
    };
    let mut diagnosis = Diagnosis::new(&PODS_NOT_READY, workload, cause);
    let restarts = statuses.iter().map(|s| s.restart_count).max().unwrap_or(0);
    diagnosis
        .evidence
        .push(format!("restarted {restarts} times"));
    if let Some(message) = last_exit
        .and_then(|t| t.message.as_deref())
        .filter(|m| !m.trim().is_empty())
    {
        diagnosis
            .evidence
            .push(format!("termination message: {}", message.trim()));
    }
    let logged = pods.iter().find_map(|pod| {
        let key = format!("{}/{container}", qualified(&pod.metadata));
        snapshot.logs.get(&key).map(|log| (key, log))
    });
    if let Some((key, log)) = logged {
        diagnosis.evidence.push(format!("last log lines of {key}:"));
        diagnosis.evidence.extend(
            cluster::last_lines(log, LOG_LINES)
                .into_iter()
                .map(|line| format!("  {line}")),
        );
    }
    let first = pods[0];
    let oom =
        last_exit.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled") || t.exit_code == 137);
    diagnosis.remedy = if oom {
        format!(
            "it was killed for memory: raise resources.limits.memory of container {container} in {workload}, or find what makes its memory grow"
        )
    } else {
        format!(
            "read why it exits: kubectl -n {} logs {} -c {container} --previous; fix the cause in its image or configuration, and the pods restart on their own",
            cluster::namespace(&first.metadata),
            cluster::name(&first.metadata)
        )
    };
    diagnosis
}

/// An image reference's parts: `registry/repository:tag`.
struct ImageRef<'a> {
    registry: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// The registry is the first path part when it looks like a host (a dot, a port, or localhost);
    /// otherwise the image is on docker.io.
    fn parse(image: &'a str) -> ImageRef<'a> {
        let (name, digest) = image
            .split_once('@')
            .map_or((image, None), |(n, d)| (n, Some(d)));
        let (registry, path) = match name.split_once('/') {
            Some((host, rest))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host, rest)
            }
            _ => ("docker.io", name),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
            _ => (path, None),
        };
        ImageRef {
            registry,
            repository,
            tag: tag.or(digest),
        }
    }
}

static ECR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$").expect("pattern compiles")
});

/// Why kubelet says the pull fails (the failure itself, ErrImagePull or its event, over "Back-off
/// pulling image", which says nothing), and the events that say it.
fn kubelet_says<'a>(
    container: &str,
    pods: &[&Pod],
    failures: &[&'a Event],
) -> (String, Vec<&'a Event>) {
    let waiting_message = pods.iter().find_map(|pod| {
        container_status(pod, container)?
            .state
            .as_ref()?
            .waiting
            .as_ref()?
            .message
            .clone()
    });
    let pull_failures: Vec<&Event> = failures
        .iter()
        .copied()
        .filter(|e| cluster::event_message(e).contains("pull"))
        .collect();
    let why = pull_failures
        .iter()
        .max_by_key(|e| cluster::event_count(e))
        .map(|e| cluster::event_message(e).to_string())
        .or(waiting_message)
        .unwrap_or_else(|| "no message".into());
    (why, pull_failures)
}

/// Why the pull fails, from kubelet's words, sharpened by what the registry said when asked.
fn image_pull(
    pull: &Pull<'_>,
    pods: &[&Pod],
    failures: &[&Event],
    answer: Option<&RegistryAnswer>,
) -> Diagnosis {
    let Pull {
        workload,
        container,
        image,
    } = *pull;
    let reference = ImageRef::parse(image);
    let registry = reference.registry;
    let (why, pull_failures) = kubelet_says(container, pods, failures);
    let mut diagnosis = Diagnosis::new(
        &PODS_NOT_READY,
        workload,
        format!("image {image} of container {container} cannot be pulled from {registry}: {why}"),
    );
    diagnosis
        .evidence
        .extend(cluster::summarize_events("Failed", &pull_failures));
    let fix = format!("or fix spec.template.spec.containers[{container}].image of {workload}");
    diagnosis.remedy = match ECR.captures(registry) {
        Some(ecr) => format!(
            "check the tag exists: aws ecr describe-images --registry-id {} --region {} --repository-name {} --image-ids imageTag={}; if it does, the node role needs ecr:BatchGetImage (AmazonEC2ContainerRegistryReadOnly) on the repository; {fix}",
            &ecr[1],
            &ecr[2],
            reference.repository,
            reference.tag.unwrap_or("latest")
        ),
        None => format!(
            "check the image exists (docker manifest inspect {image}) and that the nodes may pull from {registry} (imagePullSecrets for a private registry; rate limits on docker.io); {fix}"
        ),
    };
    if let Some(answer) = answer {
        explain_by_registry(&mut diagnosis, pull, &why, answer);
    }
    diagnosis
}

/// The images pods wait to pull (ImagePullBackOff, ErrImagePull), as their specs name them: what
/// doctor asks the registry about.
pub fn images_failing_to_pull(snapshot: &Snapshot) -> BTreeSet<String> {
    let mut images = BTreeSet::new();
    for pod in &snapshot.pods {
        let statuses = pod.status.iter().flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        });
        for status in statuses {
            let waiting = status.state.as_ref().and_then(|s| s.waiting.as_ref());
            if matches!(
                waiting.and_then(|w| w.reason.as_deref()),
                Some("ImagePullBackOff" | "ErrImagePull")
            ) {
                images.insert(
                    container_spec(pod, &status.name)
                        .and_then(|c| c.image.clone())
                        .unwrap_or_else(|| status.image.clone()),
                );
            }
        }
    }
    images
}

/// Whether kubelet's words point at the nodes' access (credentials, the network) or say nothing
/// more than that the pull backs off.
fn reads_as_access_failure(kubelet_says: &str) -> bool {
    let said = kubelet_says.to_lowercase();
    [
        "401",
        "403",
        "unauthorized",
        "denied",
        "forbidden",
        "no basic auth",
        "timeout",
        "deadline",
        "dial tcp",
        "no such host",
        "connection refused",
        "back-off pulling image",
        "no message",
    ]
    .iter()
    .any(|word| said.contains(word))
}

/// A container's image pull that fails.
struct Pull<'a> {
    workload: &'a str,
    container: &'a str,
    image: &'a str,
}

/// Says which of the tag, the repository or the nodes' access keeps `image` from its pods, from
/// what ECR answered; kubelet's words stay as evidence.
fn explain_by_registry(
    diagnosis: &mut Diagnosis,
    pull: &Pull<'_>,
    kubelet_says: &str,
    answer: &RegistryAnswer,
) {
    let Pull {
        workload,
        container,
        image,
    } = *pull;
    let Some(ecr) = EcrImage::parse(image) else {
        return;
    };
    let presence = match answer {
        RegistryAnswer::Ecr(presence) => presence,
        RegistryAnswer::Unanswered(why) => {
            diagnosis
                .evidence
                .push(format!("ECR could not be asked: {why}"));
            return;
        }
    };
    let repository = &ecr.repository;
    let place = format!("account {}, region {}", ecr.registry_id, ecr.region);
    let wanted = match &ecr.reference {
        ImageReference::Tag(tag) => format!("tag {tag}"),
        ImageReference::Digest(digest) => format!("digest {digest}"),
        ImageReference::Unpinned => "tag latest".into(),
    };
    let fix = format!("or fix spec.template.spec.containers[{container}].image of {workload}");
    diagnosis
        .evidence
        .insert(0, format!("kubelet: {kubelet_says}"));
    let (cause, remedy) = match presence {
        ImagePresence::RepositoryMissing => (
            format!("ECR repository {repository} does not exist ({place})"),
            format!(
                "push the image to it (aws ecr create-repository --repository-name {repository} --region {} --image-scanning-configuration scanOnPush=true, then docker push {image}), {fix}",
                ecr.region
            ),
        ),
        ImagePresence::ImageMissing { newest_tags } => {
            let newest = if newest_tags.is_empty() {
                "it holds no tagged image".to_string()
            } else {
                format!("its newest tags: {}", newest_tags.join(", "))
            };
            let retag = format!(
                "set spec.template.spec.containers[{container}].image of {workload} to a tag it has"
            );
            let retag = match newest_tags.first() {
                Some(tag) => format!("{retag} ({tag})"),
                None => retag,
            };
            (
                format!("ECR repository {repository} ({place}) has no {wanted}; {newest}"),
                format!("push {wanted} to {repository}, or {retag}"),
            )
        }
        ImagePresence::Present { digest, pushed_at } => {
            let has_it = format!(
                "ECR has it ({repository} {wanted} is {digest}{}, {place})",
                pushed_at
                    .as_deref()
                    .map(|at| format!(", pushed {at}"))
                    .unwrap_or_default()
            );
            if !reads_as_access_failure(kubelet_says) {
                // The image is there and kubelet names another reason (a platform the image
                // lacks, a corrupt layer): kubelet's words are the cause, the generic fix stays.
                diagnosis.cause = format!(
                    "image {image} of container {container} cannot be pulled: {has_it}, and kubelet says: {kubelet_says}"
                );
                return;
            }
            (
                format!(
                    "{has_it}, so the nodes cannot fetch it: the node role's ECR permissions or the nodes' route to ECR"
                ),
                "give the node role ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (the AmazonEC2ContainerRegistryReadOnly policy), and let private nodes reach ECR (VPC endpoints ecr.api, ecr.dkr and the s3 gateway, or a NAT gateway)".to_string(),
            )
        }
    };
    diagnosis.cause = format!("image {image} of container {container} cannot be pulled: {cause}");
    diagnosis.remedy = remedy;
}

fn config_error(
    snapshot: &Snapshot,
    workload: &str,
    container: &str,
    missing: &Missing,
    pod: &Pod,
) -> Diagnosis {
    let namespace = cluster::namespace(&pod.metadata);
    let users = container_spec(pod, container);
    let used_by = |kind: &str, name: &str| {
        let names = users
            .map(|c| referencing_variables(c, kind, name))
            .unwrap_or_default();
        if names.is_empty() {
            String::new()
        } else {
            format!(" (used by {} of container {container})", names.join(", "))
        }
    };
    let message = container_status(pod, container)
        .and_then(|s| s.state.as_ref()?.waiting.as_ref()?.message.clone())
        .unwrap_or_default();
    let (what, remedy) = match missing {
        Missing::Object { kind, name } => {
            let what = format!(
                "{kind} {namespace}/{name} does not exist{}",
                used_by(kind, name)
            );
            let synced_by = (*kind == "Secret")
                .then(|| syncing_provider_class(snapshot, namespace, name))
                .flatten();
            let remedy = match synced_by {
                Some(class) => format!(
                    "Secret {name} is synced from AWS Secrets Manager by SecretProviderClass {namespace}/{class} (secretObjects), and exists only while a pod mounts that class's CSI volume: mount it in {workload} (volumes[].csi.volumeAttributes.secretProviderClass: {class}), or create the Secret another way"
                ),
                None => format!(
                    "create {kind} {namespace}/{name} (kubectl -n {namespace} get {} {name}), or fix the reference in container {container} of {workload} (env[].valueFrom / envFrom, or mark it optional: true)",
                    kind.to_ascii_lowercase()
                ),
            };
            (what, remedy)
        }
        Missing::Key { kind, name, key } => (
            format!(
                "{kind} {namespace}/{name} has no key {key}{}",
                used_by(kind, name)
            ),
            format!(
                "add key {key} to {kind} {namespace}/{name}, or fix the key in env[].valueFrom of container {container} in {workload}"
            ),
        ),
        Missing::Other(message) => (
            message.clone(),
            format!(
                "fix what the message names in container {container} of {workload} (its securityContext, env or volumes)"
            ),
        ),
    };
    let mut diagnosis = Diagnosis::new(
        &PODS_NOT_READY,
        workload,
        format!("container {container} cannot be created (CreateContainerConfigError): {what}"),
    );
    if !message.is_empty() {
        diagnosis.evidence.push(format!("kubelet: {message}"));
    }
    diagnosis.remedy = remedy;
    diagnosis
}

/// The SecretProviderClass whose secretObjects create Secret `name`.
fn syncing_provider_class(snapshot: &Snapshot, namespace: &str, name: &str) -> Option<String> {
    snapshot
        .secret_provider_classes
        .iter()
        .filter(|class| class["metadata"]["namespace"].as_str() == Some(namespace))
        .find(|class| {
            class["spec"]["secretObjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|object| object["secretName"].as_str() == Some(name))
        })
        .and_then(|class| class["metadata"]["name"].as_str())
        .map(str::to_string)
}

fn unschedulable_remedy(workload: &str, message: &str) -> String {
    let mut remedies = Vec::new();
    if message.contains("Insufficient cpu") || message.contains("Insufficient memory") {
        remedies.push(format!(
            "lower resources.requests of {workload}, or add nodes (the node group's max size, or Karpenter's limits)"
        ));
    }
    if message.contains("untolerated taint") {
        remedies.push(format!(
            "add a toleration for the taint named above to spec.template.spec.tolerations of {workload}, or free untainted nodes"
        ));
    }
    if message.contains("node affinity") || message.contains("node selector") {
        remedies.push(format!(
            "fix spec.template.spec.nodeSelector / affinity of {workload} to match existing node labels"
        ));
    }
    if message.contains("PersistentVolumeClaim") {
        remedies.push("bind the pod's PersistentVolumeClaims (kubectl get pvc; check the StorageClass and the EBS CSI driver)".into());
    }
    if message.contains("Too many pods") {
        remedies.push(
            "the nodes hold as many pods as they may: add nodes or use larger instance types"
                .into(),
        );
    }
    if message.contains("anti-affinity") {
        remedies.push(format!(
            "relax the pod anti-affinity of {workload} or add nodes"
        ));
    }
    if remedies.is_empty() {
        remedies.push(format!(
            "kubectl describe pod of {workload}: the scheduler's message names what no node offers"
        ));
    }
    remedies.join("; ")
}

fn mount_remedy(namespace: &str, pod: &str, message: &str) -> String {
    if let Some(found) = SECRET_NOT_FOUND.captures(message) {
        let kind = object_kind(&found[1]);
        return format!(
            "create {kind} {namespace}/{} or fix the volume that names it (kubectl -n {namespace} describe pod {pod})",
            &found[2]
        );
    }
    if message.contains("not found in the list of registered CSI drivers") {
        return format!(
            "the CSI driver this volume names has no node plugin on the pod's node: install or fix its DaemonSet (kubectl get csidrivers; kubectl -n {namespace} describe pod {pod})"
        );
    }
    format!(
        "kubectl -n {namespace} describe pod {pod}: the volume's source (Secret, ConfigMap, PVC or CSI driver) must exist and be reachable from the node"
    )
}

fn probe_failing(
    workload: &str,
    probe: &str,
    container: &str,
    pod: &Pod,
    failures: &[&Event],
) -> Diagnosis {
    let most_seen = failures.iter().max_by_key(|e| cluster::event_count(e));
    let message = most_seen
        .map(|e| cluster::event_message(e))
        .unwrap_or_default();
    let detail = message
        .split_once("probe failed: ")
        .map_or(message, |(_, detail)| detail)
        .trim();
    let named = if container.is_empty() {
        String::new()
    } else {
        format!(" of container {container}")
    };
    let mut diagnosis = Diagnosis::new(
        &PODS_NOT_READY,
        workload,
        format!(
            "the {} probe{named} fails: {detail}",
            probe.to_ascii_lowercase()
        ),
    );
    diagnosis
        .evidence
        .extend(cluster::summarize_events("Unhealthy", failures));
    let spec = container_spec(pod, container);
    let definition = spec.and_then(|c| match probe {
        "Liveness" => c.liveness_probe.as_ref(),
        "Startup" => c.startup_probe.as_ref(),
        _ => c.readiness_probe.as_ref(),
    });
    let field = format!("{}Probe", probe.to_ascii_lowercase());
    if let Some(definition) = definition {
        diagnosis
            .evidence
            .push(format!("{field}: {}", describe_probe(definition)));
    }
    let namespace = cluster::namespace(&pod.metadata);
    let pod_name = cluster::name(&pod.metadata);
    let read_logs = format!("kubectl -n {namespace} logs {pod_name} -c {container}");
    diagnosis.remedy = if detail.contains("statuscode") {
        format!(
            "the app answers but says it is not healthy: read why in its log ({read_logs}), often a dependency it cannot reach; if the app is fine, fix {field} of container {container} in {workload}"
        )
    } else if detail.contains("connection refused") {
        format!(
            "nothing listens on the probed port: check the port the app listens on ({read_logs}) against {field} of container {container} in {workload}"
        )
    } else if detail.contains("deadline exceeded") || detail.contains("timeout") {
        format!(
            "the app answers too slowly: raise {field}.timeoutSeconds of container {container} in {workload}, or find what slows it ({read_logs})"
        )
    } else {
        format!(
            "read the app's log ({read_logs}) and the probe's definition ({field} of container {container} in {workload})"
        )
    };
    diagnosis
}

fn describe_probe(probe: &Probe) -> String {
    let port = |port: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString| match port {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    };
    if let Some(http) = &probe.http_get {
        return format!(
            "HTTP GET :{}{}",
            port(&http.port),
            http.path.as_deref().unwrap_or("/")
        );
    }
    if let Some(tcp) = &probe.tcp_socket {
        return format!("TCP :{}", port(&tcp.port));
    }
    if let Some(grpc) = &probe.grpc {
        return format!("gRPC :{}", grpc.port);
    }
    if let Some(exec) = &probe.exec {
        return format!(
            "exec {}",
            exec.command
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    "no handler".to_string()
}

static EXCEEDED_QUOTA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"exceeded quota: ([^,\s]+)(?:, (.*))?").expect("pattern compiles")
});

/// FailedCreate events of workload controllers that still want pods: they could not create any (quota, Pod
/// Security). Jobs' refusals are left to the quota check.
fn failed_creates(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    let mut groups: BTreeMap<(String, String), Vec<&Event>> = BTreeMap::new();
    for event in &snapshot.events {
        let object = &event.involved_object;
        let kind = object.kind.as_deref().unwrap_or_default();
        if cluster::event_reason(event) != "FailedCreate"
            || !matches!(kind, "ReplicaSet" | "StatefulSet" | "DaemonSet")
        {
            continue;
        }
        let namespace = object.namespace.as_deref().unwrap_or_default();
        let name = object.name.as_deref().unwrap_or_default();
        if !still_creating(snapshot, kind, namespace, name) {
            continue;
        }
        let workload = controller_workload(snapshot, kind, namespace, name);
        let key = match EXCEEDED_QUOTA.captures(cluster::event_message(event)) {
            Some(quota) => format!("quota:{}", &quota[1]),
            None if cluster::event_message(event).contains("violates PodSecurity") => {
                "pod-security".into()
            }
            None => "other".into(),
        };
        groups.entry((workload, key)).or_default().push(event);
    }
    for ((workload, _), events) in groups {
        let Some(latest) = events.iter().max_by_key(|e| cluster::event_count(e)) else {
            continue;
        };
        let object = &latest.involved_object;
        let namespace = object.namespace.as_deref().unwrap_or_default();
        let controller = cluster::subject_of(
            object.kind.as_deref().unwrap_or_default(),
            Some(namespace),
            object.name.as_deref().unwrap_or_default(),
        );
        let message = cluster::event_message(latest);
        let (cause, remedy, named) = match EXCEEDED_QUOTA.captures(message) {
            Some(quota) => {
                let quota_subject =
                    cluster::subject_of("ResourceQuota", Some(namespace), &quota[1]);
                let usage = quota
                    .get(2)
                    .map(|m| format!(" ({})", m.as_str()))
                    .unwrap_or_default();
                (
                    format!("it cannot create pods: {quota_subject} is exhausted{usage}"),
                    format!(
                        "raise spec.hard of {quota_subject} (kubectl -n {namespace} describe resourcequota {}), or lower the requests or replicas of {workload}",
                        &quota[1]
                    ),
                    vec![quota_subject],
                )
            }
            None if message.contains("violates PodSecurity") => (
                format!("it cannot create pods: {message}"),
                format!(
                    "make the pod template of {workload} meet the namespace's Pod Security level: set each field the message lists (e.g. securityContext.allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities.drop: [ALL], seccompProfile.type: RuntimeDefault)"
                ),
                Vec::new(),
            ),
            None => (
                format!("it cannot create pods: {message}"),
                format!(
                    "kubectl -n {namespace} describe {} {}",
                    object
                        .kind
                        .as_deref()
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                    object.name.as_deref().unwrap_or_default()
                ),
                Vec::new(),
            ),
        };
        let mut diagnosis = Diagnosis::new(&PODS_NOT_READY, workload.clone(), cause);
        diagnosis
            .evidence
            .extend(cluster::summarize_events("FailedCreate", &events));
        if controller != workload {
            diagnosis.symptoms.push(controller);
        }
        diagnosis.remedy = remedy;
        diagnoses.add_naming(diagnosis, &named);
    }
}

/// Whether the controller still has fewer pods than it wants (true when it is not in the snapshot).
fn still_creating(snapshot: &Snapshot, kind: &str, namespace: &str, name: &str) -> bool {
    let is = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        cluster::namespace(meta) == namespace && cluster::name(meta) == name
    };
    match kind {
        "ReplicaSet" => snapshot
            .replica_sets
            .iter()
            .find(|rs| is(&rs.metadata))
            .is_none_or(|rs| {
                let wanted = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let has = rs.status.as_ref().map_or(0, |s| s.replicas);
                has < wanted
            }),
        "StatefulSet" => snapshot
            .stateful_sets
            .iter()
            .find(|s| is(&s.metadata))
            .is_none_or(|set| {
                let wanted = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let has = set.status.as_ref().map_or(0, |s| s.replicas);
                has < wanted
            }),
        "DaemonSet" => snapshot
            .daemon_sets
            .iter()
            .find(|d| is(&d.metadata))
            .is_none_or(|set| {
                set.status
                    .as_ref()
                    .is_none_or(|s| s.current_number_scheduled < s.desired_number_scheduled)
            }),
        _ => true,
    }
}

/// The workload behind a controller: a ReplicaSet's Deployment, else the controller itself.
fn controller_workload(snapshot: &Snapshot, kind: &str, namespace: &str, name: &str) -> String {
    if kind == "ReplicaSet"
        && let Some(owner) = snapshot
            .replica_sets
            .iter()
            .find(|rs| {
                cluster::namespace(&rs.metadata) == namespace && cluster::name(&rs.metadata) == name
            })
            .and_then(|rs| rs.metadata.owner_references.as_ref()?.first())
    {
        return cluster::subject_of(&owner.kind, Some(namespace), &owner.name);
    }
    cluster::subject_of(kind, Some(namespace), name)
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, gateway_pods_in, of_check, snapshot};
    use super::*;

    #[test]
    fn only_credentials_network_or_a_bare_back_off_blame_the_nodes_access() {
        for access in [
            "failed to authorize: 403 Forbidden",
            "dial tcp 10.0.0.1:443: i/o timeout",
            "Back-off pulling image \"x\"",
        ] {
            assert!(reads_as_access_failure(access), "{access}");
        }
        assert!(!reads_as_access_failure(
            "no match for platform in manifest: not found"
        ));
    }

    fn not_ready(container_status: &str) -> String {
        gateway_pods_in(&format!(
            "status:\n  phase: Running\n  conditions: [{{type: PodScheduled, status: \"True\"}}, {{type: Ready, status: \"False\", reason: ContainersNotReady, message: \"containers with unready status: [gateway-api]\"}}]\n  containerStatuses:\n  - {container_status}"
        ))
    }

    fn pod_diagnoses(snapshot: &Snapshot) -> Vec<Diagnosis> {
        of_check(&diagnose(snapshot), "pods-not-ready")
            .into_iter()
            .cloned()
            .collect()
    }

    const BOTH_PODS: [&str; 2] = [
        "Pod tacos-app/gateway-api-7d9-abc",
        "Pod tacos-app/gateway-api-7d9-def",
    ];

    #[test]
    fn young_pods_with_nothing_wrong_are_one_note_and_past_the_grace_they_are_diagnosed() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {running: {}}}",
        );
        let mut snapshot = snapshot(&yaml);
        let created = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        for pod in &mut snapshot.pods {
            pod.metadata.creation_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(created),
            );
        }
        snapshot.taken_at = Some(created + jiff::SignedDuration::from_secs(30));
        let found = pod_diagnoses(&snapshot);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Info);
        assert_eq!(found[0].subject, "2 pod(s) starting");
        assert_eq!(found[0].symptoms, BOTH_PODS);
        assert!(
            found[0].cause.contains("Deployment tacos-app/gateway-api"),
            "{}",
            found[0].cause
        );

        snapshot.taken_at = Some(created + jiff::SignedDuration::from_secs(600));
        let found = pod_diagnoses(&snapshot);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].symptoms, BOTH_PODS);
    }

    #[test]
    fn ready_pods_are_silent() {
        assert!(pod_diagnoses(&snapshot(HEALTHY)).is_empty());
    }

    #[test]
    fn finished_and_evicted_pods_are_not_stuck() {
        let yaml = gateway_pods_in("status: {phase: Failed, reason: Evicted}");
        assert!(pod_diagnoses(&snapshot(&yaml)).is_empty());
        let yaml = gateway_pods_in("status: {phase: Succeeded}");
        assert!(pod_diagnoses(&snapshot(&yaml)).is_empty());
    }

    #[test]
    fn pods_pulling_the_same_missing_image_are_one_diagnosis_naming_the_registry() {
        let mut yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image \"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2\"'}}}",
        );
        yaml.push_str(r#"
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9-abc.2, namespace: tacos-app}
involvedObject: {kind: Pod, namespace: tacos-app, name: gateway-api-7d9-abc, fieldPath: "spec.containers{gateway-api}"}
reason: Failed
count: 4
message: 'Failed to pull image "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2": not found'
"#);
        let found = pod_diagnoses(&snapshot(&yaml));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].subject, "Deployment tacos-app/gateway-api");
        assert_eq!(
            found[0].cause,
            "image 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2 of container gateway-api cannot be pulled from 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com: Failed to pull image \"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2\": not found"
        );
        assert_eq!(found[0].symptoms, BOTH_PODS);
        assert!(found[0].remedy.starts_with(
            "check the tag exists: aws ecr describe-images --registry-id 123456789012 --region ap-northeast-2 --repository-name traffic-tacos/gateway-api --image-ids imageTag=1.4.2;"
        ), "{}", found[0].remedy);
    }

    #[test]
    fn image_references_name_their_registry_docker_io_when_none() {
        let parsed = |image| {
            let r = ImageRef::parse(image);
            (r.registry, r.repository, r.tag)
        };
        assert_eq!(parsed("redis:7"), ("docker.io", "redis", Some("7")));
        assert_eq!(
            parsed("bitnami/redis"),
            ("docker.io", "bitnami/redis", None)
        );
        assert_eq!(
            parsed("localhost:5000/app:1"),
            ("localhost:5000", "app", Some("1"))
        );
        assert_eq!(
            parsed("ghcr.io/org/app@sha256:abc"),
            ("ghcr.io", "org/app", Some("sha256:abc"))
        );
    }

    #[test]
    fn crash_loop_shows_the_exit_and_the_last_log_lines() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 12, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 1, reason: Error}}}",
        );
        let mut snapshot = snapshot(&yaml);
        snapshot.logs.insert(
            "tacos-app/gateway-api-7d9-def/gateway-api".into(),
            "starting gateway\nconfig: REDIS_PASSWORD is empty\npanic: cannot start\n".into(),
        );
        let found = pod_diagnoses(&snapshot);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].cause,
            "container gateway-api keeps crashing (CrashLoopBackOff): it last exited with Error (exit code 1)"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "restarted 12 times",
                "last log lines of tacos-app/gateway-api-7d9-def/gateway-api:",
                "  starting gateway",
                "  config: REDIS_PASSWORD is empty",
                "  panic: cannot start",
            ]
        );
        assert_eq!(
            found[0].remedy,
            "read why it exits: kubectl -n tacos-app logs gateway-api-7d9-abc -c gateway-api --previous; fix the cause in its image or configuration, and the pods restart on their own"
        );
    }

    #[test]
    fn out_of_memory_crash_asks_for_a_higher_limit() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 137, reason: OOMKilled}}}",
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert!(found[0].remedy.starts_with(
            "it was killed for memory: raise resources.limits.memory of container gateway-api"
        ));
    }

    #[test]
    fn missing_secret_is_named_from_the_kubelet_message() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: CreateContainerConfigError, message: 'secret \"redis-auth\" not found'}}}",
        )
        .replace(
            "        - {name: LISTEN_ADDR, value: \":8000\"}",
            "        - {name: LISTEN_ADDR, value: \":8000\"}\n        - {name: REDIS_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: password}}}",
        )
        .replace(
            "  containers: [{name: gateway-api, image: 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2}]",
            "  containers: [{name: gateway-api, image: gateway-api, env: [{name: REDIS_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: password}}}]}]",
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].cause,
            "container gateway-api cannot be created (CreateContainerConfigError): Secret tacos-app/redis-auth does not exist (used by env REDIS_PASSWORD of container gateway-api)"
        );
        assert_eq!(
            found[0].evidence,
            vec!["kubelet: secret \"redis-auth\" not found"]
        );
        assert!(
            found[0]
                .remedy
                .starts_with("create Secret tacos-app/redis-auth")
        );
    }

    #[test]
    fn missing_secret_key_is_named() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: CreateContainerConfigError, message: \"couldn't find key password in Secret tacos-app/redis-auth\"}}}",
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert!(
            found[0]
                .cause
                .ends_with("Secret tacos-app/redis-auth has no key password"),
            "{}",
            found[0].cause
        );
        assert!(
            found[0]
                .remedy
                .starts_with("add key password to Secret tacos-app/redis-auth")
        );
    }

    #[test]
    fn secret_synced_by_a_provider_class_says_to_mount_it() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: CreateContainerConfigError, message: 'secret \"gateway-api-env\" not found'}}}",
        )
        .replace(
            "  provider: aws\n",
            "  provider: aws\n  secretObjects: [{secretName: gateway-api-env, type: Opaque, data: [{objectName: password, key: password}]}]\n",
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert!(found[0].remedy.starts_with(
            "Secret gateway-api-env is synced from AWS Secrets Manager by SecretProviderClass tacos-app/gateway-api-secrets"
        ), "{}", found[0].remedy);
    }

    #[test]
    fn missing_config_map_key_is_found_against_the_snapshot() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {waiting: {reason: CreateContainerConfigError, message: \"failed to prepare the environment\"}}}",
        )
        .replace(
            "  containers: [{name: gateway-api, image: 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2}]",
            "  containers: [{name: gateway-api, image: gateway-api, env: [{name: REDIS_HOST, valueFrom: {configMapKeyRef: {name: redis, key: host}}}]}]",
        ) + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: redis, namespace: tacos-app}\ndata: {address: x}\n";
        let found = pod_diagnoses(&snapshot(&yaml));
        assert!(
            found[0].cause.ends_with("ConfigMap tacos-app/redis has no key host (used by env REDIS_HOST of container gateway-api)"),
            "{}",
            found[0].cause
        );
    }

    #[test]
    fn unschedulable_pods_quote_the_scheduler_and_say_what_to_change() {
        let yaml = gateway_pods_in(
            "status:\n  phase: Pending\n  conditions: [{type: PodScheduled, status: \"False\", reason: Unschedulable, message: \"0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.\"}]",
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].cause,
            "2 of its pods cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
        assert!(
            found[0]
                .remedy
                .starts_with("lower resources.requests of Deployment tacos-app/gateway-api")
        );
    }

    #[test]
    fn failing_readiness_probe_says_what_the_app_answered() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {running: {}}}",
        )
        .replace(
            "  containers: [{name: gateway-api, image: 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos/gateway-api:1.4.2}]",
            "  containers: [{name: gateway-api, image: gateway-api, readinessProbe: {httpGet: {path: /health/ready, port: 8000}}}]",
        ) + r#"
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9-abc.3, namespace: tacos-app}
involvedObject: {kind: Pod, namespace: tacos-app, name: gateway-api-7d9-abc, fieldPath: "spec.containers{gateway-api}"}
reason: Unhealthy
count: 40
message: "Readiness probe failed: HTTP probe failed with statuscode: 503"
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9-def.3, namespace: tacos-app}
involvedObject: {kind: Pod, namespace: tacos-app, name: gateway-api-7d9-def, fieldPath: "spec.containers{gateway-api}"}
reason: Unhealthy
count: 38
message: "Readiness probe failed: HTTP probe failed with statuscode: 503"
"#;
        let found = pod_diagnoses(&snapshot(&yaml));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].cause,
            "the readiness probe of container gateway-api fails: HTTP probe failed with statuscode: 503"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "event Unhealthy (78 times across 2 objects): Readiness probe failed: HTTP probe failed with statuscode: 503",
                "readinessProbe: HTTP GET :8000/health/ready",
            ]
        );
        assert_eq!(found[0].symptoms, BOTH_PODS);
    }

    #[test]
    fn running_but_not_ready_without_other_signal_is_generic() {
        let yaml = not_ready(
            "{name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false, restartCount: 0, state: {running: {}}}",
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].cause,
            "2 of its pods are Running but not Ready, with no more specific signal (ContainersNotReady: containers with unready status: [gateway-api])"
        );
    }

    #[test]
    fn different_causes_in_one_workload_are_separate_diagnoses() {
        let yaml = HEALTHY
            .replacen(
                "ready: true, restartCount: 0, state: {running: {}}}",
                "ready: false, restartCount: 5, state: {waiting: {reason: CrashLoopBackOff}}}",
                1,
            )
            .replacen(
                "{type: Ready, status: \"True\"}]\n  containerStatuses:\n  - {name: gateway-api",
                "{type: Ready, status: \"False\"}]\n  containerStatuses:\n  - {name: gateway-api",
                1,
            );
        let yaml = yaml.replacen(
            "{type: Ready, status: \"True\"}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: true",
            "{type: Ready, status: \"False\"}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false",
            1,
        );
        let found = pod_diagnoses(&snapshot(&yaml));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].symptoms, ["Pod tacos-app/gateway-api-7d9-abc"]);
        assert_eq!(found[1].symptoms, ["Pod tacos-app/gateway-api-7d9-def"]);
    }

    #[test]
    fn exceeded_quota_is_named_once_for_the_deployment() {
        let yaml = HEALTHY.replace(
            "status: {replicas: 2, readyReplicas: 2}",
            "status: {replicas: 1, readyReplicas: 1}",
        ) + r#"
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9.1, namespace: tacos-app}
involvedObject: {kind: ReplicaSet, namespace: tacos-app, name: gateway-api-7d9}
reason: FailedCreate
count: 17
message: 'Error creating: pods "gateway-api-7d9-xyz" is forbidden: exceeded quota: tacos-app-quota, requested: requests.cpu=500m, used: requests.cpu=8, limited: requests.cpu=8'
"#;
        let diagnoses = diagnose(&snapshot(&yaml));
        let found = of_check(&diagnoses, "pods-not-ready");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(found[0].subject, "Deployment tacos-app/gateway-api");
        assert_eq!(
            found[0].cause,
            "it cannot create pods: ResourceQuota tacos-app/tacos-app-quota is exhausted (requested: requests.cpu=500m, used: requests.cpu=8, limited: requests.cpu=8)"
        );
        assert_eq!(found[0].symptoms, ["ReplicaSet tacos-app/gateway-api-7d9"]);
        assert!(
            of_check(&diagnoses, "quota-exhausted").is_empty(),
            "{diagnoses:#?}"
        );
    }

    #[test]
    fn failed_create_of_a_controller_that_caught_up_is_history() {
        let yaml = HEALTHY.to_string()
            + r#"
---
apiVersion: v1
kind: Event
metadata: {name: gateway-api-7d9.1, namespace: tacos-app}
involvedObject: {kind: ReplicaSet, namespace: tacos-app, name: gateway-api-7d9}
reason: FailedCreate
message: 'Error creating: pods "gateway-api-7d9-xyz" is forbidden: exceeded quota: tacos-app-quota'
"#;
        assert!(pod_diagnoses(&snapshot(&yaml)).is_empty());
    }
}
