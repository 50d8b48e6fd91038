//! `scan-bench`: load-test an LLM-backed SSE pipeline.

mod args;
mod commands;
mod error;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The embedded mock's and pipeline's logs, on request (`RUST_LOG=reference_pipeline=info`).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    // Not locked for the whole command: goose's logger writes to stdout from the runtime's
    // threads while a run is in progress.
    let mut out = std::io::stdout();
    let done = |r: Result<(), CliError>| r.map(|()| error::exit::OK);
    let result = match &cli.command {
        Command::List => done(commands::list(&mut out)),
        Command::Show(args) => done(commands::show(args, &mut out)),
        Command::Validate(args) => done(commands::validate(args, &mut out)),
        Command::Run(args) => commands::run(args, &mut out),
        Command::Compare(args) => done(commands::compare(args, &mut out)),
        Command::Gate(args) => commands::gate(args, &mut out),
        Command::Merge(args) => commands::merge(args, &mut out),
        Command::Reproduce(args) => commands::reproduce(args, &mut out),
        Command::Sweep(args) => commands::sweep(args, &mut out),
        Command::Serve(args) => done(commands::serve(args, &mut out)),
    };
    let _ = out.flush();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("scan-bench: {e}");
            e.exit_code()
        }
    }
}
