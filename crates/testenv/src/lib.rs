//! A real local Kubernetes control plane, a kwok-simulated cluster and moto's AWS emulator on loopback, for tacos's tests and local runs.
//!
//! Binaries come from `testenv/install.sh` (built from Go modules, cached by version); this
//! crate only starts, wires and stops them. Nothing here fakes an API: every request goes to the
//! real kube-apiserver or the real moto server.

pub mod apply;
pub mod argocd;
pub mod aws;
pub mod aws_network;
pub mod aws_nodes;
pub mod binaries;
pub mod charts;
pub mod control_plane;
pub mod crds;
pub mod fixtures;
pub mod git;
pub mod http_files;
pub mod lab;
pub mod metrics;
mod pki;
pub mod play;
pub mod players;
mod process;
pub mod shared;
pub mod simulated;
pub mod tacos_command;
pub mod upstream;
pub mod vpa;

pub use aws::AwsEmulator;
pub use binaries::Binaries;
pub use control_plane::{ControlPlane, ControlPlaneOptions};
pub use shared::{shared_control_plane, shared_simulated_cluster};
pub use simulated::{FakeNode, SimulatedCluster};
pub use tacos_command::{Run, TacosCommand};

/// Everything that can go wrong while setting up the test environment.
#[derive(Debug, thiserror::Error)]
pub enum TestenvError {
    #[error(
        "{what} not found at {path}: run `testenv/install.sh` (the README's test command runs it)"
    )]
    MissingBinary {
        what: String,
        path: std::path::PathBuf,
    },
    #[error("failed to start {what}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not become ready within {seconds} s; its log ({log}) ends with:\n{tail}")]
    NotReady {
        what: String,
        seconds: u64,
        log: std::path::PathBuf,
        tail: String,
    },
    #[error("failed to {action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to {action}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to create test certificates")]
    Pki(#[from] rcgen::Error),
    #[error("failed to parse {path}: {message}")]
    Parse {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("{what} did not happen within {seconds} s")]
    Timeout { what: String, seconds: u64 },
    #[error("failed to watch {what}")]
    Watch {
        what: String,
        #[source]
        source: kube::runtime::wait::Error,
    },
    #[error("upstream material at {path}: {message}")]
    Upstream {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("AWS emulator: failed to {action}: {message}")]
    Aws { action: String, message: String },
}

pub type Result<T, E = TestenvError> = std::result::Result<T, E>;

pub(crate) fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestenvError {
    let action = action.into();
    move |source| TestenvError::Io { action, source }
}

pub(crate) fn kube_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> TestenvError {
    let action = action.into();
    move |source| TestenvError::Kube { action, source }
}

/// An HTTP client for the emulator. reqwest is built with rustls but no crypto provider of its
/// own (tacos installs aws-lc-rs at start-up), so install the same one here first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::new()
}

/// A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed before returning).
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(io_err("bind a free loopback port"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("read the bound port"))?
        .port();
    Ok(port)
}
