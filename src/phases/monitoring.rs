//! monitoring: ServiceMonitors, PrometheusRules, Grafana dashboards and the Alertmanager route.

use super::{PREVIOUS_PHASE_HEALTHY, Phase, check};
use crate::cli::PhaseName;

check!(
    PROMETHEUS_OPERATOR_CRDS,
    "cluster-prometheus-operator-crds",
    "the Prometheus Operator CRDs are installed",
    "install kube-prometheus-stack (or the Prometheus Operator CRDs) first"
);

pub const PHASE: Phase = Phase {
    name: PhaseName::Monitoring,
    summary: "alerts, dashboards and scraping for the five services",
    folders: &["manifests/monitoring"],
    upstream: &[],
    depends_on: Some(PhaseName::Apps),
    preflight: &[PREVIOUS_PHASE_HEALTHY, PROMETHEUS_OPERATOR_CRDS],
    waits_for: "PrometheusRules and ServiceMonitors stored",
    postflight: &[],
    not_waited: &[],
};
