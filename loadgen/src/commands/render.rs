//! Report files: reading the reports a command is given, naming them, and writing a run's
//! report in the formats asked for.

use std::path::{Path, PathBuf};

use reports::RunReport;
use reports::gate::{GateConfig, GateVerdict};
use reports::render::Format;

use crate::args::{GateOptions, ReportFormat};
use crate::error::CliError;

/// The renderer format of a command-line format.
pub fn format(format: ReportFormat) -> Format {
    match format {
        ReportFormat::Term => Format::Terminal,
        ReportFormat::Md => Format::Markdown,
        ReportFormat::Html => Format::Html,
        ReportFormat::Junit => Format::Junit,
        ReportFormat::Json => Format::Json,
    }
}

/// How a report file is named in tables: its directory for `DIR/report.json` (what `run
/// --out DIR` writes), else its file name without `.json`.
pub fn label(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned());
    match (stem, parent) {
        (Some(stem), Some(parent)) if stem == "report" => parent,
        (Some(stem), _) => stem,
        _ => path.display().to_string(),
    }
}

/// Reads every report, reporting every bad one; labels are made unique.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<(String, RunReport)>, CliError> {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match RunReport::read(path) {
            Ok(report) => reports.push((label(path), report)),
            Err(e) => errors.push(CliError::Report(e)),
        }
    }
    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0)),
        _ => return Err(CliError::Many(errors)),
    }
    let labels: Vec<String> = reports.iter().map(|(l, _)| l.clone()).collect();
    for ((label, _), path) in reports.iter_mut().zip(paths) {
        if labels.iter().filter(|l| *l == label).count() > 1 {
            *label = path.display().to_string();
        }
    }
    Ok(reports)
}

/// The gate's configuration from its flags.
pub fn gate_config(options: &GateOptions) -> Result<GateConfig, CliError> {
    Ok(GateConfig {
        tolerances: reports::gate::parse_tolerances(&options.tolerance)?,
        min_delta_ms: options.min_delta.as_secs_f64() * 1000.0,
        ..GateConfig::default()
    })
}

/// Writes a run's report in each asked format beside `report.json` (which is always written);
/// a gated run also gets `gate.json`. Returns the files written.
pub fn write_run(
    dir: &Path,
    report: &RunReport,
    gate: Option<&GateVerdict>,
    formats: &[ReportFormat],
) -> Result<Vec<PathBuf>, CliError> {
    let write = |name: &str, text: &str| -> Result<PathBuf, CliError> {
        let path = dir.join(name);
        reports::write_atomic(&path, text.as_bytes()).map_err(|e| CliError::Run(e.to_string()))?;
        Ok(path)
    };
    let mut written = vec![write(
        Format::Json.file_name(),
        &Format::Json.renderer().run(report, None),
    )?];
    let mut done = vec![Format::Json];
    for f in formats.iter().copied().map(format) {
        // The terminal text goes to stdout; no need for a file.
        if f != Format::Terminal && !done.contains(&f) {
            written.push(write(f.file_name(), &f.renderer().run(report, gate))?);
            done.push(f);
        }
    }
    if let Some(verdict) = gate {
        written.push(write("gate.json", &Format::Json.renderer().gate(verdict))?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_run() {
        assert_eq!(label(Path::new("out/base/report.json")), "base");
        assert_eq!(label(Path::new("ci/baseline/ci-smoke.json")), "ci-smoke");
        assert_eq!(label(Path::new("report.json")), "report");
    }
}
