//! `scan-bench reproduce eco2`: Eco²'s published tests run on the embedded stack, their
//! Grafana panels computed from the pipeline's `/metrics` with the dashboard's formulas, and
//! set beside the published figures; with `--compare-architectures`, the authors' "what next"
//! list measured under the same load.

mod architectures;
mod dashboard;
mod figures;
mod later;
mod render;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use loadgen::prometheus::{Prometheus, PrometheusError, ScrapeTarget};
use loadgen::scrape::panel::PanelValues;

use loadgen::scenario_run::{self, Run, ScrapeSettings};
use loadgen::stack::EmbeddedStack;
use reports::RunReport;
use scenarios::published::{CHAIN_P99, ECO2_TESTS, LATER_RUNS, PublishedTest, V1_THREADPOOL};
use scenarios::{Overrides, Scenario};

use crate::args::ReproduceArgs;
use crate::commands::report_files::check_writable;
use crate::commands::signals::{self, Stop};
use crate::error::{CliError, exit};

use self::architectures::{ArchitectureRow, VARIANTS};
use self::dashboard::{Dashboard, ECO2_SCRAPE_INTERVAL_S};
use self::figures::Pair;
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
    if args.prometheus {
        // Before any run: a missing binary is bad input, not a failure halfway.
        loadgen::prometheus::Prometheus::binary()
            .map_err(|e| CliError::BadInput(format!("--prometheus: {e}")))?;
    }
    let runner = Runner::new(time_scale, dir.clone(), args.prometheus)?;
    let (pairs, dashboards) = published_pairs(&runner)?;
    let architectures = if args.compare_architectures {
        Some(architecture_rows(&runner)?)
    } else {
        None
    };
    let reproduction = Reproduction {
        time_scale,
        reports_dir: dir.display().to_string(),
        pairs,
        dashboards,
        architectures,
    };
    write_files(&dir, &reproduction)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &reproduction.pairs)
            .map_err(|e| CliError::Run(e.to_string()))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render::terminal(&reproduction))?;
    }
    Ok(if runner.stop.drain.is_cancelled() {
        runner.stop.exit_code()
    } else {
        exit::OK
    })
}

/// Runs the reproduction's scenarios one after the other at its time scale, each report kept
/// under the output directory; a stop signal ends the series after the current run.
struct Runner {
    runtime: tokio::runtime::Runtime,
    stop: Stop,
    overrides: Overrides,
    dir: PathBuf,
    /// Whether a real Prometheus scrapes Eco²'s tests (`--prometheus`).
    prometheus: bool,
}

impl Runner {
    fn new(time_scale: f64, dir: PathBuf, prometheus: bool) -> Result<Self, CliError> {
        let (runtime, stop) = signals::measuring_runtime()?;
        let overrides = Overrides {
            time_scale: Some(time_scale),
            ..Overrides::default()
        };
        Ok(Self {
            runtime,
            stop,
            overrides,
            dir,
            prometheus,
        })
    }

    /// Whether a stop signal came: start no further run.
    fn stopped(&self) -> bool {
        self.stop.drain.is_cancelled()
    }

    /// A catalog scenario at the reproduction's time scale (and `vus`, when given).
    fn scenario(&self, name: &str, vus: Option<u32>) -> Result<Scenario, CliError> {
        let overrides = Overrides {
            vus,
            ..self.overrides.clone()
        };
        Ok(scenarios::open(name)?.resolve(&overrides)?)
    }

    /// Runs one scenario and writes its report to `report` (below the output directory).
    fn run(&self, scenario: &Scenario, report: &Path) -> Result<RunReport, CliError> {
        signals::run_in_series(&self.runtime, &self.stop, scenario, &self.dir.join(report))
    }

    /// Runs one scenario keeping every scrape of the pipeline at Eco²'s scrape interval scaled
    /// by the time scale, and writes its report to `report`.
    fn run_scraped(&self, scenario: &Scenario, report: &Path) -> Result<Run, CliError> {
        let (run, _) = self.run_watched(scenario, report, None)?;
        Ok(run)
    }

    /// One of Eco²'s tests, scraped; with `--prometheus`, a real Prometheus scrapes the
    /// pipeline too, and its answers to the dashboard's queries at the test's instant come
    /// with the run.
    fn run_test(&self, test: &PublishedTest) -> Result<(Run, Option<Answers>), CliError> {
        let scenario = self.scenario(test.scenario, None)?;
        let report = Path::new(test.scenario).join("report.json");
        self.run_watched(&scenario, &report, self.prometheus.then_some(test))
    }

    fn run_watched(
        &self,
        scenario: &Scenario,
        report: &Path,
        asked: Option<&PublishedTest>,
    ) -> Result<(Run, Option<Answers>), CliError> {
        let interval = Duration::from_secs_f64(ECO2_SCRAPE_INTERVAL_S * scenario.time_scale);
        let scrape = ScrapeSettings {
            interval,
            keep: true,
        };
        let prometheus_failed = |e: PrometheusError| CliError::Run(format!("prometheus: {e}"));
        let run_failed = |e: scenario_run::RunError| CliError::Run(e.to_string());
        let (run, answers) = self.runtime.block_on(async {
            let stack = EmbeddedStack::start(scenario)
                .await
                .map_err(|e| CliError::Run(e.to_string()))?;
            let metrics = stack.metrics_url();
            // With the test it answers for: started only when asked.
            let prometheus = match (asked, metrics) {
                (Some(test), Some(url)) => {
                    let target = ScrapeTarget::new("scan-pipeline", url);
                    let prometheus = Prometheus::start(&[target], interval)
                        .await
                        .map_err(prometheus_failed)?;
                    // Its first scrape before the load, so both views see the whole run.
                    prometheus
                        .wait_for_scrape(SystemTime::now(), PROMETHEUS_READY)
                        .await
                        .map_err(prometheus_failed)?;
                    Some((prometheus, test))
                }
                _ => None,
            };
            let options = signals::series_options(&self.stop);
            let run = scenario_run::run_on(scenario, Some(stack), options, scrape)
                .await
                .map_err(run_failed)?;
            // Written before Prometheus is asked: a failed query does not lose the run.
            signals::write_report(&run.report, &self.dir.join(report))?;
            let answers = match prometheus {
                Some((prometheus, test)) => {
                    let answers = dashboard::ask_prometheus(&prometheus, test, &run.report)
                        .await
                        .map_err(prometheus_failed)?;
                    prometheus.stop().await;
                    Some(answers)
                }
                None => None,
            };
            Ok::<_, CliError>((run, answers))
        })?;
        Ok((run, answers))
    }
}

/// Prometheus's answers, by panel title.
type Answers = BTreeMap<&'static str, PanelValues>;

/// How long Prometheus may take to scrape the pipeline once before the load (it hands new
/// targets to its scrapers in 5 s batches).
const PROMETHEUS_READY: Duration = Duration::from_secs(30);

/// The three Celery-chain tests (each figure beside its published value, and the dashboard
/// they were read from), the v1.0.0 table and the later runs.
fn published_pairs(runner: &Runner) -> Result<(Vec<Pair>, Vec<Dashboard>), CliError> {
    let mut pairs = Vec::new();
    let mut dashboards = Vec::new();
    for test in &ECO2_TESTS {
        if runner.stopped() {
            break;
        }
        eprintln!(
            "scan-bench: test #{} ({}, {} VUs)",
            test.id, test.scenario, test.vus
        );
        let (run, answers) = runner.run_test(test)?;
        let dashboard = dashboard::dashboard(test, &run.report, &run.scrapes, answers);
        pairs.extend(figures::eco2_pairs(test, &run.report, &dashboard));
        dashboards.push(dashboard);
    }
    for published in &V1_THREADPOOL {
        if runner.stopped() {
            break;
        }
        eprintln!(
            "scan-bench: v1.0.0, {} users ({})",
            published.users, published.scenario
        );
        let scenario = runner.scenario(published.scenario, None)?;
        let report = runner.run(
            &scenario,
            &Path::new(published.scenario).join("report.json"),
        )?;
        pairs.extend(figures::v1_pairs(published, &report));
    }
    for published in &LATER_RUNS {
        if runner.stopped() {
            break;
        }
        eprintln!(
            "scan-bench: {} ({} users)",
            published.design, published.users
        );
        let mut scenario = runner.scenario(later::BASE_SCENARIO, Some(published.users))?;
        later::apply(published, &mut scenario);
        let run = runner.run_scraped(&scenario, &Path::new(published.name).join("report.json"))?;
        let p99 = dashboard::at_end(&CHAIN_P99, &run.report, &run.scrapes);
        pairs.extend(later::pairs(published, &run.report, p99));
    }
    Ok((pairs, dashboards))
}

/// Test #2's load on each architecture of the authors' list.
fn architecture_rows(runner: &Runner) -> Result<Vec<ArchitectureRow>, CliError> {
    let mut rows = Vec::new();
    for variant in VARIANTS {
        if runner.stopped() {
            break;
        }
        eprintln!("scan-bench: architecture {}", variant.name);
        let mut scenario = runner.scenario(COMPARISON_SCENARIO, variant.vus)?;
        (variant.apply)(&mut scenario);
        scenario.name = format!("{COMPARISON_SCENARIO}-{}", variant.name);
        let report = Path::new("architectures")
            .join(variant.name)
            .join("report.json");
        rows.push(ArchitectureRow::new(
            variant,
            &runner.run(&scenario, &report)?,
        ));
    }
    Ok(rows)
}

/// `reproduction.{json,md,html}` in `dir`.
fn write_files(dir: &Path, reproduction: &Reproduction) -> Result<(), CliError> {
    write(
        &dir.join("reproduction.json"),
        serde_json::to_vec_pretty(reproduction),
    )?;
    write(
        &dir.join("reproduction.md"),
        Ok(render::markdown(reproduction).into_bytes()),
    )?;
    write(
        &dir.join("reproduction.html"),
        Ok(render::html(reproduction).into_bytes()),
    )
}

fn write(path: &Path, bytes: serde_json::Result<Vec<u8>>) -> Result<(), CliError> {
    let bytes = bytes.map_err(|e| CliError::Run(e.to_string()))?;
    reports::write_atomic(path, &bytes).map_err(|e| CliError::Run(e.to_string()))
}
