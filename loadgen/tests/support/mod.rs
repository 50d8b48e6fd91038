//! What the end-to-end tests share: the real `scan-bench run` and the report it wrote.
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use reports::RunReport;

/// A finished `scan-bench run`.
pub struct Ran {
    pub code: i32,
    pub report: RunReport,
    pub stdout: String,
}

/// Runs `scan-bench run ARGS --out OUT` and reads `OUT/report.json`; a run that wrote no
/// report fails the test with the run's output.
pub fn run(args: &[&str], out: &Path) -> Ran {
    let assert = Command::cargo_bin("scan-bench")
        .unwrap()
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out)
        .assert();
    let output = assert.get_output();
    let code = output.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report = RunReport::read(&out.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report in {} ({e}); exit {code}\nstdout:\n{stdout}\nstderr:\n{}",
            out.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Ran {
        code,
        report,
        stdout,
    }
}

/// Deterministic mock latencies for end-to-end tests: vision 120 ms, answer 80 ms, and a rule
/// for every scan (so the answer stage calls the model).
pub const FIXED_MOCK: &str = r#"
[mock.models."gpt-4o"]
ttft = "120ms"
inter_token = "0ms"

[mock.models."gpt-4o-mini"]
ttft = "80ms"
inter_token = "0ms"

[mock.content]
categories = [{ major = "recyclable", middle = "pet_bottle", minor = "water_bottle", weight = 1 }]
"#;
