//! The checks a phase runs before and after applying: AWS through the SDK, the cluster through kube-rs.

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};

use crate::apply::readiness::{Readiness, readiness};
use crate::aws::ec2::Admission;
use crate::aws::{self, AwsContext};
use crate::cli::PhaseName;
use crate::config::Environment;
use crate::doctor::Snapshot;
use crate::phases::{self, PREVIOUS_PHASE_HEALTHY, Phase};
use crate::repo::{Object, ObjectKey};
use crate::report::{Finding, RuleInfo, Severity};

use super::DeployError;
use super::render::{RenderOptions, render_application_charts};

/// One check and what it found.
pub struct CheckOutcome {
    pub check: RuleInfo,
    pub findings: Vec<Finding>,
}

/// What checks read.
pub struct CheckContext<'a> {
    pub client: &'a kube::Client,
    pub aws: Option<&'a AwsContext>,
    pub environment: &'a Environment,
    /// Where the phase's material comes from (for checks that read what Argo CD will render).
    pub render: &'a RenderOptions,
}

fn aws_for<'a>(context: &'a CheckContext<'_>) -> Result<&'a AwsContext, DeployError> {
    context.aws.ok_or_else(|| {
        DeployError::Usage("this phase checks AWS, but no AWS context was set up".into())
    })
}

/// Hostnames the phase's Gateways listen on.
pub fn listener_hostnames(objects: &[Object]) -> Vec<String> {
    listener_hostnames_of(
        objects
            .iter()
            .filter(|o| o.is("gateway.networking.k8s.io", "Gateway"))
            .map(|g| &g.value),
    )
}

/// Hostnames these Gateways (as JSON) listen on, sorted, once each.
pub fn listener_hostnames_of<'a>(
    gateways: impl Iterator<Item = &'a serde_json::Value>,
) -> Vec<String> {
    let mut hostnames: Vec<String> = gateways
        .flat_map(|g| {
            g["spec"]["listeners"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|l| l["hostname"].as_str().map(str::to_string))
        .collect();
    hostnames.sort();
    hostnames.dedup();
    hostnames
}

/// Checks before anything of `phase` is applied (`previous` holds the objects of the phase it depends on).
pub async fn preflight(
    context: &CheckContext<'_>,
    phase: &Phase,
    objects: &[Object],
    previous: Option<&[Object]>,
) -> Result<Vec<CheckOutcome>, DeployError> {
    let mut outcomes = Vec::new();
    if let Some(previous) = previous {
        outcomes.push(CheckOutcome {
            check: PREVIOUS_PHASE_HEALTHY,
            findings: previous_phase_healthy(context.client, phase, previous).await?,
        });
    }
    let environment = context.environment;
    match phase.name {
        PhaseName::Gateway => {
            let aws = aws_for(context)?;
            outcomes.push(CheckOutcome {
                check: phases::gateway::EKS_CLUSTER_ACTIVE,
                findings: aws::eks::check_cluster(
                    aws,
                    &environment.cluster.name,
                    &environment.cluster.min_version,
                )
                .await?,
            });
            outcomes.push(CheckOutcome {
                check: phases::gateway::ACM_CERTIFICATE_ISSUED,
                findings: aws::acm::check_certificate(
                    aws,
                    &environment.certificate.domain,
                    &listener_hostnames(objects),
                    environment.certificate.min_days_valid,
                )
                .await?,
            });
            outcomes.push(CheckOutcome {
                check: phases::gateway::ROUTE53_ZONE_PRESENT,
                findings: aws::route53::check_zone(aws, &environment.hosted_zone).await?,
            });
            outcomes.push(CheckOutcome {
                check: phases::gateway::AWS_LBC_RUNNING,
                findings: load_balancer_controller_running(context.client).await?,
            });
        }
        PhaseName::Monitoring => {
            outcomes.push(CheckOutcome {
                check: phases::monitoring::PROMETHEUS_OPERATOR_CRDS,
                findings: crd_served(
                    context.client,
                    "monitoring.coreos.com",
                    "v1",
                    "ServiceMonitor",
                    &phases::monitoring::PROMETHEUS_OPERATOR_CRDS,
                )
                .await?,
            });
        }
        PhaseName::Loadtest => {
            outcomes.push(CheckOutcome {
                check: phases::loadtest::K6_OPERATOR_PRESENT,
                findings: crd_served(
                    context.client,
                    "k6.io",
                    "v1alpha1",
                    "TestRun",
                    &phases::loadtest::K6_OPERATOR_PRESENT,
                )
                .await?,
            });
        }
        PhaseName::Apps => {
            let aws = aws_for(context)?;
            let rendered = render_application_charts(phase, context.render)?;
            let claims =
                aws::iam::role_claims(objects.iter().chain(&rendered), &environment.app_namespace);
            outcomes.push(CheckOutcome {
                check: phases::apps::IRSA_ROLES_EXIST,
                findings: aws::iam::check_roles(aws, &claims).await?,
            });
            outcomes.push(CheckOutcome {
                check: phases::apps::CACHES_ADMIT_CLUSTER,
                findings: caches_admit_cluster(aws, environment, objects.iter().chain(&rendered))
                    .await?,
            });
        }
        PhaseName::Argocd => {}
    }
    Ok(outcomes)
}

/// Checks after the phase is up.
pub async fn postflight(
    context: &CheckContext<'_>,
    phase: &Phase,
    objects: &[Object],
) -> Result<Vec<CheckOutcome>, DeployError> {
    let mut outcomes = Vec::new();
    if phase.name == PhaseName::Gateway {
        let aws = aws_for(context)?;
        for gateway in objects
            .iter()
            .filter(|o| o.is("gateway.networking.k8s.io", "Gateway"))
        {
            let live = get_live(context.client, gateway).await?;
            let address = live
                .as_ref()
                .and_then(|l| l["status"]["addresses"][0]["value"].as_str())
                .unwrap_or_default()
                .to_string();
            if address.is_empty() {
                outcomes.push(CheckOutcome {
                    check: phases::gateway::GATEWAY_PROGRAMMED,
                    findings: vec![Finding::new(
                        &phases::gateway::GATEWAY_PROGRAMMED,
                        gateway.key().to_string(),
                        Some(gateway.location()),
                        "the Gateway has no address",
                    )],
                });
                continue;
            }
            outcomes.push(CheckOutcome {
                check: phases::gateway::ALB_EXISTS,
                findings: aws::elbv2::check_load_balancer(aws, &address).await?,
            });
            let records: Vec<String> = listener_hostnames(std::slice::from_ref(gateway));
            outcomes.push(CheckOutcome {
                check: phases::gateway::DNS_ALIASES_ALB,
                findings: aws::route53::check_aliases(
                    aws,
                    &context.environment.hosted_zone,
                    &records,
                    &address,
                )
                .await?,
            });
        }
    }
    Ok(outcomes)
}

pub async fn get_live(
    client: &kube::Client,
    object: &Object,
) -> Result<Option<serde_json::Value>, DeployError> {
    get_live_by_key(client, object.api_version(), &object.key()).await
}

/// The live object `key` of `api_version` as JSON (None when it does not exist).
pub async fn get_live_by_key(
    client: &kube::Client,
    api_version: &str,
    key: &ObjectKey,
) -> Result<Option<serde_json::Value>, DeployError> {
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(&key.group, version, &key.kind));
    let api: Api<DynamicObject> = match &key.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    match api.get_opt(&key.name).await {
        Ok(found) => Ok(found.map(|o| {
            let mut value = serde_json::to_value(&o).unwrap_or_default();
            value["apiVersion"] = api_version.into();
            value["kind"] = key.kind.as_str().into();
            value
        })),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(DeployError::PermissionDenied(
            format!("get {key} ({})", status.message),
        )),
        Err(error) if crate::apply::applier::is_connection_error(&error) => {
            Err(DeployError::ClusterUnreachable(error.to_string()))
        }
        Err(_) => Ok(None),
    }
}

/// The previous phase's objects must all exist and be ready (or have no readiness rule).
async fn previous_phase_healthy(
    client: &kube::Client,
    phase: &Phase,
    previous: &[Object],
) -> Result<Vec<Finding>, DeployError> {
    let mut not_ready = Vec::new();
    for object in previous {
        let why = match get_live(client, object).await? {
            None => Some("missing".to_string()),
            Some(live) => match readiness(&live, None) {
                Readiness::Pending(why) | Readiness::Failed(why) => Some(why),
                _ => None,
            },
        };
        if let Some(why) = why {
            not_ready.push(format!("{}: {why}", object.key()));
        }
    }
    if not_ready.is_empty() {
        return Ok(Vec::new());
    }
    let dependency = phase.depends_on.map(|p| p.as_str()).unwrap_or("previous");
    let shown = not_ready
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    Ok(vec![
        Finding::new(
            &PREVIOUS_PHASE_HEALTHY,
            format!("phase {dependency}"),
            None,
            format!("{} object(s) not healthy: {shown}", not_ready.len()),
        )
        .with_remedy(format!(
            "run `tacos deploy --phase {dependency}` (or `tacos doctor`), or pass --skip-deps"
        )),
    ])
}

async fn load_balancer_controller_running(
    client: &kube::Client,
) -> Result<Vec<Finding>, DeployError> {
    let check = &phases::gateway::AWS_LBC_RUNNING;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "kube-system");
    let found = match deployments.get_opt("aws-load-balancer-controller").await {
        Ok(found) => found,
        Err(error) if crate::apply::applier::is_connection_error(&error) => {
            return Err(DeployError::ClusterUnreachable(error.to_string()));
        }
        Err(error) => {
            return Ok(vec![Finding::new(
                check,
                "Deployment kube-system/aws-load-balancer-controller",
                None,
                format!("cannot read it: {error}"),
            )]);
        }
    };
    let Some(deployment) = found else {
        return Ok(vec![Finding::new(
            check,
            "Deployment kube-system/aws-load-balancer-controller",
            None,
            "not installed",
        )]);
    };
    let mut live = serde_json::to_value(&deployment).unwrap_or_default();
    live["apiVersion"] = "apps/v1".into();
    live["kind"] = "Deployment".into();
    Ok(match readiness(&live, None) {
        Readiness::Ready => Vec::new(),
        Readiness::Pending(why) | Readiness::Failed(why) | Readiness::NotWaited(why) => {
            vec![Finding::new(
                check,
                "Deployment kube-system/aws-load-balancer-controller",
                None,
                format!("not running: {why}"),
            )]
        }
    })
}

async fn crd_served(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    check: &RuleInfo,
) -> Result<Vec<Finding>, DeployError> {
    match kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, kind)).await {
        Ok(_) => Ok(Vec::new()),
        Err(error)
            if crate::apply::applier::is_connection_error(&error)
                && !matches!(error, kube::Error::Discovery(_)) =>
        {
            Err(DeployError::ClusterUnreachable(error.to_string()))
        }
        Err(_) => Ok(vec![Finding::new(
            check,
            format!("{kind}.{group}/{version}"),
            None,
            "the cluster does not serve this kind",
        )]),
    }
}

/// The ElastiCache caches the workloads among `objects` are configured to call (env values and the
/// ConfigMaps they pull in, read as doctor reads them live) must admit the EKS cluster's security
/// group on their port: the live platform's Redis timed out behind exactly this missing rule.
async fn caches_admit_cluster<'a>(
    aws: &AwsContext,
    environment: &Environment,
    objects: impl Iterator<Item = &'a Object>,
) -> Result<Vec<Finding>, DeployError> {
    let rule = &phases::apps::CACHES_ADMIT_CLUSTER;
    let workloads = workloads_of(objects);
    let mut callers: std::collections::BTreeMap<(String, u16), Vec<String>> = Default::default();
    for endpoint in crate::doctor::egress::configured_endpoints(&workloads) {
        callers
            .entry((endpoint.host.to_ascii_lowercase(), endpoint.port))
            .or_default()
            .push(format!(
                "{} ({})",
                endpoint.workload, endpoint.configured_in
            ));
    }
    let mut findings = Vec::new();
    // Only ElastiCache endpoints: the services' own in-cluster addresses need no AWS call.
    let caches = callers
        .into_iter()
        .filter(|((host, _), _)| host.contains(".cache.amazonaws.com"));
    for ((host, port), callers) in caches {
        let called_by = callers.join(", ");
        let access =
            aws::elasticache::check_cache_reachable(aws, &environment.cluster.name, &host, port)
                .await?;
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

/// The workloads and ConfigMaps among `objects`, typed as doctor's snapshot holds them.
fn workloads_of<'a>(objects: impl Iterator<Item = &'a Object>) -> Snapshot {
    fn typed<T: serde::de::DeserializeOwned>(object: &Object, into: &mut Vec<T>) {
        if let Ok(value) = serde_json::from_value(object.value.clone()) {
            into.push(value);
        }
    }
    let mut snapshot = Snapshot::default();
    for object in objects {
        match (object.group(), object.kind()) {
            ("apps", "Deployment") => typed(object, &mut snapshot.deployments),
            ("apps", "StatefulSet") => typed(object, &mut snapshot.stateful_sets),
            ("apps", "DaemonSet") => typed(object, &mut snapshot.daemon_sets),
            ("", "ConfigMap") => typed(object, &mut snapshot.config_maps),
            _ => {}
        }
    }
    snapshot
}
