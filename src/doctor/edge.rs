//! The edge: Gateways not Accepted or Programmed, listeners with unresolved refs, routes their Gateway did not accept or whose backends do not resolve.

use serde_json::Value;

use super::analysis::Diagnoses;
use super::cluster::{self, describe_condition, json_conditions, json_subject};
use super::{Diagnosis, Snapshot};
use crate::report::rule;

rule!(
    EDGE,
    "doctor",
    "edge",
    Error,
    "Gateways are Accepted and Programmed, and their routes Accepted with resolved backends",
    "kubectl describe gateway NAME / kubectl describe httproute NAME; the AWS Load Balancer Controller's log says more (kubectl -n kube-system logs deploy/aws-load-balancer-controller)"
);

const CONTROLLER_LOGS: &str = "kubectl -n kube-system logs deploy/aws-load-balancer-controller";

pub fn analyse(snapshot: &Snapshot, diagnoses: &mut Diagnoses) {
    let routes: Vec<&Value> = snapshot
        .http_routes
        .iter()
        .chain(&snapshot.grpc_routes)
        .collect();
    let mut failing = Vec::new();
    for gateway in &snapshot.gateways {
        if let Some(mut diagnosis) = gateway_diagnosis(gateway) {
            let key = object_key(gateway);
            diagnosis.symptoms = routes
                .iter()
                .filter(|route| parent_gateways(route).contains(&key))
                .map(|route| json_subject(route))
                .collect();
            failing.push(key);
            diagnoses.add(diagnosis);
        }
    }
    for route in routes {
        if let Some(diagnosis) = route_diagnosis(snapshot, route, &failing) {
            diagnoses.add(diagnosis);
        }
    }
}

/// `(namespace, name)` of an object held as JSON.
fn object_key(object: &Value) -> (String, String) {
    (
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// The Gateway a parentRef names (its namespace defaults to the route's), or None for other parent kinds.
fn parent_gateway(route: &Value, parent: &Value) -> Option<(String, String)> {
    let kind = parent["kind"].as_str().unwrap_or("Gateway");
    if kind != "Gateway" {
        return None;
    }
    let namespace = parent["namespace"]
        .as_str()
        .or_else(|| route["metadata"]["namespace"].as_str())
        .unwrap_or_default();
    Some((namespace.to_string(), parent["name"].as_str()?.to_string()))
}

fn parent_gateways(route: &Value) -> Vec<(String, String)> {
    route["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|parent| parent_gateway(route, parent))
        .collect()
}

fn gateway_diagnosis(gateway: &Value) -> Option<Diagnosis> {
    let subject = json_subject(gateway);
    let (namespace, name) = object_key(gateway);
    let class = gateway["spec"]["gatewayClassName"].as_str().unwrap_or("?");
    let mut not = Vec::new();
    let mut evidence = Vec::new();
    let mut unclaimed = false;
    for type_ in ["Accepted", "Programmed"] {
        let condition =
            json_conditions(&gateway["status"]["conditions"]).find(|c| c["type"] == type_);
        match condition {
            Some(c) if c["status"] == "True" => {}
            Some(c) => {
                unclaimed |= c["reason"] == "Pending";
                not.push(type_);
                evidence.push(describe_condition(c));
            }
            None => {
                unclaimed = true;
                not.push(type_);
                evidence.push(format!(
                    "no {type_} condition: no controller has reported on it"
                ));
            }
        }
    }
    let mut problems = Vec::new();
    if !not.is_empty() {
        problems.push(format!("is not {}", not.join(" and not ")));
    }
    let mut listener_remedies = Vec::new();
    for listener in gateway["status"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let listener_name = listener["name"].as_str().unwrap_or("?");
        for condition in json_conditions(&listener["conditions"]) {
            let type_ = condition["type"].as_str().unwrap_or_default();
            let bad = match type_ {
                "ResolvedRefs" => condition["status"] != "True",
                "Accepted" | "Programmed" => condition["status"] == "False",
                _ => false,
            };
            if bad {
                problems.push(format!("has listener {listener_name} not {type_}"));
                evidence.push(format!(
                    "listener {listener_name}: {}",
                    describe_condition(condition)
                ));
                if condition["reason"] == "InvalidCertificateRef" {
                    listener_remedies.push(format!(
                        "fix listener {listener_name}'s tls.certificateRefs (or the ACM certificate the controller discovers for its hostname: it must be ISSUED in this region)"
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        return None;
    }
    let mut diagnosis = Diagnosis::new(
        &EDGE,
        subject.clone(),
        format!("{subject} {}", problems.join("; ")),
    );
    diagnosis.evidence = evidence;
    let has_address = gateway["status"]["addresses"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if !has_address {
        diagnosis
            .evidence
            .push("no address: no load balancer serves it".to_string());
    }
    let describe = format!("kubectl -n {namespace} describe gateway {name}");
    diagnosis.remedy = if unclaimed {
        format!(
            "no controller has taken it: check GatewayClass {class} exists and is Accepted (kubectl get gatewayclass {class}) and that its controller runs (kubectl -n kube-system get deploy aws-load-balancer-controller); then {describe}"
        )
    } else if !listener_remedies.is_empty() {
        format!("{}; {describe}", listener_remedies.join("; "))
    } else {
        format!("{describe}; the controller's log says why: {CONTROLLER_LOGS}")
    };
    Some(diagnosis)
}

fn route_diagnosis(
    snapshot: &Snapshot,
    route: &Value,
    failing: &[(String, String)],
) -> Option<Diagnosis> {
    let subject = json_subject(route);
    let kind = route["kind"].as_str().unwrap_or("HTTPRoute");
    let (namespace, name) = object_key(route);
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    let mut reasons = Vec::new();
    for parent in route["status"]["parents"].as_array().into_iter().flatten() {
        let Some(gateway) = parent_gateway(route, &parent["parentRef"]) else {
            continue;
        };
        if failing.contains(&gateway) {
            continue;
        }
        for type_ in ["Accepted", "ResolvedRefs"] {
            let condition = json_conditions(&parent["conditions"]).find(|c| c["type"] == type_);
            match condition {
                Some(c) if c["status"] == "True" => {}
                Some(c) => {
                    let problem = if type_ == "Accepted" {
                        "not Accepted by"
                    } else {
                        "has unresolved refs at"
                    };
                    problems.push(format!("{problem} Gateway {}/{}", gateway.0, gateway.1));
                    evidence.push(format!(
                        "Gateway {}/{}: {}",
                        gateway.0,
                        gateway.1,
                        describe_condition(c)
                    ));
                    reasons.push(c["reason"].as_str().unwrap_or_default().to_string());
                }
                None => {}
            }
        }
    }
    if cluster::readable(snapshot, "gateways") {
        for gateway in parent_gateways(route) {
            let exists = snapshot.gateways.iter().any(|g| object_key(g) == gateway);
            if !exists {
                problems.push(format!(
                    "names parent Gateway {}/{}, which does not exist",
                    gateway.0, gateway.1
                ));
                reasons.push("ParentNotFound".to_string());
            }
        }
    }
    if problems.is_empty() {
        return None;
    }
    let missing_backends = if cluster::readable(snapshot, "services") {
        missing_backends(snapshot, route)
    } else {
        Vec::new()
    };
    evidence.extend(missing_backends.iter().cloned());
    let mut diagnosis = Diagnosis::new(
        &EDGE,
        subject.clone(),
        format!("{subject} {}", problems.join(", ")),
    );
    diagnosis.evidence = evidence;
    let mut remedies: Vec<String> = Vec::new();
    let mut remedy = |text: String| {
        if !remedies.contains(&text) {
            remedies.push(text);
        }
    };
    if !missing_backends.is_empty() {
        remedy(format!(
            "create the Service or fix spec.rules[].backendRefs (name, namespace, port) of {subject}"
        ));
    }
    for reason in &reasons {
        match reason.as_str() {
            "BackendNotFound" if missing_backends.is_empty() => remedy(format!(
                "a backend of {subject} resolves to nothing: check spec.rules[].backendRefs against kubectl -n {namespace} get services"
            )),
            "RefNotPermitted" => remedy(format!(
                "add a ReferenceGrant in the backend's namespace allowing {kind} from namespace {namespace}"
            )),
            "NotAllowedByListeners" => remedy(format!(
                "the Gateway's listeners do not admit routes from namespace {namespace}: set listeners[].allowedRoutes.namespaces (from: All, or a Selector matching it) on the Gateway"
            )),
            "NoMatchingListenerHostname" => remedy(format!(
                "spec.hostnames of {subject} match no listener hostname of the Gateway: fix one or the other"
            )),
            "NoMatchingParent" => remedy(format!(
                "spec.parentRefs[].sectionName/port of {subject} names no listener of the Gateway"
            )),
            "ParentNotFound" => remedy(format!(
                "fix spec.parentRefs of {subject} to name an existing Gateway"
            )),
            _ => {}
        }
    }
    if remedies.is_empty() {
        remedies.push(format!(
            "kubectl -n {namespace} describe {} {name}; the controller's log says why: {CONTROLLER_LOGS}",
            kind.to_ascii_lowercase()
        ));
    }
    diagnosis.remedy = remedies.join("; ");
    Some(diagnosis)
}

/// Backends (Services) a route names that the snapshot does not hold, or that lack the named port.
fn missing_backends(snapshot: &Snapshot, route: &Value) -> Vec<String> {
    let route_namespace = route["metadata"]["namespace"].as_str().unwrap_or_default();
    let backends = route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["backendRefs"].as_array().into_iter().flatten());
    let mut missing = Vec::new();
    for backend in backends {
        let is_service = backend["kind"].as_str().unwrap_or("Service") == "Service"
            && backend["group"].as_str().unwrap_or_default().is_empty();
        let Some(name) = backend["name"].as_str().filter(|_| is_service) else {
            continue;
        };
        let namespace = backend["namespace"].as_str().unwrap_or(route_namespace);
        let service = snapshot.services.iter().find(|s| {
            cluster::namespace(&s.metadata) == namespace && cluster::name(&s.metadata) == name
        });
        let problem = match (service, backend["port"].as_i64()) {
            (None, _) => format!("backend Service {namespace}/{name} does not exist"),
            (Some(service), Some(port)) => {
                let ports = service.spec.as_ref().and_then(|s| s.ports.as_ref());
                if ports
                    .into_iter()
                    .flatten()
                    .any(|p| i64::from(p.port) == port)
                {
                    continue;
                }
                format!("backend Service {namespace}/{name} has no port {port}")
            }
            (Some(_), None) => continue,
        };
        if !missing.contains(&problem) {
            missing.push(problem);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::super::analysis::diagnose;
    use super::super::fixtures::{HEALTHY, of_check, snapshot};

    fn edge(yaml: &str) -> Vec<super::Diagnosis> {
        of_check(&diagnose(&snapshot(yaml)), "edge")
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn programmed_gateway_and_accepted_route_are_silent() {
        assert!(edge(HEALTHY).is_empty());
    }

    #[test]
    fn gateway_not_programmed_quotes_the_controller_and_claims_its_routes() {
        let yaml = HEALTHY.replace(
            "  - {type: Programmed, status: \"True\", reason: Programmed, observedGeneration: 1}",
            "  - {type: Programmed, status: \"False\", reason: Invalid, message: \"failed to create load balancer: AccessDenied: elasticloadbalancing:CreateLoadBalancer\", observedGeneration: 1}",
        );
        let found = edge(&yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].subject, "Gateway gateway/api-traffictacos-gateway");
        assert_eq!(
            found[0].cause,
            "Gateway gateway/api-traffictacos-gateway is not Programmed"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "Programmed=False (Invalid: failed to create load balancer: AccessDenied: elasticloadbalancing:CreateLoadBalancer)"
            ]
        );
        assert_eq!(found[0].symptoms, vec!["HTTPRoute tacos-app/gateway-api"]);
        assert!(
            found[0]
                .remedy
                .contains("logs deploy/aws-load-balancer-controller")
        );
    }

    #[test]
    fn gateway_no_controller_took_points_at_the_gateway_class() {
        let yaml = HEALTHY.replace(
            "  - {type: Accepted, status: \"True\", reason: Accepted, observedGeneration: 1}\n  - {type: Programmed, status: \"True\", reason: Programmed, observedGeneration: 1}",
            "  - {type: Accepted, status: Unknown, reason: Pending, message: Waiting for controller}\n  - {type: Programmed, status: Unknown, reason: Pending, message: Waiting for controller}",
        );
        let found = edge(&yaml);
        assert_eq!(
            found[0].cause,
            "Gateway gateway/api-traffictacos-gateway is not Accepted and not Programmed"
        );
        assert!(
            found[0]
                .remedy
                .starts_with("no controller has taken it: check GatewayClass aws-alb exists")
        );
    }

    #[test]
    fn listener_with_an_invalid_certificate_is_named() {
        let yaml = HEALTHY.replace(
            "  - name: https\n    conditions: [{type: ResolvedRefs, status: \"True\", reason: ResolvedRefs}]",
            "  - name: https\n    conditions: [{type: ResolvedRefs, status: \"False\", reason: InvalidCertificateRef, message: no certificate found for *.traffictacos.store}]",
        );
        let found = edge(&yaml);
        assert_eq!(
            found[0].cause,
            "Gateway gateway/api-traffictacos-gateway has listener https not ResolvedRefs"
        );
        assert!(
            found[0]
                .remedy
                .starts_with("fix listener https's tls.certificateRefs")
        );
    }

    #[test]
    fn route_with_a_missing_backend_names_the_service() {
        let yaml = HEALTHY
            .replace("  - backendRefs: [{name: gateway-api, port: 8000}]", "  - backendRefs: [{name: gateway-apii, port: 8000}]")
            .replace(
                "    - {type: ResolvedRefs, status: \"True\", reason: ResolvedRefs}",
                "    - {type: ResolvedRefs, status: \"False\", reason: BackendNotFound, message: backend not found}",
            );
        let found = edge(&yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].subject, "HTTPRoute tacos-app/gateway-api");
        assert_eq!(
            found[0].cause,
            "HTTPRoute tacos-app/gateway-api has unresolved refs at Gateway gateway/api-traffictacos-gateway"
        );
        assert_eq!(
            found[0].evidence,
            vec![
                "Gateway gateway/api-traffictacos-gateway: ResolvedRefs=False (BackendNotFound: backend not found)",
                "backend Service tacos-app/gateway-apii does not exist",
            ]
        );
        assert_eq!(
            found[0].remedy,
            "create the Service or fix spec.rules[].backendRefs (name, namespace, port) of HTTPRoute tacos-app/gateway-api"
        );
    }

    #[test]
    fn route_attached_to_a_missing_gateway_says_so() {
        let yaml = HEALTHY.replace(
            "  parentRefs: [{name: api-traffictacos-gateway, namespace: gateway, sectionName: https}]",
            "  parentRefs: [{name: api-gateway, namespace: gateway, sectionName: https}]",
        );
        let found = edge(&yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].cause,
            "HTTPRoute tacos-app/gateway-api names parent Gateway gateway/api-gateway, which does not exist"
        );
    }
}
