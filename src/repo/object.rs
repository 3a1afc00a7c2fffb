//! One Kubernetes object loaded from the tree, with where it came from and typed accessors.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::yaml::{Document, Position, escape_pointer_token};

/// Where an object (or one of its fields) is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// Path relative to the folder given to tacos (or as given, when outside it).
    pub file: PathBuf,
    /// 1-based; 0 when the object was rendered and no line applies.
    pub line: usize,
    pub column: usize,
    /// For objects rendered from a Helm chart: what rendered them (the Application and its file:line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_for: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(rendered_for) = &self.rendered_for {
            write!(f, " (rendered for {rendered_for})")?;
        }
        Ok(())
    }
}

/// What identifies an object on a cluster: group, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {}/{}", self.kind, namespace, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Where an object's text lives: the document it was parsed from (shared by every object of a
/// `kind: List`), the pointer of the object inside it, and the file.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: PathBuf,
    pub document: Arc<Document>,
    /// JSON pointer of the object inside its document ("" for a plain document, "/items/3" in a List).
    pub pointer: String,
    pub rendered_for: Option<String>,
}

/// A Kubernetes object from the tree.
#[derive(Debug, Clone)]
pub struct Object {
    pub value: Value,
    pub source: Source,
}

/// Pointers to the pod spec inside workloads, by kind.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

impl Object {
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }

    /// The API group ("" for the core group).
    pub fn group(&self) -> &str {
        self.api_version()
            .rsplit_once('/')
            .map(|(group, _)| group)
            .unwrap_or("")
    }

    pub fn version(&self) -> &str {
        let api_version = self.api_version();
        api_version
            .rsplit_once('/')
            .map(|(_, version)| version)
            .unwrap_or(api_version)
    }

    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group().to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().map(str::to_string),
            name: self.name().to_string(),
        }
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group() == group && self.kind() == kind
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.value["metadata"]["labels"][key].as_str()
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.value["metadata"]["annotations"][key].as_str()
    }

    /// The value at a JSON pointer relative to the object.
    pub fn at(&self, pointer: &str) -> Option<&Value> {
        self.value.pointer(pointer)
    }

    /// The pod spec of a workload (Deployment, StatefulSet, ..., Pod) and its pointer.
    pub fn pod_spec(&self) -> Option<(&'static str, &Value)> {
        let pointer = pod_spec_pointer(self.kind())?;
        if !matches!(self.group(), "" | "apps" | "batch") {
            return None;
        }
        self.value.pointer(pointer).map(|spec| (pointer, spec))
    }

    /// Where the object starts.
    pub fn location(&self) -> Location {
        self.location_of("")
    }

    /// Where the field at `pointer` (relative to the object) is written, or its closest written ancestor.
    pub fn location_of(&self, pointer: &str) -> Location {
        let Position { line, column } = if self.source.rendered_for.is_some() {
            Position::default()
        } else {
            self.source
                .document
                .position_of(&format!("{}{}", self.source.pointer, pointer))
        };
        Location {
            file: self.source.file.clone(),
            line,
            column,
            rendered_for: self.source.rendered_for.clone(),
        }
    }
}

/// Builds a JSON pointer from path segments.
pub fn pointer(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", escape_pointer_token(s)))
        .collect()
}
