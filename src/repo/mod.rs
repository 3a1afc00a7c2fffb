//! Loading a tree of Kubernetes YAML (and the Helm charts its Argo CD Applications use) into objects with exact source positions.

pub mod chart;
pub mod helm;
pub mod hooks;
pub mod loader;
pub mod object;
pub mod schema;
pub mod template_reads;
#[cfg(test)]
pub mod test_files;
pub mod yaml;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

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

/// Positions in `Tree::objects` of one kind's objects, in tree order: all of them, and by namespace.
#[derive(Debug, Default)]
struct KindPositions {
    all: Vec<usize>,
    by_namespace: HashMap<String, Vec<usize>>,
    cluster_scoped: Vec<usize>,
}

/// Positions of objects in `Tree::objects` by group and kind, and by namespace.
#[derive(Debug, Default)]
struct TreeIndex {
    /// How many objects the tree held when the index was built.
    objects: usize,
    by_kind: HashMap<String, HashMap<String, KindPositions>>,
    by_namespace: HashMap<String, Vec<usize>>,
}

impl TreeIndex {
    fn of(objects: &[Object]) -> Self {
        let mut index = Self {
            objects: objects.len(),
            ..Self::default()
        };
        for (position, object) in objects.iter().enumerate() {
            let kind = index
                .by_kind
                .entry(object.group().to_string())
                .or_default()
                .entry(object.kind().to_string())
                .or_default();
            kind.all.push(position);
            match object.namespace() {
                Some(namespace) => {
                    kind.by_namespace
                        .entry(namespace.to_string())
                        .or_default()
                        .push(position);
                    index
                        .by_namespace
                        .entry(namespace.to_string())
                        .or_default()
                        .push(position);
                }
                None => kind.cluster_scoped.push(position),
            }
        }
        index
    }

    fn kind(&self, group: &str, kind: &str) -> Option<&KindPositions> {
        self.by_kind.get(group)?.get(kind)
    }
}

/// Every object of a tree, in the order read (files sorted by path, documents in file order).
#[derive(Debug, Default)]
pub struct Tree {
    pub roots: Vec<PathBuf>,
    pub objects: Vec<Object>,
    /// YAML files holding no Kubernetes object (Helm values, CI config, ...), not read further.
    pub skipped: Vec<PathBuf>,
    /// Helm chart folders found (rendered only through the Applications that use them).
    pub charts: Vec<PathBuf>,
    /// Objects by kind and namespace, built on first use (after loading: `objects` is not changed
    /// once rules run), so rules that look up related objects stay linear in the tree's size.
    index: std::sync::OnceLock<TreeIndex>,
    /// Indexes the layers above derive from `objects` (autoscalers by target, selectors by
    /// label), one per type, built on first use like `index`.
    derived: std::sync::Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Clone for Tree {
    /// A clone builds its own index when first asked: its objects may be changed before that.
    fn clone(&self) -> Self {
        Self {
            roots: self.roots.clone(),
            objects: self.objects.clone(),
            skipped: self.skipped.clone(),
            charts: self.charts.clone(),
            index: std::sync::OnceLock::new(),
            derived: Default::default(),
        }
    }
}

impl Tree {
    pub fn new(roots: Vec<PathBuf>, objects: Vec<Object>) -> Self {
        Self {
            roots,
            objects,
            ..Self::default()
        }
    }

    fn index(&self) -> &TreeIndex {
        let index = self.index.get_or_init(|| TreeIndex::of(&self.objects));
        debug_assert_eq!(
            index.objects,
            self.objects.len(),
            "objects were added or removed after the tree was indexed"
        );
        index
    }

    /// Forgets the index after `objects` changed (the loader adds rendered objects and drops
    /// duplicates after rendering looked objects up).
    fn objects_changed(&mut self) {
        self.index = std::sync::OnceLock::new();
        self.derived = Default::default();
    }

    /// The index of type `T` derived from this tree's objects, built by `build` on first use and
    /// shared after (so rules over every object can look related objects up in constant time).
    /// `build` must depend only on `objects`, which do not change once rules run.
    pub fn derived<T: Any + Send + Sync>(&self, build: impl FnOnce(&Tree) -> T) -> Arc<T> {
        let lookup = |tree: &Tree| {
            let derived = tree.derived.lock().unwrap_or_else(|p| p.into_inner());
            derived.get(&TypeId::of::<T>()).cloned()
        };
        if let Some(found) = lookup(self).and_then(|any| any.downcast::<T>().ok()) {
            return found;
        }
        // Built outside the lock: a build may ask for another derived index.
        let built: Arc<dyn Any + Send + Sync> = Arc::new(build(self));
        let mut derived = self.derived.lock().unwrap_or_else(|p| p.into_inner());
        let kept = derived.entry(TypeId::of::<T>()).or_insert(built).clone();
        kept.downcast::<T>()
            .unwrap_or_else(|_| unreachable!("the derived index is stored under its own type"))
    }

    fn at<'a>(&'a self, positions: &'a [usize]) -> impl Iterator<Item = &'a Object> + 'a {
        positions.iter().map(|&position| &self.objects[position])
    }

    /// Objects of that group and kind in `namespace` (None: without a namespace), in tree order.
    pub fn in_namespace<'a>(
        &'a self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        let positions = self
            .index()
            .kind(group, kind)
            .and_then(|kind| match namespace {
                Some(namespace) => kind.by_namespace.get(namespace),
                None => Some(&kind.cluster_scoped),
            })
            .map_or(&[][..], Vec::as_slice);
        self.at(positions)
    }

    /// Every object in `namespace`, of any kind, in tree order.
    pub fn all_in_namespace<'a>(
        &'a self,
        namespace: &str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        let positions = self
            .index()
            .by_namespace
            .get(namespace)
            .map_or(&[][..], Vec::as_slice);
        self.at(positions)
    }

    /// Objects of that group and kind, in tree order.
    pub fn of_kind<'a>(&'a self, group: &str, kind: &str) -> impl Iterator<Item = &'a Object> + 'a {
        let positions = self
            .index()
            .kind(group, kind)
            .map_or(&[][..], |kind| kind.all.as_slice());
        self.at(positions)
    }

    /// The first object of that group and kind named `name`, in `namespace`, or in any namespace
    /// when `namespace` is None.
    pub fn find(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Object> {
        match namespace {
            Some(namespace) => self
                .in_namespace(group, kind, Some(namespace))
                .find(|o| o.name() == name),
            None => self.of_kind(group, kind).find(|o| o.name() == name),
        }
    }
}
