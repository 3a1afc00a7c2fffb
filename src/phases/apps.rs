//! apps: the app namespace (Pod Security restricted), NetworkPolicies, quota and limits, HTTPRoutes, one Argo CD Application per service, and the VerticalPodAutoscaler CRDs and recommender.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ConfigMap;

use super::check::{Check, CheckContext, PREVIOUS_PHASE_HEALTHY, PhaseError};
use super::render::render_application_charts;
use super::{Phase, Upstream};
use crate::aws::ec2::Admission;
use crate::aws::elasticache::check_cache_reachable;
use crate::aws::iam::{
    ROLE_ARN_ANNOTATION, RoleClaim, parse_role_arn, role_claims, role_trust_policy,
    trusts_service_account,
};
use crate::aws::{AwsContext, AwsError};
use crate::k8s::endpoints::{Endpoint, configured_endpoints};
use crate::k8s::typed::Workload;
use crate::repo::Object;
use crate::report::{Finding, Severity, rule};
use crate::upstream::VPA_CRDS;

pub const PHASE: Phase = Phase {
    name: "apps",
    summary: "the five Traffic Tacos services, owned by Argo CD, and the VPA recommender that right-sizes them",
    folders: &[
        "manifests/tacos",
        "applications/tacos",
        "manifests/autoscaling",
        "applications/autoscaling",
    ],
    upstream: &[Upstream::Crds(&VPA_CRDS)],
    depends_on: Some("argocd"),
    in_all: true,
    needs_aws: true,
    substitutes: &[
        super::substitute::GIT_REPO_URL,
        super::substitute::GIT_REVISION,
    ],
    preflight: &[
        PREVIOUS_PHASE_HEALTHY,
        super::served::CHART_KINDS,
        super::permitted::CHART_KINDS_PERMITTED,
        IRSA_ROLES,
        Check {
            info: CACHES_ADMIT_CLUSTER,
            run: |cx| Box::pin(caches_admit_cluster(cx)),
            in_verify: true,
        },
        super::lbc::ACCEPTS_TARGET_GROUPS,
        Check {
            info: NOT_PINNED,
            run: |cx| Box::pin(not_pinned(cx)),
            in_verify: true,
        },
    ],
    waits_for: "every Application Synced and Healthy at the expected revision; each service available at its autoscaler's floor",
    postflight: &super::posture::CHECKS,
    audits: &super::compliance::APP_AUDITS,
    not_applied: &[],
};

rule!(
    IRSA_ROLES_EXIST,
    "deploy",
    "aws-irsa-roles-exist",
    Error,
    "the IAM roles the ServiceAccounts name exist",
    "create the IRSA roles (traffic-tacos-<service>-sa-role) or fix the eks.amazonaws.com/role-arn annotations"
);
rule!(
    CACHES_ADMIT_CLUSTER,
    "deploy",
    "aws-cache-admits-cluster",
    Error,
    "the ElastiCache caches the services are configured to call admit the EKS cluster's security group",
    "authorize TCP on the cache port from the cluster's security group, or point the service at the right cache"
);

rule!(
    NOT_PINNED,
    "deploy",
    "gitops-not-pinned",
    Warning,
    "the phase's Applications follow the environment's revision: no rollback holds them at a commit",
    "once the fix is in Git, `tacos rollback --phase apps --unpin` (or `tacos deploy --phase apps --unpin`) returns them to the environment's revision"
);

/// A warning per Application a rollback pinned, naming the commit and what it was rolled back to.
async fn not_pinned(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let pins = super::pin::live_pins(cx.client, cx.phase.name)
        .await
        .map_err(|error| match error {
            kube::Error::Api(status) if status.code == 403 => PhaseError::PermissionDenied(
                format!("list Applications in namespace argocd ({})", status.message),
            ),
            other => PhaseError::ClusterUnreachable(other.to_string()),
        })?;
    Ok(pins
        .into_iter()
        .map(|pin| {
            Finding::new(
                &NOT_PINNED,
                format!("Application argocd/{}", pin.application),
                None,
                format!(
                    "pinned at commit {} by `tacos rollback --phase {} --to {}`: Argo CD holds it there whatever the branch holds",
                    pin.commit, cx.phase.name, pin.by
                ),
            )
        })
        .collect())
}

/// Every IAM role a ServiceAccount of the phase names (applied or rendered) exists and trusts it.
pub const IRSA_ROLES: Check = Check {
    info: IRSA_ROLES_EXIST,
    run: |cx| Box::pin(irsa_roles_exist(cx)),
    in_verify: true,
};

async fn irsa_roles_exist(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    // The services' ServiceAccounts come from the chart Argo CD will render.
    let rendered = render_application_charts(cx.phase, cx.render)?;
    let claims = role_claims(
        cx.objects.iter().chain(&rendered),
        &cx.environment.app_namespace,
    );
    Ok(role_findings(aws, &claims).await?)
}

/// Findings for roles that are malformed, in another account, missing, or not trusting their ServiceAccount.
async fn role_findings(aws: &AwsContext, claims: &[RoleClaim]) -> Result<Vec<Finding>, AwsError> {
    let mut findings = Vec::new();
    for claim in claims {
        let subject = format!(
            "ServiceAccount {}/{}",
            claim.namespace, claim.service_account
        );
        let location = Some(claim.location.clone());
        let Some(arn) = parse_role_arn(&claim.role_arn) else {
            findings.push(Finding::new(
                &IRSA_ROLES_EXIST,
                subject,
                location,
                format!(
                    "{ROLE_ARN_ANNOTATION} is `{}`, not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                    claim.role_arn
                ),
            ));
            continue;
        };
        if arn.account != aws.target.account {
            findings.push(Finding::new(
                &IRSA_ROLES_EXIST,
                subject,
                location,
                format!(
                    "role {} is in account {}, not the configured account ({})",
                    claim.role_arn, arn.account, aws.target
                ),
            ));
            continue;
        }
        let Some(document) = role_trust_policy(aws, arn.name).await? else {
            findings.push(Finding::new(
                &IRSA_ROLES_EXIST,
                subject,
                location,
                format!("IAM role {} does not exist ({})", arn.name, aws.target),
            ));
            continue;
        };
        if !trusts_service_account(&document, &claim.namespace, &claim.service_account) {
            findings.push(
                Finding::new(
                    &IRSA_ROLES_EXIST,
                    subject,
                    location,
                    format!(
                        "IAM role {} does not trust system:serviceaccount:{}:{} (no sts:AssumeRoleWithWebIdentity statement with that subject); its pods would get no AWS credentials",
                        arn.name, claim.namespace, claim.service_account
                    ),
                )
                .with_remedy(format!(
                    "add to the role's trust policy an Allow of sts:AssumeRoleWithWebIdentity for the cluster's OIDC provider with condition `<oidc>:sub = system:serviceaccount:{}:{}` (aws iam update-assume-role-policy --role-name {})",
                    claim.namespace, claim.service_account, arn.name
                )),
            );
        }
    }
    Ok(findings)
}

/// The ElastiCache caches the workloads among the phase's objects and charts are configured to
/// call (env values and the ConfigMaps they pull in, read as doctor reads them live) must admit the
/// EKS cluster's security group on their port: the live platform's Redis timed out behind exactly
/// this missing rule.
async fn caches_admit_cluster(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let aws = cx.aws()?;
    let rendered = render_application_charts(cx.phase, cx.render)?;
    let endpoints = endpoints_of(cx.objects.iter().chain(&rendered));
    let mut callers: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
    for endpoint in endpoints {
        callers
            .entry((endpoint.host.to_ascii_lowercase(), endpoint.port))
            .or_default()
            .push(format!(
                "{} ({})",
                endpoint.workload, endpoint.configured_in
            ));
    }
    let rule = &CACHES_ADMIT_CLUSTER;
    let mut findings = Vec::new();
    // Only ElastiCache endpoints: the services' own in-cluster addresses need no AWS call.
    let caches = callers
        .into_iter()
        .filter(|((host, _), _)| host.contains(".cache.amazonaws.com"));
    for ((host, port), callers) in caches {
        let called_by = callers.join(", ");
        let access = check_cache_reachable(aws, &cx.environment.cluster.name, &host, port).await?;
        let Some(access) = access else {
            findings.push(
                Finding::new(
                    rule,
                    format!("{host}:{port}"),
                    None,
                    format!(
                        "no ElastiCache cache in {} has this endpoint; {called_by} would not reach it",
                        aws.target
                    ),
                )
                .with_severity(Severity::Warning)
                .with_remedy(
                    "set the cache's endpoint (aws elasticache describe-replication-groups) in the service's values",
                ),
            );
            continue;
        };
        let (severity, remedy) = match &access.admission {
            Admission::Admitted { .. } => continue,
            Admission::NotAdmitted => (
                Severity::Error,
                access
                    .authorize_command(&aws.target)
                    .unwrap_or_else(|| rule.remedy.to_string()),
            ),
            Admission::Unknown { .. } => (Severity::Warning, rule.remedy.to_string()),
        };
        findings.push(
            Finding::new(
                rule,
                format!("ElastiCache {} ({})", access.cache.cache_id, aws.target),
                None,
                format!("{access}; called by {called_by}"),
            )
            .with_severity(severity)
            .with_remedy(remedy),
        );
    }
    Ok(findings)
}

/// The endpoints the workloads among `objects` are configured to call, their ConfigMaps read from
/// the same objects.
fn endpoints_of<'a>(objects: impl Iterator<Item = &'a Object>) -> Vec<Endpoint> {
    fn typed<T: serde::de::DeserializeOwned>(object: &Object, into: &mut Vec<T>) {
        if let Ok(value) = serde_json::from_value(object.value.clone()) {
            into.push(value);
        }
    }
    let (mut deployments, mut stateful_sets, mut daemon_sets, mut config_maps) = (
        Vec::<Deployment>::new(),
        Vec::<StatefulSet>::new(),
        Vec::<DaemonSet>::new(),
        Vec::<ConfigMap>::new(),
    );
    for object in objects {
        match (object.group(), object.kind()) {
            ("apps", "Deployment") => typed(object, &mut deployments),
            ("apps", "StatefulSet") => typed(object, &mut stateful_sets),
            ("apps", "DaemonSet") => typed(object, &mut daemon_sets),
            ("", "ConfigMap") => typed(object, &mut config_maps),
            _ => {}
        }
    }
    let workload = |kind, meta, template| Workload {
        kind,
        meta,
        template,
    };
    let workloads: Vec<Workload> = deployments
        .iter()
        .filter_map(|d| {
            Some(workload(
                "Deployment",
                &d.metadata,
                &d.spec.as_ref()?.template,
            ))
        })
        .chain(stateful_sets.iter().filter_map(|s| {
            Some(workload(
                "StatefulSet",
                &s.metadata,
                &s.spec.as_ref()?.template,
            ))
        }))
        .chain(daemon_sets.iter().filter_map(|d| {
            Some(workload(
                "DaemonSet",
                &d.metadata,
                &d.spec.as_ref()?.template,
            ))
        }))
        .collect();
    configured_endpoints(&workloads, &config_maps)
}
