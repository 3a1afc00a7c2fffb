//! Rollback pins: a phase's Applications held at one commit by `tacos rollback` (annotations on each Application), which a deploy refuses to move without `--unpin` and verify reports.

use kube::api::ListParams;
use serde_json::json;

use crate::k8s::argocd::applications;
use crate::repo::Object;

/// The commit a rollback pinned the Application to.
pub const PINNED_REVISION_ANNOTATION: &str = "tacos.traffictacos.store/pinned-revision";
/// The phase whose rollback pinned it.
pub const PINNED_PHASE_ANNOTATION: &str = "tacos.traffictacos.store/pinned-phase";
/// What the rollback was asked for: a history entry's id or a commit.
pub const PINNED_BY_ANNOTATION: &str = "tacos.traffictacos.store/pinned-by";

/// What a run does with a phase's pin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PinMode {
    /// A deploy: refused while the phase is pinned.
    #[default]
    Respect,
    /// `--unpin`: the Applications go back to the environment's revision.
    Unpin,
    /// A rollback: the Applications are pinned to `commit`.
    Pin { commit: String, by: String },
}

/// One pinned Application as it is on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePin {
    pub application: String,
    pub commit: String,
    pub by: String,
}

/// The Applications on the cluster a rollback of `phase` pinned.
pub async fn live_pins(client: &kube::Client, phase: &str) -> Result<Vec<LivePin>, kube::Error> {
    let list = match applications(client).list(&ListParams::default()).await {
        Ok(list) => list,
        // Argo CD is not installed: nothing can be pinned.
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut pins: Vec<LivePin> = list
        .items
        .into_iter()
        .filter_map(|application| {
            let annotations = application.metadata.annotations.unwrap_or_default();
            (annotations.get(PINNED_PHASE_ANNOTATION).map(String::as_str) == Some(phase)).then(
                || LivePin {
                    application: application.metadata.name.unwrap_or_default(),
                    commit: annotations
                        .get(PINNED_REVISION_ANNOTATION)
                        .cloned()
                        .unwrap_or_default(),
                    by: annotations
                        .get(PINNED_BY_ANNOTATION)
                        .cloned()
                        .unwrap_or_default(),
                },
            )
        })
        .collect();
    pins.sort_by(|a, b| a.application.cmp(&b.application));
    Ok(pins)
}

/// Marks the phase's Applications among `objects` as pinned to `commit` (their sources already
/// name it: the rollback renders the phase at that revision).
pub fn stamp(objects: &mut [Object], phase: &str, commit: &str, by: &str) {
    for object in objects
        .iter_mut()
        .filter(|o| o.is("argoproj.io", "Application"))
    {
        let metadata = &mut object.value["metadata"];
        if !metadata["annotations"].is_object() {
            metadata["annotations"] = json!({});
        }
        let annotations = &mut metadata["annotations"];
        annotations[PINNED_REVISION_ANNOTATION] = json!(commit);
        annotations[PINNED_PHASE_ANNOTATION] = json!(phase);
        annotations[PINNED_BY_ANNOTATION] = json!(by);
    }
}

/// `gateway-api, inventory-api at abc1234 (tacos rollback --to apps-2)`.
pub fn describe(pins: &[LivePin]) -> String {
    let names: Vec<&str> = pins.iter().map(|p| p.application.as_str()).collect();
    let mut commits: Vec<&str> = pins.iter().map(|p| p.commit.as_str()).collect();
    commits.dedup();
    let short: Vec<String> = commits
        .iter()
        .map(|c| c.chars().take(12).collect())
        .collect();
    let by = pins.first().map(|p| p.by.as_str()).unwrap_or_default();
    format!(
        "Application(s) {} pinned at commit {} (tacos rollback --to {by})",
        names.join(", "),
        short.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_applications_are_stamped_with_the_pin() {
        let mut tree = crate::repo::load_str(
            "a.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: argocd}\n",
        )
        .unwrap();
        stamp(&mut tree.objects, "apps", "abc", "apps-2");
        assert_eq!(
            tree.objects[0].annotation(PINNED_REVISION_ANNOTATION),
            Some("abc")
        );
        assert_eq!(
            tree.objects[0].annotation(PINNED_PHASE_ANNOTATION),
            Some("apps")
        );
        assert_eq!(
            tree.objects[0].annotation(PINNED_BY_ANNOTATION),
            Some("apps-2")
        );
        assert_eq!(tree.objects[1].annotation(PINNED_REVISION_ANNOTATION), None);
    }
}
