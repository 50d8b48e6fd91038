//! `scan-bench reproduce eco2`: the seed's three published tests run locally, their Grafana
//! panels computed from the pipeline's `/metrics` with the dashboard's formulas, and set beside
//! the published figures.

use std::io::Write;
use std::path::PathBuf;

use loadgen::engine::RunOptions;
use reports::RunReport;
use scenarios::published::{ECO2_TESTS, PublishedTest};
use scenarios::{Overrides, Shard};
use tabled::builder::Builder;
use tabled::settings::Style;
use tokio_util::sync::CancellationToken;

use crate::args::ReproduceArgs;
use crate::error::CliError;

/// The time scale that runs the three three-minute tests in about half a minute.
const DEFAULT_TIME_SCALE: f64 = 0.05;

/// Runs the published tests and prints published and local figures side by side.
pub fn reproduce(args: &ReproduceArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let time_scale = args.time_scale.unwrap_or(DEFAULT_TIME_SCALE);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("scan-bench-results").join("reproduce-eco2"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    let mut runs = Vec::new();
    for test in &ECO2_TESTS {
        let overrides = Overrides {
            time_scale: Some(time_scale),
            ..Overrides::default()
        };
        let scenario = scenarios::open(test.scenario)?.resolve(&overrides)?;
        eprintln!(
            "scan-bench: test #{} ({}, {} VUs) at time scale {time_scale}",
            test.id, test.scenario, test.vus
        );
        let options = RunOptions {
            shard: Shard::WHOLE,
            stop: CancellationToken::new(),
            live: None,
            on_live: Box::new(|_, _, _, _| {}),
        };
        let report = runtime
            .block_on(loadgen::run::run(&scenario, options))
            .map_err(|e| CliError::Run(e.to_string()))?;
        let path = dir.join(test.scenario).join("report.json");
        report
            .write_atomic(&path)
            .map_err(|e| CliError::Run(e.to_string()))?;
        runs.push((test, report));
    }
    writeln!(out, "{}", table(&runs))?;
    writeln!(
        out,
        "local figures are divided back by the time scale ({time_scale}); server panels use the seed's \
         formulas over the pipeline's /metrics; reports in {}",
        dir.display()
    )?;
    Ok(())
}

fn table(runs: &[(&PublishedTest, RunReport)]) -> String {
    let mut b = Builder::default();
    let mut head = vec!["panel".to_owned()];
    for (test, _) in runs {
        head.push(format!("#{} published", test.id));
        head.push(format!("#{} local", test.id));
    }
    b.push_record(head);
    let secs = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2} s"));
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0));
    let num = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    type Row = (
        &'static str,
        fn(&PublishedTest) -> Option<f64>,
        fn(&RunReport) -> Option<f64>,
        u8,
    );
    let rows: [Row; 7] = [
        (
            "chain avg",
            |t| Some(t.chain_avg_s),
            |r| real(r, r.server.as_ref()?.chain_avg_s?),
            0,
        ),
        (
            "TTFB p50 (server)",
            |t| Some(t.ttfb_p50_s),
            |r| real(r, r.server.as_ref()?.ttfb_p50_s?),
            0,
        ),
        (
            "TTFB p95 (server)",
            |t| Some(t.ttfb_p95_s),
            |r| real(r, r.server.as_ref()?.ttfb_p95_s?),
            0,
        ),
        (
            "success panel",
            |t| Some(t.server_success),
            |r| r.server.as_ref()?.success_rate,
            1,
        ),
        (
            "client success (k6)",
            |t| Some(t.client_success),
            |r| {
                let t = &r.totals;
                (t.attempted > 0).then(|| t.completed as f64 / t.attempted as f64)
            },
            1,
        ),
        (
            "RPS",
            |t| Some(t.rps),
            |r| Some(r.server.as_ref()?.rps? * r.environment.time_scale),
            2,
        ),
        (
            "peak connections",
            |t| t.peak_connections.map(f64::from),
            |r| r.server.as_ref()?.peak_connections,
            2,
        ),
    ];
    for (name, published, local, kind) in rows {
        let show = |v| match kind {
            0 => secs(v),
            1 => pct(v),
            _ => num(v),
        };
        let mut row = vec![name.to_owned()];
        for (test, report) in runs {
            row.push(show(published(test)));
            row.push(show(local(report)));
        }
        b.push_record(row);
    }
    let mut table = b.build();
    table.with(Style::sharp());
    table.to_string()
}

/// A duration measured at the run's time scale, in real-time seconds.
fn real(report: &RunReport, scaled_s: f64) -> Option<f64> {
    Some(scaled_s / report.environment.time_scale)
}
