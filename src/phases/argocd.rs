//! argocd: Argo CD from its pinned chart and helm-values/argocd-values.yaml, its routes, the AppProjects, and the Applications that hand the gateway and argocd folders over to Argo CD.

use super::check::PREVIOUS_PHASE_HEALTHY;
use super::{Phase, Upstream};
use crate::upstream::ARGO_CD_CHART;

pub const PHASE: Phase = Phase {
    name: "argocd",
    summary: "Argo CD (HA), its HTTPRoute/GRPCRoute, the AppProjects, and the hand-over of gateway and argocd to Argo CD",
    folders: &[
        "manifests/argocd",
        "applications/argocd",
        "applications/gateway",
    ],
    upstream: &[Upstream::Chart {
        chart: &ARGO_CD_CHART,
        release: "argocd",
        values: "helm-values/argocd-values.yaml",
        namespace: "argocd",
    }],
    depends_on: Some("gateway"),
    in_all: true,
    needs_aws: false,
    substitutes: &[
        super::substitute::GIT_REPO_URL,
        super::substitute::GIT_REVISION,
    ],
    preflight: &[PREVIOUS_PHASE_HEALTHY, super::lbc::ACCEPTS_TARGET_GROUPS],
    waits_for: "argocd-server and repo-server Available; routes Accepted; then the Applications of gateway and argocd Synced and Healthy at the environment's commit, which take those folders over",
    postflight: &[],
    audits: &[],
    not_applied: &[],
};
