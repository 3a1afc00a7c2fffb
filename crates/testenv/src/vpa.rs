//! The Vertical Pod Autoscaler's recommender, run out of cluster against the simulated cluster's resource metrics (metrics-server reading kwok's pod usage), for the tests that need real recommendations.

use std::path::Path;

use crate::process::ManagedProcess;
use crate::{ControlPlane, Result, free_port};

/// How often the recommender reads metrics and writes recommendations here (its default is 1 min).
pub const RECOMMENDER_INTERVAL_SECONDS: u64 = 5;

/// Starts the recommender for the VPAs of `namespace`, tracking only the pods a VPA covers.
pub(crate) fn spawn_recommender(
    control_plane: &ControlPlane,
    namespace: &str,
    dir: &Path,
) -> Result<ManagedProcess> {
    let binaries = &control_plane.binaries;
    binaries.require("vpa-recommender", &binaries.vpa_recommender)?;
    let args = vec![
        format!("--kubeconfig={}", control_plane.kubeconfig.display()),
        format!("--vpa-object-namespace={namespace}"),
        format!("--recommender-interval={RECOMMENDER_INTERVAL_SECONDS}s"),
        "--memory-saver".to_string(),
        // Its Prometheus metrics, on loopback and a free port (the default is :8942 on every address).
        format!("--address=127.0.0.1:{}", free_port()?),
        "--v=2".to_string(),
    ];
    ManagedProcess::spawn(
        "vpa-recommender",
        &binaries.vpa_recommender,
        &args,
        &[],
        dir.join(format!("vpa-recommender-{namespace}.log")),
    )
}
