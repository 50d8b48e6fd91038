//! The regression gate: does a candidate run hold against a baseline run?
//!
//! A figure (say `chain.p95`) regressed only when all three hold, as Criterion judges a
//! change:
//! 1. it is slower by more than its relative tolerance (`chain.p95=10%`),
//! 2. it is slower by more than the absolute floor (`--min-delta`), so a 20 % change of a
//!    0.1 ms figure cannot fail a build,
//! 3. the change is significant: the bootstrap confidence interval of the difference,
//!    resampled from both runs' histograms, lies wholly above zero, so a run that drew a few
//!    unlucky tail values cannot flip the verdict.
//!
//! The candidate's own thresholds are judged too (`good_fraction` and `goodput` among them,
//! whose figures of both runs the verdict shows beside the checks), and the gate warns when the two runs' environment
//! fingerprints differ (another CPU, kernel, scan-bench version or time scale): their figures
//! may then differ for reasons other than the code. It warns too when either run's load
//! generator was overloaded, as its own delay is then in that run's latencies.
//!
//! Figures are compared in measured milliseconds at the baseline's time scale: a candidate run
//! at another scale has its figures rescaled (with a warning).

use std::fmt;

use serde::Serialize;

use crate::bootstrap::{Bootstrap, Interval};
use crate::compare;
use crate::figure::{Figure, Stat};
use crate::report::{RunReport, ThresholdResult};
use crate::thresholds;

/// What the gate checks and how strictly.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// The figures checked, each with its allowed relative worsening.
    pub tolerances: Vec<Tolerance>,
    /// Changes of at most this many milliseconds (measured) never count as regressions.
    pub min_delta_ms: f64,
    /// How the significance of a change is judged.
    pub bootstrap: Bootstrap,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            tolerances: parse_tolerances(DEFAULT_TOLERANCES).expect("the default tolerances parse"),
            min_delta_ms: DEFAULT_MIN_DELTA_MS,
            bootstrap: Bootstrap::default(),
        }
    }
}

/// The figures checked when none are given.
pub const DEFAULT_TOLERANCES: &str = "chain.p50=10%,chain.p95=10%,ttfb.p95=15%";

/// The absolute floor when none is given, in milliseconds.
pub const DEFAULT_MIN_DELTA_MS: f64 = 1.0;

/// One figure and how much slower it may get.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tolerance {
    /// The figure.
    pub figure: Figure,
    /// Allowed relative worsening: 0.1 for 10 %.
    pub relative: f64,
}

/// Reads `chain.p95=10%,ttfb.p95=15%`.
pub fn parse_tolerances(text: &str) -> Result<Vec<Tolerance>, GateError> {
    let bad = |message: String| GateError::Tolerance {
        text: text.to_owned(),
        message,
    };
    let mut tolerances: Vec<Tolerance> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (figure, percent) = item.split_once('=').ok_or_else(|| {
            bad(format!(
                "`{item}` has no `=`: expected FIGURE=PCT%, e.g. chain.p95=10%"
            ))
        })?;
        let figure: Figure = figure.parse().map_err(bad)?;
        let percent = percent
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| {
                bad(format!(
                    "`{}` is not a percentage: expected e.g. 10%",
                    percent.trim()
                ))
            })?;
        if tolerances.iter().any(|t| t.figure == figure) {
            return Err(bad(format!("{figure} is given twice")));
        }
        tolerances.push(Tolerance {
            figure,
            relative: percent / 100.0,
        });
    }
    if tolerances.is_empty() {
        return Err(bad("no figure given: expected e.g. chain.p95=10%".into()));
    }
    Ok(tolerances)
}

/// The gate cannot judge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    /// A `--tolerance` list that does not parse.
    #[error("--tolerance `{text}`: {message}")]
    Tolerance {
        /// The list as given.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// A tolerance names a metric neither report has.
    #[error("--tolerance names `{metric}`, which neither report has; metrics: {available}")]
    UnknownMetric {
        /// The metric.
        metric: String,
        /// The baseline's metrics and stages.
        available: String,
    },
}

/// The gate's verdict on a candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateVerdict {
    /// The baseline's label (its file, usually).
    pub baseline: String,
    /// The candidate's label.
    pub candidate: String,
    /// Each checked figure.
    pub checks: Vec<Check>,
    /// The candidate's own thresholds.
    pub thresholds: Vec<ThresholdResult>,
    /// Good requests, good fraction and goodput of both runs, when either has SLOs: shown,
    /// not judged (a threshold on `goodput` or `good_fraction` judges them).
    pub goodput: Option<compare::Section>,
    /// Reasons to doubt the comparison (fingerprint differences, interrupted runs, an
    /// overloaded load generator).
    pub warnings: Vec<String>,
    /// The absolute floor used, ms.
    pub min_delta_ms: f64,
    /// The confidence of the intervals.
    pub confidence: f64,
    /// Whether every check and threshold passed.
    pub passed: bool,
}

impl GateVerdict {
    /// The checks that failed.
    pub fn regressions(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed())
    }

    /// The thresholds that failed.
    pub fn failed_thresholds(&self) -> impl Iterator<Item = &ThresholdResult> {
        self.thresholds.iter().filter(|t| !t.passed)
    }
}

/// One figure, baseline against candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The figure.
    pub figure: Figure,
    /// Allowed relative worsening.
    pub tolerance: f64,
    /// The baseline's value, ms.
    pub baseline_ms: Option<f64>,
    /// The candidate's value at the baseline's time scale, ms.
    pub candidate_ms: Option<f64>,
    /// Candidate minus baseline, ms.
    pub delta_ms: Option<f64>,
    /// The delta relative to the baseline.
    pub relative: Option<f64>,
    /// Confidence interval of the delta, ms.
    pub interval: Option<Interval>,
    /// The verdict and why.
    pub outcome: Outcome,
}

impl Check {
    /// Whether the figure held.
    pub fn passed(&self) -> bool {
        !matches!(self.outcome, Outcome::Regressed | Outcome::NoData)
    }
}

/// Why a check passed or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Significantly faster than the baseline.
    Faster,
    /// Not slower.
    NotSlower,
    /// Slower, but within the relative tolerance.
    WithinTolerance,
    /// Slower beyond the tolerance, but by no more than the absolute floor.
    UnderFloor,
    /// Slower beyond tolerance and floor, but the interval includes zero: could be noise.
    NotSignificant,
    /// The baseline has no data for this figure: nothing to compare with.
    NoBaseline,
    /// Failed: slower beyond tolerance and floor, and significantly.
    Regressed,
    /// Failed: the candidate has no data for a figure the baseline has.
    NoData,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Faster => "faster",
            Outcome::NotSlower => "not slower",
            Outcome::WithinTolerance => "within tolerance",
            Outcome::UnderFloor => "under the floor",
            Outcome::NotSignificant => "not significant",
            Outcome::NoBaseline => "no baseline data",
            Outcome::Regressed => "REGRESSED",
            Outcome::NoData => "NO DATA",
        })
    }
}

/// Judges `candidate` against `baseline`. The labels name the runs in the verdict.
pub fn gate(
    (baseline_label, baseline): (&str, &RunReport),
    (candidate_label, candidate): (&str, &RunReport),
    config: &GateConfig,
) -> Result<GateVerdict, GateError> {
    for t in &config.tolerances {
        if t.figure.metric_of(baseline).is_none() && t.figure.metric_of(candidate).is_none() {
            let names: Vec<&str> = baseline
                .latencies
                .iter()
                .chain(&baseline.stages)
                .map(|m| m.name.as_str())
                .collect();
            return Err(GateError::UnknownMetric {
                metric: t.figure.metric.clone(),
                available: names.join(", "),
            });
        }
    }
    let scale = baseline.environment.time_scale / candidate.environment.time_scale;
    let intervals = intervals(baseline, candidate, &config.tolerances, scale, config);
    let checks: Vec<Check> = config
        .tolerances
        .iter()
        .zip(intervals)
        .map(|(t, interval)| check(baseline, candidate, t, interval, scale, config))
        .collect();
    let thresholds = thresholds::evaluate(candidate);
    let mut warnings = fingerprint_warnings(baseline, candidate);
    for (label, report) in [(baseline_label, baseline), (candidate_label, candidate)] {
        if report.partial {
            warnings.push(format!(
                "{label} was interrupted: its figures cover only part of the run"
            ));
        }
        if let Some(w) = report.overload_warning() {
            warnings.push(format!("{label}: {w}"));
        }
    }
    for c in &checks {
        if c.outcome == Outcome::NoBaseline {
            warnings.push(format!(
                "{}: the baseline has no data, so it was not compared",
                c.figure
            ));
        }
    }
    let passed = checks.iter().all(Check::passed) && thresholds::all_passed(&thresholds);
    Ok(GateVerdict {
        baseline: baseline_label.to_owned(),
        candidate: candidate_label.to_owned(),
        checks,
        thresholds,
        goodput: compare::goodput(&[(baseline_label, baseline), (candidate_label, candidate)]),
        warnings,
        min_delta_ms: config.min_delta_ms,
        confidence: config.bootstrap.confidence,
        passed,
    })
}

/// The interval of each tolerance's figure; one bootstrap per metric serves all its statistics.
fn intervals(
    baseline: &RunReport,
    candidate: &RunReport,
    tolerances: &[Tolerance],
    scale: f64,
    config: &GateConfig,
) -> Vec<Option<Interval>> {
    let histogram = |report: &RunReport, figure: &Figure| {
        figure.metric_of(report).and_then(|m| m.decode().ok())
    };
    let mut intervals = vec![None; tolerances.len()];
    let mut done = vec![false; tolerances.len()];
    for (i, t) in tolerances.iter().enumerate() {
        if done[i] {
            continue;
        }
        let same: Vec<usize> = (i..tolerances.len())
            .filter(|&j| tolerances[j].figure.metric == t.figure.metric)
            .collect();
        let stats: Vec<Stat> = same.iter().map(|&j| tolerances[j].figure.stat).collect();
        let found = histogram(baseline, &t.figure)
            .zip(histogram(candidate, &t.figure))
            .and_then(|(b, c)| config.bootstrap.differences(&b, &c, &stats, scale));
        for (k, &j) in same.iter().enumerate() {
            intervals[j] = found.as_ref().map(|f| f[k]);
            done[j] = true;
        }
    }
    intervals
}

fn check(
    baseline: &RunReport,
    candidate: &RunReport,
    tolerance: &Tolerance,
    interval: Option<Interval>,
    scale: f64,
    config: &GateConfig,
) -> Check {
    let figure = &tolerance.figure;
    let histogram = |report: &RunReport| {
        figure
            .metric_of(report)
            .and_then(|m| m.decode().ok())
            .filter(|h| !h.is_empty())
    };
    let (base, cand) = (histogram(baseline), histogram(candidate));
    let value = |h: &Option<_>, factor: f64| {
        h.as_ref()
            .and_then(|h| figure.stat.of(h))
            .map(|v| v * factor)
    };
    let (baseline_ms, candidate_ms) = (value(&base, 1.0), value(&cand, scale));
    let delta_ms = baseline_ms.zip(candidate_ms).map(|(b, c)| c - b);
    let relative = baseline_ms
        .zip(delta_ms)
        .and_then(|(b, d)| (b > 0.0).then(|| d / b));
    let outcome = match (baseline_ms, delta_ms) {
        (None, _) => Outcome::NoBaseline,
        (Some(_), None) => Outcome::NoData,
        (Some(_), Some(delta)) => {
            let significant_up = interval.is_some_and(|i| i.low > 0.0);
            let significant_down = interval.is_some_and(|i| i.high < 0.0);
            if delta <= 0.0 {
                if significant_down && -delta > config.min_delta_ms {
                    Outcome::Faster
                } else {
                    Outcome::NotSlower
                }
            } else if relative.is_some_and(|r| r <= tolerance.relative) {
                Outcome::WithinTolerance
            } else if delta <= config.min_delta_ms {
                Outcome::UnderFloor
            } else if !significant_up {
                Outcome::NotSignificant
            } else {
                Outcome::Regressed
            }
        }
    };
    Check {
        figure: figure.clone(),
        tolerance: tolerance.relative,
        baseline_ms,
        candidate_ms,
        delta_ms,
        relative,
        interval,
        outcome,
    }
}

/// Differences between the runs that can move figures without any change of code.
pub fn fingerprint_warnings(baseline: &RunReport, candidate: &RunReport) -> Vec<String> {
    let (b, c) = (&baseline.environment, &candidate.environment);
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let pairs = [
        ("CPU", text(&b.cpu_model), text(&c.cpu_model)),
        ("cores", b.cores.to_string(), c.cores.to_string()),
        ("kernel", text(&b.kernel), text(&c.kernel)),
        ("OS", b.os.clone(), c.os.clone()),
        (
            "scan-bench version",
            b.scan_bench_version.clone(),
            c.scan_bench_version.clone(),
        ),
        (
            "time scale",
            b.time_scale.to_string(),
            c.time_scale.to_string(),
        ),
        (
            "scenario",
            baseline.scenario.name.clone(),
            candidate.scenario.name.clone(),
        ),
        (
            "embedded stack",
            b.embedded.to_string(),
            c.embedded.to_string(),
        ),
    ];
    let mut warnings: Vec<String> = pairs
        .into_iter()
        .filter(|(_, b, c)| b != c)
        .map(|(what, b, c)| format!("{what} differs: baseline {b}, candidate {c}"))
        .collect();
    if b.time_scale != c.time_scale {
        warnings.push(format!(
            "the candidate's latencies are multiplied by {:.4} to compare them at the baseline's time scale",
            b.time_scale / c.time_scale
        ));
    }
    if baseline.scenario.name == candidate.scenario.name
        && baseline.scenario.load != candidate.scenario.load
    {
        warnings.push("the load profiles differ (VUs or stages)".into());
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_parse() {
        let t = parse_tolerances("chain.p95=10%, ttfb.p95 = 15 %,vision.mean=2.5%").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[0],
            Tolerance {
                figure: "chain.p95".parse().unwrap(),
                relative: 0.1
            }
        );
        assert_eq!(t[1].relative, 0.15);
        assert_eq!(t[2].figure.stat, Stat::Mean);
        assert!((t[2].relative - 0.025).abs() < 1e-12);
        assert_eq!(GateConfig::default().tolerances.len(), 3);
    }

    #[test]
    fn bad_tolerances_say_what_is_expected() {
        for (text, says) in [
            ("chain.p95", "no `=`"),
            ("chain.p95=10", "not a percentage"),
            ("chain.p95=-5%", "not a percentage"),
            ("chain=10%", "METRIC.STAT"),
            ("chain.p95=10%,chain.p95=5%", "twice"),
            ("chain.q9=10%", "unknown statistic"),
            ("", "no figure"),
        ] {
            let err = parse_tolerances(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
