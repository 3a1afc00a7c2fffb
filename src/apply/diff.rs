//! What an apply would change, field by field, between the live object and the server's dry-run result; Secret values masked.

use serde_json::Value;

/// One changed field: its path and the values before and after (None when absent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Fields the server maintains, never a change of ours.
const SERVER_FIELDS: &[&str] = &[
    "/metadata/managedFields",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/creationTimestamp",
    "/metadata/uid",
    "/status",
];

/// Changed leaf fields from `before` to `after`, in path order. Values under a Secret's `data` or
/// `stringData` are shown only as "(masked)".
pub fn changes(kind: &str, before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(kind == "Secret", "", before, after, &mut out);
    out
}

fn walk(secret: bool, path: &str, before: &Value, after: &Value, out: &mut Vec<Change>) {
    if SERVER_FIELDS.contains(&path) || before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                walk(
                    secret,
                    &child,
                    b.get(key).unwrap_or(&Value::Null),
                    a.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (index, (b, a)) in b.iter().zip(a).enumerate() {
                walk(secret, &format!("{path}/{index}"), b, a, out);
            }
        }
        _ => {
            let masked = secret && (path.starts_with("/data/") || path.starts_with("/stringData/"));
            let show = |value: &Value| match value {
                Value::Null => None,
                _ if masked => Some("(masked)".to_string()),
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            out.push(Change {
                path: path.to_string(),
                before: show(before),
                after: show(after),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_fields_but_not_server_fields() {
        let before = json!({"metadata": {"resourceVersion": "1", "labels": {"a": "1", "gone": "x"}}, "spec": {"replicas": 2}, "status": {"ready": 1}});
        let after = json!({"metadata": {"resourceVersion": "2", "labels": {"a": "2", "new": "y"}}, "spec": {"replicas": 2}, "status": {"ready": 2}});
        let paths: Vec<(String, Option<String>, Option<String>)> =
            changes("ConfigMap", &before, &after)
                .into_iter()
                .map(|c| (c.path, c.before, c.after))
                .collect();
        assert_eq!(
            paths,
            vec![
                (
                    "/metadata/labels/a".into(),
                    Some("1".into()),
                    Some("2".into())
                ),
                ("/metadata/labels/gone".into(), Some("x".into()), None),
                ("/metadata/labels/new".into(), None, Some("y".into())),
            ]
        );
    }

    #[test]
    fn secret_values_are_masked_on_both_sides() {
        let before = json!({"data": {"password": "b2xk"}});
        let after = json!({"data": {"password": "bmV3"}});
        let found = changes("Secret", &before, &after);
        assert_eq!(
            found,
            vec![Change {
                path: "/data/password".into(),
                before: Some("(masked)".into()),
                after: Some("(masked)".into())
            }]
        );
        let text = serde_json::to_string(&found).unwrap();
        assert!(!text.contains("b2xk") && !text.contains("bmV3"), "{text}");
    }

    #[test]
    fn identical_objects_have_no_changes() {
        let object = json!({"spec": {"ports": [{"port": 80}]}});
        assert!(changes("Service", &object, &object).is_empty());
    }
}
