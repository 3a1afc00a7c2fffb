//! `tacos doctor`: finds root causes in a read-only snapshot of the cluster, groups their symptoms under them, and says what to do.

pub mod agents;
pub mod analysis;
pub mod aws_checks;
pub mod capacity;
pub mod cluster;
pub mod collect;
pub mod edge;
pub mod egress;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod gitops;
pub mod nodes;
pub mod pods;
pub mod scheduling;
pub mod secrets_key;
pub mod snapshot;
pub mod unreadable;

use serde::Serialize;

use crate::report::{RuleInfo, Severity};

pub use analysis::{CHECKS, diagnose};
pub use snapshot::Snapshot;

/// One root cause: what is wrong, the evidence for it, the symptoms it explains, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The id of the check (one of [`CHECKS`]) that found it.
    pub check: &'static str,
    pub severity: Severity,
    /// The object at the root, e.g. `DaemonSet kube-system/csi-secrets-store-provider-aws`.
    pub subject: String,
    /// One or two sentences: the cause, in terms an on-call engineer acts on.
    pub cause: String,
    /// What shows it: conditions, events, last log lines, counts.
    pub evidence: Vec<String>,
    /// The objects whose trouble this cause explains (never reported again on their own).
    pub symptoms: Vec<String>,
    /// What to type or change to fix it.
    pub remedy: String,
    /// Subjects of other checks that this cause explains: those checks show as failed, pointing here,
    /// never as passed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_fails: Vec<AlsoFails>,
}

/// A subject another check would have judged, explained by a diagnosis of an earlier check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlsoFails {
    /// The id of the check that fails on it.
    pub check: &'static str,
    pub subject: String,
}

impl Diagnosis {
    pub fn new(check: &RuleInfo, subject: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            check: check.id,
            severity: check.severity,
            subject: subject.into(),
            cause: cause.into(),
            evidence: Vec::new(),
            symptoms: Vec::new(),
            remedy: check.remedy.to_string(),
            also_fails: Vec::new(),
        }
    }

    /// Whether `check` fails because of this diagnosis: it found it, or its subject is explained by it.
    pub fn fails(&self, check: &str) -> bool {
        self.check == check || self.also_fails.iter().any(|a| a.check == check)
    }
}

/// Most severe first; within a severity, the order the checks found them in (stable).
pub fn sort(diagnoses: &mut [Diagnosis]) {
    diagnoses.sort_by_key(|d| std::cmp::Reverse(d.severity));
}
