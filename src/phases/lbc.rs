//! What the AWS Load Balancer Controller in the cluster is and accepts: its version and feature gates (read from its Deployment), its gateway CRDs, and the TargetGroupConfiguration fields of that version.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::Value;

use super::check::{Check, CheckContext, PhaseError, crd_served};
use super::render::render_application_charts;
use crate::repo::Object;
use crate::report::{Finding, rule};

pub const NAMESPACE: &str = "kube-system";
pub const DEPLOYMENT: &str = "aws-load-balancer-controller";
pub(super) const SUBJECT: &str = "Deployment kube-system/aws-load-balancer-controller";

/// A MAJOR.MINOR.PATCH version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The first version with ALB Gateway API support.
pub const GATEWAY_API_SINCE: Version = Version(2, 14, 0);
/// From this version on ALB Gateway API is on unless its feature gate turns it off.
pub const GATEWAY_API_DEFAULT_SINCE: Version = Version(3, 2, 0);
/// From this version on `healthCheckProtocol` takes HTTP/HTTPS/TCP (lower case before).
pub const UPPER_CASE_HEALTH_CHECK_SINCE: Version = Version(2, 15, 0);

/// The gateway CRDs the controller reads, at the version the tree writes.
pub const GATEWAY_KINDS: [&str; 3] = [
    "LoadBalancerConfiguration",
    "TargetGroupConfiguration",
    "ListenerRuleConfiguration",
];
pub const GATEWAY_GROUP: &str = "gateway.k8s.aws";
pub const GATEWAY_VERSION: &str = "v1beta1";

/// What the controller's Deployment says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// From the image tag; None when the tag is not a version (a digest, `latest`).
    pub version: Option<Version>,
    pub image: String,
    /// `--feature-gates=A=true,B=false`, as pairs.
    pub feature_gates: Vec<(String, bool)>,
}

impl Controller {
    /// The controller of a Deployment (its `controller` container, or the first).
    pub fn of(deployment: &Deployment) -> Option<Controller> {
        let containers = &deployment.spec.as_ref()?.template.spec.as_ref()?.containers;
        let container = containers
            .iter()
            .find(|c| c.name == "controller" || c.name == DEPLOYMENT)
            .or(containers.first())?;
        let image = container.image.clone().unwrap_or_default();
        let feature_gates = container
            .args
            .iter()
            .flatten()
            .filter_map(|a| a.strip_prefix("--feature-gates="))
            .flat_map(|list| list.split(','))
            .filter_map(|pair| {
                let (name, on) = pair.split_once('=')?;
                Some((
                    name.trim().to_string(),
                    on.trim().eq_ignore_ascii_case("true"),
                ))
            })
            .collect();
        Some(Controller {
            version: image_version(&image),
            image,
            feature_gates,
        })
    }

    /// Why this controller cannot program an ALB from a Gateway (None: it can).
    pub fn gateway_api_problem(&self) -> Option<String> {
        let gate = self
            .feature_gates
            .iter()
            .rev()
            .find(|(name, _)| name == "ALBGatewayAPI")
            .map(|(_, on)| *on);
        let Some(version) = self.version else {
            return Some(format!(
                "cannot tell its version from the image {} (tag it with its release, e.g. :v3.5.0)",
                self.image
            ));
        };
        if version < GATEWAY_API_SINCE {
            return Some(format!(
                "{version} has no ALB Gateway API support ({GATEWAY_API_SINCE} or newer has)"
            ));
        }
        match gate {
            Some(false) => Some(format!(
                "{version} runs with --feature-gates=ALBGatewayAPI=false"
            )),
            None if version < GATEWAY_API_DEFAULT_SINCE => Some(format!(
                "{version} needs the ALBGatewayAPI feature gate (on by default only from {GATEWAY_API_DEFAULT_SINCE}); it is not set"
            )),
            _ => None,
        }
    }
}

/// The version in an image reference's tag (`repo:v2.14.1` → 2.14.1).
pub fn image_version(image: &str) -> Option<Version> {
    let without_digest = image.split('@').next()?;
    let (_, tag) = without_digest.rsplit_once(':')?;
    let mut parts = tag
        .trim_start_matches('v')
        .split(['.', '-'])
        .map(|p| p.parse::<u32>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor)), patch) => Some(Version(
            major,
            minor,
            patch.and_then(Result::ok).unwrap_or(0),
        )),
        _ => None,
    }
}

/// The controller's Deployment, read; None when it is not installed.
pub(super) async fn read_controller(
    cx: &CheckContext<'_>,
) -> Result<Option<Deployment>, PhaseError> {
    let deployments: Api<Deployment> = Api::namespaced(cx.client.clone(), NAMESPACE);
    match deployments.get_opt(DEPLOYMENT).await {
        Ok(found) => Ok(found),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(PhaseError::PermissionDenied(
            format!("get {SUBJECT} ({})", status.message),
        )),
        Err(error) => Err(PhaseError::ClusterUnreachable(error.to_string())),
    }
}

rule!(
    LBC_SUPPORTS_GATEWAY_API,
    "deploy",
    "cluster-aws-lbc-gateway-api",
    Error,
    "the AWS Load Balancer Controller supports ALB Gateway API (v2.14+, the ALBGatewayAPI feature gate on below v3.2) and serves its gateway CRDs",
    "upgrade the controller (helm upgrade aws-load-balancer-controller eks/aws-load-balancer-controller --set controllerConfig.featureGates.ALBGatewayAPI=true) and install its gateway CRDs (config/crd/gateway of its release)"
);

/// The controller can program the ALB from the Gateway: version, feature gate, gateway CRDs.
pub const SUPPORTS_GATEWAY_API: Check = Check {
    info: LBC_SUPPORTS_GATEWAY_API,
    run: |cx| Box::pin(supports_gateway_api(cx)),
    in_verify: true,
};

async fn supports_gateway_api(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let rule = &LBC_SUPPORTS_GATEWAY_API;
    let mut findings = Vec::new();
    // A controller that is missing is cluster-aws-lbc-running's finding.
    if let Some(controller) = read_controller(cx).await?.as_ref().and_then(Controller::of)
        && let Some(problem) = controller.gateway_api_problem()
    {
        findings.push(Finding::new(rule, SUBJECT, None, problem));
    }
    for kind in GATEWAY_KINDS {
        findings.extend(crd_served(cx.client, GATEWAY_GROUP, GATEWAY_VERSION, kind, rule).await?);
    }
    Ok(findings)
}

rule!(
    LBC_ACCEPTS_TARGET_GROUPS,
    "deploy",
    "cluster-aws-lbc-target-group-fields",
    Error,
    "the TargetGroupConfigurations the phase applies use the field values of the controller's version",
    "write healthCheckProtocol in the case the controller's version takes (HTTP, HTTPS, TCP from v2.15; http, https, tcp before), or upgrade the controller"
);

/// The TargetGroupConfigurations the phase applies (and those its Applications' charts render)
/// are written for the controller's version.
pub const ACCEPTS_TARGET_GROUPS: Check = Check {
    info: LBC_ACCEPTS_TARGET_GROUPS,
    run: |cx| Box::pin(accepts_target_groups(cx)),
    in_verify: true,
};

async fn accepts_target_groups(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let rendered = render_application_charts(cx.phase, cx.render)?;
    let groups: Vec<&Object> = cx
        .objects
        .iter()
        .chain(&rendered)
        .filter(|o| o.is(GATEWAY_GROUP, "TargetGroupConfiguration"))
        .collect();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let Some(version) = read_controller(cx)
        .await?
        .as_ref()
        .and_then(Controller::of)
        .and_then(|c| c.version)
    else {
        return Ok(Vec::new());
    };
    Ok(groups
        .into_iter()
        .flat_map(|group| health_check_protocol_findings(group, version))
        .collect())
}

/// Each `healthCheckProtocol` of a TargetGroupConfiguration in the wrong case for `version`.
pub fn health_check_protocol_findings(group: &Object, version: Version) -> Vec<Finding> {
    let upper = version >= UPPER_CASE_HEALTH_CHECK_SINCE;
    let mut found = Vec::new();
    collect_protocols(&group.value["spec"], "/spec", &mut found);
    found
        .into_iter()
        .filter(|(_, value)| {
            let expected = if upper {
                value.to_ascii_uppercase()
            } else {
                value.to_ascii_lowercase()
            };
            *value != expected
        })
        .map(|(pointer, value)| {
            let wanted = if upper {
                value.to_ascii_uppercase()
            } else {
                value.to_ascii_lowercase()
            };
            Finding::new(
                &LBC_ACCEPTS_TARGET_GROUPS,
                group.key().to_string(),
                Some(group.location_of(&pointer)),
                format!("{pointer} is {value}; the controller ({version}) takes {wanted}"),
            )
        })
        .collect()
}

fn collect_protocols(value: &Value, pointer: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{pointer}/{key}");
                match (key.as_str(), child) {
                    ("healthCheckProtocol", Value::String(protocol)) => {
                        found.push((here, protocol.clone()))
                    }
                    _ => collect_protocols(child, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                collect_protocols(child, &format!("{pointer}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(image: &str, args: &[&str]) -> Controller {
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "aws-load-balancer-controller", "image": image, "args": args}
            ]}}}
        }))
        .unwrap();
        Controller::of(&deployment).unwrap()
    }

    #[test]
    fn versions_come_from_the_image_tag() {
        assert_eq!(
            image_version("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1"),
            Some(Version(2, 14, 1))
        );
        assert_eq!(
            image_version("registry:5000/lbc:v3.5.0@sha256:ab"),
            Some(Version(3, 5, 0))
        );
        assert_eq!(image_version("lbc:latest"), None);
        assert_eq!(image_version("lbc"), None);
    }

    #[test]
    fn gateway_api_needs_v2_14_and_the_gate_below_v3_2_and_no_gate_off() {
        let image = |tag: &str| format!("public.ecr.aws/eks/aws-load-balancer-controller:{tag}");
        assert!(
            controller(&image("v2.13.4"), &["--feature-gates=ALBGatewayAPI=true"])
                .gateway_api_problem()
                .unwrap()
                .contains("no ALB Gateway API support")
        );
        assert!(
            controller(&image("v2.14.1"), &["--cluster-name=ticket-cluster"])
                .gateway_api_problem()
                .unwrap()
                .contains("needs the ALBGatewayAPI feature gate")
        );
        assert_eq!(
            controller(
                &image("v2.14.1"),
                &["--feature-gates=NLBGatewayAPI=true,ALBGatewayAPI=true"]
            )
            .gateway_api_problem(),
            None
        );
        assert_eq!(
            controller(&image("v3.5.0"), &[]).gateway_api_problem(),
            None
        );
        assert!(
            controller(&image("v3.5.0"), &["--feature-gates=ALBGatewayAPI=false"])
                .gateway_api_problem()
                .unwrap()
                .contains("ALBGatewayAPI=false")
        );
        assert!(
            controller("lbc:latest", &[])
                .gateway_api_problem()
                .unwrap()
                .contains("cannot tell its version")
        );
    }

    #[test]
    fn health_check_protocols_must_be_in_the_case_of_the_controllers_version() {
        let tree = crate::repo::load_str(
            "tgc.yaml",
            "apiVersion: gateway.k8s.aws/v1beta1\nkind: TargetGroupConfiguration\nmetadata: {name: a, namespace: n}\nspec:\n  defaultConfiguration:\n    healthCheckConfig:\n      healthCheckProtocol: http\n  routeConfigurations:\n  - targetGroupProps:\n      healthCheckConfig:\n        healthCheckProtocol: HTTP\n",
        )
        .unwrap();
        let group = &tree.objects[0];
        let at_v3 = health_check_protocol_findings(group, Version(3, 5, 0));
        assert_eq!(at_v3.len(), 1, "{at_v3:?}");
        assert!(at_v3[0].message.contains("takes HTTP"), "{at_v3:?}");
        assert_eq!(at_v3[0].location.as_ref().map(|l| l.line), Some(7));
        let at_v2_14 = health_check_protocol_findings(group, Version(2, 14, 1));
        assert_eq!(at_v2_14.len(), 1, "{at_v2_14:?}");
        assert!(at_v2_14[0].message.contains("takes http"), "{at_v2_14:?}");
    }
}
