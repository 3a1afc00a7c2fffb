//! Exit statuses and how errors map to them.

use std::process::ExitCode;

/// What a run ended with; each maps to one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing at or above `--fail-on` (diff: no changes).
    Clean,
    /// Findings at or above `--fail-on` (diff: changes).
    Findings,
    /// Bad usage or bad input.
    BadInput,
    /// The cluster or AWS could not be reached.
    Unreachable,
    /// Stopped by Ctrl-C.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Findings => 1,
            ExitStatus::BadInput => 2,
            ExitStatus::Unreachable => 3,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// An error that says which exit status it ends the run with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    pub status: ExitStatus,
    pub message: String,
}

impl StatusError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::BadInput,
            message: message.into(),
        }
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Unreachable,
            message: message.into(),
        }
    }
}

/// The exit status an error ends the run with: bad input for problems in what the user gave,
/// unreachable for connection failures, bad input otherwise.
pub fn status_of(error: &anyhow::Error) -> ExitStatus {
    // anyhow finds a StatusError attached as context; chain() covers one wrapped as a source.
    if let Some(status) = error.downcast_ref::<StatusError>() {
        return status.status;
    }
    for cause in error.chain() {
        if let Some(status) = cause.downcast_ref::<StatusError>() {
            return status.status;
        }
    }
    ExitStatus::BadInput
}
