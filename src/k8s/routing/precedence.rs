//! The spec's precedence among the matches on one listener and host: sorted, and for each match whether it wins or what takes its requests, and by which criterion.
//!
//! Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames and
//! HTTPRouteRule.Matches (apis/v1/grpcroute_types.go, GRPCRouteRule.Matches, for gRPC), in order:
//! the matching hostname (non-wildcard characters, then characters), the match's own criteria
//! (`Criteria::rank`), then "the oldest Route based on creation timestamp", then "the Route
//! appearing first in alphabetical order by {namespace}/{name}", then "the FIRST matching rule (in
//! list order)". Listeners on one port that differ only by hostname take a request by the most
//! specific hostname first (apis/v1/gateway_types.go, "Listeners that are distinct only by Hostname").

use std::cmp::Ordering;

use super::{Host, Listener, Route};

/// One host of a listener: every match that applies to a request for it, in precedence order.
/// A wildcard row stands for the hosts under it that have no row of their own.
#[derive(Debug)]
pub struct HostTable {
    pub host: Host,
    /// A more specific listener on the same port that takes every request for this host.
    pub taken_by: Option<usize>,
    pub entries: Vec<Entry>,
}

/// A match of a rule of a route on one host, and what happens to it.
#[derive(Debug)]
pub struct Entry {
    pub route: usize,
    pub rule: usize,
    /// Its place in `Rule::matches`.
    pub matched: usize,
    /// `Host::route_rank` of the route's hostname that matches this host.
    pub host_rank: (usize, usize),
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No match above it takes every request it matches.
    Wins,
    /// The entry `by` (its place in the same row) ranks higher and matches every request this does.
    Shadowed { by: usize, why: Decider },
    /// The same match, at the same precedence, of another route: the tie-breakers decide.
    Conflict { winner: usize, decided_by: Decider },
    /// Another listener takes the host (index into `Model::listeners`).
    OtherListener(usize),
}

/// The criterion that puts one match above another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    ExactHostname,
    Hostname,
    Criterion(&'static str),
    Created,
    /// `timestamps`: whether both routes set a creationTimestamp.
    Name {
        timestamps: bool,
    },
    Rule,
    Match,
}

impl Decider {
    pub fn text(self) -> String {
        match self {
            Decider::ExactHostname => "more characters in a matching non-wildcard hostname".into(),
            Decider::Hostname => "more characters in a matching hostname".into(),
            Decider::Criterion(name) => name.into(),
            Decider::Created => "the older creationTimestamp".into(),
            Decider::Name { timestamps: true } => {
                "{namespace}/{name} first in alphabetical order".into()
            }
            Decider::Name { timestamps: false } => {
                "{namespace}/{name} first in alphabetical order (the tree sets no creationTimestamp: on a cluster the older route wins)".into()
            }
            Decider::Rule => "coming first in the route's rules".into(),
            Decider::Match => "coming first in the rule's matches".into(),
        }
    }

    /// A stable name for JSON.
    pub fn id(self) -> &'static str {
        match self {
            Decider::ExactHostname | Decider::Hostname => "hostname",
            Decider::Criterion(_) => "match",
            Decider::Created => "creationTimestamp",
            Decider::Name { .. } => "namespace/name",
            Decider::Rule => "ruleOrder",
            Decider::Match => "matchOrder",
        }
    }
}

/// Which of two routes the spec's tie-breakers put first: the older creationTimestamp (a route the
/// tree gives none is taken as not yet created, so newer), then `{namespace}/{name}`.
pub fn route_order(a: &Route<'_>, b: &Route<'_>) -> (Ordering, Decider) {
    let created = match (a.created, b.created) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    if created != Ordering::Equal {
        return (created, Decider::Created);
    }
    let timestamps = a.created.is_some() && b.created.is_some();
    (
        a.namespaced_name().cmp(&b.namespaced_name()),
        Decider::Name { timestamps },
    )
}

/// Which of two entries of one host row comes first, and the criterion that decides.
fn entry_order(a: &Entry, b: &Entry, routes: &[Route<'_>]) -> (Ordering, Decider) {
    let steps = [
        (b.host_rank.0.cmp(&a.host_rank.0), Decider::ExactHostname),
        (b.host_rank.1.cmp(&a.host_rank.1), Decider::Hostname),
    ];
    if let Some(step) = steps.into_iter().find(|(o, _)| o.is_ne()) {
        return step;
    }
    let (ca, cb) = (criteria(a, routes), criteria(b, routes));
    let (ra, rb) = (ca.rank(), cb.rank());
    if let Some(i) = (0..ra.len()).find(|i| ra[*i] != rb[*i]) {
        return (
            rb[i].cmp(&ra[i]),
            Decider::Criterion(ca.criteria_names()[i]),
        );
    }
    if a.route != b.route {
        return route_order(&routes[a.route], &routes[b.route]);
    }
    if a.rule != b.rule {
        return (a.rule.cmp(&b.rule), Decider::Rule);
    }
    (a.matched.cmp(&b.matched), Decider::Match)
}

fn criteria<'r>(entry: &Entry, routes: &'r [Route<'_>]) -> &'r super::Criteria {
    &routes[entry.route].rules[entry.rule].matches[entry.matched].criteria
}

/// Every listener's host rows.
pub(super) fn tables(listeners: &[Listener<'_>], routes: &[Route<'_>]) -> Vec<Vec<HostTable>> {
    (0..listeners.len())
        .map(|l| listener_table(l, listeners, routes))
        .collect()
}

fn listener_table(l: usize, listeners: &[Listener<'_>], routes: &[Route<'_>]) -> Vec<HostTable> {
    let attached: Vec<(usize, &Vec<Host>)> = routes
        .iter()
        .enumerate()
        .flat_map(|(r, route)| {
            route
                .attachments
                .iter()
                .filter(move |a| a.listener == l)
                .map(move |a| (r, &a.hosts))
        })
        .collect();
    let mut hosts: Vec<Host> = attached
        .iter()
        .flat_map(|(_, hosts)| hosts.iter().cloned())
        .collect();
    hosts.sort_by(|a, b| {
        b.listener_rank()
            .cmp(&a.listener_rank())
            .then_with(|| a.cmp(b))
    });
    hosts.dedup();
    hosts
        .into_iter()
        .map(|host| {
            let mut entries: Vec<Entry> = Vec::new();
            for (r, route_hosts) in &attached {
                let Some(matching) = route_hosts
                    .iter()
                    .filter(|h| h.covers(&host))
                    .max_by_key(|h| h.route_rank())
                else {
                    continue;
                };
                for (rule_index, rule) in routes[*r].rules.iter().enumerate() {
                    for matched in 0..rule.matches.len() {
                        entries.push(Entry {
                            route: *r,
                            rule: rule_index,
                            matched,
                            host_rank: matching.route_rank(),
                            outcome: Outcome::Wins,
                        });
                    }
                }
            }
            entries.sort_by(|a, b| entry_order(a, b, routes).0);
            let taken_by = more_specific_listener(l, &host, listeners);
            decide(&mut entries, taken_by, routes);
            HostTable {
                host,
                taken_by,
                entries,
            }
        })
        .collect()
}

/// The most specific other listener of the same Gateway, port and protocol whose hostname covers
/// `host` and is more specific than listener `l`'s.
fn more_specific_listener(l: usize, host: &Host, listeners: &[Listener<'_>]) -> Option<usize> {
    let listener = &listeners[l];
    listeners
        .iter()
        .enumerate()
        .filter(|(other, candidate)| {
            *other != l
                && candidate.same_gateway(listener)
                && candidate.port == listener.port
                && candidate.protocol == listener.protocol
                && candidate.hostname.covers(host)
                && candidate.hostname.listener_rank() > listener.hostname.listener_rank()
        })
        .max_by_key(|(_, candidate)| candidate.hostname.listener_rank())
        .map(|(other, _)| other)
}

/// Sets each entry's outcome: the first entry above it that matches every request it matches
/// takes them all.
fn decide(entries: &mut [Entry], taken_by: Option<usize>, routes: &[Route<'_>]) {
    for j in 0..entries.len() {
        if let Some(listener) = taken_by {
            entries[j].outcome = Outcome::OtherListener(listener);
            continue;
        }
        let mine = criteria(&entries[j], routes);
        let Some(i) = (0..j).find(|i| criteria(&entries[*i], routes).covers(mine)) else {
            continue;
        };
        let (above, this) = (&entries[i], &entries[j]);
        let theirs = criteria(above, routes);
        let identical = above.host_rank == this.host_rank
            && theirs.rank() == mine.rank()
            && mine.covers(theirs);
        entries[j].outcome = if identical && above.route != this.route {
            Outcome::Conflict {
                winner: i,
                decided_by: route_order(&routes[above.route], &routes[this.route]).1,
            }
        } else {
            Outcome::Shadowed {
                by: i,
                why: entry_order(above, this, routes).1,
            }
        };
    }
}
