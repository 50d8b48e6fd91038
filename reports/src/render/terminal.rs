//! Terminal text in the spirit of k6's end-of-test summary: tables for latencies, stages,
//! client against server, thresholds with pass/fail marks; runs side by side; gate verdicts.

use std::fmt::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::{
    Renderer, delta, gate_headline, interval, ms, observed, pct, signed_ms, signed_pct, value,
};
use crate::compare::Comparison;
use crate::gate::GateVerdict;
use crate::report::{LatencyMetric, RunReport};

/// The terminal renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal;

impl Renderer for Terminal {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        let mut out = summary(report);
        if let Some(verdict) = gate {
            out.push('\n');
            out.push_str(&gate_text(verdict, false));
        }
        out
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        let mut out = String::from("runs\n");
        for (i, run) in comparison.runs.iter().enumerate() {
            let commit = run
                .git_commit
                .as_deref()
                .map(|c| format!(", commit {c}"))
                .unwrap_or_default();
            let reference = if i == 0 {
                " (reference of the deltas)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {}: {} started {}, time scale {}{commit}{reference}",
                run.label, run.scenario, run.started_at, run.time_scale
            );
        }
        for section in &comparison.sections {
            let mut b = Builder::default();
            let mut head = vec![section.title.clone()];
            for (i, run) in comparison.runs.iter().enumerate() {
                head.push(run.label.clone());
                if i > 0 {
                    head.push(format!("Δ {}", run.label));
                }
            }
            b.push_record(head);
            for row in &section.rows {
                let mut record = vec![row.name.clone()];
                for (i, v) in row.values.iter().enumerate() {
                    record.push(value(row.unit, *v));
                    if i > 0 {
                        record.push(delta(row.unit, row.delta(i)));
                    }
                }
                b.push_record(record);
            }
            let mut table = b.build();
            table.with(Style::sharp());
            let _ = write!(out, "\n{table}\n");
        }
        warnings(&mut out, &comparison.warnings);
        Some(out)
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        gate_text(verdict, true)
    }
}

/// The gate's table and headline; `with_thresholds` false when the run's summary shows them.
fn gate_text(verdict: &GateVerdict, with_thresholds: bool) -> String {
    let mut out = format!(
        "gate: {} against baseline {} ({:.0}% intervals, floor {})\n",
        verdict.candidate,
        verdict.baseline,
        verdict.confidence * 100.0,
        ms(verdict.min_delta_ms)
    );
    if !verdict.checks.is_empty() {
        let mut b = Builder::default();
        b.push_record([
            "figure",
            "baseline",
            "candidate",
            "delta",
            "change",
            "interval",
            "tolerance",
            "verdict",
        ]);
        for c in &verdict.checks {
            let mark = if c.passed() { "✓" } else { "✗" };
            b.push_record([
                c.figure.to_string(),
                c.baseline_ms.map_or("-".into(), ms),
                c.candidate_ms.map_or("-".into(), ms),
                c.delta_ms.map_or("-".into(), signed_ms),
                c.relative.map_or("-".into(), signed_pct),
                interval(c),
                pct(c.tolerance),
                format!("{mark} {}", c.outcome),
            ]);
        }
        let mut table = b.build();
        table.with(Style::sharp());
        let _ = writeln!(out, "{table}");
    }
    if with_thresholds {
        thresholds(&mut out, &verdict.thresholds, "thresholds of the candidate");
    }
    warnings(&mut out, &verdict.warnings);
    let _ = writeln!(out, "{}", gate_headline(verdict));
    out
}

fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    let env = &report.environment;
    let scale = env.time_scale;
    let t = &report.totals;
    let _ = writeln!(
        out,
        "scenario {} against {}{}: {}, ran {:.1}s{}",
        report.scenario.name,
        if env.embedded {
            "the embedded stack at "
        } else {
            ""
        },
        env.target,
        super::profile_line(report),
        env.duration_s,
        if report.partial {
            " (interrupted: partial figures)"
        } else {
            ""
        },
    );
    if let Some(w) = t.failure_warning() {
        let _ = writeln!(out, "{w}");
    }
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
        "\nrequests  {} attempted, {} completed ({}), {} partial, {} failed, {} interrupted{}",
        t.attempted,
        t.completed,
        share(t.completed),
        t.partial,
        t.failed_total(),
        t.interrupted,
        if t.dropped > 0 {
            format!(", {} dropped arrivals", t.dropped)
        } else {
            String::new()
        },
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
    if let Some(health) = &report.health {
        if let Some(w) = health.overload_warning() {
            let _ = writeln!(out, "WARNING: {w}");
        }
        let _ = writeln!(out, "loadgen   {}", super::health_line(health));
    }
    out.push('\n');
    out.push_str(&latency_table(&report.latencies, scale, true));
    out.push('\n');
    if !report.stages.is_empty() {
        out.push_str(&latency_table(&report.stages, scale, false));
        out.push('\n');
    }
    if report.server.is_some() {
        let mut b = Builder::default();
        b.push_record(["", "client (scan-bench)", "server (/metrics)"]);
        for row in super::client_server_rows(report) {
            b.push_record(row);
        }
        let mut table = b.build();
        table.with(Style::sharp());
        let _ = writeln!(out, "{table}");
    }
    thresholds(&mut out, &report.thresholds, "thresholds");
    out
}

fn thresholds(out: &mut String, results: &[crate::ThresholdResult], title: &str) {
    if results.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    for r in results {
        let mark = if r.passed { "✓" } else { "✗" };
        let _ = writeln!(
            out,
            "  {mark} {} {} (observed {})",
            r.metric,
            r.expression,
            observed(r.observed)
        );
    }
}

fn warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "warnings");
    for w in warnings {
        let _ = writeln!(out, "  ! {w}");
    }
}

fn latency_table(metrics: &[LatencyMetric], scale: f64, with_k6: bool) -> String {
    let mut b = Builder::default();
    for row in super::latency_rows(metrics, scale, with_k6) {
        b.push_record(row);
    }
    let mut table = b.build();
    table.with(Style::sharp());
    format!("{table}\n")
}
