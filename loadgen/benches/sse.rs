//! What reading one answer stream costs per event: recorded bodies replayed through
//! `sse::read_body`, the path every request of `scan-bench run` takes once its head has
//! arrived (event framing, the `[stream]` rules, the byte statistics, the select on the stop
//! token and deadline), without the network.
//!
//! ```text
//! cargo bench -p loadgen --bench sse               # every body and chunking (~15 s)
//! cargo bench -p loadgen --bench sse -- --quick    # shorter rounds, a smoke check
//! cargo bench -p loadgen --bench sse -- --large    # only the large single events
//! ```
//!
//! The bodies in `benches/data/` were recorded with `curl --raw`, which keeps the HTTP/1.1
//! chunked framing and with it the servers' writes:
//!
//! - `openai-chat.chunked`: `scan-bench serve mock-openai`, a chat completion of 61 tokens
//!   (the scale benchmark's size) as 64 events in 61 chunks (one per token; the role chunk goes
//!   with the first token, the finish chunk and `[DONE]` with the last), read with the scale
//!   benchmark's `[stream]` mapping;
//! - `eco2-v1.chunked`: `scan-bench serve pipeline` with its defaults, one scan in Eco²'s published
//!   `eco2-v1` protocol (9 events, the last with the ~1.5 KB result, and 8 keep-alive
//!   comments), read with the default `[stream]` rules;
//! - `named-events.chunked`: the same with `protocol = "named-events"`, read with named-event
//!   rules.
//!
//! Each body is replayed as sent and cut into 61-byte pieces (lines split across chunks), each
//! chunk after a wait as from a socket (the stream returns `Pending` and wakes itself), on a
//! current-thread tokio runtime. A round replays a body until about `--round-ms` have passed;
//! the figures are the best and the median of the rounds, in nanoseconds per event and
//! microseconds per stream.
//!
//! Then one event of 1, 2, 4 and 8 MiB (a reward result padded with a long string, after the
//! other stage events), in 16 KiB chunks as hyper delivers a large body, read with a
//! `max_event_bytes` above them: the wall time and the CPU time (this thread's, from
//! `/proc/thread-self/schedstat`, which moves in scheduler ticks: hence the average over one
//! round of reads) of reading it. A reader that rescans its buffer per chunk is quadratic
//! here; one that scans each byte once is linear.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures_util::Stream;
use loadgen::record::{Outcome, RequestRecord};
use loadgen::sse::{StreamLimits, StreamRules, read_body};
use scenarios::{EventMatch, StageName, StreamSpec};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "scan-bench: the cost of reading an SSE stream, per event")]
struct Args {
    /// Shorter and fewer rounds (a smoke check).
    #[arg(long)]
    quick: bool,
    /// Rounds per body and chunking.
    #[arg(long, default_value_t = 9)]
    rounds: usize,
    /// Length of one round in milliseconds.
    #[arg(long, default_value_t = 300)]
    round_ms: u64,
    /// Only the large single events.
    #[arg(long)]
    large: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A recorded body and the rules to read it with.
struct Body {
    name: &'static str,
    rules: StreamRules,
    /// The chunks as the server wrote them.
    chunks: Vec<Bytes>,
    /// Events with data (what the rules see).
    events: usize,
}

fn main() {
    let args = Args::parse();
    let (rounds, round) = if args.quick {
        (3, Duration::from_millis(50))
    } else {
        (args.rounds.max(1), Duration::from_millis(args.round_ms))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    if !args.large {
        per_event(&runtime, rounds, round);
    }
    large_events(&runtime, round);
}

/// The recorded bodies, as sent and in 61-byte pieces.
fn per_event(runtime: &tokio::runtime::Runtime, rounds: usize, round: Duration) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    let bodies = [
        Body::load(&data, "openai-chat", openai_rules()),
        Body::load(&data, "eco2-v1", StreamRules::new(StreamSpec::default())),
        Body::load(&data, "named-events", named_event_rules()),
    ];
    println!(
        "{:<14} {:<20} {:>7} {:>7} {:>10} {:>10} {:>10}",
        "body", "chunks", "events", "bytes", "ns/event", "median", "µs/stream"
    );
    for body in &bodies {
        for (label, chunks) in [
            ("as sent", body.chunks.clone()),
            ("61-byte pieces", pieces(&body.chunks, 61)),
        ] {
            let per_stream = measure(runtime, body, &chunks, rounds, round);
            let best = per_stream[0];
            let median = per_stream[per_stream.len() / 2];
            let per_event = |d: Duration| d.as_nanos() as f64 / body.events as f64;
            println!(
                "{:<14} {:<20} {:>7} {:>7} {:>10.0} {:>10.0} {:>10.1}",
                body.name,
                format!("{label} ({})", chunks.len()),
                body.events,
                chunks.iter().map(Bytes::len).sum::<usize>(),
                per_event(best),
                per_event(median),
                best.as_nanos() as f64 / 1_000.0,
            );
        }
    }
}

/// One event of each size, in 16 KiB chunks: wall and CPU time per read, averaged over
/// reads for about `window` (at least one read, so a slow reader stays short too).
fn large_events(runtime: &tokio::runtime::Runtime, window: Duration) {
    const CHUNK: usize = 16 * 1024;
    let rules = large_event_rules();
    println!();
    println!(
        "{:<10} {:>7} {:>6} {:>10} {:>10} {:>12}",
        "event", "chunks", "reads", "wall s", "CPU s", "CPU ns/byte"
    );
    for mib in [1, 2, 4, 8] {
        let body = large_event_body(mib << 20);
        let chunks = pieces(&[body], CHUNK);
        let stop = CancellationToken::new();
        let (cpu, began) = (thread_cpu(), Instant::now());
        let mut reads = 0u32;
        while reads == 0 || began.elapsed() < window {
            let mut record = RequestRecord::new(rules.stages().len());
            runtime.block_on(async {
                let start = tokio::time::Instant::now();
                let limits = StreamLimits {
                    deadline: start + Duration::from_secs(3_600),
                    idle: Duration::from_secs(3_600),
                };
                let stream = Trickle {
                    chunks: chunks.iter(),
                    waited: false,
                };
                read_body(stream, start, &rules, limits, &stop, &mut record).await;
            });
            assert_eq!(
                record.outcome,
                Outcome::Completed,
                "a {mib} MiB event reads as a completed run"
            );
            reads += 1;
        }
        let wall = began.elapsed() / reads;
        let cpu = thread_cpu().saturating_sub(cpu) / reads;
        println!(
            "{:<10} {:>7} {:>6} {:>10.4} {:>10.4} {:>12.2}",
            format!("{mib} MiB"),
            chunks.len(),
            reads,
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            cpu.as_nanos() as f64 / (mib << 20) as f64,
        );
    }
}

/// An Eco² run whose reward result holds a string padded to make its event `size` bytes.
fn large_event_body(size: usize) -> Bytes {
    let mut body = String::new();
    for step in ["vision", "rule", "answer", "reward"] {
        body.push_str(&format!(
            "data: {{\"step\": \"{step}\", \"status\": \"started\"}}\n\n"
        ));
        if step != "reward" {
            body.push_str(&format!(
                "data: {{\"step\": \"{step}\", \"status\": \"completed\"}}\n\n"
            ));
        }
    }
    let head = "data: {\"step\": \"reward\", \"status\": \"completed\", \"result\": {\"reward\": null, \"pad\": \"";
    let tail = "\"}}\n\n";
    body.push_str(head);
    body.extend(std::iter::repeat_n('x', size - head.len() - tail.len()));
    body.push_str(tail);
    Bytes::from(body)
}

/// This thread's CPU time so far (`/proc/thread-self/schedstat`, in nanoseconds).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Time per stream of each round, sorted.
fn measure(
    runtime: &tokio::runtime::Runtime,
    body: &Body,
    chunks: &[Bytes],
    rounds: usize,
    round: Duration,
) -> Vec<Duration> {
    let stop = CancellationToken::new();
    let read = |record: &mut RequestRecord| {
        runtime.block_on(async {
            let start = tokio::time::Instant::now();
            let limits = StreamLimits {
                deadline: start + Duration::from_secs(3_600),
                idle: Duration::from_secs(60),
            };
            let stream = Trickle {
                chunks: chunks.iter(),
                waited: false,
            };
            read_body(stream, start, &body.rules, limits, &stop, record).await;
        })
    };
    // Once to check the body reads as a completed run, and to warm up.
    let mut record = RequestRecord::new(body.rules.stages().len());
    read(&mut record);
    assert_eq!(
        record.outcome,
        Outcome::Completed,
        "{}: the recorded body reads as a completed run",
        body.name
    );
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let began = Instant::now();
            let mut streams = 0u32;
            while began.elapsed() < round {
                for _ in 0..16 {
                    let mut record = RequestRecord::new(body.rules.stages().len());
                    read(&mut record);
                    std::hint::black_box(&record);
                }
                streams += 16;
            }
            began.elapsed() / streams
        })
        .collect();
    times.sort();
    times
}

/// The chunks one at a time, each after a wait (`Pending`, then a wake-up), as they arrive
/// from a socket: the reader goes back to its select between any two.
struct Trickle<'a> {
    chunks: std::slice::Iter<'a, Bytes>,
    waited: bool,
}

impl Stream for Trickle<'_> {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.waited {
            self.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.waited = false;
        Poll::Ready(self.chunks.next().cloned().map(Ok))
    }
}

impl Body {
    fn load(dir: &Path, name: &'static str, rules: StreamRules) -> Self {
        let path = dir.join(format!("{name}.chunked"));
        let raw = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("read the recorded body {}: {e}", path.display()));
        let chunks = dechunk(&raw);
        let whole: Vec<u8> = chunks.concat();
        let events = String::from_utf8(whole)
            .expect("a UTF-8 body")
            .split("\n\n")
            .filter(|block| block.lines().any(|l| l.starts_with("data:")))
            .count();
        Self {
            name,
            rules,
            chunks,
            events,
        }
    }
}

/// The chunks of an HTTP/1.1 chunked body (`SIZE\r\nDATA\r\n` ... `0\r\n\r\n`).
fn dechunk(mut raw: &[u8]) -> Vec<Bytes> {
    let mut chunks = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size = std::str::from_utf8(&raw[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .expect("a hexadecimal chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return chunks;
        }
        chunks.push(Bytes::copy_from_slice(&raw[..size]));
        assert_eq!(&raw[size..size + 2], b"\r\n", "a chunk ends with CRLF");
        raw = &raw[size + 2..];
    }
}

/// The same bytes in pieces of `size`.
fn pieces(chunks: &[Bytes], size: usize) -> Vec<Bytes> {
    let whole = Bytes::from(chunks.concat());
    (0..whole.len())
        .step_by(size)
        .map(|at| whole.slice(at..(at + size).min(whole.len())))
        .collect()
}

/// The scale benchmark's mapping of OpenAI's chunks: each chunk is a stage event.
fn openai_rules() -> StreamRules {
    StreamRules::new(StreamSpec {
        stages: vec!["chat.completion.chunk".into()],
        stage_name: StageName::Pointer("/object".into()),
        status_field: "/choices/0/finish_reason".into(),
        started: vec![String::new()],
        completed: vec!["stop".into(), "length".into()],
        terminal: vec![EventMatch::data("[DONE]")],
        error: vec![],
        null_checks: vec![],
        ..StreamSpec::default()
    })
}

/// The default rules with a bound above the largest event, for the large events.
fn large_event_rules() -> StreamRules {
    StreamRules::new(StreamSpec {
        max_event_bytes: 16 << 20,
        ..StreamSpec::default()
    })
}

/// The pipeline's named-event protocol: `stage` events, a `ready` event, `error` events.
fn named_event_rules() -> StreamRules {
    StreamRules::new(StreamSpec {
        stage_event: Some("stage".into()),
        terminal: vec![EventMatch::named("ready")],
        error: vec![EventMatch::named("error")],
        ..StreamSpec::default()
    })
}
