//! `scan-bench run` end to end: the real binary against the real mock and pipeline on
//! loopback, each run a few seconds long.

mod support;

use support::FIXED_MOCK;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use reports::{LoadgenHealth, RunReport};
use scenarios::Timing;

fn scan_bench() -> Command {
    Command::cargo_bin("scan-bench").unwrap()
}

/// Writes a scenario file and returns its path.
fn scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("name = \"{name}\"\n{body}")).unwrap();
    path
}

/// Runs `scan-bench run ARGS --quiet --out DIR/out`; the exit code and the report.
fn run(dir: &Path, args: &[&str]) -> (i32, RunReport) {
    let ran = support::run(&[args, &["--quiet"]].concat(), &dir.join("out"));
    (ran.code, ran.report)
}

/// The load generator's health in a real run's report: its CPU measured, `overloaded`
/// exactly when its timers fired later than the bound, the CPU counted with the embedded
/// stack when it ran in-process, and every request counted once by its actual start.
fn assert_health(report: &RunReport) -> &LoadgenHealth {
    let h = report
        .health
        .as_ref()
        .expect("a run reports the load generator's health");
    let cpu = h.cpu_seconds.expect("/proc/self/stat is readable here");
    assert!(cpu > 0.0, "{h:?}");
    assert_eq!(
        h.lag_bound_ms,
        loadgen::engine::LAG_BOUND.as_secs_f64() * 1000.0
    );
    assert_eq!(h.overloaded, h.max_timer_lag_ms > h.lag_bound_ms, "{h:?}");
    assert_eq!(h.cpu_includes_embedded_stack, report.environment.embedded);
    let completed = report.totals.completed;
    if completed > 0 {
        let per = h.cpu_per_completed_us.unwrap();
        assert!((per - cpu * 1e6 / completed as f64).abs() < 1e-6, "{h:?}");
    }
    let actual: u64 = report.timeseries.iter().map(|s| s.started_actual).sum();
    assert_eq!(actual, report.totals.attempted, "{:?}", report.timeseries);
    h
}

/// With [`FIXED_MOCK`]'s latencies: the staged pipeline, its subscription set-up 60 ms.
const FIXED: &str = r#"
[pipeline.mode]
kind = "staged"
subscription = { pool = 100, setup = "60ms" }
"#;

#[test]
fn a_run_measures_what_was_injected() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "plausible",
        &format!(
            "[load]\nstages = [{{ duration = \"1s\", target = 3 }}, {{ duration = \"1s\", target = 3 }}]\nthink_time = \"20ms\"\n{FIXED_MOCK}{FIXED}"
        ),
    );
    let (code, report) = run(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let t = &report.totals;
    assert!(t.attempted >= 3, "{t:?}");
    assert_eq!(t.completed + t.interrupted, t.attempted, "{t:?}");
    let ms = |timing: Timing| report.latency(timing).unwrap().summary;
    let (ttfb, first, chain) = (ms(Timing::Ttfb), ms(Timing::FirstStage), ms(Timing::Chain));
    let connect = ms(Timing::Connect);
    assert!(
        connect.count >= 1 && connect.count <= t.attempted,
        "pooled connections: {connect:?}"
    );
    assert!(ttfb.min >= 60.0 && ttfb.p50 < 60.0 + 500.0, "ttfb {ttfb:?}");
    assert!(
        first.min >= ttfb.min,
        "the first stage event comes after the first byte"
    );
    assert!(chain.min >= 60.0 + 120.0 + 80.0, "chain {chain:?}");
    let stages: Vec<_> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["vision", "rule", "answer", "reward"]);
    assert!(report.stage("vision").unwrap().summary.min >= 120.0);
    assert!(report.stage("answer").unwrap().summary.min >= 80.0);
    let health = assert_health(&report);
    assert_eq!(
        health.scheduling_lag_p99_ms, None,
        "the closed model starts requests when it means to"
    );
    for s in &report.timeseries {
        assert_eq!(s.started_actual, s.started, "closed model, second {}", s.t);
    }
}

#[test]
fn ci_smoke_passes_and_the_server_view_matches_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = run(dir.path(), &["ci-smoke"]);
    assert_eq!(code, 0, "{:?}", report.thresholds);
    assert!(report.thresholds.iter().all(|t| t.passed) && !report.thresholds.is_empty());
    let server = report
        .server
        .as_ref()
        .expect("the embedded stack has /metrics");
    let t = &report.totals;
    assert!(t.completed > 10, "{t:?}");
    let success = server.requests.get("success").copied().unwrap_or(0.0);
    let all: f64 = server.requests.values().sum();
    assert_eq!(
        success, t.completed as f64,
        "server success = client completed"
    );
    assert_eq!(all, t.attempted as f64, "every request reached the handler");
    assert_eq!(server.success_rate, Some(1.0));
    // The pipeline's own LLM calls: vision for every scan, answer for those a rule matched
    // (Eco² answers a rule miss without the model), none refused.
    let stages: Vec<&str> = server.llm_calls.iter().map(|c| c.call.as_str()).collect();
    assert_eq!(stages, ["answer", "vision"], "{:?}", server.llm_calls);
    let (answer, vision) = (&server.llm_calls[0], &server.llm_calls[1]);
    assert_eq!(vision.calls, t.completed as f64, "{vision:?}");
    assert!(
        answer.calls > 0.0 && answer.calls <= vision.calls,
        "{answer:?}"
    );
    for call in &server.llm_calls {
        assert_eq!(call.rate_limited, 0.0, "{call:?}");
        assert!(call.output_tokens > 0.0 && call.avg_s.is_some(), "{call:?}");
    }
}

#[test]
fn a_failing_threshold_exits_99() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "strict",
        "time_scale = 0.02\n[load]\nstages = [{ duration = \"50s\", target = 2 }]\n[thresholds]\nsse_total_duration = [\"p(95)<1\"]\n",
    );
    let (code, report) = run(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!(code, 99);
    assert!(!report.thresholds[0].passed);
}

#[test]
fn the_closed_model_follows_its_stages() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "ramp",
        "[load]\nstages = [{ duration = \"2s\", target = 4 }, { duration = \"2s\", target = 4 }, { duration = \"1s\", target = 0 }]\nthink_time = \"10ms\"\n[mock.models.\"gpt-4o\"]\nttft = \"20ms\"\n[mock.models.\"gpt-4o-mini\"]\nttft = \"20ms\"\n",
    );
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    // Sample t closes second t: the plan then is 2, 4, 4, 4 virtual users.
    let planned = [2, 4, 4, 4];
    for (sample, want) in report.timeseries.iter().zip(planned) {
        let got = i64::from(sample.active_vus);
        assert!(
            (got - want).abs() <= 1,
            "second {}: {got} active, plan {want}",
            sample.t
        );
    }
    assert!(report.timeseries.len() >= planned.len());
}

#[test]
fn admission_rejections_and_error_events_are_failures_by_class() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "crowded",
        "[load]\nstages = [{ duration = \"1500ms\", target = 6 }]\nthink_time = \"0ms\"\n[pipeline]\nmax_inflight = 1\n",
    );
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    let t = &report.totals;
    assert!(t.failed.get("http_503").copied().unwrap_or(0) > 0, "{t:?}");
    assert_eq!(
        t.http_failed, t.failed["http_503"],
        "503s count in http_req_failed"
    );
    let rejected = report
        .server
        .as_ref()
        .and_then(|s| s.rejected)
        .unwrap_or(0.0);
    assert_eq!(
        rejected, t.failed["http_503"] as f64,
        "the pipeline counts its rejections apart"
    );

    let file = scenario(
        dir.path(),
        "no-image",
        "[load]\nstages = [{ duration = \"500ms\", target = 2 }]\n[request.body]\nuser_input = \"where is the picture?\"\n",
    );
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    let t = &report.totals;
    assert!(t.attempted > 0);
    assert_eq!(
        t.failed.get("error_event"),
        Some(&(t.attempted - t.interrupted)),
        "{t:?}"
    );
    assert_eq!(t.http_failed, 0, "an error event is no HTTP failure");
}

/// The mock's own streaming chat completions, read as a stream without stages that ends at
/// `data: [DONE]`: the load generator hard-codes no protocol.
fn openai_stream_scenario(dir: &Path, name: &str, fault: &str, target: &str) -> PathBuf {
    scenario(
        dir,
        name,
        &format!(
            r#"target = "{target}"
[load]
stages = [{{ duration = "0s", target = 1 }}, {{ duration = "600ms", target = 1 }}]
think_time = "50ms"
idle_timeout = "400ms"

[request]
path = "/v1/chat/completions"
vars = {{}}

[request.headers]
content-type = "application/json"
x-mock-fault = "{fault}"

[request.body]
model = "gpt-4o-mini"
stream = true
messages = [{{ role = "user", content = "hello" }}]

[stream]
stages = []
terminal = [{{ data = "[DONE]" }}]
error = []
null_checks = []
"#
        ),
    )
}

/// A server started as `scan-bench serve`, killed when dropped.
struct Served {
    child: Child,
    urls: Vec<String>,
}

impl Served {
    fn start(args: &[&str], lines: usize) -> Self {
        let bin = assert_cmd::cargo::cargo_bin("scan-bench");
        let mut child = Process::new(bin)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut urls = Vec::new();
        for _ in 0..lines {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            urls.push(
                line.split_whitespace()
                    .last()
                    .expect("a listening line")
                    .to_owned(),
            );
        }
        Served { child, urls }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn upstream_faults_become_outcome_classes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = fast_mock(dir.path());
    let target = mock.urls[0].trim_end_matches("/v1").to_owned();

    let ok = openai_stream_scenario(dir.path(), "ok", "none", &target);
    let (_, report) = run(dir.path(), &[ok.to_str().unwrap()]);
    assert!(
        report.totals.completed > 0 && report.totals.failed.is_empty(),
        "{:?}",
        report.totals
    );

    for (fault, class) in [("429", "http_429"), ("stall", "timeout")] {
        let file = openai_stream_scenario(dir.path(), fault, fault, &target);
        let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
        let t = &report.totals;
        assert!(
            t.failed.get(class).copied().unwrap_or(0) > 0,
            "{fault}: {t:?}"
        );
        assert_eq!(t.completed, 0, "{fault}: {t:?}");
    }
    let file = openai_stream_scenario(dir.path(), "drop", "drop", &target);
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    let t = &report.totals;
    assert!(
        t.partial + t.failed.get("stream_reset").copied().unwrap_or(0) > 0,
        "drop: {t:?}"
    );
    assert_eq!(t.completed, 0, "drop: {t:?}");
}

/// mock-openai served by `scan-bench serve`, fifty times faster than OpenAI.
fn fast_mock(dir: &Path) -> Served {
    let config = dir.join("fast-mock.toml");
    std::fs::write(&config, "time_scale = 0.02\n").unwrap();
    Served::start(&["mock-openai", "--config", config.to_str().unwrap()], 1)
}

/// A pipeline served by `scan-bench serve` in its own process, against a mock that is fifty
/// times faster than OpenAI: (mock, pipeline, the pipeline's base URL).
fn fast_stack(dir: &Path) -> (Served, Served, String) {
    let mock = fast_mock(dir);
    let pipeline = Served::start(&["pipeline", "--openai-url", &mock.urls[0]], 1);
    let target = pipeline.urls[0].clone();
    (mock, pipeline, target)
}

/// Waits until the pipeline at `base` has answered at least `n` scans.
fn wait_for_scans(base: &str, n: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("{base}/metrics");
    while Instant::now() < deadline {
        if let Ok(text) = http_get(&url) {
            let served: f64 = text
                .lines()
                .filter(|l| l.starts_with("scan_sse_requests_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if served >= n {
                return;
            }
        }
        // A poll interval for a condition with a deadline, not a guess at timing.
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the pipeline at {base} served fewer than {n} scans in 30 s");
}

/// A blocking GET over a plain TCP connection (the tests need no HTTP client of their own).
fn http_get(url: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap();
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// Starts `scan-bench run FILE --quiet --out OUT EXTRA...` in the background.
fn spawn_run(file: &Path, out: &Path, extra: &[&str]) -> Child {
    Process::new(assert_cmd::cargo::cargo_bin("scan-bench"))
        .arg("run")
        .arg(file)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_target_killed_mid_run_gives_connect_errors_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_mock, mut served, target) = fast_stack(dir.path());
    let file = scenario(
        dir.path(),
        "doomed",
        &format!("target = \"{target}\"\n[load]\nstages = [{{ duration = \"3s\", target = 4 }}]\n"),
    );
    let out = dir.path().join("out");
    let mut runner = spawn_run(&file, &out, &[]);
    wait_for_scans(&target, 4.0);
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let status = runner.wait().unwrap();
    assert!(status.code().is_some(), "the run ended by itself");
    let report = RunReport::read(&out.join("report.json")).unwrap();
    let t = &report.totals;
    assert!(
        t.completed > 0 && t.failed.get("connect").copied().unwrap_or(0) > 0,
        "{t:?}"
    );
    assert!(
        !assert_health(&report).cpu_includes_embedded_stack,
        "the target ran in its own process"
    );
}

#[test]
fn sigint_writes_a_partial_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let (_mock, served, target) = fast_stack(dir.path());
    let file = scenario(
        dir.path(),
        "long",
        &format!(
            "target = \"{target}\"\n[load]\nstages = [{{ duration = \"60s\", target = 3 }}]\n"
        ),
    );
    let out = dir.path().join("out");
    let mut runner = spawn_run(&file, &out, &[]);
    wait_for_scans(&target, 3.0);
    let pid = runner.id().to_string();
    assert!(
        Process::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report = RunReport::read(&out.join("report.json")).unwrap();
    assert!(report.partial);
    assert!(report.totals.completed > 0, "{:?}", report.totals);
    drop(served);
}

#[test]
fn an_unwritable_out_is_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    // A target that would see any connection: none may come.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let file = scenario(
        dir.path(),
        "unwritten",
        &format!(
            "target = \"http://{}\"\n[load]\nstages = [{{ duration = \"1s\", target = 1 }}]\n",
            listener.local_addr().unwrap()
        ),
    );
    // Under a regular file, which stops root too (permission bits would not).
    let blocker = dir.path().join("file.txt");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("sub");
    let assert = scan_bench()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains(&out.display().to_string()) && stderr.contains("Not a directory"),
        "names the directory and the OS error: {stderr}"
    );
    assert!(assert.get_output().stdout.is_empty(), "no summary: no run");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the target was reached: {other:?}"),
    }
}

#[test]
fn pipeline_faults_become_outcome_classes() {
    let dir = tempfile::tempdir().unwrap();
    for (fault, class) in [
        ("p_drop_stream", "partial"),
        ("p_malformed_event", "malformed_event"),
        ("p_error_event", "error_event"),
        ("p_stall", "timeout"),
    ] {
        let file = scenario(
            dir.path(),
            fault,
            &format!(
                "time_scale = 0.02\n[load]\nstages = [{{ duration = \"0s\", target = 2 }}, {{ duration = \"30s\", target = 2 }}]\nidle_timeout = \"10s\"\n[pipeline.faults]\n{fault} = 1.0\n"
            ),
        );
        let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
        let t = &report.totals;
        let got = if class == "partial" {
            t.partial
        } else {
            t.failed.get(class).copied().unwrap_or(0)
        };
        assert!(got > 0, "{fault}: {t:?}");
        assert_eq!(
            got + t.interrupted,
            t.attempted,
            "{fault}: every scan ends as {class}: {t:?}"
        );
    }
}

/// An open-model scenario against a mock whose every call takes `ttft`.
fn open_scenario(dir: &Path, name: &str, rate: f64, max_vus: u32, ttft: &str) -> PathBuf {
    scenario(
        dir,
        name,
        &format!(
            r#"[load.arrival]
start_rate = {rate}
stages = [{{ duration = "2s", target = {rate} }}]
pre_allocated_vus = {max_vus}
max_vus = {max_vus}

[mock.models."gpt-4o"]
ttft = "{ttft}"
inter_token = "0ms"

[mock.models."gpt-4o-mini"]
ttft = "1ms"
inter_token = "0ms"
"#
        ),
    )
}

#[test]
fn the_open_model_keeps_its_rate_and_counts_drops() {
    let dir = tempfile::tempdir().unwrap();
    // Each scan takes over 300 ms and 3 users take them: at most ~10/s of the 30/s get a user.
    let file = open_scenario(dir.path(), "saturated", 30.0, 3, "300ms");
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    let t = &report.totals;
    assert_eq!(
        t.attempted + t.dropped,
        60,
        "every arrival was started or dropped: {t:?}"
    );
    assert!(t.dropped > 20, "{t:?}");
    let chain = report.latency(Timing::Chain).unwrap().summary;
    assert!(
        chain.min >= 300.0,
        "measured from the intended start: {chain:?}"
    );
    assert!(report.latency(Timing::SchedulingLag).is_some());
    let health = assert_health(&report);
    assert_eq!(
        health.scheduling_lag_p99_ms,
        Some(report.latency(Timing::SchedulingLag).unwrap().summary.p99)
    );
    assert!(
        report
            .timeseries
            .iter()
            .any(|s| s.target_rate == Some(30.0))
    );

    // With users to spare nothing is dropped.
    let file = open_scenario(dir.path(), "roomy", 30.0, 30, "20ms");
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!(
        (report.totals.attempted, report.totals.dropped),
        (60, 0),
        "{:?}",
        report.totals
    );
}

#[test]
fn shards_share_the_load_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = open_scenario(dir.path(), "sharded", 21.0, 30, "20ms");
    let mut arrivals = 0;
    for shard in ["0/3", "1/3", "2/3"] {
        let (_, report) = run(dir.path(), &[file.to_str().unwrap(), "--shard", shard]);
        arrivals += report.totals.attempted + report.totals.dropped;
    }
    assert_eq!(arrivals, 42, "three shards together make the 21/s of 2 s");
    scan_bench()
        .args(["run", "ci-smoke", "--shard", "3/3"])
        .assert()
        .code(2);
}

/// A run in the background serving its live metrics, with its stderr to read.
struct Watched {
    child: Child,
    stderr: BufReader<ChildStderr>,
    metrics: String,
}

impl Watched {
    /// Starts `scan-bench run FILE --metrics-listen 127.0.0.1:0` and reads where it serves.
    fn start(file: &Path, out: &Path) -> Self {
        let mut child = spawn_run(file, out, &["--metrics-listen", "127.0.0.1:0"]);
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let metrics = line
            .split_whitespace()
            .last()
            .expect("the live metrics address")
            .to_owned();
        Watched {
            child,
            stderr,
            metrics,
        }
    }

    /// A counter of the live metrics, once it is above zero.
    fn counter(&self, metric: &str) -> Option<f64> {
        let text = http_get(&self.metrics).ok()?;
        let body = text.split_once("\r\n\r\n")?.1;
        let scrape =
            prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).ok()?;
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric)
            .and_then(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => {
                    Some(v)
                }
                _ => None,
            })
            .filter(|v| *v > 0.0)
    }

    /// Waits until `metric` reaches `n`; its value.
    fn wait_for(&self, metric: &str, n: f64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = self.counter(metric).filter(|v| *v >= n) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{metric} did not reach {n} within 30 s"
            );
            // A poll interval for a condition with a deadline, not a guess at timing.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `kill -SIGNAL`.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Process::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    /// Reads stderr up to a line containing `needle`.
    fn wait_for_stderr(&mut self, needle: &str) {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = self.stderr.read_line(&mut line).unwrap();
            assert!(n > 0, "stderr ended without {needle:?}:\n{seen}");
            seen.push_str(&line);
            if line.contains(needle) {
                return;
            }
        }
    }

    /// Waits for the exit; its code.
    fn exit_code(mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }
}

#[test]
fn live_metrics_are_served_during_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "watched",
        "time_scale = 0.02\n[load]\nstages = [{ duration = \"0s\", target = 3 }, { duration = \"150s\", target = 3 }]\n",
    );
    let out = dir.path().join("out");
    let watched = Watched::start(&file, &out);
    let seen = watched.wait_for("scan_bench_requests_started_total", 1.0);
    assert_eq!(watched.exit_code(), Some(0));
    let report = RunReport::read(&out.join("report.json")).unwrap();
    assert!(
        seen <= report.totals.attempted as f64,
        "live {seen} > final {}",
        report.totals.attempted
    );
}

/// Two users whose every scan takes over 2 s (the vision call), back to back, for far longer
/// than any test waits: a signal always finds their streams open, and the 5 s grace of a
/// first signal is enough for them to finish.
fn long_streams(dir: &Path, name: &str) -> PathBuf {
    scenario(
        dir,
        name,
        r#"[load]
stages = [{ duration = "0s", target = 2 }, { duration = "20m", target = 2 }]
think_time = "0s"
graceful_ramp_down = "10m"

[mock.models."gpt-4o"]
ttft = "2s"
inter_token = "0ms"

[mock.models."gpt-4o-mini"]
ttft = "1ms"
inter_token = "0ms"
"#,
    )
}

/// A run of [`long_streams`] stopped by `signal` once both users have completed a scan (so
/// both are in their next one); the exit code and the report.
fn stopped_by(signal: &str, twice: bool) -> (Option<i32>, RunReport) {
    let dir = tempfile::tempdir().unwrap();
    let file = long_streams(dir.path(), &format!("stopped-by-{signal}"));
    let out = dir.path().join("out");
    let mut watched = Watched::start(&file, &out);
    watched.wait_for("scan_bench_requests_completed_total", 2.0);
    watched.signal(signal);
    if twice {
        // The second must come after the first was taken, or the two merge into one.
        watched.wait_for_stderr("finishing open streams");
        watched.signal(signal);
        watched.wait_for_stderr("cutting open streams");
    }
    let code = watched.exit_code();
    let report = RunReport::read(&out.join("report.json"))
        .unwrap_or_else(|e| panic!("{signal}: no report ({e}), exit {code:?}"));
    let t = &report.totals;
    println!(
        "{signal}{}: exit {code:?}, attempted {} completed {} interrupted {} failed {:?}",
        if twice { " twice" } else { "" },
        t.attempted,
        t.completed,
        t.interrupted,
        t.failed
    );
    assert!(
        report.partial,
        "{signal}: the report says it was interrupted"
    );
    assert_eq!(
        t.completed + t.interrupted + t.partial + t.failed_total(),
        t.attempted,
        "{signal}: {t:?}"
    );
    (code, report)
}

/// One `signal` stops like Ctrl-C: the open streams finish in the grace, and the exit code is
/// `code`.
fn stops_gracefully(signal: &str, code: i32) {
    let (exit, report) = stopped_by(signal, false);
    assert_eq!(exit, Some(code), "{signal}");
    let t = &report.totals;
    assert!(
        t.completed >= 3,
        "{signal}: the open streams finished in the grace: {t:?}"
    );
    assert_eq!(t.interrupted, 0, "{signal}: {t:?}");
}

#[test]
fn sigterm_stops_like_ctrl_c_and_exits_143() {
    stops_gracefully("TERM", 143);
}

#[test]
fn sighup_stops_like_ctrl_c_and_exits_129() {
    stops_gracefully("HUP", 129);
}

#[test]
fn a_second_ctrl_c_cuts_the_grace_short_and_still_reports() {
    let (code, report) = stopped_by("INT", true);
    assert_eq!(code, Some(130));
    let t = &report.totals;
    assert!(
        t.interrupted >= 1,
        "the open streams were cut, not let finish: {t:?}"
    );
    assert!(t.completed >= 2, "what was measured is kept: {t:?}");
}

#[test]
fn reproduce_shows_the_published_shapes_from_measured_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    let assert = scan_bench()
        .args([
            "reproduce",
            "eco2",
            "--json",
            "--time-scale",
            "0.01",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let pairs: Vec<serde_json::Value> = serde_json::from_slice(&assert.get_output().stdout)
        .expect("--json prints an array of pairs");
    let local = |test: &str, figure: &str| -> f64 {
        let pair = pairs
            .iter()
            .find(|p| p["test"] == test && p["figure"] == figure)
            .unwrap_or_else(|| panic!("no {test} / {figure} in {pairs:#?}"));
        assert!(pair["published"].is_number(), "{pair}");
        pair["local"]
            .as_f64()
            .unwrap_or_else(|| panic!("no local figure: {pair}"))
    };
    // Test #2: the API pod restarts before the autoscaler's pods are ready; the balancer's
    // 503s never reach the handler, so the client sees far less success than the server.
    let report = RunReport::read(&out.join("eco2-vu34").join("report.json")).unwrap();
    let server = report.server.as_ref().expect("server view");
    assert!(
        report.totals.failed.get("http_503").copied().unwrap_or(0) > 0,
        "{:?}",
        report.totals
    );
    assert!(
        server.upstream_unavailable.unwrap_or(0.0) > 0.0,
        "{server:?}"
    );
    assert!(server.replica_restarts.unwrap_or(0.0) >= 1.0, "{server:?}");
    assert!(
        local("#2", "client success (the write-up's table)") < local("#2", "Success Rate (panel)"),
        "{pairs:#?}"
    );
    assert_eq!(local("#2", "worker-level success"), 100.0);
    // v1.0.0 at 100 users: every stage queues behind every other on 6 threads.
    let report = RunReport::read(&out.join("v1-threadpool-100").join("report.json")).unwrap();
    assert_eq!(
        local("v1.0.0 100 users", "completed within the timeout"),
        0.0
    );
    assert!(
        report.totals.failed.get("timeout").copied().unwrap_or(0) > 0,
        "{:?}",
        report.totals
    );
    assert_eq!(local("v1.0.0 5 users", "success (client)"), 100.0);
    // Stage averages keep the order of the published table at low load (under load the wait
    // for the worker's core, 1-2 ms at this scale, blurs reward and rule together).
    let stage = |name: &str| local("#1", &format!("{name} avg (panel)"));
    assert!(
        stage("answer") > stage("vision")
            && stage("vision") > stage("reward")
            && stage("reward") > stage("rule"),
        "answer {} vision {} reward {} rule {}",
        stage("answer"),
        stage("vision"),
        stage("reward"),
        stage("rule")
    );
    for file in ["reproduction.json", "reproduction.md", "reproduction.html"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(text.contains("TTFB p95 (k6 sse_ttfb)"), "{file}");
    }
}
