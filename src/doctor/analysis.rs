//! The analyses doctor runs on a snapshot, root causes first so their symptoms are claimed before the generic checks see them.

use std::collections::BTreeMap;

use super::{AlsoFails, Diagnosis, Snapshot};
use super::{agents, capacity, edge, egress, gitops, nodes, pods, secrets_key, unreadable};
use crate::report::RuleInfo;

/// Every check doctor runs, in the order it prints them (root causes before the checks that would see their symptoms).
pub const CHECKS: &[RuleInfo] = &[
    nodes::NODE_HEALTH,
    secrets_key::SECRETS_KEY_ENABLED,
    agents::NODE_AGENT_MISSING,
    egress::EGRESS_BLOCKED,
    pods::PODS_NOT_READY,
    edge::EDGE,
    gitops::GITOPS,
    capacity::AUTOSCALER_LIMITS,
    capacity::DISRUPTION_BUDGET_BLOCKING,
    capacity::QUOTA_EXHAUSTED,
    unreadable::UNREADABLE,
];

/// Every root cause in `snapshot`, most severe first, then in check order, then by subject.
pub fn diagnose(snapshot: &Snapshot) -> Vec<Diagnosis> {
    let mut diagnoses = Diagnoses::default();
    nodes::analyse(snapshot, &mut diagnoses);
    secrets_key::analyse(snapshot, &mut diagnoses);
    agents::analyse(snapshot, &mut diagnoses);
    egress::analyse(snapshot, &mut diagnoses);
    pods::analyse(snapshot, &mut diagnoses);
    edge::analyse(snapshot, &mut diagnoses);
    gitops::analyse(snapshot, &mut diagnoses);
    capacity::analyse(snapshot, &mut diagnoses);
    unreadable::analyse(snapshot, &mut diagnoses);
    diagnoses.into_sorted()
}

/// The diagnoses found so far, and the subjects they claim (their root and their symptoms), so a later
/// check neither reports a claimed object again nor misses the chance to add to its diagnosis.
#[derive(Debug, Default)]
pub struct Diagnoses {
    found: Vec<Diagnosis>,
    /// Subject (`Kind namespace/name`) → index in `found` of the first diagnosis that claimed it.
    claimed_by: BTreeMap<String, usize>,
}

impl Diagnoses {
    /// Records a diagnosis; its subject and symptoms are claimed unless an earlier one claimed them.
    pub fn add(&mut self, diagnosis: Diagnosis) {
        let index = self.found.len();
        for subject in std::iter::once(&diagnosis.subject).chain(&diagnosis.symptoms) {
            self.claimed_by.entry(subject.clone()).or_insert(index);
        }
        self.found.push(diagnosis);
    }

    pub fn is_claimed(&self, subject: &str) -> bool {
        self.claimed_by.contains_key(subject)
    }

    /// Whether an earlier diagnosis claimed `subject`, which `check` would otherwise judge; if so, `check`
    /// fails on that diagnosis (it points to it) instead of passing.
    pub fn explained(&mut self, check: &RuleInfo, subject: &str) -> bool {
        let Some(&index) = self.claimed_by.get(subject) else {
            return false;
        };
        self.mark_failing(index, check, subject);
        true
    }

    /// Adds `symptom` (a subject of `check`) to the diagnosis that claimed `subject`; false when nothing claimed it.
    pub fn add_symptom_to_claimant(
        &mut self,
        check: &RuleInfo,
        subject: &str,
        symptom: &str,
    ) -> bool {
        let Some(&index) = self.claimed_by.get(subject) else {
            return false;
        };
        self.found[index].symptoms.push(symptom.to_string());
        self.claimed_by.entry(symptom.to_string()).or_insert(index);
        self.mark_failing(index, check, symptom);
        true
    }

    fn mark_failing(&mut self, index: usize, check: &RuleInfo, subject: &str) {
        let diagnosis = &mut self.found[index];
        let also = AlsoFails {
            check: check.id,
            subject: subject.to_string(),
        };
        if diagnosis.check != check.id && !diagnosis.also_fails.contains(&also) {
            diagnosis.also_fails.push(also);
        }
    }

    /// Records a diagnosis that also names `causes` (e.g. the ResourceQuota a workload ran into), so a later
    /// check does not report them again.
    pub fn add_naming(&mut self, diagnosis: Diagnosis, causes: &[String]) {
        let index = self.found.len();
        for cause in causes {
            self.claimed_by.entry(cause.clone()).or_insert(index);
        }
        self.add(diagnosis);
    }

    pub(crate) fn into_sorted(self) -> Vec<Diagnosis> {
        let check_order = |id: &str| {
            CHECKS
                .iter()
                .position(|c| c.id == id)
                .unwrap_or(CHECKS.len())
        };
        let mut found = self.found;
        for diagnosis in &mut found {
            diagnosis.symptoms.sort();
            diagnosis.symptoms.dedup();
        }
        found.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| check_order(a.check).cmp(&check_order(b.check)))
                .then_with(|| a.subject.cmp(&b.subject))
        });
        found
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{HEALTHY, provider_outage, snapshot};
    use super::*;
    use crate::report::Severity;

    #[test]
    fn healthy_cluster_has_no_diagnoses() {
        assert_eq!(diagnose(&snapshot(HEALTHY)), vec![]);
    }

    #[test]
    fn empty_snapshot_has_no_diagnoses() {
        assert_eq!(diagnose(&Snapshot::default()), vec![]);
    }

    #[test]
    fn check_ids_are_unique_and_of_the_doctor_family() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        assert!(CHECKS.iter().all(|c| c.family == "doctor"));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
    }

    #[test]
    fn live_outage_is_one_diagnosis_holding_the_pods_the_deployment_and_the_application() {
        let yaml = provider_outage()
            .replace("  health: {status: Healthy}\n  resources:", "  health: {status: Degraded}\n  resources:")
            .replace(
                "name: gateway-api, status: Synced, health: {status: Healthy}}\n  - {version: v1",
                "name: gateway-api, status: Synced, health: {status: Degraded, message: Deployment does not have minimum availability.}}\n  - {version: v1",
            );
        let diagnoses = diagnose(&snapshot(&yaml));
        assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
        assert_eq!(diagnoses[0].check, "node-agent-missing");
        assert_eq!(
            diagnoses[0].symptoms,
            vec![
                "Application argocd/gateway-api",
                "Deployment tacos-app/gateway-api",
                "Pod tacos-app/gateway-api-7d9-abc",
                "Pod tacos-app/gateway-api-7d9-def",
            ]
        );
    }

    #[test]
    fn most_severe_first_then_check_order_then_subject() {
        let mut diagnoses = Diagnoses::default();
        let found = |check: &RuleInfo, subject: &str, severity: Severity| Diagnosis {
            severity,
            ..Diagnosis::new(check, subject, "cause")
        };
        diagnoses.add(found(
            &super::super::unreadable::UNREADABLE,
            "b",
            Severity::Warning,
        ));
        diagnoses.add(found(&super::super::gitops::GITOPS, "z", Severity::Error));
        diagnoses.add(found(
            &super::super::pods::PODS_NOT_READY,
            "y",
            Severity::Error,
        ));
        diagnoses.add(found(
            &super::super::pods::PODS_NOT_READY,
            "x",
            Severity::Error,
        ));
        diagnoses.add(found(
            &super::super::unreadable::UNREADABLE,
            "a",
            Severity::Warning,
        ));
        let order: Vec<(&str, String)> = diagnoses
            .into_sorted()
            .into_iter()
            .map(|d| (d.check, d.subject))
            .collect();
        assert_eq!(
            order,
            vec![
                ("pods-not-ready", "x".to_string()),
                ("pods-not-ready", "y".to_string()),
                ("gitops", "z".to_string()),
                ("unreadable", "a".to_string()),
                ("unreadable", "b".to_string()),
            ]
        );
    }

    #[test]
    fn a_claimed_subject_takes_later_symptoms_to_its_first_claimant() {
        let mut diagnoses = Diagnoses::default();
        let mut first = Diagnosis::new(
            &super::super::agents::NODE_AGENT_MISSING,
            "DaemonSet a/b",
            "cause",
        );
        first.symptoms = vec!["Deployment x/y".into()];
        diagnoses.add(first);
        diagnoses.add(Diagnosis::new(
            &super::super::pods::PODS_NOT_READY,
            "Deployment x/y",
            "other",
        ));
        assert!(diagnoses.is_claimed("Deployment x/y"));
        let gitops = &super::super::gitops::GITOPS;
        assert!(diagnoses.add_symptom_to_claimant(
            gitops,
            "Deployment x/y",
            "Application argocd/y"
        ));
        assert!(!diagnoses.add_symptom_to_claimant(
            gitops,
            "Deployment x/z",
            "Application argocd/z"
        ));
        let sorted = diagnoses.into_sorted();
        let agent = sorted
            .iter()
            .find(|d| d.check == "node-agent-missing")
            .unwrap();
        assert_eq!(
            agent.symptoms,
            vec!["Application argocd/y", "Deployment x/y"]
        );
        assert_eq!(
            agent.also_fails,
            vec![AlsoFails {
                check: "gitops",
                subject: "Application argocd/y".into()
            }],
            "the Application's check fails on it"
        );
    }

    #[test]
    fn a_subject_explained_by_an_earlier_cause_fails_its_own_check_there() {
        let mut diagnoses = Diagnoses::default();
        let mut stuck = Diagnosis::new(
            &super::super::pods::PODS_NOT_READY,
            "Deployment tacos-app/api",
            "it cannot create pods: ResourceQuota tacos-app/q is exhausted",
        );
        stuck.symptoms = vec!["ResourceQuota tacos-app/q".into()];
        diagnoses.add(stuck);
        let quota = &super::super::capacity::QUOTA_EXHAUSTED;
        assert!(diagnoses.explained(quota, "ResourceQuota tacos-app/q"));
        assert!(diagnoses.explained(quota, "ResourceQuota tacos-app/q"));
        assert!(!diagnoses.explained(quota, "ResourceQuota tacos-app/other"));
        let sorted = diagnoses.into_sorted();
        assert_eq!(
            sorted[0].also_fails,
            vec![AlsoFails {
                check: "quota-exhausted",
                subject: "ResourceQuota tacos-app/q".into()
            }]
        );
        assert!(sorted[0].fails("quota-exhausted") && sorted[0].fails("pods-not-ready"));
        assert!(!sorted[0].fails("gitops"));
    }
}
