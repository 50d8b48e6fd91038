//! The reproduction as tables, built once as [`Section`]s and written as terminal text,
//! Markdown or self-contained HTML; the HTML page also draws each test's dashboard (its
//! top-row stat panels as cards, its time-series panels as charts) the way Grafana showed it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use reports::render::{CHART_STYLE, LineChart, Ticks, escape_html, markdown_cell};
use scenarios::published::ECO2_TOP_ROW;
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::architectures::ArchitectureRow;
use super::dashboard::{Chart, Dashboard, PanelReading};
use super::figures::{Pair, unit};

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
struct Section<'a> {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The column of PromQL, written as code where the format has code.
    code_column: Option<usize>,
    /// The dashboard the HTML page draws before this table (on a test's figures).
    dashboard: Option<&'a Dashboard>,
}

impl Section<'_> {
    fn new(title: String, header: &[&str]) -> Self {
        Self {
            title,
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            code_column: None,
            dashboard: None,
        }
    }
}

/// A value in its unit, the one formatter of every figure and panel: seconds with two
/// decimals, percent with one, rates with two, counts whole.
fn number(v: f64, unit: &str) -> String {
    match unit {
        unit::SECONDS => format!("{v:.2} s"),
        unit::PERCENT => format!("{v:.1} %"),
        unit::RATE | unit::PER_SECOND | unit::PER_MINUTE => format!("{v:.2}"),
        _ => format!("{v:.0}"),
    }
}

/// An optional value in its unit, `-` when missing.
fn maybe(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| number(v, unit))
}

/// A change in `unit`: percentages in points (a relative change of a percentage reads
/// ambiguously), the rest signed in the unit.
fn signed(v: f64, unit: &str) -> String {
    if unit == unit::PERCENT {
        format!("{v:+.1} pt")
    } else {
        let sign = if v < 0.0 { "-" } else { "+" };
        format!("{sign}{}", number(v.abs(), unit))
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
        (Some(d), _) if p.unit == unit::PERCENT => signed(d, p.unit),
        (_, Some(pct)) => format!("{pct:+.0} %"),
        (Some(d), None) => signed(d, p.unit),
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

/// The sections and the numbered notes they refer to: each test's figures, followed by its
/// dashboard's panels when it has one, then the architectures.
fn sections(r: &Reproduction) -> (Vec<Section<'_>>, Vec<&'static str>) {
    let mut notes: Vec<&'static str> = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    for pair in &r.pairs {
        if sections.last().is_none_or(|s| s.title != pair.test) {
            let header = [
                "figure",
                "published",
                "local",
                "delta",
                "within target",
                "note",
            ];
            sections.push(Section::new(pair.test.clone(), &header));
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
            maybe(pair.local, pair.unit),
            delta(pair),
            verdict(pair).to_owned(),
            note,
        ]);
    }
    for dashboard in &r.dashboards {
        // A test's figures are titled by the test; its panels follow them, and the HTML draws
        // its dashboard above them. A test without figures has its panels at the end.
        match sections.iter().position(|s| s.title == dashboard.test) {
            Some(i) => {
                sections[i].dashboard = Some(dashboard);
                sections.insert(i + 1, panels_section(dashboard));
            }
            None => sections.push(Section {
                dashboard: Some(dashboard),
                ..panels_section(dashboard)
            }),
        }
    }
    if let Some(rows) = &r.architectures {
        let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".into(), f);
        let secs = |v: f64| format!("{v:.1} s");
        let pct = |v: f64| format!("{:.1} %", v * 100.0);
        let whole = |v: f64| format!("{v:.0}");
        let mut section = Section::new(
            "architectures under test #2's profile".into(),
            &[
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
            ],
        );
        section.rows = rows
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
            .collect();
        sections.push(section);
    }
    (sections, notes)
}

/// Whether Prometheus answered any of the dashboard's queries (`--prometheus`).
fn has_prometheus(d: &Dashboard) -> bool {
    d.panels
        .iter()
        .any(|p| p.prometheus.as_ref().is_some_and(|v| !v.is_empty()))
}

/// A panel's row name for one value of its `by` label: `Stage Avg Duration{stage=vision}`.
fn panel_row_name(p: &PanelReading, key: &str) -> String {
    match (key, p.by) {
        ("", _) => p.title.to_owned(),
        (key, Some(by)) => format!("{}{{{by}={key}}}", p.title),
        (key, None) => format!("{}{{{key}}}", p.title),
    }
}

/// Prometheus's answer against the built-in reduction: the change and, where the built-in
/// value is not 0, the change relative to it.
fn difference(built_in: Option<f64>, prometheus: Option<f64>, unit: &str) -> String {
    let (Some(built_in), Some(prometheus)) = (built_in, prometheus) else {
        return "-".into();
    };
    let d = prometheus - built_in;
    let relative = if built_in == 0.0 {
        String::new()
    } else {
        format!(" ({:+.1} %)", d / built_in * 100.0)
    };
    format!("{}{relative}", signed(d, unit))
}

/// The dashboard's panels at the end of the published window: a row per panel and value of
/// its `by` label; Prometheus's columns only when it answered.
fn panels_section(d: &Dashboard) -> Section<'_> {
    let prometheus = has_prometheus(d);
    let mut header = vec!["panel", "query", "published", "built-in"];
    if prometheus {
        header.extend(["Prometheus", "difference"]);
    }
    let mut section = Section::new(
        format!(
            "{} dashboard at the end of the published window ({:.0} s)",
            d.test, d.window_s
        ),
        &header,
    );
    section.code_column = Some(1);
    for p in &d.panels {
        let answered = p.prometheus.as_ref();
        let mut keys: BTreeSet<&str> = p.built_in.keys().map(String::as_str).collect();
        keys.extend(
            answered
                .into_iter()
                .flat_map(|v| v.keys().map(String::as_str)),
        );
        if keys.is_empty() {
            // A panel without data still has its row, of dashes.
            keys.insert("");
        }
        for (i, key) in keys.into_iter().enumerate() {
            let built_in = p.built_in.get(key).copied();
            let mut row = vec![
                panel_row_name(p, key),
                // The query once per panel: its label's rows share it.
                if i == 0 {
                    p.query.to_owned()
                } else {
                    String::new()
                },
                maybe(p.published, p.unit),
                maybe(built_in, p.unit),
            ];
            if prometheus {
                let answer = answered.and_then(|v| v.get(key)).copied();
                row.extend([maybe(answer, p.unit), difference(built_in, answer, p.unit)]);
            }
            section.rows.push(row);
        }
    }
    section
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

/// A Markdown document: the tables only (a Markdown viewer draws no inline SVG).
pub fn markdown(r: &Reproduction) -> String {
    let (sections, notes) = sections(r);
    let mut out = String::from("# scan-bench reproduce eco2\n\n");
    let _ = writeln!(out, "{}\n", summary(r));
    for section in sections {
        let _ = writeln!(out, "## {}\n", section.title);
        let _ = writeln!(out, "| {} |", section.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(section.header.len()));
        for row in section.rows {
            let row: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| match section.code_column {
                    // PromQL's `*` and `_` would otherwise read as emphasis.
                    Some(code) if code == i && !c.is_empty() => format!("`{}`", markdown_cell(c)),
                    _ => markdown_cell(c),
                })
                .collect();
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

/// The page's own styles: the tables, the stat cards and the charts' grid (the charts' text
/// is styled by `reports`' [`CHART_STYLE`]).
const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}td.no{color:#b00}td.yes{color:#070}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:12px 0}
.stat{border:1px solid #d8d9da;border-radius:4px;padding:8px 12px;background:#fbfbfb}
.stat .name{font-size:13px;font-weight:600;color:#464c54}
.stat .value{font-size:30px;font-weight:600;color:#1f60c4;margin:4px 0}
.stat .reference{font-size:12px;color:#6e7077}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px;margin:0 0 1.5em}
";

/// A self-contained HTML page: each test's dashboard (stat cards, charts), then the tables.
pub fn html(r: &Reproduction) -> String {
    let (sections, notes) = sections(r);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>scan-bench reproduce eco2</title><style>{STYLE}{CHART_STYLE}</style></head>\
         <body>\n<h1>scan-bench reproduce eco2</h1>\n"
    );
    let _ = writeln!(out, "<p>{}</p>", escape_html(&summary(r)));
    for section in sections {
        if let Some(dashboard) = section.dashboard {
            out.push_str(&dashboard_html(dashboard));
        }
        let _ = writeln!(out, "<h2>{}</h2>\n<table><tr>", escape_html(&section.title));
        for h in &section.header {
            let _ = write!(out, "<th>{}</th>", escape_html(h));
        }
        out.push_str("</tr>\n");
        for row in section.rows {
            out.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let class = if c == "yes" || c == "no" {
                    format!(" class=\"{c}\"")
                } else {
                    String::new()
                };
                let text = escape_html(c);
                if section.code_column == Some(i) && !c.is_empty() {
                    let _ = write!(out, "<td{class}><code>{text}</code></td>");
                } else {
                    let _ = write!(out, "<td{class}>{text}</td>");
                }
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

/// One test's dashboard as Grafana lays it out: the top row's stat panels as cards, then the
/// time-series panels, the published window shaded on each.
fn dashboard_html(d: &Dashboard) -> String {
    let mut out = format!(
        "<section class=\"dashboard\">\n<h2>{} dashboard</h2>\n<p>Stat panels at the end of the \
         published window ({:.0} s after the load's start, modelled time); charts over the \
         whole run.</p>\n",
        escape_html(&d.test),
        d.window_s
    );
    out.push_str(&stat_cards(d));
    out.push_str("<div class=\"grid\">\n");
    for chart in drawn_charts(&d.charts) {
        out.push_str(&chart.svg(d.window_s));
    }
    out.push_str("</div>\n</section>\n");
    out
}

/// The top row's panels, one card each: the local value big, the published one and
/// Prometheus's (with `--prometheus`) under it.
fn stat_cards(d: &Dashboard) -> String {
    let top_row = |p: &&PanelReading| ECO2_TOP_ROW.iter().any(|t| t.title == p.title);
    let mut out = String::from("<div class=\"stats\">\n");
    for p in d.panels.iter().filter(top_row) {
        // The top row's queries keep no label: their one value is under "".
        let _ = write!(
            out,
            "<div class=\"stat\"><div class=\"name\">{}</div><div class=\"value\">{}</div>\
             <div class=\"reference\">published {}</div>",
            escape_html(p.title),
            escape_html(&maybe(p.built_in.get("").copied(), p.unit)),
            escape_html(&maybe(p.published, p.unit))
        );
        if let Some(answer) = &p.prometheus {
            let _ = write!(
                out,
                "<div class=\"reference\">Prometheus {}</div>",
                escape_html(&maybe(answer.get("").copied(), p.unit))
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
    out
}

/// The time-series panels the dashboard draws together as one: each of its lines is one of
/// these charts, named by what follows `TTFB `.
const TTFB_PERCENTILES: [&str; 3] = ["TTFB p50", "TTFB p95", "TTFB p99"];

/// One chart as drawn: a title, a unit, named lines of `[x, y]` points.
struct Drawn<'a> {
    title: &'a str,
    unit: &'a str,
    lines: Vec<(&'a str, &'a [[f64; 2]])>,
}

impl Drawn<'_> {
    /// The chart as inline SVG, the published window `0..=window_s` marked.
    fn svg(&self, window_s: f64) -> String {
        let y_label = match self.unit {
            unit::SECONDS => "seconds",
            unit::PERCENT => "percent",
            unit::PER_SECOND => "per second",
            unit::PER_MINUTE => "per minute",
            _ => "count",
        };
        let mut chart = LineChart::new(self.title)
            .x_axis(Ticks::Seconds, "modelled seconds since the load's start")
            .y_axis(Ticks::Number, y_label)
            .mark_x(0.0, window_s, "published window");
        for (name, points) in &self.lines {
            // The scrape before the load lands a moment before its start; drawn at 0 it keeps
            // the axis from opening a tick early (at -50 s) for a fraction of a second.
            chart = chart.line(*name, points.iter().map(|p| (p[0].max(0.0), p[1])));
        }
        chart.svg()
    }
}

/// The charts in the dashboard's order, the TTFB percentiles merged into one "TTFB
/// Percentiles" chart where the first of them is.
fn drawn_charts(charts: &[Chart]) -> Vec<Drawn<'_>> {
    let mut drawn: Vec<Drawn> = Vec::new();
    for chart in charts {
        let lines = chart
            .lines
            .iter()
            .map(|l| (l.label.as_str(), &l.points[..]));
        if !TTFB_PERCENTILES.contains(&chart.title) {
            drawn.push(Drawn {
                title: chart.title,
                unit: chart.unit,
                lines: lines.collect(),
            });
            continue;
        }
        let quantile = chart.title.trim_start_matches("TTFB ");
        let at = match drawn.iter().position(|d| d.title == "TTFB Percentiles") {
            Some(at) => at,
            None => {
                drawn.push(Drawn {
                    title: "TTFB Percentiles",
                    unit: chart.unit,
                    lines: Vec::new(),
                });
                drawn.len() - 1
            }
        };
        drawn[at]
            .lines
            .extend(lines.map(|(_, points)| (quantile, points)));
    }
    drawn
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::dashboard::Line;
    use super::*;

    /// One panel of the hand-built dashboard.
    fn reading(
        title: &'static str,
        unit: &'static str,
        by: Option<&'static str>,
        published: Option<f64>,
        built_in: &[(&str, f64)],
    ) -> PanelReading {
        PanelReading {
            title,
            query: "sum(rate(scan_sse_requests_total[1m])) * 60",
            unit,
            by,
            published,
            built_in: built_in
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            prometheus: None,
        }
    }

    fn chart(title: &'static str, unit: &'static str, lines: &[&str]) -> Chart {
        Chart {
            title,
            unit,
            lines: lines
                .iter()
                .map(|label| Line {
                    label: (*label).to_owned(),
                    // The first scrape comes a moment before the load, as in a run.
                    points: vec![[-0.2, 1.0], [100.0, 2.0], [200.0, 1.5]],
                })
                .collect(),
        }
    }

    /// Test #1 with its six top-row panels, a `by`-labelled panel and seven charts, the TTFB
    /// percentiles among them.
    fn reproduction() -> Reproduction {
        let dashboard = Dashboard {
            test: "#1".into(),
            window_s: 104.0,
            panels: vec![
                reading(
                    "Active Connections",
                    unit::COUNT,
                    None,
                    Some(10.0),
                    &[("", 7.0)],
                ),
                reading(
                    "Chain Avg Duration",
                    unit::SECONDS,
                    None,
                    Some(11.3),
                    &[("", 11.159)],
                ),
                reading(
                    "TTFB (p50)",
                    unit::SECONDS,
                    None,
                    Some(1.74),
                    &[("", 1.715)],
                ),
                reading(
                    "Success Rate",
                    unit::PERCENT,
                    None,
                    Some(99.7),
                    &[("", 100.0)],
                ),
                reading(
                    "Requests/sec",
                    unit::PER_SECOND,
                    None,
                    Some(0.35),
                    &[("", 0.7998)],
                ),
                reading("Timeout Rate", unit::PERCENT, None, None, &[]),
                reading(
                    "Stage Avg Duration",
                    unit::SECONDS,
                    Some("stage"),
                    None,
                    &[("answer", 3.67), ("vision", 3.53)],
                ),
            ],
            charts: vec![
                chart("Active Connections", unit::COUNT, &["Active Connections"]),
                chart("Chain Avg Duration", unit::SECONDS, &["Chain Avg Duration"]),
                chart("Stage Avg Duration", unit::SECONDS, &["answer", "<vision>"]),
                chart("TTFB p50", unit::SECONDS, &["TTFB p50"]),
                chart("TTFB p95", unit::SECONDS, &["TTFB p95"]),
                chart("TTFB p99", unit::SECONDS, &["TTFB p99"]),
                chart(
                    "Requests by Status (per minute)",
                    unit::PER_MINUTE,
                    &["success", "failed"],
                ),
            ],
        };
        Reproduction {
            time_scale: 0.05,
            reports_dir: "out".into(),
            pairs: vec![
                Pair::new("#1", "chain avg (server)", unit::SECONDS, 11.3).local(Some(11.159)),
            ],
            dashboards: vec![dashboard],
            architectures: None,
        }
    }

    /// `r` with Prometheus's answers: the chain average 0.2 s above the built-in one, one
    /// stage as built in, the other panels unanswered.
    fn with_prometheus(mut r: Reproduction) -> Reproduction {
        let panels = &mut r.dashboards[0].panels;
        panels[1].prometheus = Some(BTreeMap::from([(String::new(), 11.359)]));
        panels[6].prometheus = Some(BTreeMap::from([("vision".to_owned(), 3.53)]));
        r
    }

    #[test]
    fn units_have_one_formatter() {
        assert_eq!(number(11.159, unit::SECONDS), "11.16 s");
        assert_eq!(number(99.71, unit::PERCENT), "99.7 %");
        assert_eq!(number(0.7998, unit::PER_SECOND), "0.80");
        assert_eq!(number(47.9885, unit::PER_MINUTE), "47.99");
        assert_eq!(number(7.4, unit::COUNT), "7");
        assert_eq!(signed(-0.25, unit::SECONDS), "-0.25 s");
        assert_eq!(signed(1.25, unit::PERCENT), "+1.2 pt");
        assert_eq!(
            difference(Some(10.0), Some(10.5), unit::SECONDS),
            "+0.50 s (+5.0 %)"
        );
        assert_eq!(difference(Some(0.0), Some(1.0), unit::COUNT), "+1");
        assert_eq!(difference(Some(1.0), None, unit::COUNT), "-");
    }

    #[test]
    fn the_page_has_a_card_per_top_row_panel() {
        let page = html(&reproduction());
        assert_eq!(page.matches("<div class=\"stat\">").count(), 6, "{page}");
        for card in [
            "<div class=\"name\">Active Connections</div><div class=\"value\">7</div>\
             <div class=\"reference\">published 10</div>",
            "<div class=\"name\">Chain Avg Duration</div><div class=\"value\">11.16 s</div>\
             <div class=\"reference\">published 11.30 s</div>",
            "<div class=\"name\">Success Rate</div><div class=\"value\">100.0 %</div>\
             <div class=\"reference\">published 99.7 %</div>",
            "<div class=\"name\">Requests/sec</div><div class=\"value\">0.80</div>\
             <div class=\"reference\">published 0.35</div>",
            // Neither measured nor published: dashes.
            "<div class=\"name\">Timeout Rate</div><div class=\"value\">-</div>\
             <div class=\"reference\">published -</div>",
        ] {
            assert!(page.contains(card), "{card} in {page}");
        }
        assert!(
            !page.contains("<div class=\"name\">Stage Avg Duration"),
            "not a top-row panel"
        );
        assert!(!page.contains("Prometheus"), "no --prometheus: {page}");
        // The dashboard comes before the test's figures.
        assert!(
            page.find("#1 dashboard</h2>") < page.find("<h2>#1</h2>"),
            "{page}"
        );
    }

    #[test]
    fn cards_show_prometheus_when_it_answered() {
        let page = html(&with_prometheus(reproduction()));
        assert!(
            page.contains(
                "<div class=\"reference\">published 11.30 s</div>\
                 <div class=\"reference\">Prometheus 11.36 s</div>"
            ),
            "{page}"
        );
        // Only the top-row panel Prometheus answered says so.
        assert_eq!(
            page.matches("<div class=\"reference\">Prometheus").count(),
            1
        );
    }

    #[test]
    fn the_page_draws_each_chart_with_the_published_window() {
        let page = html(&reproduction());
        // Seven charts, the three TTFB percentiles drawn as one.
        assert_eq!(page.matches("<svg").count(), 5, "{page}");
        let ttfb = page
            .split("<svg")
            .find(|svg| svg.contains("TTFB Percentiles"))
            .expect("a TTFB Percentiles chart");
        for legend in [">p50</text>", ">p95</text>", ">p99</text>"] {
            assert!(ttfb.contains(legend), "{legend} in {ttfb}");
        }
        assert_eq!(ttfb.matches("<polyline").count(), 3, "{ttfb}");
        assert!(!page.contains("aria-label=\"TTFB p95\""), "{page}");
        // Every chart marks 0 to 104 s; the band's geometry is tested in `reports`.
        assert_eq!(
            page.matches("<title>published window: 0 to 104</title>")
                .count(),
            5,
            "{page}"
        );
        assert!(
            !page.contains(">-50s<"),
            "the axis starts at the load: {page}"
        );
        assert!(page.contains("&lt;vision&gt;") && !page.contains("<vision>"));
        assert!(
            !page.contains("<script") && !page.contains("http"),
            "self-contained"
        );
    }

    #[test]
    fn the_panels_table_is_in_every_format() {
        let r = reproduction();
        let title = "#1 dashboard at the end of the published window (104 s)";
        for text in [terminal(&r), markdown(&r), html(&r)] {
            assert!(text.contains(title), "{text}");
            assert!(text.contains("Stage Avg Duration{stage=vision}"), "{text}");
            assert!(text.contains("Stage Avg Duration{stage=answer}"), "{text}");
            assert!(!text.contains("Prometheus"), "no --prometheus: {text}");
            assert!(!text.contains("difference"), "no --prometheus: {text}");
        }
        let md = markdown(&r);
        assert!(
            md.contains(
                "| Chain Avg Duration | `sum(rate(scan_sse_requests_total[1m])) * 60` \
                 | 11.30 s | 11.16 s |"
            ),
            "{md}"
        );
        // The by-labelled panel's query on its first row only.
        assert!(
            md.contains("| Stage Avg Duration{stage=vision} |  | - | 3.53 s |"),
            "{md}"
        );
        assert!(
            md.contains("| Timeout Rate | `"),
            "a row without data: {md}"
        );
        assert!(!md.contains("<svg"), "Markdown has tables only");
        let table = md.find(title).unwrap();
        assert!(
            md.find("## #1\n").unwrap() < table,
            "panels follow the figures: {md}"
        );
    }

    #[test]
    fn prometheus_columns_appear_when_it_answered() {
        let r = with_prometheus(reproduction());
        for text in [terminal(&r), markdown(&r), html(&r)] {
            assert!(
                text.contains("Prometheus") && text.contains("difference"),
                "{text}"
            );
            assert!(text.contains("+0.20 s (+1.8 %)"), "{text}");
        }
        let md = markdown(&r);
        assert!(
            md.contains(
                "| Stage Avg Duration{stage=vision} |  | - | 3.53 s | 3.53 s | +0.00 s (+0.0 %) |"
            ),
            "{md}"
        );
        // A panel Prometheus did not answer: dashes.
        assert!(md.contains("| 10 | 7 | - | - |"), "{md}");
    }
}
