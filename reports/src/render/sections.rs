//! Each section of scan-bench's documents, built once as a [`Document`]'s data: the run line
//! and its alerts, request counts, latency and stage tables, client against server,
//! thresholds, the gate, the environment; the runs of a comparison and their tables.

use std::fmt::Write;

use crate::compare::{Comparison, Direction};
use crate::gate::GateVerdict;
use crate::report::{LatencyMetric, LoadgenHealth, RunReport, ThresholdResult, TokenStats};

use super::document::{Block, Cell, Column, Document, Section, Table, Text, Tone};
use super::{delta, interval, measured, ms, observed, pct, signed_ms, signed_pct, value};

/// A run's sections in three groups, the HTML page's charts between them.
pub(crate) struct Run {
    /// The scenario, marked passed when its thresholds and the gate (if any) held: the run
    /// line with what must not be missed, then requests, failures, nulls and the load
    /// generator's health.
    pub summary: Document,
    /// The latency and stage tables.
    pub latencies: Vec<Section>,
    /// Client against server, thresholds, the gate, the environment.
    pub rest: Vec<Section>,
}

impl Run {
    /// The sections in reading order.
    pub fn into_document(self) -> Document {
        let mut document = self.summary;
        document.sections.extend(self.latencies);
        document.sections.extend(self.rest);
        document
    }
}

/// A run's report, with the gate's verdict when the run was gated.
pub(crate) fn run(report: &RunReport, gate: Option<&GateVerdict>) -> Run {
    let mut rest: Vec<Section> = client_server(report).into_iter().collect();
    rest.extend(llm_calls(report));
    rest.extend(thresholds(&report.thresholds, "Thresholds"));
    if let Some(verdict) = gate {
        rest.extend(self::gate(verdict, false));
    }
    rest.push(environment(report));
    let passed = crate::thresholds::all_passed(&report.thresholds) && gate.is_none_or(|g| g.passed);
    Run {
        summary: Document {
            title: Some(report.scenario.name.clone()),
            passed: Some(passed),
            sections: vec![headline(report), counts(report)],
        },
        latencies: latencies(report),
        rest,
    }
}

/// A gate's verdict on its own, the candidate's thresholds with it.
pub(crate) fn gate_document(verdict: &GateVerdict) -> Document {
    Document {
        title: None,
        passed: None,
        sections: gate(verdict, true),
    }
}

/// `scenario ci-smoke against http://…: profile 3m, ran 4.2s`, then what must not be missed.
fn headline(report: &RunReport) -> Section {
    let env = &report.environment;
    let mut line = Text::default()
        .plain("scenario ")
        .code(&report.scenario.name)
        .plain(" against ");
    if env.embedded {
        line = line.plain("the embedded stack at ");
    }
    line = line.code(&env.target).plain(format!(
        ": {}, ran {:.1}s",
        profile_line(report),
        env.duration_s
    ));
    if report.partial {
        line = line
            .plain(" (")
            .strong("interrupted")
            .plain(": partial figures)");
    }
    let mut blocks = vec![Block::Paragraph(line)];
    if let Some(warning) = report.totals.failure_warning() {
        // `MOST SCANS FAILED: 118 of 120 ...`: the words before the colon are its label.
        let (label, text) = warning.split_once(": ").unwrap_or((&warning, ""));
        blocks.push(alert(label, text));
    }
    if let Some(mut warning) = report
        .tokens
        .as_ref()
        .and_then(TokenStats::buffered_warning)
    {
        // A starved load generator reads late, and a late read takes every chunk that waited:
        // the same burst, of its own making.
        if report.health.as_ref().is_some_and(|h| h.overloaded) {
            warning.push_str(
                " (or the overloaded load generator read late: its late reads bunch chunks too)",
            );
        }
        blocks.push(alert("BUFFERED STREAMS", &warning));
    }
    if env.time_scale != 1.0 {
        blocks.push(Block::Paragraph(
            Text::default()
                .plain(format!("time scale {}: the ", env.time_scale))
                .code("p95 real-time")
                .plain(" column divides latencies back by it"),
        ));
    }
    Section::untitled(blocks)
}

/// An alert, its label in bold: `MOST SCANS FAILED: ...`, `WARNING: ...`.
fn alert(label: &str, text: &str) -> Block {
    Block::Alert(Text::default().strong(label).plain(": ").plain(text))
}

/// The load profile's length as the scenario models it and as the clock ran it:
/// `profile 30s modelled, 600ms wall-clock at time scale 0.02`, or `profile 3m` in real time.
fn profile_line(report: &RunReport) -> String {
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

/// Requests by outcome, failures by class, nulls, and the load generator's health.
fn counts(report: &RunReport) -> Section {
    let t = &report.totals;
    let share = |n: u64| {
        if t.attempted > 0 {
            pct(n as f64 / t.attempted as f64)
        } else {
            "-".into()
        }
    };
    let mut requests = format!(
        "{} attempted, {} completed ({}), {} partial, {} failed, {} interrupted",
        t.attempted,
        t.completed,
        share(t.completed),
        t.partial,
        t.failed_total(),
        t.interrupted
    );
    if t.dropped > 0 {
        let _ = write!(requests, ", {} dropped arrivals", t.dropped);
    }
    let fact = |label, short, text| Block::Fact { label, short, text };
    let mut blocks = vec![fact(
        "Requests",
        "requests",
        Text::default().plain(requests),
    )];
    if !t.failed.is_empty() {
        let classes = t
            .failed
            .iter()
            .map(|(class, n)| Text::default().code(class).plain(format!(" {n}")));
        blocks.push(fact("Failures", "failures", Text::join(classes, ", ")));
    }
    if let Some(line) = goodput_line(report) {
        blocks.push(fact("Goodput", "goodput", line));
    }
    for null in report.nulls.iter().filter(|n| n.of > 0) {
        let text = Text::default().code(&null.pointer).plain(format!(
            " null in {} of {} terminal events ({})",
            null.nulls,
            null.of,
            pct(null.nulls as f64 / null.of as f64)
        ));
        blocks.push(fact("Nulls", "nulls", text));
    }
    if let Some(health) = &report.health {
        if let Some(warning) = health.overload_warning() {
            blocks.push(alert("WARNING", &warning));
        }
        let line = Text::default().plain(health_line(health));
        blocks.push(fact("Load generator", "loadgen", line));
    }
    Section::untitled(blocks)
}

/// The good requests in one line, when the scenario has SLOs: `4.20/s modelled, 42 of 50
/// requests good (84.0%), SLOs sse_total_duration ≤ 30s, sse_ttfb ≤ 500ms`.
fn goodput_line(report: &RunReport) -> Option<Text> {
    let g = report.goodput.as_ref()?;
    let mut line = Text::default().plain(format!(
        "{} modelled, {} of {} requests good ({}), SLOs ",
        g.per_second.map_or("-".into(), |v| format!("{v:.2}/s")),
        g.good,
        report.totals.attempted,
        g.good_fraction.map_or("-".into(), pct),
    ));
    let slos = report.scenario.slo.iter().map(|(key, objective)| {
        Text::default()
            .code(key.to_string())
            .plain(format!(" ≤ {}", scenarios::duration::format(*objective)))
    });
    line.0.extend(Text::join(slos, ", ").0);
    Some(line)
}

/// The load generator's health in one line: `timers up to 2.1ms late (bound 10ms),
/// scheduling lag p99 0.4ms, CPU 1.23 s incl. the embedded stack (45µs per completed
/// request)`.
fn health_line(h: &LoadgenHealth) -> String {
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

/// The latency table, and the stage table when the stream has stages.
fn latencies(report: &RunReport) -> Vec<Section> {
    let scale = report.environment.time_scale;
    let table = |metrics, with_k6| vec![Block::Table(latency_table(metrics, scale, with_k6))];
    let mut sections = vec![Section::titled("Latencies", table(&report.latencies, true))];
    if !report.stages.is_empty() {
        sections.push(Section::titled("Stages", table(&report.stages, false)));
    }
    if let Some(tokens) = &report.tokens {
        sections.push(tokens_section(tokens));
    }
    sections
}

/// Token streams: a line of totals, then the per-request distributions of output tokens and
/// tokens per second (the token latencies are rows of the latency table).
fn tokens_section(t: &TokenStats) -> Section {
    let mut line = format!(
        "{} output tokens in {} completed streams ({} counted from usage, {} from content chunks)",
        t.output_tokens_total,
        t.streams,
        t.from_usage,
        t.streams - t.from_usage
    );
    if let Some(rate) = t.run_tokens_per_s {
        let _ = write!(line, ", {rate:.1} tokens/s over the run");
    }
    let _ = write!(line, ", {} buffered", t.buffered);
    let stats = ["count", "avg", "min", "p50", "p90", "p99", "max"];
    let mut columns = vec![Column::text("per request")];
    columns.extend(stats.map(Column::number));
    let mut table = Table::new(columns);
    for (name, m) in [
        ("output_tokens", &t.output_tokens),
        ("tokens_per_s", &t.tokens_per_s),
    ] {
        let s = &m.summary;
        let mut row = vec![name.to_owned(), s.count.to_string()];
        if s.count == 0 {
            row.extend(std::iter::repeat_n("-".to_string(), 6));
        } else {
            row.extend([s.mean, s.min, s.p50, s.p90, s.p99, s.max].map(|v| format!("{v:.1}")));
        }
        table.row(row.into_iter().map(Cell::from));
    }
    Section::titled(
        "Tokens",
        vec![
            Block::Fact {
                label: "Output tokens",
                short: "tokens",
                text: Text::default().plain(line),
            },
            Block::Table(table),
        ],
    )
}

/// One row per metric or stage; a `p95 real-time` column when the run was scaled.
fn latency_table(metrics: &[LatencyMetric], scale: f64, with_k6: bool) -> Table {
    let mut columns = vec![Column::text(if with_k6 { "metric" } else { "stage" })];
    if with_k6 {
        columns.push(Column::text("k6"));
    }
    let stats = ["count", "avg", "min", "p50", "p90", "p95", "p99", "max"];
    columns.extend(stats.map(Column::number));
    if scale != 1.0 {
        columns.push(Column::number("p95 real-time"));
    }
    let mut table = Table::new(columns);
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
        table.row(row.into_iter().map(Cell::from));
    }
    table
}

/// Client and server figures side by side, the Eco² dashboard's panels against what
/// scan-bench measured; `None` without a server view.
fn client_server(report: &RunReport) -> Option<Section> {
    use scenarios::Timing;

    let server = report.server.as_ref()?;
    let t = &report.totals;
    let env = &report.environment;
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
    let secs = |s: f64| ms(s * 1000.0);
    let rate = |v: f64| format!("{v:.2}");
    let whole = |v: f64| format!("{v:.0}");
    let first = measured(report, Timing::FirstStage);
    let chain = measured(report, Timing::Chain);
    let client_rps = (env.duration_s > 0.0).then(|| t.attempted as f64 / env.duration_s);
    let peak = report.timeseries.iter().map(|s| s.open_streams).max();
    let mut rows: Vec<[String; 3]> = vec![
        [
            "success".into(),
            opt(t.completed_share(), &pct),
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
            opt(peak.map(|v| v as f64), &whole),
            opt(server.peak_connections, &whole),
        ],
    ];
    for stage in &report.stages {
        if let Some(avg) = server.stage_avg_s.get(&stage.name) {
            let client = (stage.summary.count > 0).then_some(stage.summary.mean);
            rows.push([format!("{} avg", stage.name), opt(client, &ms), secs(*avg)]);
        }
    }
    let server_only = [
        ("rejected at admission", server.rejected.map(whole)),
        // Shown only when the target has replicas that can fail, as the reference pipeline does.
        (
            "503 no healthy upstream",
            server.upstream_unavailable.filter(|n| *n > 0.0).map(whole),
        ),
        (
            "replica restarts",
            server.replica_restarts.filter(|n| *n > 0.0).map(whole),
        ),
        ("worker-level success", server.worker_success.map(pct)),
    ];
    for (name, figure) in server_only {
        if let Some(figure) = figure {
            rows.push([name.into(), "-".into(), figure]);
        }
    }
    let mut table = Table::new([
        Column::text(""),
        Column::number("client (scan-bench)"),
        Column::number("server (/metrics)"),
    ]);
    for row in rows {
        table.row(row.map(Cell::from));
    }
    Some(Section::titled(
        "Client vs server",
        vec![Block::Table(table)],
    ))
}

/// The target's own LLM calls per stage beside the stage as the client saw it, so that a slow
/// chain shows whether the model, or the hops and queues around it, take the time; `None`
/// for a target that does not report them.
fn llm_calls(report: &RunReport) -> Option<Section> {
    let server = report.server.as_ref()?;
    if server.llm_calls.is_empty() {
        return None;
    }
    let secs = |s: Option<f64>| s.map_or("-".into(), |s| ms(s * 1000.0));
    let whole = |v: f64| format!("{v:.0}");
    let mut table = Table::new([
        Column::text("stage"),
        Column::text("model"),
        Column::number("stage avg (client)"),
        Column::number("stage avg (server)"),
        Column::number("LLM call avg"),
        Column::number("LLM call p95"),
        Column::number("calls"),
        Column::number("429s"),
        Column::number("retries"),
        Column::number("tokens in"),
        Column::number("tokens out"),
    ]);
    for call in &server.llm_calls {
        let client = report
            .stages
            .iter()
            .find(|s| s.name == call.call && s.summary.count > 0)
            .map(|s| ms(s.summary.mean));
        table.row(
            [
                call.call.clone(),
                call.model.clone(),
                client.unwrap_or_else(|| "-".into()),
                secs(server.stage_avg_s.get(&call.call).copied()),
                secs(call.avg_s),
                secs(call.p95_s),
                whole(call.calls),
                whole(call.rate_limited),
                whole(call.retries),
                whole(call.input_tokens),
                whole(call.output_tokens),
            ]
            .map(Cell::from),
        );
    }
    Some(Section::titled(
        "LLM calls (server view)",
        vec![Block::Table(table)],
    ))
}

/// The thresholds with their verdicts under `title`; `None` when there are none.
fn thresholds(results: &[ThresholdResult], title: &str) -> Option<Section> {
    if results.is_empty() {
        return None;
    }
    let mut table = Table::new([
        Column::text("metric"),
        Column::text("threshold"),
        Column::number("observed"),
    ]);
    table.checklist = true;
    for r in results {
        table.marked_row(
            r.passed,
            [
                Cell::code(&r.metric),
                Cell::code(&r.expression),
                observed(r.observed).into(),
            ],
        );
    }
    Some(Section::titled(title, vec![Block::Table(table)]))
}

/// The gate's checks, warnings and headline; `with_thresholds` for a verdict shown on its own
/// (a run's report shows the thresholds already).
fn gate(verdict: &GateVerdict, with_thresholds: bool) -> Vec<Section> {
    let rule = format!(
        ": a figure regresses when it is slower beyond its tolerance, beyond the {} floor, \
         and the {:.0}% interval of the change lies above zero.",
        ms(verdict.min_delta_ms),
        verdict.confidence * 100.0
    );
    let intro = Text::default()
        .code(&verdict.candidate)
        .plain(" against baseline ")
        .code(&verdict.baseline)
        .plain(rule);
    let mut blocks = vec![Block::Paragraph(intro)];
    if !verdict.checks.is_empty() {
        blocks.push(Block::Table(checks(verdict)));
    }
    if let Some(goodput) = &verdict.goodput {
        blocks.push(Block::Table(goodput_table(goodput)));
    }
    let mut conclusion = Vec::new();
    if !verdict.warnings.is_empty() {
        conclusion.push(Block::Warnings(verdict.warnings.clone()));
    }
    conclusion.push(Block::Verdict {
        passed: verdict.passed,
        text: gate_headline(verdict),
    });
    let mut gate = Section::titled("Gate", blocks);
    gate.passed = Some(verdict.passed);
    if !with_thresholds {
        gate.blocks.extend(conclusion);
        return vec![gate];
    }
    let mut sections = vec![gate];
    sections.extend(thresholds(
        &verdict.thresholds,
        "Thresholds of the candidate",
    ));
    sections.push(Section::untitled(conclusion));
    sections
}

/// One row per checked figure.
fn checks(verdict: &GateVerdict) -> Table {
    let mut table = Table::new([
        Column::text("figure"),
        Column::number("baseline"),
        Column::number("candidate"),
        Column::number("delta"),
        Column::number("change"),
        Column::number("interval"),
        Column::number("tolerance"),
        Column::text("verdict"),
    ]);
    for c in &verdict.checks {
        table.marked_row(
            c.passed(),
            [
                Cell::code(c.figure.to_string()),
                c.baseline_ms.map_or("-".into(), ms).into(),
                c.candidate_ms.map_or("-".into(), ms).into(),
                c.delta_ms.map_or("-".into(), signed_ms).into(),
                c.relative.map_or("-".into(), signed_pct).into(),
                interval(c).into(),
                pct(c.tolerance).into(),
                c.outcome.to_string().into(),
            ],
        );
    }
    table
}

/// The gate's two runs' goodput figures, the change read as `compare` reads it.
fn goodput_table(goodput: &crate::compare::Section) -> Table {
    let mut table = Table::new([
        Column::text(&goodput.title),
        Column::number("baseline"),
        Column::number("candidate"),
        Column::number("change"),
    ]);
    for row in &goodput.rows {
        let d = row.delta(1);
        let tone = match d.map(|d| d.direction) {
            Some(Direction::Better) => Tone::Better,
            Some(Direction::Worse) => Tone::Worse,
            _ => Tone::Neutral,
        };
        let at = |i: usize| value(row.unit, row.values.get(i).copied().flatten());
        table.row([
            Cell::from(row.name.clone()),
            at(0).into(),
            at(1).into(),
            Cell::toned(delta(row.unit, d), tone),
        ]);
    }
    table
}

/// The headline of a gate: passed, or what failed and by how much.
fn gate_headline(verdict: &GateVerdict) -> String {
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

/// The environment: the fingerprint the gate compares, and when.
fn environment(report: &RunReport) -> Section {
    let e = &report.environment;
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let target = format!(
        "{}{}",
        e.target,
        if e.embedded { " (embedded stack)" } else { "" }
    );
    let fields = [
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
        ("target", target),
        ("seed", report.scenario.seed.to_string()),
    ];
    let mut table = Table::new([Column::text("field"), Column::text("value")]);
    for (field, value) in fields {
        table.row([field.into(), value.into()]);
    }
    let mut section = Section::titled("Environment", vec![Block::Table(table)]);
    section.reference = true;
    section
}

/// Runs side by side: which runs, then a table per group of figures with deltas against the
/// first run.
pub(crate) fn comparison(comparison: &Comparison) -> Document {
    let runs = comparison.runs.iter().enumerate().map(|(i, run)| {
        let mut line = Text::default()
            .strong(&run.label)
            .plain(": ")
            .code(&run.scenario)
            .plain(format!(
                " started {}, time scale {}",
                run.started_at, run.time_scale
            ));
        if let Some(commit) = &run.git_commit {
            line = line.plain(", commit ").code(commit);
        }
        if i == 0 {
            line = line.plain(" (reference of the deltas)");
        }
        line
    });
    let mut sections = vec![Section::titled("runs", vec![Block::List(runs.collect())])];
    for section in &comparison.sections {
        let table = comparison_table(comparison, section);
        sections.push(Section::untitled(vec![Block::Table(table)]));
    }
    if !comparison.warnings.is_empty() {
        let warnings = Block::Warnings(comparison.warnings.clone());
        sections.push(Section::untitled(vec![warnings]));
    }
    Document {
        title: Some("runs compared".into()),
        passed: None,
        sections,
    }
}

/// A group of figures, the group's title heading the names: each run's value, and each later
/// run's delta against the first.
fn comparison_table(comparison: &Comparison, section: &crate::compare::Section) -> Table {
    let mut columns = vec![Column::text(&section.title)];
    for (i, run) in comparison.runs.iter().enumerate() {
        columns.push(Column::number(&run.label));
        if i > 0 {
            columns.push(Column::number(format!("Δ {}", run.label)));
        }
    }
    let mut table = Table::new(columns);
    for row in &section.rows {
        let mut cells = vec![Cell::from(row.name.clone())];
        for (i, v) in row.values.iter().enumerate() {
            cells.push(value(row.unit, *v).into());
            if i > 0 {
                let d = row.delta(i);
                let tone = match d.map(|d| d.direction) {
                    Some(Direction::Better) => Tone::Better,
                    Some(Direction::Worse) => Tone::Worse,
                    _ => Tone::Neutral,
                };
                cells.push(Cell::toned(delta(row.unit, d), tone));
            }
        }
        table.row(cells);
    }
    table
}
