//! Shared Kubernetes knowledge that deploy, verify, doctor, lint and capacity all stand on: quantities, workloads and selectors, typed objects, configured endpoints, Gateway listeners and the routing of Gateway API routes, autoscaler status, Argo CD projects' rules, Karpenter node classes' hardening.

pub mod appproject;
pub mod argocd;
pub mod autoscalers;
pub mod endpoints;
pub mod gateway;
pub mod nodeclass;
pub mod quantity;
pub mod routing;
pub mod typed;
pub mod workloads;
