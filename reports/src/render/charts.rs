//! The HTML page's charts of a run: what is plotted, drawn by [`super::svg`]. Load and
//! latencies over time, where the mean chain's time goes, and the latency distributions.

use scenarios::Timing;

use super::measured;
use super::svg::{Bar, LineChart, PALETTE, Series, StackedBars, Ticks};
use crate::histogram::Latency;
use crate::report::{LatencyMetric, RunReport, SecondSample};

/// The run over time: load, chain and TTFB per second, and the mean chain by stage.
pub(crate) fn over_time(report: &RunReport) -> String {
    let mut out = String::from("<h2>Over time</h2>\n<div class=\"grid\">\n");
    out.push_str(&load_chart(report).svg());
    let chain = |s: &SecondSample| [s.chain_p50, s.chain_p95];
    let ttfb = |s: &SecondSample| [s.ttfb_p50, s.ttfb_p95];
    out.push_str(&over_time_chart(report, "Chain duration per second", "chain", chain).svg());
    out.push_str(&over_time_chart(report, "TTFB per second", "ttfb", ttfb).svg());
    out.push_str(&stage_bars(report).svg());
    out.push_str("</div>\n");
    out
}

/// The latencies' and the stages' percentile curves.
pub(crate) fn distributions(report: &RunReport) -> String {
    let mut out = String::from("<div class=\"grid\">\n");
    let latencies: Vec<&LatencyMetric> = report
        .latencies
        .iter()
        .filter(|m| m.name != Timing::Headers.name())
        .collect();
    out.push_str(&percentile_chart("Latency distribution", &latencies).svg());
    let stages: Vec<&LatencyMetric> = report.stages.iter().collect();
    if !stages.is_empty() {
        out.push_str(&percentile_chart("Stage distribution", &stages).svg());
    }
    out.push_str("</div>\n");
    out
}

fn load_chart(report: &RunReport) -> LineChart {
    let ts = &report.timeseries;
    let series_of = |name: &str, color, right, dashed, f: &dyn Fn(&SecondSample) -> f64| Series {
        name: name.into(),
        color,
        points: ts.iter().map(|s| (f64::from(s.t), Some(f(s)))).collect(),
        right,
        dashed,
    };
    // The open model counts `started` by intended second; a load generator that falls behind
    // starts arrivals later, which only the actual starts show (older reports lack them).
    let open = ts.iter().any(|s| s.target_rate.is_some());
    let with_actual = open && ts.iter().any(|s| s.started_actual > 0);
    let started = if with_actual {
        "started/s (intended)"
    } else {
        "started/s"
    };
    let mut series = vec![
        series_of("active VUs", PALETTE[0], false, false, &|s| {
            f64::from(s.active_vus)
        }),
        series_of("open streams", PALETTE[5], false, true, &|s| {
            s.open_streams as f64
        }),
        series_of(started, PALETTE[1], true, false, &|s| s.started as f64),
        series_of("completed/s", PALETTE[2], true, false, &|s| {
            s.completed as f64
        }),
        series_of("failed/s", PALETTE[3], true, false, &|s| {
            (s.failed + s.partial) as f64
        }),
    ];
    // The open model's target beside the achieved rate, and the arrivals it could not start.
    if open {
        series.push(Series {
            name: "target rate".into(),
            color: PALETTE[1],
            points: ts.iter().map(|s| (f64::from(s.t), s.target_rate)).collect(),
            right: true,
            dashed: true,
        });
        if with_actual {
            series.push(series_of(
                "started/s (actual)",
                PALETTE[6],
                true,
                false,
                &|s| s.started_actual as f64,
            ));
        }
    }
    if ts.iter().any(|s| s.dropped > 0) {
        series.push(Series {
            name: "dropped/s".into(),
            color: PALETTE[4],
            points: ts
                .iter()
                .map(|s| (f64::from(s.t), Some(s.dropped as f64)))
                .collect(),
            right: true,
            dashed: false,
        });
    }
    LineChart {
        title: "Virtual users and requests per second".into(),
        x_ticks: Ticks::Seconds,
        x_label: "seconds into the run".into(),
        y_ticks: Ticks::Number,
        y_label: "virtual users, open streams".into(),
        y2: Some((Ticks::Number, "requests per second".into())),
        log_y: false,
        marked: None,
        series,
    }
}

/// A latency's p50 and p95 second by second; `pick` gives them of one second.
fn over_time_chart(
    report: &RunReport,
    title: &str,
    name: &str,
    pick: impl Fn(&SecondSample) -> [Option<f64>; 2],
) -> LineChart {
    let ts = &report.timeseries;
    let series = |index: usize, quantile: &str, color| Series {
        name: format!("{name} {quantile}"),
        color,
        points: ts
            .iter()
            .map(|s| (f64::from(s.t), pick(s)[index]))
            .collect(),
        right: false,
        dashed: false,
    };
    LineChart {
        title: title.into(),
        x_ticks: Ticks::Seconds,
        x_label: "seconds into the run".into(),
        y_ticks: Ticks::Ms,
        y_label: "measured latency".into(),
        y2: None,
        log_y: false,
        marked: None,
        series: vec![series(0, "p50", PALETTE[0]), series(1, "p95", PALETTE[3])],
    }
}

/// The mean chain split into its stages, as Eco²'s stage timeline shows it: the client's
/// view, and the server's when it was scraped.
fn stage_bars(report: &RunReport) -> StackedBars {
    let chain_mean = measured(report, Timing::Chain).map(|s| s.mean);
    let mut bars = Vec::new();
    let segments = |means: Vec<(String, f64)>, total: Option<f64>| {
        let mut segments: Vec<(String, f64, &'static str)> = means
            .iter()
            .enumerate()
            .map(|(i, (name, v))| (name.clone(), *v, PALETTE[i % (PALETTE.len() - 1)]))
            .collect();
        let staged: f64 = means.iter().map(|m| m.1).sum();
        if let Some(rest) = total.map(|t| t - staged).filter(|r| *r > 0.0) {
            segments.push((
                "other (queues, hops, first byte)".into(),
                rest,
                PALETTE[PALETTE.len() - 1],
            ));
        }
        segments
    };
    let client: Vec<(String, f64)> = report
        .stages
        .iter()
        .filter(|s| s.summary.count > 0)
        .map(|s| (s.name.clone(), s.summary.mean))
        .collect();
    if !client.is_empty() || chain_mean.is_some() {
        bars.push(Bar {
            label: "client, mean".into(),
            segments: segments(client, chain_mean),
        });
    }
    if let Some(server) = &report.server {
        let means: Vec<(String, f64)> = report
            .stages
            .iter()
            .filter_map(|s| {
                server
                    .stage_avg_s
                    .get(&s.name)
                    .map(|v| (s.name.clone(), v * 1000.0))
            })
            .collect();
        if !means.is_empty() {
            bars.push(Bar {
                label: "server, mean".into(),
                segments: segments(means, server.chain_avg_s.map(|s| s * 1000.0)),
            });
        }
    }
    StackedBars {
        title: "Where the time goes: mean chain by stage".into(),
        bars,
    }
}

/// The latency at each percentile, on the classic HdrHistogram axis (90 %, 99 %, 99.9 %).
fn percentile_chart(title: &str, metrics: &[&LatencyMetric]) -> LineChart {
    let series = metrics
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let h = m.decode().ok().filter(|h| !h.is_empty())?;
            Some(Series {
                name: m.name.clone(),
                color: PALETTE[i % PALETTE.len()],
                points: percentile_points(&h),
                right: false,
                dashed: false,
            })
        })
        .collect();
    LineChart {
        title: title.into(),
        x_ticks: Ticks::Nines,
        x_label: "percentile".into(),
        y_ticks: Ticks::Ms,
        y_label: "measured latency (log)".into(),
        y2: None,
        log_y: true,
        marked: None,
        series,
    }
}

/// Points of a percentile curve, up to the resolution the sample count supports.
fn percentile_points(h: &Latency) -> Vec<(f64, Option<f64>)> {
    let top = (h.len() as f64).log10().clamp(1.0, 5.0);
    let steps = (top * 20.0).ceil() as usize;
    (0..=steps)
        .map(|i| {
            let nines = top * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, Some(h.value_at_quantile(q) as f64 / 1000.0))
        })
        .collect()
}
