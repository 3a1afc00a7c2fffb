//! One module per subcommand: each turns parsed arguments into work and an exit status.

pub mod lint;
pub mod plan;

use std::io::IsTerminal;

use crate::cli::{Cli, Command, OutputFormat};
use crate::exit::{ExitStatus, StatusError};

/// Whether to colour output: a terminal, and NO_COLOR unset.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let global = &cli.global;
    match &cli.command {
        Command::Lint(args) => lint::run(global, args),
        Command::Plan { phase } => plan::run(global, *phase),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "tacos", &mut std::io::stdout());
            Ok(ExitStatus::Clean)
        }
        Command::Deploy(_) | Command::Gateway(_) | Command::Argocd(_) | Command::Apps(_) | Command::Verify { .. } | Command::Doctor | Command::Diff { .. } => {
            Err(StatusError::bad_input("this command is not built yet: `tacos lint` and `tacos plan` work today; deploy, diff, verify and doctor are on the way (see the README)").into())
        }
    }
}

/// Refuses an output format the command does not have.
pub fn require_output(
    format: OutputFormat,
    allowed: &[OutputFormat],
    command: &str,
) -> Result<(), StatusError> {
    if allowed.contains(&format) {
        Ok(())
    } else {
        let names: Vec<String> = allowed
            .iter()
            .map(|f| format!("{f:?}").to_lowercase())
            .collect();
        Err(StatusError::bad_input(format!(
            "`tacos {command}` writes --output {}, not {}",
            names.join(", "),
            format!("{format:?}").to_lowercase()
        )))
    }
}
