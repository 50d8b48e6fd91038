//! `scan-bench sweep` end to end: the real binary against the embedded mock on loopback, a
//! sweep of three points of about a second each.

use assert_cmd::Command;
use reports::RunReport;
use reports::sweep::{Sweep, SweepUnit};

#[test]
fn a_sweep_of_three_points_writes_every_report_and_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let assert = Command::cargo_bin("scan-bench")
        .unwrap()
        .args([
            "sweep",
            "openai-chat",
            "--vus",
            "1,2,3",
            "--duration",
            "30s",
        ])
        .arg("--out")
        .arg(&out)
        .timeout(std::time::Duration::from_secs(120))
        .assert();
    let output = assert.get_output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );

    let sweep = Sweep::read(&out.join("sweep.json")).unwrap();
    assert_eq!(sweep.scenario, "openai-chat");
    assert_eq!(sweep.unit, SweepUnit::Vus);
    assert!(!sweep.partial && sweep.knee.is_none());
    let loads: Vec<f64> = sweep.points.iter().map(|p| p.load).collect();
    assert_eq!(loads, [1.0, 2.0, 3.0]);
    for (point, vus) in sweep.points.iter().zip([1, 2, 3]) {
        assert_eq!(point.report, format!("vus-{vus}/report.json"));
        // Each point ran the scenario scaled to its load, through the same path as `run`.
        let report = RunReport::read(&out.join(&point.report)).unwrap();
        assert_eq!(report.scenario.load.peak_vus(), vus);
        assert_eq!(report.totals.attempted, point.attempted);
        assert!(point.completed > 0, "{point:?}");
        assert!(point.thresholds_passed, "{point:?}");
        assert!(point.throughput.unwrap() > 0.0, "{point:?}");
        let ttfb = point.ttfb.expect("ttfb measured");
        assert!(ttfb.p50 <= ttfb.p95 && ttfb.p95 <= ttfb.p99, "{ttfb:?}");
        assert!(point.goodput.is_none());
    }
    // More users, more completed requests per second.
    assert!(
        sweep.points[2].throughput > sweep.points[0].throughput,
        "{:?}",
        sweep.points
    );
    let html = std::fs::read_to_string(out.join("sweep.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Latency percentiles against load"));
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(md.contains("vus-3/report.json"), "{md}");
    assert!(stdout.contains("vus-2/report.json"), "{stdout}");
}
