//! Throughput and overhead of the pipeline at many concurrent chains.
//!
//! ```text
//! cargo bench -p reference-pipeline --bench chains -- [--concurrency 1000] [--chains 20000]
//!     [--latency 0ms] [--mode async|threadpool|staged]
//! ```
//!
//! The mock (in this process, no faults, no limits) answers after `--latency` per call; the
//! pipeline runs as its own process (the release binary), so its CPU time and peak RSS are its
//! own. `--concurrency` clients each run chains back to back until `--chains` are done (after a
//! warm-up round). Per chain the client measures request start to the terminal event;
//! overhead = that minus the injected latency (two model calls). With zero latency the chains
//! queue for the two shared cores, so the chain time there is mostly waiting for CPU; the CPU
//! time per chain is the pipeline's cost.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mock_openai::{Delay, MockConfig, MockServer, ModelConfig, TokenCount};

struct Options {
    concurrency: usize,
    chains: usize,
    latency: Duration,
    mode: String,
}

fn options() -> Options {
    let mut options = Options {
        concurrency: 1000,
        chains: 20_000,
        latency: Duration::ZERO,
        mode: "async".into(),
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
    for (i, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "--concurrency" => options.concurrency = value(i).parse().expect("--concurrency N"),
            "--chains" => options.chains = value(i).parse().expect("--chains N"),
            "--latency" => {
                options.latency = humantime::parse_duration(&value(i)).expect("--latency 500ms")
            }
            "--mode" => options.mode = value(i),
            _ => {}
        }
    }
    options
}

/// The pipeline binary as a child process; killed when dropped.
struct PipelineProcess {
    child: Child,
    base_url: String,
}

impl PipelineProcess {
    fn start(mock_url: &str, mode: &str, dir: &std::path::Path) -> Self {
        let config = dir.join("pipeline.toml");
        let mode = match mode {
            "async" => "mode = \"async\"".to_string(),
            "threadpool" => "mode = { kind = \"threadpool\", workers = 6 }".to_string(),
            "staged" => "mode = \"staged\"\ntime_scale = 0.01".to_string(),
            other => panic!("unknown mode {other}"),
        };
        std::fs::write(
            &config,
            format!("{mode}\nmax_inflight = 100000\nchain_timeout = \"1h\"\n"),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_reference-pipeline"))
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0", "--openai-url", mock_url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the reference-pipeline binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base_url = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(
            base_url.starts_with("http://"),
            "unexpected first line {line:?}"
        );
        Self { child, base_url }
    }

    /// User + system CPU time so far.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which is in parentheses): utime is the 14th field.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_secs_f64(ticks as f64 / 100.0)
    }

    /// A `/proc/PID/status` field in MiB (`VmHWM` = peak RSS, `VmRSS` = now).
    fn memory_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib / 1024.0
    }
}

impl Drop for PipelineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn one_chain(client: &reqwest::Client, url: &str, user: usize) -> Duration {
    let started = Instant::now();
    let body = client
        .post(url)
        .header("x-user-id", format!("bench-{user}"))
        .body(r#"{"image_url": "https://images.example.com/item.jpg", "user_input": "?"}"#)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let elapsed = started.elapsed();
    let terminal = body.trim_end().lines().last().unwrap_or_default();
    assert!(
        terminal.starts_with("data: {\"step\": \"reward\", \"status\": \"completed\""),
        "chain did not complete: {terminal}"
    );
    elapsed
}

/// Runs `total` chains with `concurrency` clients; returns the chain-time histogram (µs).
async fn run(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    total: usize,
) -> Histogram<u64> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..concurrency).map(|_| {
        let client = client.clone();
        let url = url.to_string();
        let next = next.clone();
        tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return histogram;
                }
                let elapsed = one_chain(&client, &url, n).await;
                histogram.record(elapsed.as_micros() as u64).unwrap();
            }
        })
    });
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for worker in futures_util::future::join_all(workers).await {
        histogram.add(worker.unwrap()).unwrap();
    }
    histogram
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let model = ModelConfig {
            ttft: Delay::fixed(options.latency),
            inter_token: Delay::fixed(Duration::ZERO),
            output_tokens: TokenCount::fixed(10),
        };
        let mut mock_config = MockConfig {
            models: [
                ("gpt-4o".to_string(), model.clone()),
                ("gpt-4o-mini".to_string(), model),
            ]
            .into(),
            ..MockConfig::default()
        };
        if options.latency.is_zero() {
            mock_config.time_scale = 0.0;
        }
        let mock = MockServer::start(mock_config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pipeline = PipelineProcess::start(&mock.base_url(), &options.mode, dir.path());
        let url = format!("{}/api/v1/scan/classify/completion", pipeline.base_url);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(options.concurrency)
            .tcp_nodelay(true)
            .build()
            .unwrap();

        // Warm-up: open the connections and fill the caches.
        run(&client, &url, options.concurrency, options.concurrency).await;
        let rss_after_warmup = pipeline.memory_mib("VmRSS");
        let cpu_before = pipeline.cpu_time();
        let started = Instant::now();
        let histogram = run(&client, &url, options.concurrency, options.chains).await;
        let wall = started.elapsed();
        let cpu = pipeline.cpu_time() - cpu_before;

        let injected = (options.latency * 2).as_micros() as u64;
        let overhead = |q: f64| ms(histogram.value_at_quantile(q).saturating_sub(injected));
        println!(
            "mode {} | {} chains, {} concurrent, mock latency {:?} per call",
            options.mode, options.chains, options.concurrency, options.latency
        );
        println!(
            "throughput      {:.0} chains/s ({:.2} s wall)",
            options.chains as f64 / wall.as_secs_f64(),
            wall.as_secs_f64()
        );
        println!(
            "chain time      p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            ms(histogram.value_at_quantile(0.5)),
            ms(histogram.value_at_quantile(0.9)),
            ms(histogram.value_at_quantile(0.99)),
            ms(histogram.max())
        );
        println!(
            "overhead        p50 {:.2} ms  p99 {:.2} ms  (chain time - {:?} injected)",
            overhead(0.5),
            overhead(0.99),
            options.latency * 2
        );
        println!(
            "pipeline CPU    {:.0} us per chain ({:.2} s user+system)",
            cpu.as_secs_f64() * 1e6 / options.chains as f64,
            cpu.as_secs_f64()
        );
        println!(
            "pipeline RSS    peak {:.1} MiB, {:.1} MiB after warm-up, {:.1} MiB at the end",
            pipeline.memory_mib("VmHWM"),
            rss_after_warmup,
            pipeline.memory_mib("VmRSS")
        );
        drop(pipeline);
        mock.shutdown().await;
    });
}
