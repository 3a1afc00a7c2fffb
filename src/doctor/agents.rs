//! Node agents (DaemonSets) missing from nodes whose pods need them, e.g. a CSI provider that does not tolerate a node's taint.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};

use super::analysis::Diagnoses;
use super::cluster::{self, node_name, pod_is_stuck};
use super::scheduling::{DAEMON_SET_TOLERATED_KEYS, Exclusion, exclusion, toleration_yaml};
use super::{Diagnosis, Snapshot};
use crate::report::{Severity, rule};

rule!(
    NODE_AGENT_MISSING,
    "doctor",
    "node-agent-missing",
    Error,
    "node agents (DaemonSets) run on every node whose pods need them",
    "let the DaemonSet's pod template tolerate the node's taints and match its labels"
);

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    // Without the pods, every DaemonSet would look absent everywhere.
    if !cluster::readable(snapshot, "pods") {
        return;
    }
    for daemon_set in &snapshot.daemon_sets {
        if let Some(diagnosis) = diagnose_daemon_set(snapshot, daemon_set) {
            diagnoses.add(diagnosis);
        }
    }
}

/// A Ready node the DaemonSet has no pod on.
struct MissingNode<'a> {
    node: &'a Node,
    /// Why its template cannot run there; None when nothing in the template explains it.
    exclusion: Option<Exclusion>,
    /// Stuck pods on the node that need the agent.
    needing: Vec<&'a Pod>,
}

impl MissingNode<'_> {
    fn name(&self) -> &str {
        cluster::name(&self.node.metadata)
    }

    fn describe(&self) -> String {
        match &self.exclusion {
            Some(exclusion) => format!("{} ({})", self.name(), exclusion.describe()),
            None => format!("{} (no pod scheduled there)", self.name()),
        }
    }
}

fn diagnose_daemon_set(snapshot: &Snapshot, daemon_set: &DaemonSet) -> Option<Diagnosis> {
    let spec = daemon_set.spec.as_ref()?.template.spec.as_ref()?;
    let name = cluster::name(&daemon_set.metadata);
    let agent = AgentIdentity::of(daemon_set);
    let agent_pods: Vec<&Pod> = snapshot
        .pods
        .iter()
        .filter(|pod| pod.metadata.namespace == daemon_set.metadata.namespace)
        .filter(|pod| {
            pod.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|owner| owner.kind == "DaemonSet" && owner.name == name)
        })
        .collect();
    let mut running = 0;
    let mut missing = Vec::new();
    let mut unready = Vec::new();
    let schedulable = snapshot.nodes.iter().filter(|node| {
        cluster::node_is_ready(node)
            && !node
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false)
    });
    for node in schedulable {
        let node_name_ = cluster::name(&node.metadata);
        let needing: Vec<&Pod> = snapshot
            .pods
            .iter()
            .filter(|pod| node_name(pod) == Some(node_name_) && pod_is_stuck(pod))
            .filter(|pod| agent.serves_pod(snapshot, pod))
            .collect();
        let on_node: Vec<&Pod> = agent_pods
            .iter()
            .copied()
            .filter(|pod| node_name(pod) == Some(node_name_))
            .collect();
        if on_node.is_empty() {
            missing.push(MissingNode {
                node,
                exclusion: exclusion(spec, node, DAEMON_SET_TOLERATED_KEYS),
                needing,
            });
            continue;
        }
        running += 1;
        if !needing.is_empty() && on_node.iter().all(|pod| pod_is_stuck(pod)) {
            unready.push(UnreadyAgent {
                node: node_name_,
                agents: on_node,
                needing,
            });
        }
    }
    let (needed, not_needed): (Vec<MissingNode>, Vec<MissingNode>) =
        missing.into_iter().partition(|m| !m.needing.is_empty());
    let subject = cluster::subject("DaemonSet", &daemon_set.metadata);
    if !needed.is_empty() {
        let mut diagnosis =
            needed_on_nodes(snapshot, daemon_set, spec, running, &needed, &not_needed);
        for agent in &unready {
            diagnosis
                .evidence
                .push(format!("also not Ready on node {}", agent.node));
            diagnosis.symptoms.extend(agent.symptoms(snapshot));
        }
        return Some(diagnosis);
    }
    if !unready.is_empty() {
        return Some(unready_on_nodes(snapshot, &subject, &unready));
    }
    let tainted: Vec<&MissingNode> = not_needed
        .iter()
        .filter(|m| matches!(m.exclusion, Some(Exclusion::Taints(_))))
        .collect();
    if tainted.is_empty() {
        return None;
    }
    let shown: Vec<String> = tainted.iter().map(|m| m.describe()).collect();
    let mut diagnosis = Diagnosis::new(
        &NODE_AGENT_MISSING,
        subject.clone(),
        format!(
            "{subject} runs on {running} of {} Ready nodes; missing on {} {}, where no pod needs it yet",
            running + tainted.len(),
            nodes_noun(tainted.len()),
            shown.join(", ")
        ),
    );
    diagnosis.severity = Severity::Warning;
    diagnosis.remedy = remedy(&subject, spec, &tainted);
    Some(diagnosis)
}

/// A node where the DaemonSet has pods, none of them Ready, while pods there need it.
struct UnreadyAgent<'a> {
    node: &'a str,
    agents: Vec<&'a Pod>,
    needing: Vec<&'a Pod>,
}

impl UnreadyAgent<'_> {
    /// The waiting pods, their workloads, and the agent's own pods.
    fn symptoms(&self, snapshot: &Snapshot) -> Vec<String> {
        let mut symptoms = cluster::pod_symptoms(snapshot, &self.needing);
        symptoms.extend(self.agents.iter().map(|pod| cluster::pod_subject(pod)));
        symptoms
    }
}

fn unready_on_nodes(snapshot: &Snapshot, subject: &str, unready: &[UnreadyAgent]) -> Diagnosis {
    let first = unready[0].agents[0];
    let states: Vec<String> = unready
        .iter()
        .map(|u| format!("{} ({})", u.node, agent_state(u.agents[0])))
        .collect();
    let waiting: usize = unready.iter().map(|u| u.needing.len()).sum();
    let mut diagnosis = Diagnosis::new(
        &NODE_AGENT_MISSING,
        subject,
        format!(
            "{subject} is not Ready on {} {}, where {waiting} pod(s) need it",
            nodes_noun(unready.len()),
            states.join(", ")
        ),
    );
    let stuck: Vec<&Pod> = unready
        .iter()
        .flat_map(|u| u.needing.iter().copied())
        .collect();
    diagnosis.evidence.extend(mount_failures(snapshot, &stuck));
    let qualified = cluster::qualified(&first.metadata);
    for (key, log) in snapshot.logs.range(format!("{qualified}/")..) {
        if !key.starts_with(&format!("{qualified}/")) {
            break;
        }
        diagnosis.evidence.push(format!("last log lines of {key}:"));
        diagnosis.evidence.extend(
            cluster::last_lines(log, 5)
                .into_iter()
                .map(|line| format!("  {line}")),
        );
    }
    diagnosis.symptoms = unready.iter().flat_map(|u| u.symptoms(snapshot)).collect();
    diagnosis.remedy = format!(
        "read why the agent is not Ready: kubectl -n {} describe pod {}; kubectl -n {} logs {} --all-containers --previous; the pods waiting for it start once it is Ready",
        cluster::namespace(&first.metadata),
        cluster::name(&first.metadata),
        cluster::namespace(&first.metadata),
        cluster::name(&first.metadata)
    );
    diagnosis
}

/// A pod's state in a few words: its first waiting or failed container, e.g. `CrashLoopBackOff, last exit Error (exit code 1)`.
fn agent_state(pod: &Pod) -> String {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let troubled = statuses.iter().find(|s| !s.ready);
    let Some(status) = troubled else {
        return pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "not Ready".into());
    };
    let state = status.state.as_ref();
    let now = state
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone())
        .or_else(|| {
            state
                .and_then(|s| s.running.as_ref())
                .map(|_| "running, not ready".into())
        })
        .unwrap_or_else(|| "not ready".into());
    match status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
    {
        Some(exit) => format!(
            "{now}, last exit {} (exit code {})",
            exit.reason.as_deref().unwrap_or("terminated"),
            exit.exit_code
        ),
        None => now,
    }
}

fn needed_on_nodes(
    snapshot: &Snapshot,
    daemon_set: &DaemonSet,
    spec: &PodSpec,
    running: usize,
    needed: &[MissingNode],
    not_needed: &[MissingNode],
) -> Diagnosis {
    let subject = cluster::subject("DaemonSet", &daemon_set.metadata);
    let shown: Vec<String> = needed.iter().map(MissingNode::describe).collect();
    let mut diagnosis = Diagnosis::new(
        &NODE_AGENT_MISSING,
        subject.clone(),
        format!(
            "{subject} runs on {running} of {} nodes that need it; missing on {} {}",
            running + needed.len(),
            nodes_noun(needed.len()),
            shown.join(", ")
        ),
    );
    let stuck: Vec<&Pod> = needed
        .iter()
        .flat_map(|m| m.needing.iter().copied())
        .collect();
    diagnosis.evidence.extend(mount_failures(snapshot, &stuck));
    for missing in needed {
        diagnosis.evidence.push(format!(
            "{} pod(s) on node {} wait for it: {}",
            missing.needing.len(),
            missing.name(),
            missing
                .needing
                .iter()
                .map(|pod| cluster::qualified(&pod.metadata))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(status) = &daemon_set.status {
        diagnosis.evidence.push(format!(
            "its status counts only the nodes it may run on: {} desired, {} ready",
            status.desired_number_scheduled, status.number_ready
        ));
    }
    let elsewhere: Vec<String> = not_needed
        .iter()
        .filter(|m| matches!(m.exclusion, Some(Exclusion::Taints(_))))
        .map(MissingNode::describe)
        .collect();
    if !elsewhere.is_empty() {
        diagnosis.evidence.push(format!(
            "also missing on {}, where no pod needs it yet",
            elsewhere.join(", ")
        ));
    }
    diagnosis.symptoms = cluster::pod_symptoms(snapshot, &stuck);
    let needed_refs: Vec<&MissingNode> = needed.iter().collect();
    diagnosis.remedy = remedy(&subject, spec, &needed_refs);
    diagnosis
}

fn nodes_noun(count: usize) -> &'static str {
    if count == 1 { "node" } else { "nodes" }
}

/// What to change so the DaemonSet reaches the nodes: the tolerations to add, the selector to widen.
fn remedy(subject: &str, spec: &PodSpec, missing: &[&MissingNode]) -> String {
    let mut taints = Vec::new();
    let mut remedies = Vec::new();
    for node in missing {
        match &node.exclusion {
            Some(Exclusion::Taints(untolerated)) => {
                for taint in untolerated {
                    if !taints.contains(taint) {
                        taints.push(taint.clone());
                    }
                }
            }
            Some(Exclusion::NodeSelector(pairs)) => remedies.push(format!(
                "spec.template.spec.nodeSelector of {subject} requires {}, which node {} lacks: widen the nodeSelector or label the node (kubectl label node {} {})",
                pairs.join(", "),
                node.name(),
                node.name(),
                pairs.join(" ")
            )),
            Some(Exclusion::NodeAffinity) => remedies.push(format!(
                "spec.template.spec.affinity.nodeAffinity of {subject} excludes node {}: widen its required terms",
                node.name()
            )),
            None => remedies.push(format!(
                "nothing in {subject}'s template excludes node {}: see why no pod was placed there (kubectl -n {} describe daemonset {})",
                node.name(),
                subject_namespace(subject),
                subject_name(subject)
            )),
        }
    }
    if !taints.is_empty() {
        let tolerations: Vec<String> = taints.iter().map(toleration_yaml).collect();
        let existing = spec.tolerations.as_deref().unwrap_or_default().len();
        let keep = if existing > 0 {
            format!(" next to its {existing} existing toleration(s)")
        } else {
            String::new()
        };
        remedies.insert(
            0,
            format!(
                "add to spec.template.spec.tolerations of {subject} (in its manifest or Helm values){keep}: tolerations: [{}]",
                tolerations.join(", ")
            ),
        );
    }
    remedies.join("; ")
}

fn subject_namespace(subject: &str) -> &str {
    subject
        .split_once(' ')
        .and_then(|(_, qualified)| qualified.split_once('/'))
        .map_or("default", |(namespace, _)| namespace)
}

fn subject_name(subject: &str) -> &str {
    subject.rsplit('/').next().unwrap_or(subject)
}

/// What a DaemonSet says about itself, to tell which pod volumes it serves.
///
/// Heuristic: a pod needs the agent when it mounts a CSI volume whose driver the DaemonSet names
/// (the driver's full name in its args, e.g. `--drivername=secrets-store.csi.k8s.io`, or its first
/// label as words of its name, labels or images, e.g. `secrets-store` in `csi-secrets-store`, `efs`
/// in `efs-csi-node`). Secrets Store CSI providers run as DaemonSets of their own, named for the
/// provider (`csi-secrets-store-provider-aws`, `vault-csi-provider`): such a DaemonSet serves only
/// secrets-store volumes whose SecretProviderClass has that `spec.provider`. A FailedMount event on
/// such a pod is the evidence, not the test: the volume names its driver, the event does not reliably.
struct AgentIdentity {
    /// Words of its name, label values, container names and images.
    words: Vec<String>,
    /// All of it, args included, for full driver names.
    text: String,
    /// The Secrets Store provider it is, when it is one.
    provider: Option<String>,
}

impl AgentIdentity {
    fn of(daemon_set: &DaemonSet) -> AgentIdentity {
        let mut named: Vec<String> = vec![cluster::name(&daemon_set.metadata).to_string()];
        named.extend(
            daemon_set
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(_, v)| v.clone()),
        );
        let template = daemon_set.spec.as_ref().map(|s| &s.template);
        named.extend(
            template
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref())
                .into_iter()
                .flatten()
                .map(|(_, v)| v.clone()),
        );
        let containers = template
            .and_then(|t| t.spec.as_ref())
            .map(|s| s.containers.as_slice())
            .unwrap_or_default();
        for container in containers {
            named.push(container.name.clone());
            named.extend(
                container
                    .image
                    .iter()
                    .map(|image| image_path(image).to_string()),
            );
        }
        let args: Vec<&str> = containers
            .iter()
            .flat_map(|c| c.args.iter().flatten().chain(c.command.iter().flatten()))
            .map(String::as_str)
            .collect();
        let lower = |s: &str| s.to_ascii_lowercase();
        let words: Vec<String> = named.iter().flat_map(|n| words_of(&lower(n))).collect();
        let provider = named
            .iter()
            .find_map(|n| provider_named(&words_of(&lower(n))));
        let text = lower(&format!("{} {}", named.join(" "), args.join(" ")));
        AgentIdentity {
            words,
            text,
            provider,
        }
    }

    fn serves_pod(&self, snapshot: &Snapshot, pod: &Pod) -> bool {
        let volumes = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or_default();
        volumes.iter().filter_map(|v| v.csi.as_ref()).any(|csi| {
            let provider = csi
                .volume_attributes
                .as_ref()
                .and_then(|a| a.get("secretProviderClass"))
                .and_then(|class| {
                    secret_provider(snapshot, cluster::namespace(&pod.metadata), class)
                });
            self.serves(&csi.driver, provider.as_deref())
        })
    }

    fn serves(&self, driver: &str, provider: Option<&str>) -> bool {
        if let Some(own) = &self.provider {
            return driver.starts_with("secrets-store.") && provider == Some(own.as_str());
        }
        let driver = driver.to_ascii_lowercase();
        let stem = words_of(driver.split('.').next().unwrap_or_default());
        self.text.contains(&driver)
            || (!stem.is_empty() && self.words.windows(stem.len()).any(|w| w == stem.as_slice()))
    }
}

/// The provider a Secrets Store provider is named for: the word after `provider` (`...-provider-aws`),
/// or before `csi-provider` / `provider` (`vault-csi-provider`).
fn provider_named(words: &[String]) -> Option<String> {
    let at = words.iter().position(|w| w == "provider")?;
    if let Some(after) = words.get(at + 1) {
        return Some(after.clone());
    }
    words[..at]
        .iter()
        .rev()
        .find(|w| *w != "csi" && *w != "secrets" && *w != "store")
        .cloned()
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// An image reference without registry and tag: `public.ecr.aws/aws/x:1` → `aws/x`.
fn image_path(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let path = match without_digest.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => rest,
        _ => without_digest,
    };
    path.rsplit_once(':').map_or(path, |(name, _)| name)
}

/// `spec.provider` of the SecretProviderClass `namespace`/`name`.
fn secret_provider(snapshot: &Snapshot, namespace: &str, name: &str) -> Option<String> {
    snapshot
        .secret_provider_classes
        .iter()
        .find(|class| {
            class["metadata"]["namespace"].as_str() == Some(namespace)
                && class["metadata"]["name"].as_str() == Some(name)
        })
        .and_then(|class| class["spec"]["provider"].as_str())
        .map(str::to_ascii_lowercase)
}

/// The FailedMount events of the stuck pods, summed into one line.
fn mount_failures(snapshot: &Snapshot, stuck: &[&Pod]) -> Option<String> {
    let events: Vec<_> = stuck
        .iter()
        .flat_map(|pod| cluster::pod_events(snapshot, pod))
        .filter(|event| cluster::event_reason(event) == "FailedMount")
        .collect();
    cluster::summarize_events("FailedMount", &events)
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, healthy_with, of_check, provider_outage, snapshot};
    use super::*;

    #[test]
    fn daemon_sets_on_every_node_are_silent() {
        assert!(of_check(&diagnose(&snapshot(HEALTHY)), "node-agent-missing").is_empty());
    }

    #[test]
    fn csi_provider_missing_on_the_node_of_stuck_pods_is_one_diagnosis() {
        let diagnoses = diagnose(&snapshot(&provider_outage()));
        let found = of_check(&diagnoses, "node-agent-missing");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        let diagnosis = found[0];
        assert_eq!(diagnosis.severity, Severity::Error);
        assert_eq!(
            diagnosis.subject,
            "DaemonSet kube-system/csi-secrets-store-provider-aws"
        );
        assert_eq!(
            diagnosis.cause,
            "DaemonSet kube-system/csi-secrets-store-provider-aws runs on 2 of 3 nodes that need it; missing on node ip-10-0-3-12 (taint spot=true:NoSchedule not tolerated)"
        );
        assert_eq!(
            diagnosis.symptoms,
            vec![
                "Deployment tacos-app/gateway-api",
                "Pod tacos-app/gateway-api-7d9-abc",
                "Pod tacos-app/gateway-api-7d9-def",
            ]
        );
        assert!(diagnosis.evidence[0].starts_with(
            "event FailedMount (21 times across 2 objects): MountVolume.SetUp failed for volume \"secrets\""
        ));
        assert!(diagnosis.evidence[0].contains("aws.sock"));
        assert_eq!(
            diagnosis.remedy,
            "add to spec.template.spec.tolerations of DaemonSet kube-system/csi-secrets-store-provider-aws (in its manifest or Helm values): tolerations: [{key: spot, operator: Equal, value: \"true\", effect: NoSchedule}]"
        );
    }

    #[test]
    fn pods_waiting_for_a_missing_agent_are_not_reported_again() {
        let diagnoses = diagnose(&snapshot(&provider_outage()));
        assert!(
            of_check(&diagnoses, "pods-not-ready").is_empty(),
            "{diagnoses:#?}"
        );
        assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    }

    #[test]
    fn driver_on_every_node_is_not_blamed_for_its_provider() {
        let diagnoses = diagnose(&snapshot(&provider_outage()));
        assert!(
            diagnoses
                .iter()
                .all(|d| d.subject != "DaemonSet kube-system/csi-secrets-store"),
            "{diagnoses:#?}"
        );
    }

    #[test]
    fn agent_missing_only_where_no_pod_needs_it_is_a_warning() {
        let yaml = provider_outage().replace(
            "  nodeName: ip-10-0-3-12\n  containers: [{name: gateway-api",
            "  nodeName: ip-10-0-2-11\n  containers: [{name: gateway-api",
        );
        let diagnoses = diagnose(&snapshot(&yaml));
        let found = of_check(&diagnoses, "node-agent-missing");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(
            found[0].cause,
            "DaemonSet kube-system/csi-secrets-store-provider-aws runs on 2 of 3 Ready nodes; missing on node ip-10-0-3-12 (taint spot=true:NoSchedule not tolerated), where no pod needs it yet"
        );
        assert!(found[0].symptoms.is_empty());
    }

    #[test]
    fn agent_kept_off_a_node_by_its_node_selector_is_by_design() {
        let extra = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: gpu-agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: gpu-agent}}
  template:
    metadata: {labels: {app: gpu-agent}}
    spec:
      nodeSelector: {accelerator: nvidia}
      containers: [{name: agent, image: gpu-agent:1}]
"#;
        assert!(of_check(&diagnose(&healthy_with(extra)), "node-agent-missing").is_empty());
    }

    #[test]
    fn agent_excluded_by_node_affinity_where_pods_need_it_says_so() {
        let yaml = provider_outage().replace(
            "      nodeSelector: {kubernetes.io/os: linux}\n      containers:\n      - {name: provider-aws-installer",
            "      nodeSelector: {kubernetes.io/os: linux}\n      tolerations: [{operator: Exists}]\n      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms: [{matchExpressions: [{key: capacity, operator: NotIn, values: [spot]}]}]\n      containers:\n      - {name: provider-aws-installer",
        );
        let diagnoses = diagnose(&snapshot(&yaml));
        let found = of_check(&diagnoses, "node-agent-missing");
        assert_eq!(found.len(), 1, "{diagnoses:#?}");
        assert!(
            found[0]
                .cause
                .ends_with("missing on node ip-10-0-3-12 (required node affinity not matched)")
        );
        assert!(found[0].remedy.contains("affinity.nodeAffinity"));
    }

    #[test]
    fn crashing_agent_claims_the_pods_waiting_for_it() {
        let yaml = HEALTHY
            .replace(
                "  name: csi-secrets-store-provider-aws-c\n  namespace: kube-system\n  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: csi-secrets-store-provider-aws, uid: d2, controller: true}]\nspec: {nodeName: ip-10-0-3-12, containers: [{name: provider-aws-installer, image: provider}]}\nstatus: {phase: Running, conditions: [{type: Ready, status: \"True\"}]}",
                "  name: csi-secrets-store-provider-aws-c\n  namespace: kube-system\n  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: csi-secrets-store-provider-aws, uid: d2, controller: true}]\nspec: {nodeName: ip-10-0-3-12, containers: [{name: provider-aws-installer, image: provider}]}\nstatus:\n  phase: Running\n  conditions: [{type: Ready, status: \"False\"}]\n  containerStatuses: [{name: provider-aws-installer, image: provider, imageID: \"\", ready: false, restartCount: 6, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 2, reason: Error}}}]",
            )
            .replace(
                "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"True\"}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: true",
                "conditions: [{type: PodScheduled, status: \"True\"}, {type: Ready, status: \"False\"}]\n  containerStatuses:\n  - {name: gateway-api, image: gateway-api:1.4.2, imageID: \"\", ready: false",
            );
        let mut snapshot = snapshot(&yaml);
        snapshot.logs.insert(
            "kube-system/csi-secrets-store-provider-aws-c/provider-aws-installer".into(),
            "fatal: could not create socket\n".into(),
        );
        let diagnoses = diagnose(&snapshot);
        assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
        assert_eq!(
            diagnoses[0].cause,
            "DaemonSet kube-system/csi-secrets-store-provider-aws is not Ready on node ip-10-0-3-12 (CrashLoopBackOff, last exit Error (exit code 2)), where 2 pod(s) need it"
        );
        assert!(
            diagnoses[0]
                .evidence
                .contains(&"  fatal: could not create socket".to_string())
        );
        assert!(
            diagnoses[0]
                .symptoms
                .contains(&"Pod kube-system/csi-secrets-store-provider-aws-c".to_string())
        );
        assert!(
            diagnoses[0]
                .symptoms
                .contains(&"Deployment tacos-app/gateway-api".to_string())
        );
    }

    #[test]
    fn unreadable_pods_are_not_taken_for_absent_agents() {
        let mut snapshot = snapshot(HEALTHY);
        snapshot.pods.clear();
        snapshot
            .unreadable
            .push("cannot list pods: permission denied".into());
        assert!(of_check(&diagnose(&snapshot), "node-agent-missing").is_empty());
    }

    #[test]
    fn a_provider_serves_only_its_own_provider_volumes() {
        let daemon_set = |name: &str| {
            let yaml = format!(
                "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}, namespace: kube-system}}\nspec:\n  selector: {{matchLabels: {{app: x}}}}\n  template:\n    metadata: {{labels: {{app: x}}}}\n    spec: {{containers: [{{name: x, image: x, args: [--provider-volume=/etc/kubernetes/secrets-store-csi-providers]}}]}}\n"
            );
            AgentIdentity::of(&snapshot(&yaml).daemon_sets[0])
        };
        let aws = daemon_set("csi-secrets-store-provider-aws");
        assert!(aws.serves("secrets-store.csi.k8s.io", Some("aws")));
        assert!(!aws.serves("secrets-store.csi.k8s.io", Some("vault")));
        let vault = daemon_set("vault-csi-provider");
        assert!(vault.serves("secrets-store.csi.k8s.io", Some("vault")));
        let driver = daemon_set("csi-secrets-store");
        assert!(driver.serves("secrets-store.csi.k8s.io", Some("aws")));
        assert!(!driver.serves("efs.csi.aws.com", None));
        assert!(daemon_set("efs-csi-node").serves("efs.csi.aws.com", None));
        assert!(!daemon_set("aws-node").serves("secrets-store.csi.k8s.io", Some("aws")));
    }
}
