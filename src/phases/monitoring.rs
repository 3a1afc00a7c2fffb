//! monitoring: ServiceMonitors, PrometheusRules, Grafana dashboards and the Alertmanager route, and the OpenTelemetry Collector that sends traces to X-Ray and logs to CloudWatch Logs.

use super::Phase;
use super::check::{Check, PREVIOUS_PHASE_HEALTHY, crd_served};
use crate::report::rule;

pub const PHASE: Phase = Phase {
    name: "monitoring",
    summary: "alerts, dashboards and scraping for the five services, and the collector of their traces and logs",
    folders: &[
        "manifests/monitoring",
        "manifests/observability",
        "applications/monitoring",
    ],
    upstream: &[],
    depends_on: Some("apps"),
    in_all: true,
    needs_aws: true,
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
        super::apps::IRSA_ROLES,
        super::observability::LOG_GROUPS_RETAINED,
    ],
    waits_for: "PrometheusRules and ServiceMonitors stored; the OpenTelemetry Collector available",
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
