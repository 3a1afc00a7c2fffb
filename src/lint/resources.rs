//! Container resources, health probes and image tags for every pod template.

use serde_json::Value;

use super::{LintContext, containers, subject};
use crate::k8s::workloads::is_long_running;
use crate::repo::Object;
use crate::report::rule;
use crate::report::{Finding, RuleInfo};

const FAMILY: &str = "resources";

rule!(
    REQUESTS_LIMITS,
    FAMILY,
    "res-requests-limits",
    Error,
    "containers must request cpu and memory and limit memory",
    "set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container (init containers too)"
);
rule!(
    PROBES,
    FAMILY,
    "res-probes",
    Warning,
    "long-running containers should have readiness and liveness probes",
    "add a readinessProbe (traffic only when ready) and a livenessProbe (restart when stuck) to every container of Deployments, StatefulSets and DaemonSets"
);
rule!(
    IMAGE_TAG,
    FAMILY,
    "res-image-tag",
    Error,
    "images must be pinned to a version tag or a digest, never latest",
    "reference the image as name:<version> or name@sha256:<digest>"
);

pub const RULES: &[RuleInfo] = &[REQUESTS_LIMITS, PROBES, IMAGE_TAG];

/// The resource fields every container must set.
const REQUIRED_RESOURCES: [(&str, &str); 3] = [
    ("requests", "cpu"),
    ("requests", "memory"),
    ("limits", "memory"),
];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in &context.tree.objects {
        let Some((pod_pointer, pod)) = object.pod_spec() else {
            continue;
        };
        for (pointer, container) in containers(pod_pointer, pod) {
            let is_init = pointer.contains("/initContainers/");
            let found = [
                missing_resources(container),
                missing_probes(object, container, is_init),
                unpinned_image(container),
            ];
            for (rule, field, message) in found.into_iter().flatten() {
                let name = container["name"].as_str().unwrap_or("?");
                findings.push(Finding::new(
                    rule,
                    subject(object),
                    Some(object.location_of(&format!("{pointer}{field}"))),
                    format!("container {name} {message}"),
                ));
            }
        }
    }
    findings
}

/// A defect of one container: the rule, the field (relative to the container) and what is wrong.
type ContainerDefect = (&'static RuleInfo, &'static str, String);

fn missing_resources(container: &Value) -> Option<ContainerDefect> {
    let resources = &container["resources"];
    let missing: Vec<String> = REQUIRED_RESOURCES
        .iter()
        .filter(|(section, resource)| resources[section][resource].is_null())
        .map(|(section, resource)| format!("{section}.{resource}"))
        .collect();
    (!missing.is_empty()).then(|| {
        (
            &REQUESTS_LIMITS,
            "/resources",
            format!("sets no {}", missing.join(", ")),
        )
    })
}

fn missing_probes(object: &Object, container: &Value, is_init: bool) -> Option<ContainerDefect> {
    if is_init || !is_long_running(object) {
        return None;
    }
    let missing: Vec<&str> = ["readinessProbe", "livenessProbe"]
        .into_iter()
        .filter(|probe| container[probe].is_null())
        .collect();
    (!missing.is_empty()).then(|| (&PROBES, "", format!("has no {}", missing.join(" or "))))
}

fn unpinned_image(container: &Value) -> Option<ContainerDefect> {
    let image = container["image"].as_str()?;
    if image.contains('@') {
        return None;
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    let message = match last_segment.split_once(':') {
        None => format!("uses image {image} without a tag (so :latest)"),
        Some((_, "latest")) => format!("uses image {image}, tagged latest"),
        Some(_) => return None,
    };
    Some((&IMAGE_TAG, "/image", message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::lint_yaml(check, yaml)
    }

    const SIZED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
      - name: migrate
        image: registry.local:5000/migrate@sha256:0123456789abcdef
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 64Mi}
      containers:
      - name: web
        image: registry.local:5000/web:1.0.0
        readinessProbe: {httpGet: {path: /ready, port: 8000}}
        livenessProbe: {httpGet: {path: /live, port: 8000}}
        resources:
          requests: {cpu: 500m, memory: 256Mi}
          limits: {memory: 256Mi}
"#;

    #[test]
    fn sized_probed_and_pinned_deployment_without_cpu_limit_is_clean() {
        assert_eq!(lint(SIZED), vec![]);
    }

    #[test]
    fn missing_requests_and_limit_are_named_at_the_resources_line() {
        let yaml = SIZED.replace(
            "requests: {cpu: 500m, memory: 256Mi}\n          limits: {memory: 256Mi}",
            "requests: {memory: 256Mi}",
        );
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "res-requests-limits");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 21);
        assert_eq!(
            findings[0].message,
            "container web sets no requests.cpu, limits.memory"
        );
    }

    #[test]
    fn init_containers_need_resources_too() {
        let yaml = SIZED.replace("          limits: {memory: 64Mi}\n", "");
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].message,
            "container migrate sets no limits.memory"
        );
    }

    #[test]
    fn deployment_container_without_probes_is_a_warning_at_the_container() {
        let yaml = SIZED
            .replace(
                "        readinessProbe: {httpGet: {path: /ready, port: 8000}}\n",
                "",
            )
            .replace(
                "        livenessProbe: {httpGet: {path: /live, port: 8000}}\n",
                "",
            );
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            (findings[0].rule, findings[0].severity),
            ("res-probes", Severity::Warning)
        );
        assert_eq!(findings[0].location.as_ref().unwrap().line, 17);
        assert_eq!(
            findings[0].message,
            "container web has no readinessProbe or livenessProbe"
        );
    }

    #[test]
    fn jobs_need_no_probes() {
        let yaml = SIZED
            .replace("apps/v1", "batch/v1")
            .replace("kind: Deployment", "kind: Job")
            .replace(
                "        livenessProbe: {httpGet: {path: /live, port: 8000}}\n",
                "",
            );
        assert_eq!(lint(&yaml), vec![]);
    }

    #[test]
    fn image_without_tag_is_flagged_at_the_image_line() {
        let yaml = SIZED.replace("web:1.0.0", "web");
        let findings = lint(&yaml);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "res-image-tag");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 18);
        assert!(findings[0].message.contains("without a tag"));
    }

    #[test]
    fn latest_tag_is_flagged() {
        let yaml = SIZED.replace("web:1.0.0", "web:latest");
        let rules: Vec<_> = lint(&yaml).iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec!["res-image-tag"]);
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        let yaml = SIZED.replace("registry.local:5000/web:1.0.0", "registry.local:5000/web");
        let rules: Vec<_> = lint(&yaml).iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec!["res-image-tag"]);
    }
}
