//! loadtest: k6-operator TestRuns that ramp to 30k RPS, hold, and spike to 50k.

use super::check::{Check, CheckContext, PREVIOUS_PHASE_HEALTHY, PhaseError, crd_served};
use super::{NotApplied, Phase};
use crate::report::{Finding, rule};

pub const PHASE: Phase = Phase {
    name: "loadtest",
    summary: "k6 TestRuns against the platform (run on demand, not part of `all`)",
    folders: &["k6/testruns"],
    upstream: &[],
    depends_on: Some("apps"),
    in_all: false,
    needs_aws: false,
    substitutes: &[],
    preflight: &[
        PREVIOUS_PHASE_HEALTHY,
        Check {
            info: K6_OPERATOR_PRESENT,
            run: |cx| {
                Box::pin(crd_served(
                    cx.client,
                    "k6.io",
                    "v1alpha1",
                    "TestRun",
                    &K6_OPERATOR_PRESENT,
                ))
            },
            in_verify: true,
        },
        Check {
            info: CAPACITY_FITS,
            run: |cx| Box::pin(capacity_fits(cx)),
            in_verify: true,
        },
    ],
    waits_for: "TestRun finished",
    postflight: &[],
    // Six scenarios applied at once would load the platform six times over: each TestRun is run
    // alone, on demand.
    audits: &[],
    not_applied: &[NotApplied {
        kind: "TestRun",
        by: "tacos loadtest --scenario NAME, one at a time",
    }],
};

rule!(
    K6_OPERATOR_PRESENT,
    "deploy",
    "cluster-k6-operator-present",
    Error,
    "k6-operator is installed (TestRun CRD served)",
    "install k6-operator before running load tests"
);
rule!(
    CAPACITY_FITS,
    "deploy",
    "capacity-fits-target",
    Error,
    "the capacity model says the scenario's peak fits (replicas, quota, nodes)",
    "run `tacos capacity --rps N` and fix the bottleneck it names before loading the platform"
);

/// The highest peak among the scenarios whose TestRuns the phase applies must fit the capacity
/// model (the services' charts rendered, the quota, tacos.yaml's capacity settings).
async fn capacity_fits(cx: &CheckContext<'_>) -> Result<Vec<Finding>, PhaseError> {
    let capacity = &cx.environment.capacity;
    let Some(target) = cx
        .objects
        .iter()
        .filter(|o| o.is("k6.io", "TestRun"))
        .filter_map(|o| Scenario::of_testrun(o.name()))
        .map(|s| s.peak_rps(capacity.sustained_rps, capacity.spike_rps))
        .max()
    else {
        return Ok(Vec::new());
    };
    let model = cx.capacity_model()?;
    Ok(crate::capacity::check_fit(&model, f64::from(target))
        .err()
        .unwrap_or_default())
}

/// The load shapes of the plan (docs/scaling-strategy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// 0 -> 30,000 RPS over 10 minutes.
    Ramp,
    /// 30,000 RPS held for 30 minutes.
    Sustain,
    /// 50,000 RPS for 5 minutes.
    Spike,
    /// The whole plan end to end: ramp, hold, spike.
    E2e,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ramp => "ramp",
            Scenario::Sustain => "sustain",
            Scenario::Spike => "spike",
            Scenario::E2e => "e2e",
        }
    }

    /// Its shape's name in k6/scenarios/stages.json (and the runners' SCENARIO).
    pub fn shape_name(self) -> &'static str {
        match self {
            Scenario::E2e => "full",
            other => other.name(),
        }
    }

    /// The scenario a TestRun of k6/testruns (or the one `render` makes for e2e) runs.
    pub fn of_testrun(name: &str) -> Option<Scenario> {
        let scenario = name.strip_prefix("tacos-")?;
        <Scenario as clap::ValueEnum>::value_variants()
            .iter()
            .copied()
            .find(|s| s.name() == scenario)
    }

    /// The highest rate the scenario asks of gateway-api.
    pub fn peak_rps(self, sustained: u32, spike: u32) -> u32 {
        match self {
            Scenario::Ramp | Scenario::Sustain => sustained,
            Scenario::Spike | Scenario::E2e => spike,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_testrun_names_its_scenario() {
        assert_eq!(Scenario::of_testrun("tacos-spike"), Some(Scenario::Spike));
        assert_eq!(Scenario::of_testrun("tacos-e2e"), Some(Scenario::E2e));
        assert_eq!(Scenario::of_testrun("spike"), None);
        assert_eq!(Scenario::of_testrun("tacos-soak"), None);
    }
}
