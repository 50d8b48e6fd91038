//! Soak: a steady streaming load on each server binary for minutes on end, with the server
//! process sampled every ten seconds, to show that nothing grows once it is warm.
//!
//! ```text
//! cargo build --release --workspace --bins          # the server binaries, once
//! cargo bench -p loadgen --bench soak                # both soaks, 10 min each (~21 min)
//! cargo bench -p loadgen --bench soak -- --minutes 1 # a quick check (~2.5 min)
//! cargo bench -p loadgen --bench soak -- --server pipeline --users 100
//! ```
//!
//! `cargo bench` builds only this package's binary (`scan-bench`); `mock-openai` and
//! `reference-pipeline` are taken from beside it (`$CARGO_TARGET_DIR/release/`, or
//! `--bin-dir`), hence the build first (`--workspace`: the default member is `loadgen` alone).
//! A stale server binary is soaked as it is.
//!
//! Two soaks, one after the other, each on 127.0.0.1 with ports picked by the servers:
//!
//! - `mock-openai`: the binary with one model (first token after 50-200 ms, 30 tokens 5 ms
//!   apart, no faults, no rate limit), under `scan-bench run` with a closed model of `--users`
//!   users and no think time, each streaming chat completions (`stream: true`) until `[DONE]`;
//! - `pipeline`: `reference-pipeline` in async mode in front of a second `mock-openai` whose
//!   `gpt-4o` and `gpt-4o-mini` answer as fast, under `scan-bench run` sending the default scan
//!   request (`POST /api/v1/scan/classify/completion`, read as an `eco2-v1` SSE stream). Both
//!   processes are sampled.
//!
//! The load ramps up over 10 s and holds for the rest of `--minutes`; the servers' latencies
//! are small so that each user makes many requests (the run must use time scale 1 against an
//! external target). Every 10 s each server process is sampled: resident set (`VmRSS` of
//! `/proc/PID/status`), open file descriptors (entries of `/proc/PID/fd`), threads, CPU time,
//! and from its `/metrics` the requests in flight (`mock_openai_in_flight`,
//! `scan_sse_connections_active`) and the requests counted (`mock_openai_requests_total`,
//! `scan_sse_requests_total`; errors are the ones not `200` / `success`). Once the run has
//! ended and the servers report nothing in flight, one more sample (`after`) is taken.
//!
//! The verdict compares the first sample after the warm-up (60 s, or half the soak when it is
//! shorter) with the last one under full load and with the one after the load: the resident set
//! may grow by at most 10 % or 16 MiB, whichever is larger, the descriptors by at most 16; after
//! the load nothing may be in flight, and the load run itself must have passed its thresholds
//! (under 1 % failed). The bench exits with status 1 when a bound is exceeded.
//!
//! Everything goes under `--out` (default `target/soak/` of the build), one directory per soak:
//! the configs and the scenario, the run's `report.json` and output, the servers' logs,
//! `samples.json` (every sample and the verdicts) and `table.txt` (what is printed).

mod support;
use support::*;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use reports::RunReport;
use serde::Serialize;

/// How often the servers are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// How long the load takes to reach its level.
const RAMP: Duration = Duration::from_secs(10);

/// The first sample compared is the first at or after this (or half the soak, if shorter).
const WARM_UP: Duration = Duration::from_secs(60);

/// Resident set growth allowed after the warm-up: the larger of these.
const RSS_GROWTH_FRACTION: f64 = 0.10;
const RSS_GROWTH_BYTES: u64 = 16 * 1024 * 1024;

/// Open descriptors allowed to appear after the warm-up.
const FD_GROWTH: i64 = 16;

/// How long streams may finish after the profile, and the servers may take to be idle.
const DRAIN: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(about = "scan-bench soak of the mock-openai and reference-pipeline binaries")]
struct Args {
    /// Length of each soak's load profile, in minutes.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    minutes: u64,
    /// Virtual users of the closed model (no think time).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    users: u32,
    /// Run only these soaks (repeatable); both by default.
    #[arg(long = "server", value_enum)]
    servers: Vec<Soak>,
    /// Where the results go; default: the target directory's `soak/`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Directory holding the `mock-openai` and `reference-pipeline` binaries; default: the
    /// one holding this build's `scan-bench`.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Soak {
    /// mock-openai alone under streaming chat completions.
    #[value(name = "mock-openai")]
    Mock,
    /// reference-pipeline (async) in front of a mock-openai, under streaming scans.
    #[value(name = "pipeline")]
    Pipeline,
}

impl Soak {
    fn name(self) -> &'static str {
        match self {
            Soak::Mock => "mock-openai",
            Soak::Pipeline => "pipeline",
        }
    }
}

/// Which server a process is, for the names of its metrics.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Mock,
    Pipeline,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Kind::Mock => "mock-openai",
            Kind::Pipeline => "reference-pipeline",
        }
    }

    fn in_flight_gauge(self) -> &'static str {
        match self {
            Kind::Mock => "mock_openai_in_flight",
            Kind::Pipeline => "scan_sse_connections_active",
        }
    }

    fn requests_counter(self) -> &'static str {
        match self {
            Kind::Mock => "mock_openai_requests_total{",
            Kind::Pipeline => "scan_sse_requests_total{",
        }
    }

    /// The label of a counted request that went well.
    fn success_label(self) -> &'static str {
        match self {
            Kind::Mock => "status=\"200\"",
            Kind::Pipeline => "status=\"success\"",
        }
    }
}

/// The mock's model for the chat soak: short streams, so that each user makes many requests.
const MOCK_CONFIG: &str = r#"seed = 1

[models.soak]
ttft = { dist = "uniform", min = "50ms", max = "200ms" }
inter_token = "5ms"
output_tokens = 30
"#;

/// The pipeline's upstream: its two models as fast as the chat soak's.
const UPSTREAM_CONFIG: &str = r#"seed = 1

[models."gpt-4o"]
ttft = { dist = "uniform", min = "50ms", max = "200ms" }
inter_token = "5ms"
output_tokens = 30

[models."gpt-4o-mini"]
ttft = { dist = "uniform", min = "50ms", max = "200ms" }
inter_token = "5ms"
output_tokens = 30
"#;

/// The chat soak's request and stream rules, as in the `openai-chat` catalog scenario.
const CHAT_REQUEST: &str = r#"[request]
method = "POST"
path = "/v1/chat/completions"

[request.headers]
content-type = "application/json"
accept = "text/event-stream"

[request.body]
model = "soak"
stream = true
messages = [{ role = "user", content = "How do I throw away a glass bottle?" }]

# No stages: a chat completion is completed by its terminal event.
[stream]
stages = []
terminal = [{ data = "[DONE]" }]
error = [{ fields = { "/error/type" = ["server_error", "rate_limit_exceeded", "invalid_request_error"] } }]
null_checks = []
"#;

fn pipeline_config(upstream: &str) -> String {
    format!("mode = \"async\"\n\n[openai]\nproviders = [{{ base_url = \"{upstream}/v1\" }}]\n")
}

/// A closed model: `users` reached over [`RAMP`], held for the rest of `total`. The request
/// is the scenario default (the pipeline's scan) unless `request` gives one.
fn scenario_toml(soak: Soak, users: u32, total: Duration, request: &str) -> String {
    format!(
        r#"name = "soak-{name}"
description = "scan-bench soak of {name}: {users} users for {secs} s"

[load]
stages = [
  {{ duration = "{ramp}s", target = {users} }},
  {{ duration = "{hold}s", target = {users} }},
]
think_time = "0s"
graceful_ramp_down = "{drain}s"
request_timeout = "60s"

[thresholds]
http_req_failed = ["rate<0.01"]
scan_failed = ["rate<0.01"]

{request}"#,
        name = soak.name(),
        secs = total.as_secs(),
        ramp = RAMP.as_secs(),
        hold = total.saturating_sub(RAMP).as_secs(),
        drain = DRAIN.as_secs(),
    )
}

fn main() {
    let args = Args::parse();
    let scan_bench = PathBuf::from(env!("CARGO_BIN_EXE_scan-bench"));
    let bin_dir = args
        .bin_dir
        .clone()
        .unwrap_or_else(|| scan_bench.parent().expect("a binary directory").to_owned());
    let out = args.out.clone().unwrap_or_else(|| {
        // CARGO_TARGET_TMPDIR is `<target>/tmp`.
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .join("soak")
    });
    let soaks: Vec<Soak> = [Soak::Mock, Soak::Pipeline]
        .into_iter()
        .filter(|s| args.servers.is_empty() || args.servers.contains(s))
        .collect();
    for kind in [Kind::Mock, Kind::Pipeline] {
        let needed = match kind {
            Kind::Mock => true,
            Kind::Pipeline => soaks.contains(&Soak::Pipeline),
        };
        let path = bin_dir.join(kind.binary());
        if needed && !path.is_file() {
            eprintln!(
                "soak: no {} (build the servers first: cargo build --release --workspace --bins)",
                path.display()
            );
            std::process::exit(2);
        }
    }
    let total = Duration::from_secs(args.minutes * 60);
    println!(
        "scan-bench soak: {} min per server, {} users, {} cores, load average {}",
        args.minutes,
        args.users,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average()
    );
    println!("binaries: {}, {}", bin_dir.display(), scan_bench.display());
    println!("results: {}\n", out.display());
    let mut passed = true;
    for soak in soaks {
        let dir = out.join(soak.name());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the output directory");
        passed &= run_soak(soak, &args, total, &bin_dir, &scan_bench, &dir);
    }
    println!("load average now {}", load_average());
    if !passed {
        println!("soak: a bound was exceeded");
        std::process::exit(1);
    }
}

/// Starts the servers of a soak, drives the load, samples, prints and writes the results;
/// true when every bound held. The servers are killed when it returns (or unwinds).
fn run_soak(
    soak: Soak,
    args: &Args,
    total: Duration,
    bin_dir: &Path,
    scan_bench: &Path,
    dir: &Path,
) -> bool {
    println!("== {} ...", soak.name());
    let mock_bin = bin_dir.join(Kind::Mock.binary());
    let (servers, request) = match soak {
        Soak::Mock => {
            let config = write(dir, "mock-openai.toml", MOCK_CONFIG);
            let mock = Server::start(Kind::Mock, "mock-openai", &mock_bin, &config, dir);
            (vec![mock], CHAT_REQUEST)
        }
        Soak::Pipeline => {
            let config = write(dir, "upstream.toml", UPSTREAM_CONFIG);
            let upstream = Server::start(Kind::Mock, "upstream", &mock_bin, &config, dir);
            let config = write(dir, "pipeline.toml", &pipeline_config(&upstream.base));
            let pipeline = Server::start(
                Kind::Pipeline,
                "reference-pipeline",
                &bin_dir.join(Kind::Pipeline.binary()),
                &config,
                dir,
            );
            // The pipeline first: the load's target and the table that matters most.
            (vec![pipeline, upstream], "")
        }
    };
    for s in &servers {
        println!("   {} at {} (pid {})", s.name, s.base, s.child.id());
    }
    let target = &servers[0];
    let scenario = write(
        dir,
        "scenario.toml",
        &scenario_toml(soak, args.users, total, request),
    );

    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
    let take = |samples: &mut Vec<Vec<Sample>>, t: f64, phase: Phase| {
        for (s, list) in servers.iter().zip(samples.iter_mut()) {
            list.push(s.sample(t, phase));
        }
    };
    let start = Instant::now();
    take(&mut samples, 0.0, Phase::Before);
    let mut command = Command::new(scan_bench);
    command
        .arg("run")
        .arg(&scenario)
        .args(["--target", &target.base, "--quiet", "--out"])
        .arg(dir)
        .stdout(file(dir, "run-stdout.txt"))
        .stderr(file(dir, "run-stderr.txt"));
    if matches!(soak, Soak::Mock) {
        // The mock's metrics are not the Eco² dashboard's: no server view.
        command.args(["--target-metrics", "off"]);
    }
    let mut run = Killed(command.spawn().expect("start scan-bench run"));
    println!(
        "   load: {} users for {} s (pid {}); a sample every {} s",
        args.users,
        total.as_secs(),
        run.0.id(),
        SAMPLE_EVERY.as_secs()
    );
    let mut next = start + SAMPLE_EVERY;
    let status = loop {
        if let Some(status) = run.0.try_wait().expect("wait for scan-bench run") {
            break status;
        }
        let now = Instant::now();
        if now >= next {
            let t = start.elapsed();
            let phase = if t <= total {
                Phase::Load
            } else {
                Phase::Drain
            };
            take(&mut samples, t.as_secs_f64(), phase);
            print_progress(&servers, &samples);
            next += SAMPLE_EVERY;
        }
        // A short poll, so that the end of the run is seen soon after it comes.
        std::thread::sleep(
            next.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200)),
        );
    };
    let wall = start.elapsed();
    drop(run);
    let idle = servers.iter().all(|s| s.wait_idle(DRAIN));
    // Let the servers close what the load's exit left them.
    std::thread::sleep(Duration::from_secs(2));
    take(&mut samples, start.elapsed().as_secs_f64(), Phase::After);

    let report = RunReport::read(&dir.join("report.json"));
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: {} users, {} s profile, run {:.1} s, {status}",
        soak.name(),
        args.users,
        total.as_secs(),
        wall.as_secs_f64()
    );
    let run_ok = match &report {
        Ok(r) => {
            let t = &r.totals;
            let _ = writeln!(
                text,
                "load (scan-bench report): {} attempted, {} completed ({:.1}/s), {} partial, {} interrupted, failed {:?}",
                t.attempted,
                t.completed,
                t.completed as f64 / total.as_secs_f64(),
                t.partial,
                t.interrupted,
                t.failed
            );
            status.success() && t.completed > 0
        }
        Err(e) => {
            let _ = writeln!(text, "load: no report ({e}); see run-stderr.txt");
            false
        }
    };
    if !run_ok {
        let _ = writeln!(text, "FAIL: the load run did not pass ({status})");
    }
    if !idle {
        let _ = writeln!(
            text,
            "FAIL: requests still in flight {} s after the load",
            DRAIN.as_secs()
        );
    }
    let warm_at = WARM_UP.min(total / 2).as_secs_f64();
    let mut results = Vec::new();
    let mut passed = run_ok && idle;
    for (server, list) in servers.iter().zip(&samples) {
        text.push('\n');
        text.push_str(&table(server, list));
        let verdict = verdict(list, warm_at, total.as_secs_f64());
        text.push_str(&verdict.text);
        passed &= verdict.ok;
        results.push(ServerResult {
            name: server.name,
            binary: server.kind.binary(),
            pid: server.child.id(),
            base_url: server.base.clone(),
            samples: list.clone(),
            verdict,
        });
    }
    println!("\n{text}");
    println!("   files: {}\n", dir.display());
    std::fs::write(dir.join("table.txt"), &text).expect("write table.txt");
    let json = SoakResult {
        soak: soak.name(),
        minutes: args.minutes,
        users: args.users,
        sample_every_s: SAMPLE_EVERY.as_secs(),
        warm_at_s: warm_at,
        run_exit: status.code(),
        run_ok,
        passed,
        servers: results,
    };
    let json = serde_json::to_string_pretty(&json).expect("serialise the samples");
    std::fs::write(dir.join("samples.json"), json).expect("write samples.json");
    passed
}

/// A one-line progress report per sample, so a long soak shows it is alive.
fn print_progress(servers: &[Server], samples: &[Vec<Sample>]) {
    let line: Vec<String> = servers
        .iter()
        .zip(samples)
        .filter_map(|(s, list)| {
            let x = list.last()?;
            Some(format!(
                "{} {:.1} MiB {} fds {} in flight {} requests",
                s.name,
                mib(x.rss_bytes),
                x.fds,
                fmt_opt(x.in_flight),
                fmt_opt(x.requests),
            ))
        })
        .collect();
    let t = samples.first().and_then(|l| l.last()).map_or(0.0, |x| x.t);
    println!("   {t:>5.0} s  {}", line.join("; "));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    /// Before the load started.
    Before,
    /// Within the load profile.
    Load,
    /// After the profile, while the last streams finish.
    Drain,
    /// After the load, once nothing was in flight.
    After,
}

/// One look at a server process.
#[derive(Clone, Debug, Serialize)]
struct Sample {
    /// Seconds since the load was started.
    t: f64,
    phase: Phase,
    rss_bytes: u64,
    fds: u64,
    threads: u64,
    /// User + system CPU seconds since the process started.
    cpu_s: f64,
    /// From `/metrics`; `None` when it could not be read.
    in_flight: Option<f64>,
    requests: Option<f64>,
    errors: Option<f64>,
}

#[derive(Serialize)]
struct SoakResult {
    soak: &'static str,
    minutes: u64,
    users: u32,
    sample_every_s: u64,
    warm_at_s: f64,
    run_exit: Option<i32>,
    run_ok: bool,
    passed: bool,
    servers: Vec<ServerResult>,
}

#[derive(Serialize)]
struct ServerResult {
    name: &'static str,
    binary: &'static str,
    pid: u32,
    base_url: String,
    samples: Vec<Sample>,
    verdict: Verdict,
}

#[derive(Serialize)]
struct Verdict {
    ok: bool,
    /// The samples compared: first after the warm-up, last under full load, after the load.
    warm_t: Option<f64>,
    last_t: Option<f64>,
    rss_bound_bytes: u64,
    rss_growth_bytes: Option<i64>,
    rss_growth_after_bytes: Option<i64>,
    fd_growth: Option<i64>,
    fd_growth_after: Option<i64>,
    in_flight_after: Option<f64>,
    /// Requests per second between the warm and the last sample.
    rate: Option<f64>,
    #[serde(skip)]
    text: String,
}

/// The bounds, judged on a server's samples.
fn verdict(samples: &[Sample], warm_at: f64, total: f64) -> Verdict {
    let warm = samples
        .iter()
        .find(|s| s.phase == Phase::Load && s.t >= warm_at);
    // The last sample a few seconds before the profile ends: still at full load.
    let last = samples
        .iter()
        .rev()
        .find(|s| s.phase == Phase::Load && s.t <= total - 5.0);
    let after = samples.iter().find(|s| s.phase == Phase::After);
    let mut text = String::new();
    let (Some(warm), Some(last), Some(after)) = (warm, last, after) else {
        let _ = writeln!(text, "FAIL: too few samples to judge");
        return Verdict {
            ok: false,
            warm_t: None,
            last_t: None,
            rss_bound_bytes: 0,
            rss_growth_bytes: None,
            rss_growth_after_bytes: None,
            fd_growth: None,
            fd_growth_after: None,
            in_flight_after: None,
            rate: None,
            text,
        };
    };
    let bound = RSS_GROWTH_BYTES.max((warm.rss_bytes as f64 * RSS_GROWTH_FRACTION) as u64);
    let rss = |s: &Sample| s.rss_bytes as i64 - warm.rss_bytes as i64;
    let fds = |s: &Sample| s.fds as i64 - warm.fds as i64;
    let rss_ok = rss(last) <= bound as i64 && rss(after) <= bound as i64;
    let fd_ok = fds(last) <= FD_GROWTH && fds(after) <= FD_GROWTH;
    let idle_ok = after.in_flight == Some(0.0);
    let ok_word = |ok: bool| if ok { "ok" } else { "EXCEEDED" };
    let rate = match (warm.requests, last.requests) {
        (Some(a), Some(b)) if last.t > warm.t => Some((b - a) / (last.t - warm.t)),
        _ => None,
    };
    let _ = writeln!(
        text,
        "verdict: RSS {:.1} MiB at {:.0} s -> {:.1} MiB at {:.0} s ({:+.1} MiB, {:+.1} %), {:.1} MiB after (bound +{:.1} MiB): {}",
        mib(warm.rss_bytes),
        warm.t,
        mib(last.rss_bytes),
        last.t,
        rss(last) as f64 / 1_048_576.0,
        rss(last) as f64 * 100.0 / warm.rss_bytes.max(1) as f64,
        mib(after.rss_bytes),
        mib(bound),
        ok_word(rss_ok)
    );
    let _ = writeln!(
        text,
        "         fds {} -> {} ({:+}), {} after (bound +{FD_GROWTH}): {}; in flight after the load {}: {}",
        warm.fds,
        last.fds,
        fds(last),
        after.fds,
        ok_word(fd_ok),
        fmt_opt(after.in_flight),
        ok_word(idle_ok)
    );
    if let Some(rate) = rate {
        let _ = writeln!(
            text,
            "         {:.1} requests/s from {:.0} s to {:.0} s; {} requests, {} errors in all",
            rate,
            warm.t,
            last.t,
            fmt_opt(after.requests),
            fmt_opt(after.errors)
        );
    }
    Verdict {
        ok: rss_ok && fd_ok && idle_ok,
        warm_t: Some(warm.t),
        last_t: Some(last.t),
        rss_bound_bytes: bound,
        rss_growth_bytes: Some(rss(last)),
        rss_growth_after_bytes: Some(rss(after)),
        fd_growth: Some(fds(last)),
        fd_growth_after: Some(fds(after)),
        in_flight_after: after.in_flight,
        rate,
        text,
    }
}

/// The samples of a server as a table.
fn table(server: &Server, samples: &[Sample]) -> String {
    let mut text = format!(
        "{} (pid {}, {})\n{:>6} {:<6} {:>8} {:>5} {:>7} {:>6} {:>9} {:>10} {:>8} {:>7}\n",
        server.name,
        server.child.id(),
        server.base,
        "t s",
        "phase",
        "RSS MiB",
        "fds",
        "threads",
        "CPU %",
        "in-flight",
        "requests",
        "req/s",
        "errors"
    );
    let mut previous: Option<&Sample> = None;
    for s in samples {
        let interval = previous.map(|p| s.t - p.t).filter(|dt| *dt > 0.0);
        let cpu = match (previous, interval) {
            (Some(p), Some(dt)) => format!("{:.0}", (s.cpu_s - p.cpu_s) * 100.0 / dt),
            _ => "-".into(),
        };
        let rate = match (previous.and_then(|p| p.requests), s.requests, interval) {
            (Some(a), Some(b), Some(dt)) => format!("{:.1}", (b - a) / dt),
            _ => "-".into(),
        };
        let _ = writeln!(
            text,
            "{:>6.0} {:<6} {:>8.1} {:>5} {:>7} {:>6} {:>9} {:>10} {:>8} {:>7}",
            s.t,
            format!("{:?}", s.phase).to_lowercase(),
            mib(s.rss_bytes),
            s.fds,
            s.threads,
            cpu,
            fmt_opt(s.in_flight),
            fmt_opt(s.requests),
            rate,
            fmt_opt(s.errors)
        );
        previous = Some(s);
    }
    text
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("?".into(), |v| format!("{v:.0}"))
}

/// A server binary in its own process, killed when dropped.
struct Server {
    kind: Kind,
    name: &'static str,
    child: Child,
    /// Kept open: a server writing to a closed stdout would get an error.
    _stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
    /// `http://ADDR`.
    base: String,
}

impl Server {
    /// Starts `bin --config CONFIG --listen 127.0.0.1:0` and reads the address it prints
    /// (`NAME listening on http://ADDR`).
    fn start(kind: Kind, name: &'static str, bin: &Path, config: &Path, dir: &Path) -> Self {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            // Warnings only: a log line per request would fill the disk over a long soak.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(file(dir, &format!("{name}-stderr.txt")))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line).unwrap_or(0);
        if read == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} exited before listening; see {}",
                dir.join(format!("{name}-stderr.txt")).display()
            );
        }
        let url = line.split_whitespace().last().unwrap_or_default();
        let base = url.trim_end_matches('/').trim_end_matches("/v1").to_owned();
        let addr = base
            .trim_start_matches("http://")
            .parse()
            .unwrap_or_else(|_| panic!("an address in {line:?}"));
        Self {
            kind,
            name,
            child,
            _stdout: stdout,
            addr,
            base,
        }
    }

    fn sample(&self, t: f64, phase: Phase) -> Sample {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
        let metrics = http_get(self.addr, "/metrics").ok();
        let (in_flight, requests, errors) = match &metrics {
            Some(text) => self.read_metrics(text),
            None => (None, None, None),
        };
        Sample {
            t,
            phase,
            rss_bytes: field("VmRSS:") * 1024,
            fds,
            threads: field("Threads:"),
            cpu_s: process_cpu(pid).as_secs_f64(),
            in_flight,
            requests,
            errors,
        }
    }

    /// In flight, requests counted and those not successful, from the `/metrics` text.
    fn read_metrics(&self, text: &str) -> (Option<f64>, Option<f64>, Option<f64>) {
        let value = |line: &str| line.rsplit(' ').next()?.trim().parse::<f64>().ok();
        let gauge = format!("{} ", self.kind.in_flight_gauge());
        let in_flight = text.lines().find(|l| l.starts_with(&gauge)).and_then(value);
        let (mut requests, mut errors) = (0.0, 0.0);
        for line in text
            .lines()
            .filter(|l| l.starts_with(self.kind.requests_counter()))
        {
            let n = value(line).unwrap_or(0.0);
            requests += n;
            if !line.contains(self.kind.success_label()) {
                errors += n;
            }
        }
        (in_flight, Some(requests), Some(errors))
    }

    /// Waits until the server reports nothing in flight; false if it still does at `timeout`.
    fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let in_flight = http_get(self.addr, "/metrics")
                .ok()
                .and_then(|text| self.read_metrics(&text).0);
            if in_flight == Some(0.0) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            // A poll interval for a condition with a deadline.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped (also when a panic unwinds past it).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn file(dir: &Path, name: &str) -> std::fs::File {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()))
}
