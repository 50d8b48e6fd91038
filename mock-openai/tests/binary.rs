//! The `mock-openai` binary: prints its address and serves; refuses a bad config with exit 2;
//! guards its admin API with the token in `MOCK_OPENAI_ADMIN_TOKEN`.

use std::ffi::OsStr;
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
    let (_child, base) = spawn(&["--config".as_ref(), config.as_os_str()], &[]);
    let base = base.as_str();
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

/// Starts the binary on an ephemeral loopback port with `args` and `env` and returns it with
/// its base URL, read from the line it prints once listening.
fn spawn(args: &[&OsStr], env: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove(mock_openai::ADMIN_TOKEN_ENV)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Child(command.spawn().unwrap());
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("mock-openai listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    (child, base)
}

#[tokio::test]
async fn the_admin_token_comes_from_the_environment() {
    const TOKEN: &str = "env-admin-4b9d2a";
    let (_child, base) = spawn(&[], &[(mock_openai::ADMIN_TOKEN_ENV, TOKEN)]);
    let http = reqwest::Client::new();
    let admin = format!("{base}/admin/config");
    assert_eq!(http.get(&admin).send().await.unwrap().status(), 401);
    let wrong = http
        .get(&admin)
        .bearer_auth("env-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let shown = http.get(&admin).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    assert!(!shown.text().await.unwrap().contains(TOKEN));

    // Set but empty is not set: the admin API stays open, as without the variable.
    let (_open, base) = spawn(&[], &[(mock_openai::ADMIN_TOKEN_ENV, "")]);
    let open = http
        .get(format!("{base}/admin/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
}

#[test]
fn a_token_no_client_can_send_exits_2_without_showing_it() {
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env(mock_openai::ADMIN_TOKEN_ENV, "two words")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains(mock_openai::ADMIN_TOKEN_ENV), "{stderr}");
    assert!(!stderr.contains("two words"), "{stderr}");
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
