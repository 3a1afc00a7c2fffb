//! One control plane (and one simulated cluster) per test binary, started on first use and killed when the binary exits.

use std::sync::OnceLock;

use crate::{ControlPlane, ControlPlaneOptions, FakeNode, SimulatedCluster, TestenvError};

/// Runs a start-up future on a thread with its own runtime, so the result outlives the calling test's runtime.
fn start_on_own_runtime<T: Send + 'static>(
    start: impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<T, TestenvError>> + Send>>
    + Send
    + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("failed to build a tokio runtime: {e}"))?;
        runtime.block_on(start()).map_err(|e| error_chain(&e))
    })
    .join()
    .unwrap_or_else(|_| Err("the start-up thread panicked".to_string()))
}

/// The whole error chain, one cause a line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    text
}

/// The test binary's bare control plane (etcd + kube-apiserver, every CRD installed).
/// Panics with the reason and the fix when it cannot start: a missing control plane fails tests, never skips them.
pub fn shared_control_plane() -> &'static ControlPlane {
    static PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    match PLANE.get_or_init(|| {
        start_on_own_runtime(|| Box::pin(ControlPlane::start(ControlPlaneOptions::default())))
    }) {
        Ok(plane) => plane,
        Err(e) => panic!("the local control plane did not start: {e}"),
    }
}

/// The test binary's simulated cluster (three kwok nodes, one per zone of ap-northeast-2).
pub fn shared_simulated_cluster() -> &'static SimulatedCluster {
    static CLUSTER: OnceLock<Result<SimulatedCluster, String>> = OnceLock::new();
    match CLUSTER.get_or_init(|| {
        start_on_own_runtime(|| Box::pin(SimulatedCluster::start(FakeNode::eks_default_pool())))
    }) {
        Ok(cluster) => cluster,
        Err(e) => panic!("the simulated cluster did not start: {e}"),
    }
}
