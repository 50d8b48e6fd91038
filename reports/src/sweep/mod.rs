//! A sweep: one scenario run at several loads, each point summarised from its run's report
//! ([`SweepPoint`]), and with `--auto` the search for the knee ([`search`]): the highest load
//! at which the scenario still holds. Written as `sweep.json` beside the points' reports; the
//! table and charts are in [`crate::render::sweep`].

pub mod search;

use std::path::Path;

use scenarios::{LoadPoint, LoadUnit, Timing};
use serde::{Deserialize, Serialize};

use crate::report::{ReportError, RunReport, ThresholdResult, read_json, write_json_atomic};

pub use search::{AutoSettings, Knee, Outcome, StopReason};

/// The version of `sweep.json`'s shape.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

/// Every point of a sweep, in increasing load, and the knee the search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// [`SWEEP_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The scenario swept.
    pub scenario: String,
    /// What the loads count: `vus` (closed model, peak virtual users) or `rate` (open model,
    /// peak requests per second of modelled time).
    pub unit: SweepUnit,
    /// The time scale of every run; latencies and throughput below are divided back by it.
    pub time_scale: f64,
    /// Whether a stop signal ended the sweep before its last point.
    pub partial: bool,
    /// The points measured, in increasing load.
    pub points: Vec<SweepPoint>,
    /// `--auto`: where the scenario stops holding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knee: Option<Knee>,
}

/// The unit of a sweep's loads, as `sweep.json` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepUnit {
    /// Peak virtual users.
    Vus,
    /// Peak arrival rate, requests per second.
    Rate,
}

impl From<LoadUnit> for SweepUnit {
    fn from(unit: LoadUnit) -> Self {
        match unit {
            LoadUnit::Vus => SweepUnit::Vus,
            LoadUnit::Rate => SweepUnit::Rate,
        }
    }
}

impl SweepUnit {
    /// How the unit reads after a number.
    pub fn symbol(self) -> &'static str {
        match self {
            SweepUnit::Vus => "VUs",
            SweepUnit::Rate => "req/s",
        }
    }

    /// A load of this unit as text: `34 VUs`, `0.5 req/s`.
    pub fn load(self, value: f64) -> String {
        format!("{value} {}", self.symbol())
    }
}

/// One point of a sweep: its load and the figures that change with load. Latencies are in
/// milliseconds of modelled time (divided back by the time scale), as thresholds judge them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The peak load, in the sweep's unit.
    pub load: f64,
    /// The point's `report.json`, relative to the sweep's directory.
    pub report: String,
    /// Whether a stop signal cut this run short.
    pub partial: bool,
    /// Requests started.
    pub attempted: u64,
    /// Requests completed.
    pub completed: u64,
    /// Completed / attempted.
    pub success_rate: Option<f64>,
    /// Completed requests per second of modelled time.
    pub throughput: Option<f64>,
    /// `ttfb` percentiles, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb: Option<Percentiles>,
    /// `chain` percentiles, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Percentiles>,
    /// Whether every threshold held.
    pub thresholds_passed: bool,
    /// The thresholds that failed, as `metric expression (observed value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_thresholds: Vec<String>,
    /// Good requests per second of modelled time, when the scenario has SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<f64>,
}

/// Three percentiles of a latency, ms of modelled time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl SweepPoint {
    /// The point at `load` from its run's report, written at `report_path` (relative to the
    /// sweep's directory).
    pub fn from_report(load: LoadPoint, report_path: String, report: &RunReport) -> Self {
        let scale = report.environment.time_scale;
        let modelled_s = report.environment.duration_s / scale;
        let percentiles = |timing: Timing| {
            report
                .latency(timing)
                .map(|m| m.summary)
                .filter(|s| s.count > 0)
                .map(|s| Percentiles {
                    p50: s.p50 / scale,
                    p95: s.p95 / scale,
                    p99: s.p99 / scale,
                })
        };
        let totals = &report.totals;
        Self {
            load: load.value(),
            report: report_path,
            partial: report.partial,
            attempted: totals.attempted,
            completed: totals.completed,
            success_rate: totals.completed_share(),
            throughput: (modelled_s > 0.0).then(|| totals.completed as f64 / modelled_s),
            ttfb: percentiles(Timing::Ttfb),
            chain: percentiles(Timing::Chain),
            thresholds_passed: crate::thresholds::all_passed(&report.thresholds),
            failed_thresholds: report
                .thresholds
                .iter()
                .filter(|t| !t.passed)
                .map(describe_failure)
                .collect(),
            goodput: report.goodput.as_ref().and_then(|g| g.per_second),
        }
    }

    /// What the knee search reads of this point.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            held: self.thresholds_passed,
            why: self.failed_thresholds.join(", "),
            throughput: self.throughput,
            success_rate: self.success_rate,
        }
    }
}

/// `scan_failed rate<0.3 (observed 0.412)`.
fn describe_failure(t: &ThresholdResult) -> String {
    format!(
        "{} {} ({})",
        t.metric,
        t.expression,
        t.observed
            .map_or("no data".into(), |v| format!("observed {}", round(v)))
    )
}

fn round(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

impl Sweep {
    /// An empty sweep of `scenario` in `unit`.
    pub fn new(scenario: &str, unit: LoadUnit, time_scale: f64) -> Self {
        Self {
            schema_version: SWEEP_SCHEMA_VERSION,
            scenario: scenario.to_owned(),
            unit: unit.into(),
            time_scale,
            partial: false,
            points: Vec::new(),
            knee: None,
        }
    }

    /// Adds a point where its load places it (an automatic sweep runs loads out of order).
    pub fn add(&mut self, point: SweepPoint) {
        let at = self.points.partition_point(|p| p.load < point.load);
        self.points.insert(at, point);
    }

    /// Writes the sweep as pretty JSON, atomically.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ReportError> {
        write_json_atomic(self, path)
    }

    /// Reads `sweep.json`.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        read_json(path)
    }
}
