//! argocd: Argo CD from its pinned chart and helm-values/argocd-values.yaml, its routes, the traffic-tacos AppProject, and the Application through which it manages itself.

use super::check::PREVIOUS_PHASE_HEALTHY;
use super::{Phase, Upstream};
use crate::upstream::ARGO_CD_CHART;

pub const PHASE: Phase = Phase {
    name: "argocd",
    summary: "Argo CD (HA), its HTTPRoute/GRPCRoute, AppProject, and self-management",
    folders: &["manifests/argocd"],
    upstream: &[Upstream::Chart {
        chart: &ARGO_CD_CHART,
        release: "argocd",
        values: "helm-values/argocd-values.yaml",
        namespace: "argocd",
    }],
    depends_on: Some("gateway"),
    in_all: true,
    needs_aws: false,
    substitutes: &[],
    preflight: &[PREVIOUS_PHASE_HEALTHY, super::lbc::ACCEPTS_TARGET_GROUPS],
    waits_for: "argocd-server and repo-server Available; routes Accepted",
    postflight: &[],
    not_waited: &["Application"],
};
