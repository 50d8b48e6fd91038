//! `scan-bench run`: resolve the scenario, run it, write the report, judge the thresholds.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use loadgen::engine::RunOptions;
use loadgen::live::LiveMetrics;
use loadgen::measure::LiveView;
use reports::RunReport;
use reports::gate::{GateConfig, GateVerdict};
use reports::render::Format;
use scenarios::{Scenario, Shard, catalog};

use crate::args::RunArgs;
use crate::commands::report_files;
use crate::commands::signals::{self, Stop};
use crate::error::{CliError, exit};

/// Runs the scenario; the exit code says whether thresholds held.
pub fn run(args: &RunArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let settings = Settings::resolve(args)?;
    let (runtime, stop) = signals::measuring_runtime()?;
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let report = runtime.block_on(measure(args, &settings, &stop, show_progress));
    if show_progress {
        eprint!("\r\x1b[K");
    }
    let report = report?;
    let verdict = match &settings.baseline {
        Some((label, base, config)) => {
            let this = report_files::label(&settings.dir.join("report.json"));
            let candidate = (this.as_str(), &report);
            Some(reports::gate::gate((label, base), candidate, config)?)
        }
        None => None,
    };
    if !write_reports(args, &settings, &report, verdict.as_ref(), out)? {
        return Ok(exit::RUNTIME);
    }
    // A shard's thresholds say little about the whole load: they are judged on the merged
    // report (`scan-bench merge`), so a shard fails only when it could not run.
    let judged = settings.shard.count == 1;
    let held = !judged || reports::thresholds::all_passed(&report.thresholds);
    Ok(if report.partial {
        stop.exit_code()
    } else if held && verdict.is_none_or(|v| v.passed) {
        exit::OK
    } else {
        exit::THRESHOLDS
    })
}

/// Everything `run` needs, checked before any load: a bad baseline, tolerance or output
/// directory is found before the run, not after it.
struct Settings {
    scenario: Scenario,
    shard: Shard,
    baseline: Option<(String, RunReport, GateConfig)>,
    /// Where the reports go.
    dir: PathBuf,
    /// `<scenario>-<timestamp>`: the default directory's name, and the fallback's.
    run_name: String,
}

impl Settings {
    fn resolve(args: &RunArgs) -> Result<Self, CliError> {
        let name = args
            .scenario
            .as_deref()
            .unwrap_or(catalog::DEFAULT_SCENARIO);
        let overrides = args.scenario_flags.overrides(args.vus);
        let scenario = scenarios::open(name)?.resolve(&overrides)?;
        let shard = match &args.shard {
            Some(text) => text
                .parse()
                .map_err(|e: String| CliError::BadInput(format!("--shard: {e}")))?,
            None => Shard::WHOLE,
        };
        if shard.count > 1 && args.baseline.is_some() {
            return Err(CliError::BadInput(
                "--baseline judges a whole run: gate the merged report of the shards instead"
                    .into(),
            ));
        }
        let baseline = match &args.baseline {
            Some(path) => Some((
                report_files::label(path),
                RunReport::read(path)?,
                report_files::gate_config(&args.gate)?,
            )),
            None => None,
        };
        let run_name = format!("{}-{}", scenario.name, timestamp());
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("scan-bench-results").join(&run_name));
        report_files::check_writable(&dir)?;
        Ok(Self {
            scenario,
            shard,
            baseline,
            dir,
            run_name,
        })
    }
}

/// The run itself, with live metrics when asked, to its report.
async fn measure(
    args: &RunArgs,
    settings: &Settings,
    stop: &Stop,
    show_progress: bool,
) -> Result<RunReport, CliError> {
    let live = match args.metrics_listen {
        Some(addr) => {
            let live = Arc::new(LiveMetrics::new(&settings.scenario.stream.stages));
            let bound = live
                .clone()
                .serve(addr, stop.drain.child_token())
                .await
                .map_err(|e| {
                    CliError::BadInput(format!("--metrics-listen: cannot listen on {addr}: {e}"))
                })?;
            eprintln!("scan-bench: live metrics on http://{bound}/metrics");
            Some(live)
        }
        None => None,
    };
    let options = RunOptions {
        shard: settings.shard,
        stop: stop.drain.clone(),
        cut: stop.cut.clone(),
        live,
        on_live: Box::new(move |elapsed, total, vus, live| {
            if show_progress {
                progress_line(elapsed, total, vus, live);
            }
        }),
    };
    loadgen::scenario_run::run_scenario(&settings.scenario, options)
        .await
        .map_err(|e| CliError::Run(e.to_string()))
}

/// Writes the report files, then the summary whatever became of them; false when they had to
/// go to the fallback directory.
fn write_reports(
    args: &RunArgs,
    settings: &Settings,
    report: &RunReport,
    verdict: Option<&GateVerdict>,
    out: &mut dyn Write,
) -> Result<bool, CliError> {
    let fallback = std::env::temp_dir().join(format!("scan-bench-{}", settings.run_name));
    let written = report_files::write_run_or_fallback(
        &settings.dir,
        &fallback,
        report,
        verdict,
        &args.format,
    );
    let summary = Format::Terminal.renderer().run(report, verdict);
    write!(out, "{summary}")?;
    writeln!(out)?;
    let written = written?;
    for path in &written.files {
        writeln!(out, "report: {}", path.display())?;
    }
    if let Some(refused) = written.fallback_because {
        eprintln!(
            "scan-bench: cannot write the reports where asked: {refused}\nscan-bench: they were written to {} instead",
            fallback.display()
        );
        return Ok(false);
    }
    Ok(true)
}

/// Now, in UTC, as `20250102T030405`.
pub(super) fn timestamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect()
}

fn progress_line(elapsed: Duration, total: Duration, vus: u64, live: &LiveView) {
    let overloaded = if live.timer_lag > loadgen::engine::LAG_BOUND {
        format!(
            "  OVERLOADED: timers {}ms late, latencies inflated",
            live.timer_lag.as_millis()
        )
    } else {
        String::new()
    };
    let pair = |p: Option<(f64, f64)>| {
        p.map_or("-".to_owned(), |(a, b)| {
            format!("{}/{}", reports_ms(a), reports_ms(b))
        })
    };
    eprint!(
        "\r\x1b[K{:>6.1}s/{:.1}s  vus {vus:>4}  done {:>6}  failed {:>5}  chain p50/p95 {}  ttfb p50/p95 {}{overloaded}",
        elapsed.as_secs_f64(),
        total.as_secs_f64(),
        live.ended,
        live.failed,
        pair(live.chain_p50_p95),
        pair(live.ttfb_p50_p95),
    );
}

fn reports_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else {
        format!("{v:.0}ms")
    }
}
