//! The KMS key EKS envelope-encrypts Secrets with, as doctor's AWS half read it: a key that is disabled or gone is the root cause of every pod stuck on a Secret.

use k8s_openapi::api::core::v1::Pod;

use super::analysis::Diagnoses;
use super::cluster::{self, pod_symptoms};
use super::{Diagnosis, Snapshot};
use crate::report::{RuleInfo, rule};

rule!(
    SECRETS_KEY_ENABLED,
    "doctor",
    "aws-secrets-key-enabled",
    Error,
    "the KMS key EKS encrypts Secrets with exists and is enabled (eks:DescribeCluster, kms:DescribeKey): without it the API server can read no Secret",
    "aws kms enable-key --key-id KEY (or, if it is pending deletion, aws kms cancel-key-deletion --key-id KEY, then enable it)"
);

/// The Secrets key of the cluster, as AWS described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsKey {
    pub cluster: String,
    pub key_arn: String,
    /// KMS's KeyState (`Enabled`, `Disabled`, `PendingDeletion`, ...); None when the key does not exist.
    pub state: Option<String>,
}

pub const CHECKS: &[RuleInfo] = &[SECRETS_KEY_ENABLED];

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    let Some(key) = &snapshot.secrets_key else {
        return;
    };
    if key.state.as_deref() == Some("Enabled") {
        return;
    }
    let state = key.state.as_deref().unwrap_or("gone (no such key)");
    let mut diagnosis = Diagnosis::new(
        &SECRETS_KEY_ENABLED,
        format!("KMS key {} (EKS cluster {})", key.key_arn, key.cluster),
        format!(
            "EKS cluster {} envelope-encrypts Secrets with KMS key {}, which is {state}: the API server can neither read nor write a Secret, so every pod that mounts or reads one cannot start",
            key.cluster, key.key_arn
        ),
    );
    diagnosis.evidence.push(format!(
        "eks:DescribeCluster: encryptionConfig resources [secrets], provider keyArn {}",
        key.key_arn
    ));
    diagnosis.evidence.push(match &key.state {
        Some(state) => format!("kms:DescribeKey: KeyState {state}"),
        None => "kms:DescribeKey: NotFoundException".into(),
    });
    let stuck: Vec<&Pod> = snapshot
        .pods
        .iter()
        .filter(|pod| cluster::pod_is_stuck(pod) && uses_secrets(pod))
        .collect();
    if !stuck.is_empty() {
        diagnosis
            .evidence
            .push(format!("{} pod(s) not ready that use Secrets", stuck.len()));
    }
    diagnosis.symptoms = pod_symptoms(snapshot, &stuck);
    diagnosis.remedy = format!(
        "aws kms enable-key --key-id {0} (if it is pending deletion: aws kms cancel-key-deletion --key-id {0} first); the pods start on their own once Secrets can be read",
        key.key_arn
    );
    diagnoses.add(diagnosis);
}

/// Whether the pod reads a Secret: a secret volume, a projected Secret, or an env var from one.
fn uses_secrets(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else {
        return false;
    };
    let volumes = spec.volumes.iter().flatten().any(|volume| {
        volume.secret.is_some()
            || volume.projected.as_ref().is_some_and(|projected| {
                projected
                    .sources
                    .iter()
                    .flatten()
                    .any(|source| source.secret.is_some())
            })
    });
    let env = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(|container| {
            container.env.iter().flatten().any(|var| {
                var.value_from
                    .as_ref()
                    .is_some_and(|from| from.secret_key_ref.is_some())
            }) || container
                .env_from
                .iter()
                .flatten()
                .any(|from| from.secret_ref.is_some())
        });
    volumes || env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::fixtures;

    /// A pod of tacos-app, not ready, with `spec`.
    fn stuck(name: &str, spec: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: tacos-app}}\nspec: {spec}\nstatus:\n  phase: Pending\n  conditions: [{{type: Ready, status: \"False\"}}]\n  containerStatuses: [{{name: a, image: a, imageID: \"\", ready: false, restartCount: 0, state: {{waiting: {{reason: CreateContainerConfigError, message: 'Internal error occurred: decrypt'}}}}}}]\n"
        )
    }

    fn snapshot(state: Option<&str>, pods: &[String]) -> Snapshot {
        let mut snapshot = fixtures::snapshot(&pods.join("---\n"));
        snapshot.secrets_key = Some(SecretsKey {
            cluster: "ticket-cluster".into(),
            key_arn: "arn:aws:kms:ap-northeast-2:137406935518:key/k1".into(),
            state: state.map(str::to_string),
        });
        snapshot
    }

    #[test]
    fn a_disabled_key_claims_the_stuck_pods_that_read_secrets_and_no_others() {
        let pods = [
            stuck(
                "reads-env",
                "{containers: [{name: a, image: a, env: [{name: P, valueFrom: {secretKeyRef: {name: redis-auth, key: password}}}]}]}",
            ),
            stuck(
                "mounts",
                "{containers: [{name: a, image: a}], volumes: [{name: s, secret: {secretName: tls}}]}",
            ),
            stuck("plain", "{containers: [{name: a, image: a}]}"),
        ];
        let found = crate::doctor::diagnose(&snapshot(Some("Disabled"), &pods));
        let key = fixtures::of_check(&found, "aws-secrets-key-enabled");
        assert_eq!(key.len(), 1, "{found:#?}");
        assert!(
            key[0].cause.contains("which is Disabled"),
            "{}",
            key[0].cause
        );
        assert_eq!(
            key[0].symptoms,
            vec!["Pod tacos-app/mounts", "Pod tacos-app/reads-env"],
            "the pod that reads no Secret is not the key's"
        );
        assert!(key[0].remedy.starts_with(
            "aws kms enable-key --key-id arn:aws:kms:ap-northeast-2:137406935518:key/k1"
        ));
        let pods_check: Vec<&str> = fixtures::of_check(&found, "pods-not-ready")
            .iter()
            .map(|d| d.subject.as_str())
            .collect();
        assert_eq!(
            pods_check,
            vec!["Pod tacos-app/plain"],
            "the key's symptoms are not causes again"
        );
    }

    #[test]
    fn an_enabled_key_or_none_read_is_no_cause_and_a_missing_key_is_one() {
        let judged = |snapshot: &Snapshot| {
            let mut diagnoses = Diagnoses::default();
            analyse(snapshot, &mut diagnoses);
            diagnoses.into_sorted()
        };
        assert!(judged(&snapshot(Some("Enabled"), &[])).is_empty());
        assert!(judged(&Snapshot::default()).is_empty());
        let gone = judged(&snapshot(None, &[]));
        assert_eq!(gone.len(), 1);
        assert!(
            gone[0]
                .evidence
                .contains(&"kms:DescribeKey: NotFoundException".to_string())
        );
    }
}
