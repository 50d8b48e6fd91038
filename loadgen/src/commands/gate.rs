//! `scan-bench gate`: judge a candidate run against a baseline run.

use std::io::Write;

use crate::args::GateArgs;
use crate::commands::report_files;
use crate::error::{CliError, exit};

/// Prints the verdict; exit 0 when the candidate holds, 99 when it regressed or failed a
/// threshold.
pub fn gate(args: &GateArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = report_files::gate_config(&args.options)?;
    let mut runs = report_files::read_all(&[args.baseline.clone(), args.candidate.clone()])?;
    let (candidate_label, candidate) = runs.pop().expect("two reports read");
    let (baseline_label, baseline) = runs.pop().expect("two reports read");
    let verdict = reports::gate::gate(
        (&baseline_label, &baseline),
        (&candidate_label, &candidate),
        &config,
    )?;
    out.write_all(
        report_files::format(args.format)
            .renderer()
            .gate(&verdict)
            .as_bytes(),
    )?;
    Ok(if verdict.passed {
        exit::OK
    } else {
        exit::THRESHOLDS
    })
}
