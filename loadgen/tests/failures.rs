//! Broken servers, each a few lines of std TCP in a thread on loopback, against the real
//! `scan-bench run --target`: every way an exchange can break before a response head ends
//! in its own failure class.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use assert_cmd::Command;
use reports::RunReport;

/// What a broken server does with each connection it accepts.
type Behaviour = fn(TcpStream);

/// Serves `behaviour` on a loopback port, one thread per connection; its base URL.
fn serve(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || behaviour(stream));
        }
    });
    url
}

/// Reads one whole request (head and `content-length` body); false at end of stream.
fn read_request(stream: &mut TcpStream) -> bool {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let body: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if data.len() >= end + 4 + body {
                return true;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// One complete event stream of the scenario's protocol, kept alive.
fn answer_stream(stream: &mut TcpStream) -> std::io::Result<()> {
    let body = concat!(
        "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"finish_reason\":null}]}\n\n",
        "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{body}",
        body.len()
    )
}

/// A port nothing listens on: bound, then released.
fn refused() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// The request and `[stream]` tables that read OpenAI's chunks as stages.
const CHUNK_STAGES: &str = include_str!("data/openai-chunk-stages.toml");

/// One VU for a second against `target`, with short timeouts.
fn run_against(dir: &Path, name: &str, target: &str) -> RunReport {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"name = "{name}"
target = "{target}"
target_metrics = "{target}/metrics"
[load]
stages = [{{ duration = "0s", target = 1 }}, {{ duration = "1s", target = 1 }}]
think_time = "50ms"
request_timeout = "2s"
idle_timeout = "1s"
graceful_ramp_down = "1s"

{CHUNK_STAGES}
[request.body]
model = "gpt-4o-mini"
stream = true
"#
        ),
    )
    .unwrap();
    let out = dir.join(name);
    let assert = Command::cargo_bin("scan-bench")
        .unwrap()
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .assert();
    let output = assert.get_output();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{name}: stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    RunReport::read(&out.join("report.json")).unwrap()
}

/// The outcome counts of a run, by name, without the zeros.
fn outcomes(report: &RunReport) -> BTreeMap<String, u64> {
    let t = &report.totals;
    let mut counts: BTreeMap<String, u64> = t.failed.clone();
    for (name, n) in [
        ("completed", t.completed),
        ("partial", t.partial),
        ("interrupted", t.interrupted),
    ] {
        if n > 0 {
            counts.insert(name.to_owned(), n);
        }
    }
    counts
}

/// Accepts, and closes before reading anything.
fn close_at_once(stream: TcpStream) {
    drop(stream);
}

/// Reads part of the request and closes with the rest unread: Linux answers with a RST.
fn reset_after_request(mut stream: TcpStream) {
    let mut part = [0u8; 16];
    let _ = stream.read_exact(&mut part);
    drop(stream);
}

/// Answers a status line that is no HTTP.
fn garbage_status_line(mut stream: TcpStream) {
    if read_request(&mut stream) {
        let _ = stream.write_all(b"HELLO WORLD\r\n\r\n");
    }
}

/// Answers a 1 MiB header (hyper takes heads up to ~400 KiB; 200 KiB still passes).
fn oversized_headers(mut stream: TcpStream) {
    if read_request(&mut stream) {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nx-padding: ");
        let _ = stream.write_all(&vec![b'a'; 1 << 20]);
        let _ = stream.write_all(b"\r\n\r\n");
    }
}

/// Answers one stream on a kept-alive connection, then closes it while it is idle.
fn close_when_idle(mut stream: TcpStream) {
    if read_request(&mut stream) {
        let _ = answer_stream(&mut stream);
    }
}

/// Answers one stream on a kept-alive connection, then closes it as the next request on it
/// arrives, unanswered: the race of a server closing an idle connection the client reuses.
fn close_on_reuse(mut stream: TcpStream) {
    if read_request(&mut stream) && answer_stream(&mut stream).is_ok() {
        read_request(&mut stream);
    }
}

#[test]
fn each_broken_server_fails_in_its_own_class() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, String, &str); 5] = [
        ("nothing listening", refused(), "connect"),
        (
            "accept, close",
            serve(close_at_once),
            "closed_before_response",
        ),
        (
            "read, reset",
            serve(reset_after_request),
            "closed_before_response",
        ),
        (
            "garbage status line",
            serve(garbage_status_line),
            "bad_response",
        ),
        ("1 MiB header", serve(oversized_headers), "bad_response"),
    ];
    for (i, (case, target, class)) in cases.iter().enumerate() {
        let report = run_against(dir.path(), &format!("case{i}"), target);
        let counts = outcomes(&report);
        println!("{case:<24} {counts:?}");
        let t = &report.totals;
        let failed = t.failed.get(*class).copied().unwrap_or(0);
        assert!(failed > 0, "{case}: {counts:?}");
        assert_eq!(
            failed + t.interrupted,
            t.attempted,
            "{case}: every request is {class}: {counts:?}"
        );
        assert_eq!(
            t.http_failed, failed,
            "{case}: {class} counts in http_req_failed"
        );
    }
}

#[test]
fn a_kept_alive_connection_the_server_closed_is_no_connect_failure() {
    let dir = tempfile::tempdir().unwrap();

    // Closed while idle: the client sees the close before reusing the connection and opens
    // a new one, so nothing fails.
    let report = run_against(dir.path(), "idle-close", &serve(close_when_idle));
    let counts = outcomes(&report);
    println!("{:<24} {counts:?}", "keep-alive, idle close");
    let t = &report.totals;
    assert!(t.completed >= 2, "{counts:?}");
    assert!(t.failed.is_empty(), "{counts:?}");
    let connections = report
        .latency(scenarios::Timing::Connect)
        .unwrap()
        .summary
        .count;
    assert_eq!(
        connections, t.attempted,
        "a new connection for every request: {counts:?}"
    );

    // Closed as the next request arrives: that request was sent, so it is not retried; it
    // broke on a connection that existed, which is no connect failure.
    let report = run_against(dir.path(), "reuse-close", &serve(close_on_reuse));
    let counts = outcomes(&report);
    println!("{:<24} {counts:?}", "keep-alive, close on reuse");
    let t = &report.totals;
    let closed = t.failed.get("closed_before_response").copied().unwrap_or(0);
    assert!(t.completed > 0 && closed > 0, "{counts:?}");
    assert!(!t.failed.contains_key("connect"), "{counts:?}");
    assert_eq!(
        t.completed + closed + t.interrupted,
        t.attempted,
        "{counts:?}"
    );
    assert_eq!(t.http_failed, closed, "{counts:?}");
}
