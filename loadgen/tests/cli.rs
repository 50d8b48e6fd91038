//! The real `scan-bench` binary: catalog commands, validation errors and exit codes.

use assert_cmd::Command;
use predicates::prelude::*;

fn scan_bench() -> Command {
    Command::cargo_bin("scan-bench").unwrap()
}

#[test]
fn list_shows_the_eco2_tests_and_the_protocol_scenarios() {
    let out = scan_bench()
        .arg("list")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for name in [
        "eco2-vu10",
        "eco2-vu34",
        "eco2-vu30",
        "ci-smoke",
        "v1-threadpool-100",
        "openai-chat",
        "eco2-named-events",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let vu34 = text.lines().find(|l| l.contains("eco2-vu34")).unwrap();
    assert!(vu34.contains(" 34 ") && vu34.contains("3m"), "{vu34}");
}

#[test]
fn show_prints_toml_that_validates() {
    let out = scan_bench()
        .args(["show", "eco2-vu30"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.toml");
    std::fs::write(&file, out).unwrap();
    scan_bench()
        .arg("validate")
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("ok:").and(predicate::str::contains("eco2-vu30")));
}

#[test]
fn bad_files_exit_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown-field.toml",
            "name = \"x\"\nspeed = 3\n[load]\nstages = [{ duration = \"1s\", target = 1 }]\n",
            ":2:",
            "speed",
        ),
        (
            "bad-duration.toml",
            "name = \"x\"\n[load]\nstages = [{ duration = \"60x\", target = 1 }]\n",
            ":3:",
            "load.stages[0].duration",
        ),
        (
            "negative.toml",
            "name = \"x\"\n[load]\nstages = [{ duration = \"1s\", target = -1 }]\n",
            ":3:",
            "load.stages[0].target",
        ),
        (
            "empty.toml",
            "name = \"x\"\n[load]\nstages = []\n",
            ":3:",
            "load.stages",
        ),
        (
            "threshold.toml",
            "name = \"x\"\n[load]\nstages = [{ duration = \"1s\", target = 1 }]\n[thresholds]\nsse_ttfb = [\"p(101)<5\"]\n",
            ":5:",
            "thresholds.sse_ttfb",
        ),
        (
            "both-models.toml",
            "name = \"x\"\n[load]\nstages = [{ duration = \"1s\", target = 1 }]\n[load.arrival]\nstages = [{ duration = \"1s\", target = 2.0 }]\n",
            ":4:",
            "load.arrival",
        ),
    ];
    for (name, text, line, field) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        scan_bench()
            .arg("validate")
            .arg(&file)
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains(format!("{name}{line}"))
                    .and(predicate::str::contains(field)),
            );
    }
}

#[test]
fn validate_reports_every_bad_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&a, "name = \"a\"\n").unwrap();
    std::fs::write(&b, "name = \"b\"\n[load]\nstages = []\n").unwrap();
    scan_bench()
        .args(["validate", "ci-smoke"])
        .arg(&a)
        .arg(&b)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("ok: ci-smoke"))
        .stderr(predicate::str::contains("a.toml:1:1").and(predicate::str::contains("b.toml:3:")));
}

#[test]
fn missing_files_and_unknown_names_are_bad_input() {
    scan_bench()
        .args(["validate", "no-such-file.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-file.toml"));
    scan_bench()
        .args(["show", "eco2-vu99"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("eco2-vu34"));
}

#[test]
fn bad_usage_exits_2() {
    scan_bench().arg("frobnicate").assert().code(2);
    scan_bench()
        .args(["compare", "only-one.json"])
        .assert()
        .code(2);
    scan_bench()
        .args(["run", "--duration", "60x"])
        .assert()
        .code(2);
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in [
        "run",
        "list",
        "show",
        "validate",
        "compare",
        "gate",
        "merge",
        "reproduce",
        "sweep",
        "serve",
    ] {
        scan_bench()
            .args([sub, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Example"));
    }
}

/// An open-model scenario file (an arrival rate), for the sweep's unit checks.
fn open_model(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("open.toml");
    std::fs::write(
        &path,
        "name = \"open\"\n[load.arrival]\nstages = [{ duration = \"2s\", target = 2.0 }]\n",
    )
    .unwrap();
    path
}

#[test]
fn bad_sweep_loads_exit_2_naming_the_flag_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let open = open_model(dir.path());
    let open = open.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["ci-smoke", "--vus", ""], "--vus: "),
        (&["ci-smoke", "--vus", "0,2"], "--vus: "),
        (&["ci-smoke", "--vus", "two"], "--vus: "),
        (
            &["ci-smoke", "--vus", "2,1"],
            "--vus: loads in increasing order",
        ),
        (
            &["ci-smoke", "--vus", "2,2"],
            "--vus: loads in increasing order",
        ),
        (&["ci-smoke", "--vus", "2,,4"], "--vus: "),
        (&[open, "--rates", "1,0"], "--rates: "),
        (&[open, "--rates", "x"], "--rates: "),
        (&[open, "--vus", "1,2"], "--vus: a closed-model scenario"),
        (
            &["ci-smoke", "--rates", "1,2"],
            "--rates: an open-model scenario",
        ),
        (&["ci-smoke", "--auto", "--start", "0"], "--start: "),
        (&["ci-smoke", "--auto", "--max-runs", "0"], "--max-runs: "),
        // Exactly one way to choose the loads.
        (&["ci-smoke"], "--vus"),
        (&["ci-smoke", "--vus", "1", "--auto"], "cannot be used with"),
        (&["ci-smoke", "--start", "2"], "--auto"),
    ];
    for (args, says) in cases {
        scan_bench()
            .arg("sweep")
            .args(*args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*says));
        assert!(!out.exists(), "{args:?} ran something");
    }
}
