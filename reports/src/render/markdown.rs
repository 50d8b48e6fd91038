//! GitHub-flavoured Markdown, ready to paste into a pull request or a CI job summary.

use std::fmt::Write;

use super::{
    Renderer, delta, gate_headline, interval, ms, observed, pct, signed_ms, signed_pct, value,
};
use crate::compare::Comparison;
use crate::gate::GateVerdict;
use crate::report::{RunReport, ThresholdResult};

/// The Markdown renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Renderer for Markdown {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        let mut out = String::new();
        let env = &report.environment;
        let t = &report.totals;
        let passed =
            crate::thresholds::all_passed(&report.thresholds) && gate.is_none_or(|g| g.passed);
        let _ = writeln!(
            out,
            "## scan-bench: {} {}\n",
            escape(&report.scenario.name),
            mark(passed)
        );
        let _ = writeln!(
            out,
            "{} against {}`{}`: {}, ran {:.1} s{}.\n",
            if report.partial {
                "**Interrupted** run (partial figures)"
            } else {
                "Run"
            },
            if env.embedded {
                "the embedded stack at "
            } else {
                ""
            },
            env.target,
            super::profile_line(report),
            env.duration_s,
            if env.time_scale != 1.0 {
                " (the real-time column divides latencies back by it)"
            } else {
                ""
            },
        );
        let share = |n: u64| {
            if t.attempted > 0 {
                pct(n as f64 / t.attempted as f64)
            } else {
                "-".into()
            }
        };
        let _ = writeln!(
            out,
            "**Requests**: {} attempted · {} completed ({}) · {} partial · {} failed · {} interrupted\n",
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
                .map(|(class, n)| format!("`{class}` {n}"))
                .collect();
            let _ = writeln!(out, "**Failures**: {}\n", list.join(", "));
        }
        for null in report.nulls.iter().filter(|n| n.of > 0) {
            let share = pct(null.nulls as f64 / null.of as f64);
            let _ = writeln!(
                out,
                "**Nulls**: `{}` null in {} of {} terminal events ({share})\n",
                null.pointer, null.nulls, null.of
            );
        }
        if let Some(w) = t.failure_warning() {
            let _ = writeln!(out, "> ⚠️ **{}**\n", escape(&w));
        }
        if let Some(health) = &report.health {
            if let Some(w) = health.overload_warning() {
                let _ = writeln!(out, "> ⚠️ **WARNING**: {}\n", escape(&w));
            }
            let _ = writeln!(
                out,
                "**Load generator**: {}\n",
                escape(&super::health_line(health))
            );
        }
        let scale = env.time_scale;
        let _ = writeln!(out, "### Latencies\n");
        table(
            &mut out,
            &super::latency_rows(&report.latencies, scale, true),
            2,
        );
        if !report.stages.is_empty() {
            let _ = writeln!(out, "### Stages\n");
            table(
                &mut out,
                &super::latency_rows(&report.stages, scale, false),
                1,
            );
        }
        let server = super::client_server_rows(report);
        if !server.is_empty() {
            let _ = writeln!(out, "### Client vs server\n");
            let mut rows = vec![vec![
                "".to_owned(),
                "client (scan-bench)".into(),
                "server (/metrics)".into(),
            ]];
            rows.extend(server.into_iter().map(Vec::from));
            table(&mut out, &rows, 1);
        }
        thresholds(&mut out, &report.thresholds, "### Thresholds");
        if let Some(verdict) = gate {
            out.push_str(&gate_section(verdict, "###", false));
        }
        let _ = writeln!(out, "<details><summary>Environment</summary>\n");
        let mut rows = vec![vec!["field".to_owned(), "value".to_owned()]];
        for (key, v) in super::environment_rows(report) {
            rows.push(vec![key.to_owned(), v]);
        }
        table(&mut out, &rows, 1);
        let _ = writeln!(out, "</details>");
        out
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        let mut out = String::from("## scan-bench: runs compared\n\n");
        for (i, run) in comparison.runs.iter().enumerate() {
            let commit = run
                .git_commit
                .as_deref()
                .map(|c| format!(", commit `{c}`"))
                .unwrap_or_default();
            let reference = if i == 0 {
                " — reference of the deltas"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "- **{}**: `{}` started {}, time scale {}{commit}{reference}",
                escape(&run.label),
                run.scenario,
                run.started_at,
                run.time_scale
            );
        }
        out.push('\n');
        for section in &comparison.sections {
            let mut head = vec![section.title.clone()];
            for (i, run) in comparison.runs.iter().enumerate() {
                head.push(run.label.clone());
                if i > 0 {
                    head.push(format!("Δ {}", run.label));
                }
            }
            let mut rows = vec![head];
            for row in &section.rows {
                let mut record = vec![row.name.clone()];
                for (i, v) in row.values.iter().enumerate() {
                    record.push(value(row.unit, *v));
                    if i > 0 {
                        record.push(delta_cell(row.unit, row.delta(i)));
                    }
                }
                rows.push(record);
            }
            table(&mut out, &rows, 1);
        }
        warnings(&mut out, &comparison.warnings);
        Some(out)
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        gate_section(verdict, "##", true)
    }
}

fn delta_cell(unit: crate::compare::Unit, d: Option<crate::compare::Delta>) -> String {
    use crate::compare::Direction;
    let text = delta(unit, d);
    match d.map(|d| d.direction) {
        Some(Direction::Better) => format!("🟢 {text}"),
        Some(Direction::Worse) => format!("🔴 {text}"),
        _ => text,
    }
}

/// The gate's section; `with_thresholds` false when the run's own section shows them.
fn gate_section(verdict: &GateVerdict, level: &str, with_thresholds: bool) -> String {
    let mut out = format!("{level} Gate {}\n\n", mark(verdict.passed));
    let _ = writeln!(
        out,
        "`{}` against baseline `{}`; a figure regresses when it is slower beyond its tolerance, \
         beyond the {} floor, and the {:.0}% interval of the change lies above zero.\n",
        verdict.candidate,
        verdict.baseline,
        ms(verdict.min_delta_ms),
        verdict.confidence * 100.0
    );
    if !verdict.checks.is_empty() {
        let mut rows = vec![
            [
                "",
                "figure",
                "baseline",
                "candidate",
                "delta",
                "change",
                "interval",
                "tolerance",
                "verdict",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for c in &verdict.checks {
            rows.push(vec![
                mark(c.passed()).to_owned(),
                format!("`{}`", c.figure),
                c.baseline_ms.map_or("-".into(), ms),
                c.candidate_ms.map_or("-".into(), ms),
                c.delta_ms.map_or("-".into(), signed_ms),
                c.relative.map_or("-".into(), signed_pct),
                interval(c),
                pct(c.tolerance),
                c.outcome.to_string(),
            ]);
        }
        table(&mut out, &rows, 2);
    }
    if with_thresholds {
        thresholds(
            &mut out,
            &verdict.thresholds,
            &format!("{level}# Thresholds of the candidate"),
        );
    }
    warnings(&mut out, &verdict.warnings);
    let _ = writeln!(out, "**{}**\n", escape(&gate_headline(verdict)));
    out
}

/// The thresholds under a heading such as `### Thresholds`.
fn thresholds(out: &mut String, results: &[ThresholdResult], heading: &str) {
    if results.is_empty() {
        return;
    }
    let _ = writeln!(out, "{heading}\n");
    let mut rows = vec![
        ["", "metric", "threshold", "observed"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in results {
        rows.push(vec![
            mark(r.passed).to_owned(),
            format!("`{}`", r.metric),
            format!("`{}`", r.expression),
            observed(r.observed),
        ]);
    }
    table(out, &rows, 3);
}

fn warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "**Warnings**\n");
    for w in warnings {
        let _ = writeln!(out, "- ⚠️ {}", escape(w));
    }
    out.push('\n');
}

fn mark(passed: bool) -> &'static str {
    if passed { "✅" } else { "❌" }
}

/// A GFM table; columns from `text_columns` on are right-aligned (they hold numbers).
fn table(out: &mut String, rows: &[Vec<String>], text_columns: usize) {
    let Some(head) = rows.first() else { return };
    let line = |cells: &[String]| {
        format!(
            "| {} |",
            cells
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    let _ = writeln!(out, "{}", line(head));
    let align: Vec<String> = (0..head.len())
        .map(|i| {
            if i < text_columns {
                "---".into()
            } else {
                "---:".into()
            }
        })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for row in &rows[1..] {
        let _ = writeln!(out, "{}", line(row));
    }
    out.push('\n');
}

/// A Markdown table cell: pipes escaped, line breaks flattened.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Text outside code spans: characters Markdown would read as markup are escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
