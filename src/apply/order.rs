//! The order objects are applied in (kapp's): namespaces and CRDs, then cluster-scoped objects, then RBAC and config, then the rest.

use crate::repo::Object;

/// The step an object is applied in; lower first. Deletion runs the steps in reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApplyStep {
    /// Namespaces and CustomResourceDefinitions (each CRD waited on until Established).
    Foundations,
    /// Other cluster-scoped objects: ClusterRoles, GatewayClasses, PriorityClasses, ...
    ClusterScoped,
    /// What workloads read: ServiceAccounts, RBAC, ConfigMaps, Secrets, quotas and limits.
    Configuration,
    /// Workloads, Services, routes, policies and custom resources.
    Workloads,
}

impl ApplyStep {
    pub fn of(object: &Object) -> Self {
        match (object.group(), object.kind()) {
            ("", "Namespace") | ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                ApplyStep::Foundations
            }
            (_, kind) if crate::repo::helm::is_cluster_scoped(kind) => ApplyStep::ClusterScoped,
            ("", "ServiceAccount" | "ConfigMap" | "Secret" | "ResourceQuota" | "LimitRange")
            | ("rbac.authorization.k8s.io", "Role" | "RoleBinding")
            | ("secrets-store.csi.x-k8s.io", "SecretProviderClass") => ApplyStep::Configuration,
            _ => ApplyStep::Workloads,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ApplyStep::Foundations => "namespaces and CRDs",
            ApplyStep::ClusterScoped => "cluster-scoped objects",
            ApplyStep::Configuration => "service accounts, RBAC and configuration",
            ApplyStep::Workloads => "workloads, services and routes",
        }
    }
}

/// Sorts objects into apply order, keeping the tree's order within a step (stable).
pub fn sort_for_apply(objects: &mut [Object]) {
    objects.sort_by_key(ApplyStep::of);
}
