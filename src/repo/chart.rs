//! Reads a Helm chart (a folder or a `.tgz` archive, its subcharts in `charts/` included) into its default values, values schema, templates and dependencies, without helm.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::yaml::parse_documents;

/// Files of a chart larger than this are not read (no chart's values or templates come close).
const MAX_CHART_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A chart as Helm loads it: what `.Values` starts from and what reads it.
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: String,
    pub version: String,
    /// The folder or archive it was read from (for a subchart: inside its parent's).
    pub origin: PathBuf,
    /// `values.yaml` (an empty mapping when the chart has none).
    pub values: Value,
    /// `values.schema.json`, when the chart has one.
    pub schema: Option<Value>,
    /// Every file under `templates/`, by its path in the chart, as text.
    pub templates: Vec<(String, String)>,
    /// `dependencies` of Chart.yaml.
    pub dependencies: Vec<Dependency>,
    /// The charts in `charts/` (folders and archives).
    pub subcharts: Vec<Chart>,
}

/// One entry of Chart.yaml's `dependencies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub alias: Option<String>,
    /// Value paths that switch it on or off (`condition: a.enabled,b.enabled`).
    pub conditions: Vec<String>,
    pub tags: Vec<String>,
}

impl Dependency {
    /// The key its values live under in the parent's values.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// Why a chart could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChartError {
    #[error("cannot read chart {}: {message}", .path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Files of a chart by their path inside it (`Chart.yaml`, `templates/x.yaml`, `charts/y.tgz`).
type Files = BTreeMap<String, Vec<u8>>;

/// Reads the chart folder or `.tgz` archive at `path`.
pub fn read_chart(path: &Path) -> Result<Chart, ChartError> {
    let files = if path.is_dir() {
        read_folder(path)?
    } else {
        let bytes = std::fs::read(path).map_err(|e| ChartError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        read_archive(&bytes, path)?
    };
    from_files(&files, path)
}

fn read_folder(root: &Path) -> Result<Files, ChartError> {
    let mut files = Files::new();
    for entry in walkdir::WalkDir::new(root).follow_links(true) {
        let entry = entry.map_err(|e| ChartError::Read {
            path: root.to_path_buf(),
            message: e.to_string(),
        })?;
        if !entry.file_type().is_file()
            || entry
                .metadata()
                .map_or(true, |m| m.len() > MAX_CHART_FILE_BYTES)
        {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        let bytes = std::fs::read(entry.path()).map_err(|e| ChartError::Read {
            path: entry.path().to_path_buf(),
            message: e.to_string(),
        })?;
        files.insert(relative.to_string_lossy().replace('\\', "/"), bytes);
    }
    Ok(files)
}

/// The files of a chart archive: a gzipped tar whose entries all sit under one `<name>/` folder.
fn read_archive(bytes: &[u8], origin: &Path) -> Result<Files, ChartError> {
    let bad = |message: String| ChartError::Read {
        path: origin.to_path_buf(),
        message: format!("not a chart archive (gzipped tar): {message}"),
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Files::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        if !entry.header().entry_type().is_file() || entry.size() > MAX_CHART_FILE_BYTES {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .replace('\\', "/");
        let Some((_, inside)) = path.split_once('/') else {
            continue;
        };
        let inside = inside.to_string();
        let mut contents = Vec::new();
        entry
            .read_to_end(&mut contents)
            .map_err(|e| bad(e.to_string()))?;
        files.insert(inside, contents);
    }
    if files.is_empty() {
        return Err(bad("it holds no files".into()));
    }
    Ok(files)
}

fn text<'a>(files: &'a Files, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    files.get(name).map(|bytes| String::from_utf8_lossy(bytes))
}

/// The first YAML document of a chart file as a value (Null when the file is empty), or why not.
fn yaml_file(files: &Files, name: &str, origin: &Path) -> Result<Option<Value>, ChartError> {
    let Some(text) = text(files, name) else {
        return Ok(None);
    };
    let documents = parse_documents(&text).map_err(|e| ChartError::Invalid {
        path: origin.join(name),
        message: format!("{}:{}: {}", e.position_line, e.position_column, e.message),
    })?;
    Ok(Some(
        documents
            .into_iter()
            .next()
            .map_or(Value::Null, |d| d.value),
    ))
}

fn from_files(files: &Files, origin: &Path) -> Result<Chart, ChartError> {
    let metadata = yaml_file(files, "Chart.yaml", origin)?.ok_or_else(|| ChartError::Invalid {
        path: origin.to_path_buf(),
        message: "no Chart.yaml: not a Helm chart".into(),
    })?;
    let values = match yaml_file(files, "values.yaml", origin)? {
        Some(Value::Object(map)) => Value::Object(map),
        Some(Value::Null) | None => Value::Object(Default::default()),
        Some(_) => {
            return Err(ChartError::Invalid {
                path: origin.join("values.yaml"),
                message: "the chart's values are not a mapping".into(),
            });
        }
    };
    let schema = match text(files, "values.schema.json") {
        Some(text) => Some(
            serde_json::from_str(&text).map_err(|e| ChartError::Invalid {
                path: origin.join("values.schema.json"),
                message: format!("{}:{}: not JSON: {e}", e.line(), e.column()),
            })?,
        ),
        None => None,
    };
    let templates = files
        .iter()
        .filter(|(name, _)| name.starts_with("templates/"))
        .map(|(name, bytes)| (name.clone(), String::from_utf8_lossy(bytes).to_string()))
        .collect();
    let dependencies = metadata["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(Dependency {
                name: d["name"].as_str()?.to_string(),
                alias: d["alias"].as_str().map(str::to_string),
                conditions: d["condition"]
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                tags: d["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect();
    Ok(Chart {
        name: scalar_text(&metadata["name"]),
        version: scalar_text(&metadata["version"]),
        origin: origin.to_path_buf(),
        values,
        schema,
        templates,
        dependencies,
        subcharts: subcharts(files, origin)?,
    })
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The charts in `charts/`: each folder with a Chart.yaml, and each `.tgz` archive.
fn subcharts(files: &Files, origin: &Path) -> Result<Vec<Chart>, ChartError> {
    let mut folders: BTreeMap<&str, Files> = BTreeMap::new();
    let mut charts = Vec::new();
    for (name, bytes) in files {
        let Some(rest) = name.strip_prefix("charts/") else {
            continue;
        };
        match rest.split_once('/') {
            Some((folder, inside)) => {
                folders
                    .entry(folder)
                    .or_default()
                    .insert(inside.to_string(), bytes.clone());
            }
            None if rest.ends_with(".tgz") => {
                let archive = origin.join(name);
                charts.push(from_files(&read_archive(bytes, &archive)?, &archive)?);
            }
            None => {}
        }
    }
    for (folder, inside) in folders {
        if inside.contains_key("Chart.yaml") {
            charts.push(from_files(&inside, &origin.join("charts").join(folder))?);
        }
    }
    Ok(charts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::test_files::write;

    /// A gzipped tar of `files` under `<top>/`, as `helm package` writes one.
    fn archive(top: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("{top}/{name}"), *bytes)
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_folder_chart_reads_with_its_dependencies_and_both_kinds_of_subchart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.2.3\ndependencies:\n- name: cache\n  alias: redis\n  condition: redis.enabled, global.redis\n  tags: [storage]\n- name: db\n",
        );
        write(root, "values.yaml", "replicaCount: 1\n");
        write(root, "values.schema.json", "{\"type\": \"object\"}");
        write(
            root,
            "templates/deployment.yaml",
            "{{ .Values.replicaCount }}",
        );
        write(
            root,
            "charts/cache/Chart.yaml",
            "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
        );
        write(root, "charts/cache/values.yaml", "size: 1\n");
        std::fs::write(
            root.join("charts/db-2.0.0.tgz"),
            archive(
                "db",
                &[
                    ("Chart.yaml", b"apiVersion: v2\nname: db\nversion: 2.0.0\n"),
                    ("values.yaml", b"port: 5432\n"),
                ],
            ),
        )
        .unwrap();

        let chart = read_chart(root).unwrap();
        assert_eq!(
            (chart.name.as_str(), chart.version.as_str()),
            ("web", "1.2.3")
        );
        assert_eq!(chart.values["replicaCount"], 1);
        assert!(chart.schema.is_some());
        assert_eq!(chart.templates.len(), 1);
        assert_eq!(chart.dependencies[0].key(), "redis");
        assert_eq!(
            chart.dependencies[0].conditions,
            ["redis.enabled", "global.redis"]
        );
        assert_eq!(chart.dependencies[0].tags, ["storage"]);
        assert_eq!(chart.dependencies[1].key(), "db");
        let mut subcharts: Vec<(String, Value)> = chart
            .subcharts
            .iter()
            .map(|c| (c.name.clone(), c.values.clone()))
            .collect();
        subcharts.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            subcharts,
            vec![
                ("cache".to_string(), serde_json::json!({"size": 1})),
                ("db".to_string(), serde_json::json!({"port": 5432})),
            ]
        );
    }

    #[test]
    fn an_archive_chart_reads_like_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web-1.0.0.tgz");
        std::fs::write(
            &path,
            archive(
                "web",
                &[
                    ("Chart.yaml", b"apiVersion: v2\nname: web\nversion: 1.0.0\n"),
                    ("values.yaml", b"image: {tag: v1}\n"),
                    ("templates/a.yaml", b"{{ .Values.image.tag }}"),
                ],
            ),
        )
        .unwrap();
        let chart = read_chart(&path).unwrap();
        assert_eq!(chart.name, "web");
        assert_eq!(chart.values["image"]["tag"], "v1");
        assert_eq!(chart.templates[0].0, "templates/a.yaml");
    }

    #[test]
    fn what_is_not_a_chart_says_so_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_chart(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no Chart.yaml"), "{error}");

        write(dir.path(), "Chart.yaml", "name: web\nversion: 1.0.0\n");
        write(dir.path(), "values.yaml", "a: [1\n");
        let error = read_chart(dir.path()).unwrap_err().to_string();
        assert!(error.contains("values.yaml:"), "{error}");

        let file = dir.path().join("broken.tgz");
        std::fs::write(&file, b"not gzip").unwrap();
        let error = read_chart(&file).unwrap_err().to_string();
        assert!(error.contains("not a chart archive"), "{error}");
    }
}
