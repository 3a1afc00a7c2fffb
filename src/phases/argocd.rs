//! argocd: Argo CD from its pinned chart and helm-values/argocd-values.yaml, its routes, the traffic-tacos AppProject, and the Application through which it manages itself.

use super::{PREVIOUS_PHASE_HEALTHY, Phase, check};
use crate::cli::PhaseName;

check!(
    ARGOCD_SERVER_AVAILABLE,
    "argocd-server-available",
    "argocd-server and repo-server are Available",
    "kubectl -n argocd describe deployment argocd-server; check its events and logs"
);

pub const PHASE: Phase = Phase {
    name: PhaseName::Argocd,
    summary: "Argo CD (HA), its HTTPRoute/GRPCRoute, AppProject, and self-management",
    folders: &["manifests/argocd"],
    upstream: &["argo-cd Helm chart (pinned) with helm-values/argocd-values.yaml"],
    depends_on: Some(PhaseName::Gateway),
    preflight: &[PREVIOUS_PHASE_HEALTHY],
    waits_for: "argocd-server Available; routes Accepted",
    postflight: &[ARGOCD_SERVER_AVAILABLE],
    not_waited: &["Application"],
};
