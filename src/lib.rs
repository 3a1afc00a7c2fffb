//! tacos: installs the Traffic Tacos platform on Kubernetes in phases, the GitOps way, and keeps checking it stays there.

pub mod apply;
pub mod aws;
pub mod capacity;
pub mod cli;
pub mod cluster_guard;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod doctor;
pub mod exit;
pub mod git;
pub mod history;
pub mod k8s;
pub mod lint;
pub mod loadtest;
pub mod parallel;
pub mod phases;
pub mod repo;
pub mod report;
pub mod upstream;
pub mod verify;

use std::process::ExitCode;

use clap::Parser;

/// The whole program: parse, set up logging, run, map errors to exit codes (printed with their whole chain).
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // kube-rs, the AWS SDK and downloads share one TLS crypto provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TACOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("tacos={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(commands::use_color())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return exit::ExitStatus::BadInput.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            exit::status_of(&error).into()
        }
    }
}
