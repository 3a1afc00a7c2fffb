//! Pod Security Standards `restricted` (plus a read-only root filesystem) for every pod template.

use serde_json::Value;

use super::{LintContext, containers, subject};
use crate::report::rule;
use crate::report::{Finding, RuleInfo};

const FAMILY: &str = "pod-security";

rule!(
    RUN_AS_NON_ROOT,
    FAMILY,
    "pss-run-as-non-root",
    Error,
    "containers must run as a non-root user",
    "set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser"
);
rule!(
    ALLOW_PRIVILEGE_ESCALATION,
    FAMILY,
    "pss-allow-privilege-escalation",
    Error,
    "containers must not allow privilege escalation",
    "set securityContext.allowPrivilegeEscalation: false on every container"
);
rule!(
    CAPABILITIES,
    FAMILY,
    "pss-capabilities",
    Error,
    "containers must drop ALL capabilities and add none but NET_BIND_SERVICE",
    "set securityContext.capabilities.drop: [ALL] and remove other entries from capabilities.add"
);
rule!(
    SECCOMP,
    FAMILY,
    "pss-seccomp",
    Error,
    "pods must use the RuntimeDefault (or Localhost) seccomp profile",
    "set securityContext.seccompProfile.type: RuntimeDefault on the pod"
);
rule!(
    PRIVILEGED,
    FAMILY,
    "pss-privileged",
    Error,
    "containers must not be privileged",
    "remove securityContext.privileged or set it to false"
);
rule!(
    HOST_NAMESPACES,
    FAMILY,
    "pss-host-namespaces",
    Error,
    "pods must not share the host's network, PID or IPC namespace",
    "remove hostNetwork, hostPID and hostIPC (or set them to false)"
);
rule!(
    HOST_PATH,
    FAMILY,
    "pss-host-path",
    Error,
    "pods must not mount hostPath volumes",
    "use an emptyDir, a ConfigMap, a projected volume or a CSI volume instead of hostPath"
);
rule!(
    READ_ONLY_ROOT_FS,
    FAMILY,
    "pss-read-only-root-filesystem",
    Warning,
    "containers should have a read-only root filesystem",
    "set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the app writes (e.g. /tmp)"
);

pub const RULES: &[RuleInfo] = &[
    RUN_AS_NON_ROOT,
    ALLOW_PRIVILEGE_ESCALATION,
    CAPABILITIES,
    SECCOMP,
    PRIVILEGED,
    HOST_NAMESPACES,
    HOST_PATH,
    READ_ONLY_ROOT_FS,
];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in &context.tree.objects {
        let Some((pod_pointer, pod)) = object.pod_spec() else {
            continue;
        };
        let who = subject(object);
        let pod_context = &pod["securityContext"];
        let mut flag = |rule: &RuleInfo, pointer: &str, message: String| {
            findings.push(Finding::new(
                rule,
                who.clone(),
                Some(object.location_of(pointer)),
                message,
            ));
        };
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            if pod[field] == Value::Bool(true) {
                flag(
                    &HOST_NAMESPACES,
                    &format!("{pod_pointer}/{field}"),
                    format!("{field} is true"),
                );
            }
        }
        for (index, volume) in pod["volumes"].as_array().into_iter().flatten().enumerate() {
            if volume.get("hostPath").is_some() {
                let name = volume["name"].as_str().unwrap_or_default();
                flag(
                    &HOST_PATH,
                    &format!("{pod_pointer}/volumes/{index}"),
                    format!("volume {name} is a hostPath"),
                );
            }
        }
        let pod_seccomp = pod_context["seccompProfile"]["type"].as_str();
        for (pointer, container) in containers(pod_pointer, pod) {
            let name = container["name"].as_str().unwrap_or("?");
            let sc = &container["securityContext"];
            let inherited = |field: &str| {
                if sc[field].is_null() {
                    &pod_context[field]
                } else {
                    &sc[field]
                }
            };
            let non_root = inherited("runAsNonRoot") == &Value::Bool(true);
            let user = inherited("runAsUser").as_i64();
            if user == Some(0) || (!non_root && user.is_none()) {
                let why = if user == Some(0) {
                    "runs as user 0 (root)"
                } else {
                    "does not set runAsNonRoot: true"
                };
                flag(
                    &RUN_AS_NON_ROOT,
                    &format!("{pointer}/securityContext"),
                    format!("container {name} {why}"),
                );
            }
            if sc["allowPrivilegeEscalation"] != Value::Bool(false) {
                flag(
                    &ALLOW_PRIVILEGE_ESCALATION,
                    &format!("{pointer}/securityContext"),
                    format!("container {name} does not set allowPrivilegeEscalation: false"),
                );
            }
            let drops_all = sc["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|c| c == "ALL"));
            let added: Vec<&str> = sc["capabilities"]["add"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|c| *c != "NET_BIND_SERVICE")
                .collect();
            if !drops_all || !added.is_empty() {
                let why = if drops_all {
                    format!("adds capabilities {}", added.join(", "))
                } else {
                    "does not drop ALL capabilities".into()
                };
                flag(
                    &CAPABILITIES,
                    &format!("{pointer}/securityContext"),
                    format!("container {name} {why}"),
                );
            }
            let seccomp = sc["seccompProfile"]["type"].as_str().or(pod_seccomp);
            if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                flag(
                    &SECCOMP,
                    &format!("{pointer}/securityContext"),
                    format!(
                        "container {name} has seccomp profile {}",
                        seccomp.unwrap_or("unset")
                    ),
                );
            }
            if sc["privileged"] == Value::Bool(true) {
                flag(
                    &PRIVILEGED,
                    &format!("{pointer}/securityContext/privileged"),
                    format!("container {name} is privileged"),
                );
            }
            if sc["readOnlyRootFilesystem"] != Value::Bool(true) {
                flag(
                    &READ_ONLY_ROOT_FS,
                    &format!("{pointer}/securityContext"),
                    format!("container {name} has a writable root filesystem"),
                );
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::lint_yaml(check, yaml)
    }

    const RESTRICTED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: web:1.0.0
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
"#;

    #[test]
    fn restricted_pod_template_is_clean() {
        assert_eq!(lint(RESTRICTED), vec![]);
    }

    #[test]
    fn privileged_container_is_flagged_at_its_line() {
        let yaml = RESTRICTED.replace(
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: false\n          privileged: true",
        );
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "pss-privileged");
        assert_eq!(
            findings[0].location.as_ref().unwrap().line,
            16,
            "the line of `privileged: true`"
        );
        assert_eq!(findings[0].subject, "Deployment app/web");
    }

    #[test]
    fn missing_run_as_non_root_is_flagged() {
        let yaml = RESTRICTED.replace("runAsNonRoot: true, runAsUser: 65532, ", "");
        let rules: Vec<_> = lint(&yaml).iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec!["pss-run-as-non-root"]);
    }

    #[test]
    fn host_network_and_host_path_are_flagged() {
        let yaml = RESTRICTED.replace("      containers:", "      hostNetwork: true\n      volumes: [{name: h, hostPath: {path: /}}]\n      containers:");
        let mut rules: Vec<_> = lint(&yaml).iter().map(|f| f.rule).collect();
        rules.sort();
        assert_eq!(rules, vec!["pss-host-namespaces", "pss-host-path"]);
    }

    #[test]
    fn capabilities_not_dropped_and_seccomp_unset_are_flagged() {
        let yaml = RESTRICTED
            .replace(
                "capabilities: {drop: [ALL]}",
                "capabilities: {add: [SYS_ADMIN], drop: [ALL]}",
            )
            .replace(", seccompProfile: {type: RuntimeDefault}", "");
        let mut rules: Vec<_> = lint(&yaml).iter().map(|f| f.rule).collect();
        rules.sort();
        assert_eq!(rules, vec!["pss-capabilities", "pss-seccomp"]);
    }

    #[test]
    fn writable_root_filesystem_is_a_warning() {
        let yaml = RESTRICTED.replace(
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
        );
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].rule, findings[0].severity),
            ("pss-read-only-root-filesystem", Severity::Warning)
        );
    }
}
