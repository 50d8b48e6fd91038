//! Errors of the command line and the exit code each one maps to.

use std::process::ExitCode;

/// The exit codes: 0 ok, 1 runtime error, 2 bad usage or input, 99 thresholds or gate failed
/// (k6's code); a run stopped by a signal exits 128 + the signal's number, as shells report
/// it: 130 SIGINT, 143 SIGTERM, 129 SIGHUP (what was measured is written first).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Something failed while running, or the reports could not be written where asked.
    pub const RUNTIME: u8 = 1;
    /// Bad usage or bad input; nothing was run.
    pub const USAGE: u8 = 2;
    /// Thresholds or the gate failed (k6's code).
    pub const THRESHOLDS: u8 = 99;
    /// Stopped by SIGHUP; a partial report was written.
    pub const SIGHUP: u8 = 129;
    /// Stopped by SIGINT (Ctrl-C); a partial report was written.
    pub const SIGINT: u8 = 130;
    /// Stopped by SIGTERM; a partial report was written.
    pub const SIGTERM: u8 = 143;
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A scenario is missing or invalid.
    #[error(transparent)]
    Scenario(#[from] scenarios::ScenarioError),
    /// Several inputs were bad.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<CliError>),
    /// An input other than a scenario is bad (a server config, a flag).
    #[error("{0}")]
    BadInput(String),
    /// The run failed.
    #[error("{0}")]
    Run(String),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// An input report is missing, not a report, or of another schema version.
    #[error(transparent)]
    Report(#[from] reports::ReportError),
    /// The gate's settings are bad.
    #[error(transparent)]
    Gate(#[from] reports::gate::GateError),
    /// Shard reports that do not belong together.
    #[error(transparent)]
    Merge(#[from] reports::merge::MergeError),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Scenario(_)
            | CliError::BadInput(_)
            | CliError::Report(_)
            | CliError::Gate(_)
            | CliError::Merge(_) => exit::USAGE,
            CliError::Many(errors) => {
                if errors
                    .iter()
                    .all(|e| matches!(e, CliError::Scenario(_) | CliError::Report(_)))
                {
                    exit::USAGE
                } else {
                    exit::RUNTIME
                }
            }
            CliError::Output(_) | CliError::Run(_) => exit::RUNTIME,
        })
    }
}
