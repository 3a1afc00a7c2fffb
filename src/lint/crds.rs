//! Custom resources checked offline against the openAPIV3Schema of their CustomResourceDefinition (in the tree, a `--schema-dir` or the CRDs tacos pins) for the version they use; those no CRD covers are said so.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{LintContext, subject};
use crate::repo::Object;
use crate::repo::yaml::escape_pointer_token;
use crate::report::{Finding, RuleInfo, rule};

const FAMILY: &str = "crd";

const CRD_GROUP: &str = "apiextensions.k8s.io";

rule!(
    SCHEMA,
    FAMILY,
    "crd-schema",
    Error,
    "a custom resource matches its CustomResourceDefinition's schema: known fields, types, enum values and required fields",
    "fix the field at the place shown as the CRD's schema says (kubectl explain <kind>.<path> shows it), or update the CRD if the field is new"
);
rule!(
    VERSION_NOT_SERVED,
    FAMILY,
    "crd-version-not-served",
    Error,
    "a custom resource's apiVersion is a version its CustomResourceDefinition serves",
    "change apiVersion to a served version of the CRD (spec.versions[].served: true)"
);

rule!(
    VERSION_DEPRECATED,
    FAMILY,
    "crd-version-deprecated",
    Warning,
    "a custom resource does not use a version its CustomResourceDefinition marks deprecated",
    "move to the version the CRD's deprecation warning names (or its storage version) before the project removes this one"
);
rule!(
    SCHEMA_UNAVAILABLE,
    FAMILY,
    "crd-schema-unavailable",
    Warning,
    "the pinned CRDs for every custom resource's API group could be had, so every custom resource was checked",
    "run lint once with access to the Go module proxy (GOPROXY or TACOS_GOPROXY) so the pinned CRDs are fetched and cached, or pass --schema-dir with the project's CRDs"
);
rule!(
    NOT_VALIDATED,
    FAMILY,
    "crd-not-validated",
    Info,
    "every custom resource has a CustomResourceDefinition to be checked against (in the tree, a --schema-dir, or the CRDs tacos pins)",
    "pass --schema-dir with a folder of the project's CRD YAML (for the version the cluster runs) to have these objects checked"
);

pub const RULES: &[RuleInfo] = &[
    SCHEMA,
    VERSION_NOT_SERVED,
    VERSION_DEPRECATED,
    SCHEMA_UNAVAILABLE,
    NOT_VALIDATED,
];

/// API groups the Kubernetes API server serves itself (validated by it, not by a CRD).
pub const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "metrics.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// The API groups of the tree's objects that neither the API server nor a CRD among `crds` or
/// in the tree defines: those a pinned CRD set may cover.
pub fn groups_without_crds(tree: &crate::repo::Tree, crds: &[Object]) -> BTreeSet<String> {
    let defined: BTreeSet<&str> = crds
        .iter()
        .chain(tree.of_kind(CRD_GROUP, "CustomResourceDefinition"))
        .filter_map(|crd| crd.value["spec"]["group"].as_str())
        .collect();
    tree.objects
        .iter()
        .map(Object::group)
        .filter(|group| !BUILT_IN_GROUPS.contains(group) && !defined.contains(group))
        .map(str::to_string)
        .collect()
}

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut definitions: HashMap<(String, String), &Object> = HashMap::new();
    // The tree's own CRDs win over those of a schema folder.
    for crd in context
        .settings
        .crds
        .iter()
        .chain(context.tree.of_kind(CRD_GROUP, "CustomResourceDefinition"))
    {
        let spec = &crd.value["spec"];
        if let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str())
        {
            definitions.insert((group.to_string(), kind.to_string()), crd);
        }
    }
    let mut findings = Vec::new();
    let mut uncovered: BTreeMap<&str, Vec<&Object>> = BTreeMap::new();
    for object in &context.tree.objects {
        let key = (object.group().to_string(), object.kind().to_string());
        let Some(crd) = definitions.get(&key) else {
            if !BUILT_IN_GROUPS.contains(&object.group()) {
                uncovered.entry(object.group()).or_default().push(object);
            }
            continue;
        };
        let crd_name = crd.name();
        let versions = crd.value["spec"]["versions"].as_array();
        let version = versions.into_iter().flatten().find(|v| {
            v["name"].as_str() == Some(object.version()) && v["served"].as_bool() == Some(true)
        });
        let Some(version) = version else {
            let served: Vec<String> = versions
                .into_iter()
                .flatten()
                .filter(|v| v["served"].as_bool() == Some(true))
                .filter_map(|v| v["name"].as_str())
                .map(|name| format!("{}/{name}", object.group()))
                .collect();
            findings.push(Finding::new(
                &VERSION_NOT_SERVED,
                subject(object),
                Some(object.location_of("/apiVersion")),
                format!(
                    "{} is not served by CustomResourceDefinition {crd_name} (served: {})",
                    object.api_version(),
                    if served.is_empty() {
                        "none".to_string()
                    } else {
                        served.join(", ")
                    }
                ),
            ));
            continue;
        };
        if version["deprecated"] == true {
            let warning = version["deprecationWarning"]
                .as_str()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            findings.push(Finding::new(
                &VERSION_DEPRECATED,
                subject(object),
                Some(object.location_of("/apiVersion")),
                format!(
                    "{} is deprecated by CustomResourceDefinition {crd_name}{warning}",
                    object.api_version()
                ),
            ));
        }
        let schema = &version["schema"]["openAPIV3Schema"];
        if !schema.is_object() {
            continue;
        }
        let mut problems = Vec::new();
        validate_root(schema, &object.value, &mut problems);
        for (pointer, message) in problems {
            findings.push(Finding::new(
                &SCHEMA,
                subject(object),
                Some(object.location_of(&pointer)),
                format!(
                    "{message} (at {}; CustomResourceDefinition {crd_name} {})",
                    if pointer.is_empty() { "/" } else { &pointer },
                    object.version()
                ),
            ));
        }
    }
    findings.extend(
        uncovered
            .into_iter()
            .map(|(group, objects)| unchecked(context, group, &objects)),
    );
    findings
}

/// One finding per API group whose objects no CRD covers: a warning when tacos pins its CRDs but
/// could not have them, else an info naming where the CRDs are published when tacos knows.
fn unchecked(context: &LintContext<'_>, group: &str, objects: &[&Object]) -> Finding {
    let first = objects[0];
    let kinds: BTreeSet<&str> = objects.iter().map(|o| o.kind()).collect();
    let kinds: Vec<&str> = kinds.into_iter().collect();
    let what = format!(
        "{} custom resource(s) of {group} ({}) were not checked against a schema",
        objects.len(),
        kinds.join(", ")
    );
    let mut finding = match context.settings.crd_unavailable.get(group) {
        Some(reason) => Finding::new(
            &SCHEMA_UNAVAILABLE,
            subject(first),
            Some(first.location_of("/apiVersion")),
            format!("{what}: the pinned CRDs could not be had: {reason}"),
        ),
        None => {
            let why = match crate::upstream::UNPINNED_CRD_GROUPS
                .iter()
                .find(|u| u.group == group)
            {
                Some(unpinned) => format!(
                    "tacos pins no CRDs for {} (its Go module is not on the module proxy); they are published in {}",
                    unpinned.project, unpinned.source
                ),
                None => "no CustomResourceDefinition in the tree, a --schema-dir or the CRDs tacos pins defines these kinds".to_string(),
            };
            Finding::new(
                &NOT_VALIDATED,
                subject(first),
                Some(first.location_of("/apiVersion")),
                format!("{what}: {why}"),
            )
        }
    };
    if objects.len() > 1 {
        finding.subject = format!("{} and {} more", finding.subject, objects.len() - 1);
    }
    finding
}

/// The object's top level: apiVersion, kind and metadata are the API server's, not the schema's.
fn validate_root(schema: &Value, value: &Value, problems: &mut Vec<(String, String)>) {
    let Some(map) = value.as_object() else {
        return;
    };
    required(schema, map, "", problems);
    for (key, child) in map {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        field(schema, key, child, "", problems);
    }
}

fn required(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    pointer: &str,
    problems: &mut Vec<(String, String)>,
) {
    for name in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = name.as_str()
            && !map.contains_key(name)
        {
            problems.push((
                pointer.to_string(),
                format!("missing required field \"{name}\""),
            ));
        }
    }
}

/// One field of an object whose schema is `schema`.
fn field(
    schema: &Value,
    key: &str,
    child: &Value,
    pointer: &str,
    problems: &mut Vec<(String, String)>,
) {
    let child_pointer = format!("{pointer}/{}", escape_pointer_token(key));
    if let Some(property) = schema["properties"].get(key) {
        return validate(property, child, &child_pointer, problems);
    }
    match &schema["additionalProperties"] {
        Value::Object(_) => validate(
            &schema["additionalProperties"],
            child,
            &child_pointer,
            problems,
        ),
        Value::Bool(true) => {}
        _ if schema["x-kubernetes-preserve-unknown-fields"] == true => {}
        _ if schema["x-kubernetes-embedded-resource"] == true
            && matches!(key, "apiVersion" | "kind" | "metadata") => {}
        _ => {
            let mut known: Vec<&str> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, _)| name.as_str())
                .collect();
            known.sort_unstable();
            problems.push((
                child_pointer,
                if known.is_empty() {
                    format!("unknown field \"{key}\": the schema allows no fields here")
                } else {
                    format!(
                        "unknown field \"{key}\", expected one of {}",
                        known.join(", ")
                    )
                },
            ));
        }
    }
}

fn validate(schema: &Value, value: &Value, pointer: &str, problems: &mut Vec<(String, String)>) {
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            problems.push((
                pointer.to_string(),
                format!("expected an integer or a string, found {}", type_of(value)),
            ));
        }
        return;
    }
    let expected = schema["type"].as_str();
    let fits = match expected {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !fits {
        problems.push((
            pointer.to_string(),
            format!(
                "expected {}, found {}",
                article(expected.unwrap_or_default()),
                type_of(value)
            ),
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let shown: Vec<String> = allowed.iter().map(Value::to_string).collect();
        problems.push((
            pointer.to_string(),
            format!("{value} is not one of {}", shown.join(", ")),
        ));
    }
    match value {
        Value::Object(map) => {
            required(schema, map, pointer, problems);
            for (key, child) in map {
                field(schema, key, child, pointer, problems);
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (index, item) in items.iter().enumerate() {
                validate(
                    &schema["items"],
                    item,
                    &format!("{pointer}/{index}"),
                    problems,
                );
            }
        }
        _ => {}
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn article(schema_type: &str) -> String {
    match schema_type {
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "integer" => "an integer".into(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [port]
              properties:
                port: {x-kubernetes-int-or-string: true}
                note: {type: string, nullable: true}
                free: {type: object, x-kubernetes-preserve-unknown-fields: true}
                labels: {type: object, additionalProperties: {type: string}}
                mode: {type: string, enum: [fast, safe]}
                items: {type: array, items: {type: integer}}
"#;

    fn lint(widget_spec: &str) -> Vec<(String, String)> {
        let yaml = format!(
            "{CRD}---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: shop, labels: {{a: b}}}}\nspec:\n{widget_spec}"
        );
        crate::lint::lint_yaml(check, &yaml)
            .into_iter()
            .map(|f| (f.rule.to_string(), f.message))
            .collect()
    }

    #[test]
    fn a_resource_that_fits_its_schema_has_no_findings() {
        let found = lint(
            "  port: http\n  note: null\n  free: {any: [thing]}\n  labels: {team: shop}\n  mode: safe\n  items: [1, 2]\n",
        );
        assert_eq!(found, Vec::<(String, String)>::new());
        assert_eq!(lint("  port: 8080\n"), Vec::<(String, String)>::new());
    }

    #[test]
    fn every_violation_is_reported_with_its_path() {
        let found = lint(
            "  port: [1]\n  labels: {team: 3}\n  mode: quick\n  items: [1, two]\n  extra: x\n",
        );
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        for said in [
            "expected an integer or a string, found a list (at /spec/port;",
            "expected a string, found an integer (at /spec/labels/team;",
            "\"quick\" is not one of \"fast\", \"safe\" (at /spec/mode;",
            "expected an integer, found a string (at /spec/items/1;",
            "unknown field \"extra\", expected one of free, items, labels, mode, note, port (at /spec/extra;",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(said)),
                "{said:?} not in {messages:#?}"
            );
        }
        assert_eq!(found.len(), 5, "{messages:#?}");
        let missing = lint("  mode: fast\n");
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0]
                .1
                .contains("missing required field \"port\" (at /spec;")
        );
    }
}
