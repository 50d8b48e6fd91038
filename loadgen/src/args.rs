//! The command line as parsed by clap, before anything is resolved.
//!
//! Each subcommand's raw arguments live here; `commands/` turns them into resolved settings
//! (a scenario goes through `scenarios::ScenarioSource::resolve`) before any work starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Load-test an LLM-backed SSE pipeline: the Eco² scan chain on your laptop, your staging
/// system, or a CI gate.
#[derive(Debug, Parser)]
#[command(name = "scan-bench", version, about, propagate_version = true)]
#[command(after_help = "Examples:
  scan-bench run                       Eco²'s load test, scaled, on the embedded stack
  scan-bench list                      the bundled scenarios
  scan-bench show eco2-vu34 > my.toml  a scenario as TOML, ready to edit
  scan-bench run my.toml --vus 50

Exit codes: 0 ok, 1 runtime error, 2 bad usage or input, 99 thresholds or gate failed,
130 SIGINT (Ctrl-C), 143 SIGTERM, 129 SIGHUP (a partial report was written).")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and report client and server figures.
    #[command(after_help = "Examples:
  scan-bench run                                 the default scenario (eco2-quick, ~20 s)
  scan-bench run eco2-vu34 --time-scale 0.05     Eco²'s test #2 in ~9 s
  scan-bench run my.toml --target http://127.0.0.1:8000 --vus 20

The reports' directory (--out, or the default) is checked writable before the run (exit 2 if
not); reports that still cannot be written at the end go to a directory under $TMPDIR, named
on stderr after the summary (exit 1).

SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a run alike: the first starts no more requests, gives
open streams up to 5 s (at most graceful_ramp_down) and writes a partial report; a second cuts
the open streams at once (counted interrupted) and still writes the report; a third leaves
without it.

Exit codes: 0 ok, 1 runtime error, 2 bad usage or input, 99 thresholds or gate failed,
130 SIGINT, 143 SIGTERM, 129 SIGHUP.")]
    Run(Box<RunArgs>),
    /// List the bundled scenarios.
    #[command(after_help = "Example:\n  scan-bench list")]
    List,
    /// Print a scenario as TOML with every default spelled out, ready to copy and edit.
    #[command(after_help = "Example:\n  scan-bench show eco2-vu34 > my-scenario.toml")]
    Show(ShowArgs),
    /// Check scenario files without running them.
    #[command(after_help = "Example:\n  scan-bench validate scenarios/*.toml")]
    Validate(ValidateArgs),
    /// Put run reports side by side with deltas.
    #[command(
        after_help = "Example:\n  scan-bench compare base/report.json new/report.json --format md"
    )]
    Compare(CompareArgs),
    /// Fail (exit 99) when a candidate run regressed against a baseline.
    #[command(
        after_help = "A figure regresses when it is slower by more than its tolerance, by more than the
--min-delta floor, and the 95% bootstrap interval of the change lies above zero. The
candidate's own thresholds must hold too. Figures: METRIC.STAT with METRIC one of headers,
ttfb, first_stage, chain or a stage name, STAT mean or pNN (p50, p95, p99.9).

Example:
  scan-bench gate --baseline base.json --candidate new.json --tolerance chain.p95=10%,ttfb.p95=15%"
    )]
    Gate(GateArgs),
    /// Combine shard reports into one, exactly; exit 99 when the merged thresholds fail.
    #[command(
        after_help = "Example:\n  scan-bench merge shard-*/report.json -o total/report.json --format html"
    )]
    Merge(MergeArgs),
    /// Run the published load tests locally and set the published figures beside ours.
    #[command(after_help = "Examples:
  scan-bench reproduce eco2
  scan-bench reproduce eco2 --json > figures.json
  scan-bench reproduce eco2 --compare-architectures")]
    Reproduce(ReproduceArgs),
    /// Run a scenario at several loads, or search for the highest load it holds (--auto).
    #[command(after_help = "Examples:
  scan-bench sweep ci-smoke --vus 2,4,8 --out sweep/
  scan-bench sweep my-open.toml --rates 0.5,1,2,4
  scan-bench sweep eco2-vu34 --time-scale 0.05 --auto

Each point is the scenario with its profile scaled so that its peak is the point's load
(every stage target times load / peak: the shape stays). Each point's report goes to
DIR/vus-N/report.json (or rate-R/), then DIR/sweep.json, sweep.md and sweep.html.

--auto runs the start load (the scenario's peak, or --start), doubles it while the
thresholds hold, halves it while they fail, then bisects between the highest load that held
and the lowest that failed until they are within 10 % (or 1 VU); a load that holds but
whose throughput is at most 1.05 x the previous load's (saturated), or whose success rate
is under half of it (collapsed), ends the search at once. At most --max-runs runs.

A stop signal ends the sweep after the current point; what was measured is written.
Exit codes: 0 ok (failing points are findings, not errors), 1 runtime error, 2 bad usage or
input, 130 SIGINT, 143 SIGTERM, 129 SIGHUP.")]
    Sweep(Box<SweepArgs>),
    /// Serve the mock OpenAI API or the reference pipeline on their own.
    #[command(after_help = "Examples:
  scan-bench serve mock-openai --listen 127.0.0.1:8080
  MOCK_OPENAI_ADMIN_TOKEN=... scan-bench serve mock-openai   # /admin/config needs the token
  scan-bench serve pipeline --listen 127.0.0.1:8000")]
    Serve(ServeArgs),
}

/// `scan-bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A catalog name (see `scan-bench list`) or a scenario file; default: eco2-quick.
    pub scenario: Option<String>,
    /// Peak virtual users; the profile keeps its shape.
    #[arg(long, value_name = "N")]
    pub vus: Option<u32>,
    /// Target, duration, time scale and seed.
    #[command(flatten)]
    pub scenario_flags: ScenarioFlags,
    /// Where reports go (default: ./scan-bench-results/<scenario>-<timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Report formats to write besides report.json.
    #[arg(long, value_name = "F", value_enum)]
    pub format: Vec<ReportFormat>,
    /// Gate the run against this baseline report right after it.
    #[arg(long, value_name = "BASE.json")]
    pub baseline: Option<PathBuf>,
    /// The gate's tolerances and floor, with --baseline.
    #[command(flatten)]
    pub gate: GateOptions,
    /// Run shard I of N (0-based): a deterministic share of the VUs or arrival rate, so N
    /// machines together make the whole load; thresholds are judged on the merged report.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Serve live scan_bench_* Prometheus metrics here during the run.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The flags `run` and `sweep` share that override a scenario's target, length, time scale
/// and seed.
#[derive(Debug, Args)]
pub struct ScenarioFlags {
    /// Base URL of the system under test, instead of the embedded stack.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The target's Prometheus endpoint, scraped for the server view (default:
    /// TARGET/metrics); `off` runs without a server view.
    #[arg(long, value_name = "URL|off")]
    pub target_metrics: Option<String>,
    /// Length of the load profile in modelled time, like the stage durations of the file
    /// (e.g. 30s, 2m); stages keep their proportions. The run takes D x time scale of
    /// wall-clock time (ci-smoke at 0.02: --duration 30s runs 0.6 s), plus the ramp-down grace.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Multiply every injected latency and load duration (0.05 = twenty times faster). The
    /// embedded stack only: against --target it must be 1.
    #[arg(long, value_name = "X")]
    pub time_scale: Option<f64>,
    /// Seed of every random draw.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
}

impl ScenarioFlags {
    /// The scenario overrides these flags make, with `vus` as the peak virtual users.
    pub fn overrides(&self, vus: Option<u32>) -> scenarios::Overrides {
        scenarios::Overrides {
            target: self.target.clone(),
            target_metrics: self.target_metrics.clone(),
            vus,
            duration: self.duration,
            time_scale: self.time_scale,
            seed: self.seed,
        }
    }
}

/// `scan-bench sweep`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("loads").required(true).args(["vus", "rates", "auto"])))]
pub struct SweepArgs {
    /// A catalog name (see `scan-bench list`) or a scenario file.
    pub scenario: String,
    /// Closed model: the points' peak virtual users, increasing (e.g. 10,20,34,50).
    #[arg(long, value_name = "N,...")]
    pub vus: Option<String>,
    /// Open model: the points' peak arrival rates in requests per second, increasing (e.g.
    /// 0.5,1,2,4).
    #[arg(long, value_name = "R,...")]
    pub rates: Option<String>,
    /// Search for the highest load at which the scenario's thresholds hold.
    #[arg(long)]
    pub auto: bool,
    /// With --auto: the first load (VUs or requests per second, as the scenario's model);
    /// default: the scenario's own peak.
    #[arg(long, value_name = "LOAD", requires = "auto")]
    pub start: Option<String>,
    /// With --auto: at most this many runs.
    #[arg(long, value_name = "N", default_value_t = reports::sweep::AutoSettings::MAX_RUNS)]
    pub max_runs: u32,
    /// Target, duration (of each point's profile), time scale and seed (the same for every
    /// point).
    #[command(flatten)]
    pub scenario_flags: ScenarioFlags,
    /// Where the reports go (default: ./scan-bench-results/sweep-<scenario>-<timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Terminal tables.
    Term,
    /// Markdown, for pull requests.
    Md,
    /// One self-contained HTML file with charts.
    Html,
    /// JUnit XML, one testcase per threshold.
    Junit,
    /// The JSON report.
    Json,
}

/// `scan-bench show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A catalog name or a scenario file.
    pub scenario: String,
}

/// `scan-bench validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files (or catalog names).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
}

/// `scan-bench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more run reports.
    #[arg(required = true, num_args = 2.., value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Term)]
    pub format: ReportFormat,
}

/// `scan-bench gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The reference run.
    #[arg(long, value_name = "BASE.json")]
    pub baseline: PathBuf,
    /// The run under judgement.
    #[arg(long, value_name = "NEW.json")]
    pub candidate: PathBuf,
    /// Tolerances and floor.
    #[command(flatten)]
    pub options: GateOptions,
    /// Output format (junit: one testcase per check and threshold).
    #[arg(long, value_enum, default_value_t = ReportFormat::Term)]
    pub format: ReportFormat,
}

/// How strict the regression gate is.
#[derive(Debug, Args)]
pub struct GateOptions {
    /// Figures checked, each with its allowed relative worsening.
    #[arg(long, value_name = "FIGURE=PCT,...", default_value = reports::gate::DEFAULT_TOLERANCES)]
    pub tolerance: String,
    /// Changes of at most this much (measured time) never count as regressions.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "1ms")]
    pub min_delta: Duration,
}

/// `scan-bench merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports of one scenario.
    #[arg(required = true, value_name = "SHARD.json")]
    pub shards: Vec<PathBuf>,
    /// The merged report.
    #[arg(short, long, value_name = "TOTAL.json")]
    pub output: PathBuf,
    /// Report formats to write beside the merged report (report.md, report.html, junit.xml).
    #[arg(long, value_name = "F", value_enum)]
    pub format: Vec<ReportFormat>,
}

/// `scan-bench reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The published study to reproduce.
    #[arg(value_enum)]
    pub study: Study,
    /// Multiply every injected latency and load duration.
    #[arg(long, value_name = "X")]
    pub time_scale: Option<f64>,
    /// Where reports go (default: scan-bench-results/reproduce-eco2).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the published and local figures as JSON:
    /// `[{test, figure, published, local, unit, delta, delta_pct, within_target}]`.
    #[arg(long)]
    pub json: bool,
    /// Also run test #2's load on the other architectures and fixes of the authors' list.
    #[arg(long)]
    pub compare_architectures: bool,
    /// Start a real Prometheus on loopback (the `prometheus` binary on PATH, or
    /// SCAN_BENCH_PROMETHEUS) that scrapes the pipeline during each of Eco²'s tests, and put
    /// its answers to the dashboard's own queries beside the built-in reduction.
    #[arg(long)]
    pub prometheus: bool,
}

/// Published studies `reproduce` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Study {
    /// The Eco² scan API load tests of December 2025.
    Eco2,
}

/// `scan-bench serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which server.
    #[arg(value_enum)]
    pub server: Server,
    /// A TOML configuration file of that server.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Pipeline only: OpenAI-compatible base URL(s) to call; without one, an embedded
    /// mock-openai is started on loopback.
    #[arg(long = "openai-url", value_name = "URL")]
    pub openai_urls: Vec<String>,
}

/// Servers `serve` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Server {
    /// The OpenAI-compatible mock.
    MockOpenai,
    /// The reference scan pipeline (with an embedded mock unless configured otherwise).
    Pipeline,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    scenarios::duration::parse(text)
}
