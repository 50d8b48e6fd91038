//! The reproduction as tables: built once as [`Section`]s, written as terminal text, Markdown
//! or self-contained HTML.

use std::fmt::Write as _;

use reports::render::{escape_html, markdown_cell};
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::architectures::ArchitectureRow;
use super::dashboard::Dashboard;
use super::figures::Pair;

/// Everything a reproduction measured.
#[derive(Debug, Clone, Serialize)]
pub struct Reproduction {
    /// The time scale of every run.
    pub time_scale: f64,
    /// Where the run reports are.
    pub reports_dir: String,
    /// Published and local figures.
    pub pairs: Vec<Pair>,
    /// Eco²'s dashboard as each test's run showed it.
    pub dashboards: Vec<Dashboard>,
    /// `--compare-architectures` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<ArchitectureRow>>,
}

/// One table.
struct Section {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn number(v: f64, unit: &str) -> String {
    match unit {
        "s" => format!("{v:.2} s"),
        "%" => format!("{v:.1} %"),
        "req/s" => format!("{v:.2}"),
        _ => format!("{v:.0}"),
    }
}

fn published(p: &Pair) -> String {
    match (p.published_range, p.published_is_lower_bound) {
        (Some([low, high]), _) => format!("{low}-{high} {}", p.unit),
        (None, true) => format!("{}+", number(p.published, p.unit)),
        (None, false) => number(p.published, p.unit),
    }
}

fn delta(p: &Pair) -> String {
    match (p.delta, p.delta_pct) {
        (Some(d), _) if p.unit == "%" => format!("{d:+.1} pt"),
        (_, Some(pct)) => format!("{pct:+.0} %"),
        (Some(d), None) => format!("{d:+.2}"),
        _ => "-".into(),
    }
}

fn verdict(p: &Pair) -> &'static str {
    match p.within_target {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// The sections and the numbered notes they refer to.
fn sections(r: &Reproduction) -> (Vec<Section>, Vec<&'static str>) {
    let mut notes: Vec<&'static str> = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    for pair in &r.pairs {
        if sections.last().is_none_or(|s| s.title != pair.test) {
            sections.push(Section {
                title: pair.test.clone(),
                header: [
                    "figure",
                    "published",
                    "local",
                    "delta",
                    "within target",
                    "note",
                ]
                .map(String::from)
                .into(),
                rows: Vec::new(),
            });
        }
        let note = pair.note.map_or(String::new(), |note| {
            let index = notes.iter().position(|n| *n == note).unwrap_or_else(|| {
                notes.push(note);
                notes.len() - 1
            });
            format!("[{}]", index + 1)
        });
        let section = sections.last_mut().expect("pushed above");
        section.rows.push(vec![
            pair.figure.to_owned(),
            published(pair),
            pair.local.map_or("-".into(), |v| number(v, pair.unit)),
            delta(pair),
            verdict(pair).to_owned(),
            note,
        ]);
    }
    if let Some(rows) = &r.architectures {
        let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".into(), f);
        let secs = |v: f64| format!("{v:.1} s");
        let pct = |v: f64| format!("{:.1} %", v * 100.0);
        let whole = |v: f64| format!("{v:.0}");
        sections.push(Section {
            title: "architectures under test #2's profile".into(),
            header: [
                "variant",
                "answers",
                "VUs",
                "requests",
                "client success",
                "server success",
                "503 no upstream",
                "restarts",
                "OpenAI 429",
                "chain avg",
                "chain p95",
                "TTFB p50 (server)",
                "chains/s",
            ]
            .map(String::from)
            .into(),
            rows: rows
                .iter()
                .map(|a| {
                    vec![
                        a.variant.to_owned(),
                        a.answers.to_owned(),
                        a.vus.to_string(),
                        a.attempted.to_string(),
                        opt(a.client_success, pct),
                        opt(a.server_success, pct),
                        opt(a.no_healthy_upstream, whole),
                        opt(a.restarts, whole),
                        opt(a.openai_429, whole),
                        opt(a.chain_avg_s, secs),
                        opt(a.chain_p95_s, secs),
                        opt(a.ttfb_p50_s, secs),
                        opt(a.throughput, |v| format!("{v:.2}")),
                    ]
                })
                .collect(),
        });
    }
    (sections, notes)
}

fn summary(r: &Reproduction) -> String {
    let judged: Vec<&Pair> = r
        .pairs
        .iter()
        .filter(|p| p.within_target.is_some())
        .collect();
    let met = judged
        .iter()
        .filter(|p| p.within_target == Some(true))
        .count();
    format!(
        "{met} of {} figures within target (±10 %, success rates ±3 points); time scale {}, \
         durations divided back by it; run reports in {}",
        judged.len(),
        r.time_scale,
        r.reports_dir
    )
}

/// Tables for a terminal.
pub fn terminal(r: &Reproduction) -> String {
    let (sections, notes) = sections(r);
    let mut out = String::new();
    for section in sections {
        let mut b = Builder::default();
        b.push_record(section.header);
        for row in section.rows {
            b.push_record(row);
        }
        let mut table = b.build();
        table.with(Style::sharp());
        let _ = writeln!(out, "{}\n{table}", section.title);
    }
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {note}", i + 1);
    }
    let _ = writeln!(out, "{}", summary(r));
    out
}

/// A Markdown document.
pub fn markdown(r: &Reproduction) -> String {
    let (sections, notes) = sections(r);
    let mut out = String::from("# scan-bench reproduce eco2\n\n");
    let _ = writeln!(out, "{}\n", summary(r));
    for section in sections {
        let _ = writeln!(out, "## {}\n", section.title);
        let _ = writeln!(out, "| {} |", section.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(section.header.len()));
        for row in section.rows {
            let row: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push_str("## Notes\n\n");
        for (i, note) in notes.iter().enumerate() {
            let _ = writeln!(out, "{}. {note}", i + 1);
        }
    }
    out
}

/// A self-contained HTML page.
pub fn html(r: &Reproduction) -> String {
    let (sections, notes) = sections(r);
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>scan-bench reproduce eco2</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse;margin:0 0 1.5em}\
         th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
         th{background:#f3f3f3}td.no{color:#b00}td.yes{color:#070}\
         </style></head><body>\n<h1>scan-bench reproduce eco2</h1>\n",
    );
    let _ = writeln!(out, "<p>{}</p>", escape_html(&summary(r)));
    for section in sections {
        let _ = writeln!(out, "<h2>{}</h2>\n<table><tr>", escape_html(&section.title));
        for h in &section.header {
            let _ = write!(out, "<th>{}</th>", escape_html(h));
        }
        out.push_str("</tr>\n");
        for row in section.rows {
            out.push_str("<tr>");
            for c in &row {
                let class = if c == "yes" || c == "no" {
                    format!(" class=\"{c}\"")
                } else {
                    String::new()
                };
                let _ = write!(out, "<td{class}>{}</td>", escape_html(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    if !notes.is_empty() {
        out.push_str("<h2>Notes</h2>\n<ol>\n");
        for note in notes {
            let _ = writeln!(out, "<li>{}</li>", escape_html(note));
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</body></html>\n");
    out
}
