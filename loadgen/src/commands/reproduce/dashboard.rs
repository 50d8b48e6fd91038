//! Eco²'s dashboard as one run showed it: every panel's value at the end of the test's
//! published Grafana window (reduced here from the run's scrapes, and by Prometheus with
//! `--prometheus`), and the time-series panels drawn over the run.
//!
//! **The instant.** A `stat` panel shows the last non-null value of its query over the
//! dashboard's time range, which is the query evaluated at the range's end. The published
//! windows begin a second around a whole minute (02:16:01, 02:59:01, 04:31:59), where a test
//! launched on the minute shows its first samples, and are shorter than the 180 s profile
//! (104, 71 and 166 s): each is read as starting at the test's start, so its end, the
//! instant, is the load's start plus the window's length, scaled by the time scale.

use std::collections::BTreeMap;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loadgen::prometheus::{Prometheus, PrometheusError, scale_ranges};
use loadgen::scrape::panel::{self, PanelValues};
use loadgen::scrape::series::{Scrapes, unix_s};
use reports::RunReport;
use scenarios::published::{
    CHAIN_P99, ECO2_SERIES, ECO2_TOP_ROW, PanelQuery, PanelUnit, PublishedPanel, PublishedTest,
};
use serde::Serialize;

use super::figures::unit;

/// Eco²'s scrape interval is not published. Its dashboard's `[1m]` windows need two samples
/// each, so it was at most 30 s; 15 s is the interval of Prometheus's own example
/// configuration. Scaled by the time scale like every duration of the run.
pub const ECO2_SCRAPE_INTERVAL_S: f64 = 15.0;

/// Every panel a reproduction evaluates: the top row, the further rows, and the chain's p99.
pub fn panels() -> impl Iterator<Item = &'static PublishedPanel> {
    ECO2_TOP_ROW
        .iter()
        .chain(&ECO2_SERIES)
        .chain(std::iter::once(&CHAIN_P99))
}

/// One panel's values at the instant, in the modelled system's units.
#[derive(Debug, Clone, Serialize)]
pub struct PanelReading {
    /// The panel's title.
    pub title: &'static str,
    /// Its PromQL as committed (ranges as written, before scaling).
    pub query: &'static str,
    /// The unit of its values.
    pub unit: &'static str,
    /// The label its query keeps (`stage`, `status`), which keys `built_in`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
    /// The value the write-up published for it, where it did (the repository's copy where
    /// the published page and it differ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<f64>,
    /// Reduced here from the run's scrapes, per value of its `by` label (`""` when none).
    pub built_in: PanelValues,
    /// Prometheus's answer to the same query at the same instant, with `--prometheus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PanelValues>,
}

/// One line of a time-series panel: `(seconds since the load's start, value)` in the modelled
/// system's time and units.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The `by` label's value, or the panel's title.
    pub label: String,
    /// The points.
    pub points: Vec<[f64; 2]>,
}

/// A time-series panel drawn from the run.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// The panel's title.
    pub title: &'static str,
    /// The unit of its values.
    pub unit: &'static str,
    /// Its lines.
    pub lines: Vec<Line>,
}

/// One published test's dashboard as the local run showed it.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// `#1`, `#2`, `#3`.
    pub test: String,
    /// The published window's length and the instant, in modelled seconds after the load's
    /// start.
    pub window_s: f64,
    /// Every panel at the instant.
    pub panels: Vec<PanelReading>,
    /// The charts over the whole run.
    pub charts: Vec<Chart>,
}

impl Dashboard {
    /// A panel's value at the instant, reduced here (its `by` label's `key`, `""` for none).
    pub fn built_in(&self, title: &str, key: &str) -> Option<f64> {
        self.reading(title)
            .and_then(|p| p.built_in.get(key).copied())
    }

    /// A panel's published value, where the write-up gave one.
    pub fn published(&self, title: &str) -> Option<f64> {
        self.reading(title).and_then(|p| p.published)
    }

    fn reading(&self, title: &str) -> Option<&PanelReading> {
        self.panels.iter().find(|p| p.title == title)
    }
}

/// The unix time a report's load started.
pub fn load_start(report: &RunReport) -> Option<f64> {
    humantime::parse_rfc3339(&report.environment.started_at)
        .ok()
        .map(unix_s)
}

/// The instant a test's panels are read at, in unix seconds, to the millisecond (Prometheus's
/// resolution, so that both reductions read the same range).
pub fn instant(test: &PublishedTest, report: &RunReport) -> Option<f64> {
    let at = load_start(report)? + test.window_s() * report.environment.time_scale;
    Some((at * 1000.0).round() / 1000.0)
}

fn unit_name(panel: &PublishedPanel) -> &'static str {
    match (panel.unit, panel.computes) {
        (PanelUnit::Seconds, _) => unit::SECONDS,
        (PanelUnit::Percent, _) => unit::PERCENT,
        (PanelUnit::Rate, PanelQuery::Rate { per_s: 60.0, .. }) => unit::PER_MINUTE,
        (PanelUnit::Rate, _) => unit::PER_SECOND,
        (PanelUnit::Count, _) => unit::COUNT,
    }
}

/// The published value of one of `test`'s top-row panels.
fn published(test: &PublishedTest, title: &str) -> Option<f64> {
    match title {
        "Active Connections" => test.active_connections.map(f64::from),
        "Chain Avg Duration" => Some(test.chain_avg_s),
        "TTFB (p50)" => Some(test.ttfb_p50_s),
        "Success Rate" => Some(test.success_panel_repository.unwrap_or(test.success_panel) * 100.0),
        "Requests/sec" => Some(test.rps),
        "Chain p99" => test.chain_p99_s,
        _ => None,
    }
}

/// `panel`'s values at `at` in the modelled system's units.
fn reduce(panel: &PublishedPanel, scrapes: &Scrapes, at: f64, scale: f64) -> PanelValues {
    panel::evaluate(&panel.computes, scrapes, at, scale)
        .into_iter()
        .map(|(key, v)| (key, panel::unscaled(panel.unit, v, scale)))
        .collect()
}

/// `panel`'s value (with no `by` label) at a run's last scrape, in the modelled system's units.
pub fn at_end(panel: &PublishedPanel, report: &RunReport, scrapes: &Scrapes) -> Option<f64> {
    let at = scrapes.times().last()?;
    reduce(panel, scrapes, at, report.environment.time_scale)
        .get("")
        .copied()
}

/// Prometheus's answers to every panel's own query at `test`'s instant, ranges scaled by the
/// run's time scale, in the modelled system's units; keyed by panel title.
pub async fn ask_prometheus(
    prometheus: &Prometheus,
    test: &PublishedTest,
    report: &RunReport,
) -> Result<BTreeMap<&'static str, PanelValues>, PrometheusError> {
    let scale = report.environment.time_scale;
    let Some(at) = instant(test, report) else {
        return Ok(BTreeMap::new());
    };
    let at = system_time(at);
    let mut answers = BTreeMap::new();
    for panel in panels() {
        let query = scale_ranges(panel.query, scale).map_err(|e| PrometheusError::BadAnswer {
            what: format!("the range windows of {}", panel.query),
            reason: e.to_string(),
        })?;
        let by = panel.computes.by();
        let values = prometheus
            .query(&query, at)
            .await?
            .into_iter()
            .filter(|sample| sample.value.is_finite())
            .map(|sample| {
                let key = by
                    .and_then(|label| sample.labels.get(label).cloned())
                    .unwrap_or_default();
                (key, panel::unscaled(panel.unit, sample.value, scale))
            })
            .collect();
        answers.insert(panel.title, values);
    }
    Ok(answers)
}

/// Unix seconds as the `SystemTime` Prometheus's API takes, to the millisecond (the API
/// reads whole milliseconds; a float a hair below one would fall in the one before).
pub fn system_time(unix_s: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis((unix_s * 1000.0).round() as u64)
}

/// The dashboard of `test` from its run's report and scrapes, with Prometheus's answers
/// where it was asked.
pub fn dashboard(
    test: &PublishedTest,
    report: &RunReport,
    scrapes: &Scrapes,
    mut prometheus: Option<BTreeMap<&'static str, PanelValues>>,
) -> Dashboard {
    let scale = report.environment.time_scale;
    let at = instant(test, report);
    let panels = panels()
        .map(|panel| PanelReading {
            title: panel.title,
            query: panel.query,
            unit: unit_name(panel),
            by: panel.computes.by(),
            published: published(test, panel.title),
            built_in: at.map_or_else(BTreeMap::new, |at| reduce(panel, scrapes, at, scale)),
            prometheus: prometheus
                .as_mut()
                .map(|answers| answers.remove(panel.title).unwrap_or_default()),
        })
        .collect();
    Dashboard {
        test: format!("#{}", test.id),
        window_s: test.window_s(),
        panels,
        charts: load_start(report).map_or_else(Vec::new, |start| charts(scrapes, start, scale)),
    }
}

/// The panels the dashboard draws over time, evaluated at every scrape.
fn charts(scrapes: &Scrapes, start: f64, scale: f64) -> Vec<Chart> {
    let drawn = ECO2_TOP_ROW
        .iter()
        .filter(|p| matches!(p.title, "Active Connections" | "Chain Avg Duration"))
        .chain(&ECO2_SERIES);
    drawn
        .map(|panel| {
            let mut lines: BTreeMap<String, Vec<[f64; 2]>> = BTreeMap::new();
            for at in scrapes.times() {
                let x = (at - start) / scale;
                for (key, v) in reduce(panel, scrapes, at, scale) {
                    let label = if key.is_empty() {
                        panel.title.to_owned()
                    } else {
                        key
                    };
                    lines.entry(label).or_default().push([x, v]);
                }
            }
            Chart {
                title: panel.title,
                unit: unit_name(panel),
                lines: lines
                    .into_iter()
                    .map(|(label, points)| Line { label, points })
                    .collect(),
            }
        })
        .collect()
}
