//! The phases of a deployment, each in its own file: what it applies and renders, what it checks before and after (as values), what it waits for. The engines (deploy, verify, plan, diff) loop over them and know no phase by name.

pub mod apps;
pub mod argocd;
pub mod check;
pub mod compliance;
pub mod gateway;
pub mod lbc;
pub mod loadtest;
pub mod monitoring;
pub mod observability;
pub mod permitted;
pub mod pin;
pub mod posture;
pub mod render;
pub mod rightsizing;
pub mod served;
pub mod substitute;

pub use check::{Check, CheckContext, CheckFuture, CheckOutcome, PhaseError};
pub use render::{RenderOptions, Upstream};

/// One phase of `tacos deploy`.
#[derive(Debug)]
pub struct Phase {
    /// Its name on the command line and in output (`--phase NAME`).
    pub name: &'static str,
    pub summary: &'static str,
    /// Folders (from the repository root) whose objects the phase applies.
    pub folders: &'static [&'static str],
    /// Upstream material the phase renders at deploy time (pinned).
    pub upstream: &'static [Upstream],
    /// The phase that must be healthy first.
    pub depends_on: Option<&'static str>,
    /// Whether `--phase all` runs it (load tests run on demand only).
    pub in_all: bool,
    /// Whether its checks read AWS (then deploy and verify connect to AWS first).
    pub needs_aws: bool,
    /// The `${NAME}`s its objects hold, filled in from the account before anything is applied.
    pub substitutes: &'static [substitute::Substitution],
    /// Checks before anything is applied: one failing stops the phase with nothing applied.
    pub preflight: &'static [Check],
    /// What "up" means for this phase.
    pub waits_for: &'static str,
    /// Checks once the phase is up.
    pub postflight: &'static [Check],
    /// Settings of the account and cluster the phase relies on but does not own (security and
    /// cost guard-rails): `tacos verify` fails on them; deploy runs them once the phase is up and
    /// only warns, since nothing the phase applies changes them.
    pub audits: &'static [Check],
    /// Kinds the phase renders and checks but does not apply: another command runs them.
    pub not_applied: &'static [NotApplied],
}

/// A kind a phase leaves to another command, and which.
#[derive(Debug)]
pub struct NotApplied {
    pub kind: &'static str,
    /// The command that applies them, for the note deploy prints.
    pub by: &'static str,
}

impl Phase {
    /// Whether the phase leaves objects of `kind` to another command.
    pub fn leaves(&self, kind: &str) -> bool {
        self.not_applied.iter().any(|n| n.kind == kind)
    }
}

/// Every phase, in deployment order. Adding a phase: a new file and one line here.
pub const ALL: &[&Phase] = &[
    &gateway::PHASE,
    &argocd::PHASE,
    &apps::PHASE,
    &monitoring::PHASE,
    &loadtest::PHASE,
];

/// The phase named `name`.
pub fn get(name: &str) -> Option<&'static Phase> {
    ALL.iter().copied().find(|p| p.name == name)
}

impl Phase {
    /// Whether `tacos rollback` can pin the phase: its Applications are what Argo CD syncs from
    /// Git, and it checks for a pin (apps).
    pub fn pins(&self) -> bool {
        self.preflight
            .iter()
            .any(|check| check.info.id == apps::NOT_PINNED.id)
    }

    /// The phase this one depends on.
    pub fn dependency(&self) -> Option<&'static Phase> {
        self.depends_on.and_then(get)
    }

    /// Every check the phase runs: before, after, and its audits.
    pub fn checks(&self) -> impl Iterator<Item = &'static Check> + use<> {
        let (before, after, audits): (&'static [Check], &'static [Check], &'static [Check]) =
            (self.preflight, self.postflight, self.audits);
        before.iter().chain(after).chain(audits)
    }
}

/// What `--phase` names: one phase, or `all` (every phase with `in_all`, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseSelection(&'static str);

impl PhaseSelection {
    pub const ALL: PhaseSelection = PhaseSelection("all");

    /// The selection named `name`: a phase's name or `all`.
    pub fn named(name: &str) -> Option<PhaseSelection> {
        if name == Self::ALL.0 {
            return Some(Self::ALL);
        }
        get(name).map(|p| PhaseSelection(p.name))
    }

    /// The selection of one phase.
    pub fn of(phase: &Phase) -> PhaseSelection {
        PhaseSelection(phase.name)
    }

    /// The phases selected, in deployment order.
    pub fn phases(self) -> Vec<&'static Phase> {
        ALL.iter()
            .copied()
            .filter(|p| {
                if self == Self::ALL {
                    p.in_all
                } else {
                    p.name == self.0
                }
            })
            .collect()
    }

    /// Every name `--phase` accepts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        ALL.iter().map(|p| p.name).chain([Self::ALL.0])
    }
}

impl std::fmt::Display for PhaseSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dependency_is_a_phase_that_comes_earlier() {
        for (index, phase) in ALL.iter().enumerate() {
            if let Some(name) = phase.depends_on {
                let at = ALL.iter().position(|p| p.name == name);
                assert!(
                    at.is_some_and(|at| at < index),
                    "{} depends on {name}",
                    phase.name
                );
            }
        }
    }

    /// The AWS actions (`service:Action`) a check's summary names in parentheses.
    fn named_actions(summary: &str) -> Vec<String> {
        summary
            .split('(')
            .skip(1)
            .filter_map(|rest| rest.split_once(')').map(|(inside, _)| inside))
            .flat_map(|inside| inside.split(", "))
            .filter(|token| {
                token.split_once(':').is_some_and(|(service, action)| {
                    !service.is_empty()
                        && service
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && action.starts_with(|c: char| c.is_ascii_uppercase())
                        && action.chars().all(|c| c.is_ascii_alphanumeric())
                })
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_read_only_iam_policy_allows_every_aws_call_a_check_names() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("manifests/access/tacos-verify-iam-policy.json");
        let policy: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let allowed: Vec<&str> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(|s| s["Action"].as_array().unwrap())
            .filter_map(|a| a.as_str())
            .collect();
        let mut named = Vec::new();
        for phase in ALL {
            for check in phase.checks() {
                for action in named_actions(check.info.summary) {
                    named.push((check.info.id, action));
                }
            }
        }
        assert!(
            named.iter().any(|(_, a)| a == "logs:DescribeLogGroups"),
            "the summaries' calls were not read: {named:?}"
        );
        let denied: Vec<_> = named
            .iter()
            .filter(|(_, action)| {
                let service = action.split(':').next().unwrap_or_default();
                !allowed
                    .iter()
                    .any(|a| *a == action || *a == format!("{service}:*"))
            })
            .collect();
        assert!(
            denied.is_empty(),
            "tacos-verify-iam-policy.json does not allow: {denied:?}"
        );
    }

    #[test]
    fn named_actions_reads_service_action_pairs_in_parentheses() {
        assert_eq!(
            named_actions(
                "keys are on (eks:DescribeCluster, kms:DescribeKey) and more (not: this)"
            ),
            ["eks:DescribeCluster", "kms:DescribeKey"]
        );
    }

    #[test]
    fn check_ids_are_unique_across_phases_and_one_entry_each() {
        let mut seen: std::collections::BTreeMap<&str, crate::report::RuleInfo> =
            Default::default();
        for phase in ALL {
            for check in phase.checks() {
                if let Some(known) = seen.insert(check.info.id, check.info) {
                    assert_eq!(known, check.info, "{} has two entries", check.info.id);
                }
            }
        }
    }

    #[test]
    fn all_selects_the_phases_in_all_in_order() {
        let names: Vec<&str> = PhaseSelection::ALL
            .phases()
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["gateway", "argocd", "apps", "monitoring"]);
        assert_eq!(
            PhaseSelection::named("loadtest").map(|s| s.phases().len()),
            Some(1)
        );
        assert_eq!(PhaseSelection::named("nope"), None);
    }
}
