//! A report written and read back (also one written before later fields), and files that
//! are not reports.

mod common;

use std::path::Path;

use reports::histogram::new_latency;
use reports::{LatencyMetric, LoadgenHealth, ReportError, RunReport};

#[test]
fn a_report_round_trips_through_its_file() {
    let report = common::run(300, 1, 1.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/report.json");
    report.write_atomic(&path).unwrap();
    let back = RunReport::read(&path).unwrap();
    assert_eq!(back, report);
    for m in back.latencies.iter().chain(&back.stages) {
        assert_eq!(
            reports::histogram::Summary::of(&m.decode().unwrap()),
            m.summary,
            "{}",
            m.name
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string(&common::run(20, 1, 1.0)).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let truncated = write("truncated.json", &good[..good.len() / 2]);
    let err = RunReport::read(&truncated).unwrap_err();
    assert!(matches!(err, ReportError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: not a scan-bench run report: EOF",
            truncated.display()
        )),
        "{err}"
    );

    let foreign = write(
        "package.json",
        r#"{"name": "left-pad", "version": "1.3.0"}"#,
    );
    let err = RunReport::read(&foreign).unwrap_err().to_string();
    assert!(
        err.contains("not a scan-bench run report: no `schema_version` field"),
        "{err}"
    );

    let newer = write(
        "v2.json",
        &good.replacen("\"schema_version\":1", "\"schema_version\":2", 1),
    );
    let err = RunReport::read(&newer).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::Version {
                found: 2,
                expected: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("report schema version 2, this scan-bench reads version 1")
    );

    let mangled = write(
        "mangled.json",
        &good.replacen("\"attempted\":", "\"attempted\":\"many\",\"x\":", 1),
    );
    assert!(matches!(
        RunReport::read(&mangled),
        Err(ReportError::Invalid { .. })
    ));

    let missing = dir.path().join("missing.json");
    assert!(matches!(
        RunReport::read(&missing),
        Err(ReportError::Io { .. })
    ));
}

#[test]
fn health_round_trips_and_reports_written_without_it_still_read() {
    let mut report = common::run(300, 1, 1.0);
    report.health = Some(LoadgenHealth::new(2.5, 10.0, Some(1.5), &report));
    for s in &mut report.timeseries {
        s.started_actual = s.started;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    report.write_atomic(&path).unwrap();
    let back = RunReport::read(&path).unwrap();
    assert_eq!(back, report);
    let health = back.health.unwrap();
    assert_eq!(health.cpu_per_completed_us, Some(1.5e6 / 300.0));
    assert!(
        health.cpu_includes_embedded_stack,
        "the fixture ran embedded"
    );
    assert!(!health.overloaded);
    assert_eq!(
        health.scheduling_lag_p99_ms, None,
        "a closed-model run has no scheduling lag"
    );

    // A report written before the health section and the actual starts were kept.
    let mut value = serde_json::to_value(&report).unwrap();
    value.as_object_mut().unwrap().remove("health");
    for s in value["timeseries"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("started_actual");
    }
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let old = RunReport::read(&path).unwrap();
    let mut expected = report.clone();
    expected.health = None;
    for s in &mut expected.timeseries {
        s.started_actual = 0;
    }
    assert_eq!(old, expected);

    // The committed CI baseline is such a report.
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/baseline/ci-smoke.json");
    RunReport::read(&baseline).unwrap();
}

#[test]
fn overloaded_means_timers_later_than_the_bound() {
    let mut report = common::run(100, 1, 1.0);
    let at_bound = LoadgenHealth::new(10.0, 10.0, None, &report);
    assert!(!at_bound.overloaded && at_bound.overload_warning().is_none());
    assert_eq!(at_bound.cpu_per_completed_us, None);
    let over = LoadgenHealth::new(35.0, 10.0, None, &report);
    assert_eq!(
        over.overload_warning().as_deref(),
        Some(
            "the load generator was overloaded (timers up to 35.0ms late): latencies include its own delay"
        )
    );

    // Open model: the scheduling lag's p99 comes from its histogram.
    let mut lag = new_latency();
    lag.record_n(1_000, 98).unwrap();
    lag.record_n(50_000, 2).unwrap();
    report
        .latencies
        .push(LatencyMetric::new("scheduling_lag", None, &lag));
    let p99 = LoadgenHealth::new(1.0, 10.0, None, &report).scheduling_lag_p99_ms;
    assert_eq!(p99, Some(lag.value_at_quantile(0.99) as f64 / 1000.0));
    assert!(p99.unwrap() >= 50.0, "{p99:?}");
}

#[test]
fn goodput_thresholds_judge_the_good_requests() {
    let mut all = common::requests(400, 4.0, 5, 1.0);
    for r in all.iter_mut().step_by(4) {
        r.failed = Some("http_503");
    }
    let mut report = common::with_chain_slo(&all, "2025-12-01T10:00:00.000Z", 60_000);
    let modelled_s = report.environment.duration_s / report.environment.time_scale;
    let thresholds = [
        ("good_fraction", "rate>=0.75", true),
        ("good_fraction", "rate>0.75", false),
        ("goodput", "count==300", true),
        ("goodput", "rate>0", true),
    ];
    for (metric, expression, _) in thresholds {
        report
            .scenario
            .thresholds
            .entry(metric.parse().unwrap())
            .or_default()
            .push(expression.parse().unwrap());
    }
    let results = reports::thresholds::evaluate(&report);
    for (metric, expression, passed) in thresholds {
        let r = results
            .iter()
            .find(|r| r.metric == metric && r.expression == expression)
            .unwrap();
        assert_eq!(r.passed, passed, "{metric} {expression}: {r:?}");
    }
    let rate = results.iter().find(|r| r.expression == "rate>0").unwrap();
    assert!(
        (rate.observed.unwrap() - 300.0 / modelled_s).abs() < 1e-9,
        "per modelled second"
    );
}
