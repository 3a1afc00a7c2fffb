//! Drift of a live object from the tree without writing: each field the tree sets that is missing or different live, and which field manager owns it now; Secret values masked.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::k8s::quantity::Quantity;

/// What is shown instead of a Secret's value, as `tacos diff` shows it.
pub const MASKED: &str = "(masked)";

/// One field the tree sets that the live object does not hold as set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// A JSON pointer, except that a list item matched by key is written `key=value`
    /// (`/spec/template/spec/containers/name=gateway-api/image`).
    pub path: String,
    pub desired: String,
    /// None when the field is absent live.
    pub live: Option<String>,
    #[serde(flatten)]
    pub kind: DriftKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DriftKind {
    /// The value differs while our manager still owns the field (the tree moved on since the last
    /// apply), or the object has no managedFields to tell.
    Changed,
    /// The field is absent live.
    Missing,
    /// The value differs and other managers own the field now, named in `by`.
    TakenOver { by: String },
    /// The value differs and no manager owns the field.
    Unmanaged,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.live.as_deref().unwrap_or("(absent)");
        write!(
            f,
            "{}: tree has {}, live has {live}",
            self.path, self.desired
        )?;
        match &self.kind {
            DriftKind::Changed | DriftKind::Missing => Ok(()),
            DriftKind::TakenOver { by } => write!(f, ", set by {by}"),
            DriftKind::Unmanaged => f.write_str(", owned by no field manager"),
        }
    }
}

/// Fields the apiserver maintains or that only record a past apply, never drift.
const IGNORED_PATHS: &[&str] = &[
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/creationTimestamp",
    "/metadata/deletionTimestamp",
    "/metadata/selfLink",
    "/metadata/managedFields",
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
    "/status",
];

/// Maps of string values where an empty string is a value, not an omitted default.
const STRING_MAPS: &[&str] = &[
    "/metadata/labels",
    "/metadata/annotations",
    "/data",
    "/binaryData",
];

/// Maps whose values are resource quantities (requests, ResourceQuota `hard`, LimitRange bounds, ...).
const QUANTITY_MAPS: &[&str] = &[
    "requests",
    "limits",
    "hard",
    "default",
    "defaultRequest",
    "max",
    "min",
    "maxLimitRequestRatio",
    "overhead",
    "capacity",
];

/// Fields that hold one resource quantity.
const QUANTITY_FIELDS: &[&str] = &["sizeLimit", "averageValue"];

/// Fields that identify an item of a list of maps, in the order tried, as strategic merge keys them.
const MERGE_KEYS: &[&str] = &["mountPath", "devicePath", "name", "containerPort", "port"];

/// Every field `desired` sets that `live` lacks or holds differently, in path order. Fields only
/// live has (defaults, status, other managers' fields) are not drift; `manager` is our field
/// manager, whose ownership in `metadata.managedFields` tells a change of ours from a takeover.
pub fn drift(desired: &Value, live: &Value, manager: &str) -> Vec<Drift> {
    let kind = desired
        .get("kind")
        .or_else(|| live.get("kind"))
        .and_then(Value::as_str);
    let secret = kind == Some("Secret");
    let desired = if secret {
        secret_with_string_data_as_data(desired)
    } else {
        Cow::Borrowed(desired)
    };
    let entries = managed_entries(live);
    let mut comparison = Comparison {
        manager,
        secret,
        entries: &entries,
        found: Vec::new(),
    };
    let owned = all_owned(&entries);
    comparison.compare("", &desired, live, &owned);
    comparison.found
}

/// The field managers owning `path` (as written in [`Drift::path`]) of `live`, by its
/// managedFields, sorted; a manager writing through a subresource is named `manager (subresource)`.
pub fn owners(live: &Value, path: &str) -> Vec<String> {
    let entries = managed_entries(live);
    let mut owned = all_owned(&entries);
    let mut node = Some(live);
    for segment in path.split('/').skip(1) {
        let segment = unescape(segment);
        let step = match node {
            Some(Value::Array(items)) => match find_item(items, &segment) {
                Some((index, item)) => {
                    node = Some(item);
                    Step::Item { index, item }
                }
                None => return Vec::new(),
            },
            _ => {
                node = node.and_then(|value| value.get(&segment));
                Step::Field(&segment)
            }
        };
        owned = step_all(&owned, step);
    }
    owner_names(&entries, &owned, |_| true)
}

struct Comparison<'a> {
    manager: &'a str,
    secret: bool,
    entries: &'a [ManagedEntry],
    found: Vec<Drift>,
}

impl<'a> Comparison<'a> {
    fn compare(&mut self, path: &str, desired: &Value, live: &Value, owned: &[Option<Owned<'a>>]) {
        match (desired, live) {
            (Value::Object(want), Value::Object(have)) => {
                for (key, want_value) in want {
                    let child = format!("{path}/{}", escape(key));
                    if IGNORED_PATHS.contains(&child.as_str()) {
                        continue;
                    }
                    let owned = step_all(owned, Step::Field(key));
                    match have.get(key).filter(|value| !value.is_null()) {
                        Some(have_value) => self.compare(&child, want_value, have_value, &owned),
                        // Each field of a missing map is reported on its own, ignored ones left out.
                        None if want_value.is_object() => {
                            let absent = Value::Object(Map::new());
                            self.compare(&child, want_value, &absent, &owned);
                        }
                        None => self.missing(&child, want_value),
                    }
                }
            }
            // Unset in an apply: nothing is asked of the live object.
            (Value::Null, _) => {}
            (Value::Array(want), _) if want.is_empty() => {}
            (Value::Array(want), Value::Array(have)) if !want.iter().all(is_scalar) => {
                self.compare_items(path, want, have, owned);
            }
            _ if self.same_leaf(path, desired, live) => {}
            _ => self.differs(path, desired, live, owned),
        }
    }

    fn compare_items(
        &mut self,
        path: &str,
        want: &[Value],
        have: &[Value],
        owned: &[Option<Owned<'a>>],
    ) {
        let merge_key = MERGE_KEYS.iter().copied().find(|key| {
            want.iter().all(|item| {
                item.get(*key)
                    .is_some_and(|value| is_scalar(value) && !value.is_null())
            })
        });
        for (index, want_item) in want.iter().enumerate() {
            let (child, live_item) = match merge_key {
                Some(key) => {
                    let key_value = want_item.get(key).unwrap_or(&Value::Null);
                    let child = format!("{path}/{}", escape(&format!("{key}={}", text(key_value))));
                    // Ports are keyed by number and protocol (DNS is 53/UDP and 53/TCP).
                    let protocol = |item: &Value| {
                        item.get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
                            .to_string()
                    };
                    let by_protocol = matches!(key, "port" | "containerPort");
                    let live_item = have.iter().enumerate().find(|(_, item)| {
                        item.get(key)
                            .is_some_and(|value| same_scalar(key_value, value))
                            && (!by_protocol || protocol(item) == protocol(want_item))
                    });
                    (child, live_item)
                }
                None => (
                    format!("{path}/{index}"),
                    have.get(index).map(|item| (index, item)),
                ),
            };
            match live_item {
                Some((index, item)) => {
                    let owned = step_all(owned, Step::Item { index, item });
                    self.compare(&child, want_item, item, &owned);
                }
                None => self.missing(&child, want_item),
            }
        }
    }

    /// Equal once the server's canonical forms are allowed for: numbers as text, quantities,
    /// Secret data re-encoded.
    fn same_leaf(&self, path: &str, desired: &Value, live: &Value) -> bool {
        if same_scalar(desired, live) {
            return true;
        }
        if let (Value::Array(want), Value::Array(have)) = (desired, live) {
            return want.len() == have.len()
                && want
                    .iter()
                    .zip(have)
                    .all(|(want, have)| same_scalar(want, have));
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        if self.secret && parent == "/data" {
            return same_base64(desired, live);
        }
        let parent_name = parent.rsplit('/').next().unwrap_or("");
        if QUANTITY_MAPS.contains(&parent_name) || QUANTITY_FIELDS.contains(&name) {
            return Quantity::of_value(desired)
                .is_some_and(|quantity| Quantity::of_value(live) == Some(quantity));
        }
        false
    }

    fn missing(&mut self, path: &str, desired: &Value) {
        let in_string_map = path
            .rsplit_once('/')
            .is_some_and(|(parent, _)| STRING_MAPS.contains(&parent));
        if is_zero(desired) && !(in_string_map && desired.is_string()) {
            return;
        }
        self.found.push(Drift {
            path: path.to_string(),
            desired: self.show(path, desired),
            live: None,
            kind: DriftKind::Missing,
        });
    }

    fn differs(&mut self, path: &str, desired: &Value, live: &Value, owned: &[Option<Owned<'a>>]) {
        let ours = self
            .entries
            .iter()
            .zip(owned)
            .any(|(entry, owned)| owned.is_some() && entry.manager == self.manager);
        let others = owner_names(self.entries, owned, |entry| entry.manager != self.manager);
        let kind = if ours || self.entries.is_empty() {
            DriftKind::Changed
        } else if others.is_empty() {
            DriftKind::Unmanaged
        } else {
            DriftKind::TakenOver {
                by: others.join(", "),
            }
        };
        self.found.push(Drift {
            path: path.to_string(),
            desired: self.show(path, desired),
            live: Some(self.show(path, live)),
            kind,
        });
    }

    fn show(&self, path: &str, value: &Value) -> String {
        let holds_secret_data = path.is_empty()
            || ["/data", "/stringData"]
                .iter()
                .any(|data| path == *data || path.starts_with(&format!("{data}/")));
        if self.secret && holds_secret_data {
            MASKED.to_string()
        } else {
            text(value).into_owned()
        }
    }
}

/// A Secret as the apiserver stores it: `stringData` merged into `data`, base64-encoded.
fn secret_with_string_data_as_data(desired: &Value) -> Cow<'_, Value> {
    let Some(string_data) = desired.get("stringData").and_then(Value::as_object) else {
        return Cow::Borrowed(desired);
    };
    let mut stored = desired.clone();
    if let Some(object) = stored.as_object_mut() {
        object.remove("stringData");
        let data = object
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Some(data) = data.as_object_mut() {
            for (key, value) in string_data {
                if is_scalar(value) && !value.is_null() {
                    data.insert(
                        key.clone(),
                        Value::String(STANDARD.encode(text(value).as_bytes())),
                    );
                }
            }
        }
    }
    Cow::Owned(stored)
}

fn same_base64(desired: &Value, live: &Value) -> bool {
    let decode = |value: &Value| {
        let compact: String = value.as_str()?.split_whitespace().collect();
        STANDARD.decode(compact).ok()
    };
    decode(desired).is_some_and(|bytes| decode(live) == Some(bytes))
}

/// Scalars equal as the apiserver would hold them: `1` and `1.0`, `8080` and `"8080"`.
fn same_scalar(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Number(want), Value::Number(have)) => want == have || same_number(want, have),
        (Value::Number(number), Value::String(text))
        | (Value::String(text), Value::Number(number)) => number.to_string() == *text,
        _ => desired == live,
    }
}

fn same_number(want: &Number, have: &Number) -> bool {
    (want.is_f64() || have.is_f64())
        && want
            .as_f64()
            .is_some_and(|value| have.as_f64() == Some(value))
}

fn is_scalar(value: &Value) -> bool {
    !value.is_object() && !value.is_array()
}

/// A value the apiserver drops when it is the Go zero value (`omitempty`): absent live is not drift.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.values().all(is_zero),
    }
}

fn text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// The item a path segment names: `key=value` or an index.
fn find_item<'v>(items: &'v [Value], segment: &str) -> Option<(usize, &'v Value)> {
    if let Some((key, wanted)) = segment.split_once('=') {
        return items.iter().enumerate().find(|(_, item)| {
            item.get(key)
                .is_some_and(|value| is_scalar(value) && text(value) == wanted)
        });
    }
    let index: usize = segment.parse().ok()?;
    items.get(index).map(|item| (index, item))
}

/// One entry of `metadata.managedFields`: a manager and the fields it owns.
struct ManagedEntry {
    manager: String,
    subresource: Option<String>,
    fields: FieldSet,
}

impl ManagedEntry {
    fn name(&self) -> String {
        match &self.subresource {
            Some(subresource) => format!("{} ({subresource})", self.manager),
            None => self.manager.clone(),
        }
    }
}

fn managed_entries(live: &Value) -> Vec<ManagedEntry> {
    let Some(entries) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let manager = entry.get("manager")?.as_str()?.to_string();
            let subresource = entry
                .get("subresource")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_string);
            let fields = FieldSet::parse(entry.get("fieldsV1")?);
            Some(ManagedEntry {
                manager,
                subresource,
                fields,
            })
        })
        .collect()
}

/// A fieldsV1 node: the children a manager owns below it, or, when it has none, all of it.
#[derive(Debug, Default)]
struct FieldSet {
    owns_all: bool,
    children: Vec<(Element, FieldSet)>,
}

impl FieldSet {
    fn parse(value: &Value) -> FieldSet {
        let Some(fields) = value.as_object() else {
            return FieldSet::default();
        };
        FieldSet {
            owns_all: fields.is_empty(),
            children: fields
                .iter()
                .filter_map(|(key, child)| Some((Element::parse(key)?, FieldSet::parse(child))))
                .collect(),
        }
    }
}

/// One key of fieldsV1: `f:name`, `k:{"name":"x"}`, `v:"value"`, `i:0` or `.`.
#[derive(Debug)]
enum Element {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
    Itself,
}

impl Element {
    fn parse(key: &str) -> Option<Element> {
        if key == "." {
            return Some(Element::Itself);
        }
        let (prefix, rest) = key.split_once(':')?;
        match prefix {
            "f" => Some(Element::Field(rest.to_string())),
            "k" => match serde_json::from_str(rest).ok()? {
                Value::Object(fields) => Some(Element::Key(fields)),
                _ => None,
            },
            "v" => serde_json::from_str(rest).ok().map(Element::Value),
            "i" => rest.parse().ok().map(Element::Index),
            _ => None,
        }
    }

    fn matches(&self, step: Step<'_>) -> bool {
        match (self, step) {
            (Element::Field(field), Step::Field(name)) => field == name,
            (Element::Key(fields), Step::Item { item, .. }) => fields
                .iter()
                .all(|(key, value)| item.get(key).is_some_and(|have| same_scalar(value, have))),
            (Element::Value(value), Step::Item { item, .. }) => value == item,
            (Element::Index(wanted), Step::Item { index, .. }) => *wanted == index,
            _ => false,
        }
    }
}

/// One step down a live object: into a field, or into a list item.
#[derive(Clone, Copy)]
enum Step<'v> {
    Field(&'v str),
    Item { index: usize, item: &'v Value },
}

/// Where a manager's ownership stands at a node: within a fieldsV1 node, or owning all below.
#[derive(Clone, Copy)]
enum Owned<'a> {
    Within(&'a FieldSet),
    Whole,
}

impl<'a> Owned<'a> {
    fn step(self, step: Step<'_>) -> Option<Owned<'a>> {
        match self {
            Owned::Whole => Some(Owned::Whole),
            Owned::Within(set) if set.owns_all => Some(Owned::Whole),
            Owned::Within(set) => set
                .children
                .iter()
                .find(|(element, _)| element.matches(step))
                .map(|(_, child)| Owned::Within(child)),
        }
    }
}

fn all_owned(entries: &[ManagedEntry]) -> Vec<Option<Owned<'_>>> {
    entries
        .iter()
        .map(|entry| Some(Owned::Within(&entry.fields)))
        .collect()
}

fn step_all<'a>(owned: &[Option<Owned<'a>>], step: Step<'_>) -> Vec<Option<Owned<'a>>> {
    owned
        .iter()
        .map(|owned| owned.and_then(|owned| owned.step(step)))
        .collect()
}

fn owner_names(
    entries: &[ManagedEntry],
    owned: &[Option<Owned<'_>>],
    include: impl Fn(&ManagedEntry) -> bool,
) -> Vec<String> {
    let mut names: Vec<String> = entries
        .iter()
        .zip(owned)
        .filter(|(entry, owned)| owned.is_some() && include(entry))
        .map(|(entry, _)| entry.name())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "gateway-api", "namespace": "tacos", "labels": {"app": "gateway-api", "team": "platform"}},
            "spec": {
                "replicas": replicas,
                "template": {"spec": {"containers": [
                    {"name": "gateway-api", "image": image, "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
                ]}}
            }
        })
    }

    fn with_managed_fields(mut object: Value, managed_fields: Value) -> Value {
        object["metadata"]["managedFields"] = managed_fields;
        object
    }

    fn tacos_owns_replicas_and_image() -> Value {
        json!({
            "manager": "tacos", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"gateway-api\"}": {".": {}, "f:name": {}, "f:image": {}}
            }}}}}
        })
    }

    #[test]
    fn identical_object_with_defaults_added_live_has_no_drift() {
        let desired = deployment(3, "gateway-api:1.0");
        let mut live = deployment(3, "gateway-api:1.0");
        live["metadata"]["uid"] = json!("0b7c");
        live["metadata"]["resourceVersion"] = json!("42");
        live["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
        live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        live["status"] = json!({"replicas": 3});
        let live = with_managed_fields(live, json!([tacos_owns_replicas_and_image()]));
        assert_eq!(drift(&desired, &live, "tacos"), vec![]);
    }

    #[test]
    fn replicas_changed_with_kubectl_edit_are_taken_over_by_kubectl_edit() {
        let desired = deployment(3, "gateway-api:1.0");
        let live = with_managed_fields(
            deployment(5, "gateway-api:1.0"),
            json!([
                {"manager": "tacos", "operation": "Apply", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:template": {}}}},
                {"manager": "kubectl-edit", "operation": "Update", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ]),
        );
        assert_eq!(
            drift(&desired, &live, "tacos"),
            vec![Drift {
                path: "/spec/replicas".into(),
                desired: "3".into(),
                live: Some("5".into()),
                kind: DriftKind::TakenOver {
                    by: "kubectl-edit".into()
                },
            }]
        );
    }

    #[test]
    fn container_image_changed_is_found_by_container_name() {
        let desired = deployment(3, "gateway-api:2.0");
        let mut live = deployment(3, "gateway-api:1.0");
        live["spec"]["template"]["spec"]["containers"] = json!([
            {"name": "istio-proxy", "image": "proxy:1"},
            {"name": "gateway-api", "image": "gateway-api:1.0", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
        ]);
        let live = with_managed_fields(live, json!([tacos_owns_replicas_and_image()]));
        assert_eq!(
            drift(&desired, &live, "tacos"),
            vec![Drift {
                path: "/spec/template/spec/containers/name=gateway-api/image".into(),
                desired: "gateway-api:2.0".into(),
                live: Some("gateway-api:1.0".into()),
                kind: DriftKind::Changed,
            }]
        );
    }

    #[test]
    fn image_set_by_another_manager_in_a_keyed_list_names_that_manager() {
        let desired = deployment(3, "gateway-api:2.0");
        let live = with_managed_fields(
            deployment(3, "gateway-api:1.0"),
            json!([{"manager": "kubectl-set", "operation": "Update", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"gateway-api\"}": {"f:image": {}}}}}}}}]),
        );
        let kinds: Vec<DriftKind> = drift(&desired, &live, "tacos")
            .into_iter()
            .map(|found| found.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![DriftKind::TakenOver {
                by: "kubectl-set".into()
            }]
        );
    }

    #[test]
    fn a_manager_writing_through_a_subresource_is_named_with_it() {
        let desired = deployment(3, "gateway-api:1.0");
        let live = with_managed_fields(
            deployment(12, "gateway-api:1.0"),
            json!([{"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
        );
        assert_eq!(
            drift(&desired, &live, "tacos")[0].kind,
            DriftKind::TakenOver {
                by: "kube-controller-manager (scale)".into()
            }
        );
    }

    #[test]
    fn a_differing_field_no_manager_owns_is_unmanaged() {
        let desired = deployment(3, "gateway-api:1.0");
        let live = with_managed_fields(
            deployment(5, "gateway-api:1.0"),
            json!([{"manager": "tacos", "operation": "Apply", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {}}}}]),
        );
        assert_eq!(
            drift(&desired, &live, "tacos")[0].kind,
            DriftKind::Unmanaged
        );
    }

    #[test]
    fn quantities_written_differently_are_not_drift() {
        let desired = json!({"spec": {"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "500m", "memory": "1024Mi"}, "limits": {"cpu": 1, "memory": "2Gi"}}}]}});
        let live = json!({"spec": {"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "0.5", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2048Mi"}}}]}});
        assert_eq!(drift(&desired, &live, "tacos"), vec![]);
    }

    #[test]
    fn a_different_quantity_is_drift() {
        let desired = json!({"spec": {"resources": {"requests": {"cpu": "500m"}}}});
        let live = json!({"spec": {"resources": {"requests": {"cpu": "250m"}}}});
        assert_eq!(
            drift(&desired, &live, "tacos")[0].path,
            "/spec/resources/requests/cpu"
        );
    }

    #[test]
    fn a_missing_label_is_missing() {
        let desired = deployment(3, "gateway-api:1.0");
        let mut live = deployment(3, "gateway-api:1.0");
        live["metadata"]["labels"] = json!({"app": "gateway-api"});
        assert_eq!(
            drift(&desired, &live, "tacos"),
            vec![Drift {
                path: "/metadata/labels/team".into(),
                desired: "platform".into(),
                live: None,
                kind: DriftKind::Missing,
            }]
        );
    }

    #[test]
    fn secret_values_never_appear_in_the_output() {
        let desired = json!({"kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "c2VjcmV0LW9uZQ=="}, "stringData": {"token": "plain-token-one"}});
        let live = json!({"kind": "Secret", "metadata": {"name": "db", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"c2VjcmV0LXR3bw==\"}}"}},
            "data": {"password": "c2VjcmV0LXR3bw==", "token": "cGxhaW4tdG9rZW4tdHdv"}});
        let found = drift(&desired, &live, "tacos");
        assert_eq!(found.len(), 2, "{found:?}");
        let shown = format!(
            "{found:?} {} {}",
            found.iter().map(ToString::to_string).collect::<String>(),
            serde_json::to_string(&found).unwrap_or_default()
        );
        for value in [
            "c2VjcmV0LW9uZQ==",
            "c2VjcmV0LXR3bw==",
            "secret-one",
            "secret-two",
            "plain-token",
            "cGxhaW4tdG9rZW4",
        ] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
        assert!(shown.contains(MASKED), "{shown}");
    }

    #[test]
    fn secret_string_data_equals_the_data_the_server_stores() {
        let desired = json!({"kind": "Secret", "stringData": {"token": "abc"}, "data": {"key": "YWJj\nZA=="}});
        let live = json!({"kind": "Secret", "data": {"token": "YWJj", "key": "YWJjZA=="}});
        assert_eq!(drift(&desired, &live, "tacos"), vec![]);
    }

    #[test]
    fn env_order_differences_are_not_drift() {
        let desired = json!({"spec": {"containers": [{"name": "a", "env": [
            {"name": "PORT", "value": "8080"}, {"name": "MODE", "value": "prod"}]}]}});
        let live = json!({"spec": {"containers": [{"name": "a", "env": [
            {"name": "MODE", "value": "prod"}, {"name": "PORT", "value": "8080"}]}]}});
        assert_eq!(drift(&desired, &live, "tacos"), vec![]);
    }

    #[test]
    fn volume_mounts_are_matched_by_mount_path() {
        let desired = json!({"spec": {"containers": [{"name": "a", "volumeMounts": [
            {"name": "config", "mountPath": "/etc/a", "subPath": "a"},
            {"name": "config", "mountPath": "/etc/b", "subPath": "b"}]}]}});
        let live = json!({"spec": {"containers": [{"name": "a", "volumeMounts": [
            {"name": "config", "mountPath": "/etc/b", "subPath": "b"},
            {"name": "config", "mountPath": "/etc/a", "subPath": "c"}]}]}});
        let paths: Vec<String> = drift(&desired, &live, "tacos")
            .into_iter()
            .map(|found| found.path)
            .collect();
        assert_eq!(
            paths,
            vec!["/spec/containers/name=a/volumeMounts/mountPath=~1etc~1a/subPath"]
        );
    }

    #[test]
    fn ports_are_keyed_by_number_and_protocol() {
        let dns = json!({"spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}});
        let live = json!({"spec": {"ports": [{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}});
        assert_eq!(drift(&dns, &live, "tacos"), vec![]);
        let udp_only = json!({"spec": {"ports": [{"port": 53, "protocol": "UDP"}]}});
        assert_eq!(drift(&dns, &udp_only, "tacos").len(), 1);
    }

    #[test]
    fn a_missing_list_item_is_missing_as_a_whole() {
        let desired = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
        let live = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}]}});
        let found = drift(&desired, &live, "tacos");
        assert_eq!(
            found,
            vec![Drift {
                path: "/spec/ports/port=443".into(),
                desired: "{\"port\":443}".into(),
                live: None,
                kind: DriftKind::Missing,
            }]
        );
    }

    #[test]
    fn an_int_or_string_number_equals_its_text_but_not_a_port_name() {
        let live = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        let as_text = json!({"spec": {"ports": [{"port": 80, "targetPort": "8080"}]}});
        let by_name = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}});
        assert_eq!(drift(&as_text, &live, "tacos"), vec![]);
        assert_eq!(drift(&by_name, &live, "tacos").len(), 1);
    }

    #[test]
    fn scalar_lists_are_compared_whole() {
        let desired = json!({"spec": {"args": ["--port", "8080"]}});
        let live = json!({"spec": {"args": ["8080", "--port"]}});
        assert_eq!(drift(&desired, &live, "tacos")[0].path, "/spec/args");
    }

    #[test]
    fn zero_values_the_server_omits_are_not_missing() {
        let desired = json!({"spec": {"containers": [{"name": "a", "volumeMounts": [
            {"name": "c", "mountPath": "/c", "readOnly": false}], "args": [], "securityContext": {}}]}});
        let live = json!({"spec": {"containers": [{"name": "a", "volumeMounts": [
            {"name": "c", "mountPath": "/c"}]}]}});
        assert_eq!(drift(&desired, &live, "tacos"), vec![]);
    }

    #[test]
    fn an_empty_label_value_absent_live_is_missing() {
        let desired = json!({"metadata": {"labels": {"canary": ""}}});
        let live = json!({"metadata": {"labels": {}}});
        assert_eq!(drift(&desired, &live, "tacos")[0].kind, DriftKind::Missing);
    }

    #[test]
    fn server_metadata_and_last_applied_annotation_are_ignored() {
        let desired = json!({"metadata": {"uid": "a", "resourceVersion": "1", "generation": 1,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}, "status": {"ready": true}});
        let live = json!({"metadata": {"uid": "b", "resourceVersion": "2", "generation": 2}});
        assert_eq!(drift(&desired, &live, "tacos"), vec![]);
    }

    #[test]
    fn owners_names_every_manager_of_a_path_matching_keys_against_live_items() {
        let live = json!({
            "metadata": {"managedFields": [
                {"manager": "tacos", "fieldsV1": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"a\"}": {"f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}},
                {"manager": "helm", "fieldsV1": {"f:spec": {"f:containers": {}}}}
            ]},
            "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}
        });
        assert_eq!(
            owners(
                &live,
                "/spec/containers/name=a/ports/containerPort=8080/containerPort"
            ),
            vec!["helm".to_string(), "tacos".to_string()]
        );
        assert_eq!(
            owners(&live, "/spec/containers/name=a/ports/containerPort=9090"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn drift_serializes_its_kind_beside_the_path() {
        let found = Drift {
            path: "/spec/replicas".into(),
            desired: "3".into(),
            live: Some("5".into()),
            kind: DriftKind::TakenOver {
                by: "kubectl-edit".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&found).ok(),
            Some(
                json!({"path": "/spec/replicas", "desired": "3", "live": "5", "kind": "takenOver", "by": "kubectl-edit"})
            )
        );
        assert_eq!(
            found.to_string(),
            "/spec/replicas: tree has 3, live has 5, set by kubectl-edit"
        );
    }

    #[test]
    fn malformed_objects_and_managed_fields_do_not_panic() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": 7}, {"manager": "x", "fieldsV1": {"k:not json": {}, "z:": {}, "f:spec": "oops"}}, "junk"]},
            "spec": [1, {"a": null}]});
        for desired in [
            json!(null),
            json!(1),
            json!("text"),
            json!([{"name": null}, 3]),
            json!({"spec": {"a": {"b": [[1], {"name": {"x": 1}}]}}}),
            json!({"kind": "Secret", "stringData": [1], "data": "x"}),
        ] {
            let _ = drift(&desired, &live, "tacos");
            let _ = drift(&live, &desired, "tacos");
        }
        assert_eq!(owners(&live, "/spec/9/a/name=b"), Vec::<String>::new());
    }
}
