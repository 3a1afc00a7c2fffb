//! monitoring: ServiceMonitors, PrometheusRules, Grafana dashboards and the Alertmanager route.

use super::Phase;
use super::check::{Check, PREVIOUS_PHASE_HEALTHY, crd_served};
use crate::report::rule;

pub const PHASE: Phase = Phase {
    name: "monitoring",
    summary: "alerts, dashboards and scraping for the five services",
    folders: &["manifests/monitoring", "applications/monitoring"],
    upstream: &[],
    depends_on: Some("apps"),
    in_all: true,
    needs_aws: false,
    substitutes: &[
        super::substitute::GIT_REPO_URL,
        super::substitute::GIT_REVISION,
    ],
    preflight: &[
        PREVIOUS_PHASE_HEALTHY,
        Check {
            info: PROMETHEUS_OPERATOR_CRDS,
            run: |cx| {
                Box::pin(crd_served(
                    cx.client,
                    "monitoring.coreos.com",
                    "v1",
                    "ServiceMonitor",
                    &PROMETHEUS_OPERATOR_CRDS,
                ))
            },
            in_verify: true,
        },
    ],
    waits_for: "PrometheusRules and ServiceMonitors stored",
    postflight: &[],
    audits: &[],
    not_applied: &[],
};

rule!(
    PROMETHEUS_OPERATOR_CRDS,
    "deploy",
    "cluster-prometheus-operator-crds",
    Error,
    "the Prometheus Operator CRDs are installed",
    "install kube-prometheus-stack (or the Prometheus Operator CRDs) first"
);
