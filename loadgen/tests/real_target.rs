//! `scan-bench run` pointed at a system of the user's own: the time scale refused, the profile's
//! length said, mass failure said, one warning for a target without metrics, and no secret in
//! any report. The target is a small SSE server in the test, on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use reports::RunReport;

fn scan_bench() -> Command {
    Command::cargo_bin("scan-bench").unwrap()
}

/// What a request to [`SseServer`] looked like.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

/// A target on loopback that answers every scan with the Eco² stream at once (every stage
/// started and completed) and `/metrics` with 404, recording each request it saw.
struct SseServer {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl SseServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Self { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serves one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(Seen {
            path: path.clone(),
            headers,
        });
        let answer = if path == "/metrics" {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned()
        } else {
            let mut events =
                String::from("data: {\"status\": \"started\", \"task_id\": \"t\"}\n\n");
            for step in ["vision", "rule", "answer", "reward"] {
                for status in ["started", "completed"] {
                    events.push_str(&format!(
                        "data: {{\"step\": \"{step}\", \"status\": \"{status}\"}}\n\n"
                    ));
                }
            }
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{events}",
                events.len()
            )
        };
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Writes a scenario file and returns its path.
fn scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("name = \"{name}\"\n{body}")).unwrap();
    path
}

/// One virtual user for 300 ms, real time.
const SHORT: &str = "[load]\nstages = [{ duration = \"0s\", target = 1 }, { duration = \"300ms\", target = 1 }]\nthink_time = \"20ms\"\n";

#[test]
fn a_scaled_scenario_is_refused_against_an_external_target() {
    let server = SseServer::start();
    let out = tempfile::tempdir().unwrap();
    let assert = scan_bench()
        .args(["run", "ci-smoke", "--quiet", "--target", &server.base])
        .arg("--out")
        .arg(out.path().join("run"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("time_scale") && stderr.contains("--time-scale 1"),
        "says why and how to go on: {stderr}"
    );
    assert!(server.seen().is_empty(), "nothing ran: {:?}", server.seen());

    // With the way on it names, the same scenario runs (briefly) against the target.
    let report_dir = out.path().join("real-time");
    scan_bench()
        .args([
            "run",
            "ci-smoke",
            "--quiet",
            "--time-scale",
            "1",
            "--duration",
            "400ms",
        ])
        .args(["--target", &server.base, "--target-metrics", "off", "--out"])
        .arg(&report_dir)
        .assert()
        .code(0);
    let report = RunReport::read(&report_dir.join("report.json")).unwrap();
    assert!(report.totals.completed > 0, "{:?}", report.totals);
    assert_eq!(report.totals.completed, report.totals.attempted);
}

#[test]
fn the_scenario_owns_the_random_seed_of_the_embedded_stack() {
    let dir = tempfile::tempdir().unwrap();
    for (table, field) in [
        ("[mock]\nseed = 7\n", "mock.seed"),
        ("[pipeline.faults]\nseed = 7\n", "pipeline.faults.seed"),
        ("[mock]\ntime_scale = 0.0\n", "mock.time_scale"),
    ] {
        let file = scenario(dir.path(), "owned", &format!("{SHORT}{table}"));
        let assert = scan_bench().arg("validate").arg(&file).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains(&format!("field `{field}`")), "{stderr}");
    }
    let shown = scan_bench().args(["show", "ci-smoke"]).assert().success();
    let text = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(
        text.contains("# time_scale is a factor on the scenario's time_scale"),
        "show says who owns the time scale: {text}"
    );
}

#[test]
fn the_summary_gives_the_modelled_and_the_wall_clock_length() {
    let out = tempfile::tempdir().unwrap();
    let assert = scan_bench()
        .args(["run", "ci-smoke", "--duration", "30s", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains("profile 30s modelled, 600ms wall-clock at time scale 0.02"),
        "{first}"
    );
}

#[test]
fn mass_failure_is_said_whatever_http_req_failed_says() {
    let dir = tempfile::tempdir().unwrap();
    // Every stream ends with an error event: no HTTP failure, every scan failed.
    let file = scenario(
        dir.path(),
        "failing",
        "time_scale = 0.05\n[load]\nstages = [{ duration = \"0s\", target = 2 }, { duration = \"20s\", target = 2 }]\n[thresholds]\nhttp_req_failed = [\"rate<0.01\"]\nscan_failed = [\"rate<0.3\"]\n[pipeline.faults]\np_error_event = 1.0\n",
    );
    let out = dir.path().join("out");
    let assert = scan_bench()
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--format", "md", "--out"])
        .arg(&out)
        .assert()
        .code(99);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let warning = stdout
        .lines()
        .find(|l| l.starts_with("MOST SCANS FAILED"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(warning.contains("error_event"), "{warning}");
    let report = RunReport::read(&out.join("report.json")).unwrap();
    let verdict = |metric: &str| {
        report
            .thresholds
            .iter()
            .find(|t| t.metric == metric)
            .unwrap()
            .passed
    };
    assert!(
        verdict("http_req_failed"),
        "k6's metric counts no error event"
    );
    assert!(!verdict("scan_failed"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("MOST SCANS FAILED"), "{md}");
}

#[test]
fn a_target_without_metrics_is_warned_about_once_and_can_be_left_unscraped() {
    let server = SseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "no-metrics",
        &format!("target = \"{}\"\n{SHORT}", server.base),
    );
    let run = |extra: &[&str]| {
        let out = dir.path().join(format!("out{}", extra.len()));
        let assert = scan_bench()
            .arg("run")
            .arg(&file)
            .args(extra)
            .args(["--quiet", "--out"])
            .arg(&out)
            .assert()
            .success();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        (stderr, RunReport::read(&out.join("report.json")).unwrap())
    };
    let (stderr, report) = run(&[]);
    assert_eq!(stderr.matches("no server view").count(), 1, "{stderr}");
    assert!(stderr.contains("--target-metrics off"), "{stderr}");
    assert!(report.server.is_none());

    let before = server
        .seen()
        .iter()
        .filter(|s| s.path == "/metrics")
        .count();
    let (stderr, report) = run(&["--target-metrics", "off"]);
    assert!(!stderr.contains("server view"), "{stderr}");
    assert!(report.server.is_none());
    let after = server
        .seen()
        .iter()
        .filter(|s| s.path == "/metrics")
        .count();
    assert_eq!(before, after, "off scrapes nothing");
}

#[test]
fn secrets_reach_the_target_but_no_report() {
    const ENV_KEY: &str = "sk-env-3f9a0c1d";
    const FILE_KEY: &str = "sk-file-77e1b2";
    const PASSWORD: &str = "hunter2-pw";
    let server = SseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let with_userinfo = server
        .base
        .replace("http://", &format!("http://ci:{PASSWORD}@"));
    let file = scenario(
        dir.path(),
        "secret",
        &format!(
            r#"target = "{with_userinfo}"
target_metrics = "off"
{SHORT}
[request.headers]
content-type = "application/json"
accept = "text/event-stream"
authorization = "Bearer {{{{env:SCAN_BENCH_TEST_KEY}}}}"
x-api-key = "{FILE_KEY}"
"#
        ),
    );
    let out = dir.path().join("out");
    let mut run = scan_bench();
    run.arg("run")
        .arg(&file)
        .args([
            "--quiet", "--format", "md", "--format", "html", "--format", "junit",
        ])
        .arg("--out")
        .arg(&out);
    // A missing variable is refused before anything runs, by name.
    let missing = run
        .env_remove("SCAN_BENCH_TEST_KEY")
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let missing = String::from_utf8_lossy(&missing);
    assert!(
        missing.contains("SCAN_BENCH_TEST_KEY")
            && missing.contains("request.headers.authorization"),
        "{missing}"
    );
    assert!(server.seen().is_empty());

    let done = run.env("SCAN_BENCH_TEST_KEY", ENV_KEY).assert().success();
    let sent = server.seen();
    let scan = sent.iter().find(|s| s.path != "/metrics").expect("a scan");
    let header = |name: &str| {
        scan.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {ENV_KEY}").as_str())
    );
    assert_eq!(header("x-api-key"), Some(FILE_KEY));

    let output = done.get_output();
    let mut texts = vec![
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ];
    for name in ["report.json", "report.md", "report.html", "junit.xml"] {
        texts.push(std::fs::read_to_string(out.join(name)).unwrap());
    }
    for text in &texts {
        for secret in [ENV_KEY, FILE_KEY, PASSWORD] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
    }
    let report = RunReport::read(&out.join("report.json")).unwrap();
    assert_eq!(report.scenario.request.headers["x-api-key"], "<redacted>");
    assert_eq!(report.environment.target, server.base, "userinfo dropped");
}
