//! The end-of-run summary for a terminal, in the spirit of k6's.

use std::fmt::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::{ms, pct};
use crate::report::{LatencyMetric, RunReport};

/// The report as terminal text: totals, failures, latency and stage tables, client vs
/// server, thresholds.
pub fn terminal(report: &RunReport) -> String {
    let mut out = String::new();
    let env = &report.environment;
    let scale = env.time_scale;
    let t = &report.totals;
    let _ = writeln!(
        out,
        "scenario {} against {}{}, {:.1}s{}",
        report.scenario.name,
        if env.embedded {
            "the embedded stack at "
        } else {
            ""
        },
        env.target,
        env.duration_s,
        if report.partial {
            " (interrupted: partial figures)"
        } else {
            ""
        },
    );
    if scale != 1.0 {
        let _ = writeln!(
            out,
            "time scale {scale}: the `real-time` column divides latencies back by it"
        );
    }
    let share = |n: u64| {
        if t.attempted > 0 {
            pct(n as f64 / t.attempted as f64)
        } else {
            "-".into()
        }
    };
    let _ = writeln!(
        out,
        "\nrequests  {} attempted, {} completed ({}), {} partial, {} failed, {} interrupted",
        t.attempted,
        t.completed,
        share(t.completed),
        t.partial,
        t.failed_total(),
        t.interrupted
    );
    if !t.failed.is_empty() {
        let list: Vec<_> = t
            .failed
            .iter()
            .map(|(class, n)| format!("{class} {n}"))
            .collect();
        let _ = writeln!(out, "failures  {}", list.join(", "));
    }
    for null in &report.nulls {
        if null.of > 0 {
            let _ = writeln!(
                out,
                "nulls     {} null in {} of {} terminal events ({})",
                null.pointer,
                null.nulls,
                null.of,
                pct(null.nulls as f64 / null.of as f64)
            );
        }
    }
    out.push('\n');
    out.push_str(&latency_table(&report.latencies, scale, true));
    out.push('\n');
    if !report.stages.is_empty() {
        out.push_str(&latency_table(&report.stages, scale, false));
        out.push('\n');
    }
    if let Some(server) = &report.server {
        let mut b = Builder::default();
        b.push_record(["", "client (scan-bench)", "server (/metrics)"]);
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
        let client_success = (t.attempted > 0).then(|| t.completed as f64 / t.attempted as f64);
        let secs = |s: f64| ms(s * 1000.0);
        let first = report.latency("first_stage").map(|m| m.summary);
        let chain = report.latency("chain").map(|m| m.summary);
        b.push_record([
            "success",
            &opt(client_success, &pct),
            &opt(server.success_rate, &pct),
        ]);
        b.push_record([
            "chain avg",
            &opt(chain.filter(|s| s.count > 0).map(|s| s.mean), &ms),
            &opt(server.chain_avg_s, &secs),
        ]);
        b.push_record([
            "ttfb p50 (first stage)",
            &opt(first.filter(|s| s.count > 0).map(|s| s.p50), &ms),
            &opt(server.ttfb_p50_s, &secs),
        ]);
        b.push_record([
            "ttfb p95 (first stage)",
            &opt(first.filter(|s| s.count > 0).map(|s| s.p95), &ms),
            &opt(server.ttfb_p95_s, &secs),
        ]);
        let client_rps = (env.duration_s > 0.0).then(|| t.attempted as f64 / env.duration_s);
        b.push_record([
            "rps",
            &opt(client_rps, &|v| format!("{v:.2}")),
            &opt(server.rps, &|v| format!("{v:.2}")),
        ]);
        let peak = report
            .timeseries
            .iter()
            .map(|s| s.open_streams)
            .max()
            .map(|v| v as f64);
        b.push_record([
            "peak connections",
            &opt(peak, &|v| format!("{v:.0}")),
            &opt(server.peak_connections, &|v| format!("{v:.0}")),
        ]);
        let mut table = b.build();
        table.with(Style::sharp());
        let _ = writeln!(out, "{table}");
    }
    if !report.thresholds.is_empty() {
        let _ = writeln!(out, "thresholds");
        for r in &report.thresholds {
            let observed = r.observed.map_or("no data".into(), |v| format!("{v:.3}"));
            let mark = if r.passed { "✓" } else { "✗" };
            let _ = writeln!(
                out,
                "  {mark} {} {} (observed {observed})",
                r.metric, r.expression
            );
        }
    }
    out
}

fn latency_table(metrics: &[LatencyMetric], scale: f64, with_k6: bool) -> String {
    let mut b = Builder::default();
    let mut head = vec![if with_k6 { "metric" } else { "stage" }];
    if with_k6 {
        head.push("k6");
    }
    head.extend(["count", "avg", "min", "p50", "p90", "p95", "p99", "max"]);
    if scale != 1.0 {
        head.push("p95 real-time");
    }
    b.push_record(head);
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
        b.push_record(row);
    }
    let mut table = b.build();
    table.with(Style::sharp());
    format!("{table}\n")
}
