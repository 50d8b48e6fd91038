//! `scan-bench merge`: shard reports into the report of the whole run.

use std::io::Write;

use crate::args::MergeArgs;
use crate::commands::report_files;
use crate::error::{CliError, exit};

/// Writes the merged report and prints its summary; exit 99 when its thresholds fail.
pub fn merge(args: &MergeArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let shards = report_files::read_all(&args.shards)?;
    let labelled: Vec<(&str, &reports::RunReport)> =
        shards.iter().map(|(l, r)| (l.as_str(), r)).collect();
    let merged = reports::merge::merge(&labelled)?;
    merged
        .write_atomic(&args.output)
        .map_err(|e| CliError::Run(e.to_string()))?;
    write!(out, "{}", reports::render::terminal(&merged))?;
    writeln!(
        out,
        "\nmerged {} shard reports into {}",
        shards.len(),
        args.output.display()
    )?;
    let dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    for path in report_files::write_formats(dir, &merged, None, &args.format)? {
        writeln!(out, "report: {}", path.display())?;
    }
    Ok(if reports::thresholds::all_passed(&merged.thresholds) {
        exit::OK
    } else {
        exit::THRESHOLDS
    })
}
