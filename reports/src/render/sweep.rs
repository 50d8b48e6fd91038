//! A sweep as a document: the knee, one table row per point, and for HTML the figures against
//! load (latency percentiles; success, throughput and goodput). Built once as sections, written
//! as terminal text, Markdown or a self-contained HTML page.

use super::document::{Block, Cell, Column, Document, Section, Table, Text};
use super::svg::{LineChart, PALETTE, Series, Ticks};
use super::{DocumentFormat, Markdown, Terminal, html, ms, pct};
use crate::sweep::{Knee, Percentiles, StopReason, Sweep, SweepPoint, SweepUnit};

impl Knee {
    /// The knee in one line: `holds up to 21 VUs; fails at 25 VUs: scan_failed rate<0.3
    /// (observed 0.412)`.
    pub fn sentence(&self, unit: SweepUnit) -> String {
        let why = self.why.as_deref().unwrap_or("");
        let ended = match self.stop {
            StopReason::MaxRuns => format!(" (the bound of {} runs was reached)", self.runs),
            StopReason::Stopped => " (stopped by a signal)".into(),
            _ => String::new(),
        };
        match (self.holds_up_to, self.fails_at) {
            (Some(good), Some(bad)) => format!(
                "holds up to {}; fails at {}: {why}{ended}",
                unit.load(good),
                unit.load(bad)
            ),
            (Some(good), None) => {
                format!("holds up to {}; no load failed{ended}", unit.load(good))
            }
            (None, Some(bad)) => {
                format!("fails even at {}: {why}{ended}", unit.load(bad))
            }
            (None, None) => format!("no load was measured{ended}"),
        }
    }
}

/// The sweep's sections.
fn document(sweep: &Sweep) -> Document {
    let mut sections = Vec::new();
    if let Some(knee) = &sweep.knee {
        sections.push(Section {
            passed: Some(knee.holds_up_to.is_some()),
            ..Section::titled(
                "Knee",
                vec![Block::Paragraph(Text::default().plain(format!(
                    "{}: {}",
                    sweep.scenario,
                    knee.sentence(sweep.unit)
                )))],
            )
        });
    }
    let mut about = vec![Block::Paragraph(Text::default().plain(format!(
        "Load is the profile's peak ({}); latencies and throughput are in modelled time, \
         divided back by the time scale {}. Each point's report is named in the last column.",
        match sweep.unit {
            SweepUnit::Vus => "virtual users, every stage scaled alike",
            SweepUnit::Rate => "requests per second, every stage scaled alike",
        },
        sweep.time_scale
    )))];
    if sweep.partial {
        about.push(Block::Alert(Text::default().plain(
            "A stop signal ended the sweep: the points below are those measured before it.",
        )));
    }
    about.push(Block::Table(table(sweep)));
    sections.push(Section::titled("Points", about));
    Document {
        title: Some(format!("sweep of {}", sweep.scenario)),
        passed: None,
        sections,
    }
}

fn table(sweep: &Sweep) -> Table {
    let has = |f: fn(&SweepPoint) -> bool| sweep.points.iter().any(f);
    let (ttfb, chain) = (has(|p| p.ttfb.is_some()), has(|p| p.chain.is_some()));
    let goodput = has(|p| p.goodput.is_some());
    let mut columns = vec![
        Column::number(format!("load ({})", sweep.unit.symbol())),
        Column::number("requests"),
        Column::number("success"),
        Column::number("throughput"),
    ];
    if goodput {
        columns.push(Column::number("goodput"));
    }
    let percentile_columns =
        |name: &str| ["p50", "p95", "p99"].map(|q| Column::number(format!("{name} {q}")));
    if ttfb {
        columns.extend(percentile_columns("ttfb"));
    }
    if chain {
        columns.extend(percentile_columns("chain"));
    }
    columns.extend([Column::text("failed thresholds"), Column::text("report")]);
    let mut t = Table::new(columns);
    for p in &sweep.points {
        let mut cells: Vec<Cell> = vec![
            Cell::from(format!(
                "{}{}",
                p.load,
                if p.partial { " (partial)" } else { "" }
            )),
            Cell::from(p.attempted.to_string()),
            Cell::from(p.success_rate.map_or("-".into(), pct)),
            Cell::from(p.throughput.map_or("-".into(), |v| format!("{v:.2}/s"))),
        ];
        if goodput {
            cells.push(Cell::from(
                p.goodput.map_or("-".into(), |v| format!("{v:.2}/s")),
            ));
        }
        let percentiles = |q: Option<Percentiles>| {
            q.map_or(["-".to_owned(), "-".to_owned(), "-".to_owned()], |q| {
                [ms(q.p50), ms(q.p95), ms(q.p99)]
            })
            .map(Cell::from)
        };
        if ttfb {
            cells.extend(percentiles(p.ttfb));
        }
        if chain {
            cells.extend(percentiles(p.chain));
        }
        cells.push(Cell::from(if p.failed_thresholds.is_empty() {
            "-".to_owned()
        } else {
            p.failed_thresholds.join(", ")
        }));
        cells.push(Cell::code(p.report.clone()));
        t.marked_row(p.thresholds_passed, cells);
    }
    t
}

/// The sweep as terminal text.
pub fn terminal(sweep: &Sweep) -> String {
    Terminal.write(&document(sweep))
}

/// The sweep as Markdown.
pub fn markdown(sweep: &Sweep) -> String {
    Markdown.write(&document(sweep))
}

/// The sweep as one self-contained HTML page: the table, then the figures against load.
pub fn html(sweep: &Sweep) -> String {
    let charts = format!(
        "<h2>Against load</h2>\n<div class=\"grid\">\n{}{}</div>\n",
        latency_chart(sweep).svg(),
        rates_chart(sweep).svg()
    );
    html::page_with(
        &format!("scan-bench: sweep of {}", sweep.scenario),
        &document(sweep),
        &charts,
    )
}

fn x_label(sweep: &Sweep) -> String {
    format!("peak load ({})", sweep.unit.symbol())
}

/// Which latency of a point a line plots.
type PickLatency = fn(&SweepPoint) -> Option<Percentiles>;

/// Which percentile of it.
type PickQuantile = fn(&Percentiles) -> f64;

/// ttfb and chain percentiles against load, on a log axis (they span decades past the knee).
fn latency_chart(sweep: &Sweep) -> LineChart {
    let mut series = Vec::new();
    let picks: [(&str, PickLatency); 2] = [("ttfb", |p| p.ttfb), ("chain", |p| p.chain)];
    for (i, (name, pick)) in picks.into_iter().enumerate() {
        if sweep.points.iter().all(|p| pick(p).is_none()) {
            continue;
        }
        let quantiles: [(&str, PickQuantile); 3] =
            [("p50", |q| q.p50), ("p95", |q| q.p95), ("p99", |q| q.p99)];
        for (j, (q, value)) in quantiles.into_iter().enumerate() {
            series.push(Series {
                name: format!("{name} {q}"),
                color: PALETTE[(i * 3 + j) % PALETTE.len()],
                points: sweep
                    .points
                    .iter()
                    .map(|p| (p.load, pick(p).as_ref().map(value)))
                    .collect(),
                right: false,
                dashed: i == 0,
            });
        }
    }
    LineChart {
        title: "Latency percentiles against load".into(),
        x_ticks: Ticks::Number,
        x_label: x_label(sweep),
        y_ticks: Ticks::Ms,
        y_label: "modelled latency (log)".into(),
        y2: None,
        log_y: true,
        marked: None,
        series,
    }
}

/// Success (left axis, %) and throughput (right axis, completed per modelled second) against
/// load, with goodput beside throughput when the points have it.
fn rates_chart(sweep: &Sweep) -> LineChart {
    let series_of = |name: &str, color, right, f: fn(&SweepPoint) -> Option<f64>| Series {
        name: name.into(),
        color,
        points: sweep.points.iter().map(|p| (p.load, f(p))).collect(),
        right,
        dashed: false,
    };
    let mut series = vec![
        series_of("success %", PALETTE[2], false, |p| {
            p.success_rate.map(|s| s * 100.0)
        }),
        series_of("throughput/s", PALETTE[0], true, |p| p.throughput),
    ];
    if sweep.points.iter().any(|p| p.goodput.is_some()) {
        series.push(series_of("goodput/s", PALETTE[1], true, |p| p.goodput));
    }
    LineChart {
        title: "Success and throughput against load".into(),
        x_ticks: Ticks::Number,
        x_label: x_label(sweep),
        y_ticks: Ticks::Number,
        y_label: "success (%)".into(),
        y2: Some((Ticks::Number, "completed per second".into())),
        log_y: false,
        marked: None,
        series,
    }
}

#[cfg(test)]
mod tests {
    use scenarios::LoadUnit;

    use super::*;

    fn point(load: f64, passed: bool) -> SweepPoint {
        SweepPoint {
            load,
            report: format!("vus-{load}/report.json"),
            partial: false,
            attempted: 100,
            completed: if passed { 100 } else { 40 },
            success_rate: Some(if passed { 1.0 } else { 0.4 }),
            throughput: Some(load / 2.0),
            ttfb: Some(Percentiles {
                p50: 100.0,
                p95: 200.0,
                p99: 300.0,
            }),
            chain: None,
            thresholds_passed: passed,
            failed_thresholds: if passed {
                vec![]
            } else {
                vec!["scan_failed rate<0.3 (observed 0.600)".into()]
            },
            goodput: None,
        }
    }

    fn sweep() -> Sweep {
        let mut s = Sweep::new("eco2-vu34", LoadUnit::Vus, 0.05);
        s.add(point(34.0, false));
        s.add(point(17.0, true));
        s.knee = Some(Knee {
            holds_up_to: Some(17.0),
            fails_at: Some(34.0),
            why: Some("scan_failed rate<0.3 (observed 0.600)".into()),
            stop: StopReason::Resolved,
            runs: 2,
        });
        s
    }

    #[test]
    fn points_are_kept_in_load_order() {
        let loads: Vec<f64> = sweep().points.iter().map(|p| p.load).collect();
        assert_eq!(loads, [17.0, 34.0]);
    }

    #[test]
    fn every_format_states_the_knee_and_the_points() {
        let s = sweep();
        let knee = "holds up to 17 VUs; fails at 34 VUs: ";
        assert!(terminal(&s).contains("fails at 34 VUs: scan_failed rate<0.3 (observed 0.600)"));
        for text in [terminal(&s), markdown(&s), html(&s)] {
            assert!(text.contains(knee), "{text}");
            assert!(text.contains("vus-17/report.json"), "{text}");
            assert!(
                !text.contains("chain p50"),
                "no chain column without data: {text}"
            );
        }
        let page = html(&s);
        assert!(page.contains("Latency percentiles against load"), "{page}");
        assert!(
            page.contains("Success and throughput against load"),
            "{page}"
        );
        assert!(!page.contains("goodput"), "{page}");
        // With SLOs, goodput joins the table and the throughput chart.
        let mut with_slos = sweep();
        with_slos.points[0].goodput = Some(7.25);
        for text in [terminal(&with_slos), html(&with_slos)] {
            assert!(
                text.contains("goodput") && text.contains("7.25/s"),
                "{text}"
            );
        }
    }

    #[test]
    fn the_knee_reads_whatever_the_search_found() {
        let knee = |holds, fails, stop| Knee {
            holds_up_to: holds,
            fails_at: fails,
            why: Some("ttfb p(95)<8000 (observed 9100)".into()),
            stop,
            runs: 8,
        };
        assert_eq!(
            knee(Some(40.0), None, StopReason::MaxRuns).sentence(SweepUnit::Vus),
            "holds up to 40 VUs; no load failed (the bound of 8 runs was reached)"
        );
        assert_eq!(
            knee(None, Some(0.5), StopReason::MaxRuns).sentence(SweepUnit::Rate),
            "fails even at 0.5 req/s: ttfb p(95)<8000 (observed 9100) (the bound of 8 runs \
             was reached)"
        );
    }
}
