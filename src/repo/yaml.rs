//! Parses multi-document YAML into JSON values with the line and column of every node (saphyr's marked tree).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

/// 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One YAML document: its value, where it starts, and where each node (by JSON pointer) starts.
/// The loader moves a plain document's value into its object, leaving Null here.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub start: Position,
    text: Arc<SourceText>,
    /// Which of the text's documents this is (among those kept: empty ones are dropped).
    number: usize,
}

/// The text documents were parsed from, and the positions of their nodes: worked out on the
/// first look-up (most objects are never asked where a field is), then for every document of it.
#[derive(Debug)]
struct SourceText {
    text: String,
    positions: OnceLock<Vec<HashMap<String, Position>>>,
}

impl Document {
    /// Where each node of the document (by JSON pointer) is written.
    pub fn positions(&self) -> &HashMap<String, Position> {
        static NONE: OnceLock<HashMap<String, Position>> = OnceLock::new();
        let all = self
            .text
            .positions
            .get_or_init(|| positions_of(&self.text.text));
        all.get(self.number)
            .unwrap_or_else(|| NONE.get_or_init(HashMap::new))
    }

    /// The position of the node at `pointer` (e.g. `/spec/template/spec/containers/0`), or of the
    /// closest ancestor that exists, or of the document itself.
    pub fn position_of(&self, pointer: &str) -> Position {
        let positions = self.positions();
        let mut pointer = pointer;
        loop {
            if let Some(position) = positions.get(pointer) {
                return *position;
            }
            match pointer.rfind('/') {
                Some(index) => pointer = &pointer[..index],
                None => return self.start,
            }
        }
    }
}

/// Why a YAML text could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{position_line}:{position_column}: {message}")]
pub struct YamlError {
    pub position_line: usize,
    pub position_column: usize,
    pub message: String,
}

impl YamlError {
    pub fn position(&self) -> Position {
        Position {
            line: self.position_line,
            column: self.position_column,
        }
    }
}

fn error_at(position: Position, message: impl Into<String>) -> YamlError {
    YamlError {
        position_line: position.line,
        position_column: position.column,
        message: message.into(),
    }
}

/// Parses every document of `text`. Empty documents (a lone `---`, comments only) are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let nodes = load(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let source = Arc::new(SourceText {
        text: text.to_string(),
        positions: OnceLock::new(),
    });
    let mut documents = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let value = convert(node, &lines, &mut String::new(), &mut None)?;
        if value.is_null() {
            continue;
        }
        documents.push(Document {
            value,
            start: position(node),
            text: source.clone(),
            number: documents.len(),
        });
    }
    Ok(documents)
}

fn load(text: &str) -> Result<Vec<MarkedYaml<'_>>, YamlError> {
    MarkedYaml::load_from_str(text).map_err(|e| {
        let marker = e.marker();
        error_at(
            Position {
                line: marker.line(),
                column: marker.col() + 1,
            },
            e.info().to_string(),
        )
    })
}

/// The positions of every node of every document `parse_documents` keeps from `text` (which
/// parsed once already, so it parses again).
fn positions_of(text: &str) -> Vec<HashMap<String, Position>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut all = Vec::new();
    for node in load(text).unwrap_or_default() {
        let mut positions = Some(HashMap::new());
        match convert(&node, &lines, &mut String::new(), &mut positions) {
            Ok(value) if !value.is_null() => all.extend(positions),
            _ => {}
        }
    }
    all
}

fn position(node: &MarkedYaml<'_>) -> Position {
    Position {
        line: node.span.start.line(),
        column: node.span.start.col() + 1,
    }
}

/// Escapes a mapping key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer_token(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}

fn convert(
    node: &MarkedYaml<'_>,
    lines: &[&str],
    pointer: &mut String,
    positions: &mut Option<HashMap<String, Position>>,
) -> Result<Value, YamlError> {
    if let Some(positions) = positions {
        positions.insert(pointer.clone(), position(node));
    }
    Ok(match &node.data {
        YamlData::Value(Scalar::Integer(i)) => {
            Value::Number(yaml_1_1_octal(lines, position(node)).unwrap_or(*i).into())
        }
        YamlData::Value(scalar) => scalar_to_json(scalar, position(node))?,
        YamlData::Representation(text, _, _) => Value::String(text.to_string()),
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = pointer.len();
                if positions.is_some() {
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                }
                out.push(convert(item, lines, pointer, positions)?);
                pointer.truncate(len);
            }
            Value::Array(out)
        }
        YamlData::Mapping(entries) => {
            let mut out = Map::with_capacity(entries.len());
            for (key, value) in entries {
                let key_text = match &key.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
                    YamlData::Value(Scalar::Null) => "null".to_string(),
                    YamlData::Representation(text, _, _) => text.to_string(),
                    _ => {
                        return Err(error_at(
                            position(key),
                            "a mapping key must be a plain value, not a list or a mapping",
                        ));
                    }
                };
                let len = pointer.len();
                if positions.is_some() {
                    pointer.push('/');
                    pointer.push_str(&escape_pointer_token(&key_text));
                }
                let converted = convert(value, lines, pointer, positions)?;
                // The key's own line is more useful than the value's (a block value starts on the next line).
                if let Some(positions) = positions {
                    positions.insert(pointer.clone(), position(key));
                }
                pointer.truncate(len);
                out.insert(key_text, converted);
            }
            Value::Object(out)
        }
        YamlData::Tagged(_, inner) => convert(inner, lines, pointer, positions)?,
        YamlData::Alias(_) => {
            return Err(error_at(
                position(node),
                "an alias that could not be resolved",
            ));
        }
        YamlData::BadValue => {
            return Err(error_at(position(node), "a value that is not valid YAML"));
        }
    })
}

/// A plain integer written `0755` is octal to Kubernetes, Helm and Argo CD (Go's YAML reads
/// YAML 1.1 octals: `defaultMode: 0755` is 493), decimal 755 to a YAML 1.2 parser. The value as
/// Go reads it, when the scalar at `at` is such an octal.
fn yaml_1_1_octal(lines: &[&str], at: Position) -> Option<i64> {
    let line = lines.get(at.line.checked_sub(1)?)?;
    let token: String = line
        .chars()
        .skip(at.column.checked_sub(1)?)
        .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ']' && *c != '}' && *c != '#')
        .collect();
    let (sign, digits) = match token.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, token.strip_prefix('+').unwrap_or(&token)),
    };
    let octal = digits
        .strip_prefix('0')
        .filter(|rest| !rest.is_empty() && rest.chars().all(|c| ('0'..='7').contains(&c)))?;
    i64::from_str_radix(octal, 8).ok().map(|v| sign * v)
}

fn scalar_to_json(scalar: &Scalar<'_>, at: Position) -> Result<Value, YamlError> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .ok_or_else(|| error_at(at, "a number that JSON cannot hold (NaN or infinity)"))?,
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_start_line_and_every_key_its_own_line() {
        let text = "# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Secret\ndata:\n  key: dmFsdWU=\n";
        let documents = parse_documents(text).unwrap();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[0].start.line, 2);
        assert_eq!(documents[0].position_of("/metadata/name").line, 5);
        assert_eq!(documents[1].start.line, 7);
        assert_eq!(documents[1].position_of("/data/key").line, 10);
        assert_eq!(
            documents[1].position_of("/data/key/missing").line,
            10,
            "falls back to the closest ancestor"
        );
    }

    #[test]
    fn empty_documents_are_dropped() {
        assert!(parse_documents("---\n# nothing\n---\n").unwrap().is_empty());
    }

    #[test]
    fn malformed_yaml_reports_line_and_column() {
        let error = parse_documents("a: b\nc: [1, 2\n").unwrap_err();
        assert!(error.position_line >= 2, "{error}");
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let error = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.position_line, 2, "{error}");
    }

    #[test]
    fn a_leading_zero_integer_is_octal_as_go_reads_it_and_others_stay_decimal() {
        let documents = parse_documents(
            "mode: 0755\nlist: [0644, 10]\nplain: 755\nzero: 0\nquoted: \"0755\"\nnine: 089\nnew: 0o17\n",
        )
        .unwrap();
        let value = &documents[0].value;
        assert_eq!(value["mode"], 493);
        assert_eq!(value["list"][0], 420);
        assert_eq!(value["list"][1], 10);
        assert_eq!(value["plain"], 755);
        assert_eq!(value["zero"], 0);
        assert_eq!(value["quoted"], "0755");
        assert_eq!(value["nine"], 89, "not octal digits: decimal");
        assert_eq!(value["new"], 15);
    }

    #[test]
    fn scalars_keep_their_types() {
        let documents =
            parse_documents("n: 3\nf: 0.5\nb: true\ns: \"3\"\nnull_value: ~\n").unwrap();
        let value = &documents[0].value;
        assert_eq!(value["n"], 3);
        assert_eq!(value["f"], 0.5);
        assert_eq!(value["b"], true);
        assert_eq!(value["s"], "3");
        assert!(value["null_value"].is_null());
    }
}
