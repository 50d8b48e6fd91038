//! `scan-bench`: load-test an LLM-backed SSE pipeline.

mod args;
mod commands;
mod error;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match &cli.command {
        Command::List => commands::list(&mut out),
        Command::Show(args) => commands::show(args, &mut out),
        Command::Validate(args) => commands::validate(args, &mut out),
        Command::Run(_) => commands::not_built("run"),
        Command::Compare(_) => commands::not_built("compare"),
        Command::Gate(_) => commands::not_built("gate"),
        Command::Merge(_) => commands::not_built("merge"),
        Command::Reproduce(_) => commands::not_built("reproduce"),
        Command::Serve(_) => commands::not_built("serve"),
    };
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scan-bench: {e}");
            e.exit_code()
        }
    }
}
