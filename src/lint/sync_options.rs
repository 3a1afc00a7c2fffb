//! Argo CD sync options, on Applications and in the `argocd.argoproj.io/sync-options` annotation: Argo CD matches each option as an exact string, so a misspelt one is silently ignored.

use super::{LintContext, subject};
use crate::repo::Object;
use crate::repo::yaml::escape_pointer_token;
use crate::report::{Finding, RuleInfo, rule};

const FAMILY: &str = "argocd";

/// The annotation that sets sync options on one resource, as a comma-separated list.
const ANNOTATION: &str = "argocd.argoproj.io/sync-options";

rule!(
    SYNC_OPTION_INVALID,
    FAMILY,
    "argocd-sync-option-invalid",
    Error,
    "every sync option is one Argo CD reads: it compares each as an exact string (`Key=value`), so any other is ignored without a word",
    "write the option as Argo CD's sync options documentation spells it (case matters), e.g. ServerSideApply=true or PrunePropagationPolicy=foreground"
);

pub const RULES: &[RuleInfo] = &[SYNC_OPTION_INVALID];

/// Each option Argo CD v3.2 reads (its controller and gitops-engine's `pkg/sync/common`) with
/// the values it compares against; the value that means the default is accepted too.
const OPTIONS: &[(&str, &[&str])] = &[
    ("Validate", &["true", "false"]),
    ("CreateNamespace", &["true", "false"]),
    ("PruneLast", &["true", "false"]),
    ("ApplyOutOfSyncOnly", &["true", "false"]),
    (
        "PrunePropagationPolicy",
        &["foreground", "background", "orphan"],
    ),
    ("Replace", &["true", "false"]),
    ("Force", &["true", "false"]),
    ("ServerSideApply", &["true", "false"]),
    ("ClientSideApplyMigration", &["true", "false"]),
    ("FailOnSharedResource", &["true", "false"]),
    ("RespectIgnoreDifferences", &["true", "false"]),
    ("SkipDryRunOnMissingResource", &["true", "false"]),
    ("Prune", &["true", "false", "confirm"]),
    ("Delete", &["true", "false", "confirm"]),
];

pub fn check(context: &LintContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in &context.tree.objects {
        if object.is("argoproj.io", "Application") {
            let options = object.value["spec"]["syncPolicy"]["syncOptions"].as_array();
            for (index, option) in options.into_iter().flatten().enumerate() {
                if let Some(option) = option.as_str()
                    && let Some(problem) = problem(option)
                {
                    findings.push(Finding::new(
                        &SYNC_OPTION_INVALID,
                        subject(object),
                        Some(object.location_of(&format!("/spec/syncPolicy/syncOptions/{index}"))),
                        problem,
                    ));
                }
            }
        }
        check_annotation(object, &mut findings);
    }
    findings
}

fn check_annotation(object: &Object, findings: &mut Vec<Finding>) {
    let Some(list) = object.value["metadata"]["annotations"][ANNOTATION].as_str() else {
        return;
    };
    for option in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if let Some(problem) = problem(option) {
            findings.push(Finding::new(
                &SYNC_OPTION_INVALID,
                subject(object),
                Some(object.location_of(&format!(
                    "/metadata/annotations/{}",
                    escape_pointer_token(ANNOTATION)
                ))),
                format!("in {ANNOTATION}: {problem}"),
            ));
        }
    }
}

/// Why Argo CD ignores `option`, with the spelling it would read; `None` when it reads it.
fn problem(option: &str) -> Option<String> {
    let (key, value) = option.split_once('=').unwrap_or((option, ""));
    if let Some((_, values)) = OPTIONS.iter().find(|(k, _)| *k == key) {
        if values.contains(&value) {
            return None;
        }
        let nearest = values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(value.trim()))
            .or_else(|| values.first())
            .map(|v| format!("{key}={v}"))
            .unwrap_or_default();
        return Some(format!(
            "sync option {option:?}: {key} takes {}, so Argo CD ignores this one; did you mean {nearest:?}?",
            values.join(" or ")
        ));
    }
    let suggestion = OPTIONS
        .iter()
        .map(|(k, values)| {
            (
                strsim::jaro_winkler(&k.to_lowercase(), &key.to_lowercase()),
                k,
                values,
            )
        })
        .filter(|(score, _, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k, values)| {
            let value = values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(value.trim()))
                .unwrap_or(&values[0]);
            format!("; did you mean \"{k}={value}\"?")
        })
        .unwrap_or_default();
    Some(format!(
        "{option:?} is not a sync option Argo CD reads, so it is ignored{suggestion}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_argo_cd_reads_pass_and_others_say_what_it_would_read() {
        for good in [
            "ServerSideApply=true",
            "PrunePropagationPolicy=orphan",
            "Prune=confirm",
            "CreateNamespace=false",
        ] {
            assert_eq!(problem(good), None, "{good}");
        }
        assert_eq!(
            problem("PrunePropagationPolicy=forground").unwrap(),
            "sync option \"PrunePropagationPolicy=forground\": PrunePropagationPolicy takes foreground or background or orphan, so Argo CD ignores this one; did you mean \"PrunePropagationPolicy=foreground\"?"
        );
        assert!(
            problem("ServerSideApply=True")
                .unwrap()
                .ends_with("did you mean \"ServerSideApply=true\"?")
        );
        assert_eq!(
            problem("serverSideApply=true").unwrap(),
            "\"serverSideApply=true\" is not a sync option Argo CD reads, so it is ignored; did you mean \"ServerSideApply=true\"?"
        );
        assert!(!problem("Frobnicate=yes").unwrap().contains("did you mean"));
    }
}
