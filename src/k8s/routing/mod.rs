//! The routing Gateway API objects really set up, offline: the listeners each route attaches to (or why not) and, per listener and hostname, which rule takes each match by the spec's precedence, what is shadowed, what conflicts, what plain HTTP serves.
//!
//! The source of truth is the Gateway API v1.6.3 module (sigs.k8s.io/gateway-api), apis/v1:
//! gateway_types.go (listeners, allowedRoutes), shared_types.go (ParentReference, route condition
//! reasons), httproute_types.go and grpcroute_types.go (hostnames, matches and their precedence).
//! `tacos routes` shows this model and the lint family `routing` reports from it.

pub mod attach;
pub mod hostname;
pub mod matching;
pub mod precedence;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::repo::Object;

pub use hostname::Host;
pub use matching::Criteria;
pub use precedence::{Decider, Entry, HostTable, Outcome};

pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Http,
    Grpc,
}

impl RouteKind {
    pub fn of(object: &Object) -> Option<RouteKind> {
        if object.is(GATEWAY_GROUP, "HTTPRoute") {
            Some(RouteKind::Http)
        } else if object.is(GATEWAY_GROUP, "GRPCRoute") {
            Some(RouteKind::Grpc)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
        }
    }
}

/// One listener of a Gateway in the tree.
#[derive(Debug)]
pub struct Listener<'a> {
    pub gateway: &'a Object,
    /// Its place in `spec.listeners`.
    pub index: usize,
    pub name: String,
    pub protocol: String,
    pub port: Option<i64>,
    pub hostname: Host,
    pub value: &'a Value,
}

impl Listener<'_> {
    pub fn pointer(&self) -> String {
        format!("/spec/listeners/{}", self.index)
    }

    /// `listener https of Gateway gateway/public`.
    pub fn shown(&self) -> String {
        format!("listener {} of {}", self.name, self.gateway.key())
    }

    /// `HTTPS :443, *.example.com`.
    pub fn summary(&self) -> String {
        let port = self.port.map(|p| format!(" :{p}")).unwrap_or_default();
        let host = self.hostname.written().unwrap_or_else(|| "any host".into());
        format!("{}{port}, {host}", self.protocol)
    }

    fn same_gateway(&self, other: &Listener<'_>) -> bool {
        std::ptr::eq(self.gateway, other.gateway)
    }
}

/// Why a parentRef of a route does not attach to its Gateway: the spec's reasons for the route's
/// `Accepted: False` condition (apis/v1/shared_types.go, RouteConditionReason), and one of tacos's
/// for the case the spec names no reason for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Reason {
    /// The Gateway is not in the tree, or has no listener by the parentRef's sectionName and port.
    NoMatchingParent,
    /// No listener's allowedRoutes (namespaces, kinds, protocol) admits the route.
    NotAllowedByListeners,
    /// No hostname of the route intersects an admitting listener's.
    NoMatchingListenerHostname,
    /// An HTTPRoute and a GRPCRoute share a hostname on a listener and the other one is accepted
    /// (apis/v1/grpcroute_types.go, GRPCRouteSpec.Hostnames: "the implementation MUST accept
    /// exactly one of these two routes": the oldest, then the first by namespace/name).
    HostnameConflict,
}

/// What happens to a request a rule takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A RequestRedirect filter to `scheme: https`.
    RedirectToHttps,
    /// Another RequestRedirect, shown.
    Redirect(String),
    /// The backendRefs, shown (`Service shop/web:80`).
    Forward(Vec<String>),
    /// Neither a redirect nor a backend: the Gateway answers 500 (httproute_types.go, BackendRefs).
    NoBackend,
}

impl Action {
    fn of(rule: &Value, route: &Object) -> Action {
        let filters = rule["filters"].as_array().into_iter().flatten();
        let redirect = filters
            .filter(|f| f["type"] == "RequestRedirect")
            .map(|f| &f["requestRedirect"])
            .next();
        if let Some(redirect) = redirect {
            if redirect["scheme"].as_str() == Some("https") {
                return Action::RedirectToHttps;
            }
            let parts: Vec<String> = ["scheme", "hostname", "port", "path", "statusCode"]
                .iter()
                .filter(|field| !redirect[**field].is_null())
                .map(|field| {
                    let value = &redirect[*field];
                    let value = match value {
                        Value::String(text) => text.clone(),
                        Value::Object(path) => path
                            .values()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                        other => other.to_string(),
                    };
                    format!("{field} {value}")
                })
                .collect();
            return Action::Redirect(parts.join(", "));
        }
        let backends: Vec<String> = rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|backend| {
                let kind = backend["kind"].as_str().unwrap_or("Service");
                let namespace = backend["namespace"]
                    .as_str()
                    .or(route.namespace())
                    .map(|ns| format!("{ns}/"))
                    .unwrap_or_default();
                let name = backend["name"].as_str().unwrap_or_default();
                let port = backend["port"]
                    .as_i64()
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default();
                let weight = backend["weight"]
                    .as_i64()
                    .filter(|w| *w != 1)
                    .map(|w| format!(" (weight {w})"))
                    .unwrap_or_default();
                format!("{kind} {namespace}{name}{port}{weight}")
            })
            .collect();
        if backends.is_empty() {
            Action::NoBackend
        } else {
            Action::Forward(backends)
        }
    }

    pub fn shown(&self) -> String {
        match self {
            Action::RedirectToHttps => "redirect to https".to_string(),
            Action::Redirect(how) if how.is_empty() => "redirect".to_string(),
            Action::Redirect(how) => format!("redirect ({how})"),
            Action::Forward(backends) => format!("-> {}", backends.join(", ")),
            Action::NoBackend => "no backend (500)".to_string(),
        }
    }
}

/// One match of a rule: its place in `matches` (None for a rule without matches) and what it matches.
#[derive(Debug)]
pub struct Match {
    pub index: Option<usize>,
    pub criteria: Criteria,
}

#[derive(Debug)]
pub struct Rule<'a> {
    pub index: usize,
    pub value: &'a Value,
    pub matches: Vec<Match>,
    pub action: Action,
}

impl Rule<'_> {
    pub fn pointer(&self) -> String {
        format!("/spec/rules/{}", self.index)
    }

    pub fn match_pointer(&self, matched: usize) -> String {
        match self.matches[matched].index {
            Some(m) => format!("/spec/rules/{}/matches/{m}", self.index),
            None => self.pointer(),
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.value["name"].as_str()
    }
}

/// One parentRef of a route that names a Gateway, and what became of it.
#[derive(Debug)]
pub struct Parent {
    /// Its place in `spec.parentRefs`.
    pub index: usize,
    /// `Gateway gateway/public`.
    pub target: String,
    /// The listeners it attaches to (indexes into `Model::listeners`), or why none.
    pub outcome: Result<Vec<usize>, NotAttached>,
}

#[derive(Debug, Clone)]
pub struct NotAttached {
    pub reason: Reason,
    /// Where the route says what is at fault (relative to the route).
    pub pointer: String,
    pub message: String,
    /// False when the tree may lack what would decide it (a Namespace's labels).
    pub certain: bool,
}

/// A listener a route is attached to, and the hostnames it serves there (route ∩ listener).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub listener: usize,
    pub parent: usize,
    pub hosts: Vec<Host>,
}

/// A route hostname that no listener a parentRef attaches to serves: the spec says it is ignored.
#[derive(Debug, Clone)]
pub struct IgnoredHostname {
    pub parent: usize,
    /// Its place in `spec.hostnames`.
    pub hostname: usize,
    pub message: String,
}

/// A listener that drops this route because a route of the other kind shares a hostname there.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub listener: usize,
    pub parent: usize,
    /// The route kept (index into `Model::routes`).
    pub by: usize,
    pub host: Host,
    pub decided_by: Decider,
    pub message: String,
}

/// An HTTPRoute or GRPCRoute of the tree and where it attaches.
#[derive(Debug)]
pub struct Route<'a> {
    pub object: &'a Object,
    pub kind: RouteKind,
    /// `spec.hostnames`, in order.
    pub hostnames: Vec<Host>,
    pub rules: Vec<Rule<'a>>,
    pub created: Option<jiff::Timestamp>,
    /// Its parentRefs to Gateways.
    pub parents: Vec<Parent>,
    /// parentRefs to something else (a Service for a mesh): not modelled.
    pub other_parents: usize,
    pub attachments: Vec<Attachment>,
    pub ignored_hostnames: Vec<IgnoredHostname>,
    pub rejections: Vec<Rejection>,
}

impl Route<'_> {
    /// `HTTPRoute shop/web`.
    pub fn shown(&self) -> String {
        self.object.key().to_string()
    }

    /// `{namespace}/{name}`, the spec's alphabetical tie-breaker.
    pub fn namespaced_name(&self) -> String {
        format!(
            "{}/{}",
            self.object.namespace().unwrap_or_default(),
            self.object.name()
        )
    }

    /// Attached to no listener of any Gateway (and to nothing tacos does not model).
    pub fn unattached(&self) -> bool {
        self.attachments.is_empty() && self.other_parents == 0
    }
}

/// A place in the tables: listener, host row, entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub listener: usize,
    pub host: usize,
    pub entry: usize,
}

/// A match of a rule that no request reaches on any listener it is attached to, and where it loses.
#[derive(Debug)]
pub struct DeadMatch {
    /// Its place in `Rule::matches`.
    pub matched: usize,
    pub losses: Vec<Place>,
}

/// A rule none of whose matches (`whole_rule`), or some of whose matches, any request reaches.
#[derive(Debug)]
pub struct Shadowed {
    pub route: usize,
    pub rule: usize,
    pub matches: Vec<DeadMatch>,
    pub whole_rule: bool,
}

/// Identical matches of different routes at the same precedence on one listener and host: the
/// winner by the spec's tie-breakers, and each loser with the tie-breaker that decided it.
#[derive(Debug)]
pub struct Conflict {
    pub listener: usize,
    pub host: usize,
    pub winner: usize,
    pub losers: Vec<(usize, Decider)>,
}

/// A match a rule wins on a plain-HTTP listener without redirecting to https.
#[derive(Debug, Clone, Copy)]
pub struct PlainHttp {
    pub place: Place,
}

/// The whole routing of a tree.
#[derive(Debug)]
pub struct Model<'a> {
    pub listeners: Vec<Listener<'a>>,
    pub routes: Vec<Route<'a>>,
    /// Per listener (same index), its host rows in display order.
    pub tables: Vec<Vec<HostTable>>,
}

impl<'a> Model<'a> {
    /// Reads the Gateways, Namespaces, HTTPRoutes and GRPCRoutes among `objects`.
    pub fn build(objects: &'a [Object]) -> Model<'a> {
        let listeners: Vec<Listener<'a>> = objects
            .iter()
            .filter(|o| o.is(GATEWAY_GROUP, "Gateway"))
            .flat_map(|gateway| {
                gateway.value["spec"]["listeners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(move |(index, value)| Listener {
                        gateway,
                        index,
                        name: value["name"].as_str().unwrap_or_default().to_string(),
                        protocol: value["protocol"].as_str().unwrap_or_default().to_string(),
                        port: value["port"].as_i64(),
                        hostname: Host::parse(value["hostname"].as_str().unwrap_or_default()),
                        value,
                    })
            })
            .collect();
        let index = attach::Index::new(objects, &listeners);
        let mut routes: Vec<Route<'a>> = objects
            .iter()
            .filter_map(|object| RouteKind::of(object).map(|kind| read_route(object, kind)))
            .collect();
        for route in &mut routes {
            attach::resolve(route, &index, &listeners);
        }
        reject_cross_kind(&mut routes, &listeners);
        let tables = precedence::tables(&listeners, &routes);
        Model {
            listeners,
            routes,
            tables,
        }
    }

    pub fn entry(&self, place: Place) -> &Entry {
        &self.tables[place.listener][place.host].entries[place.entry]
    }

    pub fn host(&self, place: Place) -> &Host {
        &self.tables[place.listener][place.host].host
    }

    pub fn criteria(&self, entry: &Entry) -> &Criteria {
        &self.routes[entry.route].rules[entry.rule].matches[entry.matched].criteria
    }

    pub fn rule(&self, entry: &Entry) -> &Rule<'a> {
        &self.routes[entry.route].rules[entry.rule]
    }

    /// `HTTPRoute shop/web rule 1 (PathPrefix /api)`.
    pub fn shown_entry(&self, entry: &Entry) -> String {
        format!(
            "{} rule {} ({})",
            self.routes[entry.route].shown(),
            entry.rule,
            self.criteria(entry).shown()
        )
    }

    /// Why the entry at `place` gets no request, or None when it wins.
    pub fn why_lost(&self, place: Place) -> Option<String> {
        let table = &self.tables[place.listener][place.host];
        let entry = &table.entries[place.entry];
        match &entry.outcome {
            Outcome::Wins => None,
            Outcome::Shadowed { by, why } => Some(format!(
                "taken by {}, which ranks higher by {}",
                self.shown_entry(&table.entries[*by]),
                why.text()
            )),
            Outcome::Conflict { winner, decided_by } => Some(format!(
                "the same match as {}, which wins by {}",
                self.shown_entry(&table.entries[*winner]),
                decided_by.text()
            )),
            Outcome::OtherListener(listener) => Some(format!(
                "requests for {} go to the more specific {}",
                table.host,
                self.listeners[*listener].shown()
            )),
        }
    }

    fn places(&self) -> impl Iterator<Item = Place> + '_ {
        self.tables.iter().enumerate().flat_map(|(listener, rows)| {
            rows.iter().enumerate().flat_map(move |(host, row)| {
                (0..row.entries.len()).map(move |entry| Place {
                    listener,
                    host,
                    entry,
                })
            })
        })
    }

    /// Rules (or some of their matches) that no request reaches on any listener and host they are
    /// attached to, where at least one loss is to a higher-precedence match or a more specific
    /// listener (losses only to an identical match are `conflicts`).
    pub fn shadowed(&self) -> Vec<Shadowed> {
        type Key = (usize, usize, usize);
        let mut won: BTreeMap<Key, bool> = BTreeMap::new();
        let mut losses: BTreeMap<Key, Vec<Place>> = BTreeMap::new();
        for place in self.places() {
            let entry = self.entry(place);
            let key = (entry.route, entry.rule, entry.matched);
            let wins = matches!(entry.outcome, Outcome::Wins);
            *won.entry(key).or_default() |= wins;
            if !wins {
                losses.entry(key).or_default().push(place);
            }
        }
        let mut by_rule: BTreeMap<(usize, usize), Vec<DeadMatch>> = BTreeMap::new();
        for (key, won) in &won {
            let (route, rule, matched) = *key;
            let lost = losses.remove(key).unwrap_or_default();
            let only_conflicts = lost
                .iter()
                .all(|p| matches!(self.entry(*p).outcome, Outcome::Conflict { .. }));
            if !won && !only_conflicts {
                by_rule.entry((route, rule)).or_default().push(DeadMatch {
                    matched,
                    losses: lost,
                });
            }
        }
        by_rule
            .into_iter()
            .map(|((route, rule), matches)| {
                let whole_rule = (0..self.routes[route].rules[rule].matches.len()).all(|m| {
                    matches.iter().any(|d| d.matched == m)
                        || won.get(&(route, rule, m)) == Some(&false)
                });
                Shadowed {
                    route,
                    rule,
                    matches,
                    whole_rule,
                }
            })
            .collect()
    }

    /// Identical matches at the same precedence from different routes, by who wins.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut by_winner: BTreeMap<(usize, usize, usize), Vec<(usize, Decider)>> = BTreeMap::new();
        for place in self.places() {
            if let Outcome::Conflict { winner, decided_by } = self.entry(place).outcome {
                by_winner
                    .entry((place.listener, place.host, winner))
                    .or_default()
                    .push((place.entry, decided_by));
            }
        }
        by_winner
            .into_iter()
            .map(|((listener, host, winner), losers)| Conflict {
                listener,
                host,
                winner,
                losers,
            })
            .collect()
    }

    /// Matches won on an `HTTP` listener by a rule that does anything but redirect to https.
    pub fn plain_http(&self) -> Vec<PlainHttp> {
        self.places()
            .filter(|place| self.listeners[place.listener].protocol == "HTTP")
            .filter(|place| {
                let entry = self.entry(*place);
                matches!(entry.outcome, Outcome::Wins)
                    && self.rule(entry).action != Action::RedirectToHttps
            })
            .map(|place| PlainHttp { place })
            .collect()
    }

    /// Routes attached to no listener at all.
    pub fn unattached(&self) -> impl Iterator<Item = &Route<'a>> {
        self.routes.iter().filter(|r| r.unattached())
    }
}

fn read_route(object: &Object, kind: RouteKind) -> Route<'_> {
    let spec = &object.value["spec"];
    let grpc = kind == RouteKind::Grpc;
    let rules = spec["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, rule)| {
            let written: Vec<&Value> = rule["matches"].as_array().into_iter().flatten().collect();
            let matches = if written.is_empty() {
                vec![Match {
                    index: None,
                    criteria: Criteria::everything(grpc),
                }]
            } else {
                written
                    .iter()
                    .enumerate()
                    .map(|(m, matched)| Match {
                        index: Some(m),
                        criteria: if grpc {
                            Criteria::grpc(matched)
                        } else {
                            Criteria::http(matched)
                        },
                    })
                    .collect()
            };
            Rule {
                index,
                value: rule,
                matches,
                action: Action::of(rule, object),
            }
        })
        .collect();
    Route {
        object,
        kind,
        hostnames: spec["hostnames"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| Host::parse(h.as_str().unwrap_or_default()))
            .collect(),
        rules,
        created: object.value["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|t| t.parse().ok()),
        parents: Vec::new(),
        other_parents: 0,
        attachments: Vec::new(),
        ignored_hostnames: Vec::new(),
        rejections: Vec::new(),
    }
}

/// An HTTPRoute and a GRPCRoute whose hostnames intersect on a listener: the listener keeps the
/// older (then the first by namespace/name) and drops the other (grpcroute_types.go,
/// GRPCRouteSpec.Hostnames). A parentRef left with no listener is then not accepted.
fn reject_cross_kind(routes: &mut [Route<'_>], listeners: &[Listener<'_>]) {
    let mut order: Vec<usize> = (0..routes.len()).collect();
    order.sort_by(|a, b| precedence::route_order(&routes[*a], &routes[*b]).0);
    let mut kept: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut rejected: Vec<(usize, Rejection)> = Vec::new();
    for &r in &order {
        for attachment in &routes[r].attachments {
            let kept_here = kept.entry(attachment.listener).or_default();
            let clash = kept_here.iter().find_map(|&other| {
                let theirs = routes[other]
                    .attachments
                    .iter()
                    .find(|a| a.listener == attachment.listener)?;
                if routes[other].kind == routes[r].kind {
                    return None;
                }
                attachment
                    .hosts
                    .iter()
                    .find_map(|mine| theirs.hosts.iter().find_map(|t| mine.intersect(t)))
                    .map(|host| (other, host))
            });
            match clash {
                Some((other, host)) => rejected.push((
                    r,
                    Rejection {
                        listener: attachment.listener,
                        parent: attachment.parent,
                        by: other,
                        host,
                        decided_by: precedence::route_order(&routes[other], &routes[r]).1,
                        message: String::new(),
                    },
                )),
                None => kept_here.push(r),
            }
        }
    }
    for (r, mut rejection) in rejected {
        let message = format!(
            "{} keeps {}, which shares hostname {} with this {} and wins by {}: an HTTPRoute and a GRPCRoute may not share a hostname on one listener",
            listeners[rejection.listener].shown(),
            routes[rejection.by].shown(),
            rejection.host,
            routes[r].kind.name(),
            rejection.decided_by.text()
        );
        let route = &mut routes[r];
        route
            .attachments
            .retain(|a| a.listener != rejection.listener);
        for parent in &mut route.parents {
            if parent.index != rejection.parent {
                continue;
            }
            if let Ok(attached) = &mut parent.outcome {
                attached.retain(|l| *l != rejection.listener);
                if attached.is_empty() {
                    parent.outcome = Err(NotAttached {
                        reason: Reason::HostnameConflict,
                        pointer: format!("/spec/parentRefs/{}", parent.index),
                        message: message.clone(),
                        certain: true,
                    });
                }
            }
        }
        rejection.message = message;
        route.rejections.push(rejection);
    }
}

#[cfg(test)]
mod tests;
