//! loadtest: k6-operator TestRuns that ramp to 30k RPS, hold, and spike to 50k.

use super::{Phase, check};
use crate::cli::PhaseName;

check!(
    K6_OPERATOR_PRESENT,
    "cluster-k6-operator-present",
    "k6-operator is installed (TestRun CRD served)",
    "install k6-operator before running load tests"
);

check!(
    CAPACITY_FITS,
    "capacity-fits-target",
    "the capacity model says the scenario's peak fits (replicas, quota, nodes)",
    "run `tacos capacity --rps N` and fix the bottleneck it names before loading the platform"
);

pub const PHASE: Phase = Phase {
    name: PhaseName::Loadtest,
    summary: "k6 TestRuns against the platform (run on demand, not part of `all`)",
    folders: &["k6/testruns"],
    upstream: &[],
    depends_on: Some(PhaseName::Apps),
    preflight: &[K6_OPERATOR_PRESENT, CAPACITY_FITS],
    waits_for: "TestRun finished",
    postflight: &[],
    not_waited: &["TestRun"],
};
