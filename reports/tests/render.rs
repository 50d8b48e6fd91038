//! Every renderer on fixed reports: the structure is checked (tables, headers, marks, charts,
//! no external resource), not the pixels.

mod common;

use std::collections::BTreeMap;

use reports::compare::compare;
use reports::gate::{GateConfig, GateVerdict, gate, parse_tolerances};
use reports::render::Format;
use reports::{CountMetric, LlmCalls, LoadgenHealth, RunReport, ServerView, TokenStats};

/// A run with a server view and one failed threshold, and a slower run gated against it.
fn fixtures() -> (RunReport, RunReport, GateVerdict) {
    let mut base = common::run(400, 1, 1.0);
    base.scenario.description = "<b>bold</b> & | pipes".into();
    base.server = Some(ServerView {
        source: "http://127.0.0.1:9/metrics".into(),
        requests: BTreeMap::from([("success".to_owned(), 400.0)]),
        success_rate: Some(1.0),
        chain_avg_s: Some(0.143),
        ttfb_p50_s: Some(0.004),
        ttfb_p95_s: Some(0.009),
        rps: Some(97.0),
        peak_connections: Some(8.0),
        stage_avg_s: BTreeMap::from([("vision".to_owned(), 0.079), ("answer".to_owned(), 0.063)]),
        rejected: Some(0.0),
        worker_success: Some(1.0),
        upstream_unavailable: Some(0.0),
        replica_restarts: Some(0.0),
        openai_rate_limited: Some(0.0),
        llm_calls: vec![LlmCalls {
            call: "vision".into(),
            model: "gpt-4o".into(),
            calls: 400.0,
            avg_s: Some(0.071),
            p95_s: Some(0.094),
            rate_limited: 3.0,
            retries: 3.0,
            input_tokens: 48_000.0,
            output_tokens: 20_000.0,
        }],
    });
    let mut slow = common::run(400, 2, 1.3);
    slow.thresholds[0].passed = false;
    let config = GateConfig {
        tolerances: parse_tolerances("chain.p95=10%,ttfb.p95=15%").unwrap(),
        ..GateConfig::default()
    };
    let verdict = gate(("base", &base), ("slow", &slow), &config).unwrap();
    assert!(!verdict.passed);
    (base, slow, verdict)
}

#[test]
fn terminal_has_tables_marks_and_the_server_side() {
    let (base, slow, verdict) = fixtures();
    let text = Format::Terminal.renderer().run(&base, None);
    for needle in [
        "┌",
        "│ metric",
        "│ k6",
        "p95 real-time",
        "│ vision",
        "client (scan-bench)",
        "server (/metrics)",
        "✓ sse_ttfb p(95)<8000",
        "nulls",
        "LLM calls (server view)",
        "gpt-4o",
        "48000",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let gated = Format::Terminal.renderer().run(&slow, Some(&verdict));
    for needle in ["✗ sse_ttfb", "✗ REGRESSED", "gate FAILED: chain.p95"] {
        assert!(gated.contains(needle), "{needle} missing:\n{gated}");
    }
    assert_eq!(
        gated.matches("sse_ttfb p(95)<8000").count(),
        1,
        "thresholds shown once:\n{gated}"
    );
}

#[test]
fn markdown_tables_are_well_formed() {
    let (base, slow, verdict) = fixtures();
    let md = Format::Markdown.renderer().run(&slow, Some(&verdict));
    for needle in [
        "## scan-bench: ci-smoke ❌",
        "### Latencies",
        "### Stages",
        "### Thresholds",
        "### Gate ❌",
        "| ❌ | `sse_ttfb` | `p(95)<8000` |",
        "<details>",
    ] {
        assert!(md.contains(needle), "{needle} missing:\n{md}");
    }
    assert_tables_are_rectangular(&md);
    let md = Format::Markdown.renderer().run(&base, None);
    assert!(md.contains("### Client vs server"));
    assert!(md.contains("| ✅ | `http_req_failed`"));
    assert_tables_are_rectangular(&md);
}

/// Every GFM table row has as many cells as its header, and a separator follows the header.
fn assert_tables_are_rectangular(md: &str) {
    let cells = |line: &str| line.replace("\\|", "").matches('|').count() - 1;
    let lines: Vec<&str> = md.lines().collect();
    let mut tables = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('|') {
            tables += 1;
            let width = cells(lines[i]);
            assert!(
                lines[i + 1].starts_with("|---"),
                "no separator under {}",
                lines[i]
            );
            while i < lines.len() && lines[i].starts_with('|') {
                assert_eq!(cells(lines[i]), width, "{}", lines[i]);
                i += 1;
            }
        }
        i += 1;
    }
    assert!(tables >= 3, "{md}");
}

#[test]
fn every_format_says_the_same_of_a_run() {
    let (_, mut slow, verdict) = fixtures();
    slow.partial = true;
    slow.totals.dropped = 7;
    slow.totals.failed.insert("http_503".into(), 900);
    slow.totals.attempted += 900;
    slow.health = Some(LoadgenHealth::new(35.0, 10.0, Some(1.5), &slow));
    for format in [Format::Terminal, Format::Markdown, Format::Html] {
        let text = format.renderer().run(&slow, Some(&verdict));
        for needle in [
            "MOST SCANS FAILED",
            "interrupted",
            "7 dropped arrivals",
            "http_503",
            "/result/reward",
            "the load generator was overloaded",
            "p95 real-time",
            "REGRESSED",
            "gate FAILED: chain.p95",
        ] {
            assert!(
                text.contains(needle),
                "{format:?}: {needle} missing:\n{text}"
            );
        }
        let seen = |needle: &str| text.find(needle).unwrap_or(usize::MAX);
        assert!(
            seen("MOST SCANS FAILED") < seen("sse_total_duration"),
            "{format:?}: mass failure is said before the latencies:\n{text}"
        );
    }
}

#[test]
fn html_is_one_self_contained_page_with_charts() {
    let (base, slow, verdict) = fixtures();
    let html = Format::Html.renderer().run(&base, None);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(
        html.matches("<svg").count(),
        6,
        "VUs/RPS, chain and TTFB over time, stage bars, two percentile curves"
    );
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert!(html.matches("<polyline").count() >= 10);
    assert!(
        html.contains("<rect class=\"segment\""),
        "the stage breakdown is a stacked bar"
    );
    assert!(html.contains(">Where the time goes: mean chain by stage</text>"));
    assert!(html.contains(">99%</text>"), "the percentile axis");
    assert!(html.matches("<table").count() >= 5);
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; | pipes") && !html.contains("<b>bold"),
        "text is escaped"
    );
    assert_no_external_resource(&html);

    let gated = Format::Html.renderer().run(&slow, Some(&verdict));
    assert!(gated.contains("<h2>Gate <span class=\"badge fail\">failed</span></h2>"));
    assert!(gated.contains(
        "<tr class=\"fail\"><td><span class=\"mark fail\">✗</span></td><td><code>chain.p95</code>"
    ));
    assert_no_external_resource(&gated);
}

fn assert_no_external_resource(html: &str) {
    let lower = html.to_lowercase();
    for banned in [
        "src=", "<link", "<script", "url(", "@import", "href=", "xlink:", "<iframe", "<object",
        "<embed",
    ] {
        assert!(!lower.contains(banned), "{banned} in the page");
    }
}

#[test]
fn junit_has_a_testcase_per_threshold_and_check() {
    let (_, slow, verdict) = fixtures();
    let xml = Format::Junit.renderer().run(&slow, Some(&verdict));
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), slow.thresholds.len() + verdict.checks.len());
    assert_eq!(
        root.attribute("tests"),
        Some(cases.len().to_string().as_str())
    );
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(failed, ["sse_ttfb p(95)<8000", "chain.p95 within 10.0%"]);
    assert_eq!(root.attribute("failures"), Some("2"));
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(
        suites,
        ["ci-smoke thresholds", "ci-smoke gate against base"]
    );

    let alone = Format::Junit.renderer().gate(&verdict);
    let doc = roxmltree::Document::parse(&alone).expect("well-formed XML");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        verdict.checks.len() + verdict.thresholds.len()
    );
}

#[test]
fn json_is_the_document_itself() {
    let (base, _, verdict) = fixtures();
    let back: RunReport = serde_json::from_str(&Format::Json.renderer().run(&base, None)).unwrap();
    assert_eq!(back, base);
    let value: serde_json::Value =
        serde_json::from_str(&Format::Json.renderer().gate(&verdict)).unwrap();
    assert_eq!(value["passed"], false);
    assert_eq!(value["checks"][0]["figure"], "chain.p95");
    assert_eq!(value["checks"][0]["outcome"], "regressed");
    assert!(value["checks"][0]["interval"]["low"].as_f64().unwrap() > 0.0);
}

#[test]
fn comparisons_show_deltas_with_better_and_worse() {
    let (base, slow, _) = fixtures();
    let comparison = compare(&[("base", &base), ("slow", &slow)]);
    let term = Format::Terminal.renderer().comparison(&comparison).unwrap();
    for needle in [
        "│ latencies",
        "│ Δ slow",
        "│ chain p95",
        "worse",
        "│ vision mean",
        "server (/metrics)",
    ] {
        assert!(term.contains(needle), "{needle} missing:\n{term}");
    }
    let chain_p95 = term.lines().find(|l| l.contains("│ chain p95")).unwrap();
    assert!(
        chain_p95.contains("worse") && chain_p95.contains("(+"),
        "{chain_p95}"
    );
    let md = Format::Markdown.renderer().comparison(&comparison).unwrap();
    assert!(md.contains("🔴"), "{md}");
    assert_tables_are_rectangular(&md);
    let html = Format::Html.renderer().comparison(&comparison).unwrap();
    assert!(html.contains("<td class=\"num worse\">"));
    assert_no_external_resource(&html);
    assert!(Format::Junit.renderer().comparison(&comparison).is_none());
    let json: serde_json::Value =
        serde_json::from_str(&Format::Json.renderer().comparison(&comparison).unwrap()).unwrap();
    assert_eq!(json["runs"][1]["label"], "slow");
}

#[test]
fn the_load_generators_health_is_one_line_and_a_warning_when_overloaded() {
    let (mut base, _, _) = fixtures();
    base.health = Some(LoadgenHealth::new(2.5, 10.0, Some(1.5), &base));
    let mut busy = base.clone();
    busy.health = Some(LoadgenHealth::new(35.0, 10.0, Some(1.5), &busy));
    let warning = "the load generator was overloaded (timers up to 35.0ms late): latencies include its own delay";
    let line = "timers up to 2.5ms late (bound 10.0ms), CPU 1.50 s incl. the embedded stack (3750µs per completed request)";

    let text = Format::Terminal.renderer().run(&base, None);
    assert!(text.contains(&format!("loadgen   {line}\n")), "{text}");
    assert!(!text.contains("WARNING"), "{text}");
    let text = Format::Terminal.renderer().run(&busy, None);
    assert!(text.contains(&format!("WARNING: {warning}\n")), "{text}");

    let md = Format::Markdown.renderer().run(&base, None);
    assert!(
        md.contains("**Load generator**: timers up to 2.5ms late"),
        "{md}"
    );
    assert!(!md.contains("WARNING"));
    let md = Format::Markdown.renderer().run(&busy, None);
    assert!(
        md.contains("> ⚠️ **WARNING**: the load generator was overloaded"),
        "{md}"
    );
    assert_tables_are_rectangular(&md);

    let html = Format::Html.renderer().run(&base, None);
    assert!(
        html.contains(&format!("<p>Load generator: {line}.</p>")),
        "{html}"
    );
    assert!(!html.contains("WARNING"));
    let html = Format::Html.renderer().run(&busy, None);
    assert!(html.contains(&format!(
        "<p class=\"overloaded\"><strong>WARNING</strong>: {warning}</p>"
    )));
    assert_no_external_resource(&html);

    let xml = Format::Junit.renderer().run(&busy, None);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let property = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .map(str::to_owned)
    };
    assert_eq!(property("loadgen.overloaded").as_deref(), Some("true"));
    assert_eq!(
        property("loadgen.max_timer_lag_ms").as_deref(),
        Some("35.000")
    );
    assert_eq!(property("loadgen.cpu_seconds").as_deref(), Some("1.500"));
    assert_eq!(property("loadgen.scheduling_lag_p99_ms"), None);

    // Reports written before the health section render without it.
    let text = Format::Terminal.renderer().run(&fixtures().0, None);
    assert!(!text.contains("loadgen "), "{text}");
}

#[test]
fn the_open_models_chart_shows_actual_starts_beside_the_target() {
    let (mut report, _, _) = fixtures();
    let html = Format::Html.renderer().run(&report, None);
    assert!(!html.contains("target rate") && !html.contains("(actual)"));
    for s in &mut report.timeseries {
        s.target_rate = Some(100.0);
        s.started_actual = s.started;
    }
    let html = Format::Html.renderer().run(&report, None);
    for name in ["started/s (intended)", "target rate", "started/s (actual)"] {
        assert!(
            html.contains(&format!("class=\"legend\">{name}</text>")),
            "{name} missing"
        );
    }
}

#[test]
fn goodput_is_shown_in_every_format_only_with_slos() {
    let mut all = common::requests(400, 4.0, 5, 1.0);
    for r in all.iter_mut().step_by(4) {
        r.failed = Some("timeout");
    }
    // Every completed request is good: 300 of 400.
    let judged = common::with_chain_slo(&all, "2025-12-01T10:00:00.000Z", 60_000);
    let g = judged.goodput.clone().unwrap();
    assert_eq!((g.good, g.good_fraction), (300, Some(0.75)));
    let line = format!(
        "{:.2}/s modelled, 300 of 400 requests good (75.0%), SLOs ",
        g.per_second.unwrap()
    );
    for format in [Format::Terminal, Format::Markdown, Format::Html] {
        let text = format.renderer().run(&judged, None);
        for needle in [line.as_str(), "sse_total_duration", " ≤ 1m"] {
            assert!(
                text.contains(needle),
                "{format:?}: {needle} missing:\n{text}"
            );
        }
        let plain = format
            .renderer()
            .run(&common::report(&all, "2025-12-01T10:00:00.000Z"), None);
        assert!(
            !plain.contains("good"),
            "{format:?}: no SLOs, no goodput:\n{plain}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&Format::Json.renderer().run(&judged, None)).unwrap();
    assert_eq!(json["goodput"]["good"], 300);
    let xml = Format::Junit.renderer().run(&judged, None);
    assert!(
        xml.contains("<property name=\"goodput.good\" value=\"300\"/>"),
        "{xml}"
    );

    // `compare` and the gate line both runs up, more goodput being better.
    let strict = common::with_chain_slo(&all, "2025-12-01T10:00:00.000Z", 7_000);
    let comparison = compare(&[("lenient", &judged), ("strict", &strict)]);
    let section = comparison
        .sections
        .iter()
        .find(|s| s.title == "goodput (SLOs)")
        .unwrap();
    let fraction = section
        .rows
        .iter()
        .find(|r| r.name == "good fraction")
        .unwrap();
    assert_eq!(
        fraction.delta(1).unwrap().direction,
        reports::compare::Direction::Worse
    );
    let text = Format::Terminal.renderer().comparison(&comparison).unwrap();
    assert!(
        text.contains("goodput (SLOs)") && text.contains("75.0%"),
        "{text}"
    );
    let verdict = gate(
        ("lenient", &judged),
        ("strict", &strict),
        &GateConfig::default(),
    )
    .unwrap();
    let text = Format::Terminal.renderer().gate(&verdict);
    assert!(
        text.contains("│ good fraction") && text.contains("worse"),
        "{text}"
    );
}

/// A token stream's run: its Tokens section and, with buffered streams, the warning line in
/// every format, in the JSON too; a run without tokens shows neither.
#[test]
fn every_format_shows_token_counts_and_buffered_streams() {
    let (base, _, _) = fixtures();
    let mut counts = reports::histogram::new_latency();
    let mut rates = reports::histogram::new_latency();
    for n in [60u64, 64, 64, 70] {
        counts.record(n).unwrap();
        rates.record(n * 1000 * 1000 / 1460).unwrap();
    }
    let mut tokens = base.clone();
    tokens.tokens = Some(TokenStats {
        streams: 4,
        from_usage: 3,
        output_tokens_total: 258,
        output_tokens: CountMetric::new(&counts, 1.0),
        tokens_per_s: CountMetric::new(&rates, 1000.0),
        run_tokens_per_s: Some(43.0),
        buffered: 1,
    });
    assert_eq!(
        tokens.tokens.as_ref().unwrap().output_tokens.summary.max,
        70.0
    );
    for format in [Format::Terminal, Format::Markdown, Format::Html] {
        let text = format.renderer().run(&tokens, None);
        for needle in [
            "Tokens",
            "258 output tokens in 4 completed streams (3 counted from usage, 1 from content chunks)",
            "output_tokens",
            "tokens_per_s",
            "BUFFERED STREAMS",
            "1 of 4 token streams arrived in one burst",
        ] {
            assert!(
                text.contains(needle),
                "{format:?}: {needle} missing:\n{text}"
            );
        }
        let plain = format.renderer().run(&base, None);
        assert!(
            // (`output_tokens` is in the embedded scenario's mock models.)
            !plain.contains("BUFFERED") && !plain.contains("tokens_per_s"),
            "{format:?}: nothing new without tokens"
        );
    }
    let json = Format::Json.renderer().run(&tokens, None);
    let back: RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.tokens, tokens.tokens);
    assert!(
        !Format::Json
            .renderer()
            .run(&base, None)
            .contains("\"tokens\"")
    );
}
