//! apps: the app namespace (Pod Security restricted), NetworkPolicies, quota and limits, HTTPRoutes, and one Argo CD Application per service.

use super::{PREVIOUS_PHASE_HEALTHY, Phase, check};
use crate::cli::PhaseName;

check!(
    IRSA_ROLES_EXIST,
    "aws-irsa-roles-exist",
    "the IAM roles the ServiceAccounts name exist",
    "create the IRSA roles (traffic-tacos-<service>-sa-role) or fix the eks.amazonaws.com/role-arn annotations"
);
check!(
    CACHES_ADMIT_CLUSTER,
    "aws-cache-admits-cluster",
    "the ElastiCache caches the services are configured to call admit the EKS cluster's security group",
    "authorize TCP on the cache port from the cluster's security group, or point the service at the right cache"
);
check!(
    APPLICATIONS_SYNCED_HEALTHY,
    "argocd-applications-synced",
    "every Application is Synced and Healthy at the expected revision",
    "argocd app get <name>; look at the resource that is OutOfSync or Degraded"
);

pub const PHASE: Phase = Phase {
    name: PhaseName::Apps,
    summary: "the five Traffic Tacos services, owned by Argo CD",
    folders: &["manifests/tacos", "applications/tacos"],
    upstream: &[],
    depends_on: Some(PhaseName::Argocd),
    preflight: &[
        PREVIOUS_PHASE_HEALTHY,
        IRSA_ROLES_EXIST,
        CACHES_ADMIT_CLUSTER,
    ],
    waits_for: "every Application Synced and Healthy at the expected revision; each service available at its autoscaler's floor",
    postflight: &[APPLICATIONS_SYNCED_HEALTHY],
    not_waited: &[],
};
