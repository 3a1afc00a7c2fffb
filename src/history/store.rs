//! Where history lives: one ConfigMap per entry in kube-system (`tacos-history-<phase>-<revision>`, entry.json), readable by anyone who may list ConfigMaps there, the oldest beyond `keep` deleted.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use super::{Entry, FORMAT, HistoryId, beyond_keep, newest_first};

/// Where the entries live: the namespace every cluster has, beside the phases' ApplySet parents.
pub const NAMESPACE: &str = crate::apply::applyset::PARENT_NAMESPACE;
pub const PHASE_LABEL: &str = "tacos.traffictacos.store/history-phase";
pub const REVISION_LABEL: &str = "tacos.traffictacos.store/history-revision";
pub const ENVIRONMENT_LABEL: &str = "tacos.traffictacos.store/environment";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The key of the ConfigMap that holds the entry.
pub const ENTRY_KEY: &str = "entry.json";

/// How many times a write moves on to the next revision when another run took the one it chose.
const ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "cannot {verb} the deploy history (ConfigMaps labelled {PHASE_LABEL} in {NAMESPACE}): {source}; {fix}"
    )]
    Kube {
        verb: &'static str,
        fix: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error(
        "cannot write history entry {phase}-*: revisions {first} to {last} were all taken by other runs at the same time; run `tacos history --phase {phase}` and deploy again"
    )]
    Contended {
        phase: String,
        first: u32,
        last: u32,
    },
    #[error("{}", unknown_id(id, known))]
    UnknownId {
        id: HistoryId,
        known: Vec<HistoryId>,
    },
    #[error(
        "history entry {name} in {NAMESPACE} cannot be read: {message}; delete it (kubectl -n {NAMESPACE} delete configmap {name}) or read it with a newer tacos"
    )]
    Unreadable { name: String, message: String },
}

fn unknown_id(id: &HistoryId, known: &[HistoryId]) -> String {
    if known.is_empty() {
        format!("no history entry {id}: this cluster has no deploy history yet")
    } else {
        let names: Vec<String> = known.iter().map(ToString::to_string).collect();
        format!(
            "no history entry {id}; the entries are: {}",
            names.join(", ")
        )
    }
}

impl HistoryError {
    /// Whether the cluster could not be reached (rather than refused).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HistoryError::Kube { source, .. } if crate::apply::applier::is_connection_error(source))
    }
}

const READ_FIX: &str =
    "grant get and list on configmaps in kube-system (manifests/access/tacos-verify.yaml has it)";
const WRITE_FIX: &str =
    "grant create, list and delete on configmaps in kube-system to the identity that deploys";

fn kube_error(verb: &'static str, fix: &'static str) -> impl FnOnce(kube::Error) -> HistoryError {
    move |source| HistoryError::Kube { verb, fix, source }
}

fn api(client: &kube::Client) -> Api<ConfigMap> {
    Api::namespaced(client.clone(), NAMESPACE)
}

/// The ConfigMap name of an entry.
pub fn object_name(id: &HistoryId) -> String {
    format!("tacos-history-{id}")
}

/// What `record` did: the entry's id and the entries it deleted to keep the phase's last `keep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: HistoryId,
    pub deleted: Vec<HistoryId>,
}

/// Writes `entry` as the phase's next revision (its `revision` is set here), then deletes the
/// phase's entries beyond the newest `keep`.
pub async fn record(
    client: &kube::Client,
    entry: &mut Entry,
    keep: usize,
) -> Result<Recorded, HistoryError> {
    let api = api(client);
    let revisions = phase_revisions(&api, &entry.phase).await?;
    let first = revisions.iter().max().copied().unwrap_or(0) + 1;
    let mut revision = first;
    loop {
        entry.revision = revision;
        match api
            .create(&PostParams::default(), &config_map(entry)?)
            .await
        {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if status.code == 409 && revision < first + ATTEMPTS => {
                revision += 1;
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                return Err(HistoryError::Contended {
                    phase: entry.phase.clone(),
                    first,
                    last: revision,
                });
            }
            Err(source) => return Err(kube_error("write", WRITE_FIX)(source)),
        }
    }
    let mut all = revisions;
    all.push(revision);
    let mut deleted = Vec::new();
    for old in beyond_keep(&all, keep) {
        let id = HistoryId {
            phase: entry.phase.clone(),
            revision: old,
        };
        match api
            .delete(&object_name(&id), &DeleteParams::default())
            .await
        {
            Ok(_) => deleted.push(id),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => return Err(kube_error("prune", WRITE_FIX)(source)),
        }
    }
    Ok(Recorded {
        id: entry.id(),
        deleted,
    })
}

/// The revisions the phase has entries for.
async fn phase_revisions(api: &Api<ConfigMap>, phase: &str) -> Result<Vec<u32>, HistoryError> {
    let listed = api
        .list_metadata(&ListParams::default().labels(&format!("{PHASE_LABEL}={phase}")))
        .await
        .map_err(kube_error("read", WRITE_FIX))?;
    Ok(listed
        .items
        .iter()
        .filter_map(|m| {
            let labels = m.metadata.labels.as_ref()?;
            labels.get(REVISION_LABEL)?.parse().ok()
        })
        .collect())
}

fn config_map(entry: &Entry) -> Result<ConfigMap, HistoryError> {
    let id = entry.id();
    let json = serde_json::to_string_pretty(entry).map_err(|e| HistoryError::Unreadable {
        name: object_name(&id),
        message: e.to_string(),
    })?;
    let labels: BTreeMap<String, String> = [
        (MANAGED_BY_LABEL, "tacos".to_string()),
        (PHASE_LABEL, entry.phase.clone()),
        (REVISION_LABEL, entry.revision.to_string()),
        (ENVIRONMENT_LABEL, label_value(&entry.environment)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(object_name(&id)),
            namespace: Some(NAMESPACE.into()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(ENTRY_KEY.to_string(), json)])),
        ..ConfigMap::default()
    })
}

/// A label value of `text`: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Every entry (of `phase`, or of all phases), newest first.
pub async fn list(client: &kube::Client, phase: Option<&str>) -> Result<Vec<Entry>, HistoryError> {
    let selector = match phase {
        Some(phase) => format!("{PHASE_LABEL}={phase}"),
        None => PHASE_LABEL.to_string(),
    };
    let listed = api(client)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(kube_error("read", READ_FIX))?;
    let mut entries = listed
        .items
        .iter()
        .map(entry_of)
        .collect::<Result<Vec<_>, _>>()?;
    newest_first(&mut entries);
    Ok(entries)
}

/// The entry `id`; an unknown one names the entries there are.
pub async fn get(client: &kube::Client, id: &HistoryId) -> Result<Entry, HistoryError> {
    let found = api(client)
        .get_opt(&object_name(id))
        .await
        .map_err(kube_error("read", READ_FIX))?;
    match found {
        Some(config_map) => entry_of(&config_map),
        None => {
            let known = list(client, None).await?.iter().map(Entry::id).collect();
            Err(HistoryError::UnknownId {
                id: id.clone(),
                known,
            })
        }
    }
}

fn entry_of(config_map: &ConfigMap) -> Result<Entry, HistoryError> {
    let name = config_map.metadata.name.clone().unwrap_or_default();
    let unreadable = |message: String| HistoryError::Unreadable {
        name: name.clone(),
        message,
    };
    let text = config_map
        .data
        .as_ref()
        .and_then(|d| d.get(ENTRY_KEY))
        .ok_or_else(|| unreadable(format!("it has no {ENTRY_KEY}")))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?;
    let format = value["format"].as_u64().unwrap_or(0);
    if format > u64::from(FORMAT) {
        return Err(unreadable(format!(
            "it is format {format}, this tacos reads format {FORMAT}"
        )));
    }
    serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_become_label_values() {
        assert_eq!(label_value("prod"), "prod");
        assert_eq!(label_value("eu west/2"), "eu-west-2");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"a".repeat(70)).len(), 63);
    }

    #[test]
    fn an_unknown_id_names_the_entries_there_are() {
        let id: HistoryId = "apps-9".parse().unwrap();
        let known = vec!["apps-2".parse().unwrap(), "gateway-1".parse().unwrap()];
        let text = HistoryError::UnknownId { id, known }.to_string();
        assert_eq!(
            text,
            "no history entry apps-9; the entries are: apps-2, gateway-1"
        );
    }
}
