//! Helm values that Helm would silently ignore (keys the chart does not have, with the nearest one it has) and values the chart's values.schema.json refuses, at the file:line that sets them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::argocd::{local_repositories, normalize_repo, sources};
use super::{LintContext, subject};
use crate::repo::chart::{Chart, read_chart};
use crate::repo::helm::{plan_render, tidy};
use crate::repo::template_reads::scan;
use crate::repo::yaml::{Position, escape_pointer_token, parse_documents};
use crate::repo::{Location, Object, Tree};
use crate::report::{Finding, RuleInfo, rule};

const FAMILY: &str = "helm-values";

rule!(
    UNKNOWN_KEY,
    FAMILY,
    "helm-values-unknown-key",
    Warning,
    "every key of a Helm values file is one the chart has (in its values.yaml or a subchart's, in its values schema, or read by its templates), or sits under a key the chart takes whole",
    "rename the key to the one the chart has (the message names the nearest), or remove it: Helm ignores it without a word (`helm show values <chart>` lists the chart's keys)"
);
rule!(
    SCHEMA,
    FAMILY,
    "helm-values-schema",
    Error,
    "the values a chart gets (its defaults merged with every values file, as Helm merges them) match the chart's values.schema.json and its subcharts'",
    "fix the value at the place shown as the schema says: helm template, install and Argo CD refuse these values"
);
rule!(
    NOT_CHECKED,
    FAMILY,
    "helm-values-not-checked",
    Info,
    "the chart of every values file can be read offline, so its values are checked",
    "make the chart readable offline: `helm pull <chart> --repo <url> --version <version> --untar --untardir DIR` and lint with --chart-dir DIR (or TACOS_CHART_DIR)"
);

pub const RULES: &[RuleInfo] = &[UNKNOWN_KEY, SCHEMA, NOT_CHECKED];

/// A values file a tacos phase gives a pinned upstream chart (not an Application of the tree).
#[derive(Debug, Clone)]
pub struct PinnedValues {
    /// What the finding is about, e.g. `phase argocd`.
    pub subject: String,
    /// The values file.
    pub values: PathBuf,
    /// The chart (a folder or an archive), or why it cannot be had offline.
    pub chart: Result<PathBuf, Unavailable>,
    /// What the phase installs and where, e.g. `chart argo-cd 9.1.4 into namespace argocd`: the
    /// tree does not hold those objects.
    pub installs: String,
    pub namespace: String,
}

/// Why a chart cannot be read offline, and what makes it readable.
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub reason: String,
    pub remedy: String,
}

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut checker = Checker::default();
    for application in context.tree.of_kind("argoproj.io", "Application") {
        checker.application(context, application);
    }
    for pinned in &context.settings.pinned_values {
        checker.pinned(pinned);
    }
    let mut findings = checker.findings;
    // Two Applications with one values file and chart would say the same twice.
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.rule, f.location.clone(), f.message.clone())));
    findings
}

/// Charts read once each, and the findings so far.
#[derive(Default)]
struct Checker {
    charts: HashMap<PathBuf, Result<(Chart, Known), String>>,
    findings: Vec<Finding>,
}

impl Checker {
    fn application(&mut self, context: &LintContext<'_>, application: &Object) {
        let all_sources = sources(application);
        if let Some(render) = plan_render(context.tree, application) {
            let Some((pointer, source)) = all_sources.iter().find(|(_, s)| s["path"].is_string())
            else {
                return;
            };
            let mut layers = Vec::new();
            for file in render.value_files.iter().filter(|f| f.is_file()) {
                self.file_layer(&subject(application), file, &mut layers);
            }
            layers.extend(inline_layers(application, pointer, source));
            self.check(&subject(application), &render.chart_dir, &layers);
            return;
        }
        let Some((pointer, source)) = all_sources.iter().find(|(_, s)| s["chart"].is_string())
        else {
            return;
        };
        let mut layers = Vec::new();
        for file in ref_value_files(context.tree, &all_sources, source) {
            self.file_layer(&subject(application), &file, &mut layers);
        }
        layers.extend(inline_layers(application, pointer, source));
        if layers.is_empty() {
            return;
        }
        let name = source["chart"].as_str().unwrap_or_default();
        let version = source["targetRevision"].as_str().unwrap_or_default();
        match find_chart(&context.settings.chart_dirs, name, version) {
            Some(chart) => self.check(&subject(application), &chart, &layers),
            None => {
                let repo = source["repoURL"].as_str().unwrap_or_default();
                self.findings.push(
                    Finding::new(
                        &NOT_CHECKED,
                        subject(application),
                        Some(application.location_of(&format!("{pointer}/chart"))),
                        format!(
                            "the values for chart {name} {version} were not checked: the chart is not in --chart-dir or the chart cache ({})",
                            search_list(&context.settings.chart_dirs)
                        ),
                    )
                    .with_remedy(pull_advice(repo, name, version)),
                );
            }
        }
    }

    fn pinned(&mut self, pinned: &PinnedValues) {
        let mut layers = Vec::new();
        self.file_layer(&pinned.subject, &pinned.values, &mut layers);
        match &pinned.chart {
            Ok(chart) => self.check(&pinned.subject, chart, &layers),
            Err(unavailable) => {
                let start = layers
                    .first()
                    .map_or(Position { line: 1, column: 1 }, |l| l.start);
                self.findings.push(
                    Finding::new(
                        &NOT_CHECKED,
                        pinned.subject.clone(),
                        Some(at(&pinned.values, start)),
                        format!(
                            "the values in {} were not checked: {}",
                            tidy(&pinned.values).display(),
                            unavailable.reason
                        ),
                    )
                    .with_remedy(unavailable.remedy.clone()),
                );
            }
        }
    }

    /// The values file as a layer, or an info finding saying why it was not checked.
    fn file_layer(&mut self, subject: &str, file: &Path, layers: &mut Vec<Layer>) {
        match Layer::from_file(file) {
            Ok(layer) => layers.push(layer),
            Err((position, reason)) => self.findings.push(Finding::new(
                &NOT_CHECKED,
                subject,
                Some(at(file, position)),
                format!(
                    "the values in {} were not checked: {reason}",
                    file.display()
                ),
            )),
        }
    }

    fn check(&mut self, subject: &str, chart_path: &Path, layers: &[Layer]) {
        if layers.is_empty() {
            return;
        }
        let loaded = self
            .charts
            .entry(chart_path.to_path_buf())
            .or_insert_with(|| {
                read_chart(chart_path)
                    .map(|chart| {
                        let known = Known::of_chart(&chart);
                        (chart, known)
                    })
                    .map_err(|e| e.to_string())
            });
        let (chart, known) = match loaded {
            Ok(loaded) => &*loaded,
            Err(reason) => {
                let reason = reason.clone();
                let first = &layers[0];
                self.findings.push(Finding::new(
                    &NOT_CHECKED,
                    subject,
                    Some(at(&first.file, first.start)),
                    format!("the values were not checked: {reason}"),
                ));
                return;
            }
        };
        for layer in layers {
            let mut unknown = Vec::new();
            walk(known, &layer.value, "", &label(chart), &mut unknown);
            for key in unknown {
                self.findings.push(Finding::new(
                    &UNKNOWN_KEY,
                    subject,
                    Some(at(
                        &layer.file,
                        layer.position(&key.pointer).unwrap_or(layer.start),
                    )),
                    key.message(),
                ));
            }
        }
        let mut merged = chart.values.clone();
        for layer in layers {
            coalesce(&mut merged, &layer.value);
        }
        let mut problems = Vec::new();
        schema_problems(chart, &merged, "", &mut problems);
        for problem in problems {
            let (rule, location) = match &problem.pointer {
                Some(pointer) => (&SCHEMA, locate(layers, pointer)),
                None => (&NOT_CHECKED, at(&layers[0].file, layers[0].start)),
            };
            self.findings
                .push(Finding::new(rule, subject, Some(location), problem.message));
        }
    }
}

fn at(file: &Path, position: Position) -> Location {
    Location {
        file: tidy(file),
        line: position.line,
        column: position.column,
        rendered_for: None,
    }
}

fn label(chart: &Chart) -> String {
    format!("{} {}", chart.name, chart.version)
}

/// `$ref/...` value files of a source whose chart is not in the tree, when the `ref:` source is a
/// repository this tree is a checkout of. Other value files are the chart's own.
fn ref_value_files(tree: &Tree, all_sources: &[(String, &Value)], source: &Value) -> Vec<PathBuf> {
    let local = local_repositories(tree);
    source["helm"]["valueFiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|file| {
            let (reference, rest) = file.strip_prefix('$')?.split_once('/')?;
            let repo = all_sources
                .iter()
                .find(|(_, s)| s["ref"].as_str() == Some(reference))?
                .1["repoURL"]
                .as_str()?;
            Some(local.get(&normalize_repo(repo))?.join(rest))
        })
        .filter(|path| path.is_file())
        .collect()
}

/// A chart not in the tree: `<dir>/<name>/` (of that version), `<dir>/<name>-<version>.tgz`
/// (as `helm pull` names it) or `<dir>/<name>-<version>-<digest>.tgz` (tacos's chart cache).
fn find_chart(dirs: &[PathBuf], name: &str, version: &str) -> Option<PathBuf> {
    let exact = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    for dir in dirs {
        let folder = dir.join(name);
        if folder.join("Chart.yaml").is_file()
            && (!exact
                || read_chart(&folder).is_ok_and(|c| c.version == version.trim_start_matches('v')))
        {
            return Some(folder);
        }
        if !exact {
            continue;
        }
        let plain = dir.join(format!("{name}-{version}.tgz"));
        if plain.is_file() {
            return Some(plain);
        }
        let prefix = format!("{name}-{version}-");
        let cached = std::fs::read_dir(dir).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tgz"))
            })
        });
        if cached.is_some() {
            return cached;
        }
    }
    None
}

fn search_list(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "none given".into();
    }
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pull_advice(repo: &str, name: &str, version: &str) -> String {
    let version = if version.is_empty() {
        String::new()
    } else {
        format!(" --version {version}")
    };
    let pull = if repo.starts_with("http://") || repo.starts_with("https://") {
        format!("helm pull {name} --repo {repo}{version}")
    } else {
        format!(
            "helm pull oci://{}/{name}{version}",
            repo.trim_start_matches("oci://").trim_end_matches('/')
        )
    };
    format!(
        "make the chart readable offline: `{pull} --untar --untardir DIR`, then lint with --chart-dir DIR (or TACOS_CHART_DIR=DIR)"
    )
}

/// One source of values, in Helm's order of precedence (later ones win): a values file, or an
/// Application's `helm.values` / `helm.valuesObject`.
#[derive(Debug, Clone)]
struct Layer {
    value: Value,
    file: PathBuf,
    /// Where each node of `value` (by JSON pointer inside it) is written in `file`.
    positions: HashMap<String, Position>,
    start: Position,
}

impl Layer {
    fn from_file(file: &Path) -> Result<Layer, (Position, String)> {
        let start = Position { line: 1, column: 1 };
        let text =
            std::fs::read_to_string(file).map_err(|e| (start, format!("cannot read it: {e}")))?;
        let documents = parse_documents(&text).map_err(|e| {
            (
                e.position(),
                format!("it is not valid YAML ({})", e.message),
            )
        })?;
        let Some(document) = documents.into_iter().next() else {
            return Ok(Layer {
                value: Value::Object(Map::new()),
                file: file.to_path_buf(),
                positions: HashMap::new(),
                start,
            });
        };
        if !document.value.is_object() {
            return Err((document.start, "its values are not a mapping".into()));
        }
        Ok(Layer {
            positions: document.positions().clone(),
            value: document.value,
            file: file.to_path_buf(),
            start: document.start,
        })
    }

    fn position(&self, pointer: &str) -> Option<Position> {
        self.positions.get(pointer).copied()
    }

    /// How many tokens of `pointer` this layer writes, and where the deepest of them is.
    fn nearest(&self, pointer: &str) -> (usize, Position) {
        let mut current = pointer;
        loop {
            if current.is_empty() {
                return (0, self.start);
            }
            if let Some(position) = self.position(current) {
                return (current.matches('/').count(), position);
            }
            current = &current[..current.rfind('/').unwrap_or(0)];
        }
    }
}

/// The `helm.values` (a YAML string) and `helm.valuesObject` of an Application's chart source,
/// in that order (Argo CD lets valuesObject win).
fn inline_layers(application: &Object, source_pointer: &str, source: &Value) -> Vec<Layer> {
    let mut layers = Vec::new();
    let file = application.source.file.clone();
    let base = format!("{}{source_pointer}/helm", application.source.pointer);
    if let Some(text) = source["helm"]["values"].as_str() {
        let key = application.location_of(&format!("{source_pointer}/helm/values"));
        if let Ok(documents) = parse_documents(text)
            && let Some(document) = documents.into_iter().next()
            && document.value.is_object()
        {
            let shift = block_scalar_shift(&file, key.line);
            let place = |p: Position| match shift {
                Some(indent) => Position {
                    line: key.line + p.line,
                    column: p.column + indent,
                },
                None => Position {
                    line: key.line,
                    column: key.column,
                },
            };
            layers.push(Layer {
                positions: document
                    .positions()
                    .iter()
                    .map(|(pointer, p)| (pointer.clone(), place(*p)))
                    .collect(),
                value: document.value,
                file: file.clone(),
                start: Position {
                    line: key.line,
                    column: key.column,
                },
            });
        }
    }
    if source["helm"]["valuesObject"].is_object() {
        let prefix = format!("{base}/valuesObject");
        let document = &application.source.document;
        layers.push(Layer {
            value: source["helm"]["valuesObject"].clone(),
            file,
            positions: document
                .positions()
                .iter()
                .filter_map(|(pointer, p)| {
                    let rest = pointer.strip_prefix(&prefix)?;
                    (rest.is_empty() || rest.starts_with('/')).then(|| (rest.to_string(), *p))
                })
                .collect(),
            start: document.position_of(&prefix),
        });
    }
    layers
}

/// For `values: |` on line `key_line` of `file`: the indentation of the block's text (what a
/// column inside the string is shifted by). None when the string is not a block scalar.
fn block_scalar_shift(file: &Path, key_line: usize) -> Option<usize> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut lines = text.lines().skip(key_line.checked_sub(1)?);
    let (_, after) = lines.next()?.split_once(':')?;
    if !after.trim_start().starts_with(['|', '>']) {
        return None;
    }
    let first = lines.find(|l| !l.trim().is_empty())?;
    Some(first.len() - first.trim_start().len())
}

/// Where a JSON pointer into the merged values is written: the last layer that writes it, else
/// the layer that writes most of it.
fn locate(layers: &[Layer], pointer: &str) -> Location {
    let mut best: Option<(usize, &Layer, Position)> = None;
    for layer in layers {
        let (depth, position) = layer.nearest(pointer);
        if best.as_ref().is_none_or(|(d, _, _)| depth >= *d) {
            best = Some((depth, layer, position));
        }
    }
    let (_, layer, position) = best.expect("a check has at least one layer");
    at(&layer.file, position)
}

/// The keys a chart's values may have: a tree of known keys, with the places where anything goes.
#[derive(Debug, Clone, Default, PartialEq)]
struct Known {
    keys: BTreeMap<String, Known>,
    /// Everything beneath is accepted (a default that is not a non-empty mapping, or a value the
    /// templates take whole).
    open: bool,
    /// What the items of a list hold, when its default's items are mappings.
    items: Option<Box<Known>>,
    /// The chart whose values start here (the chart itself and each subchart), for messages.
    chart: Option<String>,
}

impl Known {
    /// From a chart's defaults: mappings by their keys, an empty mapping or a scalar open, a list
    /// of mappings by the keys its items have between them.
    fn of_defaults(value: &Value) -> Known {
        match value {
            Value::Object(map) if !map.is_empty() => Known {
                keys: map
                    .iter()
                    .map(|(k, v)| (k.clone(), Known::of_defaults(v)))
                    .collect(),
                ..Known::default()
            },
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                let mut union = Known::default();
                for item in items {
                    union.merge(Known::of_defaults(item));
                }
                Known {
                    items: Some(Box::new(union)),
                    ..Known::default()
                }
            }
            _ => Known {
                open: true,
                ..Known::default()
            },
        }
    }

    /// The properties a JSON schema declares (without following `$ref`).
    fn of_schema(schema: &Value) -> Known {
        let mut known = Known::default();
        if let Some(properties) = schema["properties"].as_object() {
            for (key, property) in properties {
                known.keys.insert(key.clone(), Known::of_schema(property));
            }
        }
        if schema["items"].is_object() {
            known.items = Some(Box::new(Known::of_schema(&schema["items"])));
        }
        if known.keys.is_empty() && known.items.is_none() {
            known.open = true;
        }
        known
    }

    /// Adds what a schema declares: keys the defaults lack (open where the schema says no more),
    /// without opening what the defaults already spell out.
    fn declare(&mut self, other: Known) {
        for (key, known) in other.keys {
            match self.keys.get_mut(&key) {
                Some(existing) => existing.declare(known),
                None => {
                    self.keys.insert(key, known);
                }
            }
        }
        match (&mut self.items, other.items) {
            (Some(mine), Some(theirs)) => mine.declare(*theirs),
            (mine @ None, Some(theirs)) => *mine = Some(theirs),
            _ => {}
        }
    }

    fn merge(&mut self, other: Known) {
        self.open |= other.open;
        for (key, known) in other.keys {
            match self.keys.get_mut(&key) {
                Some(existing) => existing.merge(known),
                None => {
                    self.keys.insert(key, known);
                }
            }
        }
        match (&mut self.items, other.items) {
            (Some(mine), Some(theirs)) => mine.merge(*theirs),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        if self.chart.is_none() {
            self.chart = other.chart;
        }
    }

    /// Adds a path the templates read; `open` when they take it whole.
    fn insert(&mut self, path: &[String], open: bool) {
        let Some((first, rest)) = path.split_first() else {
            self.open |= open;
            return;
        };
        let child = self.keys.entry(first.clone()).or_default();
        if rest.is_empty() && !open && child.keys.is_empty() && child.items.is_none() {
            // A key read as a value (nothing of it is known beyond its name): anything goes there.
            child.open = true;
        }
        child.insert(rest, open);
    }

    fn of_chart(chart: &Chart) -> Known {
        let mut known = Known::of_defaults(&chart.values);
        known.open = false;
        if let Some(schema) = &chart.schema {
            known.declare(Known::of_schema(schema));
        }
        let reads = scan(chart.templates.iter().map(|(_, text)| text.as_str()));
        for path in &reads.read {
            known.insert(path, false);
        }
        for path in reads.wholesale.iter().filter(|p| !p.is_empty()) {
            known.insert(path, true);
        }
        known.keys.entry("global".into()).or_default().open = true;
        for dependency in &chart.dependencies {
            for condition in &dependency.conditions {
                let path: Vec<String> = condition.split('.').map(str::to_string).collect();
                known.insert(&path, true);
            }
            for tag in &dependency.tags {
                known.insert(&["tags".to_string(), tag.clone()], true);
            }
        }
        let mut vendored = Vec::new();
        for subchart in &chart.subcharts {
            let aliases: Vec<&str> = chart
                .dependencies
                .iter()
                .filter(|d| d.name == subchart.name)
                .map(|d| d.key())
                .collect();
            let keys = if aliases.is_empty() {
                vec![subchart.name.as_str()]
            } else {
                aliases
            };
            for key in keys {
                let mut scope = Known::of_chart(subchart);
                if let Some(mut parent) = known.keys.remove(key) {
                    // The parent taking the whole section (`index .Values "sub"`) says nothing
                    // of the subchart's own keys.
                    parent.open = false;
                    parent.chart = None;
                    scope.merge(parent);
                }
                known.keys.insert(key.to_string(), scope);
                vendored.push(key.to_string());
            }
        }
        for dependency in &chart.dependencies {
            if !vendored.iter().any(|k| k == dependency.key()) {
                // Not in charts/ (no `helm dependency build` yet): its keys cannot be known.
                known
                    .keys
                    .entry(dependency.key().to_string())
                    .or_default()
                    .open = true;
            }
        }
        known.chart = Some(label(chart));
        known
    }
}

/// A key of a values file the chart does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UnknownKey {
    pointer: String,
    path: String,
    chart: String,
    suggestion: Option<String>,
    siblings: Vec<String>,
}

impl UnknownKey {
    fn message(&self) -> String {
        let hint = match &self.suggestion {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None if self.siblings.is_empty() => "the chart has no keys there".into(),
            None => {
                let mut shown: Vec<&str> =
                    self.siblings.iter().map(String::as_str).take(8).collect();
                if self.siblings.len() > shown.len() {
                    shown.push("...");
                }
                format!("the keys there are {}", shown.join(", "))
            }
        };
        format!(
            "`{}` is not a value of chart {}, so helm ignores it; {hint}",
            self.path, self.chart
        )
    }
}

fn walk(known: &Known, value: &Value, pointer: &str, chart: &str, out: &mut Vec<UnknownKey>) {
    let chart = known.chart.as_deref().unwrap_or(chart);
    if known.open {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", escape_pointer_token(key));
                match known.keys.get(key) {
                    Some(next) => walk(next, child, &child_pointer, chart, out),
                    None => out.push(UnknownKey {
                        path: dotted(&child_pointer),
                        pointer: child_pointer,
                        chart: chart.to_string(),
                        suggestion: nearest(key, known.keys.keys()).map(str::to_string),
                        siblings: known.keys.keys().cloned().collect(),
                    }),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_known) = &known.items {
                for (index, item) in items.iter().enumerate() {
                    walk(item_known, item, &format!("{pointer}/{index}"), chart, out);
                }
            }
        }
        _ => {}
    }
}

/// `/a/b~1c/0` as `a.b/c[0]`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.chars().all(|c| c.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// The existing key nearest to `key` by edit distance, when it is near enough to be a slip.
fn nearest<'a>(key: &str, candidates: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    let lower = key.to_lowercase();
    let limit = (key.chars().count() / 3).max(2);
    candidates
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c.as_str())
}

/// Merges `layer` into `base` as Helm does: mappings key by key, anything else replaced, `null`
/// deleting the key.
fn coalesce(base: &mut Value, layer: &Value) {
    let (Value::Object(base), Value::Object(layer)) = (base, layer) else {
        return;
    };
    for (key, value) in layer {
        match (base.get_mut(key), value) {
            (_, Value::Null) => {
                base.remove(key);
            }
            (Some(existing @ Value::Object(_)), Value::Object(_)) => coalesce(existing, value),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A schema violation (at a pointer into the merged values) or a schema that could not be applied.
struct SchemaProblem {
    pointer: Option<String>,
    message: String,
}

/// Validates the values a chart gets against its schema, then each enabled subchart's values
/// (its defaults, the parent's section for it, the parent's globals) against the subchart's.
fn schema_problems(chart: &Chart, values: &Value, prefix: &str, out: &mut Vec<SchemaProblem>) {
    if let Some(schema) = &chart.schema {
        match jsonschema::validator_for(schema) {
            Ok(validator) => {
                for error in validator.iter_errors(values) {
                    let pointer = format!("{prefix}{}", error.instance_path().as_str());
                    let place = if pointer.is_empty() {
                        "the values do not".to_string()
                    } else {
                        format!("`{}` does not", dotted(&pointer))
                    };
                    out.push(SchemaProblem {
                        message: format!(
                            "{place} match the values schema of chart {}: {error}",
                            label(chart)
                        ),
                        pointer: Some(pointer),
                    });
                }
            }
            Err(error) => out.push(SchemaProblem {
                pointer: None,
                message: format!(
                    "the values were not checked against the values.schema.json of chart {}: it cannot be applied offline ({error})",
                    label(chart)
                ),
            }),
        }
    }
    for subchart in &chart.subcharts {
        let keys: Vec<&str> = {
            let aliases: Vec<&str> = chart
                .dependencies
                .iter()
                .filter(|d| d.name == subchart.name)
                .map(|d| d.key())
                .collect();
            if aliases.is_empty() {
                vec![subchart.name.as_str()]
            } else {
                aliases
            }
        };
        for key in keys {
            if !enabled(chart, key, values) {
                continue;
            }
            let mut scope = subchart.values.clone();
            coalesce(&mut scope, &values[key]);
            if values["global"].is_object() {
                let mut global = scope["global"].clone();
                if !global.is_object() {
                    global = Value::Object(Map::new());
                }
                coalesce(&mut global, &values["global"]);
                if let Some(map) = scope.as_object_mut() {
                    map.insert("global".into(), global);
                }
            }
            let prefix = format!("{prefix}/{}", escape_pointer_token(key));
            schema_problems(subchart, &scope, &prefix, out);
        }
    }
}

/// Whether the dependency under `key` is on: the first of its conditions the values set, else on.
fn enabled(chart: &Chart, key: &str, values: &Value) -> bool {
    let Some(dependency) = chart.dependencies.iter().find(|d| d.key() == key) else {
        return true;
    };
    dependency
        .conditions
        .iter()
        .find_map(|condition| {
            condition
                .split('.')
                .try_fold(values, |v, k| v.get(k))
                .and_then(Value::as_bool)
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::LintSettings;
    use crate::repo::load_str;
    use crate::repo::test_files::write;
    use crate::report::Severity;

    /// A repository with chart `charts/web` (a subchart `cache`, aliased `redis`), the values
    /// file `values/web.yaml`, and an Application that gives the chart that file.
    fn repository(values: &str, application_helm: &str) -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n- name: cache\n  alias: redis\n  condition: redis.enabled\n",
        );
        write(
            root,
            "charts/web/values.yaml",
            "replicaCount: 1\nimage:\n  repository: web\n  tag: v1\npodAnnotations: {}\nresources:\n  limits: {cpu: 1}\nports:\n- name: http\n  port: 80\nextra: null\n",
        );
        write(
            root,
            "charts/web/templates/deployment.yaml",
            "replicas: {{ .Values.replicaCount }}\n{{ toYaml .Values.resources }}\n{{ .Values.image.digest }}\n{{ if .Values.debug.enabled }}{{ end }}\n",
        );
        write(
            root,
            "charts/web/charts/cache/Chart.yaml",
            "apiVersion: v2\nname: cache\nversion: 2.0.0\n",
        );
        write(
            root,
            "charts/web/charts/cache/values.yaml",
            "size: 1\nauth:\n  enabled: true\n",
        );
        write(root, "values/web.yaml", values);
        let application = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: web, namespace: argocd}}\nspec:\n  source:\n    repoURL: https://github.com/example/gitops.git\n    path: charts/web\n    helm:\n      valueFiles: [../../values/web.yaml]\n{application_helm}  destination: {{server: https://kubernetes.default.svc, namespace: web}}\n"
        );
        write(root, "apps/application.yaml", &application);
        let mut tree = load_str(
            &root.join("apps/application.yaml").display().to_string(),
            &application,
        )
        .unwrap();
        tree.roots = vec![root.join("apps")];
        (dir, tree)
    }

    fn lint(tree: &Tree, settings: LintSettings) -> Vec<Finding> {
        check(&LintContext { tree, settings })
    }

    /// (rule, file name, line, message) of each finding, by line.
    fn summary(findings: &[Finding]) -> Vec<(&'static str, String, usize, String)> {
        let mut summary: Vec<_> = findings
            .iter()
            .map(|f| {
                let location = f.location.as_ref().unwrap();
                (
                    f.rule,
                    location
                        .file
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .to_string(),
                    location.line,
                    f.message.clone(),
                )
            })
            .collect();
        summary.sort_by_key(|s| s.2);
        summary
    }

    #[test]
    fn keys_the_chart_has_reads_or_takes_whole_are_clean() {
        let (_dir, tree) = repository(
            "replicaCount: 3\nimage: {tag: v2, digest: sha256:abc}\npodAnnotations: {a: b}\nresources:\n  requests: {cpu: 1}\nports:\n- {name: grpc, port: 81}\nextra: {anything: 1}\ndebug: {enabled: true}\nglobal: {anything: 1}\nredis:\n  enabled: false\n  size: 2\n  auth: {enabled: false}\n",
            "",
        );
        assert_eq!(lint(&tree, LintSettings::default()), vec![]);
    }

    #[test]
    fn an_unknown_key_is_a_warning_at_its_line_with_the_nearest_key() {
        let (_dir, tree) = repository(
            "replicaCont: 3\nimage:\n  tga: v2\nports:\n- name: grpc\n  prot: 81\nredis:\n  auht: {enabled: false}\nzzzzzzzz: 1\n",
            "",
        );
        let findings = lint(&tree, LintSettings::default());
        assert!(findings.iter().all(|f| f.severity == Severity::Warning));
        let summary = summary(&findings);
        let lines: Vec<(usize, &str)> = summary.iter().map(|s| (s.2, s.3.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (
                    1,
                    "`replicaCont` is not a value of chart web 1.0.0, so helm ignores it; did you mean `replicaCount`?"
                ),
                (
                    3,
                    "`image.tga` is not a value of chart web 1.0.0, so helm ignores it; did you mean `tag`?"
                ),
                (
                    6,
                    "`ports[0].prot` is not a value of chart web 1.0.0, so helm ignores it; did you mean `port`?"
                ),
                (
                    8,
                    "`redis.auht` is not a value of chart cache 2.0.0, so helm ignores it; did you mean `auth`?"
                ),
                (
                    9,
                    "`zzzzzzzz` is not a value of chart web 1.0.0, so helm ignores it; the keys there are debug, extra, global, image, podAnnotations, ports, redis, replicaCount, ..."
                ),
            ],
        );
        assert!(
            summary
                .iter()
                .all(|s| s.0 == "helm-values-unknown-key" && s.1 == "web.yaml")
        );
    }

    #[test]
    fn inline_values_and_values_object_are_checked_at_their_lines_in_the_application() {
        let (_dir, tree) = repository(
            "replicaCount: 1\n",
            "      values: |\n        replicaCout: 2\n      valuesObject:\n        imag: {tag: v3}\n",
        );
        let summary = summary(&lint(&tree, LintSettings::default()));
        let places: Vec<(String, usize)> = summary.iter().map(|s| (s.1.clone(), s.2)).collect();
        assert_eq!(
            places,
            vec![
                ("application.yaml".to_string(), 11),
                ("application.yaml".to_string(), 13)
            ],
            "{summary:?}"
        );
        assert!(summary[0].3.contains("`replicaCout`"), "{summary:?}");
        assert!(
            summary[1].3.contains("did you mean `image`?"),
            "{summary:?}"
        );
    }

    #[test]
    fn the_schema_is_applied_to_the_merged_values_at_the_line_that_sets_them() {
        let (dir, tree) = repository("replicaCount: many\nimage:\n  tag: v2\n", "");
        write(
            dir.path(),
            "charts/web/values.schema.json",
            r#"{"type": "object", "required": ["image"], "properties": {"replicaCount": {"type": "integer"}, "image": {"type": "object", "required": ["repository"], "properties": {"tag": {"type": "string", "pattern": "^v"}}}}}"#,
        );
        write(
            dir.path(),
            "charts/web/charts/cache/values.schema.json",
            r#"{"properties": {"size": {"type": "integer", "maximum": 3}}}"#,
        );
        let findings = lint(&tree, LintSettings::default());
        let first = summary(&findings);
        assert_eq!(
            first.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>(),
            vec![("helm-values-schema", 1)],
            "{first:?}"
        );
        assert!(
            first[0]
                .3
                .contains("`replicaCount` does not match the values schema of chart web 1.0.0")
                && first[0].3.contains("\"many\" is not of type \"integer\""),
            "{first:?}"
        );
        assert_eq!(findings[0].severity, Severity::Error);

        // A subchart's section is checked against the subchart's schema; a disabled one is not.
        std::fs::write(dir.path().join("values/web.yaml"), "redis:\n  size: 5\n").unwrap();
        let summary = summary(&lint(&tree, LintSettings::default()));
        assert_eq!(
            summary.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>(),
            vec![("helm-values-schema", 2)],
            "{summary:?}"
        );
        assert!(summary[0].3.contains("chart cache 2.0.0"), "{summary:?}");
        std::fs::write(
            dir.path().join("values/web.yaml"),
            "redis:\n  enabled: false\n  size: 5\n",
        )
        .unwrap();
        assert_eq!(lint(&tree, LintSettings::default()), vec![]);
    }

    const REMOTE_APP: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  source:
    repoURL: https://charts.example.com
    chart: web
    targetRevision: 1.0.0
    helm:
      valuesObject:
        replicaCont: 2
  destination: {server: https://kubernetes.default.svc, namespace: web}
"#;

    #[test]
    fn a_repository_chart_is_read_from_the_chart_dirs_or_reported_as_not_checked() {
        let tree = load_str("app.yaml", REMOTE_APP).unwrap();
        let findings = lint(&tree, LintSettings::default());
        assert_eq!(
            summary(&findings)
                .iter()
                .map(|s| (s.0, s.2))
                .collect::<Vec<_>>(),
            vec![("helm-values-not-checked", 7)]
        );
        assert!(
            findings[0]
                .remedy
                .contains("helm pull web --repo https://charts.example.com --version 1.0.0"),
            "{findings:?}"
        );

        let charts = tempfile::tempdir().unwrap();
        write(
            charts.path(),
            "web/Chart.yaml",
            "name: web\nversion: 1.0.0\n",
        );
        write(charts.path(), "web/values.yaml", "replicaCount: 1\n");
        let settings = LintSettings {
            chart_dirs: vec![charts.path().to_path_buf()],
            ..LintSettings::default()
        };
        let summary = summary(&lint(&tree, settings));
        assert_eq!(
            summary.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>(),
            vec![("helm-values-unknown-key", 11)],
            "{summary:?}"
        );
    }

    #[test]
    fn pinned_values_are_checked_against_their_chart_or_reported_as_not_checked() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "chart/Chart.yaml",
            "name: argo\nversion: 9.0.0\n",
        );
        write(dir.path(), "chart/values.yaml", "server:\n  replicas: 1\n");
        write(
            dir.path(),
            "values.yaml",
            "# pinned\nserver:\n  replica: 2\n",
        );
        let tree = Tree::default();
        let pinned = |chart| LintSettings {
            pinned_values: vec![PinnedValues {
                subject: "phase argocd".into(),
                values: dir.path().join("values.yaml"),
                chart,
                installs: "chart argo-cd 9.1.4 into namespace argocd".into(),
                namespace: "argocd".into(),
            }],
            ..LintSettings::default()
        };
        let findings = lint(&tree, pinned(Ok(dir.path().join("chart"))));
        assert_eq!(
            summary(&findings),
            vec![(
                "helm-values-unknown-key",
                "values.yaml".to_string(),
                3,
                "`server.replica` is not a value of chart argo 9.0.0, so helm ignores it; did you mean `replicas`?".to_string()
            )]
        );
        assert_eq!(findings[0].subject, "phase argocd");

        let findings = lint(
            &tree,
            pinned(Err(Unavailable {
                reason: "not in the cache".into(),
                remedy: "pull it".into(),
            })),
        );
        assert_eq!(
            summary(&findings)
                .iter()
                .map(|s| (s.0, s.2))
                .collect::<Vec<_>>(),
            vec![("helm-values-not-checked", 2)]
        );
    }

    #[test]
    fn helm_merges_maps_replaces_the_rest_and_null_deletes() {
        let mut base = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 1});
        coalesce(
            &mut base,
            &serde_json::json!({"a": {"c": 3}, "d": [2], "e": null}),
        );
        assert_eq!(base, serde_json::json!({"a": {"b": 1, "c": 3}, "d": [2]}));
    }

    #[test]
    fn the_suggestion_is_the_nearest_key_when_it_is_near() {
        let keys: Vec<String> = ["replicaCount", "replicas", "image"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(nearest("replicaCont", keys.iter()), Some("replicaCount"));
        assert_eq!(nearest("Replicas", keys.iter()), Some("replicas"));
        assert_eq!(nearest("storage", keys.iter()), None);
    }
}
