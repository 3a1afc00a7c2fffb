//! Right-sizing from the services' VerticalPodAutoscalers (updateMode "Off"): each gets a recommendation, and requests outside the recommender's bounds are named with both numbers.

use std::time::Duration;

use serde_json::Value;

use super::check::{Check, CheckContext, PhaseError};
use super::render::render_application_charts;
use crate::apply::live::get_live;
use crate::k8s::quantity::{Quantity, format_decimal};
use crate::repo::Object;
use crate::report::{Finding, rule};

rule!(
    VPA_RECOMMENDS,
    "verify",
    "rightsizing-vpa-recommendations",
    Warning,
    "every VerticalPodAutoscaler the charts render has a recommendation, and the containers request within its bounds",
    "set resources.requests in helm-values/<service>.yaml near the VPA's target (kubectl -n tacos-app get vpa); a VPA without a recommendation needs the VPA recommender the apps phase installs running (kubectl -n vpa get deploy vpa-recommender)"
);

/// The right-sizing check: recommendations exist and requests are within their bounds.
pub const RECOMMENDATIONS: Check = Check {
    info: VPA_RECOMMENDS,
    run: |cx| Box::pin(recommendations(cx)),
    in_verify: true,
};

/// How long a new VPA may go without a recommendation: the recommender's default loop is one
/// minute and it needs metrics-server's first samples of the pods.
pub const RECOMMENDATION_GRACE: Duration = Duration::from_secs(10 * 60);

/// Requests below the target divided by this are called under-provisioned.
const UNDER_TARGET: f64 = 2.0;

/// Requests above this multiple of the upper bound are called over-provisioned.
const OVER_PROVISIONED: f64 = 2.0;

async fn recommendations(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let rendered = render_application_charts(cx.phase, cx.render)?;
    let now = jiff::Timestamp::now();
    let mut findings = Vec::new();
    for vpa in rendered
        .iter()
        .filter(|o| o.is("autoscaling.k8s.io", "VerticalPodAutoscaler"))
    {
        // A VPA not in the cluster is the drift check's finding, not a right-sizing one.
        let Some(live) = get_live(cx.client, vpa).await? else {
            continue;
        };
        let workload = target_of(&rendered, vpa);
        findings.extend(vpa_findings(vpa, &live, workload, now));
    }
    Ok(findings)
}

/// The Deployment (or other workload) the rendered VPA targets, among the rendered objects.
fn target_of<'a>(rendered: &'a [Object], vpa: &Object) -> Option<&'a Object> {
    let target = vpa.at("/spec/targetRef")?;
    rendered.iter().find(|o| {
        o.namespace() == vpa.namespace()
            && Some(o.kind()) == target["kind"].as_str()
            && Some(o.name()) == target["name"].as_str()
    })
}

/// The findings for one VPA: no recommendation past the grace period, or containers whose
/// requests lie outside the recommended bounds.
pub fn vpa_findings(
    vpa: &Object,
    live: &Value,
    workload: Option<&Object>,
    now: jiff::Timestamp,
) -> Vec<Finding> {
    let subject = vpa.key().to_string();
    let recommended = live["status"]["recommendation"]["containerRecommendations"]
        .as_array()
        .filter(|list| !list.is_empty());
    let Some(recommended) = recommended else {
        let created = live["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let age = created
            .and_then(|c| Duration::try_from(now.duration_since(c)).ok())
            .unwrap_or_default();
        if age < RECOMMENDATION_GRACE {
            return Vec::new();
        }
        let why = condition_message(live).unwrap_or_else(|| "no condition says why".to_string());
        return vec![Finding::new(
            &VPA_RECOMMENDS,
            subject,
            None,
            format!(
                "no recommendation {} min after it was created ({why}): no VPA recommender is serving it, so right-sizing has no data",
                age.as_secs() / 60
            ),
        )];
    };
    let Some(workload) = workload else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for recommendation in recommended {
        let Some(container) = recommendation["containerName"].as_str() else {
            continue;
        };
        let Some(requests) = container_requests(workload, container) else {
            continue;
        };
        for resource in ["cpu", "memory"] {
            let bounds = Bounds::of(recommendation, resource);
            let request = Quantity::of_value(&requests[resource]);
            if let (Some(bounds), Some(request)) = (bounds, request)
                && let Some(problem) = bounds.problem(request, resource)
            {
                findings.push(
                    Finding::new(
                        &VPA_RECOMMENDS,
                        subject.clone(),
                        None,
                        format!("container {container}: {problem}"),
                    )
                    .with_remedy(format!(
                        "set resources.requests.{resource} of {} near {} (the chart's helm-values), then let the HPA re-settle",
                        workload.key(),
                        show(bounds.target, resource)
                    )),
                );
            }
        }
    }
    findings
}

/// The message of the VPA's RecommendationProvided (or any False) condition.
fn condition_message(live: &Value) -> Option<String> {
    let conditions = live["status"]["conditions"].as_array()?;
    conditions
        .iter()
        .find(|c| c["type"] == "RecommendationProvided")
        .or_else(|| conditions.iter().find(|c| c["status"] == "False"))
        .map(|c| {
            format!(
                "{}={}{}",
                c["type"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?"),
                c["message"]
                    .as_str()
                    .filter(|m| !m.is_empty())
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )
        })
}

/// The `resources.requests` of the workload's container `name`.
fn container_requests<'a>(workload: &'a Object, name: &str) -> Option<&'a Value> {
    workload.pod_spec()?.1["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| &c["resources"]["requests"])
}

/// The recommender's target and bounds for one resource of one container.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    lower: Quantity,
    target: Quantity,
    upper: Quantity,
}

impl Bounds {
    fn of(recommendation: &Value, resource: &str) -> Option<Bounds> {
        let read = |field: &str| Quantity::of_value(&recommendation[field][resource]);
        Some(Bounds {
            lower: read("lowerBound")?,
            target: read("target")?,
            upper: read("upperBound")?,
        })
    }

    /// What is wrong with `request` against these bounds, if anything.
    fn problem(&self, request: Quantity, resource: &str) -> Option<String> {
        let shown = |q| show(q, resource);
        if request < self.lower {
            return Some(format!(
                "requests {} {resource}, below the recommender's lower bound {} (target {}): under-provisioned, pods are throttled or evicted under the load they see",
                shown(request),
                shown(self.lower),
                shown(self.target)
            ));
        }
        // Early on the lower bound sits at the recommender's floor (its confidence grows with days
        // of history), while the target already follows the usage it has seen.
        if request.as_units() * UNDER_TARGET < self.target.as_units() {
            return Some(format!(
                "requests {} {resource}, less than 1/{} of the recommender's target {} (lower bound {}): under-provisioned, the pods use more than they ask for",
                shown(request),
                format_decimal(UNDER_TARGET),
                shown(self.target),
                shown(self.lower)
            ));
        }
        if request.as_units() > self.upper.as_units() * OVER_PROVISIONED {
            return Some(format!(
                "requests {} {resource}, more than {}x the recommender's upper bound {} (target {}): over-provisioned, the nodes hold capacity nothing uses",
                shown(request),
                format_decimal(OVER_PROVISIONED),
                shown(self.upper),
                shown(self.target)
            ));
        }
        None
    }
}

/// A CPU amount in millicores, a memory amount in binary units.
fn show(quantity: Quantity, resource: &str) -> String {
    if resource == "cpu" {
        format!(
            "{}m",
            format_decimal((quantity.as_units() * 1000.0).round())
        )
    } else {
        quantity.as_bytes_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        let yaml = value.to_string();
        crate::repo::load_str("rendered.yaml", &yaml)
            .unwrap()
            .objects
            .remove(0)
    }

    fn vpa() -> Object {
        object(json!({
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "app"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "updatePolicy": {"updateMode": "Off"}},
        }))
    }

    fn deployment(cpu: &str, memory: &str) -> Object {
        object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "app"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
            }},
        }))
    }

    fn live(created: &str, recommendation: Value) -> Value {
        json!({
            "metadata": {"creationTimestamp": created},
            "status": {"recommendation": recommendation, "conditions": [
                {"type": "RecommendationProvided", "status": "False", "message": "no pods"}
            ]},
        })
    }

    fn recommended(lower: (&str, &str), target: (&str, &str), upper: (&str, &str)) -> Value {
        json!({"containerRecommendations": [{
            "containerName": "web",
            "lowerBound": {"cpu": lower.0, "memory": lower.1},
            "target": {"cpu": target.0, "memory": target.1},
            "upperBound": {"cpu": upper.0, "memory": upper.1},
        }]})
    }

    fn at(time: &str) -> jiff::Timestamp {
        time.parse().unwrap()
    }

    #[test]
    fn a_young_vpa_without_recommendation_is_not_judged_yet() {
        let live = live("2026-12-04T10:00:00Z", json!({}));
        let findings = vpa_findings(&vpa(), &live, None, at("2026-12-04T10:09:00Z"));
        assert_eq!(findings, vec![]);
    }

    #[test]
    fn an_old_vpa_without_recommendation_says_no_recommender_serves_it() {
        let live = live("2026-12-04T10:00:00Z", json!({}));
        let findings = vpa_findings(&vpa(), &live, None, at("2026-12-04T10:30:00Z"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        let message = &findings[0].message;
        assert!(message.contains("no recommendation 30 min"), "{message}");
        assert!(
            message.contains("RecommendationProvided=False: no pods"),
            "{message}"
        );
    }

    #[test]
    fn requests_within_the_bounds_are_clean() {
        let live = live(
            "2026-12-04T10:00:00Z",
            recommended(("200m", "300Mi"), ("400m", "500Mi"), ("800m", "1Gi")),
        );
        let web = deployment("500m", "512Mi");
        let findings = vpa_findings(&vpa(), &live, Some(&web), at("2026-12-04T11:00:00Z"));
        assert_eq!(findings, vec![]);
    }

    #[test]
    fn memory_below_the_lower_bound_is_under_provisioned_with_both_numbers() {
        let live = live(
            "2026-12-04T10:00:00Z",
            recommended(("200m", "1Gi"), ("400m", "2Gi"), ("800m", "4Gi")),
        );
        let web = deployment("500m", "512Mi");
        let findings = vpa_findings(&vpa(), &live, Some(&web), at("2026-12-04T11:00:00Z"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        let message = &findings[0].message;
        assert!(
            message.contains("container web: requests 512Mi memory, below the recommender's lower bound 1Gi (target 2Gi)"),
            "{message}"
        );
        assert!(
            findings[0].remedy.contains("resources.requests.memory")
                && findings[0].remedy.contains("near 2Gi"),
            "{:?}",
            findings[0].remedy
        );
    }

    #[test]
    fn memory_under_half_the_target_is_under_provisioned_while_the_lower_bound_is_still_low() {
        let live = live(
            "2026-12-04T10:00:00Z",
            recommended(("100m", "250Mi"), ("350m", "3Gi"), ("4", "8Gi")),
        );
        let web = deployment("500m", "256Mi");
        let findings = vpa_findings(&vpa(), &live, Some(&web), at("2026-12-04T11:00:00Z"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].message.contains(
                "requests 256Mi memory, less than 1/2 of the recommender's target 3Gi (lower bound 250Mi)"
            ),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn cpu_far_above_the_upper_bound_is_over_provisioned() {
        let live = live(
            "2026-12-04T10:00:00Z",
            recommended(("50m", "300Mi"), ("100m", "500Mi"), ("200m", "1Gi")),
        );
        let web = deployment("2", "512Mi");
        let findings = vpa_findings(&vpa(), &live, Some(&web), at("2026-12-04T11:00:00Z"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0]
                .message
                .contains("requests 2000m cpu, more than 2x the recommender's upper bound 200m"),
            "{}",
            findings[0].message
        );
    }
}
