//! The phases of a deployment as data: which folders each applies, what it checks before and after, what it waits for.

pub mod apps;
pub mod argocd;
pub mod gateway;
pub mod loadtest;
pub mod monitoring;

use crate::cli::PhaseName;
use crate::report::RuleInfo;

/// One phase of `tacos deploy`.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub name: PhaseName,
    pub summary: &'static str,
    /// Folders (from the repository root) whose objects the phase applies.
    pub folders: &'static [&'static str],
    /// Upstream material the phase renders at deploy time (pinned), shown by `plan`.
    pub upstream: &'static [&'static str],
    /// The phase that must be healthy first.
    pub depends_on: Option<PhaseName>,
    pub preflight: &'static [RuleInfo],
    /// What "up" means for this phase.
    pub waits_for: &'static str,
    pub postflight: &'static [RuleInfo],
    /// Kinds applied but not waited on (e.g. Applications Argo CD takes over from there).
    pub not_waited: &'static [&'static str],
}

/// Every phase, in deployment order.
pub fn all() -> [Phase; 5] {
    [
        gateway::PHASE,
        argocd::PHASE,
        apps::PHASE,
        monitoring::PHASE,
        loadtest::PHASE,
    ]
}

pub fn get(name: PhaseName) -> Phase {
    all()
        .into_iter()
        .find(|p| p.name == name)
        .expect("every PhaseName has a Phase")
}

/// Shorthand for a check's catalogue entry.
macro_rules! check {
    ($name:ident, $id:literal, $summary:literal, $remedy:literal) => {
        pub const $name: $crate::report::RuleInfo = $crate::report::RuleInfo {
            id: $id,
            family: "deploy",
            severity: $crate::report::Severity::Error,
            summary: $summary,
            remedy: $remedy,
        };
    };
}
pub(crate) use check;

check!(
    PREVIOUS_PHASE_HEALTHY,
    "phase-previous-healthy",
    "the phase before this one is healthy",
    "deploy the previous phase first (tacos deploy --phase PREVIOUS), or pass --skip-deps"
);
