//! Server-side apply through kube-rs under one field manager: any kind through discovery, steps in order, bounded parallelism, CRDs waited on, no-ops detected, pruning by ApplySet.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use serde::Serialize;
use serde_json::{Value, json};

use super::applyset::{self, ApplySet};
use super::order::ApplyStep;
use crate::repo::{Location, Object, ObjectKey};

/// The field manager every tacos write is made under.
pub const FIELD_MANAGER: &str = "tacos";

/// Up to this many objects of one kind in one namespace are read with a GET each; more, with one
/// LIST (see [`Applier::list_live`]).
const GET_AT_MOST: usize = 8;

/// The objects `names` of `api` that exist, one GET each, at once. An object the identity may not
/// read is left out (it is then written as if new, as a LIST it may not make leaves its kind); a
/// connection error fails the read.
async fn get_each(
    api: &Api<DynamicObject>,
    names: &[String],
) -> Result<Vec<DynamicObject>, kube::Error> {
    let mut found = Vec::with_capacity(names.len());
    for read in futures::future::join_all(names.iter().map(|name| api.get_opt(name))).await {
        match read {
            Ok(object) => found.extend(object),
            Err(error) if is_connection_error(&error) => return Err(error),
            Err(_) => {}
        }
    }
    Ok(found)
}

/// Whether writes are stored: a value, not an `if` sprinkled through the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    /// Server-side dry run: the apiserver validates and admits, nothing is stored.
    DryRun,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub mode: Mode,
    pub force_conflicts: bool,
    /// Objects applied at once within a step.
    pub parallelism: usize,
    pub applyset: Option<ApplySet>,
    pub crd_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Apply,
            force_conflicts: false,
            parallelism: 8,
            applyset: None,
            crd_timeout: Duration::from_secs(60),
        }
    }
}

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    Pruned,
}

/// One object after apply, with the apiserver's answer.
#[derive(Debug, Clone)]
pub struct Applied {
    pub key: ObjectKey,
    pub location: Option<Location>,
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub outcome: Outcome,
    /// The object as the apiserver returned it (for a dry run: as it would be).
    pub live: Value,
    /// The object as it was on the cluster before (None when it did not exist).
    pub previous: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{object} ({location}): the cluster does not serve {api_version} {kind}: install its CRD first or fix apiVersion"
    )]
    UnknownKind {
        object: ObjectKey,
        location: Location,
        api_version: String,
        kind: String,
    },
    #[error(
        "{object} ({location}): {message}; re-run with --force-conflicts to take these fields over"
    )]
    Conflict {
        object: ObjectKey,
        location: Location,
        message: String,
    },
    #[error("{object} ({location}): rejected by the apiserver: {message}")]
    Rejected {
        object: ObjectKey,
        location: Location,
        message: String,
    },
    #[error("the cluster could not be reached while {action}")]
    Unreachable {
        action: String,
        #[source]
        source: kube::Error,
    },
    #[error("CRD {name} was not Established within {seconds} s")]
    CrdNotEstablished { name: String, seconds: u64 },
}

impl Applied {
    fn after(mut self, previous: Option<Value>) -> Self {
        self.previous = previous;
        self
    }
}

impl ApplyError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApplyError::Unreachable { .. })
    }
}

/// Whether a kube error means the apiserver could not be reached (as opposed to an answer).
pub fn is_connection_error(error: &kube::Error) -> bool {
    !matches!(
        error,
        kube::Error::Api(_) | kube::Error::SerdeError(_) | kube::Error::Discovery(_)
    )
}

type ResourceKey = (String, String, String);

/// What one apply creates that later objects may need: in a dry run nothing is stored, so objects
/// in a namespace (or of a kind) the same apply creates cannot be checked by the server yet.
struct CreatedHere {
    namespaces: BTreeSet<String>,
    kinds: BTreeSet<(String, String)>,
}

impl CreatedHere {
    fn of(objects: &[Object]) -> Self {
        Self {
            namespaces: objects
                .iter()
                .filter(|o| o.is("", "Namespace"))
                .map(|o| o.name().to_string())
                .collect(),
            kinds: objects
                .iter()
                .filter(|o| o.is("apiextensions.k8s.io", "CustomResourceDefinition"))
                .filter_map(|o| {
                    Some((
                        o.value["spec"]["group"].as_str()?.to_string(),
                        o.value["spec"]["names"]["kind"].as_str()?.to_string(),
                    ))
                })
                .collect(),
        }
    }
}

/// Applies objects to one cluster.
pub struct Applier {
    client: kube::Client,
    options: ApplyOptions,
    resources: Mutex<HashMap<ResourceKey, (ApiResource, bool)>>,
}

impl Applier {
    pub fn new(client: kube::Client, options: ApplyOptions) -> Self {
        Self {
            client,
            options,
            resources: Mutex::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> &ApplyOptions {
        &self.options
    }

    /// Applies `objects` step by step (namespaces and CRDs first, each CRD waited on until
    /// Established), calling `on_applied` as each object is done. Stops at the first error.
    pub async fn apply(
        &self,
        objects: &[Object],
        on_applied: &(dyn Fn(&Applied) + Sync),
    ) -> Result<Vec<Applied>, ApplyError> {
        let mut steps: BTreeMap<ApplyStep, Vec<&Object>> = BTreeMap::new();
        for object in objects {
            steps.entry(ApplyStep::of(object)).or_default().push(object);
        }
        if let Some(applyset) = &self.options.applyset {
            self.record_applyset(applyset, objects, false).await?;
        }
        let mut applied = Vec::with_capacity(objects.len());
        let created = CreatedHere::of(objects);
        for (step, members) in steps {
            let started = std::time::Instant::now();
            let live = self.list_live(&members).await?;
            let listed = started.elapsed();
            let results: Vec<Applied> = futures::stream::iter(
                members
                    .iter()
                    .map(|object| self.apply_one(object, &live, &created)),
            )
            .buffer_unordered(self.options.parallelism.max(1))
            .inspect_ok(|done| on_applied(done))
            .try_collect()
            .await?;
            let written = started.elapsed();
            if step == ApplyStep::Foundations && self.options.mode == Mode::Apply {
                for crd in results
                    .iter()
                    .filter(|a| a.key.kind == "CustomResourceDefinition")
                {
                    self.wait_crd_established(&crd.key.name).await?;
                }
            }
            tracing::info!(
                "apply step {step:?}: {} object(s); discovery and reads (GET or LIST) {} ms, writes {} ms, CRDs Established {} ms",
                members.len(),
                listed.as_millis(),
                (written - listed).as_millis(),
                (started.elapsed() - written).as_millis()
            );
            applied.extend(results);
        }
        Ok(applied)
    }

    pub async fn resource_of(&self, object: &Object) -> Result<(ApiResource, bool), ApplyError> {
        let key = (
            object.group().to_string(),
            object.version().to_string(),
            object.kind().to_string(),
        );
        if let Some(found) = self
            .resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let gvk = GroupVersionKind::gvk(&key.0, &key.1, &key.2);
        match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok((resource, capabilities)) => {
                let found = (resource, capabilities.scope == Scope::Namespaced);
                self.resources
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, found.clone());
                Ok(found)
            }
            Err(error)
                if is_connection_error(&error) && !matches!(error, kube::Error::Discovery(_)) =>
            {
                Err(ApplyError::Unreachable {
                    action: format!("discovering {} {}", object.api_version(), object.kind()),
                    source: error,
                })
            }
            Err(_) => Err(ApplyError::UnknownKind {
                object: object.key(),
                location: object.location(),
                api_version: object.api_version().to_string(),
                kind: object.kind().to_string(),
            }),
        }
    }

    fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    /// The live objects `members` name: one LIST per kind and namespace where the phase applies
    /// more than [`GET_AT_MOST`] objects of it there, so unchanged objects need no request of
    /// their own; a GET per object where it applies fewer. A LIST is served from the apiserver's
    /// watch cache, and the first LIST of a kind nobody has listed yet (a CRD's, on a fresh
    /// cluster) waits about a second for that cache to catch up; a GET reads etcd and does not.
    async fn list_live(
        &self,
        members: &[&Object],
    ) -> Result<HashMap<ObjectKey, Value>, ApplyError> {
        type Wanted = (ApiResource, Vec<String>);
        let mut wanted: BTreeMap<(ResourceKey, Option<String>), Wanted> = BTreeMap::new();
        for object in members {
            let (resource, namespaced) = match self.resource_of(object).await {
                Ok(found) => found,
                Err(ApplyError::UnknownKind { .. }) if self.options.mode == Mode::DryRun => {
                    continue;
                }
                Err(error) => return Err(error),
            };
            let namespace = namespaced.then(|| object.namespace().unwrap_or("default").to_string());
            let key = (
                object.group().to_string(),
                object.version().to_string(),
                object.kind().to_string(),
            );
            wanted
                .entry((key, namespace))
                .or_insert_with(|| (resource, Vec::new()))
                .1
                .push(object.name().to_string());
        }
        let reads = wanted
            .into_iter()
            .map(|((_, namespace), (resource, names))| {
                let api = self.api(&resource, namespace.as_deref());
                async move {
                    let read = if names.len() <= GET_AT_MOST {
                        get_each(&api, &names).await
                    } else {
                        api.list(&ListParams::default())
                            .await
                            .map(|list| list.items)
                    };
                    (resource, read)
                }
            });
        let reads: Vec<(ApiResource, Result<Vec<DynamicObject>, kube::Error>)> =
            futures::stream::iter(reads)
                .buffer_unordered(self.options.parallelism.max(1))
                .collect()
                .await;
        let mut live = HashMap::new();
        for (resource, read) in reads {
            let items = match read {
                Ok(items) => items,
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 403 => {
                    continue;
                }
                Err(error) if is_connection_error(&error) => {
                    return Err(ApplyError::Unreachable {
                        action: format!("reading {}", resource.plural),
                        source: error,
                    });
                }
                Err(_) => continue,
            };
            for item in items {
                let key = ObjectKey {
                    group: resource.group.clone(),
                    kind: resource.kind.clone(),
                    namespace: item.metadata.namespace.clone(),
                    name: item.metadata.name.clone().unwrap_or_default(),
                };
                let mut value = serde_json::to_value(&item).unwrap_or_default();
                // LIST items carry no apiVersion and kind of their own.
                value["apiVersion"] = Value::String(resource.api_version.clone());
                value["kind"] = Value::String(resource.kind.clone());
                live.insert(key, value);
            }
        }
        Ok(live)
    }

    fn desired(&self, object: &Object, namespace: Option<&str>) -> Value {
        let mut desired = object.value.clone();
        if let Some(metadata) = desired["metadata"].as_object_mut() {
            if let Some(namespace) = namespace {
                metadata.insert("namespace".into(), json!(namespace));
            }
            if let Some(applyset) = &self.options.applyset {
                let labels = metadata.entry("labels").or_insert_with(|| json!({}));
                if let Some(labels) = labels.as_object_mut() {
                    labels.insert(applyset::PART_OF_LABEL.into(), json!(applyset.id));
                }
            }
        }
        desired
    }

    async fn apply_one(
        &self,
        object: &Object,
        live: &HashMap<ObjectKey, Value>,
        created: &CreatedHere,
    ) -> Result<Applied, ApplyError> {
        let (resource, namespaced) = match self.resource_of(object).await {
            Ok(found) => found,
            Err(ApplyError::UnknownKind { .. })
                if self.options.mode == Mode::DryRun
                    && created
                        .kinds
                        .contains(&(object.group().to_string(), object.kind().to_string())) =>
            {
                return Ok(self.would_create(object, None));
            }
            Err(error) => return Err(error),
        };
        let namespace = namespaced.then(|| object.namespace().unwrap_or("default").to_string());
        let desired = self.desired(object, namespace.as_deref());
        let mut key = object.key();
        key.namespace = namespace.clone();
        let current = live.get(&key);
        if self.options.mode == Mode::Apply
            && let Some(current) = current
            && is_subset(&desired, current)
        {
            return Ok(self
                .applied(
                    object,
                    key,
                    resource,
                    namespace,
                    Outcome::Unchanged,
                    current.clone(),
                )
                .after(Some(current.clone())));
        }
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.force = self.options.force_conflicts;
        params.dry_run = self.options.mode == Mode::DryRun;
        let api = self.api(&resource, namespace.as_deref());
        match api
            .patch(object.name(), &params, &Patch::Apply(&desired))
            .await
        {
            Ok(result) => {
                let result = serde_json::to_value(&result).unwrap_or_default();
                let outcome = match current {
                    None => Outcome::Created,
                    Some(before) if self.options.mode == Mode::DryRun => {
                        if super::diff::changes(object.kind(), before, &result).is_empty() {
                            Outcome::Unchanged
                        } else {
                            Outcome::Configured
                        }
                    }
                    Some(before)
                        if before["metadata"]["resourceVersion"]
                            == result["metadata"]["resourceVersion"] =>
                    {
                        Outcome::Unchanged
                    }
                    // A controller may have written the object (its status) since it was listed.
                    Some(before)
                        if super::diff::changes(object.kind(), before, &result).is_empty() =>
                    {
                        Outcome::Unchanged
                    }
                    Some(_) => Outcome::Configured,
                };
                Ok(self
                    .applied(object, key, resource, namespace, outcome, result)
                    .after(current.cloned()))
            }
            Err(kube::Error::Api(status))
                if self.options.mode == Mode::DryRun
                    && status.code == 404
                    && namespace
                        .as_deref()
                        .is_some_and(|ns| created.namespaces.contains(ns)) =>
            {
                Ok(self.would_create(object, Some(resource)))
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Err(ApplyError::Conflict {
                object: key,
                location: object.location(),
                message: status.message,
            }),
            Err(kube::Error::Api(status)) => Err(ApplyError::Rejected {
                object: key,
                location: object.location(),
                message: status.message,
            }),
            Err(error) => Err(ApplyError::Unreachable {
                action: format!("applying {key}"),
                source: error,
            }),
        }
    }

    fn would_create(&self, object: &Object, resource: Option<ApiResource>) -> Applied {
        let gvk = GroupVersionKind::gvk(object.group(), object.version(), object.kind());
        let resource = resource.unwrap_or_else(|| ApiResource::from_gvk(&gvk));
        self.applied(
            object,
            object.key(),
            resource,
            object.namespace().map(str::to_string),
            Outcome::Created,
            object.value.clone(),
        )
    }

    fn applied(
        &self,
        object: &Object,
        key: ObjectKey,
        resource: ApiResource,
        namespace: Option<String>,
        outcome: Outcome,
        live: Value,
    ) -> Applied {
        Applied {
            key,
            location: Some(object.location()),
            resource,
            namespace,
            outcome,
            live,
            previous: None,
        }
    }

    async fn wait_crd_established(&self, name: &str) -> Result<(), ApplyError> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        use kube::runtime::wait::{await_condition, conditions};
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let established = await_condition(api, name, conditions::is_crd_established());
        match tokio::time::timeout(self.options.crd_timeout, established).await {
            Ok(Ok(_)) => {
                // Discovery caches may predate the CRD: forget them so its kinds resolve.
                self.resources
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                Ok(())
            }
            Ok(Err(_)) | Err(_) => Err(ApplyError::CrdNotEstablished {
                name: name.to_string(),
                seconds: self.options.crd_timeout.as_secs(),
            }),
        }
    }

    /// Writes the ApplySet parent: its id label and the group-kinds and namespaces it holds
    /// (`keep_previous` merges with what it held before, as kubectl does before pruning).
    async fn record_applyset(
        &self,
        applyset: &ApplySet,
        objects: &[Object],
        replace: bool,
    ) -> Result<(), ApplyError> {
        let mut group_kinds: BTreeSet<String> = objects
            .iter()
            .map(|o| applyset::group_kind(o.group(), o.kind()))
            .collect();
        let mut namespaces: BTreeSet<String> = objects
            .iter()
            .filter_map(|o| o.namespace().map(str::to_string))
            .collect();
        let parents: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), applyset::PARENT_NAMESPACE);
        if !replace {
            match parents.get_opt(&applyset.parent_name).await {
                Ok(Some(previous)) => {
                    let annotations = previous.metadata.annotations.unwrap_or_default();
                    group_kinds.extend(applyset::parse_list(
                        annotations
                            .get(applyset::GROUP_KINDS_ANNOTATION)
                            .map(String::as_str),
                    ));
                    namespaces.extend(applyset::parse_list(
                        annotations
                            .get(applyset::NAMESPACES_ANNOTATION)
                            .map(String::as_str),
                    ));
                }
                Ok(None) => {}
                Err(error) if is_connection_error(&error) => {
                    return Err(ApplyError::Unreachable {
                        action: "reading the ApplySet parent".into(),
                        source: error,
                    });
                }
                Err(_) => {}
            }
        }
        let parent = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": applyset.parent_name,
                "namespace": applyset::PARENT_NAMESPACE,
                "labels": {applyset::ID_LABEL: applyset.id},
                "annotations": {
                    applyset::TOOLING_ANNOTATION: format!("tacos/v{}", env!("CARGO_PKG_VERSION")),
                    applyset::GROUP_KINDS_ANNOTATION: group_kinds.into_iter().collect::<Vec<_>>().join(","),
                    applyset::NAMESPACES_ANNOTATION: namespaces.into_iter().collect::<Vec<_>>().join(","),
                },
            },
        });
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = self.options.mode == Mode::DryRun;
        parents
            .patch(&applyset.parent_name, &params, &Patch::Apply(&parent))
            .await
            .map(|_| ())
            .map_err(|error| match error {
                kube::Error::Api(status) => ApplyError::Rejected {
                    object: ObjectKey {
                        group: String::new(),
                        kind: "ConfigMap".into(),
                        namespace: Some(applyset::PARENT_NAMESPACE.into()),
                        name: applyset.parent_name.clone(),
                    },
                    location: Location {
                        file: "(ApplySet parent)".into(),
                        line: 0,
                        column: 0,
                        rendered_for: None,
                    },
                    message: status.message,
                },
                error => ApplyError::Unreachable {
                    action: "writing the ApplySet parent".into(),
                    source: error,
                },
            })
    }

    /// Deletes members of the ApplySet that `current` no longer holds (in reverse apply order),
    /// then records only the current group-kinds and namespaces on the parent.
    pub async fn prune(
        &self,
        objects: &[Object],
        current: &[Applied],
    ) -> Result<Vec<Applied>, ApplyError> {
        let Some(applyset) = self.options.applyset.clone() else {
            return Ok(Vec::new());
        };
        let parents: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), applyset::PARENT_NAMESPACE);
        let annotations = match parents.get_opt(&applyset.parent_name).await {
            Ok(parent) => parent
                .and_then(|p| p.metadata.annotations)
                .unwrap_or_default(),
            Err(error) => {
                return Err(ApplyError::Unreachable {
                    action: "reading the ApplySet parent".into(),
                    source: error,
                });
            }
        };
        let group_kinds = applyset::parse_list(
            annotations
                .get(applyset::GROUP_KINDS_ANNOTATION)
                .map(String::as_str),
        );
        let namespaces = applyset::parse_list(
            annotations
                .get(applyset::NAMESPACES_ANNOTATION)
                .map(String::as_str),
        );
        let keep: BTreeSet<&ObjectKey> = current.iter().map(|a| &a.key).collect();
        let selector =
            ListParams::default().labels(&format!("{}={}", applyset::PART_OF_LABEL, applyset.id));
        let mut pruned = Vec::new();
        for group_kind in group_kinds.iter().rev() {
            let (kind, group) = group_kind.split_once('.').unwrap_or((group_kind, ""));
            let Some(resource) = self.resource_for_group_kind(group, kind).await? else {
                continue;
            };
            let (resource, namespaced) = resource;
            let scopes: Vec<Option<&str>> = if namespaced {
                namespaces.iter().map(|n| Some(n.as_str())).collect()
            } else {
                vec![None]
            };
            for namespace in scopes {
                let api = self.api(&resource, namespace);
                let list = match api.list(&selector).await {
                    Ok(list) => list,
                    Err(error) if is_connection_error(&error) => {
                        return Err(ApplyError::Unreachable {
                            action: format!("listing {} to prune", resource.plural),
                            source: error,
                        });
                    }
                    Err(_) => continue,
                };
                for item in list.items {
                    let key = ObjectKey {
                        group: group.to_string(),
                        kind: kind.to_string(),
                        namespace: item.metadata.namespace.clone(),
                        name: item.metadata.name.clone().unwrap_or_default(),
                    };
                    if keep.contains(&key) {
                        continue;
                    }
                    let params = DeleteParams {
                        dry_run: self.options.mode == Mode::DryRun,
                        ..DeleteParams::background()
                    };
                    match api.delete(&key.name, &params).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(status)) if status.code == 404 => {}
                        Err(error) => {
                            return Err(ApplyError::Unreachable {
                                action: format!("pruning {key}"),
                                source: error,
                            });
                        }
                    }
                    pruned.push(Applied {
                        key,
                        location: None,
                        resource: resource.clone(),
                        namespace: item.metadata.namespace.clone(),
                        outcome: Outcome::Pruned,
                        live: Value::Null,
                        previous: Some(serde_json::to_value(&item).unwrap_or_default()),
                    });
                }
            }
        }
        self.record_applyset(&applyset, objects, true).await?;
        Ok(pruned)
    }

    async fn resource_for_group_kind(
        &self,
        group: &str,
        kind: &str,
    ) -> Result<Option<(ApiResource, bool)>, ApplyError> {
        let discovery = kube::discovery::Discovery::new(self.client.clone()).filter(&[group]);
        let discovery = match discovery.run_aggregated().await {
            Ok(discovery) => discovery,
            Err(error) if is_connection_error(&error) => {
                return Err(ApplyError::Unreachable {
                    action: "discovering kinds to prune".into(),
                    source: error,
                });
            }
            Err(_) => return Ok(None),
        };
        for api_group in discovery.groups() {
            for (resource, capabilities) in api_group.recommended_resources() {
                if resource.kind == kind {
                    return Ok(Some((resource, capabilities.scope == Scope::Namespaced)));
                }
            }
        }
        Ok(None)
    }
}

/// Whether every field of `desired` has the same value in `live` (which holds defaults and status too).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            want.iter().all(|(key, value)| match have.get(key) {
                Some(existing) => is_subset(value, existing),
                None => {
                    value.is_null()
                        || value.as_object().is_some_and(|o| o.is_empty())
                        || value.as_array().is_some_and(|a| a.is_empty())
                }
            })
        }
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| is_subset(w, h))
        }
        (Value::Number(want), Value::String(have)) | (Value::String(have), Value::Number(want)) => {
            want.to_string() == *have
        }
        (want, have) => want == have,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_ignores_defaults_and_status_the_server_added() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}});
        let live = json!({"spec": {"replicas": 2, "strategy": {}, "template": {"spec": {"containers": [{"name": "a", "image": "a:1", "imagePullPolicy": "IfNotPresent"}]}}}, "status": {}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn subset_sees_a_changed_field_and_a_changed_list_length() {
        let live = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
        assert!(!is_subset(&json!({"spec": {"replicas": 3}}), &live));
        assert!(!is_subset(
            &json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}}),
            &live
        ));
    }
}
