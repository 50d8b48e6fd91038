//! The load generator at scale: `scan-bench run` against a target whose delays are known, and
//! how far what it measured is from what was injected, with its CPU and memory.
//!
//! ```text
//! cargo bench -p loadgen --bench scale                    # every case, full size (~2-3 min)
//! cargo bench -p loadgen --bench scale -- --quick         # small versions, a smoke check
//! cargo bench -p loadgen --bench scale -- --case closed-1000 --case open-2000
//! ```
//!
//! The target is `scan-bench serve mock-openai` in its own process, streaming chat completions
//! with fixed delays: the first chunk 400 ms after the request, one token every
//! `600 ms / (tokens - 1)` after it, so the last token and `data: [DONE]` (sent in the same
//! write) land at 1,000 ms. Each case is one `scan-bench run FILE --target URL --quiet` process
//! reading the chunks through a `[stream]` mapping (the first chunk is `first_stage`,
//! `[DONE]` ends the `chain`); its `report.json` gives the measured figures. Load and target
//! run in separate processes, each with the open-file limit raised as far as the machine
//! allows (one process holding both ends of 10,000 streams would pass a 20,000 hard limit), and
//! each with its own CPU accounting:
//!
//! - loadgen CPU: user + system time of the run process over its whole life (the children's
//!   times of this process, read from `/proc/self/stat` around reaping it), per completed chain;
//! - loadgen memory: its peak resident set (`VmHWM`, polled), and its resident set while the
//!   most streams were open;
//! - target CPU: `/proc/<pid>/stat` of the mock over the same run, so a saturated target shows;
//! - the target's own accuracy: a probe (blocking sockets on plain threads, one request at a
//!   time each) asks a model with the same delays during every case and times the same two
//!   events; what the probe sees late is the target's (and the machine's) share of the error;
//! - the open model's achieved rate: the target's request counter, scraped four times a second,
//!   next to the target rate (the report's own per-second counts are by intended start, so they
//!   cannot show a late dispatcher; its `scheduling_lag` can).
//!
//! Latencies in the report are HDR histograms with 3 significant digits: near 1 s a recorded
//! value stands for a 512 µs wide bucket, near 400 ms for 256 µs. Errors are printed as the
//! range of the percentile's bucket minus the injected delay.
//!
//! Every case writes `scenario.toml`, `report.json` and the run's output under
//! `target/tmp/scale/<case>/`, so one case can be rerun or inspected by hand.

mod support;
use support::*;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use reports::RunReport;
use scenarios::Timing;

/// The injected delays of the timed model.
const FIRST: Duration = Duration::from_millis(400);
const CHAIN: Duration = Duration::from_millis(1_000);

/// The request and `[stream]` tables that read OpenAI's chunks as stages.
const CHUNK_STAGES: &str = include_str!("../tests/data/openai-chunk-stages.toml");

/// Probe threads, each with one request at a time.
const PROBES: usize = 4;

/// How often the run process and the target are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

#[derive(Parser)]
#[command(about = "scan-bench load generator at scale")]
struct Args {
    /// Small versions of every case (a smoke check, under a minute).
    #[arg(long)]
    quick: bool,
    /// Run only these cases (repeatable); all by default.
    #[arg(long = "case", value_enum)]
    cases: Vec<CaseName>,
    /// Tokens per timed stream (at least 2); the inter-token delay is 600 ms / (tokens - 1).
    #[arg(long, default_value_t = 61, value_parser = clap::value_parser!(u32).range(2..))]
    tokens: u32,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum CaseName {
    /// Closed model, 1,000 virtual users, no think time.
    #[value(name = "closed-1000")]
    Closed1000,
    /// Closed model, 5,000 virtual users, no think time.
    #[value(name = "closed-5000")]
    Closed5000,
    /// Open model, 2,000 arrivals per second.
    #[value(name = "open-2000")]
    Open2000,
    /// 10,000 long streams held open at once.
    #[value(name = "streams-10000")]
    Streams10000,
}

/// How a case loads the target.
#[derive(Debug, Clone, Copy)]
enum Load {
    /// `vus` users, ramped up linearly over `ramp` (so their iterations stay spread over the
    /// second instead of arriving as one wave), then held for `hold`.
    Closed {
        vus: u32,
        ramp: Duration,
        hold: Duration,
    },
    /// `rate` arrivals per second for `duration`, with `vus` users to take them.
    Open {
        rate: u32,
        duration: Duration,
        vus: u32,
    },
}

/// One benchmark case.
#[derive(Debug, Clone)]
struct Case {
    name: CaseName,
    label: String,
    load: Load,
    model: &'static str,
    /// Injected first-chunk and `[DONE]` delays of `model`.
    injected: (Duration, Duration),
    /// After the profile, how long open streams may finish.
    grace: Duration,
}

impl Case {
    /// How long the load takes to reach its level.
    fn ramp(&self) -> Duration {
        match self.load {
            Load::Closed { ramp, .. } => ramp,
            Load::Open { .. } => Duration::ZERO,
        }
    }

    fn users(&self) -> u32 {
        match self.load {
            Load::Closed { vus, .. } | Load::Open { vus, .. } => vus,
        }
    }
}

/// Seconds a held stream lasts in full and quick mode: longer than ramp + hold, so each user
/// holds one stream for the whole profile.
fn hold_stream_secs(quick: bool) -> u32 {
    if quick { 6 } else { 27 }
}

fn cases(quick: bool) -> Vec<Case> {
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    let timed = (FIRST, CHAIN);
    let held = (s(1), s(u64::from(hold_stream_secs(quick))));
    let (closed_small, closed_large, rate, streams) = if quick {
        (100, 500, 200, 1_000)
    } else {
        (1_000, 5_000, 2_000, 10_000)
    };
    let hold = if quick { s(3) } else { s(20) };
    vec![
        Case {
            name: CaseName::Closed1000,
            label: format!("closed {closed_small} VUs"),
            load: Load::Closed {
                vus: closed_small,
                ramp: ms(1_000),
                hold,
            },
            model: "timed",
            injected: timed,
            grace: s(5),
        },
        Case {
            name: CaseName::Closed5000,
            label: format!("closed {closed_large} VUs"),
            load: Load::Closed {
                vus: closed_large,
                ramp: ms(2_000),
                hold,
            },
            model: "timed",
            injected: timed,
            grace: s(5),
        },
        Case {
            name: CaseName::Open2000,
            label: format!("open {rate}/s"),
            load: Load::Open {
                rate,
                duration: hold,
                // About twice the streams open at once (rate x 1 s).
                vus: rate * 3 / 2 + 100,
            },
            model: "timed",
            injected: timed,
            grace: s(5),
        },
        Case {
            name: CaseName::Streams10000,
            label: format!("{streams} streams held"),
            load: Load::Closed {
                vus: streams,
                ramp: if quick { s(1) } else { s(5) },
                hold: if quick { s(3) } else { s(20) },
            },
            model: "held",
            injected: held,
            grace: s(40),
        },
    ]
}

/// The target's models: `timed` for the cases, `probe` with the same delays for the probe
/// (so its requests do not count in the cases' figures), `held` for long streams that cost
/// little (one token a second).
fn mock_config(tokens: u32, quick: bool) -> String {
    let inter_token_us = (CHAIN - FIRST).as_micros() / u128::from(tokens - 1);
    let timed = format!(
        "ttft = \"{}ms\"\ninter_token = \"{inter_token_us}us\"\noutput_tokens = {tokens}\n",
        FIRST.as_millis()
    );
    format!(
        "seed = 1\n\n[models.timed]\n{timed}\n[models.probe]\n{timed}\n[models.held]\nttft = \"1s\"\ninter_token = \"1s\"\noutput_tokens = {}\n",
        hold_stream_secs(quick)
    )
}

/// The scenario file of a case, reading OpenAI's chunks as stages.
fn scenario_toml(case: &Case) -> String {
    let mut load = String::from("[load]\n");
    if let Load::Closed { vus, ramp, hold } = case.load {
        let _ = writeln!(
            load,
            "stages = [{{ duration = \"{}ms\", target = {vus} }}, {{ duration = \"{}ms\", target = {vus} }}]",
            ramp.as_millis(),
            hold.as_millis()
        );
    }
    let _ = write!(
        load,
        "think_time = \"0s\"\ngraceful_ramp_down = \"{}s\"\nrequest_timeout = \"120s\"\nidle_timeout = \"10s\"\n",
        case.grace.as_secs()
    );
    if let Load::Open {
        rate,
        duration,
        vus,
    } = case.load
    {
        let _ = write!(
            load,
            "\n[load.arrival]\nstart_rate = {rate}\nstages = [{{ duration = \"{}ms\", target = {rate} }}]\npre_allocated_vus = {vus}\nmax_vus = {vus}\n",
            duration.as_millis()
        );
    }
    format!(
        r#"name = "scale-{name}"
description = "scan-bench scale benchmark: {label}"

{load}
{CHUNK_STAGES}
[request.body]
model = "{model}"
stream = true
messages = [{{ role = "user", content = "hello" }}]
"#,
        name = case.name.to_possible_value().unwrap().get_name(),
        label = case.label,
        model = case.model,
    )
}

fn main() {
    let args = Args::parse();
    // Children inherit the raised limit.
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_scan-bench"));
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scale");
    std::fs::create_dir_all(&root).expect("create the output directory");
    let config = root.join("mock.toml");
    std::fs::write(&config, mock_config(args.tokens, args.quick)).expect("write the mock config");

    let selected: Vec<Case> = cases(args.quick)
        .into_iter()
        .filter(|c| args.cases.is_empty() || args.cases.contains(&c.name))
        .collect();
    println!(
        "scan-bench scale benchmark{}: {} cores, open-file limit {limit}, load average {}",
        if args.quick { " (quick)" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average()
    );
    println!(
        "target: {} serve mock-openai, first chunk at {} ms, {} tokens, [DONE] at {} ms",
        bin.display(),
        FIRST.as_millis(),
        args.tokens,
        CHAIN.as_millis()
    );
    let mock = Mock::start(&bin, &config);
    println!("target at {} (pid {})\n", mock.base, mock.child.id());
    let mut results = Vec::new();
    for case in &selected {
        mock.wait_idle(Duration::from_secs(60));
        let dir = root.join(case.name.to_possible_value().unwrap().get_name());
        println!("== {} ...", case.label);
        let result = run_case(&bin, &mock, case, &dir);
        print_case(case, &result, &dir);
        results.push((case.clone(), result));
    }
    print_summary(&results);
}

/// What one case measured.
#[derive(Debug, Default)]
struct CaseResult {
    report: Option<RunReport>,
    /// Why there is no report, when there is none.
    failure: Option<String>,
    wall: Duration,
    loadgen_cpu: Duration,
    /// Peak resident set of the run process, bytes.
    loadgen_hwm: u64,
    /// Its resident set when the target had the most requests in flight, bytes.
    rss_at_peak: u64,
    target_cpu: Duration,
    peak_in_flight: u64,
    /// `(seconds since spawn, requests counted by the target for the case's model)`.
    target_requests: Vec<(f64, f64)>,
    /// `(seconds since spawn, loadgen CPU so far)`.
    loadgen_cpu_samples: Vec<(f64, Duration)>,
    probe: ProbeResult,
    load_before: String,
    load_after: String,
}

fn run_case(bin: &Path, mock: &Mock, case: &Case, dir: &Path) -> CaseResult {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the case directory");
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario_toml(case)).expect("write the scenario");
    let mut result = CaseResult {
        load_before: load_average(),
        ..CaseResult::default()
    };
    let probe = Probe::start(mock.addr);
    let children_before = children_cpu();
    let target_before = process_cpu(mock.child.id());
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("run")
        .arg(&file)
        .args(["--target", &mock.base, "--quiet", "--out"])
        .arg(dir)
        .stdout(std::fs::File::create(dir.join("stdout.txt")).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join("stderr.txt")).expect("stderr file"))
        .spawn()
        .expect("start scan-bench run");
    let pid = child.id();
    let mut next = start;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for scan-bench run") {
            break status;
        }
        let memory = memory(pid);
        if let Some(hwm) = memory.map(|m| m.1) {
            result.loadgen_hwm = result.loadgen_hwm.max(hwm);
        }
        if let Some(metrics) = mock.metrics() {
            let in_flight = metrics.in_flight.max(0.0) as u64;
            if in_flight > result.peak_in_flight {
                result.peak_in_flight = in_flight;
                result.rss_at_peak = memory.map_or(0, |m| m.0);
            }
            let t = start.elapsed().as_secs_f64();
            result
                .target_requests
                .push((t, metrics.requests_of(case.model)));
            result.loadgen_cpu_samples.push((t, process_cpu(pid)));
        }
        next += SAMPLE_EVERY;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    };
    result.wall = start.elapsed();
    // The reaped child's times are now in this process's children's times.
    result.loadgen_cpu = children_cpu().saturating_sub(children_before);
    result.target_cpu = process_cpu(mock.child.id()).saturating_sub(target_before);
    result.probe = probe.stop();
    result.load_after = load_average();
    match RunReport::read(&dir.join("report.json")) {
        Ok(report) => result.report = Some(report),
        Err(e) => {
            let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
            result.failure = Some(format!("{status}, no report ({e}): {}", stderr.trim()));
        }
    }
    result
}

/// `[lo, hi]` of the bucket of a percentile, minus `injected`, in ms.
fn error_range(
    report: &RunReport,
    metric: Timing,
    q: f64,
    injected: Duration,
) -> Option<(f64, f64)> {
    let h = report.latency(metric)?.decode().ok()?;
    if h.is_empty() {
        return None;
    }
    let v = h.value_at_quantile(q);
    let inj = injected.as_micros() as f64;
    Some((
        (h.lowest_equivalent(v) as f64 - inj) / 1000.0,
        (h.highest_equivalent(v) as f64 - inj) / 1000.0,
    ))
}

fn fmt_range(range: Option<(f64, f64)>) -> String {
    range.map_or("-".into(), |(lo, hi)| format!("{lo:+.2}..{hi:+.2}"))
}

fn quantiles(report: &RunReport, metric: Timing) -> Option<Histogram<u64>> {
    report.latency(metric)?.decode().ok()
}

fn print_case(case: &Case, r: &CaseResult, dir: &Path) {
    let Some(report) = &r.report else {
        println!(
            "   FAILED: {}\n",
            r.failure.as_deref().unwrap_or("no report")
        );
        return;
    };
    let t = &report.totals;
    let (first, chain) = case.injected;
    println!(
        "   run {:.1} s (profile + drain), load average {} -> {}",
        r.wall.as_secs_f64(),
        r.load_before,
        r.load_after
    );
    println!(
        "   requests: {} attempted, {} completed, {} partial, {} interrupted, {} dropped, failed {:?}",
        t.attempted, t.completed, t.partial, t.interrupted, t.dropped, t.failed
    );
    for (metric, injected) in [(Timing::FirstStage, first), (Timing::Chain, chain)] {
        if let Some(h) = quantiles(report, metric) {
            println!(
                "   {metric:<11} injected {:>6} ms: error p50 {} ms, p99 {} ms, p99.9 {} ms, max {:+.2} ms ({} values)",
                injected.as_millis(),
                fmt_range(error_range(report, metric, 0.5, injected)),
                fmt_range(error_range(report, metric, 0.99, injected)),
                fmt_range(error_range(report, metric, 0.999, injected)),
                (h.max() as f64 - injected.as_micros() as f64) / 1000.0,
                h.len()
            );
        }
    }
    if let Some(p) = r.probe.summary() {
        println!("   {p}");
    }
    let cpu = r.loadgen_cpu.as_secs_f64();
    println!(
        "   loadgen: CPU {cpu:.2} s ({:.0} % of a core over the run) = {:.1} µs per completed chain ({} steady); peak RSS {:.1} MiB",
        cpu * 100.0 / r.wall.as_secs_f64(),
        cpu * 1e6 / t.completed.max(1) as f64,
        steady_cpu_per_chain(r, case.ramp()).map_or("-".into(), |v| format!("{v:.1} µs")),
        mib(r.loadgen_hwm),
    );
    println!(
        "   target:  CPU {:.2} s ({:.0} % of a core); peak requests in flight {}",
        r.target_cpu.as_secs_f64(),
        r.target_cpu.as_secs_f64() * 100.0 / r.wall.as_secs_f64(),
        r.peak_in_flight
    );
    if case.name == CaseName::Streams10000 {
        let open = report
            .timeseries
            .iter()
            .map(|s| s.open_streams)
            .max()
            .unwrap_or(0);
        println!(
            "   held: {} streams open at the target at once ({open} open in the report's samples); loadgen RSS then {:.1} MiB = {:.1} KiB per VU (peak {:.1} MiB = {:.1} KiB per VU)",
            r.peak_in_flight,
            mib(r.rss_at_peak),
            r.rss_at_peak as f64 / 1024.0 / f64::from(case.users()),
            mib(r.loadgen_hwm),
            r.loadgen_hwm as f64 / 1024.0 / f64::from(case.users()),
        );
    }
    if let Load::Open { rate, duration, .. } = case.load {
        let rate = f64::from(rate);
        let expected = rate * duration.as_secs_f64();
        println!(
            "   open: {} arrivals of {expected:.0} planned ({} started + {} dropped)",
            t.attempted + t.dropped,
            t.attempted,
            t.dropped
        );
        if let Some(lag) = quantiles(report, Timing::SchedulingLag) {
            println!(
                "   scheduling lag (actual - intended start): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                lag.value_at_quantile(0.5) as f64 / 1000.0,
                lag.value_at_quantile(0.99) as f64 / 1000.0,
                lag.max() as f64 / 1000.0
            );
        }
        if let Some(achieved) = achieved_rate(&r.target_requests, duration) {
            let per_second = if achieved.min.is_finite() {
                format!("; per second {:.0}..{:.0}/s", achieved.min, achieved.max)
            } else {
                String::new()
            };
            println!(
                "   rate seen by the target: {:.1}/s over the middle {:.0} s ({:+.2} % of {rate}/s){per_second}",
                achieved.mean,
                achieved.window,
                (achieved.mean / rate - 1.0) * 100.0,
            );
        }
    }
    println!("   files: {}\n", dir.display());
}

/// Loadgen CPU per request while the load was steady: from two seconds after the target saw
/// the ramp end to a second before it saw the last request, so user launch, ramp and report
/// writing are left out. In the steady state as many chains end as start, so the target's
/// request count stands for completed chains.
fn steady_cpu_per_chain(r: &CaseResult, ramp: Duration) -> Option<f64> {
    let first = first_request(&r.target_requests)?;
    let total = r.target_requests.last()?.1;
    let last = r.target_requests.iter().find(|s| s.1 >= total)?.0;
    let (from, to) = (first + ramp.as_secs_f64() + 2.0, last - 1.0);
    let at = |t: f64| {
        let i = r.target_requests.iter().position(|s| s.0 >= t)?;
        Some((r.target_requests[i].1, r.loadgen_cpu_samples.get(i)?.1))
    };
    let ((n0, cpu0), (n1, cpu1)) = (at(from)?, at(to)?);
    (to - from >= 3.0 && n1 > n0).then(|| (cpu1 - cpu0).as_secs_f64() * 1e6 / (n1 - n0))
}

/// The request rate the target counted, away from the start and end of the profile.
struct Achieved {
    mean: f64,
    min: f64,
    max: f64,
    window: f64,
}

/// When the target saw the case's first request (its counter runs on across cases).
fn first_request(samples: &[(f64, f64)]) -> Option<f64> {
    let before = samples.first()?.1;
    Some(samples.iter().find(|s| s.1 > before)?.0)
}

fn achieved_rate(samples: &[(f64, f64)], duration: Duration) -> Option<Achieved> {
    let first = first_request(samples)?;
    // Skip a second at each end: the first arrivals start within the first sample interval.
    let (from, to) = (first + 1.0, first + duration.as_secs_f64() - 1.0);
    let window: Vec<_> = samples
        .iter()
        .filter(|s| s.0 >= from && s.0 <= to)
        .collect();
    let (a, b) = (window.first()?, window.last()?);
    let span = b.0 - a.0;
    if span <= 0.0 {
        return None;
    }
    // Per second: samples four apart.
    let step = (1.0 / SAMPLE_EVERY.as_secs_f64()).round() as usize;
    let per_second: Vec<f64> = window
        .windows(step + 1)
        .step_by(step)
        .map(|w| (w[step].1 - w[0].1) / (w[step].0 - w[0].0))
        .collect();
    Some(Achieved {
        mean: (b.1 - a.1) / span,
        min: per_second.iter().copied().fold(f64::INFINITY, f64::min),
        max: per_second.iter().copied().fold(0.0, f64::max),
        window: span,
    })
}

fn print_summary(results: &[(Case, CaseResult)]) {
    println!("== summary (errors: measured - injected, ms, as the percentile's HDR bucket range)");
    println!(
        "{:<22} {:>9} {:>15} {:>15} {:>15} {:>15} {:>11} {:>9} {:>9} {:>8} {:>11}",
        "case",
        "completed",
        "first p50",
        "first p99",
        "chain p50",
        "chain p99",
        "target p99",
        "µs/chain",
        "(steady)",
        "RSS MiB",
        "target CPU"
    );
    for (case, r) in results {
        let Some(report) = &r.report else {
            println!("{:<22} failed: no report", case.label);
            continue;
        };
        let (first, chain) = case.injected;
        let completed = report.totals.completed;
        println!(
            "{:<22} {:>9} {:>15} {:>15} {:>15} {:>15} {:>11} {:>9.1} {:>9} {:>8.1} {:>10.0}%",
            case.label,
            completed,
            fmt_range(error_range(report, Timing::FirstStage, 0.5, first)),
            fmt_range(error_range(report, Timing::FirstStage, 0.99, first)),
            fmt_range(error_range(report, Timing::Chain, 0.5, chain)),
            fmt_range(error_range(report, Timing::Chain, 0.99, chain)),
            r.probe
                .chain_p99_ms()
                .map_or("-".into(), |v| format!("{v:+.2}")),
            r.loadgen_cpu.as_secs_f64() * 1e6 / completed.max(1) as f64,
            steady_cpu_per_chain(r, case.ramp()).map_or("-".into(), |v| format!("{v:.1}")),
            mib(r.loadgen_hwm),
            r.target_cpu.as_secs_f64() * 100.0 / r.wall.as_secs_f64(),
        );
    }
    println!(
        "goals: chain/first p99 error < 1 ms at 1,000 VUs, < 5 ms at 5,000; <= 60 µs/chain at 1,000 VUs; \
         10,000 streams with RSS < 1 GiB (< 100 KB per VU); 2,000/s within 1 %, 0 dropped"
    );
    println!("load average now {}", load_average());
}

/// What the target's `/metrics` says.
struct MockMetrics {
    in_flight: f64,
    text: String,
}

impl MockMetrics {
    /// Requests counted for `model`, every route and status.
    fn requests_of(&self, model: &str) -> f64 {
        let label = format!("model=\"{model}\"");
        self.text
            .lines()
            .filter(|l| l.starts_with("mock_openai_requests_total{") && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Mock {
    fn metrics(&self) -> Option<MockMetrics> {
        let text = http_get(self.addr, "/metrics").ok()?;
        let in_flight = text
            .lines()
            .find_map(|l| l.strip_prefix("mock_openai_in_flight "))
            .and_then(|v| v.trim().parse().ok())?;
        Some(MockMetrics { in_flight, text })
    }

    /// Waits until the previous case's streams have left the target.
    fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.metrics().is_some_and(|m| m.in_flight <= 0.0) {
                return;
            }
            // A poll interval for a condition with a deadline.
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("   (the target still had requests in flight after {timeout:?})");
    }
}

/// Independent timing of the target: threads that each send one `probe` stream at a time.
struct Probe {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<ProbeSamples>>,
}

/// Per request: first chunk and `[DONE]`, µs after the request was written.
type ProbeSamples = Vec<(u64, u64)>;

#[derive(Debug, Default)]
struct ProbeResult {
    /// Errors against the injected delays, µs, sorted.
    first: Vec<i64>,
    chain: Vec<i64>,
    failures: usize,
}

impl ProbeResult {
    fn percentile(sorted: &[i64], q: f64) -> f64 {
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i] as f64 / 1000.0
    }

    fn summary(&self) -> Option<String> {
        if self.chain.is_empty() {
            return None;
        }
        Some(format!(
            "target's own error (probe, {} requests, {} failed): first chunk p50 {:+.2} ms, p99 {:+.2} ms; [DONE] p50 {:+.2} ms, p99 {:+.2} ms, max {:+.2} ms",
            self.chain.len(),
            self.failures,
            Self::percentile(&self.first, 0.5),
            Self::percentile(&self.first, 0.99),
            Self::percentile(&self.chain, 0.5),
            Self::percentile(&self.chain, 0.99),
            Self::percentile(&self.chain, 1.0),
        ))
    }

    fn chain_p99_ms(&self) -> Option<f64> {
        (!self.chain.is_empty()).then(|| Self::percentile(&self.chain, 0.99))
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
                            Err(_) => {
                                samples.push((u64::MAX, u64::MAX));
                                // A failed probe must not spin.
                                std::thread::sleep(Duration::from_millis(100));
                            }
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
                if done == u64::MAX {
                    result.failures += 1;
                    continue;
                }
                result.first.push(first as i64 - FIRST.as_micros() as i64);
                result.chain.push(done as i64 - CHAIN.as_micros() as i64);
            }
        }
        result.first.sort_unstable();
        result.chain.sort_unstable();
        result
    }
}
