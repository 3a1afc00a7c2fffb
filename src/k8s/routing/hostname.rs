//! Gateway API hostnames: exact names and `*.` wildcards, how a listener's and a route's intersect, and how specific each is.

use std::fmt;

/// A hostname as listeners and routes write it (lowercased).
///
/// Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames: "Hostnames that are
/// prefixed with a wildcard label (`*.`) are interpreted as a suffix match. That means that a match
/// for `*.example.com` would match both `test.example.com`, and `foo.test.example.com`, but not
/// `example.com`."
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// No hostname: every host (a listener without `hostname`, a route without `hostnames` on it).
    Any,
    /// `*.example.com`, held as its suffix `example.com`.
    Wildcard(String),
    Exact(String),
}

impl Host {
    pub fn parse(text: &str) -> Host {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "" | "*" => Host::Any,
            _ => match text.strip_prefix("*.") {
                Some(suffix) => Host::Wildcard(suffix.to_string()),
                None => Host::Exact(text),
            },
        }
    }

    /// Whether every host `other` stands for is one this stands for too.
    pub fn covers(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Any, _) => true,
            (Host::Wildcard(suffix), Host::Exact(name)) => under(name, suffix),
            (Host::Wildcard(suffix), Host::Wildcard(other)) => {
                other == suffix || under(other, suffix)
            }
            (Host::Exact(a), Host::Exact(b)) => a == b,
            _ => false,
        }
    }

    /// The hosts both stand for, as one pattern (the narrower of the two), or None when they share none.
    pub fn intersect(&self, other: &Host) -> Option<Host> {
        if self.covers(other) {
            Some(other.clone())
        } else if other.covers(self) {
            Some(self.clone())
        } else {
            None
        }
    }

    /// How a route's matching hostname ranks it, higher first. Gateway API v1.6.3,
    /// apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames (and GRPCRouteRule.Matches): "precedence
    /// must be given to rules from the HTTPRoute with the largest number of: Characters in a
    /// matching non-wildcard hostname. Characters in a matching hostname."
    pub fn route_rank(&self) -> (usize, usize) {
        match self {
            Host::Any => (0, 0),
            Host::Wildcard(_) => (0, self.to_string().len()),
            Host::Exact(name) => (name.len(), name.len()),
        }
    }

    /// How a listener's hostname ranks it when listeners on one port differ only by hostname, higher
    /// first. Gateway API v1.6.3, apis/v1/gateway_types.go, "Listeners that are distinct only by
    /// Hostname": exact before wildcard before none; among wildcards, "the higher the number of dots in
    /// the hostname to the right of the wildcard character, the higher the precedence".
    pub fn listener_rank(&self) -> (u8, usize) {
        match self {
            Host::Any => (0, 0),
            Host::Wildcard(suffix) => (1, suffix.matches('.').count()),
            Host::Exact(_) => (2, 0),
        }
    }

    /// The hostname as written, None for every host.
    pub fn written(&self) -> Option<String> {
        (*self != Host::Any).then(|| self.to_string())
    }
}

/// `name` is one or more labels followed by `.suffix`.
fn under(name: &str, suffix: &str) -> bool {
    name.strip_suffix(suffix)
        .and_then(|rest| rest.strip_suffix('.'))
        .is_some_and(|labels| !labels.is_empty())
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Any => f.write_str("(any host)"),
            Host::Wildcard(suffix) => write!(f, "*.{suffix}"),
            Host::Exact(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Host {
        Host::parse(text)
    }

    /// Gateway API v1.6.3, apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames: `*.example.com`
    /// matches `test.example.com` and `foo.test.example.com`, not `example.com`; a listener
    /// `*.example.com` matches routes with `*.example.com`, `test.example.com`,
    /// `foo.test.example.com`, not `example.com` or `test.example.net`.
    #[test]
    fn wildcards_are_suffix_matches_per_the_spec() {
        let listener = host("*.example.com");
        for route in ["*.example.com", "test.example.com", "foo.test.example.com"] {
            assert!(listener.intersect(&host(route)).is_some(), "{route}");
        }
        for route in ["example.com", "test.example.net"] {
            assert_eq!(listener.intersect(&host(route)), None, "{route}");
        }
        // A listener `test.example.com` matches routes with `test.example.com` or `*.example.com`.
        let listener = host("test.example.com");
        assert_eq!(
            listener.intersect(&host("*.example.com")),
            Some(host("test.example.com"))
        );
        assert_eq!(listener.intersect(&host("other.example.com")), None);
        assert_eq!(
            host("*.example.com").intersect(&host("*.foo.example.com")),
            Some(host("*.foo.example.com"))
        );
        assert_eq!(Host::Any.intersect(&host("a.b")), Some(host("a.b")));
        assert_eq!(host("API.Example.com"), host("api.example.com"));
    }

    #[test]
    fn more_specific_listener_hostnames_rank_higher() {
        let ranks: Vec<_> = ["foo.example.com", "*.foo.example.com", "*.example.com", ""]
            .iter()
            .map(|h| host(h).listener_rank())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] > w[1]), "{ranks:?}");
    }

    #[test]
    fn exact_route_hostnames_outrank_wildcards_and_longer_ones_outrank_shorter() {
        assert!(host("a.example.com").route_rank() > host("*.example.com").route_rank());
        assert!(host("*.foo.example.com").route_rank() > host("*.example.com").route_rank());
        assert!(host("*.example.com").route_rank() > Host::Any.route_rank());
    }
}
