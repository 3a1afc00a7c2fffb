//! Argo CD's AppProject rules as its application controller applies them: which kinds a project permits, and the globs its lists use.

use serde_json::Value;

/// Why a project refuses a kind, and where in the project (a JSON pointer) that is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub pointer: String,
    pub reason: String,
}

/// Why `project` refuses `group`/`kind`, as Argo CD's `AppProject.IsGroupKindPermitted` decides:
/// a namespaced kind is permitted when the whitelist is absent or lists it, a cluster-scoped
/// kind only when the whitelist lists it; a blacklist entry refuses either.
pub fn refusal(spec: &Value, group: &str, kind: &str, namespaced: bool) -> Option<Refusal> {
    let (white, black) = if namespaced {
        ("namespaceResourceWhitelist", "namespaceResourceBlacklist")
    } else {
        ("clusterResourceWhitelist", "clusterResourceBlacklist")
    };
    let listed = |list: &Value| {
        list.as_array().into_iter().flatten().position(|entry| {
            glob_match(entry["group"].as_str().unwrap_or_default(), group)
                && glob_match(entry["kind"].as_str().unwrap_or_default(), kind)
        })
    };
    if let Some(index) = listed(&spec[black]) {
        return Some(Refusal {
            pointer: format!("/spec/{black}/{index}"),
            reason: format!("on the {black}"),
        });
    }
    let whitelist = &spec[white];
    if namespaced && whitelist.is_null() {
        return None;
    }
    if listed(whitelist).is_some() {
        return None;
    }
    Some(if whitelist.is_null() {
        Refusal {
            pointer: "/spec".into(),
            reason: format!("cluster-scoped and the project has no {white}"),
        }
    } else {
        Refusal {
            pointer: format!("/spec/{white}"),
            reason: format!("not on the {white}"),
        }
    })
}

/// Glob match as Argo CD uses it for repositories, destinations and resource kinds: `*` is any run of
/// characters, `?` one character, everything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(c) if *c == '?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}
