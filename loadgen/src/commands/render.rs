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

/// Writes a run's report as `report.json`, and in each asked format beside it; a gated run
/// also gets `gate.json`. Returns the files written.
pub fn write_run(
    dir: &Path,
    report: &RunReport,
    gate: Option<&GateVerdict>,
    formats: &[ReportFormat],
) -> Result<Vec<PathBuf>, CliError> {
    let json = Format::Json.renderer().run(report, None);
    let mut written = vec![write(&dir.join(Format::Json.file_name()), &json)?];
    written.extend(write_formats(dir, report, gate, formats)?);
    if let Some(verdict) = gate {
        let json = Format::Json.renderer().gate(verdict);
        written.push(write(&dir.join("gate.json"), &json)?);
    }
    Ok(written)
}

/// Writes the report in each asked format but JSON (written by the caller) and terminal text
/// (printed), under the format's file name in `dir`. Returns the files written.
pub fn write_formats(
    dir: &Path,
    report: &RunReport,
    gate: Option<&GateVerdict>,
    formats: &[ReportFormat],
) -> Result<Vec<PathBuf>, CliError> {
    let mut written = Vec::new();
    let mut done = vec![Format::Json, Format::Terminal];
    for f in formats.iter().copied().map(format) {
        if !done.contains(&f) {
            written.push(write(
                &dir.join(f.file_name()),
                &f.renderer().run(report, gate),
            )?);
            done.push(f);
        }
    }
    Ok(written)
}

fn write(path: &Path, text: &str) -> Result<PathBuf, CliError> {
    reports::write_atomic(path, text.as_bytes()).map_err(|e| CliError::Run(e.to_string()))?;
    Ok(path.to_owned())
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
