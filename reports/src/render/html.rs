//! One self-contained HTML file: styles inline, charts as inline SVG, no script and no
//! external URL, so it opens offline, from a CI artifact or an e-mail attachment. The shared
//! sections as headings, paragraphs and tables; a run's page adds headline cards and charts.

use std::fmt::Write;

use scenarios::Timing;

use super::document::{Block, Cell, Document, Section, Span, Table, Text, Tone};
use super::svg::CHART_STYLE;
use super::{Renderer, charts, escape_html, measured, ms, pct, sections};
use crate::compare::Comparison;
use crate::gate::GateVerdict;
use crate::report::RunReport;

/// The HTML renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl Renderer for Html {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        let run = sections::run(report, gate);
        let title = run.summary.title.as_deref().unwrap_or_default();
        let mut out = page_start(&format!("scan-bench: {title}"));
        out.push_str("<header>");
        heading(&mut out, "h1", title, run.summary.passed);
        let _ = writeln!(
            out,
            "<p>{}</p></header>",
            escape_html(&report.scenario.description)
        );
        cards(&mut out, report);
        write_sections(&mut out, &run.summary.sections);
        out.push_str(&charts::over_time(report));
        write_sections(&mut out, &run.latencies);
        out.push_str(&charts::distributions(report));
        write_sections(&mut out, &run.rest);
        let _ = writeln!(
            out,
            "<details><summary>Scenario as run</summary><pre>{}</pre></details>",
            escape_html(&report.scenario.to_toml())
        );
        page_end(out)
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        Some(page(
            "scan-bench: runs compared",
            &sections::comparison(comparison),
        ))
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        page("scan-bench gate", &sections::gate_document(verdict))
    }
}

/// A page of a whole document.
fn page(title: &str, document: &Document) -> String {
    page_with(title, document, "")
}

/// A page of a whole document with `extra` HTML (charts) after its sections.
pub(super) fn page_with(title: &str, document: &Document, extra: &str) -> String {
    let mut out = page_start(title);
    if let Some(title) = &document.title {
        out.push_str("<header>");
        heading(&mut out, "h1", title, document.passed);
        out.push_str("</header>\n");
    }
    write_sections(&mut out, &document.sections);
    out.push_str(extra);
    page_end(out)
}

/// `<h1>title</h1>`, with a badge when something was judged.
fn heading(out: &mut String, tag: &str, title: &str, passed: Option<bool>) {
    let badge = passed.map_or(String::new(), |p| format!(" {}", badge(p)));
    let _ = writeln!(out, "<{tag}>{}{badge}</{tag}>", escape_html(title));
}

/// The run's headline figures, one card each.
fn cards(out: &mut String, report: &RunReport) {
    let t = &report.totals;
    let env = &report.environment;
    let p95 = |timing| measured(report, timing).map_or("-".into(), |s| ms(s.p95));
    let rps = (env.duration_s > 0.0).then(|| t.attempted as f64 / env.duration_s);
    out.push_str("<section class=\"cards\">\n");
    for (label, figure) in [
        ("requests", t.attempted.to_string()),
        ("success", t.completed_share().map_or("-".into(), pct)),
        ("failed", t.failed_total().to_string()),
        ("chain p95", p95(Timing::Chain)),
        ("ttfb p95", p95(Timing::Ttfb)),
        (
            "throughput",
            rps.map_or("-".into(), |r| format!("{r:.2}/s")),
        ),
    ]
    .into_iter()
    .chain(report.goodput.as_ref().map(|g| {
        let figure = g.per_second.map_or("-".into(), |v| format!("{v:.2}/s"));
        ("goodput (modelled)", figure)
    })) {
        let _ = writeln!(
            out,
            "<div class=\"card\"><div class=\"figure\">{}</div><div>{label}</div></div>",
            escape_html(&figure)
        );
    }
    out.push_str("</section>\n");
}

fn write_sections(out: &mut String, sections: &[Section]) {
    for section in sections {
        if let Some(title) = &section.title {
            heading(out, "h2", title, section.passed);
        }
        for b in &section.blocks {
            let _ = writeln!(out, "{}", block(b));
        }
    }
}

fn block(block: &Block) -> String {
    match block {
        Block::Paragraph(t) => format!("<p>{}</p>", text(t)),
        Block::Fact { label, text: t, .. } => format!("<p>{label}: {}.</p>", text(t)),
        Block::Alert(t) => format!("<p class=\"overloaded\">{}</p>", text(t)),
        Block::List(items) => list("<ul>", items.iter().map(text)),
        Block::Warnings(warnings) => {
            let items = warnings.iter().map(|w| format!("⚠ {}", escape_html(w)));
            list("<ul class=\"warnings\">", items)
        }
        Block::Verdict { passed, text } => format!(
            "<p class=\"{}\"><strong>{}</strong></p>",
            outcome_class(*passed),
            escape_html(text)
        ),
        Block::Table(t) => table(t),
    }
}

/// A list under its opening tag.
fn list(open: &str, items: impl Iterator<Item = String>) -> String {
    let items: String = items.map(|i| format!("<li>{i}</li>\n")).collect();
    format!("{open}\n{items}</ul>")
}

/// A table; number columns right-aligned, marked rows with a column of marks and a class.
fn table(table: &Table) -> String {
    let marked = table.marked();
    let num = |numeric: bool| if numeric { " class=\"num\"" } else { "" };
    let mut out = String::from("<table>\n<thead><tr>");
    if marked {
        out.push_str("<th></th>");
    }
    for c in &table.columns {
        let _ = write!(out, "<th{}>{}</th>", num(c.numeric), escape_html(&c.title));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str(&match row.passed {
            Some(passed) => format!(
                "<tr class=\"{}\"><td>{}</td>",
                outcome_class(passed),
                mark(passed)
            ),
            None if marked => "<tr><td></td>".into(),
            None => "<tr>".into(),
        });
        for (c, column) in row.cells.iter().zip(&table.columns) {
            out.push_str(&table_cell(c, column.numeric));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>");
    out
}

fn table_cell(c: &Cell, numeric: bool) -> String {
    let class = match (numeric, c.tone) {
        (true, Tone::Better) => " class=\"num better\"",
        (true, Tone::Worse) => " class=\"num worse\"",
        (true, Tone::Neutral) => " class=\"num\"",
        (false, Tone::Better) => " class=\"better\"",
        (false, Tone::Worse) => " class=\"worse\"",
        (false, Tone::Neutral) => "",
    };
    let text = escape_html(&c.text);
    if c.code {
        format!("<td{class}><code>{text}</code></td>")
    } else {
        format!("<td{class}>{text}</td>")
    }
}

fn text(text: &Text) -> String {
    text.0
        .iter()
        .map(|span| match span {
            Span::Plain(s) => escape_html(s),
            Span::Code(s) => format!("<code>{}</code>", escape_html(s)),
            Span::Strong(s) => format!("<strong>{}</strong>", escape_html(s)),
        })
        .collect()
}

fn outcome_class(passed: bool) -> &'static str {
    if passed { "pass" } else { "fail" }
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
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}{CHART_STYLE}</style>\n</head>\n<body>\n",
        escape_html(title)
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
