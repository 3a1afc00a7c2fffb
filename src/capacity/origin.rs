//! Where a field is written: for objects rendered from an in-tree chart, the line of the values file that sets it; for tacos.yaml settings, their line.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::CapacityError;
use super::model::FieldRef;
use crate::repo::helm::{plan_render, rendered_for_label};
use crate::repo::object::pointer;
use crate::repo::yaml::{Document, parse_documents};
use crate::repo::{Location, Object, Tree};

/// Finds the values-file lines behind rendered objects' fields, reading each values file once.
pub struct ValuesOrigin<'a> {
    tree: &'a Tree,
    documents: RefCell<HashMap<PathBuf, Option<Document>>>,
}

impl<'a> ValuesOrigin<'a> {
    pub fn new(tree: &'a Tree) -> Self {
        Self {
            tree,
            documents: RefCell::new(HashMap::new()),
        }
    }

    /// The field of `object` at `field_pointer`. For an object rendered from an in-tree chart this is
    /// the chart value at `values_path` where it is set: the last of the Application's value files
    /// that sets it (helm merges them in order), else the chart's values.yaml. Otherwise, or when no
    /// file sets it, the field in the object itself.
    pub fn field(&self, object: &Object, field_pointer: &str, values_path: &[&str]) -> FieldRef {
        self.in_values(object, values_path)
            .unwrap_or_else(|| FieldRef {
                field: dotted(field_pointer),
                location: object.location_of(field_pointer),
            })
    }

    fn in_values(&self, object: &Object, values_path: &[&str]) -> Option<FieldRef> {
        let rendered_for = object.source.rendered_for.as_deref()?;
        let application = self
            .tree
            .of_kind("argoproj.io", "Application")
            .find(|app| rendered_for_label(app.name(), &app.location()) == rendered_for)?;
        let render = plan_render(self.tree, application)?;
        let value_pointer = pointer(values_path);
        let files = render
            .value_files
            .iter()
            .rev()
            .cloned()
            .chain([render.chart_dir.join("values.yaml")]);
        let mut documents = self.documents.borrow_mut();
        for file in files {
            let document = documents
                .entry(file.clone())
                .or_insert_with(|| first_document(&file));
            if let Some(document) = document
                && document.value.pointer(&value_pointer).is_some()
            {
                let at = document.position_of(&value_pointer);
                return Some(FieldRef {
                    field: values_path.join("."),
                    location: Location {
                        file,
                        line: at.line,
                        column: at.column,
                        rendered_for: None,
                    },
                });
            }
        }
        None
    }
}

fn first_document(file: &Path) -> Option<Document> {
    let text = std::fs::read_to_string(file).ok()?;
    parse_documents(&text).ok()?.into_iter().next()
}

/// A JSON pointer as a dotted field name: `/spec/maxReplicas` -> `spec.maxReplicas`.
fn dotted(field_pointer: &str) -> String {
    field_pointer
        .trim_start_matches('/')
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// tacos.yaml, read again for the lines of the settings the model uses.
pub struct SettingsFile {
    path: PathBuf,
    environment: String,
    document: Document,
}

impl SettingsFile {
    /// Reads `path` (already validated by the config loader) for environment `environment`.
    pub fn read(path: &Path, environment: &str) -> Result<Self, CapacityError> {
        let text = std::fs::read_to_string(path).map_err(|source| CapacityError::ReadSettings {
            path: path.to_path_buf(),
            source,
        })?;
        let document = parse_documents(&text)
            .map_err(|source| CapacityError::ParseSettings {
                path: path.to_path_buf(),
                source,
            })?
            .into_iter()
            .next()
            .ok_or_else(|| CapacityError::ParseSettings {
                path: path.to_path_buf(),
                source: crate::repo::yaml::YamlError {
                    position_line: 1,
                    position_column: 1,
                    message: "no YAML document".into(),
                },
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            environment: environment.to_string(),
            document,
        })
    }

    /// The setting `capacity.<segments>` of the environment; its line, or the closest written ancestor's.
    pub fn field(&self, segments: &[&str]) -> FieldRef {
        let mut path = vec!["environments", self.environment.as_str(), "capacity"];
        path.extend_from_slice(segments);
        let at = self.document.position_of(&pointer(&path));
        let mut field = String::from("capacity");
        for segment in segments {
            if segment.parse::<usize>().is_ok() {
                field.push_str(&format!("[{segment}]"));
            } else {
                field.push('.');
                field.push_str(segment);
            }
        }
        FieldRef {
            field,
            location: Location {
                file: self.path.clone(),
                line: at.line,
                column: at.column,
                rendered_for: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_as_dotted_fields() {
        assert_eq!(dotted("/spec/maxReplicas"), "spec.maxReplicas");
        assert_eq!(
            dotted("/metadata/annotations/tacos.traffictacos.store~1rps-per-pod"),
            "metadata.annotations.tacos.traffictacos.store/rps-per-pod"
        );
    }

    #[test]
    fn settings_are_found_at_their_line_with_indices_in_brackets() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tacos.yaml");
        std::fs::write(
            &path,
            "environments:\n  prod:\n    capacity:\n      nodePools:\n        - name: a\n          maxNodes: 6\n",
        )
        .unwrap();
        let settings = SettingsFile::read(&path, "prod").unwrap();
        let field = settings.field(&["nodePools", "0", "maxNodes"]);
        assert_eq!(field.field, "capacity.nodePools[0].maxNodes");
        assert_eq!((field.location.line, field.location.column), (6, 11));
        let absent = settings.field(&["redis", "maxClientsPerNode"]);
        assert_eq!(
            absent.location.line, 3,
            "falls back to the closest ancestor"
        );
    }
}
