//! Which `.Values` paths a chart's templates read, and which they take whole (serialise, iterate, pass on or pipe): a regex scan of the Go template actions, not a template parser.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

/// A path under `.Values`, one key per element.
pub type ValuePath = Vec<String>;

/// What a chart's templates do with its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateReads {
    /// Every path written out in a template (`.Values.a.b`, `index .Values.a "b.c"`).
    pub read: BTreeSet<ValuePath>,
    /// Paths taken whole: whatever keys they hold reach the output or a helper, so none is ignored.
    pub wholesale: BTreeSet<ValuePath>,
}

/// `{{ ... }}` actions, trim markers included; comments are dropped by the caller.
static ACTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)\{\{-?(.*?)-?\}\}").expect("a valid regex"));

/// `index <x>.Values.a.b "c" "d"`: the keys after it.
static INDEX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bindex\s+\(?\s*[$\w.]*?\.Values((?:\.[A-Za-z_]\w*)*)\s*\)?((?:\s+"[^"]*")+)"#)
        .expect("a valid regex")
});

/// `.Values.a.b` (also `$.Values`, `$root.Values`, `.context.Values`).
static PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.Values((?:\.[A-Za-z_]\w*)+)").expect("a valid regex"));

static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]*)""#).expect("a valid regex"));

/// What in an action means the values it names are taken whole: functions that serialise or
/// take a structure (`toYaml`, `tpl`, `omit`, `merge`, `dict`, `include`, ...), `range` and
/// `with` (the block reads `.` in ways a scan does not follow), a variable assignment, a pipe.
static WHOLESALE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:toYaml|mustToYaml|toJson|mustToJson|toPrettyJson|mustToPrettyJson|toRawJson|mustToRawJson|toToml|tpl|include|template|omit|pick|merge|mustMerge|mergeOverwrite|mustMergeOverwrite|deepCopy|mustDeepCopy|dict|list|keys|values|pluck|dig|get|set|unset|hasKey|len|range|with)\b|:=|[^=!<>]=[^=]|\|",
    )
    .expect("a valid regex")
});

/// `{{ define "name" }}`: where a named template starts (its body runs to the next define).
static DEFINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\{\{-?\s*define\s+"([^"]+)"\s*-?\}\}"#).expect("a valid regex"));

/// `include "name" (dict ...)`: a named template called with a dict (up to its first `)`).
static INCLUDE_DICT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:include|template)\s+"([^"]+)"\s+\(\s*dict\b([^)]*)"#).expect("a valid regex")
});

/// `"key" .Values.a.b` inside a dict's arguments.
static DICT_ENTRY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(\w+)"\s+\$?\w*\.Values((?:\.[A-Za-z_]\w*)+)"#).expect("a valid regex")
});

/// `$name := .Values.a.b` or `$name := index .Values "a" "b"`: the whole action is the assignment.
static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^\$(\w+)\s*:?=\s*\(?\s*(?:index\s+)?\$?\w*\.Values((?:\.[A-Za-z_]\w*)*)((?:\s+"[^"]*")*)\s*\)?$"#,
    )
    .expect("a valid regex")
});

/// `$name.a.b`: a variable and the keys read through it.
static VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$(\w+)((?:\.[A-Za-z_]\w*)*)").expect("a valid regex"));

/// Scans template texts (`templates/*`, helpers included). A section assigned to a variable
/// (`$c := .Values.capacity`) is read where the variable is (`$c.rpsPerPod`), later in the same
/// file. A section handed to a named template
/// in a dict (`include "x.affinity" (dict "component" .Values.server)`) is followed into that
/// template's body, where `.component.affinity` reads `server.affinity`.
pub fn scan<'a>(templates: impl IntoIterator<Item = &'a str> + Clone) -> TemplateReads {
    let mut defines: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for text in templates.clone() {
        let starts: Vec<(usize, &str)> = DEFINE
            .captures_iter(text)
            .map(|c| {
                (
                    c.get(0).map_or(0, |m| m.start()),
                    c.get(1).map_or("", |m| m.as_str()),
                )
            })
            .collect();
        for (i, (start, name)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(text.len(), |(next, _)| *next);
            defines
                .entry(name)
                .or_default()
                .push_str(&text[*start..end]);
        }
    }
    let mut reads = TemplateReads::default();
    let mut handed: Vec<(String, String, ValuePath)> = Vec::new();
    for text in templates {
        let mut variables: std::collections::HashMap<String, ValuePath> =
            std::collections::HashMap::new();
        for action in ACTION.captures_iter(text) {
            let body = action[1].trim();
            if body.starts_with("/*") {
                continue;
            }
            if let Some(assignment) = ASSIGN.captures(body) {
                let mut path = dotted(&assignment[2]);
                path.extend(
                    QUOTED
                        .captures_iter(&assignment[3])
                        .map(|q| q[1].to_string()),
                );
                reads.read.insert(path.clone());
                variables.insert(assignment[1].to_string(), path);
                continue;
            }
            let whole = WHOLESALE.is_match(body);
            for usage in VARIABLE.captures_iter(body) {
                let Some(path) = variables.get(&usage[1]) else {
                    continue;
                };
                let mut full = path.clone();
                full.extend(dotted(&usage[2]));
                if whole {
                    reads.wholesale.insert(full.clone());
                }
                reads.read.insert(full);
            }
            let mut bound: BTreeSet<ValuePath> = BTreeSet::new();
            for call in INCLUDE_DICT.captures_iter(body) {
                for entry in DICT_ENTRY.captures_iter(&call[2]) {
                    let path = dotted(&entry[2]);
                    bound.insert(path.clone());
                    handed.push((call[1].to_string(), entry[1].to_string(), path));
                }
            }
            let mut paths: Vec<ValuePath> = Vec::new();
            for index in INDEX.captures_iter(body) {
                let mut path = dotted(&index[1]);
                path.extend(QUOTED.captures_iter(&index[2]).map(|q| q[1].to_string()));
                paths.push(path);
            }
            paths.extend(PATH.captures_iter(body).map(|p| dotted(&p[1])));
            for path in paths {
                if whole && !bound.contains(&path) {
                    reads.wholesale.insert(path.clone());
                }
                reads.read.insert(path);
            }
        }
    }
    for (name, key, path) in handed {
        match defines.get(name.as_str()) {
            Some(body) => read_through(body, &key, &path, &mut reads),
            None => {
                reads.wholesale.insert(path);
            }
        }
    }
    reads
}

/// What a named template's body does with `.key` (the section at `path` it was handed).
fn read_through(body: &str, key: &str, path: &ValuePath, reads: &mut TemplateReads) {
    let Ok(field) = Regex::new(&format!(
        r"(?:^|[^\w$\])])\.{}((?:\.[A-Za-z_]\w*)*)",
        regex::escape(key)
    )) else {
        reads.wholesale.insert(path.clone());
        return;
    };
    for action in ACTION.captures_iter(body) {
        let text = &action[1];
        let whole = WHOLESALE.is_match(text);
        for found in field.captures_iter(text) {
            let mut full = path.clone();
            full.extend(dotted(&found[1]));
            if whole {
                reads.wholesale.insert(full.clone());
            }
            reads.read.insert(full);
        }
    }
}

/// `.a.b` as `["a", "b"]`.
fn dotted(text: &str) -> ValuePath {
    text.split('.')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(set: &BTreeSet<ValuePath>) -> Vec<String> {
        set.iter().map(|p| p.join(".")).collect()
    }

    #[test]
    fn plain_reads_are_read_and_structural_uses_are_wholesale() {
        let reads = scan([r#"
{{- if .Values.server.enabled }}
replicas: {{ .Values.server.replicas }}
{{- with .Values.server.podAnnotations }}
annotations: {{- toYaml . | nindent 4 }}
{{- end }}
resources: {{- toYaml .Values.server.resources | nindent 2 }}
{{- range $key, $value := $.Values.extraLabels }}{{ $key }}{{ end }}
{{- $insecure := index .Values.configs.params "server.insecure" | toString -}}
{{- if eq (index .Values "redis-ha" "enabled") true }}{{ end }}
{{ .Values.image.tag | default .Chart.AppVersion }}
{{/* .Values.commented.out */}}
"#]);
        assert_eq!(
            paths(&reads.read),
            [
                "configs.params",
                "configs.params.server.insecure",
                "extraLabels",
                "image.tag",
                "redis-ha.enabled",
                "server.enabled",
                "server.podAnnotations",
                "server.replicas",
                "server.resources",
            ]
        );
        assert_eq!(
            paths(&reads.wholesale),
            [
                "configs.params",
                "configs.params.server.insecure",
                "extraLabels",
                "image.tag",
                "server.podAnnotations",
                "server.resources",
            ]
        );
        let quoted_key = reads
            .read
            .iter()
            .find(|p| p.len() == 3 && p[0] == "configs")
            .unwrap();
        assert_eq!(quoted_key[2], "server.insecure", "a quoted key is one key");
    }

    #[test]
    fn a_section_handed_to_a_named_template_is_read_where_the_template_reads_it() {
        let reads = scan([
            r#"{{- define "x.affinity" -}}
{{- with .component.affinity }}{{ toYaml . }}{{ end }}
{{ .component.name }}-{{ .context.Values.global.domain }}
{{- end }}
{{- define "x.other" -}}{{ .component.ignored }}{{- end }}"#,
            r#"{{- include "x.affinity" (dict "context" . "component" .Values.server) | nindent 8 }}
{{- include "x.missing" (dict "component" .Values.repo) }}"#,
        ]);
        assert_eq!(
            paths(&reads.read),
            [
                "global.domain",
                "repo",
                "server",
                "server.affinity",
                "server.name"
            ]
        );
        assert_eq!(
            paths(&reads.wholesale),
            ["repo", "server.affinity"],
            "the section itself is not taken whole, what the template serialises is; an unknown template takes it whole"
        );
    }

    #[test]
    fn a_section_in_a_variable_is_read_where_the_variable_is() {
        let reads = scan([r#"
{{- $c := .Values.capacity -}}
{{- $ha := index .Values "redis-ha" -}}
{{- if lt (int $c.rpsPerPod) 1 }}{{ fail "x" }}{{ end }}
{{- if $ha.haproxy.enabled }}{{ toYaml $c.extra }}{{ end }}
{{- $all := omit .Values.configs "create" -}}
"#]);
        assert_eq!(
            paths(&reads.read),
            [
                "capacity",
                "capacity.extra",
                "capacity.rpsPerPod",
                "configs",
                "redis-ha",
                "redis-ha.haproxy.enabled",
            ]
        );
        assert_eq!(
            paths(&reads.wholesale),
            ["capacity.extra", "configs"],
            "a plain assignment takes nothing whole; omit does"
        );
    }

    #[test]
    fn comparisons_and_defaults_are_plain_reads() {
        let reads = scan([
            r#"{{ if and .Values.a.on (eq .Values.a.mode "x") }}{{ default 3 .Values.a.count }}{{ end }}"#,
        ]);
        assert_eq!(paths(&reads.read), ["a.count", "a.mode", "a.on"]);
        assert!(reads.wholesale.is_empty(), "{:?}", reads.wholesale);
    }
}
