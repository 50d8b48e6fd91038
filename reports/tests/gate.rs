//! The regression gate on reports whose every value is known.

mod common;

use common::{report, requests, run};
use reports::LoadgenHealth;
use reports::gate::{GateConfig, GateError, Outcome, gate, parse_tolerances};
use scenarios::Timing;

fn config(tolerances: &str, min_delta_ms: f64) -> GateConfig {
    GateConfig {
        tolerances: parse_tolerances(tolerances).unwrap(),
        min_delta_ms,
        ..GateConfig::default()
    }
}

#[test]
fn identical_reports_pass() {
    let base = run(500, 1, 1.0);
    let verdict = gate(("base", &base), ("same", &base), &GateConfig::default()).unwrap();
    assert!(verdict.passed, "{verdict:#?}");
    assert!(
        verdict
            .checks
            .iter()
            .all(|c| c.outcome == Outcome::NotSlower && c.delta_ms == Some(0.0))
    );
    assert!(verdict.warnings.is_empty(), "{:?}", verdict.warnings);
    let interval = verdict.checks[0].interval.unwrap();
    assert!(interval.low < 0.0 && interval.high > 0.0, "{interval:?}");
}

#[test]
fn a_20_percent_slower_chain_p95_fails_and_is_named() {
    let base = run(1000, 1, 1.0);
    let slow = run(1000, 2, 1.2);
    let verdict = gate(
        ("base", &base),
        ("slow", &slow),
        &config("chain.p95=10%,ttfb.p95=15%", 1.0),
    )
    .unwrap();
    assert!(!verdict.passed);
    let failed: Vec<String> = verdict
        .regressions()
        .map(|c| c.figure.to_string())
        .collect();
    assert_eq!(failed, ["chain.p95"], "ttfb did not change: {verdict:#?}");
    let check = &verdict.checks[0];
    assert_eq!(check.outcome, Outcome::Regressed);
    let relative = check.relative.unwrap();
    assert!((0.12..0.3).contains(&relative), "{relative}");
    let interval = check.interval.unwrap();
    assert!(
        interval.low > 0.0
            && interval.low < check.delta_ms.unwrap()
            && check.delta_ms.unwrap() < interval.high
    );
    let text = reports::render::Format::Terminal.renderer().gate(&verdict);
    assert!(text.contains("gate FAILED: chain.p95 +"), "{text}");
}

#[test]
fn a_change_under_the_absolute_floor_passes() {
    let base = run(1000, 1, 1.0);
    // The rule stage (about 50 µs) gets three times slower: large relatively, tiny absolutely.
    let mut slower = requests(1000, 4.0, 1, 1.0);
    for r in &mut slower {
        r.stages_ms[1] *= 3.0;
    }
    let candidate = report(&slower, "2025-12-01T10:00:00.000Z");
    let verdict = gate(
        ("base", &base),
        ("new", &candidate),
        &config("rule.p95=10%", 1.0),
    )
    .unwrap();
    assert!(verdict.passed, "{verdict:#?}");
    assert_eq!(verdict.checks[0].outcome, Outcome::UnderFloor);
    assert!(verdict.checks[0].relative.unwrap() > 1.0);
    // The same change with a floor below it fails: the floor is what let it pass.
    let strict = gate(
        ("base", &base),
        ("new", &candidate),
        &config("rule.p95=10%", 0.01),
    )
    .unwrap();
    assert!(!strict.passed);
    assert_eq!(strict.checks[0].outcome, Outcome::Regressed);
}

#[test]
fn too_few_samples_cannot_show_a_regression() {
    let base = run(20, 1, 1.0);
    let slow = run(20, 2, 1.15);
    let verdict = gate(
        ("base", &base),
        ("slow", &slow),
        &config("chain.p95=5%", 1.0),
    )
    .unwrap();
    let check = &verdict.checks[0];
    assert!(check.relative.unwrap() > 0.05, "{check:#?}");
    assert_eq!(check.outcome, Outcome::NotSignificant, "{check:#?}");
    assert!(check.interval.unwrap().low < 0.0);
    assert!(verdict.passed);
}

#[test]
fn a_candidate_without_data_fails() {
    let base = run(200, 1, 1.0);
    let mut failing = requests(200, 4.0, 1, 1.0);
    for r in &mut failing {
        r.failed = Some("http_503");
    }
    let candidate = report(&failing, "2025-12-01T10:00:00.000Z");
    let verdict = gate(
        ("base", &base),
        ("down", &candidate),
        &config("chain.p95=10%", 1.0),
    )
    .unwrap();
    assert!(!verdict.passed);
    assert_eq!(verdict.checks[0].outcome, Outcome::NoData);
    // Its own http_req_failed threshold fails too.
    assert!(
        verdict
            .failed_thresholds()
            .any(|t| t.metric == "http_req_failed"),
        "{:#?}",
        verdict.thresholds
    );
}

#[test]
fn the_candidates_thresholds_count() {
    let base = run(200, 1, 1.0);
    let mut some_fail = requests(200, 4.0, 1, 1.0);
    for r in some_fail.iter_mut().step_by(10) {
        r.failed = Some("connect");
    }
    let candidate = report(&some_fail, "2025-12-01T10:00:00.000Z");
    let verdict = gate(
        ("base", &base),
        ("new", &candidate),
        &config("chain.p50=10%", 1.0),
    )
    .unwrap();
    assert!(
        verdict.checks.iter().all(|c| c.passed()),
        "{:#?}",
        verdict.checks
    );
    assert!(
        !verdict.passed,
        "http_req_failed rate<0.01 fails at 10 % failures"
    );
    let headline = reports::render::Format::Terminal.renderer().gate(&verdict);
    assert!(
        headline.contains("threshold http_req_failed rate<0.01 failed"),
        "{headline}"
    );
}

#[test]
fn unknown_metrics_are_refused_naming_the_known_ones() {
    let base = run(50, 1, 1.0);
    let err = gate(("a", &base), ("b", &base), &config("chian.p95=10%", 1.0)).unwrap_err();
    assert!(matches!(err, GateError::UnknownMetric { .. }));
    let text = err.to_string();
    assert!(
        text.contains("chian") && text.contains("chain") && text.contains("vision"),
        "{text}"
    );
}

#[test]
fn k6_names_work_as_metrics() {
    let base = run(300, 1, 1.0);
    let verdict = gate(
        ("a", &base),
        ("b", &base),
        &config("sse_total_duration.p95=10%", 1.0),
    )
    .unwrap();
    assert_eq!(
        verdict.checks[0].baseline_ms,
        base.latency(Timing::Chain).map(|m| m.summary.p95)
    );
}

#[test]
fn other_time_scales_are_rescaled_and_other_machines_warned_about() {
    let base = run(500, 1, 1.0);
    // The same system at twice the time scale: every injected latency doubles.
    let mut doubled = requests(500, 4.0, 1, 1.0);
    for r in &mut doubled {
        r.ttfb_ms *= 2.0;
        r.stages_ms = r.stages_ms.map(|v| v * 2.0);
    }
    let mut candidate = report(&doubled, "2025-12-01T10:00:00.000Z");
    candidate.environment.time_scale = 0.04;
    candidate.environment.cpu_model = Some("Other CPU".into());
    let verdict = gate(
        ("base", &base),
        ("new", &candidate),
        &config("chain.p95=2%,chain.mean=2%", 1.0),
    )
    .unwrap();
    assert!(verdict.passed, "{verdict:#?}");
    for c in &verdict.checks {
        assert!(c.relative.unwrap().abs() < 0.01, "{c:#?}");
    }
    let warnings = verdict.warnings.join("\n");
    assert!(
        warnings.contains("CPU differs: baseline Test CPU, candidate Other CPU"),
        "{warnings}"
    );
    assert!(warnings.contains("time scale differs"), "{warnings}");
}

#[test]
fn an_overloaded_run_is_warned_about_by_gate_and_compare() {
    let mut base = run(500, 1, 1.0);
    base.health = Some(LoadgenHealth::new(2.0, 10.0, Some(1.0), &base));
    let mut busy = base.clone();
    busy.health = Some(LoadgenHealth::new(35.0, 10.0, Some(1.0), &busy));
    let expected = "busy: the load generator was overloaded (timers up to 35.0ms late): latencies include its own delay";

    let verdict = gate(("base", &base), ("busy", &busy), &GateConfig::default()).unwrap();
    assert_eq!(verdict.warnings, [expected]);
    assert!(verdict.passed, "a warning, not a failure");
    let verdict = gate(("busy", &busy), ("base", &base), &GateConfig::default()).unwrap();
    assert_eq!(verdict.warnings, [expected], "an overloaded baseline too");
    let verdict = gate(("base", &base), ("same", &base), &GateConfig::default()).unwrap();
    assert!(verdict.warnings.is_empty(), "{:?}", verdict.warnings);

    let comparison = reports::compare::compare(&[("base", &base), ("busy", &busy)]);
    assert_eq!(comparison.warnings, [expected]);
}
