//! The real `scan-bench` binary on report files: run with every format, compare, gate,
//! merge, and the exit codes of bad inputs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use reports::histogram::new_latency;
use reports::{LatencyMetric, RunReport};

fn scan_bench() -> Command {
    Command::cargo_bin("scan-bench").unwrap()
}

/// The report with every latency multiplied by `factor`.
fn scaled(report: &RunReport, factor: f64) -> RunReport {
    let scale = |m: &LatencyMetric| {
        let mut h = new_latency();
        for v in m.decode().unwrap().iter_recorded() {
            let value = (v.value_iterated_to() as f64 * factor).round() as u64;
            h.record_n(value, v.count_at_value()).unwrap();
        }
        LatencyMetric::new(&m.name, m.k6_name.as_deref(), &h)
    };
    let mut out = report.clone();
    out.latencies = report.latencies.iter().map(scale).collect();
    out.stages = report.stages.iter().map(scale).collect();
    out.thresholds = reports::thresholds::evaluate(&out);
    out
}

fn write(dir: &Path, name: &str, report: &RunReport) -> PathBuf {
    let path = dir.join(name);
    report.write_atomic(&path).unwrap();
    path
}

#[test]
fn a_run_writes_every_format_and_its_report_compares_gates_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    scan_bench()
        .args([
            "run", "ci-smoke", "--quiet", "--format", "md", "--format", "html", "--format",
            "junit", "--out",
        ])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("report.html").and(predicate::str::contains("junit.xml")));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.starts_with("## scan-bench: ci-smoke ✅") && md.contains("| ✅ | `sse_ttfb`"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("url("));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<testcase ").count(),
        4,
        "one per ci-smoke threshold:\n{junit}"
    );
    let base_path = out.join("report.json");
    let base = RunReport::read(&base_path).unwrap();

    // Identical runs: nothing to see.
    scan_bench()
        .args(["gate", "--baseline"])
        .arg(&base_path)
        .arg("--candidate")
        .arg(&base_path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "gate passed: base holds against base",
        ));
    // 20 % slower everywhere: the chain's mean fails, named with its change and interval (the
    // mean: a p95 of a few-second run rests on a handful of requests, and its interval can
    // straddle zero on a loaded machine).
    let slow = write(dir.path(), "slow.json", &scaled(&base, 1.2));
    scan_bench()
        .args(["gate", "--tolerance", "chain.mean=10%", "--baseline"])
        .arg(&base_path)
        .arg("--candidate")
        .arg(&slow)
        .assert()
        .code(99)
        .stdout(
            predicate::str::contains("gate FAILED: chain.mean +")
                .and(predicate::str::contains("interval")),
        );
    // The same in JUnit for CI.
    scan_bench()
        .args([
            "gate",
            "--format",
            "junit",
            "--tolerance",
            "chain.mean=10%",
            "--baseline",
        ])
        .arg(&base_path)
        .arg("--candidate")
        .arg(&slow)
        .assert()
        .code(99)
        .stdout(predicate::str::contains(
            "<failure message=\"chain.mean: baseline",
        ));

    scan_bench()
        .args(["compare", "--format", "md"])
        .arg(&base_path)
        .arg(&slow)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("| chain p95 |").and(predicate::str::contains("🔴")));
    scan_bench()
        .args(["compare", "--format", "junit"])
        .arg(&base_path)
        .arg(&slow)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "use `scan-bench gate --format junit`",
        ));

    let total = dir.path().join("total/report.json");
    scan_bench()
        .arg("merge")
        .arg(&base_path)
        .arg(&slow)
        .arg("-o")
        .arg(&total)
        .args(["--format", "html"])
        .assert()
        .code(0);
    let html = std::fs::read_to_string(dir.path().join("total/report.html")).unwrap();
    assert!(
        html.contains("<h1>ci-smoke"),
        "the merged report rendered beside it"
    );
    let merged = RunReport::read(&total).unwrap();
    assert_eq!(merged.totals.attempted, 2 * base.totals.attempted);
    let mut other = base.clone();
    other.scenario.name = "eco2-vu10".into();
    let other = write(dir.path(), "other.json", &other);
    scan_bench()
        .arg("merge")
        .arg(&base_path)
        .arg(&other)
        .arg("-o")
        .arg(dir.path().join("never.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "ran scenario `eco2-vu10` but base ran `ci-smoke`",
        ));
    assert!(!dir.path().join("never.json").exists());

    // run --baseline gates right after the run: against a baseline three times faster it fails.
    let fast = write(dir.path(), "fast.json", &scaled(&base, 1.0 / 3.0));
    let gated = dir.path().join("gated");
    scan_bench()
        .args([
            "run",
            "ci-smoke",
            "--quiet",
            "--format",
            "md",
            "--tolerance",
            "chain.p95=10%",
            "--baseline",
        ])
        .arg(&fast)
        .arg("--out")
        .arg(&gated)
        .assert()
        .code(99)
        .stdout(predicate::str::contains("gate FAILED: chain.p95"));
    assert!(
        std::fs::read_to_string(gated.join("report.md"))
            .unwrap()
            .contains("### Gate ❌")
    );
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gated.join("gate.json")).unwrap()).unwrap();
    assert_eq!(verdict["passed"], false);
}

#[test]
fn bad_report_files_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let truncated = file(
        "truncated.json",
        "{\"schema_version\": 1, \"scenario\": {\"name\": \"ci-sm",
    );
    let foreign = file(
        "package.json",
        "{\"name\": \"left-pad\", \"version\": \"1.3.0\"}",
    );
    let newer = file("v2.json", "{\"schema_version\": 2, \"scenario\": {}}");
    let cases = [
        (
            &truncated,
            "truncated.json: not a scan-bench run report: EOF",
        ),
        (
            &foreign,
            "package.json: not a scan-bench run report: no `schema_version` field",
        ),
        (
            &newer,
            "v2.json: report schema version 2, this scan-bench reads version 1",
        ),
    ];
    for (path, message) in cases {
        scan_bench()
            .arg("compare")
            .arg(path)
            .arg(path)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
        scan_bench()
            .args(["gate", "--baseline"])
            .arg(path)
            .arg("--candidate")
            .arg(path)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
        scan_bench()
            .arg("merge")
            .arg(path)
            .arg("-o")
            .arg(dir.path().join("out.json"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    // Every bad file is named, not only the first.
    scan_bench()
        .arg("compare")
        .arg(&truncated)
        .arg(&newer)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("truncated.json").and(predicate::str::contains("v2.json")),
        );
    scan_bench()
        .args([
            "gate",
            "--baseline",
            "missing.json",
            "--candidate",
            "missing.json",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
}

#[test]
fn bad_gate_settings_exit_2_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    scan_bench()
        .args(["run", "ci-smoke", "--baseline"])
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
    let report = dir.path().join("r.json");
    std::fs::write(&report, "{\"schema_version\": 1}").unwrap();
    scan_bench()
        .args(["gate", "--tolerance", "chain.p95=10", "--baseline"])
        .arg(&report)
        .arg("--candidate")
        .arg(&report)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`10` is not a percentage"));
}
