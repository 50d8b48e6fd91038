//! Goodput end to end: `scan-bench run` on the embedded stack with `[slo]` objectives far
//! from the injected latencies, so which requests are good is known by hand from the
//! report's own outcome counts, and thresholds on `good_fraction` decide the exit code.

mod support;

use support::FIXED_MOCK;

use std::path::Path;

use reports::RunReport;

/// At time scale 0.5, deterministic injected latencies: every chain takes at least
/// 60 + 120 + 80 = 260 ms of modelled time (the staged pipeline's subscription, vision,
/// answer), about 300 ms in all; half the scans end in an error event.
fn scenario(slo: &str, thresholds: &str) -> String {
    format!(
        r#"name = "goodput"
time_scale = 0.5
[load]
stages = [{{ duration = "0s", target = 3 }}, {{ duration = "3s", target = 3 }}]
think_time = "20ms"

[slo]
{slo}

[thresholds]
{thresholds}

{FIXED_MOCK}

[pipeline.mode]
kind = "staged"
subscription = {{ pool = 100, setup = "60ms" }}

[pipeline.faults]
p_error_event = 0.5
"#
    )
}

/// Runs the scenario; its exit code and report.
fn run(dir: &Path, name: &str, text: &str) -> (i32, RunReport) {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let ran = support::run(&[file.to_str().unwrap(), "--quiet"], &dir.join(name));
    (ran.code, ran.report)
}

#[test]
fn every_completed_request_meets_lenient_slos_and_errors_are_not_good() {
    let dir = tempfile::tempdir().unwrap();
    // 100 times the injected chain, 80 times the injected vision stage.
    let (code, report) = run(
        dir.path(),
        "lenient",
        &scenario(
            "chain = \"30s\"\n\"stage_duration{stage:vision}\" = \"10s\"",
            "good_fraction = [\"rate>0\"]\ngoodput = [\"count>0\"]",
        ),
    );
    assert_eq!(code, 0, "{:?}", report.thresholds);
    let t = &report.totals;
    let g = report.goodput.as_ref().expect("a scenario with SLOs");
    assert!(
        t.failed.get("error_event").copied().unwrap_or(0) > 0,
        "{t:?}"
    );
    assert!(t.completed > 0, "{t:?}");
    // By hand: every completed request is good, no other one is.
    assert_eq!(g.good, t.completed, "{t:?}");
    assert_eq!(
        g.good_fraction,
        Some(t.completed as f64 / t.attempted as f64)
    );
    let modelled_s = report.environment.duration_s / report.environment.time_scale;
    let per_second = g.per_second.unwrap();
    assert!(
        (per_second - g.good as f64 / modelled_s).abs() < 1e-9,
        "per modelled second: {per_second}"
    );
    let observed = |metric: &str| {
        report
            .thresholds
            .iter()
            .find(|r| r.metric == metric)
            .and_then(|r| r.observed)
    };
    assert_eq!(observed("good_fraction"), g.good_fraction);
    assert_eq!(observed("goodput"), Some(g.good as f64));
}

#[test]
fn slos_below_the_injected_latency_in_modelled_time_make_no_request_good() {
    let dir = tempfile::tempdir().unwrap();
    // Under the 260 ms every chain takes in modelled time, though above the 130 ms it
    // takes on the clock at time scale 0.5: the objective is modelled time.
    let (code, report) = run(
        dir.path(),
        "strict",
        &scenario("chain = \"200ms\"", "good_fraction = [\"rate>0\"]"),
    );
    assert_eq!(code, 99, "the good_fraction threshold fails");
    let t = &report.totals;
    assert!(t.completed > 0, "{t:?}");
    let g = report.goodput.as_ref().unwrap();
    assert_eq!((g.good, g.good_fraction), (0, Some(0.0)));
    assert_eq!(g.per_second, Some(0.0));
    assert!(!report.thresholds[0].passed);
}
