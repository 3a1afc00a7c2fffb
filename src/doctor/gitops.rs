//! Argo CD Applications OutOfSync, Degraded or Missing, or failing to compare, naming the resources at fault; a Degraded resource already explained joins that diagnosis instead.

use serde_json::Value;

use super::analysis::Diagnoses;
use super::cluster::{self, json_subject};
use super::{Diagnosis, Snapshot};
use crate::report::rule;

rule!(
    GITOPS,
    "doctor",
    "gitops",
    Error,
    "Argo CD Applications are Synced and Healthy",
    "argocd app diff NAME; argocd app sync NAME"
);

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    for application in &snapshot.applications {
        if let Some(diagnosis) = application_diagnosis(application, diagnoses) {
            diagnoses.add(diagnosis);
        }
    }
}

fn resource_subject(resource: &Value) -> String {
    cluster::subject_of(
        resource["kind"].as_str().unwrap_or("?"),
        resource["namespace"].as_str(),
        resource["name"].as_str().unwrap_or("?"),
    )
}

fn resource_health(resource: &Value) -> &str {
    resource["health"]["status"].as_str().unwrap_or_default()
}

fn application_diagnosis(application: &Value, diagnoses: &mut Diagnoses) -> Option<Diagnosis> {
    let subject = json_subject(application);
    let name = application["metadata"]["name"].as_str().unwrap_or("?");
    let status = &application["status"];
    let sync = status["sync"]["status"].as_str().unwrap_or("Unknown");
    let health = status["health"]["status"].as_str().unwrap_or("Unknown");
    let resources: Vec<&Value> = status["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let errors: Vec<&Value> = cluster::json_conditions(&status["conditions"])
        .filter(|c| c["type"].as_str().is_some_and(|t| t.ends_with("Error")))
        .collect();
    let unhealthy_app = matches!(health, "Degraded" | "Missing");
    let mut unexplained = Vec::new();
    let mut explained = 0;
    for resource in resources
        .iter()
        .filter(|r| matches!(resource_health(r), "Degraded" | "Missing"))
    {
        if diagnoses.add_symptom_to_claimant(&GITOPS, &resource_subject(resource), &subject) {
            explained += 1;
        } else {
            unexplained.push(*resource);
        }
    }
    let degraded = unhealthy_app && (!unexplained.is_empty() || explained == 0);
    let out_of_sync = sync == "OutOfSync" || (sync == "Unknown" && errors.is_empty());
    if !degraded && !out_of_sync && errors.is_empty() {
        return None;
    }
    let mut states = Vec::new();
    if out_of_sync {
        states.push(match sync {
            "OutOfSync" => "OutOfSync".to_string(),
            other => format!("not compared with Git (sync status {other})"),
        });
    }
    if degraded {
        states.push(health.to_string());
    }
    if !errors.is_empty() {
        let types: Vec<&str> = errors.iter().filter_map(|c| c["type"].as_str()).collect();
        states.push(format!("failing with {}", types.join(", ")));
    }
    let drifted: Vec<String> = resources
        .iter()
        .filter(|r| r["status"] == "OutOfSync")
        .map(|r| resource_subject(r))
        .collect();
    let mut cause = format!("{subject} is {}", states.join(" and "));
    if out_of_sync && !drifted.is_empty() {
        let verb = if drifted.len() == 1 {
            "differs"
        } else {
            "differ"
        };
        cause.push_str(&format!(": {} {verb} from Git", drifted.join(", ")));
    }
    let mut diagnosis = Diagnosis::new(&GITOPS, subject.clone(), cause);
    for resource in &unexplained {
        let message = resource["health"]["message"]
            .as_str()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        diagnosis.evidence.push(format!(
            "{}: {}{message}",
            resource_health(resource),
            resource_subject(resource)
        ));
    }
    if degraded && unexplained.is_empty() {
        let message = status["health"]["message"]
            .as_str()
            .or_else(|| status["operationState"]["message"].as_str());
        diagnosis.evidence.push(format!(
            "health {health}: {}",
            message.unwrap_or("no resource is named")
        ));
    }
    for condition in &errors {
        diagnosis.evidence.push(format!(
            "{}: {}",
            condition["type"].as_str().unwrap_or("?"),
            condition["message"].as_str().unwrap_or("no message")
        ));
    }
    let operation = &status["operationState"];
    if let Some(phase) = operation["phase"]
        .as_str()
        .filter(|p| matches!(*p, "Failed" | "Error"))
    {
        diagnosis.evidence.push(format!(
            "last sync {phase}: {}",
            operation["message"].as_str().unwrap_or("no message")
        ));
    }
    if let Some(revision) = status["sync"]["revision"].as_str() {
        diagnosis
            .evidence
            .push(format!("compared at revision {revision}"));
    }
    let mut remedies = Vec::new();
    if !errors.is_empty() {
        remedies.push(format!(
            "fix what the message names (repository URL, path, chart values, or the repository credentials Argo CD uses), then argocd app get {name} --hard-refresh"
        ));
    }
    if out_of_sync {
        remedies.push(format!(
            "see what differs: argocd app diff {name}; then argocd app sync {name} (a difference that comes back after each sync is a field something else mutates: add it to spec.ignoreDifferences)"
        ));
    }
    if degraded {
        remedies.push(format!(
            "argocd app get {name} shows each resource's health: kubectl describe the Degraded ones"
        ));
    }
    diagnosis.remedy = remedies.join("; ");
    Some(diagnosis)
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, gateway_pods_in, of_check, snapshot};

    fn gitops(yaml: &str) -> Vec<super::Diagnosis> {
        of_check(&diagnose(&snapshot(yaml)), "gitops")
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn synced_and_healthy_applications_are_silent() {
        assert!(gitops(HEALTHY).is_empty());
    }

    #[test]
    fn out_of_sync_application_names_the_drifted_resources() {
        let yaml = HEALTHY
            .replace("  sync: {status: Synced, revision: 4f2c1e0}", "  sync: {status: OutOfSync, revision: 4f2c1e0}")
            .replace(
                "name: gateway-api, status: Synced, health: {status: Healthy}}\n  - {version: v1",
                "name: gateway-api, status: OutOfSync, health: {status: Healthy}}\n  - {version: v1",
            );
        let found = gitops(&yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].subject, "Application argocd/gateway-api");
        assert_eq!(
            found[0].cause,
            "Application argocd/gateway-api is OutOfSync: Deployment tacos-app/gateway-api differs from Git"
        );
        assert!(found[0].remedy.starts_with(
            "see what differs: argocd app diff gateway-api; then argocd app sync gateway-api"
        ));
    }

    #[test]
    fn comparison_error_is_quoted() {
        let yaml = HEALTHY.replace(
            "  sync: {status: Synced, revision: 4f2c1e0}",
            "  sync: {status: Unknown}\n  conditions: [{type: ComparisonError, message: \"Failed to load target state: values file helm-values/gateway-api.yaml not found\"}]",
        );
        let found = gitops(&yaml);
        assert_eq!(
            found[0].cause,
            "Application argocd/gateway-api is failing with ComparisonError"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "ComparisonError: Failed to load target state: values file helm-values/gateway-api.yaml not found"
            ]
        );
    }

    #[test]
    fn degraded_application_whose_deployment_is_explained_joins_that_diagnosis() {
        let yaml = gateway_pods_in(
            "status:\n  phase: Running\n  conditions: [{type: Ready, status: \"False\"}]\n  containerStatuses:\n  - {name: gateway-api, image: x, imageID: \"\", ready: false, restartCount: 4, state: {waiting: {reason: CrashLoopBackOff}}}",
        )
        .replace("  health: {status: Healthy}\n  resources:", "  health: {status: Degraded}\n  resources:")
        .replace(
            "name: gateway-api, status: Synced, health: {status: Healthy}}\n  - {version: v1",
            "name: gateway-api, status: Synced, health: {status: Degraded, message: Deployment does not have minimum availability.}}\n  - {version: v1",
        );
        let diagnoses = diagnose(&snapshot(&yaml));
        assert!(of_check(&diagnoses, "gitops").is_empty(), "{diagnoses:#?}");
        let pods = of_check(&diagnoses, "pods-not-ready");
        assert_eq!(pods.len(), 1, "{diagnoses:#?}");
        assert!(
            pods[0]
                .symptoms
                .contains(&"Application argocd/gateway-api".to_string())
        );
    }

    #[test]
    fn degraded_resource_nothing_explains_is_reported_with_its_message() {
        let yaml = HEALTHY
            .replace("  health: {status: Healthy}\n  resources:", "  health: {status: Degraded}\n  resources:")
            .replace(
                "kind: Service, namespace: tacos-app, name: gateway-api, status: Synced, health: {status: Healthy}}",
                "kind: Service, namespace: tacos-app, name: gateway-api, status: Synced, health: {status: Degraded, message: no load balancer}}",
            );
        let found = gitops(&yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].cause, "Application argocd/gateway-api is Degraded");
        assert_eq!(
            found[0].evidence[0],
            "Degraded: Service tacos-app/gateway-api (no load balancer)"
        );
    }
}
