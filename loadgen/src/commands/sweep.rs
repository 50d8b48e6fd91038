//! `scan-bench sweep`: one scenario at several loads through the same path as `run`, each
//! point's report written as it ends, then `sweep.json`, `sweep.md` and `sweep.html`. With
//! `--auto` the loads come from the knee search (`reports::sweep::search`).

use std::io::Write;
use std::path::{Path, PathBuf};

use reports::sweep::{AutoSettings, Knee, Sweep, SweepPoint};
use scenarios::{LoadPoint, LoadUnit, Scenario, ScenarioError};

use crate::args::SweepArgs;
use crate::commands::report_files::check_writable;
use crate::commands::run::timestamp;
use crate::commands::signals::{self, Stop};
use crate::error::{CliError, exit};

/// Runs the sweep; exits 0 whatever the points' thresholds said (a failing point is what a
/// sweep looks for), with the signal's code when one stopped it.
pub fn sweep(args: &SweepArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let plan = Plan::resolve(args)?;
    check_writable(&plan.dir)?;
    let (runtime, stop) = signals::measuring_runtime()?;
    let mut runner = Runner {
        runtime,
        stop,
        dir: plan.dir.clone(),
        sweep: Sweep::new(
            &plan.scenario.name,
            LoadUnit::of(&plan.scenario),
            plan.scenario.time_scale,
        ),
    };
    let result = match &plan.loads {
        Loads::Listed(points) => points.iter().try_for_each(|point| {
            if !runner.stopped() {
                runner.point(point)?;
            }
            Ok(())
        }),
        Loads::Auto(settings) => runner.search(&plan.scenario, settings),
    };
    // What was measured is written whatever ended the sweep.
    runner.sweep.partial = runner.stopped();
    let written = write_files(&plan.dir, &runner.sweep);
    result?;
    written?;
    write!(out, "{}", reports::render::sweep::terminal(&runner.sweep))?;
    if let Some(knee) = &runner.sweep.knee {
        writeln!(
            out,
            "\n{}: {}",
            runner.sweep.scenario,
            knee.sentence(runner.sweep.unit)
        )?;
    }
    writeln!(out, "sweep: {}", plan.dir.join("sweep.json").display())?;
    Ok(if runner.stopped() {
        runner.stop.exit_code()
    } else {
        exit::OK
    })
}

/// What the sweep will run, checked before any load: the resolved scenario, every listed
/// point's scenario (or the search's start) and the output directory.
struct Plan {
    scenario: Scenario,
    loads: Loads,
    dir: PathBuf,
}

enum Loads {
    /// `--vus` or `--rates`: each point's load and resolved scenario.
    Listed(Vec<(LoadPoint, Scenario)>),
    /// `--auto`.
    Auto(AutoSettings),
}

impl Plan {
    fn resolve(args: &SweepArgs) -> Result<Self, CliError> {
        let overrides = args.scenario_flags.overrides(None);
        let scenario = scenarios::open(&args.scenario)?.resolve(&overrides)?;
        let listed = |unit: LoadUnit, text: &str| -> Result<Loads, ScenarioError> {
            scenario.check_sweepable(unit)?;
            let points = unit.parse_list(text)?;
            let scenarios = points
                .iter()
                .map(|&load| scenario.at_load(load).map(|s| (load, s)))
                .collect::<Result<_, _>>()?;
            Ok(Loads::Listed(scenarios))
        };
        let loads = match (&args.vus, &args.rates) {
            (Some(text), _) => listed(LoadUnit::Vus, text)?,
            (None, Some(text)) => listed(LoadUnit::Rate, text)?,
            (None, None) => {
                let unit = LoadUnit::of(&scenario);
                let start = match &args.start {
                    Some(text) => unit
                        .parse_one(text)
                        .map_err(|e| CliError::BadInput(format!("--start: {e}")))?,
                    None => scenario.peak_load(),
                };
                scenario.check_sweepable(unit)?;
                scenario.at_load(start)?;
                if args.max_runs == 0 {
                    return Err(CliError::BadInput("--max-runs: at least 1".into()));
                }
                Loads::Auto(AutoSettings {
                    max_runs: args.max_runs,
                    ..AutoSettings::from(start)
                })
            }
        };
        let dir = args.out.clone().unwrap_or_else(|| {
            PathBuf::from("scan-bench-results").join(format!(
                "sweep-{}-{}",
                scenario.name,
                timestamp()
            ))
        });
        Ok(Self {
            scenario,
            loads,
            dir,
        })
    }
}

/// Runs the points one after the other, each report written under the output directory as
/// it ends; a stop signal ends the series after the current point.
struct Runner {
    runtime: tokio::runtime::Runtime,
    stop: Stop,
    dir: PathBuf,
    sweep: Sweep,
}

impl Runner {
    fn stopped(&self) -> bool {
        self.stop.drain.is_cancelled()
    }

    /// Runs one point, writes its report and adds it to the sweep.
    fn point(&mut self, (load, scenario): &(LoadPoint, Scenario)) -> Result<SweepPoint, CliError> {
        eprintln!("scan-bench: sweep {}: {load}", scenario.name);
        let relative = Path::new(&load.label()).join("report.json");
        let report = signals::run_in_series(
            &self.runtime,
            &self.stop,
            scenario,
            &self.dir.join(&relative),
        )?;
        let point = SweepPoint::from_report(*load, relative.display().to_string(), &report);
        let verdict = if point.thresholds_passed {
            "thresholds hold".to_owned()
        } else {
            format!("failed: {}", point.failed_thresholds.join(", "))
        };
        eprintln!("scan-bench: {load}: {verdict}");
        self.sweep.add(point.clone());
        Ok(point)
    }

    /// `--auto`: the knee search, each load it asks for run as a point.
    fn search(&mut self, scenario: &Scenario, settings: &AutoSettings) -> Result<(), CliError> {
        let mut error = None;
        let knee: Knee = reports::sweep::search::search(settings, |load| {
            let point = scenario
                .at_load(load)
                .map_err(CliError::from)
                .and_then(|s| self.point(&(load, s)));
            match point {
                // A point a signal cut short says nothing about the load: the search stops.
                Ok(point) if !self.stopped() => Some(point.outcome()),
                Ok(_) => None,
                Err(e) => {
                    error = Some(e);
                    None
                }
            }
        });
        self.sweep.knee = Some(knee);
        error.map_or(Ok(()), Err)
    }
}

/// `sweep.json`, `sweep.md` and `sweep.html` in `dir`, each atomically.
fn write_files(dir: &Path, sweep: &Sweep) -> Result<(), CliError> {
    let run = |e: reports::ReportError| CliError::Run(e.to_string());
    sweep.write_atomic(&dir.join("sweep.json")).map_err(run)?;
    let md = reports::render::sweep::markdown(sweep);
    reports::write_atomic(&dir.join("sweep.md"), md.as_bytes()).map_err(run)?;
    let html = reports::render::sweep::html(sweep);
    reports::write_atomic(&dir.join("sweep.html"), html.as_bytes()).map_err(run)
}
