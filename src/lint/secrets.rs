//! Secrets: no Secret data in git, every Secret and ConfigMap a pod reads is created by the tree, TLS verification stays on.

use std::collections::HashSet;

use serde_json::Value;

use super::{LintContext, containers, subject};
use crate::repo::{Object, Tree};
use crate::report::rule;
use crate::report::{Finding, RuleInfo};

/// The ConfigMap Kubernetes puts in every namespace (the cluster's CA, for projected service account tokens).
const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

const FAMILY: &str = "secrets";

rule!(
    DATA_IN_TREE,
    FAMILY,
    "secret-data-in-tree",
    Error,
    "no Secret with data or stringData is kept in git",
    "keep the value in AWS Secrets Manager and deliver it with a SecretProviderClass or an ExternalSecret; rotate the value that was committed"
);
rule!(
    REF_UNRESOLVED,
    FAMILY,
    "secret-ref-unresolved",
    Error,
    "every Secret and ConfigMap a pod reads is created by something in the tree",
    "fix the name, add the ConfigMap, a SecretProviderClass secretObjects entry or an ExternalSecret that creates it, or mark the reference optional: true"
);
rule!(
    TLS_VERIFY_DISABLED,
    FAMILY,
    "secret-tls-verify-disabled",
    Error,
    "no container turns off TLS certificate verification through its environment",
    "remove the variable (or set it to verify) and give the client the CA it needs instead"
);

pub const RULES: &[RuleInfo] = &[DATA_IN_TREE, REF_UNRESOLVED, TLS_VERIFY_DISABLED];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let tree = context.tree;
    let mut findings = Vec::new();
    for secret in tree.of_kind("", "Secret") {
        check_secret_data(secret, &mut findings);
    }
    let created = Created::from_tree(tree);
    for workload in &tree.objects {
        let Some((pod_pointer, pod)) = workload.pod_spec() else {
            continue;
        };
        for reference in references(pod_pointer, pod) {
            if !created.has(workload.namespace(), &reference) {
                findings.push(Finding::new(
                    &REF_UNRESOLVED,
                    subject(workload),
                    Some(workload.location_of(&reference.pointer)),
                    format!(
                        "{} {} {}{}, which nothing in the tree creates",
                        reference.reader,
                        reference.kind.as_str(),
                        reference.name,
                        reference.via
                    ),
                ));
            }
        }
        check_tls_verification(workload, pod_pointer, pod, &mut findings);
    }
    findings
}

fn check_secret_data(secret: &Object, findings: &mut Vec<Finding>) {
    for field in ["data", "stringData"] {
        let keys: Vec<&str> = secret.value[field]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key.as_str())
            .collect();
        if keys.is_empty() {
            continue;
        }
        findings.push(Finding::new(
            &DATA_IN_TREE,
            subject(secret),
            Some(secret.location_of(&format!("/{field}"))),
            format!("holds {field} in git (keys: {})", keys.join(", ")),
        ));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RefKind {
    Secret,
    ConfigMap,
}

impl RefKind {
    fn as_str(self) -> &'static str {
        match self {
            RefKind::Secret => "Secret",
            RefKind::ConfigMap => "ConfigMap",
        }
    }
}

/// A pod's reference to a Secret or ConfigMap by name: who reads it, how, and where it is written.
struct Reference {
    kind: RefKind,
    name: String,
    /// e.g. "container web reads" or "volume config mounts".
    reader: String,
    /// e.g. " (env DB_PASSWORD)", " (envFrom)" or "".
    via: String,
    pointer: String,
}

/// What the tree creates: Secrets and ConfigMaps themselves, Secrets synced by the Secrets Store
/// CSI driver (SecretProviderClass secretObjects) and by External Secrets (ExternalSecret target).
struct Created {
    names: HashSet<(RefKind, Option<String>, String)>,
}

impl Created {
    fn from_tree(tree: &Tree) -> Self {
        let mut names = HashSet::new();
        let mut add = |kind, object: &Object, name: &str| {
            names.insert((
                kind,
                object.namespace().map(str::to_string),
                name.to_string(),
            ));
        };
        for object in &tree.objects {
            if object.is("", "Secret") {
                add(RefKind::Secret, object, object.name());
            } else if object.is("", "ConfigMap") {
                add(RefKind::ConfigMap, object, object.name());
            } else if object.is("secrets-store.csi.x-k8s.io", "SecretProviderClass") {
                let synced = object.value["spec"]["secretObjects"].as_array();
                for name in synced
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["secretName"].as_str())
                {
                    add(RefKind::Secret, object, name);
                }
            } else if object.is("external-secrets.io", "ExternalSecret") {
                let target = object.value["spec"]["target"]["name"].as_str();
                add(RefKind::Secret, object, target.unwrap_or(object.name()));
            }
        }
        for (namespace, name) in created_by_jobs(tree) {
            names.insert((RefKind::Secret, namespace, name));
        }
        Self { names }
    }

    fn has(&self, namespace: Option<&str>, reference: &Reference) -> bool {
        (reference.kind == RefKind::ConfigMap && reference.name == ROOT_CA_CONFIG_MAP)
            || self.names.contains(&(
                reference.kind,
                namespace.map(str::to_string),
                reference.name.clone(),
            ))
    }
}

/// Secrets a Job of the tree creates itself: its ServiceAccount is bound to a Role of the same
/// namespace that may create Secrets and names them in a rule (as argo-cd's redis-secret-init
/// pre-install hook creates argocd-redis).
fn created_by_jobs(tree: &Tree) -> Vec<(Option<String>, String)> {
    let of_kind = |kind: &'static str| {
        tree.objects
            .iter()
            .filter(move |o| o.group() == "rbac.authorization.k8s.io" && o.kind() == kind)
    };
    let mut created = Vec::new();
    for job in tree.objects.iter().filter(|o| o.is("batch", "Job")) {
        let namespace = job.namespace();
        let account = job.value["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default");
        for binding in of_kind("RoleBinding").filter(|b| b.namespace() == namespace) {
            let binds_account = binding.value["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s["kind"] == "ServiceAccount"
                        && s["name"] == account
                        && s["namespace"].as_str().or(namespace) == namespace
                });
            if !binds_account || binding.value["roleRef"]["kind"] != "Role" {
                continue;
            }
            let Some(role) = of_kind("Role").find(|r| {
                r.namespace() == namespace && binding.value["roleRef"]["name"] == r.name()
            }) else {
                continue;
            };
            let secret_rules: Vec<&Value> = role.value["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| {
                    let has = |field: &str, value: &str| {
                        r[field]
                            .as_array()
                            .is_some_and(|list| list.iter().any(|v| v == value || v == "*"))
                    };
                    has("apiGroups", "") && has("resources", "secrets")
                })
                .collect();
            let may_create = secret_rules.iter().any(|r| {
                r["verbs"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|v| v == "create" || v == "*"))
            });
            if may_create {
                created.extend(
                    secret_rules
                        .iter()
                        .flat_map(|r| r["resourceNames"].as_array().cloned().unwrap_or_default())
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .map(|n| (namespace.map(str::to_string), n)),
                );
            }
        }
    }
    created
}

fn is_optional(reference: &Value) -> bool {
    reference["optional"] == Value::Bool(true)
}

/// Every non-optional Secret and ConfigMap reference of a pod: env, envFrom and volumes (projected too).
fn references(pod_pointer: &str, pod: &Value) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut add =
        |kind, reference: &Value, name_field: &str, (reader, via): (&str, &str), at: &str| {
            if let Some(name) = reference[name_field].as_str()
                && !is_optional(reference)
            {
                found.push(Reference {
                    kind,
                    name: name.to_string(),
                    reader: reader.to_string(),
                    via: via.to_string(),
                    pointer: format!("{at}/{name_field}"),
                });
            }
        };
    for (pointer, container) in containers(pod_pointer, pod) {
        let reader = format!(
            "container {} reads",
            container["name"].as_str().unwrap_or("?")
        );
        let env = container["env"].as_array().into_iter().flatten();
        for (i, variable) in env.enumerate() {
            let via = format!(" (env {})", variable["name"].as_str().unwrap_or("?"));
            let by = (reader.as_str(), via.as_str());
            let at = format!("{pointer}/env/{i}/valueFrom");
            let value_from = &variable["valueFrom"];
            add(
                RefKind::Secret,
                &value_from["secretKeyRef"],
                "name",
                by,
                &format!("{at}/secretKeyRef"),
            );
            add(
                RefKind::ConfigMap,
                &value_from["configMapKeyRef"],
                "name",
                by,
                &format!("{at}/configMapKeyRef"),
            );
        }
        let env_from = container["envFrom"].as_array().into_iter().flatten();
        for (i, source) in env_from.enumerate() {
            let by = (reader.as_str(), " (envFrom)");
            let at = format!("{pointer}/envFrom/{i}");
            add(
                RefKind::Secret,
                &source["secretRef"],
                "name",
                by,
                &format!("{at}/secretRef"),
            );
            add(
                RefKind::ConfigMap,
                &source["configMapRef"],
                "name",
                by,
                &format!("{at}/configMapRef"),
            );
        }
    }
    for (i, volume) in pod["volumes"].as_array().into_iter().flatten().enumerate() {
        let reader = format!("volume {} mounts", volume["name"].as_str().unwrap_or("?"));
        let by = (reader.as_str(), "");
        let at = format!("{pod_pointer}/volumes/{i}");
        add(
            RefKind::Secret,
            &volume["secret"],
            "secretName",
            by,
            &format!("{at}/secret"),
        );
        add(
            RefKind::ConfigMap,
            &volume["configMap"],
            "name",
            by,
            &format!("{at}/configMap"),
        );
        let sources = volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten();
        for (j, source) in sources.enumerate() {
            let at = format!("{at}/projected/sources/{j}");
            add(
                RefKind::Secret,
                &source["secret"],
                "name",
                by,
                &format!("{at}/secret"),
            );
            add(
                RefKind::ConfigMap,
                &source["configMap"],
                "name",
                by,
                &format!("{at}/configMap"),
            );
        }
    }
    found
}

/// Whether an environment variable turns off TLS certificate verification, by its name and value.
fn disables_tls_verification(name: &str, value: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let value = value.trim().to_ascii_lowercase();
    let truthy = matches!(value.as_str(), "true" | "1" | "yes");
    let falsy = matches!(value.as_str(), "false" | "0" | "no");
    if name == "NODE_TLS_REJECT_UNAUTHORIZED" {
        return value == "0";
    }
    let skips_verification = [
        "INSECURE_SKIP_VERIFY",
        "SKIP_TLS_VERIFY",
        "TLS_INSECURE",
        "SSL_NO_VERIFY",
    ]
    .iter()
    .any(|part| name.contains(part));
    if skips_verification {
        return truthy;
    }
    let verifies = ["TLS_VERIFY", "SSL_VERIFY"]
        .iter()
        .any(|suffix| name == *suffix || name.ends_with(&format!("_{suffix}")));
    verifies && falsy
}

fn check_tls_verification(
    workload: &Object,
    pod_pointer: &str,
    pod: &Value,
    findings: &mut Vec<Finding>,
) {
    for (pointer, container) in containers(pod_pointer, pod) {
        let container_name = container["name"].as_str().unwrap_or("?");
        for (i, env) in container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (Some(name), Some(value)) = (env["name"].as_str(), env["value"].as_str()) else {
                continue;
            };
            if disables_tls_verification(name, value) {
                findings.push(Finding::new(
                    &TLS_VERIFY_DISABLED,
                    subject(workload),
                    Some(workload.location_of(&format!("{pointer}/env/{i}/value"))),
                    format!(
                        "container {container_name} sets {name}={value}, turning off TLS certificate verification"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::lint_yaml(check, yaml)
    }

    fn rules_and_lines(findings: &[Finding]) -> Vec<(&'static str, usize)> {
        findings
            .iter()
            .map(|f| (f.rule, f.location.as_ref().map_or(0, |l| l.line)))
            .collect()
    }

    /// A Deployment reading a ConfigMap, a CSI-synced Secret and an ExternalSecret's Secret, and what creates them.
    const WIRED: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1.0.0
        env:
        - name: REDIS_TLS_VERIFY
          value: "true"
        - name: REDIS_PASSWORD
          valueFrom:
            secretKeyRef: {name: redis-auth, key: token}
        - name: OPTIONAL
          valueFrom:
            secretKeyRef: {name: maybe, key: x, optional: true}
        envFrom:
        - configMapRef: {name: web-config}
        - secretRef: {name: db-credentials}
      volumes:
      - name: token
        projected:
          sources:
          - configMap: {name: kube-root-ca.crt}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: app}
data: {LOG_LEVEL: info}
---
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: redis, namespace: app}
spec:
  provider: aws
  secretObjects:
  - secretName: redis-auth
    type: Opaque
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db-credentials, namespace: app}
spec:
  secretStoreRef: {name: aws, kind: ClusterSecretStore}
"#;

    #[test]
    fn references_created_in_the_tree_are_clean() {
        assert_eq!(lint(WIRED), vec![]);
    }

    #[test]
    fn secret_nothing_creates_is_flagged_at_the_reference() {
        let yaml = WIRED.replace(
            "secretKeyRef: {name: redis-auth",
            "secretKeyRef: {name: redis-pass",
        );
        let findings = lint(&yaml);
        assert_eq!(
            rules_and_lines(&findings),
            vec![("secret-ref-unresolved", 17)]
        );
        assert_eq!(
            findings[0].message,
            "container web reads Secret redis-pass (env REDIS_PASSWORD), which nothing in the tree creates"
        );
    }

    #[test]
    fn config_map_in_another_namespace_does_not_count() {
        let yaml = WIRED.replace(
            "metadata: {name: web-config, namespace: app}",
            "metadata: {name: web-config, namespace: other}",
        );
        assert_eq!(
            rules_and_lines(&lint(&yaml)),
            vec![("secret-ref-unresolved", 22)]
        );
    }

    #[test]
    fn external_secret_target_name_is_what_it_creates() {
        let yaml = WIRED.replace(
            "  secretStoreRef: {name: aws, kind: ClusterSecretStore}",
            "  secretStoreRef: {name: aws, kind: ClusterSecretStore}\n  target: {name: db-creds}",
        );
        assert_eq!(
            rules_and_lines(&lint(&yaml)),
            vec![("secret-ref-unresolved", 23)]
        );
    }

    #[test]
    fn secret_volume_nothing_creates_is_flagged() {
        let yaml = WIRED.replace(
            "      - name: token\n",
            "      - name: tls\n        secret: {secretName: web-tls}\n      - name: token\n",
        );
        assert_eq!(
            rules_and_lines(&lint(&yaml)),
            vec![("secret-ref-unresolved", 26)]
        );
    }

    #[test]
    fn secret_with_data_is_flagged_by_key_without_its_value() {
        let yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\ndata:\n  password: aHVudGVyMg==\nstringData:\n  user: admin\n";
        let findings = lint(yaml);
        assert_eq!(
            rules_and_lines(&findings),
            vec![("secret-data-in-tree", 4), ("secret-data-in-tree", 6)]
        );
        assert!(findings[0].message.contains("password"));
        for finding in &findings {
            assert!(!finding.message.contains("aHVudGVyMg=="));
            assert!(!finding.message.contains("admin"));
        }
    }

    #[test]
    fn empty_secret_is_clean() {
        let yaml =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\ntype: Opaque\n";
        assert_eq!(lint(yaml), vec![]);
    }

    #[test]
    fn insecure_skip_verify_is_flagged_at_the_value() {
        let yaml = WIRED.replace(
            "- name: REDIS_TLS_VERIFY\n          value: \"true\"",
            "- name: KAFKA_INSECURE_SKIP_VERIFY\n          value: \"true\"",
        );
        let findings = lint(&yaml);
        assert_eq!(
            rules_and_lines(&findings),
            vec![("secret-tls-verify-disabled", 14)]
        );
        assert!(
            findings[0]
                .message
                .contains("container web sets KAFKA_INSECURE_SKIP_VERIFY=true")
        );
    }

    #[test]
    fn tls_variables_are_judged_by_name_and_value() {
        assert!(disables_tls_verification(
            "NODE_TLS_REJECT_UNAUTHORIZED",
            "0"
        ));
        assert!(!disables_tls_verification(
            "NODE_TLS_REJECT_UNAUTHORIZED",
            "1"
        ));
        assert!(disables_tls_verification("REDIS_TLS_VERIFY", "false"));
        assert!(disables_tls_verification("PG_SSL_VERIFY", "no"));
        assert!(!disables_tls_verification("REDIS_TLS_VERIFY", "true"));
        assert!(disables_tls_verification("SKIP_TLS_VERIFY", "yes"));
        assert!(!disables_tls_verification("SKIP_TLS_VERIFY", "false"));
        assert!(disables_tls_verification("ES_TLS_INSECURE", "1"));
        assert!(!disables_tls_verification("REDIS_TLS_ENABLED", "false"));
    }

    /// argo-cd's redis-secret-init: a Job whose Role may create Secrets and names argocd-redis.
    const SECRET_INIT: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata: {name: init, namespace: argocd}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: init, namespace: argocd}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [argocd-redis], verbs: [get]}
- {apiGroups: [""], resources: [secrets], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: init, namespace: argocd}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: init}
subjects: [{kind: ServiceAccount, name: init, namespace: argocd}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: init, namespace: argocd}
spec:
  template:
    spec:
      serviceAccountName: init
      restartPolicy: Never
      containers: [{name: init, image: argocd:v3.2.0}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: server, namespace: argocd}
spec:
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec:
      containers:
      - name: server
        image: argocd:v3.2.0
        env:
        - name: REDIS_PASSWORD
          valueFrom:
            secretKeyRef: {name: argocd-redis, key: auth}
"#;

    #[test]
    fn a_secret_a_job_of_the_tree_may_create_and_names_counts_as_created() {
        assert!(rules_and_lines(&lint(SECRET_INIT)).is_empty());
        let without_create = SECRET_INIT.replace("verbs: [create]", "verbs: [list]");
        assert_eq!(
            rules_and_lines(&lint(&without_create)),
            vec![("secret-ref-unresolved", 42)]
        );
    }
}
