//! `scan-bench reproduce eco2`: the seed's published tests run on the embedded stack, their
//! Grafana panels computed from the pipeline's `/metrics` with the dashboard's formulas, and
//! set beside the published figures; with `--compare-architectures`, the authors' "what next"
//! list measured under the same load.

mod architectures;
mod figures;
mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use loadgen::engine::RunOptions;
use reports::RunReport;
use scenarios::published::{ECO2_TESTS, V1_THREADPOOL};
use scenarios::{Overrides, Scenario, Shard};

use crate::args::ReproduceArgs;
use crate::commands::render::check_writable;
use crate::commands::signals::Stop;
use crate::error::{CliError, exit};

use self::architectures::{ArchitectureRow, VARIANTS};
use self::render::Reproduction;

/// The time scale that runs the three three-minute tests and the v1.0.0 table in well under a
/// minute.
const DEFAULT_TIME_SCALE: f64 = 0.05;

/// The published test whose load the architectures are compared under (test #2).
const COMPARISON_SCENARIO: &str = "eco2-vu34";

/// Runs the published tests and prints published and local figures side by side; exits with
/// the signal's code when a signal stopped it (what was measured is written).
pub fn reproduce(args: &ReproduceArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let time_scale = args.time_scale.unwrap_or(DEFAULT_TIME_SCALE);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("scan-bench-results").join("reproduce-eco2"));
    check_writable(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    let stop = Stop::install(&runtime)?;
    let overrides = Overrides {
        time_scale: Some(time_scale),
        ..Overrides::default()
    };
    let run = |scenario: &Scenario, path: &Path| -> Result<RunReport, CliError> {
        let options = RunOptions {
            shard: Shard::WHOLE,
            stop: stop.drain.child_token(),
            cut: stop.cut.child_token(),
            live: None,
            on_live: Box::new(|_, _, _, _| {}),
        };
        let report = runtime
            .block_on(loadgen::run::run(scenario, options))
            .map_err(|e| CliError::Run(e.to_string()))?;
        report
            .write_atomic(path)
            .map_err(|e| CliError::Run(e.to_string()))?;
        Ok(report)
    };

    let mut pairs = Vec::new();
    for test in &ECO2_TESTS {
        if stop.drain.is_cancelled() {
            break;
        }
        eprintln!(
            "scan-bench: test #{} ({}, {} VUs)",
            test.id, test.scenario, test.vus
        );
        let scenario = scenarios::open(test.scenario)?.resolve(&overrides)?;
        let report = run(&scenario, &dir.join(test.scenario).join("report.json"))?;
        pairs.extend(figures::eco2_pairs(test, &report));
    }
    for published in &V1_THREADPOOL {
        if stop.drain.is_cancelled() {
            break;
        }
        eprintln!(
            "scan-bench: v1.0.0, {} users ({})",
            published.users, published.scenario
        );
        let scenario = scenarios::open(published.scenario)?.resolve(&overrides)?;
        let report = run(&scenario, &dir.join(published.scenario).join("report.json"))?;
        pairs.extend(figures::v1_pairs(published, &report));
    }
    let architectures = if args.compare_architectures {
        let mut rows = Vec::new();
        for variant in VARIANTS {
            if stop.drain.is_cancelled() {
                break;
            }
            eprintln!("scan-bench: architecture {}", variant.name);
            let overrides = Overrides {
                vus: variant.vus,
                ..overrides.clone()
            };
            let mut scenario = scenarios::open(COMPARISON_SCENARIO)?.resolve(&overrides)?;
            (variant.apply)(&mut scenario);
            scenario.name = format!("{COMPARISON_SCENARIO}-{}", variant.name);
            let path = dir
                .join("architectures")
                .join(variant.name)
                .join("report.json");
            rows.push(ArchitectureRow::new(variant, &run(&scenario, &path)?));
        }
        Some(rows)
    } else {
        None
    };

    let reproduction = Reproduction {
        time_scale,
        reports_dir: dir.display().to_string(),
        pairs,
        architectures,
    };
    write(
        &dir.join("reproduction.json"),
        serde_json::to_vec_pretty(&reproduction),
    )?;
    write(
        &dir.join("reproduction.md"),
        Ok(render::markdown(&reproduction).into_bytes()),
    )?;
    write(
        &dir.join("reproduction.html"),
        Ok(render::html(&reproduction).into_bytes()),
    )?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &reproduction.pairs)
            .map_err(|e| CliError::Run(e.to_string()))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render::terminal(&reproduction))?;
    }
    Ok(if stop.drain.is_cancelled() {
        stop.exit_code()
    } else {
        exit::OK
    })
}

fn write(path: &Path, bytes: serde_json::Result<Vec<u8>>) -> Result<(), CliError> {
    let bytes = bytes.map_err(|e| CliError::Run(e.to_string()))?;
    reports::write_atomic(path, &bytes).map_err(|e| CliError::Run(e.to_string()))
}
