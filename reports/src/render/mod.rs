//! Renderers: one module per output format, each a [`Renderer`] of the three documents
//! scan-bench shows (a run, a comparison of runs, a gate's verdict).
//!
//! ```no_run
//! use reports::render::Format;
//!
//! let report = reports::RunReport::read("out/report.json".as_ref())?;
//! let html = Format::Html.renderer().run(&report, None);
//! reports::write_atomic(&std::path::Path::new("out").join(Format::Html.file_name()), html.as_bytes())?;
//! # Ok::<(), reports::ReportError>(())
//! ```

mod html;
mod json;
mod junit;
mod markdown;
mod svg;
mod terminal;

pub use html::Html;
pub use json::Json;
pub use junit::Junit;
pub use markdown::{Markdown, cell as markdown_cell};
pub use svg::escape as escape_html;
pub use terminal::Terminal;

use std::fmt::Write;

use scenarios::Timing;

use crate::compare::{Comparison, Delta, Direction, Unit};
use crate::gate::GateVerdict;
use crate::report::{LatencyMetric, LoadgenHealth, RunReport};

/// Turns scan-bench's documents into one output format.
pub trait Renderer {
    /// A run's report, with the gate's verdict when the run was gated.
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String;
    /// Runs side by side; `None` when the format has no place for a comparison (JUnit).
    fn comparison(&self, comparison: &Comparison) -> Option<String>;
    /// A gate's verdict on its own.
    fn gate(&self, verdict: &GateVerdict) -> String;
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Tables for a terminal, like k6's end-of-test summary.
    Terminal,
    /// GitHub-flavoured Markdown, ready to paste into a pull request.
    Markdown,
    /// One self-contained HTML file with inline SVG charts.
    Html,
    /// JUnit XML: one testcase per threshold and gate check.
    Junit,
    /// JSON: the report, comparison or verdict itself.
    Json,
}

impl Format {
    /// The renderer of this format.
    pub fn renderer(self) -> &'static dyn Renderer {
        match self {
            Format::Terminal => &Terminal,
            Format::Markdown => &Markdown,
            Format::Html => &Html,
            Format::Junit => &Junit,
            Format::Json => &Json,
        }
    }

    /// The file a run's report in this format is written to, beside `report.json`.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Terminal => "report.txt",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
            Format::Junit => "junit.xml",
            Format::Json => "report.json",
        }
    }
}

/// The terminal summary of a run (shorthand for `Format::Terminal.renderer().run(report, None)`).
pub fn terminal(report: &RunReport) -> String {
    Terminal.run(report, None)
}

/// Milliseconds as text, with a unit a reader takes in at a glance.
pub(crate) fn ms(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 {
        "0".into()
    } else if magnitude >= 10_000.0 {
        format!("{:.2}s", value / 1000.0)
    } else if magnitude >= 100.0 {
        format!("{value:.0}ms")
    } else if magnitude >= 1.0 {
        format!("{value:.1}ms")
    } else {
        format!("{:.0}µs", value * 1000.0)
    }
}

/// Milliseconds with a sign.
pub(crate) fn signed_ms(value: f64) -> String {
    if value >= 0.0 {
        format!("+{}", ms(value))
    } else {
        format!("-{}", ms(-value))
    }
}

/// A fraction as a percentage.
pub(crate) fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A fraction as a signed percentage.
pub(crate) fn signed_pct(value: f64) -> String {
    format!("{:+.1}%", value * 100.0)
}

/// A value of a comparison row.
pub(crate) fn value(unit: Unit, value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(v) => match unit {
            Unit::Ms => ms(v),
            Unit::Count => format!("{v:.0}"),
            Unit::Ratio => pct(v),
            Unit::PerSecond => format!("{v:.2}/s"),
        },
    }
}

/// A comparison delta: absolute, relative, and a word for its direction.
pub(crate) fn delta(unit: Unit, d: Option<Delta>) -> String {
    let Some(d) = d else { return "-".into() };
    let absolute = match unit {
        Unit::Ms => signed_ms(d.absolute),
        Unit::Count => format!("{:+.0}", d.absolute),
        Unit::Ratio => format!("{:+.1}pp", d.absolute * 100.0),
        Unit::PerSecond => format!("{:+.2}/s", d.absolute),
    };
    let relative = d
        .relative
        .map(|r| format!(" ({})", signed_pct(r)))
        .unwrap_or_default();
    let word = match d.direction {
        Direction::Better => " better",
        Direction::Worse => " worse",
        Direction::Unchanged => "",
    };
    format!("{absolute}{relative}{word}")
}

/// The headline of a gate: passed, or what failed and by how much.
pub(crate) fn gate_headline(verdict: &GateVerdict) -> String {
    if verdict.passed {
        return format!(
            "gate passed: {} holds against {}",
            verdict.candidate, verdict.baseline
        );
    }
    let mut failures: Vec<String> = verdict
        .regressions()
        .map(|c| match (c.delta_ms, c.relative, c.interval) {
            (Some(d), Some(r), Some(i)) => format!(
                "{} {} ({}, {:.0}% interval {}..{}) beyond its {} tolerance",
                c.figure,
                signed_pct(r),
                signed_ms(d),
                verdict.confidence * 100.0,
                signed_ms(i.low),
                signed_ms(i.high),
                pct(c.tolerance)
            ),
            _ => format!("{}: {}", c.figure, c.outcome),
        })
        .collect();
    failures.extend(
        verdict
            .failed_thresholds()
            .map(|t| format!("threshold {} {} failed", t.metric, t.expression)),
    );
    format!("gate FAILED: {}", failures.join("; "))
}

/// How a check's interval reads.
pub(crate) fn interval(check: &crate::gate::Check) -> String {
    check.interval.map_or("-".into(), |i| {
        format!("{} .. {}", signed_ms(i.low), signed_ms(i.high))
    })
}

/// A threshold's observed value.
pub(crate) fn observed(value: Option<f64>) -> String {
    value.map_or("no data".into(), |v| {
        if v.abs() >= 100.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.3}")
        }
    })
}

/// The rows of a latency table, header first: one row per metric or stage.
pub(crate) fn latency_rows(
    metrics: &[LatencyMetric],
    scale: f64,
    with_k6: bool,
) -> Vec<Vec<String>> {
    let mut head = vec![if with_k6 { "metric" } else { "stage" }];
    if with_k6 {
        head.push("k6");
    }
    head.extend(["count", "avg", "min", "p50", "p90", "p95", "p99", "max"]);
    if scale != 1.0 {
        head.push("p95 real-time");
    }
    let mut rows = vec![head.into_iter().map(str::to_owned).collect()];
    for m in metrics {
        let s = &m.summary;
        let mut row = vec![m.name.clone()];
        if with_k6 {
            row.push(m.k6_name.clone().unwrap_or_default());
        }
        row.push(s.count.to_string());
        if s.count == 0 {
            row.extend(std::iter::repeat_n("-".to_string(), 7));
        } else {
            row.extend([s.mean, s.min, s.p50, s.p90, s.p95, s.p99, s.max].map(ms));
        }
        if scale != 1.0 {
            row.push(if s.count == 0 {
                "-".into()
            } else {
                ms(s.p95 / scale)
            });
        }
        rows.push(row);
    }
    rows
}

/// Client and server figures side by side: (figure, client, server), the seed's dashboard
/// panels against what scan-bench measured.
pub(crate) fn client_server_rows(report: &RunReport) -> Vec<[String; 3]> {
    let Some(server) = &report.server else {
        return Vec::new();
    };
    let t = &report.totals;
    let env = &report.environment;
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
    let secs = |s: f64| ms(s * 1000.0);
    let rate = |v: f64| format!("{v:.2}");
    let whole = |v: f64| format!("{v:.0}");
    let client_success = t.completed_share();
    let first = report
        .latency(Timing::FirstStage)
        .map(|m| m.summary)
        .filter(|s| s.count > 0);
    let chain = report
        .latency(Timing::Chain)
        .map(|m| m.summary)
        .filter(|s| s.count > 0);
    let client_rps = (env.duration_s > 0.0).then(|| t.attempted as f64 / env.duration_s);
    let peak = report
        .timeseries
        .iter()
        .map(|s| s.open_streams)
        .max()
        .map(|v| v as f64);
    let mut rows = vec![
        [
            "success".into(),
            opt(client_success, &pct),
            opt(server.success_rate, &pct),
        ],
        [
            "chain avg".into(),
            opt(chain.map(|s| s.mean), &ms),
            opt(server.chain_avg_s, &secs),
        ],
        [
            "ttfb p50 (first stage)".into(),
            opt(first.map(|s| s.p50), &ms),
            opt(server.ttfb_p50_s, &secs),
        ],
        [
            "ttfb p95 (first stage)".into(),
            opt(first.map(|s| s.p95), &ms),
            opt(server.ttfb_p95_s, &secs),
        ],
        ["rps".into(), opt(client_rps, &rate), opt(server.rps, &rate)],
        [
            "peak connections".into(),
            opt(peak, &whole),
            opt(server.peak_connections, &whole),
        ],
    ];
    for stage in &report.stages {
        if let Some(avg) = server.stage_avg_s.get(&stage.name) {
            let client = (stage.summary.count > 0).then_some(stage.summary.mean);
            rows.push([format!("{} avg", stage.name), opt(client, &ms), secs(*avg)]);
        }
    }
    if let Some(rejected) = server.rejected {
        rows.push(["rejected at admission".into(), "-".into(), whole(rejected)]);
    }
    // Shown only when the target has replicas that can fail, as the reference pipeline does.
    if let Some(n) = server.upstream_unavailable.filter(|n| *n > 0.0) {
        rows.push(["503 no healthy upstream".into(), "-".into(), whole(n)]);
    }
    if let Some(n) = server.replica_restarts.filter(|n| *n > 0.0) {
        rows.push(["replica restarts".into(), "-".into(), whole(n)]);
    }
    if let Some(worker) = server.worker_success {
        rows.push(["worker-level success".into(), "-".into(), pct(worker)]);
    }
    rows
}

/// The load profile's length as the scenario models it and as the clock ran it:
/// `profile 30s modelled, 600ms wall-clock at time scale 0.02`, or `profile 3m` in real time.
pub(crate) fn profile_line(report: &RunReport) -> String {
    let modelled = report.scenario.load.duration();
    let scale = report.environment.time_scale;
    let format = scenarios::duration::format;
    if scale == 1.0 {
        format!("profile {}", format(modelled))
    } else {
        // Whole milliseconds: a scaled profile's nanoseconds say nothing.
        let wall = std::time::Duration::from_millis(modelled.mul_f64(scale).as_millis() as u64);
        format!(
            "profile {} modelled, {} wall-clock at time scale {scale}",
            format(modelled),
            format(wall)
        )
    }
}

/// The load generator's health in one line: `timers up to 2.1ms late (bound 10ms),
/// scheduling lag p99 0.4ms, CPU 1.23 s incl. the embedded stack (45µs per completed
/// request)`.
pub(crate) fn health_line(h: &LoadgenHealth) -> String {
    let ms = |v: f64| if v == 0.0 { "0ms".into() } else { ms(v) };
    let mut parts = vec![format!(
        "timers up to {} late (bound {})",
        ms(h.max_timer_lag_ms),
        ms(h.lag_bound_ms)
    )];
    if let Some(p99) = h.scheduling_lag_p99_ms {
        parts.push(format!("scheduling lag p99 {}", ms(p99)));
    }
    if let Some(cpu) = h.cpu_seconds {
        let mut text = format!("CPU {cpu:.2} s");
        if h.cpu_includes_embedded_stack {
            text.push_str(" incl. the embedded stack");
        }
        if let Some(per) = h.cpu_per_completed_us {
            let _ = write!(text, " ({per:.0}µs per completed request)");
        }
        parts.push(text);
    }
    parts.join(", ")
}

/// The environment as (field, value) pairs: the fingerprint the gate compares, and when.
pub(crate) fn environment_rows(report: &RunReport) -> Vec<(&'static str, String)> {
    let e = &report.environment;
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    vec![
        ("scan-bench", e.scan_bench_version.clone()),
        ("git commit", or_unknown(&e.git_commit)),
        ("OS", e.os.clone()),
        ("kernel", or_unknown(&e.kernel)),
        ("CPU", or_unknown(&e.cpu_model)),
        ("cores", e.cores.to_string()),
        ("started", e.started_at.clone()),
        ("ended", e.ended_at.clone()),
        ("duration", format!("{:.1} s", e.duration_s)),
        ("time scale", e.time_scale.to_string()),
        (
            "target",
            format!(
                "{}{}",
                e.target,
                if e.embedded { " (embedded stack)" } else { "" }
            ),
        ),
        ("seed", report.scenario.seed.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(ms(0.25), "250µs");
        assert_eq!(ms(12.34), "12.3ms");
        assert_eq!(ms(231.4), "231ms");
        assert_eq!(ms(11_539.0), "11.54s");
        assert_eq!(signed_ms(-12.34), "-12.3ms");
        assert_eq!(signed_ms(0.5), "+500µs");
        assert_eq!(signed_pct(0.1), "+10.0%");
        assert_eq!(value(Unit::Ratio, Some(0.828)), "82.8%");
    }
}
