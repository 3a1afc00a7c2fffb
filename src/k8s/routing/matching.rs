//! Route matches (HTTPRouteMatch, GRPCRouteMatch): what each one matches, how the Gateway API ranks it, and whether one takes every request of another.

use serde_json::Value;

/// One match of a route rule, read from its JSON (defaults filled in as the CRD defaults them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criteria {
    Http(HttpMatch),
    Grpc(GrpcMatch),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMatch {
    pub path: PathMatch,
    pub method: Option<String>,
    pub headers: Vec<ValueMatch>,
    pub query: Vec<ValueMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMatch {
    /// `Exact`, `PathPrefix`, `RegularExpression` (or what else is written).
    pub kind: String,
    pub value: String,
}

/// A header or query parameter match: name, type (`Exact` unless written) and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValueMatch {
    pub name: String,
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMatch {
    /// `Exact` or `RegularExpression`; None when the match has no `method` (every method).
    pub kind: Option<String>,
    pub service: Option<String>,
    pub method: Option<String>,
    pub headers: Vec<ValueMatch>,
}

/// The spec's match criteria as numbers, compared left to right, higher first.
pub type MatchRank = [usize; 5];

/// What each place of a `MatchRank` stands for, for saying why one match outranks another.
pub const HTTP_CRITERIA: [&str; 5] = [
    "an Exact path match",
    "a PathPrefix with more characters",
    "a method match",
    "more header matches",
    "more query param matches",
];
pub const GRPC_CRITERIA: [&str; 5] = [
    "more characters in its service",
    "more characters in its method",
    "more header matches",
    "",
    "",
];

const EXACT: &str = "Exact";
const PATH_PREFIX: &str = "PathPrefix";

impl Criteria {
    /// An HTTPRouteMatch; a missing path is `PathPrefix /` (the CRD's default).
    pub fn http(matched: &Value) -> Criteria {
        let path = &matched["path"];
        Criteria::Http(HttpMatch {
            path: PathMatch {
                kind: path["type"].as_str().unwrap_or(PATH_PREFIX).to_string(),
                value: path["value"].as_str().unwrap_or("/").to_string(),
            },
            method: matched["method"].as_str().map(str::to_ascii_uppercase),
            headers: value_matches(&matched["headers"], true),
            query: value_matches(&matched["queryParams"], false),
        })
    }

    /// A GRPCRouteMatch; without `method` it matches every method.
    pub fn grpc(matched: &Value) -> Criteria {
        let method = &matched["method"];
        let text = |field: &str| {
            method[field]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Criteria::Grpc(GrpcMatch {
            kind: method
                .is_object()
                .then(|| method["type"].as_str().unwrap_or(EXACT).to_string()),
            service: text("service"),
            method: text("method"),
            headers: value_matches(&matched["headers"], true),
        })
    }

    /// What a rule without matches matches: every request (`PathPrefix /` for HTTP,
    /// apis/v1/httproute_types.go HTTPRouteRule.Matches; every method for gRPC).
    pub fn everything(grpc: bool) -> Criteria {
        if grpc {
            Criteria::grpc(&Value::Null)
        } else {
            Criteria::http(&Value::Null)
        }
    }

    /// The match's own precedence, higher first.
    ///
    /// HTTP, Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteRule.Matches: "precedence
    /// must be given to the match having: "Exact" path match. "Prefix" path match with largest
    /// number of characters. Method match. Largest number of header matches. Largest number of
    /// query param matches." RegularExpression paths are implementation-specific: they rank here
    /// after every Exact and PathPrefix match.
    ///
    /// gRPC, apis/v1/grpcroute_types.go, GRPCRouteRule.Matches: "the largest number of: ...
    /// Characters in a matching service. Characters in a matching method. Header matches."
    pub fn rank(&self) -> MatchRank {
        match self {
            Criteria::Http(m) => [
                usize::from(m.path.kind == EXACT),
                if m.path.kind == PATH_PREFIX {
                    m.path.value.len()
                } else {
                    0
                },
                usize::from(m.method.is_some()),
                m.headers.len(),
                m.query.len(),
            ],
            Criteria::Grpc(m) => [
                m.service.as_ref().map_or(0, String::len),
                m.method.as_ref().map_or(0, String::len),
                m.headers.len(),
                0,
                0,
            ],
        }
    }

    /// The names of the places of `rank()`.
    pub fn criteria_names(&self) -> &'static [&'static str; 5] {
        match self {
            Criteria::Http(_) => &HTTP_CRITERIA,
            Criteria::Grpc(_) => &GRPC_CRITERIA,
        }
    }

    /// Whether every request `other` matches is matched by this one too (so a rule of higher
    /// precedence with this match leaves `other` nothing). A RegularExpression path is only taken
    /// by an identical one: where an implementation ranks it is its own choice.
    pub fn covers(&self, other: &Criteria) -> bool {
        match (self, other) {
            (Criteria::Http(a), Criteria::Http(b)) => {
                path_covers(&a.path, &b.path)
                    && a.method
                        .as_ref()
                        .is_none_or(|m| b.method.as_ref() == Some(m))
                    && subset(&a.headers, &b.headers)
                    && subset(&a.query, &b.query)
            }
            (Criteria::Grpc(a), Criteria::Grpc(b)) => {
                let part = |mine: &Option<String>, theirs: &Option<String>| {
                    mine.as_ref().is_none_or(|m| {
                        theirs.as_ref() == Some(m) && a.kind.as_deref() == b.kind.as_deref()
                    })
                };
                part(&a.service, &b.service)
                    && part(&a.method, &b.method)
                    && subset(&a.headers, &b.headers)
            }
            _ => false,
        }
    }

    /// How the match reads in a report: `PathPrefix /api`, `GET Exact /login header x-v=2`,
    /// `shop.Cart/Add`, `every method`.
    pub fn shown(&self) -> String {
        match self {
            Criteria::Http(m) => {
                let mut text = match &m.method {
                    Some(method) => format!("{method} {} {}", m.path.kind, m.path.value),
                    None => format!("{} {}", m.path.kind, m.path.value),
                };
                text.push_str(&shown_values("header", &m.headers));
                text.push_str(&shown_values("query", &m.query));
                text
            }
            Criteria::Grpc(m) => {
                let mut text = match (&m.service, &m.method) {
                    (None, None) => "every method".to_string(),
                    (service, method) => format!(
                        "{}{}/{}",
                        match m.kind.as_deref() {
                            Some(EXACT) | None => String::new(),
                            Some(kind) => format!("{kind} "),
                        },
                        service.as_deref().unwrap_or("*"),
                        method.as_deref().unwrap_or("*")
                    ),
                };
                text.push_str(&shown_values("header", &m.headers));
                text
            }
        }
    }
}

/// Header (names are case-insensitive) or query parameter matches, sorted so order does not matter.
fn value_matches(list: &Value, fold_case: bool) -> Vec<ValueMatch> {
    let mut matches: Vec<ValueMatch> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = m["name"].as_str().unwrap_or_default();
            ValueMatch {
                name: if fold_case {
                    name.to_ascii_lowercase()
                } else {
                    name.to_string()
                },
                kind: m["type"].as_str().unwrap_or(EXACT).to_string(),
                value: m["value"].as_str().unwrap_or_default().to_string(),
            }
        })
        .collect();
    matches.sort();
    matches.dedup();
    matches
}

fn subset(required: &[ValueMatch], of: &[ValueMatch]) -> bool {
    required.iter().all(|r| of.contains(r))
}

/// Whether every path `b` matches, `a` matches. PathPrefix matches element by element and
/// ignores a trailing `/` (apis/v1/httproute_types.go, PathMatchPathPrefix: `/abc` matches `/abc`,
/// `/abc/` and `/abc/def`, not `/abcd`); Exact matches only itself.
fn path_covers(a: &PathMatch, b: &PathMatch) -> bool {
    match (a.kind.as_str(), b.kind.as_str()) {
        (EXACT, EXACT) => a.value == b.value,
        (PATH_PREFIX, EXACT) => prefix_matches(&a.value, &b.value),
        (PATH_PREFIX, PATH_PREFIX) => prefix_matches(&a.value, b.value.trim_end_matches('/')),
        // RegularExpression precedence is implementation-specific: only an identical one takes it.
        (kind, other) => kind == other && a.value == b.value,
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn shown_values(what: &str, matches: &[ValueMatch]) -> String {
    matches
        .iter()
        .map(|m| {
            let operator = if m.kind == EXACT { "=" } else { "~=" };
            format!(" {what} {}{operator}{}", m.name, m.value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn http(matched: Value) -> Criteria {
        Criteria::http(&matched)
    }

    fn prefix(value: &str) -> Criteria {
        http(json!({"path": {"type": "PathPrefix", "value": value}}))
    }

    fn exact(value: &str) -> Criteria {
        http(json!({"path": {"type": "Exact", "value": value}}))
    }

    /// apis/v1/httproute_types.go, HTTPRouteRule.Matches: Exact, then the longest PathPrefix, then
    /// a method, then the most headers, then the most query params.
    #[test]
    fn http_matches_rank_in_the_specs_order() {
        let ordered = [
            exact("/a"),
            prefix("/api/v1"),
            prefix("/api"),
            http(
                json!({"path": {"value": "/"}, "method": "GET", "headers": [{"name": "a", "value": "1"}]}),
            ),
            http(json!({"path": {"value": "/"}, "method": "GET"})),
            http(json!({"headers": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]})),
            http(
                json!({"headers": [{"name": "a", "value": "1"}], "queryParams": [{"name": "q", "value": "1"}]}),
            ),
            http(json!({"headers": [{"name": "a", "value": "1"}]})),
            http(json!({"queryParams": [{"name": "q", "value": "1"}]})),
            prefix("/"),
            http(json!({"path": {"type": "RegularExpression", "value": "/a.*"}})),
        ];
        let ranks: Vec<MatchRank> = ordered.iter().map(Criteria::rank).collect();
        for (i, pair) in ranks.windows(2).enumerate() {
            assert!(
                pair[0] > pair[1],
                "{} should outrank {}",
                ordered[i].shown(),
                ordered[i + 1].shown()
            );
        }
    }

    #[test]
    fn path_prefix_covers_element_by_element_and_ignores_a_trailing_slash() {
        assert!(prefix("/abc").covers(&exact("/abc")));
        assert!(prefix("/abc").covers(&exact("/abc/")));
        assert!(prefix("/abc").covers(&prefix("/abc/def")));
        assert!(prefix("/abc/").covers(&prefix("/abc")));
        assert!(!prefix("/abc").covers(&prefix("/abcd")));
        assert!(!prefix("/abc").covers(&exact("/abcd")));
        assert!(!exact("/abc").covers(&prefix("/abc")));
        let regex = http(json!({"path": {"type": "RegularExpression", "value": "/x"}}));
        assert!(
            !prefix("/").covers(&regex),
            "regex precedence is implementation-specific"
        );
        assert!(regex.covers(&regex));
        assert!(!prefix("/abc").covers(&prefix("/")));
    }

    #[test]
    fn fewer_conditions_cover_more_requests() {
        let get = http(json!({"path": {"value": "/a"}, "method": "GET"}));
        let versioned =
            http(json!({"path": {"value": "/a"}, "headers": [{"name": "Version", "value": "2"}]}));
        let versioned_lower =
            http(json!({"path": {"value": "/a"}, "headers": [{"name": "version", "value": "2"}]}));
        assert!(prefix("/a").covers(&get));
        assert!(!get.covers(&prefix("/a")));
        assert!(prefix("/a").covers(&versioned));
        assert!(!versioned.covers(&prefix("/a")));
        assert!(
            versioned.covers(&versioned_lower),
            "header names are case-insensitive"
        );
    }

    /// apis/v1/grpcroute_types.go, GRPCRouteRule.Matches: more characters in the service, then in
    /// the method, then more headers.
    #[test]
    fn grpc_matches_rank_and_cover() {
        let grpc = |m: Value| Criteria::grpc(&m);
        let add = grpc(json!({"method": {"service": "shop.Cart", "method": "Add"}}));
        let cart = grpc(json!({"method": {"service": "shop.Cart"}}));
        let all = Criteria::everything(true);
        assert!(add.rank() > cart.rank() && cart.rank() > all.rank());
        assert!(all.covers(&add) && cart.covers(&add) && !add.covers(&cart));
        assert_eq!(add.shown(), "shop.Cart/Add");
        assert_eq!(all.shown(), "every method");
        assert!(
            !all.covers(&prefix("/")),
            "HTTP and gRPC matches never cover each other"
        );
    }

    #[test]
    fn defaults_are_the_crds() {
        assert_eq!(http(json!({})), prefix("/"));
        assert_eq!(Criteria::everything(false).shown(), "PathPrefix /");
    }
}
