//! What tacos fills into a phase's objects from the account before applying, written `${NAME}` in the tree as Flux's post-build substitution writes them: what the tree cannot know, such as the ARN of the environment's ACM certificate.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::check::{CheckContext, PhaseError};
use crate::aws::acm;
use crate::repo::Object;

/// The future a substitution's resolver returns: the value.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Result<String, PhaseError>> + Send + 'a>>;

/// One `${NAME}` a phase's objects may hold, and how its value is found.
pub struct Substitution {
    pub name: &'static str,
    pub summary: &'static str,
    pub resolve: for<'a> fn(&'a CheckContext<'a>) -> ResolveFuture<'a>,
}

impl std::fmt::Debug for Substitution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Substitution")
            .field("name", &self.name)
            .finish()
    }
}

/// `${ACM_CERTIFICATE_ARN}`: the ISSUED ACM certificate for the environment's domain.
pub const ACM_CERTIFICATE_ARN: Substitution = Substitution {
    name: "ACM_CERTIFICATE_ARN",
    summary: "the ARN of the ISSUED ACM certificate for the environment's domain (certificate.domain), the one aws-acm-certificate-issued checks",
    resolve: |cx| Box::pin(certificate_arn(cx)),
};

async fn certificate_arn(cx: &CheckContext<'_>) -> Result<String, PhaseError> {
    let aws = cx.aws()?;
    let domain = &cx.environment.certificate.domain;
    match acm::best_certificate(aws, domain).await? {
        Some(certificate) if certificate.status == "ISSUED" => Ok(certificate.arn),
        _ => Err(PhaseError::Usage(format!(
            "no ISSUED ACM certificate for {domain} ({}) to fill in ${{ACM_CERTIFICATE_ARN}}; request one (aws acm request-certificate --domain-name '{domain}' --validation-method DNS)",
            aws.target
        ))),
    }
}

/// `${GIT_REPO_URL}`: the repository Argo CD syncs the tree from (git.repoURL, `--git-repo-url`).
pub const GIT_REPO_URL: Substitution = Substitution {
    name: "GIT_REPO_URL",
    summary: "the environment's git.repoURL (or --git-repo-url): the repository the Applications and AppProjects point Argo CD at",
    resolve: |cx| Box::pin(async move { Ok(cx.environment.git.repo_url.clone()) }),
};

/// `${GIT_REVISION}`: the branch, tag or commit Argo CD syncs (git.revision, `--git-revision`).
pub const GIT_REVISION: Substitution = Substitution {
    name: "GIT_REVISION",
    summary: "the environment's git.revision (or --git-revision): what the Applications track",
    resolve: |cx| Box::pin(async move { Ok(cx.environment.git.revision.clone()) }),
};

/// The value of every substitution the phase declares.
pub async fn resolve(cx: &CheckContext<'_>) -> Result<Vec<(&'static str, String)>, PhaseError> {
    let mut values = Vec::new();
    for substitution in cx.phase.substitutes {
        values.push((substitution.name, (substitution.resolve)(cx).await?));
    }
    Ok(values)
}

/// The context's objects with the phase's substitutions filled in: what is applied and compared.
pub async fn resolved(cx: &CheckContext<'_>) -> Result<Vec<Object>, PhaseError> {
    let values = resolve(cx).await?;
    Ok(substituted(cx.objects, &values))
}

/// `objects` with every `${NAME}` of `values` in their strings replaced.
pub fn substituted(objects: &[Object], values: &[(&str, String)]) -> Vec<Object> {
    objects
        .iter()
        .map(|object| {
            let mut object = object.clone();
            replace_in(&mut object.value, values);
            object
        })
        .collect()
}

fn replace_in(value: &mut Value, values: &[(&str, String)]) {
    match value {
        Value::String(text) if text.contains("${") => {
            for (name, replacement) in values {
                *text = text.replace(&format!("${{{name}}}"), replacement);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in(v, values)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_in(v, values)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_in_any_string_is_replaced_and_other_names_are_left() {
        let tree = crate::repo::load_str(
            "lbc.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata:\n  arn: ${ACM_CERTIFICATE_ARN}\n  both: x-${ACM_CERTIFICATE_ARN}-${OTHER}\n",
        )
        .unwrap();
        let arn = "arn:aws:acm:ap-northeast-2:137406935518:certificate/1".to_string();
        let out = substituted(&tree.objects, &[("ACM_CERTIFICATE_ARN", arn.clone())]);
        assert_eq!(out[0].value["data"]["arn"], arn.as_str());
        assert_eq!(
            out[0].value["data"]["both"],
            format!("x-{arn}-${{OTHER}}").as_str()
        );
        assert_eq!(
            tree.objects[0].value["data"]["arn"], "${ACM_CERTIFICATE_ARN}",
            "the tree's objects are left as they are"
        );
    }
}
