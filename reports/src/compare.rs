//! Runs side by side: the same figures of each run, with absolute and relative deltas
//! against the first run and whether each delta is better or worse.

use serde::Serialize;

use crate::figure::Stat;
use crate::report::{Goodput, LatencyMetric, RunReport, ServerView, Totals};

/// Relative changes smaller than this are shown as unchanged (≈): below it, run-to-run noise
/// of a load test dominates. The gate, not `compare`, decides what is significant.
pub const UNCHANGED_BAND: f64 = 0.02;

/// Several runs, figure by figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The runs, the first being the reference of every delta.
    pub runs: Vec<RunInfo>,
    /// Groups of rows: requests, goodput (when a run has SLOs), latencies, stages, server.
    pub sections: Vec<Section>,
    /// Reasons to doubt the comparison.
    pub warnings: Vec<String>,
}

/// Which run a column is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// Its label (its file, usually).
    pub label: String,
    /// The scenario.
    pub scenario: String,
    /// When it started.
    pub started_at: String,
    /// The git commit, when known.
    pub git_commit: Option<String>,
    /// Its time scale.
    pub time_scale: f64,
}

/// A titled group of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// The title.
    pub title: String,
    /// The rows.
    pub rows: Vec<Row>,
}

/// One figure across the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What the figure is, e.g. `chain p95`.
    pub name: String,
    /// How to show its values.
    pub unit: Unit,
    /// Whether less is better (latencies, failures), more is better (success), or neither.
    pub better: Better,
    /// One value per run; latencies at the first run's time scale.
    pub values: Vec<Option<f64>>,
}

/// How a value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// A count.
    Count,
    /// A fraction shown as a percentage.
    Ratio,
    /// A rate per second.
    PerSecond,
}

/// Which direction of change is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Less is better (latency, failures).
    Lower,
    /// More is better (success rate, throughput).
    Higher,
    /// Neither (request counts depend on the profile).
    Neither,
}

/// The change of a value against the first run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Delta {
    /// Absolute change.
    pub absolute: f64,
    /// Relative change, when the reference is not zero.
    pub relative: Option<f64>,
    /// Better, worse or unchanged.
    pub direction: Direction,
}

/// How a change reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// An improvement beyond [`UNCHANGED_BAND`].
    Better,
    /// A worsening beyond [`UNCHANGED_BAND`].
    Worse,
    /// Within the band, or a figure with no better side.
    Unchanged,
}

impl Row {
    /// The change of run `index`'s value against the first run's.
    pub fn delta(&self, index: usize) -> Option<Delta> {
        let (reference, value) = (
            self.values.first().copied().flatten()?,
            self.values.get(index).copied().flatten()?,
        );
        let absolute = value - reference;
        let relative = (reference != 0.0).then(|| absolute / reference);
        let change = relative.unwrap_or(if absolute == 0.0 {
            0.0
        } else {
            absolute.signum()
        });
        let direction = if change.abs() < UNCHANGED_BAND {
            Direction::Unchanged
        } else {
            match (self.better, change > 0.0) {
                (Better::Neither, _) => Direction::Unchanged,
                (Better::Lower, true) | (Better::Higher, false) => Direction::Worse,
                _ => Direction::Better,
            }
        };
        Some(Delta {
            absolute,
            relative,
            direction,
        })
    }
}

/// The latency statistics each metric shows.
const LATENCY_STATS: [Stat; 4] = [
    Stat::Mean,
    Stat::Percentile(50.0),
    Stat::Percentile(95.0),
    Stat::Percentile(99.0),
];
/// The statistics each stage shows.
const STAGE_STATS: [Stat; 2] = [Stat::Mean, Stat::Percentile(95.0)];

/// Puts labelled runs side by side; deltas are against the first.
pub fn compare(runs: &[(&str, &RunReport)]) -> Comparison {
    let columns = Columns::new(runs);
    let mut sections = vec![requests(&columns)];
    sections.extend(goodput_of(&columns));
    sections.extend(latencies(&columns));
    sections.extend(server(&columns));
    Comparison {
        runs: runs
            .iter()
            .map(|(label, r)| RunInfo {
                label: (*label).to_owned(),
                scenario: r.scenario.name.clone(),
                started_at: r.environment.started_at.clone(),
                git_commit: r.environment.git_commit.clone(),
                time_scale: r.environment.time_scale,
            })
            .collect(),
        sections,
        warnings: warnings(runs),
    }
}

/// The runs, one column each, and the factor that brings each run's latencies to the first
/// run's time scale.
struct Columns<'a> {
    reports: Vec<&'a RunReport>,
    scales: Vec<f64>,
}

impl<'a> Columns<'a> {
    fn new(runs: &[(&str, &'a RunReport)]) -> Self {
        let reference_scale = runs.first().map_or(1.0, |(_, r)| r.environment.time_scale);
        Self {
            reports: runs.iter().map(|(_, r)| *r).collect(),
            scales: runs
                .iter()
                .map(|(_, r)| reference_scale / r.environment.time_scale)
                .collect(),
        }
    }

    /// A figure of every run: `value` of each report and its scale factor.
    fn row(
        &self,
        name: impl Into<String>,
        unit: Unit,
        better: Better,
        value: impl Fn(&RunReport, f64) -> Option<f64>,
    ) -> Row {
        Row {
            name: name.into(),
            unit,
            better,
            values: self
                .reports
                .iter()
                .zip(&self.scales)
                .map(|(r, s)| value(r, *s))
                .collect(),
        }
    }

    /// The metric (or stage) names of every run, in the order they first appear.
    fn names(&self, of: fn(&RunReport) -> &Vec<LatencyMetric>) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for m in self.reports.iter().flat_map(|r| of(r)) {
            if !names.contains(&m.name) {
                names.push(m.name.clone());
            }
        }
        names
    }
}

/// Requests by outcome and the throughput.
fn requests(columns: &Columns) -> Section {
    let count = |n: fn(&Totals) -> u64| move |r: &RunReport, _| Some(n(&r.totals) as f64);
    let rows = vec![
        columns.row(
            "attempted",
            Unit::Count,
            Better::Neither,
            count(|t| t.attempted),
        ),
        columns.row("success", Unit::Ratio, Better::Higher, |r, _| {
            r.totals.completed_share()
        }),
        columns.row(
            "failed",
            Unit::Count,
            Better::Lower,
            count(Totals::failed_total),
        ),
        columns.row("partial", Unit::Count, Better::Lower, count(|t| t.partial)),
        columns.row("throughput", Unit::PerSecond, Better::Higher, |r, s| {
            // At a smaller time scale the same system runs faster: rescale like latencies.
            (r.environment.duration_s > 0.0)
                .then(|| r.totals.attempted as f64 / r.environment.duration_s / s)
        }),
    ];
    Section {
        title: "requests".into(),
        rows,
    }
}

/// The good requests of runs judged against SLOs, side by side; `None` when no run has
/// SLOs. The gate shows the same rows for its two runs.
pub fn goodput(runs: &[(&str, &RunReport)]) -> Option<Section> {
    goodput_of(&Columns::new(runs))
}

fn goodput_of(columns: &Columns) -> Option<Section> {
    if columns.reports.iter().all(|r| r.goodput.is_none()) {
        return None;
    }
    let of =
        |f: fn(&Goodput) -> Option<f64>| move |r: &RunReport, _| r.goodput.as_ref().and_then(f);
    let rows = vec![
        // Counts depend on the profile, as `attempted` does.
        columns.row(
            "good",
            Unit::Count,
            Better::Neither,
            of(|g| Some(g.good as f64)),
        ),
        columns.row(
            "good fraction",
            Unit::Ratio,
            Better::Higher,
            of(|g| g.good_fraction),
        ),
        // Per second of the modelled time already: no rescaling between time scales.
        columns.row(
            "goodput",
            Unit::PerSecond,
            Better::Higher,
            of(|g| g.per_second),
        ),
    ];
    Some(Section {
        title: "goodput (SLOs)".into(),
        rows,
    })
}

/// The latencies' statistics, and the stages' when the runs have stages.
fn latencies(columns: &Columns) -> Vec<Section> {
    let mut sections = vec![Section {
        title: "latencies".into(),
        rows: latency_rows(
            columns,
            columns.names(|r| &r.latencies),
            RunReport::latency_named,
            &LATENCY_STATS,
        ),
    }];
    let stages = columns.names(|r| &r.stages);
    if !stages.is_empty() {
        sections.push(Section {
            title: "stages".into(),
            rows: latency_rows(columns, stages, RunReport::stage, &STAGE_STATS),
        });
    }
    sections
}

/// A run's metric of a name: a latency or a stage.
type Lookup = for<'r> fn(&'r RunReport, &str) -> Option<&'r LatencyMetric>;

/// One row per statistic of each named metric, rescaled to the first run's time scale.
fn latency_rows(columns: &Columns, names: Vec<String>, of: Lookup, stats: &[Stat]) -> Vec<Row> {
    let mut rows = Vec::new();
    for name in names {
        for &stat in stats {
            let value = |r: &RunReport, s: f64| {
                of(r, &name)
                    .and_then(|m| m.decode().ok())
                    .and_then(|h| stat.of(&h))
                    .map(|v| v * s)
            };
            rows.push(columns.row(format!("{name} {stat}"), Unit::Ms, Better::Lower, value));
        }
    }
    rows
}

/// The servers' own figures, when any run has them.
fn server(columns: &Columns) -> Option<Section> {
    if columns.reports.iter().all(|r| r.server.is_none()) {
        return None;
    }
    let view = |r: &RunReport, f: fn(&ServerView) -> Option<f64>| r.server.as_ref().and_then(f);
    let seconds = |name: &str, f: fn(&ServerView) -> Option<f64>| {
        columns.row(name, Unit::Ms, Better::Lower, move |r, s| {
            view(r, f).map(|v| v * 1000.0 * s)
        })
    };
    let rows = vec![
        columns.row("success", Unit::Ratio, Better::Higher, |r, _| {
            view(r, |v| v.success_rate)
        }),
        seconds("chain avg", |v| v.chain_avg_s),
        seconds("ttfb p50", |v| v.ttfb_p50_s),
        seconds("ttfb p95", |v| v.ttfb_p95_s),
        columns.row("rps", Unit::PerSecond, Better::Higher, |r, s| {
            view(r, |v| v.rps).map(|v| v / s)
        }),
    ];
    Some(Section {
        title: "server (/metrics)".into(),
        rows,
    })
}

/// Overloaded load generators, and how each run's environment differs from the first's.
fn warnings(runs: &[(&str, &RunReport)]) -> Vec<String> {
    let mut warnings: Vec<String> = runs
        .iter()
        .filter_map(|(label, r)| r.overload_warning().map(|w| format!("{label}: {w}")))
        .collect();
    if let Some((first, base)) = runs.first() {
        for (label, report) in &runs[1..] {
            for w in crate::gate::fingerprint_warnings(base, report) {
                warnings.push(format!("{label} against {first}: {w}"));
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(better: Better, values: &[f64]) -> Row {
        Row {
            name: "x".into(),
            unit: Unit::Ms,
            better,
            values: values.iter().copied().map(Some).collect(),
        }
    }

    #[test]
    fn deltas_read_against_the_first_run() {
        let r = row(Better::Lower, &[100.0, 120.0, 80.0, 101.0]);
        let d = r.delta(1).unwrap();
        assert_eq!(
            (d.absolute, d.relative, d.direction),
            (20.0, Some(0.2), Direction::Worse)
        );
        assert_eq!(r.delta(2).unwrap().direction, Direction::Better);
        assert_eq!(
            r.delta(3).unwrap().direction,
            Direction::Unchanged,
            "1 % is within the band"
        );
        assert_eq!(
            row(Better::Higher, &[0.9, 0.5]).delta(1).unwrap().direction,
            Direction::Worse
        );
        assert_eq!(
            row(Better::Neither, &[10.0, 50.0])
                .delta(1)
                .unwrap()
                .direction,
            Direction::Unchanged
        );
        let from_zero = row(Better::Lower, &[0.0, 3.0]).delta(1).unwrap();
        assert_eq!(
            (from_zero.relative, from_zero.direction),
            (None, Direction::Worse)
        );
        let missing = Row {
            values: vec![None, Some(1.0)],
            ..row(Better::Lower, &[])
        };
        assert_eq!(missing.delta(1), None);
    }
}
