//! `scan-bench compare`: runs side by side.

use std::io::Write;

use crate::args::{CompareArgs, ReportFormat};
use crate::commands::report_files;
use crate::error::CliError;

/// Prints the reports side by side in the asked format.
pub fn compare(args: &CompareArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let runs = report_files::read_all(&args.reports)?;
    let labelled: Vec<(&str, &reports::RunReport)> =
        runs.iter().map(|(l, r)| (l.as_str(), r)).collect();
    let comparison = reports::compare::compare(&labelled);
    let text = report_files::format(args.format).renderer().comparison(&comparison).ok_or_else(|| {
        CliError::BadInput(format!(
            "compare --format {}: a comparison has no pass/fail to report; use `scan-bench gate --format junit`",
            match args.format {
                ReportFormat::Junit => "junit",
                _ => "this format",
            }
        ))
    })?;
    out.write_all(text.as_bytes())?;
    Ok(())
}
