//! Helm hooks as Helm and Argo CD treat them: which rendered objects are hooks (`helm.sh/hook`), when they run, in what order (`helm.sh/hook-weight`) and when they are deleted (`helm.sh/hook-delete-policy`).

use serde_json::Value;

use super::Object;

pub const HOOK: &str = "helm.sh/hook";
pub const HOOK_WEIGHT: &str = "helm.sh/hook-weight";
pub const HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// When a hook runs in a deploy, which installs or upgrades (Argo CD: PreSync, Sync, PostSync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `pre-install` / `pre-upgrade`: before the rest, waited on.
    Pre,
    /// `post-install` / `post-upgrade`: after the rest is up.
    Post,
    /// Only events a deploy never triggers (`test`, `pre-delete`, `post-rollback`, ...): never applied.
    Never,
}

/// What the hook annotations of one object say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub stage: Stage,
    pub weight: i64,
    /// Delete the previous object of the hook before creating it (Helm's default when no policy is given).
    pub before_hook_creation: bool,
    /// Delete the hook once it succeeded.
    pub hook_succeeded: bool,
    /// Delete the hook when it failed.
    pub hook_failed: bool,
}

/// A hook annotation tacos cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("{annotation}: unknown value {value:?} (Helm knows {known})")]
    Unknown {
        annotation: &'static str,
        value: String,
        known: &'static str,
    },
    #[error("{HOOK_WEIGHT}: {value:?} is not an integer")]
    Weight { value: String },
}

const EVENTS: &str = "pre-install, post-install, pre-upgrade, post-upgrade, pre-delete, \
                      post-delete, pre-rollback, post-rollback, test (test-success)";
const POLICIES: &str = "before-hook-creation, hook-succeeded, hook-failed";

/// The object's hook, or `None` when it is an ordinary object.
pub fn hook_of(value: &Value) -> Result<Option<Hook>, HookError> {
    let annotations = &value["metadata"]["annotations"];
    let Some(events) = annotations[HOOK].as_str() else {
        return Ok(None);
    };
    let mut pre = false;
    let mut post = false;
    for event in split(events) {
        match event {
            "pre-install" | "pre-upgrade" => pre = true,
            "post-install" | "post-upgrade" => post = true,
            "pre-delete" | "post-delete" | "pre-rollback" | "post-rollback" | "test"
            | "test-success" | "test-failure" => {}
            other => {
                return Err(HookError::Unknown {
                    annotation: HOOK,
                    value: other.to_string(),
                    known: EVENTS,
                });
            }
        }
    }
    let weight = match annotations[HOOK_WEIGHT].as_str().map(str::trim) {
        None | Some("") => 0,
        Some(text) => text.parse().map_err(|_| HookError::Weight {
            value: text.to_string(),
        })?,
    };
    let policies: Vec<&str> = annotations[HOOK_DELETE_POLICY]
        .as_str()
        .map(|p| split(p).collect())
        .unwrap_or_default();
    if let Some(unknown) = policies.iter().find(|p| !POLICIES.contains(*p)) {
        return Err(HookError::Unknown {
            annotation: HOOK_DELETE_POLICY,
            value: unknown.to_string(),
            known: POLICIES,
        });
    }
    Ok(Some(Hook {
        // Pre wins for an object that is both: Helm runs it at both events, the first one counts.
        stage: if pre {
            Stage::Pre
        } else if post {
            Stage::Post
        } else {
            Stage::Never
        },
        weight,
        before_hook_creation: policies.is_empty() || policies.contains(&"before-hook-creation"),
        hook_succeeded: policies.contains(&"hook-succeeded"),
        hook_failed: policies.contains(&"hook-failed"),
    }))
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// A deploy's objects in the order Helm runs them.
#[derive(Debug, Default)]
pub struct Staged {
    /// Pre-install hooks, by weight (then as given).
    pub pre: Vec<(Object, Hook)>,
    pub main: Vec<Object>,
    /// Post-install hooks, by weight (then as given).
    pub post: Vec<(Object, Hook)>,
}

/// Splits `objects` by their hooks; objects of hooks a deploy never runs are dropped.
pub fn stage(objects: Vec<Object>) -> Result<Staged, (Box<Object>, HookError)> {
    let mut staged = Staged::default();
    for object in objects {
        match hook_of(&object.value) {
            Ok(None) => staged.main.push(object),
            Ok(Some(hook)) => match hook.stage {
                Stage::Pre => staged.pre.push((object, hook)),
                Stage::Post => staged.post.push((object, hook)),
                Stage::Never => {}
            },
            Err(error) => return Err((Box::new(object), error)),
        }
    }
    // Stable: equal weights keep the chart's order (already the apply order of kinds).
    staged.pre.sort_by_key(|(_, hook)| hook.weight);
    staged.post.sort_by_key(|(_, hook)| hook.weight);
    Ok(staged)
}

/// Whether a deploy never applies this object (a test hook, or a hook of delete/rollback only).
pub fn never_applied(value: &Value) -> bool {
    matches!(
        hook_of(value),
        Ok(Some(Hook {
            stage: Stage::Never,
            ..
        }))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotated(annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "annotations": annotations}})
    }

    fn object(name: &str, annotations: Value) -> Object {
        let mut value = annotated(annotations);
        value["metadata"]["name"] = json!(name);
        crate::repo::load_str("test.yaml", &value.to_string())
            .unwrap()
            .objects
            .remove(0)
    }

    #[test]
    fn an_object_without_the_hook_annotation_is_ordinary() {
        assert_eq!(hook_of(&annotated(json!({"a": "b"}))), Ok(None));
        assert_eq!(hook_of(&json!({"kind": "Pod"})), Ok(None));
    }

    #[test]
    fn the_redis_secret_init_job_is_a_pre_hook_deleted_before_it_is_created_again() {
        let hook = hook_of(&annotated(json!({
            HOOK: "pre-install,pre-upgrade",
            HOOK_DELETE_POLICY: "before-hook-creation",
        })))
        .unwrap()
        .unwrap();
        assert_eq!(hook.stage, Stage::Pre);
        assert_eq!(hook.weight, 0);
        assert!(hook.before_hook_creation && !hook.hook_succeeded && !hook.hook_failed);
    }

    #[test]
    fn test_hooks_and_delete_hooks_are_never_applied() {
        for events in [
            "test-success",
            "test",
            "pre-delete,post-delete",
            "post-rollback",
        ] {
            let value = annotated(json!({HOOK: events}));
            assert!(never_applied(&value), "{events}");
        }
        assert!(!never_applied(&annotated(json!({HOOK: "post-install"}))));
        assert!(!never_applied(&annotated(json!({}))));
    }

    #[test]
    fn without_a_delete_policy_before_hook_creation_applies_and_policies_combine() {
        let hook = hook_of(&annotated(json!({HOOK: "post-install"})))
            .unwrap()
            .unwrap();
        assert_eq!(hook.stage, Stage::Post);
        assert!(hook.before_hook_creation);
        let hook = hook_of(&annotated(json!({
            HOOK: "post-upgrade",
            HOOK_DELETE_POLICY: "hook-succeeded, hook-failed",
            HOOK_WEIGHT: "-5",
        })))
        .unwrap()
        .unwrap();
        assert!(!hook.before_hook_creation && hook.hook_succeeded && hook.hook_failed);
        assert_eq!(hook.weight, -5);
    }

    #[test]
    fn unknown_events_policies_and_weights_are_errors_naming_the_value() {
        let error = hook_of(&annotated(json!({HOOK: "pre-instal"}))).unwrap_err();
        assert!(error.to_string().contains("\"pre-instal\""), "{error}");
        let error = hook_of(&annotated(
            json!({HOOK: "pre-install", HOOK_DELETE_POLICY: "always"}),
        ))
        .unwrap_err();
        assert!(error.to_string().contains("\"always\""), "{error}");
        let error = hook_of(&annotated(
            json!({HOOK: "pre-install", HOOK_WEIGHT: "first"}),
        ))
        .unwrap_err();
        assert_eq!(
            error,
            HookError::Weight {
                value: "first".into()
            }
        );
    }

    #[test]
    fn staging_orders_hooks_by_weight_keeps_the_rest_and_drops_tests() {
        let staged = stage(vec![
            object("config", json!({})),
            object("job", json!({HOOK: "pre-install", HOOK_WEIGHT: "5"})),
            object("account", json!({HOOK: "pre-install", HOOK_WEIGHT: "-1"})),
            object("role", json!({HOOK: "pre-upgrade"})),
            object("test-pod", json!({HOOK: "test-success"})),
            object("notify", json!({HOOK: "post-install"})),
        ])
        .unwrap();
        let names = |list: &[(Object, Hook)]| -> Vec<String> {
            list.iter().map(|(o, _)| o.name().to_string()).collect()
        };
        assert_eq!(names(&staged.pre), ["account", "role", "job"]);
        assert_eq!(
            staged.main.iter().map(|o| o.name()).collect::<Vec<_>>(),
            ["config"]
        );
        assert_eq!(names(&staged.post), ["notify"]);
    }
}
