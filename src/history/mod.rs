//! Deploy history: one entry per phase run that changed the cluster (who, from which tree, what changed, where the Applications landed), kept on the cluster for `tacos history` and rollback.

pub mod store;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::repo::ObjectKey;

/// The version of the entry's JSON; a reader refuses entries of a newer one.
pub const FORMAT: u32 = 1;

/// One phase run, as `tacos deploy` (or a rollback) left it. Only object keys and outcomes are
/// kept, never an object's body: no Secret value can get in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub format: u32,
    pub phase: String,
    /// The phase's sequence number (as Helm's release revision); with the phase, the entry's id.
    pub revision: u32,
    pub environment: String,
    /// What wrote the entry: `deploy` (later `rollback`).
    pub command: String,
    pub tacos_version: String,
    /// The tree tacos rendered: its checkout's commit and whether the work tree had changes.
    pub tree: TreeState,
    /// What the environment's Applications sync: the repository and the revision asked for.
    pub source: GitSource,
    pub aws_caller_arn: String,
    pub kube: KubeIdentity,
    pub started: jiff::Timestamp,
    pub ended: jiff::Timestamp,
    pub result: RunResult,
    /// Every object created, configured or pruned, in the order it happened.
    pub objects: Vec<ObjectChange>,
    /// How many objects were applied without a change.
    pub unchanged: usize,
    /// Each Application the phase waited on and the commit it was synced to.
    pub applications: Vec<ApplicationSync>,
}

/// The checkout the tree was read from. `commit` is None when it is not a Git checkout (or git
/// cannot say), with the reason in `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeState {
    pub commit: Option<String>,
    pub dirty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

impl TreeState {
    /// `abc1234`, `abc1234+dirty`, or `unknown`.
    pub fn short(&self) -> String {
        match &self.commit {
            Some(commit) => {
                let short: String = commit.chars().take(7).collect();
                if self.dirty == Some(true) {
                    format!("{short}+dirty")
                } else {
                    short
                }
            }
            None => "unknown".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub revision: String,
}

/// The kube connection the run acted through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeIdentity {
    pub context: String,
    pub server: String,
    pub user: String,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum RunResult {
    /// The phase came up and its checks after applying passed.
    Up,
    /// Stopped at `step` (apply, wait, hooks, hand-over, postflight, ...) with the run's message.
    Failed { step: String, message: String },
    /// Ctrl-C.
    Interrupted,
}

impl fmt::Display for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunResult::Up => write!(f, "up"),
            RunResult::Failed { step, .. } => write!(f, "failed at {step}"),
            RunResult::Interrupted => write!(f, "interrupted"),
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Created,
    Configured,
    Pruned,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Pruned => "pruned",
        })
    }
}

/// One object's key and what the run did to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectChange {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub change: Change,
}

impl ObjectChange {
    pub fn new(key: &ObjectKey, change: Change) -> Self {
        Self {
            group: key.group.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            change,
        }
    }
}

impl fmt::Display for ObjectChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {}/{}", self.kind, namespace, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSync {
    pub name: String,
    pub commit: String,
}

/// What a phase run did so far, collected while it runs (an interrupted run keeps what it got to).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub objects: Vec<ObjectChange>,
    pub unchanged: usize,
    pub applications: Vec<ApplicationSync>,
}

impl Changes {
    /// Objects created, configured and pruned.
    pub fn counts(&self) -> (usize, usize, usize) {
        count(&self.objects)
    }
}

fn count(objects: &[ObjectChange]) -> (usize, usize, usize) {
    let of = |c: Change| objects.iter().filter(|o| o.change == c).count();
    (
        of(Change::Created),
        of(Change::Configured),
        of(Change::Pruned),
    )
}

impl Entry {
    /// The distinct commits the entry's Applications were synced to, sorted.
    pub fn application_commits(&self) -> Vec<&str> {
        let mut commits: Vec<&str> = self
            .applications
            .iter()
            .map(|a| a.commit.as_str())
            .collect();
        commits.sort_unstable();
        commits.dedup();
        commits
    }

    pub fn id(&self) -> HistoryId {
        HistoryId {
            phase: self.phase.clone(),
            revision: self.revision,
        }
    }

    /// Objects created, configured and pruned.
    pub fn counts(&self) -> (usize, usize, usize) {
        count(&self.objects)
    }

    /// `2 created, 1 configured, 0 pruned`.
    pub fn describe_counts(&self) -> String {
        let (created, configured, pruned) = self.counts();
        format!("{created} created, {configured} configured, {pruned} pruned")
    }
}

/// Whether a phase run is worth an entry: it changed objects, or (having come up) its
/// Applications are at other commits than the phase's last entry says (a new commit Argo CD
/// synced, with nothing of tacos's own to change). A failed or interrupted run only when it had
/// applied something.
pub fn worth_recording(changes: &Changes, result: &RunResult, previous: Option<&Entry>) -> bool {
    if !changes.objects.is_empty() {
        return true;
    }
    if *result != RunResult::Up || changes.applications.is_empty() {
        return false;
    }
    let mut now = changes.applications.clone();
    now.sort();
    let mut before = previous.map(|p| p.applications.clone()).unwrap_or_default();
    before.sort();
    now != before
}

/// What users type for an entry: `apps-3` (the phase and its revision).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HistoryId {
    pub phase: String,
    pub revision: u32,
}

impl fmt::Display for HistoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.phase, self.revision)
    }
}

impl std::str::FromStr for HistoryId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "\"{text}\" is not a history id: write the phase and its revision, e.g. apps-3 (see `tacos history`)"
            )
        };
        let (phase, revision) = text.trim().rsplit_once('-').ok_or_else(bad)?;
        let phase_ok = phase
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !phase.is_empty()
            && !phase.starts_with('-')
            && !phase.ends_with('-');
        if !phase_ok || revision.is_empty() || !revision.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let revision: u32 = revision.parse().map_err(|_| bad())?;
        if revision == 0 {
            return Err(bad());
        }
        Ok(HistoryId {
            phase: phase.to_string(),
            revision,
        })
    }
}

/// Newest first: by start time, then (for the same instant) by phase and revision, highest first.
pub fn newest_first(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        b.started
            .cmp(&a.started)
            .then_with(|| b.phase.cmp(&a.phase))
            .then_with(|| b.revision.cmp(&a.revision))
    });
}

/// The revisions of one phase to delete so that only the newest `keep` remain.
pub fn beyond_keep(revisions: &[u32], keep: usize) -> Vec<u32> {
    let mut sorted = revisions.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    sorted.into_iter().skip(keep.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey {
            group: String::new(),
            kind: kind.into(),
            namespace: namespace.map(Into::into),
            name: name.into(),
        }
    }

    fn entry(phase: &str, revision: u32, started: i64) -> Entry {
        Entry {
            format: FORMAT,
            phase: phase.into(),
            revision,
            environment: "prod".into(),
            command: "deploy".into(),
            tacos_version: "0.1.0".into(),
            tree: TreeState {
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                dirty: Some(true),
                unknown: None,
            },
            source: GitSource {
                repo_url: "https://example.com/tree.git".into(),
                revision: "main".into(),
            },
            aws_caller_arn: "arn:aws:iam::137406935518:user/ops".into(),
            kube: KubeIdentity {
                context: "prod".into(),
                server: "https://k8s.example.com".into(),
                user: "ops".into(),
            },
            started: jiff::Timestamp::from_second(started).unwrap(),
            ended: jiff::Timestamp::from_second(started + 30).unwrap(),
            result: RunResult::Failed {
                step: "wait".into(),
                message: "phase apps did not come up".into(),
            },
            objects: vec![
                ObjectChange::new(&key("Namespace", None, "tacos-app"), Change::Created),
                ObjectChange::new(
                    &key("ConfigMap", Some("tacos-app"), "settings"),
                    Change::Configured,
                ),
            ],
            unchanged: 4,
            applications: vec![ApplicationSync {
                name: "inventory-api".into(),
                commit: "f".repeat(40),
            }],
        }
    }

    #[test]
    fn an_entry_reads_back_as_written_in_its_json_spelling() {
        let written = entry("apps", 3, 1_800_000_000);
        let json = serde_json::to_value(&written).unwrap();
        assert_eq!(json["result"]["status"], "failed");
        assert_eq!(json["result"]["step"], "wait");
        assert_eq!(json["source"]["repoURL"], "https://example.com/tree.git");
        assert_eq!(json["objects"][0]["change"], "created");
        assert!(json["objects"][0].get("namespace").is_none());
        assert_eq!(json["started"], "2027-01-15T08:00:00Z");
        let read: Entry = serde_json::from_value(json).unwrap();
        assert_eq!(read, written);
        let up = serde_json::to_value(RunResult::Up).unwrap();
        assert_eq!(up, serde_json::json!({"status": "up"}));
    }

    #[test]
    fn ids_are_phase_and_revision() {
        let id: HistoryId = "apps-3".parse().unwrap();
        assert_eq!(
            id,
            HistoryId {
                phase: "apps".into(),
                revision: 3
            }
        );
        assert_eq!(id.to_string(), "apps-3");
        assert_eq!(entry("apps", 3, 0).id(), id);
        for bad in [
            "apps", "apps-", "-3", "apps-x", "apps-0", "apps--1", "Apps-1", "a/b-1",
        ] {
            let error = bad.parse::<HistoryId>().unwrap_err();
            assert!(error.contains("e.g. apps-3"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_newest_entry_comes_first() {
        let mut entries = vec![
            entry("gateway", 1, 100),
            entry("apps", 2, 300),
            entry("apps", 1, 200),
        ];
        newest_first(&mut entries);
        let ids: Vec<String> = entries.iter().map(|e| e.id().to_string()).collect();
        assert_eq!(ids, ["apps-2", "apps-1", "gateway-1"]);
    }

    #[test]
    fn only_the_newest_keep_revisions_stay() {
        assert_eq!(beyond_keep(&[1, 5, 3, 4, 2], 2), [3, 2, 1]);
        assert!(beyond_keep(&[1, 2], 10).is_empty());
        // Keeping none would lose the entry just written.
        assert_eq!(beyond_keep(&[1, 2], 0), [1]);
    }

    #[test]
    fn a_run_is_recorded_when_it_changed_objects_or_moved_its_applications() {
        let previous = entry("apps", 1, 0);
        let mut changes = Changes {
            objects: Vec::new(),
            unchanged: 10,
            applications: previous.applications.clone(),
        };
        assert!(!worth_recording(&changes, &RunResult::Up, Some(&previous)));
        changes.applications[0].commit = "e".repeat(40);
        assert!(worth_recording(&changes, &RunResult::Up, Some(&previous)));
        assert!(!worth_recording(
            &changes,
            &RunResult::Interrupted,
            Some(&previous)
        ));
        changes.applications.clear();
        assert!(!worth_recording(&changes, &RunResult::Up, None));
        changes.objects = previous.objects.clone();
        assert!(worth_recording(&changes, &RunResult::Interrupted, None));
        assert_eq!(changes.counts(), (1, 1, 0));
    }

    #[test]
    fn the_tree_shows_as_a_short_commit_marked_dirty() {
        let mut tree = entry("apps", 1, 0).tree;
        assert_eq!(tree.short(), "0123456+dirty");
        tree.dirty = Some(false);
        assert_eq!(tree.short(), "0123456");
        assert_eq!(TreeState::default().short(), "unknown");
    }
}
