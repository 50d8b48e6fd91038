//! One self-contained HTML file: styles inline, charts as inline SVG, no script and no
//! external URL, so it opens offline, from a CI artifact or an e-mail attachment.

use std::fmt::Write;

use super::svg::{Bar, LineChart, PALETTE, Series, StackedBars, Ticks, escape};
use super::{
    Renderer, delta, gate_headline, interval, ms, observed, pct, signed_ms, signed_pct, value,
};
use crate::compare::{Comparison, Direction};
use crate::gate::GateVerdict;
use scenarios::Timing;

use crate::histogram::Latency;
use crate::report::{LatencyMetric, RunReport, ThresholdResult};

/// The HTML renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl Renderer for Html {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        let env = &report.environment;
        let t = &report.totals;
        let passed =
            crate::thresholds::all_passed(&report.thresholds) && gate.is_none_or(|g| g.passed);
        let mut out = page_start(&format!("scan-bench: {}", report.scenario.name));
        let _ = writeln!(
            out,
            "<header><h1>{} {}</h1><p>{}</p><p>{} against {}<code>{}</code>: {}, ran {:.1} s{}.</p></header>",
            escape(&report.scenario.name),
            badge(passed),
            escape(&report.scenario.description),
            if report.partial {
                "<strong>Interrupted</strong> run (partial figures)"
            } else {
                "Run"
            },
            if env.embedded {
                "the embedded stack at "
            } else {
                ""
            },
            escape(&env.target),
            escape(&super::profile_line(report)),
            env.duration_s,
            if env.time_scale != 1.0 {
                " (real-time columns divide latencies back by it)"
            } else {
                ""
            },
        );

        // Headline figures.
        let chain = report
            .latency(Timing::Chain)
            .map(|m| m.summary)
            .filter(|s| s.count > 0);
        let ttfb = report
            .latency(Timing::Ttfb)
            .map(|m| m.summary)
            .filter(|s| s.count > 0);
        let success = t.completed_share();
        let rps = (env.duration_s > 0.0).then(|| t.attempted as f64 / env.duration_s);
        out.push_str("<section class=\"cards\">\n");
        for (label, figure) in [
            ("requests", t.attempted.to_string()),
            ("success", success.map_or("-".into(), pct)),
            ("failed", t.failed_total().to_string()),
            ("chain p95", chain.map_or("-".into(), |s| ms(s.p95))),
            ("ttfb p95", ttfb.map_or("-".into(), |s| ms(s.p95))),
            (
                "throughput",
                rps.map_or("-".into(), |r| format!("{r:.2}/s")),
            ),
        ] {
            let _ = writeln!(
                out,
                "<div class=\"card\"><div class=\"figure\">{}</div><div>{label}</div></div>",
                escape(&figure)
            );
        }
        out.push_str("</section>\n");
        if !t.failed.is_empty() {
            let list: Vec<_> = t
                .failed
                .iter()
                .map(|(class, n)| format!("<code>{}</code> {n}", escape(class)))
                .collect();
            let _ = writeln!(out, "<p>Failures: {}</p>", list.join(", "));
        }
        for null in report.nulls.iter().filter(|n| n.of > 0) {
            let _ = writeln!(
                out,
                "<p>Nulls: <code>{}</code> null in {} of {} terminal events ({}).</p>",
                escape(&null.pointer),
                null.nulls,
                null.of,
                pct(null.nulls as f64 / null.of as f64)
            );
        }
        if let Some(w) = t.failure_warning() {
            let _ = writeln!(
                out,
                "<p class=\"overloaded\"><strong>{}</strong></p>",
                escape(&w)
            );
        }
        if let Some(health) = &report.health {
            if let Some(w) = health.overload_warning() {
                let _ = writeln!(
                    out,
                    "<p class=\"overloaded\"><strong>WARNING</strong>: {}</p>",
                    escape(&w)
                );
            }
            let _ = writeln!(
                out,
                "<p>Load generator: {}.</p>",
                escape(&super::health_line(health))
            );
        }

        out.push_str("<h2>Over time</h2>\n<div class=\"grid\">\n");
        out.push_str(&load_chart(report).svg());
        out.push_str(
            &over_time_chart(report, "Chain duration per second", "chain", |s| {
                (s.chain_p50, s.chain_p95)
            })
            .svg(),
        );
        out.push_str(
            &over_time_chart(report, "TTFB per second", "ttfb", |s| {
                (s.ttfb_p50, s.ttfb_p95)
            })
            .svg(),
        );
        out.push_str(&stage_bars(report).svg());
        out.push_str("</div>\n");

        out.push_str("<h2>Latencies</h2>\n");
        let scale = env.time_scale;
        plain_table(
            &mut out,
            &super::latency_rows(&report.latencies, scale, true),
            2,
        );
        if !report.stages.is_empty() {
            out.push_str("<h2>Stages</h2>\n");
            plain_table(
                &mut out,
                &super::latency_rows(&report.stages, scale, false),
                1,
            );
        }
        out.push_str("<div class=\"grid\">\n");
        let latencies: Vec<&LatencyMetric> = report
            .latencies
            .iter()
            .filter(|m| m.name != Timing::Headers.name())
            .collect();
        out.push_str(
            &percentile_chart("Latency distribution", &latencies, |m| m.name.clone()).svg(),
        );
        let stages: Vec<&LatencyMetric> = report.stages.iter().collect();
        if !stages.is_empty() {
            out.push_str(
                &percentile_chart("Stage distribution", &stages, |m| m.name.clone()).svg(),
            );
        }
        out.push_str("</div>\n");

        let server = super::client_server_rows(report);
        if !server.is_empty() {
            out.push_str("<h2>Client vs server</h2>\n");
            let mut rows = vec![vec![
                "".to_owned(),
                "client (scan-bench)".into(),
                "server (/metrics)".into(),
            ]];
            rows.extend(server.into_iter().map(Vec::from));
            plain_table(&mut out, &rows, 1);
        }
        thresholds(&mut out, &report.thresholds, "Thresholds");
        if let Some(verdict) = gate {
            gate_section(&mut out, verdict, false);
        }
        out.push_str("<h2>Environment</h2>\n");
        out.push_str("<table>\n<tbody>\n");
        for (key, v) in super::environment_rows(report) {
            let _ = writeln!(out, "<tr><th>{key}</th><td>{}</td></tr>", escape(&v));
        }
        out.push_str("</tbody>\n</table>\n");
        let _ = writeln!(
            out,
            "<details><summary>Scenario as run</summary><pre>{}</pre></details>",
            escape(&report.scenario.to_toml())
        );
        page_end(out)
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        let mut out = page_start("scan-bench: runs compared");
        out.push_str("<header><h1>Runs compared</h1><ul>\n");
        for (i, run) in comparison.runs.iter().enumerate() {
            let commit = run
                .git_commit
                .as_deref()
                .map(|c| format!(", commit <code>{}</code>", escape(c)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<li><strong>{}</strong>: <code>{}</code> started {}, time scale {}{commit}{}</li>",
                escape(&run.label),
                escape(&run.scenario),
                escape(&run.started_at),
                run.time_scale,
                if i == 0 {
                    " — reference of the deltas"
                } else {
                    ""
                }
            );
        }
        out.push_str("</ul></header>\n");
        for section in &comparison.sections {
            let _ = writeln!(
                out,
                "<h2>{}</h2>\n<table>\n<thead><tr><th></th>",
                escape(&section.title)
            );
            for (i, run) in comparison.runs.iter().enumerate() {
                let _ = write!(out, "<th class=\"num\">{}</th>", escape(&run.label));
                if i > 0 {
                    let _ = write!(out, "<th class=\"num\">Δ {}</th>", escape(&run.label));
                }
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            for row in &section.rows {
                let _ = write!(out, "<tr><td>{}</td>", escape(&row.name));
                for (i, v) in row.values.iter().enumerate() {
                    let _ = write!(
                        out,
                        "<td class=\"num\">{}</td>",
                        escape(&value(row.unit, *v))
                    );
                    if i > 0 {
                        let d = row.delta(i);
                        let class = match d.map(|d| d.direction) {
                            Some(Direction::Better) => "num better",
                            Some(Direction::Worse) => "num worse",
                            _ => "num",
                        };
                        let _ = write!(
                            out,
                            "<td class=\"{class}\">{}</td>",
                            escape(&delta(row.unit, d))
                        );
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        warnings(&mut out, &comparison.warnings);
        page_end(out).into()
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        let mut out = page_start("scan-bench gate");
        gate_section(&mut out, verdict, true);
        page_end(out)
    }
}

fn load_chart(report: &RunReport) -> LineChart {
    let ts = &report.timeseries;
    let series_of =
        |name: &str, color, right, dashed, f: &dyn Fn(&crate::SecondSample) -> f64| Series {
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
        series,
    }
}

fn over_time_chart(
    report: &RunReport,
    title: &str,
    name: &str,
    pick: fn(&crate::SecondSample) -> (Option<f64>, Option<f64>),
) -> LineChart {
    let ts = &report.timeseries;
    LineChart {
        title: title.into(),
        x_ticks: Ticks::Seconds,
        x_label: "seconds into the run".into(),
        y_ticks: Ticks::Ms,
        y_label: "measured latency".into(),
        y2: None,
        log_y: false,
        series: vec![
            Series {
                name: format!("{name} p50"),
                color: PALETTE[0],
                points: ts.iter().map(|s| (f64::from(s.t), pick(s).0)).collect(),
                right: false,
                dashed: false,
            },
            Series {
                name: format!("{name} p95"),
                color: PALETTE[3],
                points: ts.iter().map(|s| (f64::from(s.t), pick(s).1)).collect(),
                right: false,
                dashed: false,
            },
        ],
    }
}

/// The mean chain split into its stages, as the seed's stage timeline shows it: the client's
/// view, and the server's when it was scraped.
fn stage_bars(report: &RunReport) -> StackedBars {
    let chain_mean = report
        .latency(Timing::Chain)
        .map(|m| m.summary)
        .filter(|s| s.count > 0)
        .map(|s| s.mean);
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
fn percentile_chart(
    title: &str,
    metrics: &[&LatencyMetric],
    name: impl Fn(&LatencyMetric) -> String,
) -> LineChart {
    let series = metrics
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let h = m.decode().ok().filter(|h| !h.is_empty())?;
            Some(Series {
                name: name(m),
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

fn gate_section(out: &mut String, verdict: &GateVerdict, with_thresholds: bool) {
    let _ = writeln!(out, "<h2>Gate {}</h2>", badge(verdict.passed));
    let _ = writeln!(
        out,
        "<p><code>{}</code> against baseline <code>{}</code>. A figure regresses when it is slower beyond its tolerance, \
         beyond the {} floor, and the {:.0}% interval of the change lies above zero.</p>",
        escape(&verdict.candidate),
        escape(&verdict.baseline),
        escape(&ms(verdict.min_delta_ms)),
        verdict.confidence * 100.0
    );
    if !verdict.checks.is_empty() {
        out.push_str("<table>\n<thead><tr><th></th><th>figure</th><th class=\"num\">baseline</th><th class=\"num\">candidate</th><th class=\"num\">delta</th><th class=\"num\">change</th><th class=\"num\">interval</th><th class=\"num\">tolerance</th><th>verdict</th></tr></thead>\n<tbody>\n");
        for c in &verdict.checks {
            let _ = writeln!(
                out,
                "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                if c.passed() { "pass" } else { "fail" },
                mark(c.passed()),
                escape(&c.figure.to_string()),
                escape(&c.baseline_ms.map_or("-".into(), ms)),
                escape(&c.candidate_ms.map_or("-".into(), ms)),
                escape(&c.delta_ms.map_or("-".into(), signed_ms)),
                escape(&c.relative.map_or("-".into(), signed_pct)),
                escape(&interval(c)),
                escape(&pct(c.tolerance)),
                escape(&c.outcome.to_string()),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if with_thresholds {
        thresholds(out, &verdict.thresholds, "Thresholds of the candidate");
    }
    warnings(out, &verdict.warnings);
    let _ = writeln!(
        out,
        "<p class=\"{}\"><strong>{}</strong></p>",
        if verdict.passed { "pass" } else { "fail" },
        escape(&gate_headline(verdict))
    );
}

fn thresholds(out: &mut String, results: &[ThresholdResult], title: &str) {
    if results.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>{}</h2>", escape(title));
    out.push_str("<table>\n<thead><tr><th></th><th>metric</th><th>threshold</th><th class=\"num\">observed</th></tr></thead>\n<tbody>\n");
    for r in results {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            if r.passed { "pass" } else { "fail" },
            mark(r.passed),
            escape(&r.metric),
            escape(&r.expression),
            escape(&observed(r.observed))
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str("<ul class=\"warnings\">\n");
    for w in warnings {
        let _ = writeln!(out, "<li>⚠ {}</li>", escape(w));
    }
    out.push_str("</ul>\n");
}

/// A table of plain text; columns from `text_columns` on are numbers, right-aligned.
fn plain_table(out: &mut String, rows: &[Vec<String>], text_columns: usize) {
    let Some(head) = rows.first() else { return };
    let class = |i: usize| {
        if i >= text_columns {
            " class=\"num\""
        } else {
            ""
        }
    };
    out.push_str("<table>\n<thead><tr>");
    for (i, h) in head.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows[1..] {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let _ = write!(out, "<td{}>{}</td>", class(i), escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn mark(passed: bool) -> &'static str {
    if passed {
        "<span class=\"mark pass\">✓</span>"
    } else {
        "<span class=\"mark fail\">✗</span>"
    }
}

fn badge(passed: bool) -> &'static str {
    if passed {
        "<span class=\"badge pass\">passed</span>"
    } else {
        "<span class=\"badge fail\">failed</span>"
    }
}

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d1d1f; margin: 0 auto; max-width: 1320px; padding: 16px 24px 48px; }
h1 { font-size: 24px; margin: 8px 0; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; padding: 12px; overflow: auto; }
table { border-collapse: collapse; margin: 8px 0 12px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e5e5; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 10px 16px; min-width: 120px; }
.card .figure { font-size: 22px; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
svg.chart { width: 100%; height: auto; border: 1px solid #eee; border-radius: 6px; background: #fff; }
svg .title { font-size: 14px; font-weight: 600; }
svg .tick, svg .legend, svg .axis { font-size: 11px; fill: #444; }
svg .label { font-size: 12px; fill: #222; }
svg .inbar { font-size: 11px; fill: #fff; }
.badge { font-size: 13px; padding: 2px 10px; border-radius: 12px; vertical-align: middle; color: #fff; }
.badge.pass, .mark.pass { background: #1a7f37; } .badge.fail { background: #cf222e; }
.mark { color: #fff; border-radius: 50%; padding: 0 5px; } .mark.fail { background: #cf222e; }
p.pass { color: #1a7f37; } p.fail, tr.fail td { color: #cf222e; }
td.better { color: #1a7f37; } td.worse { color: #cf222e; }
.warnings { color: #9a6700; }
.overloaded { color: #cf222e; border-left: 4px solid #cf222e; padding: 6px 12px; background: #fff5f5; }
";

fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    )
}

fn page_end(mut out: String) -> String {
    let _ = writeln!(
        out,
        "<footer><p>scan-bench {}</p></footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    out
}
