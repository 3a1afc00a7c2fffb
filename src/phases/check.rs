//! A phase's check as a value (its catalogue entry and the function that runs it), what checks read, what they can fail with, and the checks several phases share.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use kube::core::GroupVersionKind;

use crate::apply::live::{LiveError, get_live};
use crate::apply::readiness::{Readiness, readiness};
use crate::aws::{AwsContext, AwsError};
use crate::config::Environment;
use crate::repo::{LoadError, Object};
use crate::report::{Finding, RuleInfo, rule};
use crate::upstream::UpstreamError;

use super::Phase;
use super::render::{RenderOptions, render_folders_only};

/// What a check (or rendering a phase) can fail with, as opposed to what it finds.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Load(LoadError),
    #[error("failed to render: {0}")]
    Render(String),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the cluster could not be reached: {0}")]
    ClusterUnreachable(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
}

impl From<LiveError> for PhaseError {
    fn from(error: LiveError) -> Self {
        match error {
            LiveError::Unreachable(message) => PhaseError::ClusterUnreachable(message),
            LiveError::PermissionDenied(what) => PhaseError::PermissionDenied(what),
        }
    }
}

/// Where tacos.yaml is and which of its environments runs, for checks that read more of it than
/// the environment (the capacity settings).
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub environment: Option<String>,
}

/// What a check reads.
pub struct CheckContext<'a> {
    pub phase: &'a Phase,
    pub client: &'a kube::Client,
    /// Set when the phase `needs_aws`.
    pub aws: Option<&'a AwsContext>,
    pub environment: &'a Environment,
    pub config: &'a ConfigSource,
    /// Where the phase's material comes from (for checks that read what Argo CD will render).
    pub render: &'a RenderOptions,
    /// Every object the phase applies.
    pub objects: &'a [Object],
}

impl CheckContext<'_> {
    /// The capacity model `tacos capacity` reads: the tree's services under this environment's settings.
    pub fn capacity_model(&self) -> Result<crate::capacity::Model, PhaseError> {
        let bad_input = |e: crate::capacity::CapacityError| PhaseError::Usage(e.to_string());
        let helm = crate::capacity::find_helm(self.render.helm.as_deref()).map_err(bad_input)?;
        crate::capacity::load_model(
            &self.render.repo,
            &self.config.path,
            self.config.environment.as_deref(),
            &helm,
        )
        .map_err(bad_input)
    }

    /// The AWS context, which every phase that `needs_aws` is given.
    pub fn aws(&self) -> Result<&AwsContext, PhaseError> {
        self.aws.ok_or_else(|| {
            PhaseError::Usage(format!(
                "phase {} checks AWS, but no AWS context was set up",
                self.phase.name
            ))
        })
    }
}

/// The future a check's function returns: its findings (none means it passed).
pub type CheckFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Finding>, PhaseError>> + Send + 'a>>;

/// One check of a phase: its catalogue entry and the function that runs it.
pub struct Check {
    pub info: RuleInfo,
    pub run: for<'a> fn(&'a CheckContext<'a>) -> CheckFuture<'a>,
    /// Whether `tacos verify` runs it too (a check of what deploy is about to do does not).
    pub in_verify: bool,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.info.id).finish()
    }
}

/// One check and what it found.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub check: RuleInfo,
    pub findings: Vec<Finding>,
}

/// Runs `checks` one after another (deploy's and verify's order is the catalogue's).
pub async fn run_checks(
    context: &CheckContext<'_>,
    checks: impl IntoIterator<Item = &'static Check>,
) -> Result<Vec<CheckOutcome>, PhaseError> {
    let mut outcomes = Vec::new();
    for check in checks {
        outcomes.push(CheckOutcome {
            check: check.info,
            findings: (check.run)(context).await?,
        });
    }
    Ok(outcomes)
}

rule!(
    PREVIOUS_PHASE_HEALTHY_INFO,
    "deploy",
    "phase-previous-healthy",
    Error,
    "the phase before this one is healthy",
    "deploy the previous phase first (tacos deploy --phase PREVIOUS), or pass --skip-deps"
);

/// The phase this one depends on must be up: every object of its folders exists and is ready.
pub const PREVIOUS_PHASE_HEALTHY: Check = Check {
    info: PREVIOUS_PHASE_HEALTHY_INFO,
    run: |context| Box::pin(previous_phase_healthy(context)),
    in_verify: false,
};

async fn previous_phase_healthy(context: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let Some(dependency) = context.phase.dependency() else {
        return Ok(Vec::new());
    };
    let previous = render_folders_only(dependency, context.render)?;
    let mut not_ready = Vec::new();
    for object in &previous {
        let why = match get_live(context.client, object).await? {
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
    let name = dependency.name;
    let shown = not_ready
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    Ok(vec![
        Finding::new(
            &PREVIOUS_PHASE_HEALTHY_INFO,
            format!("phase {name}"),
            None,
            format!("{} object(s) not healthy: {shown}", not_ready.len()),
        )
        .with_remedy(format!(
            "run `tacos deploy --phase {name}` (or `tacos doctor`), or pass --skip-deps"
        )),
    ])
}

/// A finding of `check` when the cluster does not serve `group/version` `kind` (its CRD is missing).
pub async fn crd_served(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    check: &RuleInfo,
) -> Result<Vec<Finding>, PhaseError> {
    match kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, kind)).await {
        Ok(_) => Ok(Vec::new()),
        Err(error)
            if crate::apply::applier::is_connection_error(&error)
                && !matches!(error, kube::Error::Discovery(_)) =>
        {
            Err(PhaseError::ClusterUnreachable(error.to_string()))
        }
        Err(_) => Ok(vec![Finding::new(
            check,
            format!("{kind}.{group}/{version}"),
            None,
            "the cluster does not serve this kind",
        )]),
    }
}
