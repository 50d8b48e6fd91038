//! The SSE protocols a user's system may speak, read by the real `scan-bench` binary: the
//! catalog's OpenAI chat stream (no stages) and Eco²'s stage-named events on the embedded
//! stack, one event per stage without a status from a small server in the test, and events
//! over `max_event_bytes` (one long `data:` line, one line that never ends).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reports::RunReport;
use scenarios::Timing;

/// Runs `scan-bench run ARGS --quiet --out DIR/out`; the exit code and the report.
fn run(dir: &Path, args: &[&str]) -> (i32, RunReport) {
    let ran = support::run(&[args, &["--quiet"]].concat(), &dir.join("out"));
    (ran.code, ran.report)
}

/// Every scan attempted completed: none failed, partial or cut.
fn assert_all_completed(report: &RunReport) {
    let t = &report.totals;
    assert!(t.attempted > 0, "{t:?}");
    assert_eq!(t.completed, t.attempted, "{t:?}");
    let chain = report.latency(Timing::Chain).unwrap();
    assert_eq!(chain.summary.count, t.completed, "every chain timed");
}

#[test]
fn openai_chat_completes_every_stream_without_stages() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = run(dir.path(), &["openai-chat"]);
    assert_eq!(code, 0, "{:?}", report.thresholds);
    assert_all_completed(&report);
    assert!(report.stages.is_empty(), "{:?}", report.stages);
    assert_eq!(
        report.latency(Timing::FirstStage).unwrap().summary.count,
        0,
        "no stage event"
    );
    assert!(report.environment.target.starts_with("http://127.0.0.1:"));
    assert!(
        report.server.is_none(),
        "the mock as target has no server view"
    );
    // It carries tokens: every completed stream is measured, its count from the usage asked.
    let tokens = report
        .tokens
        .as_ref()
        .expect("openai-chat has [stream.tokens]");
    assert_eq!(tokens.streams, report.totals.completed);
    assert_eq!(
        tokens.from_usage, tokens.streams,
        "stream_options.include_usage"
    );
    // The mock paces its tokens; only a load generator too late to read them bunches them.
    if !report.health.as_ref().is_some_and(|h| h.overloaded) {
        assert_eq!(tokens.buffered, 0, "the mock paces its tokens");
    }
    for timing in Timing::TOKENS {
        let m = report.latency(timing).unwrap();
        assert!(
            m.summary.count >= tokens.streams,
            "{timing}: {:?}",
            m.summary
        );
    }
}

#[test]
fn eco2_named_events_complete_with_every_stage_measured() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = run(dir.path(), &["eco2-named-events"]);
    assert_eq!(code, 0, "{:?}", report.thresholds);
    assert_all_completed(&report);
    let names: Vec<_> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["vision", "rule", "answer", "reward"]);
    for stage in &report.stages {
        assert_eq!(
            stage.summary.count, report.totals.completed,
            "{}: measured in every scan",
            stage.name
        );
        assert!(
            stage.summary.min > 0.0,
            "{}: {:?}",
            stage.name,
            stage.summary
        );
    }
    let server = report.server.as_ref().expect("the pipeline's server view");
    let success = server.requests.get("success").copied().unwrap_or(0.0);
    assert_eq!(success, report.totals.completed as f64);
}

/// What one connection to a [`Script`] server is sent: the response head, then each piece
/// after its pause.
type Script = Vec<(Duration, Vec<u8>)>;

/// A target on loopback answering every request with `script` on its own connection (closed
/// after the body, which has no length), and recording for each whether the client read the
/// whole body or went away before its end.
struct ScriptServer {
    base: String,
    /// Requests read so far.
    requests: Arc<AtomicUsize>,
    /// Per answered request: whether every piece was written.
    written: Arc<Mutex<Vec<bool>>>,
}

impl ScriptServer {
    fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (requests.clone(), written.clone());
        let script = Arc::new(script);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (count, log, script) = (count.clone(), log.clone(), script.clone());
                std::thread::spawn(move || {
                    if let Some(all) = answer(stream, &script, &count) {
                        log.lock().unwrap().push(all);
                    }
                });
            }
        });
        Self {
            base,
            requests,
            written,
        }
    }

    /// For every request, once all are answered: whether its whole body was written.
    fn written(&self) -> Vec<bool> {
        // The client has exited, so every connection is closed: each answer ends soon.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let written = self.written.lock().unwrap().clone();
            if written.len() == self.requests.load(Ordering::SeqCst) || Instant::now() > deadline {
                return written;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Reads one request and answers it with `script`: whether every piece was written, or
/// `None` when no request came.
fn answer(stream: TcpStream, script: &Script, requests: &AtomicUsize) -> Option<bool> {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if first {
            first = false;
            continue;
        }
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    reader.read_exact(&mut vec![0; length]).ok()?;
    requests.fetch_add(1, Ordering::SeqCst);
    let mut out = stream;
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    out.write_all(head.as_bytes()).ok()?;
    for (pause, piece) in script {
        // The server's pacing, not the test's synchronisation.
        std::thread::sleep(*pause);
        if out.write_all(piece).is_err() {
            return Some(false);
        }
    }
    // Held open until the client goes: a client that neither reads on nor drops the
    // connection runs into its idle timeout.
    let _ = reader.read_to_end(&mut Vec::new());
    Some(true)
}

/// Writes a scenario against `target` (real time, no server view) and returns its path.
fn scenario(dir: &Path, name: &str, target: &str, rest: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "name = \"{name}\"\ntarget = \"{target}\"\ntarget_metrics = \"off\"\n\
         [load]\nstages = [{{ duration = \"0s\", target = 1 }}, {{ duration = \"600ms\", target = 1 }}]\n\
         think_time = \"20ms\"\nrequest_timeout = \"30s\"\nidle_timeout = \"30s\"\n{rest}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn one_event_stages_are_timed_from_the_previous_stage() {
    let ms = Duration::from_millis;
    let server = ScriptServer::start(vec![
        (ms(0), b"event: queued\ndata: {}\n\n".to_vec()),
        (ms(100), b"event: a\nid: 1\ndata: {}\n\n".to_vec()),
        (ms(150), b"event: b\nid: 2\ndata: {}\n\n".to_vec()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "one-event",
        &server.base,
        "[stream]\nstages = [\"a\", \"b\"]\nstage_name = \"event\"\n\
         stage_timing = \"since-previous\"\nterminal = [{ event = \"b\" }]\nerror = []\n\
         null_checks = []\n",
    );
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    assert_all_completed(&report);
    let (a, b) = (report.stage("a").unwrap(), report.stage("b").unwrap());
    let first = report.latency(Timing::FirstStage).unwrap();
    let chain = report.latency(Timing::Chain).unwrap();
    // The first stage runs from the request's start: to the first stage event, exactly.
    assert_eq!(a.decode().unwrap(), first.decode().unwrap());
    assert!(a.summary.min >= 100.0, "sent 100 ms in: {:?}", a.summary);
    // The next from the first's end: b's event ends the chain, so a + b = chain per scan
    // (means equal up to the histograms' three significant digits).
    assert_eq!(b.summary.count, report.totals.completed);
    let sum = a.summary.mean + b.summary.mean;
    assert!(
        (sum - chain.summary.mean).abs() <= chain.summary.mean * 0.005,
        "a {} + b {} vs chain {}",
        a.summary.mean,
        b.summary.mean,
        chain.summary.mean
    );
    assert!(
        b.summary.mean < chain.summary.mean,
        "b is not from the request's start"
    );
}

/// A run against a server whose every answer breaks `max_event_bytes` (1 MiB by default):
/// each scan is `malformed_event`, and no connection was read to its end.
fn assert_cut_at_the_bound(name: &str, script: Script) {
    let server = ScriptServer::start(script);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), name, &server.base, "");
    let (_, report) = run(dir.path(), &[file.to_str().unwrap()]);
    let t = &report.totals;
    assert!(t.attempted > 0, "{t:?}");
    assert_eq!(
        t.failed.get("malformed_event").copied(),
        Some(t.attempted - t.interrupted),
        "{name}: {t:?}"
    );
    assert_eq!(
        t.interrupted, 0,
        "{name}: ended by the bound, not the run's end: {t:?}"
    );
    let written = server.written();
    assert!(
        written.len() as u64 >= t.attempted && written.iter().all(|all| !all),
        "{name}: the client dropped every connection before its end: {written:?}"
    );
}

#[test]
fn a_data_line_over_the_bound_is_malformed_and_the_connection_dropped() {
    // Valid JSON, so only the bound refuses it.
    let mut line = b"data: {\"pad\": \"".to_vec();
    line.extend(std::iter::repeat_n(b'x', 2 << 20));
    line.extend_from_slice(b"\"}\n\n");
    // Then more keep-alives than socket buffers hold, which only a client reading on takes.
    let keepalives = b": keepalive\n\n".repeat((1 << 20) / 13);
    let rest = (0..64).map(|_| (Duration::ZERO, keepalives.clone()));
    let script = std::iter::once((Duration::ZERO, line))
        .chain(rest)
        .collect();
    assert_cut_at_the_bound("long-line", script);
}

#[test]
fn a_line_that_never_ends_is_malformed_and_the_connection_dropped() {
    // `data: xxx...` with no line end, cut by the server itself at 64 MiB.
    let script = std::iter::once((Duration::ZERO, b"data: ".to_vec()))
        .chain((0..64).map(|_| (Duration::ZERO, vec![b'x'; 1 << 20])))
        .collect();
    assert_cut_at_the_bound("endless-line", script);
}
