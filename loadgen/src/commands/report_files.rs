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

/// How report files are named in tables: the directory of `DIR/report.json` (what `run --out
/// DIR` writes), else the file name without `.json`; where two names collide, as many parent
/// directories as tell them apart (`base/01`, `slow/01`).
pub fn labels(paths: &[PathBuf]) -> Vec<String> {
    // Name components, nearest first: `runs/base/report.json` gives [base, runs].
    let parts: Vec<Vec<String>> = paths
        .iter()
        .map(|path| {
            let mut parts: Vec<String> = path
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            match parts.pop() {
                Some(file) if file != "report.json" || parts.is_empty() => {
                    parts.push(file.strip_suffix(".json").unwrap_or(&file).to_owned())
                }
                _ => {}
            }
            parts.reverse();
            parts
        })
        .collect();
    let name = |parts: &[String], depth: usize| {
        let mut shown: Vec<&str> = parts.iter().take(depth).map(String::as_str).collect();
        shown.reverse();
        shown.join("/")
    };
    let mut depths = vec![1; paths.len()];
    loop {
        let names: Vec<String> = parts
            .iter()
            .zip(&depths)
            .map(|(p, d)| name(p, *d))
            .collect();
        let mut deepened = false;
        for i in 0..names.len() {
            // The same file twice cannot be told apart, however deep one looks.
            let clash = names
                .iter()
                .enumerate()
                .any(|(j, n)| *n == names[i] && parts[j] != parts[i]);
            if clash && depths[i] < parts[i].len() {
                depths[i] += 1;
                deepened = true;
            }
        }
        if !deepened {
            return names;
        }
    }
}

/// The label of one report file (see [`labels`]).
pub fn label(path: &Path) -> String {
    labels(&[path.to_owned()]).remove(0)
}

/// Reads every report, reporting every bad one; each comes with its label.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<(String, RunReport)>, CliError> {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for (path, label) in paths.iter().zip(labels(paths)) {
        match RunReport::read(path) {
            Ok(report) => reports.push((label, report)),
            Err(e) => errors.push(CliError::Report(e)),
        }
    }
    match errors.len() {
        0 => Ok(reports),
        1 => Err(errors.remove(0)),
        _ => Err(CliError::Many(errors)),
    }
}

/// The gate's configuration from its flags.
pub fn gate_config(options: &GateOptions) -> Result<GateConfig, CliError> {
    Ok(GateConfig {
        tolerances: reports::gate::parse_tolerances(&options.tolerance)?,
        min_delta_ms: options.min_delta.as_secs_f64() * 1000.0,
        ..GateConfig::default()
    })
}

/// Makes `dir` and writes and removes a file in it, so that a run whose reports could not be
/// written is refused before it starts, not after it measured.
pub fn check_writable(dir: &Path) -> Result<(), CliError> {
    let refused = |e: std::io::Error| {
        CliError::BadInput(format!(
            "cannot write reports to {} (--out): {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(refused)?;
    let probe = dir.join(format!(".scan-bench-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(refused)?;
    std::fs::remove_file(&probe).map_err(refused)
}

/// Where a run's reports went.
#[derive(Debug)]
pub struct Written {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// Why they are in the fallback directory instead of the one asked for.
    pub fallback_because: Option<CliError>,
}

/// Writes a run's reports to `dir` as [`write_run`] does; when that fails (the directory was
/// checked before the run, but may have gone since), to `fallback` instead, so that what was
/// measured is not lost.
pub fn write_run_or_fallback(
    dir: &Path,
    fallback: &Path,
    report: &RunReport,
    gate: Option<&GateVerdict>,
    formats: &[ReportFormat],
) -> Result<Written, CliError> {
    match write_run(dir, report, gate, formats) {
        Ok(files) => Ok(Written {
            files,
            fallback_because: None,
        }),
        Err(refused) => match write_run(fallback, report, gate, formats) {
            Ok(files) => Ok(Written {
                files,
                fallback_because: Some(refused),
            }),
            Err(also) => Err(CliError::Many(vec![refused, also])),
        },
    }
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

    /// A real report, from the repository's CI baseline.
    fn baseline() -> RunReport {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/baseline/ci-smoke.json");
        RunReport::read(&path).unwrap()
    }

    #[test]
    fn a_directory_under_a_file_is_refused_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file.txt");
        std::fs::write(&file, "x").unwrap();
        let dir = file.join("sub");
        let error = check_writable(&dir).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&dir.display().to_string()), "{message}");
        assert!(matches!(error, CliError::BadInput(_)), "exit 2: {error:?}");
        check_writable(&tmp.path().join("new/dir")).unwrap();
        assert_eq!(
            std::fs::read_dir(tmp.path().join("new/dir"))
                .unwrap()
                .count(),
            0,
            "the probe file is removed"
        );
    }

    #[test]
    fn reports_that_cannot_go_where_asked_go_to_the_fallback() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file.txt");
        std::fs::write(&file, "x").unwrap();
        let fallback = tmp.path().join("fallback");
        let report = baseline();
        let written = write_run_or_fallback(
            &file.join("out"),
            &fallback,
            &report,
            None,
            &[ReportFormat::Md],
        )
        .unwrap();
        assert_eq!(
            written.files,
            [fallback.join("report.json"), fallback.join("report.md")]
        );
        let why = written.fallback_because.expect("the fallback was used");
        assert!(why.to_string().contains("file.txt"), "{why}");
        assert_eq!(RunReport::read(&written.files[0]).unwrap(), report);

        let written =
            write_run_or_fallback(&tmp.path().join("ok"), &fallback, &report, None, &[]).unwrap();
        assert_eq!(written.files, [tmp.path().join("ok/report.json")]);
        assert!(written.fallback_because.is_none());

        let nowhere = file.join("fallback");
        let error =
            write_run_or_fallback(&file.join("out"), &nowhere, &report, None, &[]).unwrap_err();
        assert!(
            matches!(error, CliError::Many(ref e) if e.len() == 2),
            "{error:?}"
        );
    }

    #[test]
    fn labels_name_the_run() {
        assert_eq!(label(Path::new("out/base/report.json")), "base");
        assert_eq!(label(Path::new("ci/baseline/ci-smoke.json")), "ci-smoke");
        assert_eq!(label(Path::new("report.json")), "report");
        let paths = [
            "/tmp/base/01/report.json",
            "/tmp/slow/01/report.json",
            "b/02/report.json",
            "x.json",
        ];
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        assert_eq!(labels(&paths), ["base/01", "slow/01", "02", "x"]);
        let same = vec![
            PathBuf::from("x/a/report.json"),
            PathBuf::from("x/a/report.json"),
        ];
        assert_eq!(
            labels(&same),
            ["a", "a"],
            "one file twice cannot be told apart"
        );
    }
}
