//! The `mock-openai` binary: prints its address and serves; refuses a bad config with exit 2.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mock-openai");

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn prints_the_bound_address_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mock.toml");
    std::fs::write(
        &config,
        "time_scale = 0.0\n[models.\"only-model\"]\nttft = \"1s\"\n",
    )
    .unwrap();
    let mut child = Child(
        Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("mock-openai listening on ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let http = reqwest::Client::new();
    let models: serde_json::Value = http
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "only-model");
}

/// Writes `text` to `config`, runs the binary on it, asserts it exits 2 and returns its stderr.
#[track_caller]
fn refused(config: &Path, text: &str) -> String {
    std::fs::write(config, text).unwrap();
    let output = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn bad_config_names_file_line_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    let stderr = refused(&config, "seed = 1\n\n[faults]\np429 = 0.5\np_drop = 1.5\n");
    assert!(stderr.contains("bad.toml:5:1"), "{stderr}");
    assert!(stderr.contains("faults.p_drop"), "{stderr}");

    let stderr = refused(&config, "seed = \"one\"\n");
    assert!(
        stderr.contains("bad.toml:1:8") && stderr.contains("seed"),
        "{stderr}"
    );
}
