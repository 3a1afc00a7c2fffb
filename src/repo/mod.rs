//! Loading a tree of Kubernetes YAML (and the Helm charts its Argo CD Applications use) into objects with exact source positions.

pub mod chart;
pub mod helm;
pub mod hooks;
pub mod loader;
pub mod object;
pub mod schema;
pub mod template_reads;
pub mod yaml;

use std::collections::HashMap;
use std::path::PathBuf;

pub use loader::{LoadOptions, Loaded, load, load_all, load_str};
pub use object::{Location, Object, ObjectKey};

/// One thing wrong with the input, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct LoadProblem {
    pub location: Location,
    pub message: String,
}

/// Why a tree could not be loaded: every problem found, in file order.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", render_problems(.0))]
    Problems(Vec<LoadProblem>),
}

fn render_problems(problems: &[LoadProblem]) -> String {
    let mut text = format!(
        "the input has {} problem(s); nothing was done:",
        problems.len()
    );
    for problem in problems {
        text.push_str(&format!("\n  {}: {}", problem.location, problem.message));
    }
    text
}

/// Positions of objects in `Tree::objects` by (group, kind, namespace).
type KindIndex = HashMap<(String, String, Option<String>), Vec<usize>>;

/// Every object of a tree, in the order read (files sorted by path, documents in file order).
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub roots: Vec<PathBuf>,
    pub objects: Vec<Object>,
    /// YAML files holding no Kubernetes object (Helm values, CI config, ...), not read further.
    pub skipped: Vec<PathBuf>,
    /// Helm chart folders found (rendered only through the Applications that use them).
    pub charts: Vec<PathBuf>,
    /// Objects by (group, kind, namespace), built on first use: rules that look up related
    /// objects (a workload's autoscaler, PDBs, Services) stay linear in the tree's size.
    index: std::sync::OnceLock<KindIndex>,
}

impl Tree {
    pub fn new(roots: Vec<PathBuf>, objects: Vec<Object>) -> Self {
        Self {
            roots,
            objects,
            ..Self::default()
        }
    }

    /// Objects of that group and kind in `namespace` (None: without a namespace).
    pub fn in_namespace<'a>(
        &'a self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        let index = self.index.get_or_init(|| {
            let mut index = KindIndex::new();
            for (position, object) in self.objects.iter().enumerate() {
                let key = (
                    object.group().to_string(),
                    object.kind().to_string(),
                    object.namespace().map(str::to_string),
                );
                index.entry(key).or_default().push(position);
            }
            index
        });
        let key = (
            group.to_string(),
            kind.to_string(),
            namespace.map(str::to_string),
        );
        index
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&position| &self.objects[position])
    }

    pub fn of_kind<'a>(
        &'a self,
        group: &'a str,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.is(group, kind))
    }

    /// The object of that group and kind named `name` in `namespace` (None for cluster-scoped).
    pub fn find(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Object> {
        self.objects
            .iter()
            .filter(|o| o.is(group, kind))
            .find(|o| o.name() == name && (namespace.is_none() || o.namespace() == namespace))
    }
}
