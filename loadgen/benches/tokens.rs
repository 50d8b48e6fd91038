//! The token metrics' accuracy and cost: `scan-bench run` with `[stream.tokens]` against a mock
//! whose pacing is fixed, at 10, 100 and 1,000 concurrent streams.
//!
//! ```text
//! cargo bench -p loadgen --bench tokens                       # 10, 100 and 1,000 streams
//! cargo bench -p loadgen --bench tokens -- --streams 100 --hold 3
//! ```
//!
//! The target is `scan-bench serve mock-openai` in its own process: the first token 200 ms
//! after the request, 64 tokens 20 ms apart (the last, its usage and `data: [DONE]` in one
//! write at 1,460 ms). Each case is one `scan-bench run FILE --target URL --quiet` process with
//! N closed-model users (ramped over a second, held for `--hold` seconds, no think time); its
//! `report.json` gives `ttft` and `itl`, whose error is measured minus injected (200 ms and
//! 20 ms). The figures are the percentile's HDR value (3 significant digits: 128 µs buckets
//! near 200 ms, 16 µs near 20 ms), so an error reads up to a bucket high.
//!
//! - loadgen CPU: user + system time of the run process over its whole life (this process's
//!   reaped children's times from `/proc/self/stat`), per completed request and per output
//!   token;
//! - loadgen memory: its peak resident set (`VmHWM`, polled);
//! - the target's own error: probe threads (blocking sockets, one request at a time each) ask a
//!   model with the same pacing during every case and time its first chunk and `[DONE]`; what
//!   they see late is the mock's and the machine's share of the error, not the load
//!   generator's.
//!
//! Every case writes `scenario.toml`, `report.json` and the run's output under
//! `target/tmp/tokens/<streams>/`.

mod support;
use support::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;
use reports::RunReport;
use scenarios::Timing;

const TTFT: Duration = Duration::from_millis(200);
const GAP: Duration = Duration::from_millis(20);
const TOKENS: u32 = 64;

/// Probe threads, each with one request at a time.
const PROBES: usize = 4;

#[derive(Parser)]
#[command(about = "scan-bench token metrics: accuracy and cost")]
struct Args {
    /// Concurrent streams of a case (repeatable); 10, 100 and 1,000 by default.
    #[arg(long = "streams")]
    streams: Vec<u32>,
    /// Seconds each case holds its users after the one-second ramp.
    #[arg(long, default_value_t = 6)]
    hold: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn model_toml() -> String {
    format!(
        "ttft = \"{}ms\"\ninter_token = \"{}ms\"\noutput_tokens = {TOKENS}\n",
        TTFT.as_millis(),
        GAP.as_millis()
    )
}

fn scenario_toml(streams: u32, hold: u64) -> String {
    format!(
        r#"name = "tokens-{streams}"
description = "scan-bench token benchmark: {streams} streams"

[load]
stages = [{{ duration = "1s", target = {streams} }}, {{ duration = "{hold}s", target = {streams} }}]
think_time = "0s"
graceful_ramp_down = "10s"
request_timeout = "60s"
idle_timeout = "10s"

[request]
path = "/v1/chat/completions"
vars = {{}}

[request.headers]
content-type = "application/json"

[request.body]
model = "timed"
stream = true
stream_options = {{ include_usage = true }}
messages = [{{ role = "user", content = "hello" }}]

[stream]
stages = []
terminal = [{{ data = "[DONE]" }}]
error = []
null_checks = []

[stream.tokens]
"#
    )
}

fn main() {
    let args = Args::parse();
    // Children inherit the raised limit.
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_scan-bench"));
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tokens");
    std::fs::create_dir_all(&root).expect("create the output directory");
    let config = root.join("mock.toml");
    let model = model_toml();
    std::fs::write(
        &config,
        format!("seed = 1\n\n[models.timed]\n{model}\n[models.probe]\n{model}"),
    )
    .expect("write the mock config");
    let streams = if args.streams.is_empty() {
        vec![10, 100, 1_000]
    } else {
        args.streams.clone()
    };
    println!(
        "scan-bench token benchmark: {} cores, open-file limit {limit}, load average {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average()
    );
    println!(
        "target: serve mock-openai, ttft {} ms, {TOKENS} tokens {} ms apart\n",
        TTFT.as_millis(),
        GAP.as_millis()
    );
    let mock = Mock::start(&bin, &config);
    let mut rows = Vec::new();
    for n in streams {
        mock.wait_idle(Duration::from_secs(60));
        let dir = root.join(n.to_string());
        std::fs::create_dir_all(&dir).expect("create the case directory");
        let file = dir.join("scenario.toml");
        std::fs::write(&file, scenario_toml(n, args.hold)).expect("write the scenario");
        println!("== {n} streams ...");
        let probe = Probe::start(mock.addr);
        let run = run_case(&bin, &mock.base, &file, &dir);
        let probe = probe.stop();
        rows.push(row(n, &run, &probe));
        println!("{}", rows.last().expect("just pushed"));
    }
    println!(
        "\n| streams | completed | ttft err p50 / p99 | itl err p50 / p99 | mock ttft err p50 / p99 | mock itl err p50 / p99 | CPU / request | CPU / token | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    println!("\nload average now {}", load_average());
}

/// What one `scan-bench run` process did.
struct Run {
    report: RunReport,
    cpu: Duration,
    hwm: u64,
}

fn run_case(bin: &Path, base: &str, file: &Path, dir: &Path) -> Run {
    let out = dir.join("out");
    let log = std::fs::File::create(dir.join("run.log")).expect("create the run log");
    let cpu_before = children_cpu();
    let mut child: Child = Command::new(bin)
        .arg("run")
        .arg(file)
        .args(["--target", base, "--quiet", "--out"])
        .arg(&out)
        .stdout(log.try_clone().expect("clone the log"))
        .stderr(log)
        .spawn()
        .expect("start scan-bench run");
    let mut hwm = 0;
    loop {
        if let Some((_, peak)) = memory(child.id()) {
            hwm = hwm.max(peak);
        }
        if child.try_wait().expect("poll the run").is_some() {
            break;
        }
        // A sampling interval: the peak resident set is read while the process lives.
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu = children_cpu().saturating_sub(cpu_before);
    let report = RunReport::read(&out.join("report.json")).expect("the run's report");
    Run { report, cpu, hwm }
}

/// A table row: `| 100 | 512 | +0.31 / +0.95 ms | ... |`.
fn row(n: u32, run: &Run, probe: &ProbeResult) -> String {
    let error = |timing: Timing, injected: Duration| {
        let h = run
            .report
            .latency(timing)
            .and_then(|m| m.decode().ok())
            .filter(|h| !h.is_empty());
        let Some(h) = h else { return "-".to_owned() };
        let at = |q: f64| (h.value_at_quantile(q) as f64 - injected.as_micros() as f64) / 1000.0;
        format!("{:+.2} / {:+.2} ms", at(0.5), at(0.99))
    };
    let completed = run.report.totals.completed;
    let tokens = run
        .report
        .tokens
        .as_ref()
        .map_or(0, |t| t.output_tokens_total);
    let per = |count: u64| {
        if count == 0 {
            "-".to_owned()
        } else {
            format!("{:.0} µs", run.cpu.as_secs_f64() * 1e6 / count as f64)
        }
    };
    format!(
        "| {n} | {completed} | {} | {} | {} | {} | {} | {} | {:.0} MiB |",
        error(Timing::Ttft, TTFT),
        error(Timing::Itl, GAP),
        probe.range(&probe.ttft),
        probe.range(&probe.itl),
        per(completed),
        per(tokens),
        run.hwm as f64 / (1024.0 * 1024.0)
    )
}

impl Mock {
    /// Waits until the previous case's streams have left the target.
    fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let idle = http_get(self.addr, "/metrics").ok().is_some_and(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("mock_openai_in_flight "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .is_some_and(|v| v <= 0.0)
            });
            if idle {
                return;
            }
            // A poll interval for a condition with a deadline.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Independent timing of the target: threads that each send one `probe` stream at a time.
struct Probe {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<(u64, u64)>>>,
}

/// The probe's errors against the injected pacing, µs, sorted.
#[derive(Default)]
struct ProbeResult {
    ttft: Vec<i64>,
    itl: Vec<i64>,
}

impl ProbeResult {
    fn range(&self, sorted: &[i64]) -> String {
        if sorted.is_empty() {
            return "-".into();
        }
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[i] as f64 / 1000.0
        };
        format!("{:+.2} / {:+.2} ms", at(0.5), at(0.99))
    }
}

impl Probe {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..PROBES)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        match probe_once(addr) {
                            Ok(sample) => samples.push(sample),
                            // A failed probe must not spin.
                            Err(_) => std::thread::sleep(Duration::from_millis(100)),
                        }
                    }
                    samples
                })
            })
            .collect();
        Self { stop, threads }
    }

    fn stop(self) -> ProbeResult {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = ProbeResult::default();
        for thread in self.threads {
            for (first, done) in thread.join().unwrap_or_default() {
                result.ttft.push(first as i64 - TTFT.as_micros() as i64);
                // The same definition as `itl`: (e2e - ttft) / (tokens - 1).
                let itl = (done - first) / u64::from(TOKENS - 1);
                result.itl.push(itl as i64 - GAP.as_micros() as i64);
            }
        }
        result.ttft.sort_unstable();
        result.itl.sort_unstable();
        result
    }
}
