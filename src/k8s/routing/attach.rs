//! Which listeners a route's parentRefs attach it to (the Gateway, its listeners by sectionName and port, allowedRoutes by namespace, kind and protocol, hostname intersection), and why not, by the spec's reasons.
//!
//! Gateway API v1.6.3, apis/v1/shared_types.go (ParentReference: group and kind default to
//! gateway.networking.k8s.io Gateway, namespace to the route's; sectionName and port select
//! listeners, both must match when both are set) and apis/v1/gateway_types.go (AllowedRoutes:
//! namespaces from Same by default, All, Selector over the Namespace's labels; kinds default to
//! those of the listener's protocol).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    Attachment, GATEWAY_GROUP, Host, IgnoredHostname, Listener, NotAttached, Parent, Reason, Route,
};
use crate::k8s::workloads::selector_matches;
use crate::repo::Object;

/// The label the apiserver sets on every Namespace to its name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A Gateway and its listeners (indexes into `Model::listeners`).
type GatewayListeners<'a> = (&'a Object, Vec<usize>);

/// Gateways (with their listeners) and Namespaces by name.
pub struct Index<'a> {
    gateways: HashMap<(Option<&'a str>, &'a str), GatewayListeners<'a>>,
    namespaces: HashMap<&'a str, &'a Object>,
}

impl<'a> Index<'a> {
    pub fn new(objects: &'a [Object], listeners: &[Listener<'a>]) -> Self {
        let mut gateways: HashMap<_, GatewayListeners<'a>> = HashMap::new();
        for gateway in objects.iter().filter(|o| o.is(GATEWAY_GROUP, "Gateway")) {
            gateways
                .entry((gateway.namespace(), gateway.name()))
                .or_insert((gateway, Vec::new()));
        }
        for (l, listener) in listeners.iter().enumerate() {
            let key = (listener.gateway.namespace(), listener.gateway.name());
            if let Some((gateway, ids)) = gateways.get_mut(&key)
                && std::ptr::eq(*gateway, listener.gateway)
            {
                ids.push(l);
            }
        }
        Self {
            gateways,
            namespaces: objects
                .iter()
                .filter(|o| o.is("", "Namespace"))
                .map(|o| (o.name(), o))
                .collect(),
        }
    }
}

/// Why one listener does not admit a route.
struct Refusal {
    why: String,
    certain: bool,
}

/// Resolves every parentRef of `route`: its `parents`, `attachments` and `ignored_hostnames`.
pub fn resolve(route: &mut Route<'_>, index: &Index<'_>, listeners: &[Listener<'_>]) {
    let parent_refs = route.object.value["spec"]["parentRefs"].as_array();
    for (i, parent) in parent_refs.into_iter().flatten().enumerate() {
        let group = parent["group"].as_str().unwrap_or(GATEWAY_GROUP);
        let kind = parent["kind"].as_str().unwrap_or("Gateway");
        if group != GATEWAY_GROUP || kind != "Gateway" {
            route.other_parents += 1;
            continue;
        }
        let name = parent["name"].as_str().unwrap_or_default();
        let namespace = parent["namespace"].as_str().or(route.object.namespace());
        let target = match namespace {
            Some(namespace) => format!("Gateway {namespace}/{name}"),
            None => format!("Gateway {name}"),
        };
        let outcome = attach(
            route,
            i,
            parent,
            index.gateways.get(&(namespace, name)),
            index,
            listeners,
            &target,
        );
        route.parents.push(Parent {
            index: i,
            target,
            outcome,
        });
    }
}

fn attach(
    route: &mut Route<'_>,
    i: usize,
    parent: &Value,
    gateway: Option<&GatewayListeners<'_>>,
    index: &Index<'_>,
    listeners: &[Listener<'_>],
    target: &str,
) -> Result<Vec<usize>, NotAttached> {
    let pointer = format!("/spec/parentRefs/{i}");
    let Some((gateway, ids)) = gateway else {
        return Err(NotAttached {
            reason: Reason::NoMatchingParent,
            pointer,
            message: format!("parent {target} is not in the tree"),
            certain: true,
        });
    };
    let section = parent["sectionName"].as_str();
    let port = parent["port"].as_i64();
    let candidates: Vec<usize> = ids
        .iter()
        .copied()
        .filter(|l| section.is_none_or(|s| listeners[*l].name == s))
        .filter(|l| port.is_none_or(|p| listeners[*l].port == Some(p)))
        .collect();
    if candidates.is_empty() {
        let (field, wanted) = match (section, port) {
            (Some(section), Some(port)) => ("/sectionName", format!("{section} on port {port}")),
            (Some(section), None) => ("/sectionName", section.to_string()),
            (None, Some(port)) => ("/port", format!("on port {port}")),
            (None, None) => ("", "at all".to_string()),
        };
        let names: Vec<&str> = ids.iter().map(|l| listeners[*l].name.as_str()).collect();
        return Err(NotAttached {
            reason: Reason::NoMatchingParent,
            pointer: format!("{pointer}{field}"),
            message: format!(
                "{} has no listener {wanted} (its listeners: {})",
                gateway.key(),
                names.join(", ")
            ),
            certain: true,
        });
    }
    let mut allowed = Vec::new();
    let mut refusals = Vec::new();
    for l in candidates {
        match admits(&listeners[l], route, index) {
            Ok(()) => allowed.push(l),
            Err(refusal) => refusals.push((l, refusal)),
        }
    }
    if allowed.is_empty() {
        let reasons: Vec<String> = refusals
            .iter()
            .map(|(l, refusal)| format!("listener {} {}", listeners[*l].name, refusal.why))
            .collect();
        return Err(NotAttached {
            reason: Reason::NotAllowedByListeners,
            pointer,
            message: format!(
                "{} admits this {} on none of its listeners: {}",
                gateway.key(),
                route.kind.name(),
                reasons.join("; ")
            ),
            certain: refusals.iter().all(|(_, r)| r.certain),
        });
    }
    let served: Vec<String> = allowed
        .iter()
        .map(|l| format!("{} ({})", listeners[*l].name, listeners[*l].hostname))
        .collect();
    let mut attached = Vec::new();
    for &l in &allowed {
        let hosts = served_hosts(&route.hostnames, &listeners[l].hostname);
        if hosts.is_empty() {
            continue;
        }
        attached.push(l);
        match route.attachments.iter_mut().find(|a| a.listener == l) {
            Some(existing) => {
                existing.hosts.extend(hosts);
                existing.hosts.sort();
                existing.hosts.dedup();
            }
            None => route.attachments.push(Attachment {
                listener: l,
                parent: i,
                hosts,
            }),
        }
    }
    let whole = if attached.is_empty() {
        format!(
            "; no hostname of the route does, so {} does not accept it",
            gateway.key()
        )
    } else {
        String::new()
    };
    for (h, host) in route.hostnames.iter().enumerate() {
        if allowed
            .iter()
            .any(|l| listeners[*l].hostname.intersect(host).is_some())
        {
            continue;
        }
        route.ignored_hostnames.push(IgnoredHostname {
            parent: i,
            hostname: h,
            message: format!(
                "hostname {host} matches no listener it attaches to on {}: {}{whole}",
                gateway.key(),
                served.join(", ")
            ),
        });
    }
    if attached.is_empty() {
        return Err(NotAttached {
            reason: Reason::NoMatchingListenerHostname,
            pointer: "/spec/hostnames".to_string(),
            message: format!(
                "no hostname of the route matches a listener it attaches to on {}: {}",
                gateway.key(),
                served.join(", ")
            ),
            certain: true,
        });
    }
    Ok(attached)
}

/// The hosts a route serves on a listener: its hostnames the listener's intersects (the narrower
/// of each pair), or the listener's own when the route has none (httproute_types.go,
/// HTTPRouteSpec.Hostnames: route hostnames that do not match the listener's "MUST be ignored").
pub fn served_hosts(route_hosts: &[Host], listener_host: &Host) -> Vec<Host> {
    if route_hosts.is_empty() {
        return vec![listener_host.clone()];
    }
    let mut hosts: Vec<Host> = route_hosts
        .iter()
        .filter_map(|h| listener_host.intersect(h))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The route kinds a listener protocol takes when allowedRoutes.kinds is empty (gateway_types.go,
/// AllowedRoutes.Kinds: "determined using the Listener protocol"); None for protocols the spec
/// does not define.
fn protocol_kinds(protocol: &str) -> Option<&'static [&'static str]> {
    match protocol {
        "HTTP" | "HTTPS" => Some(&["HTTPRoute", "GRPCRoute"]),
        "TLS" => Some(&["TLSRoute"]),
        "TCP" => Some(&["TCPRoute"]),
        "UDP" => Some(&["UDPRoute"]),
        _ => None,
    }
}

/// Whether a listener's allowedRoutes and protocol admit the route.
fn admits(listener: &Listener<'_>, route: &Route<'_>, index: &Index<'_>) -> Result<(), Refusal> {
    let allowed = &listener.value["allowedRoutes"];
    let kind = route.kind.name();
    let refuse = |why: String| Refusal { why, certain: true };
    let written: Vec<(&str, &str)> = allowed["kinds"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            (
                k["group"].as_str().unwrap_or(GATEWAY_GROUP),
                k["kind"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    if !written.is_empty() && !written.contains(&(GATEWAY_GROUP, kind)) {
        let listed: Vec<&str> = written.iter().map(|(_, k)| *k).collect();
        return Err(refuse(format!(
            "takes only {} (allowedRoutes.kinds)",
            listed.join(", ")
        )));
    }
    match protocol_kinds(&listener.protocol) {
        Some(kinds) if !kinds.contains(&kind) => {
            return Err(refuse(format!(
                "is {}, which takes no {kind}",
                listener.protocol
            )));
        }
        None if written.is_empty() => {
            return Err(refuse(format!(
                "has protocol {:?}, which the Gateway API does not define: list the route kinds it takes in allowedRoutes.kinds",
                listener.protocol
            )));
        }
        _ => {}
    }
    let route_namespace = route.object.namespace();
    let gateway_namespace = listener.gateway.namespace();
    let namespaces = &allowed["namespaces"];
    match namespaces["from"].as_str().unwrap_or("Same") {
        "All" => Ok(()),
        "Same" if route_namespace == gateway_namespace => Ok(()),
        "Same" => Err(refuse(format!(
            "takes routes only from its own namespace {} (allowedRoutes.namespaces.from: Same, the default)",
            gateway_namespace.unwrap_or("(none)")
        ))),
        "Selector" => {
            let selector = &namespaces["selector"];
            let Some(namespace) = route_namespace else {
                return Err(Refusal {
                    why: "takes routes only from namespaces its selector selects, and the route sets no namespace".into(),
                    certain: false,
                });
            };
            let object = index.namespaces.get(namespace);
            let mut labels: Map<String, Value> = object
                .and_then(|o| o.value["metadata"]["labels"].as_object().cloned())
                .unwrap_or_default();
            labels.insert(NAMESPACE_NAME_LABEL.into(), Value::from(namespace));
            if selector_matches(selector, &labels) {
                return Ok(());
            }
            let known = match object {
                Some(_) => format!("namespace {namespace} has labels {}", Value::Object(labels)),
                None => {
                    format!("namespace {namespace} is not in the tree, so its labels are unknown")
                }
            };
            Err(Refusal {
                why: format!(
                    "takes routes only from namespaces its selector {selector} selects, and {known}"
                ),
                certain: object.is_some(),
            })
        }
        "None" => Err(refuse(
            "takes no routes (allowedRoutes.namespaces.from: None)".into(),
        )),
        other => Err(refuse(format!(
            "has allowedRoutes.namespaces.from {other:?}, none of All, Selector, Same"
        ))),
    }
}
