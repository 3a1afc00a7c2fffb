//! Kinds doctor could not read: said out loud, so missing permissions never pass for a healthy cluster.

use super::analysis::Diagnoses;
use super::{Diagnosis, Snapshot};
use crate::report::rule;

rule!(
    UNREADABLE,
    "doctor",
    "unreadable",
    Warning,
    "doctor can read every kind it checks",
    "grant the identity doctor runs as get and list on it (e.g. bind the view ClusterRole), or run doctor with a kubeconfig that has them"
);

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    for entry in &snapshot.unreadable {
        // Entries read `cannot list what: why` (e.g. `cannot list pods: permission denied`); anything else is shown whole.
        let (what, why) = entry.split_once(": ").unwrap_or((entry.as_str(), ""));
        let what = what
            .strip_prefix("cannot list ")
            .or_else(|| what.strip_prefix("cannot read "))
            .unwrap_or(what);
        let cause = if why.is_empty() {
            format!("cannot read {what}: its problems, if any, are not checked")
        } else {
            format!("cannot read {what}: {why}; its problems, if any, are not checked")
        };
        diagnoses.add(Diagnosis::new(&UNREADABLE, what, cause));
    }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, of_check, snapshot};
    use crate::report::Severity;

    #[test]
    fn a_fully_read_snapshot_is_silent() {
        assert!(of_check(&diagnose(&snapshot(HEALTHY)), "unreadable").is_empty());
    }

    #[test]
    fn each_unreadable_kind_is_a_warning() {
        let mut snapshot = snapshot(HEALTHY);
        snapshot.unreadable = vec![
            "cannot list pods: permission denied".to_string(),
            "applications.argoproj.io (the CRD is not installed)".to_string(),
        ];
        let diagnoses = diagnose(&snapshot);
        let found = of_check(&diagnoses, "unreadable");
        assert_eq!(found.len(), 2, "{diagnoses:#?}");
        assert!(found.iter().all(|d| d.severity == Severity::Warning));
        assert_eq!(found[1].subject, "pods");
        assert_eq!(
            found[1].cause,
            "cannot read pods: permission denied; its problems, if any, are not checked"
        );
        assert_eq!(
            found[0].cause,
            "cannot read applications.argoproj.io (the CRD is not installed): its problems, if any, are not checked"
        );
    }
}
