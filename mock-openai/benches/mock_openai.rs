//! Benchmarks of the mock server: non-streaming throughput and concurrent open streams.
//!
//! The server runs as its own process (the `mock-openai` binary, release build) and the load
//! comes from other processes, so each side has its own CPU accounting and open-file limit.
//!
//! ```text
//! cargo bench -p mock-openai --bench mock_openai                 # everything, default sizes
//! cargo bench -p mock-openai --bench mock_openai -- completions --secs 10 --connections 64
//! cargo bench -p mock-openai --bench mock_openai -- streams --streams 20000 --protocol h2
//! ```
//!
//! - `completions`: zero-latency answers over keep-alive HTTP/1.1 connections from a minimal
//!   client (so the client's cost stays small next to the server's); reports completions/s,
//!   latency percentiles and the server's CPU time per completion.
//! - `streams`: opens N chat streams that stay open (a token every 10 s) and reports the
//!   server's resident memory per open stream. Over HTTP/1.1 each stream is a socket, so the
//!   count is capped by the open-file hard limit of the server process (minus a margin); over
//!   HTTP/2 (prior knowledge, 100 streams per connection) it is not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(about = "mock-openai benchmarks")]
struct Args {
    #[command(subcommand)]
    command: Option<Bench>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Bench {
    /// Non-streaming completions per second with zero injected latency.
    Completions {
        /// Measured seconds per request kind (after 1 s of warm-up).
        #[arg(long, default_value_t = 5)]
        secs: u64,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// Concurrent open streams and server memory per stream.
    Streams {
        /// Streams to open.
        #[arg(long, default_value_t = 20_000)]
        streams: usize,
        #[arg(long, value_enum, default_value_t = Protocol::Both)]
        protocol: Protocol,
        /// Seconds to hold the streams open once all are open.
        #[arg(long, default_value_t = 5)]
        hold_secs: u64,
    },
    /// Internal: one load process of the streams benchmark.
    #[command(hide = true)]
    Loader {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        streams: usize,
        #[arg(long, value_enum)]
        protocol: Protocol,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    Http1,
    H2,
    Both,
}

fn main() {
    let args = Args::parse();
    // The load side needs as many sockets as the hard limit allows.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    match args.command {
        None => {
            completions(5, 64);
            streams(20_000, Protocol::Both, 5);
        }
        Some(Bench::Completions { secs, connections }) => completions(secs, connections),
        Some(Bench::Streams {
            streams: n,
            protocol,
            hold_secs,
        }) => streams(n, protocol, hold_secs),
        Some(Bench::Loader {
            addr,
            streams,
            protocol,
        }) => loader(addr, streams, protocol),
    }
}

/// The `mock-openai` binary, running with a given config.
struct Server {
    child: Child,
    addr: SocketAddr,
    _config: tempfile::NamedTempFile,
}

impl Server {
    fn spawn(config: &str) -> Self {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(config.as_bytes()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mock-openai"))
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(file.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start mock-openai");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .unwrap()
            .parse()
            .expect("address line");
        Self {
            child,
            addr,
            _config: file,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU time of a process (Linux /proc, USER_HZ = 100).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit(") ").next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// Resident memory of a process in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn http_request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one response with a Content-Length body from a keep-alive connection; returns its
/// status. No pipelining, so the buffer holds exactly one response.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..head_end]).map_err(std::io::Error::other)?;
        let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| std::io::Error::other("no content-length"))?;
        while buf.len() < head_end + 4 + length {
            if stream.read_buf(buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        return Ok(status);
    }
}

/// Sends `request` in a loop until `stop`; counts 200s and records latencies (µs).
async fn completion_worker(
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    stop: Instant,
    record_after: Instant,
    done: Arc<AtomicU64>,
) -> Histogram<u64> {
    let mut histogram = Histogram::new(3).unwrap();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let start = Instant::now();
        if start >= stop {
            break;
        }
        stream.write_all(&request).await.expect("write");
        let status = read_response(&mut stream, &mut buf)
            .await
            .expect("response");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&buf));
        if start >= record_after {
            done.fetch_add(1, Ordering::Relaxed);
            histogram
                .record(start.elapsed().as_micros() as u64)
                .unwrap();
        }
    }
    histogram
}

fn completions(secs: u64, connections: usize) {
    println!(
        "== non-streaming completions, zero latency ({connections} connections, {secs} s each)"
    );
    let server = Server::spawn("time_scale = 0.0\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let kinds = [
        (
            "chat, free text (~150 tokens)",
            "/v1/chat/completions",
            r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Tell me about recycling."}]}"#,
        ),
        (
            "responses, waste_classification + image",
            "/v1/responses",
            r#"{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_text","text":"What is this?"},{"type":"input_image","image_url":"https://images.example.com/scan/1.jpg"}]}],"text":{"format":{"type":"json_schema","name":"waste_classification","strict":true,"schema":{"type":"object"}}}}"#,
        ),
        (
            "chat, disposal_answer schema",
            "/v1/chat/completions",
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"recyclable / pet_bottle / water_bottle"}],"response_format":{"type":"json_schema","json_schema":{"name":"disposal_answer","schema":{"type":"object"}}}}"#,
        ),
    ];
    for (name, path, body) in kinds {
        let request = Arc::new(http_request(path, body));
        let done = Arc::new(AtomicU64::new(0));
        let warmup = Duration::from_secs(1);
        let t0 = Instant::now();
        let record_after = t0 + warmup;
        let stop = record_after + Duration::from_secs(secs);
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                runtime.spawn(completion_worker(
                    server.addr,
                    request.clone(),
                    stop,
                    record_after,
                    done.clone(),
                ))
            })
            .collect();
        // CPU is sampled around the measured window.
        std::thread::sleep(record_after.saturating_duration_since(Instant::now()));
        let (server_cpu0, client_cpu0) = (cpu_time(server.pid()), cpu_time(std::process::id()));
        std::thread::sleep(stop.saturating_duration_since(Instant::now()));
        let (server_cpu1, client_cpu1) = (cpu_time(server.pid()), cpu_time(std::process::id()));
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for worker in workers {
            histogram.add(runtime.block_on(worker).unwrap()).unwrap();
        }
        let count = done.load(Ordering::Relaxed);
        let rate = count as f64 / secs as f64;
        let server_cpu = (server_cpu1 - server_cpu0).as_secs_f64();
        let client_cpu = (client_cpu1 - client_cpu0).as_secs_f64();
        println!(
            "{name:<42} {rate:>8.0} completions/s  p50 {} µs  p99 {} µs  server CPU {:.1} µs/completion ({:.0} % of a core), client CPU {:.1} µs/completion",
            histogram.value_at_quantile(0.5),
            histogram.value_at_quantile(0.99),
            server_cpu * 1e6 / count as f64,
            server_cpu * 100.0 / secs as f64,
            client_cpu * 1e6 / count as f64,
        );
    }
}

/// Reads the server's `mock_openai_in_flight` gauge.
fn in_flight(addr: SocketAddr) -> Option<i64> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("mock_openai_in_flight "))
        .and_then(|v| v.trim().parse().ok())
}

fn streams(requested: usize, protocol: Protocol, hold_secs: u64) {
    let protocols: &[Protocol] = match protocol {
        Protocol::Both => &[Protocol::Http1, Protocol::H2],
        Protocol::Http1 => &[Protocol::Http1],
        Protocol::H2 => &[Protocol::H2],
    };
    // One socket per HTTP/1.1 stream: the server process cannot hold more than its hard limit.
    let (_, hard_limit) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    for &protocol in protocols {
        let n = match protocol {
            Protocol::Http1 => requested.min(hard_limit.saturating_sub(100) as usize),
            _ => requested,
        };
        let label = if protocol == Protocol::Http1 {
            "HTTP/1.1"
        } else {
            "HTTP/2 (h2c, 100 streams per connection)"
        };
        println!("== {n} concurrent open streams over {label} (open-file hard limit {hard_limit})");
        // Streams that stay open: first token at once, then one every 10 s, 200 tokens.
        let server = Server::spawn(
            "[models.\"gpt-4o\"]\nttft = \"0s\"\ninter_token = \"10s\"\noutput_tokens = 200\n",
        );
        // Warm up allocator and metrics before the baseline.
        for _ in 0..10 {
            let _ = in_flight(server.addr);
        }
        let rss0 = rss(server.pid());
        let cpu0 = cpu_time(server.pid());
        let start = Instant::now();
        // At most 9,000 sockets per load process, well inside each one's limit.
        let per_loader = 9_000;
        let mut loaders: Vec<Child> = (0..n.div_ceil(per_loader))
            .map(|i| {
                let share = per_loader.min(n - i * per_loader);
                Command::new(std::env::current_exe().unwrap())
                    .args([
                        "loader",
                        "--addr",
                        &server.addr.to_string(),
                        "--streams",
                        &share.to_string(),
                    ])
                    .args([
                        "--protocol",
                        if protocol == Protocol::Http1 {
                            "http1"
                        } else {
                            "h2"
                        },
                    ])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("start loader")
            })
            .collect();
        let deadline = start + Duration::from_secs(180);
        let mut open = 0;
        while Instant::now() < deadline {
            open = in_flight(server.addr).unwrap_or(0);
            if open >= n as i64 {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let opened_in = start.elapsed();
        let rss1 = rss(server.pid());
        let cpu1 = cpu_time(server.pid());
        std::thread::sleep(Duration::from_secs(hold_secs));
        let still_open = in_flight(server.addr).unwrap_or(0);
        let cpu2 = cpu_time(server.pid());
        let rss2 = rss(server.pid());
        let loader_rss: u64 = loaders.iter().map(|l| rss(l.id())).sum();
        println!(
            "opened {open} of {n} in {:.1} s; still open after {hold_secs} s: {still_open}",
            opened_in.as_secs_f64()
        );
        println!(
            "server RSS {:.1} MiB idle -> {:.1} MiB with streams ({:.1} MiB after holding): {:.1} KiB per open stream",
            rss0 as f64 / 1048576.0,
            rss1 as f64 / 1048576.0,
            rss2 as f64 / 1048576.0,
            (rss2.max(rss1) - rss0) as f64 / 1024.0 / open.max(1) as f64,
        );
        println!(
            "server CPU: {:.2} s to open them, {:.0} % of a core to keep them ticking; load processes' RSS {:.1} KiB per stream",
            (cpu1 - cpu0).as_secs_f64(),
            (cpu2 - cpu1).as_secs_f64() * 100.0 / hold_secs as f64,
            loader_rss as f64 / 1024.0 / n as f64,
        );
        for loader in &mut loaders {
            let _ = loader.kill();
            let _ = loader.wait();
        }
    }
}

const STREAM_BODY: &str =
    r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}"#;

/// One load process: opens `n` streams, reads them until killed.
fn loader(addr: SocketAddr, n: usize, protocol: Protocol) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let opened = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        // Bounded connection attempts in flight, so the listen backlog does not overflow.
        let connecting = Arc::new(tokio::sync::Semaphore::new(256));
        match protocol {
            Protocol::Http1 => {
                let request = Arc::new(http_request("/v1/chat/completions", STREAM_BODY));
                for _ in 0..n {
                    let permit = connecting.clone().acquire_owned().await.unwrap();
                    let (request, opened) = (request.clone(), opened.clone());
                    tokio::spawn(async move {
                        let mut permit = Some(permit);
                        let mut stream = TcpStream::connect(addr).await.expect("connect");
                        stream.write_all(&request).await.expect("write");
                        let mut buf = vec![0u8; 4096];
                        while stream.read(&mut buf).await.is_ok_and(|read| read > 0) {
                            // Open once the first bytes arrived: free the connection slot.
                            if permit.take().is_some() {
                                opened.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            }
            _ => {
                let url = format!("http://{addr}/v1/chat/completions");
                let mut client = None;
                for i in 0..n {
                    if i % 100 == 0 {
                        client = Some(
                            reqwest::Client::builder()
                                .http2_prior_knowledge()
                                .build()
                                .unwrap(),
                        );
                    }
                    let permit = connecting.clone().acquire_owned().await.unwrap();
                    let request = client
                        .as_ref()
                        .unwrap()
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(STREAM_BODY);
                    let opened = opened.clone();
                    tokio::spawn(async move {
                        let response = request.send().await.expect("h2 request");
                        drop(permit);
                        opened.fetch_add(1, Ordering::Relaxed);
                        let mut response = response;
                        while let Ok(Some(_)) = response.chunk().await {}
                    });
                }
            }
        }
        // Hold until the parent kills this process.
        std::future::pending::<()>().await;
    });
}
