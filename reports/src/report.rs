//! `RunReport`: everything one run measured, as a versioned JSON document.

use std::collections::BTreeMap;
use std::path::Path;

use scenarios::{Scenario, Timing};
use serde::{Deserialize, Serialize};

use crate::histogram::{self, Latency, Summary};

/// The version of the report's JSON shape; readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// One run: the resolved scenario, where and when it ran, and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The scenario as it ran (catalog or file, plus command-line overrides).
    pub scenario: Scenario,
    /// Where and when.
    pub environment: Environment,
    /// Whether the run was cut short by a stop signal (SIGINT, SIGTERM or SIGHUP): the figures
    /// cover only what ran.
    pub partial: bool,
    /// Request counts by outcome.
    pub totals: Totals,
    /// Latency distributions: `headers`, `ttfb`, `first_stage`, `chain`.
    pub latencies: Vec<LatencyMetric>,
    /// Stage durations, in the stream's stage order.
    pub stages: Vec<LatencyMetric>,
    /// Counts of `null` at the stream's `null_checks` pointers in terminal events.
    pub nulls: Vec<NullCount>,
    /// One sample per second of the run.
    pub timeseries: Vec<SecondSample>,
    /// The target's own view, from its scraped `/metrics`, when it has one.
    pub server: Option<ServerView>,
    /// Each threshold of the scenario with its verdict.
    pub thresholds: Vec<ThresholdResult>,
    /// How the load generator itself fared; absent in reports written before it was kept.
    #[serde(default)]
    pub health: Option<LoadgenHealth>,
    /// Good requests against the scenario's `[slo]`; absent when it has none (and in reports
    /// written before SLOs were judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<Goodput>,
    /// Token streams only (`[stream.tokens]`): output tokens and buffered streams. Absent for
    /// other streams and in reports written before token metrics; their `ttft`, `itl`, `tpot`
    /// and `chunk_gap` are in `latencies`. Optional, so schema version 1 still reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenStats>,
}

/// The requests that met the scenario's SLOs: good ones completed, and each latency the
/// `[slo]` names, divided back by the time scale, was at most its objective (a request
/// without a value for one, such as no first stage, is not good).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    /// Good requests.
    pub good: u64,
    /// `good / attempted` from 0 to 1: failed, partial and interrupted requests count as not
    /// good, as they count against `success`. `None` before any request.
    pub good_fraction: Option<f64>,
    /// Good requests per second of the modelled time: `good` over the run's duration (the
    /// window of its rps) divided back by the time scale. `None` for a run of no duration.
    pub per_second: Option<f64>,
}

impl Goodput {
    /// The figures of `good` requests out of a run's `totals` over its `environment`'s
    /// window: the one place the fraction and the rate are computed (runs and merges).
    pub fn new(good: u64, totals: &Totals, environment: &Environment) -> Self {
        let modelled_s = environment.duration_s / environment.time_scale;
        Self {
            good,
            good_fraction: (totals.attempted > 0).then(|| good as f64 / totals.attempted as f64),
            per_second: (modelled_s > 0.0).then(|| good as f64 / modelled_s),
        }
    }
}

/// The counts of a token stream's run; the token latencies are in [`RunReport::latencies`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenStats {
    /// Completed requests with at least one content chunk: those `output_tokens`,
    /// `tokens_per_s`, `itl` and `tpot` describe.
    pub streams: u64,
    /// Of `streams`, those whose count came from the server's `usage`; the others counted
    /// their content chunks.
    pub from_usage: u64,
    /// Output tokens of all `streams`.
    pub output_tokens_total: u64,
    /// Output tokens per request.
    pub output_tokens: CountMetric,
    /// Output tokens per second of each request, `output_tokens / e2e`, as measured (not
    /// divided back by the time scale).
    pub tokens_per_s: CountMetric,
    /// The run's output tokens per second: `output_tokens_total / duration_s`, as measured.
    pub run_tokens_per_s: Option<f64>,
    /// Requests the buffered-stream rule flagged (content held back and sent in one burst).
    pub buffered: u64,
}

impl TokenStats {
    /// What the reader must know when streams were buffered: the TTFT users see is then the
    /// whole answer's time.
    pub fn buffered_warning(&self) -> Option<String> {
        (self.buffered > 0).then(|| {
            format!(
                "{} of {} token streams arrived in one burst after a long wait: something between \
                 the model and the client buffers the stream, so the TTFT users see is the e2e",
                self.buffered, self.streams
            )
        })
    }
}

/// A distribution of values that are no durations (token counts, rates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountMetric {
    /// Figures in the value's own unit (tokens, tokens/s).
    pub summary: Summary,
    /// The histogram of the values times `scale`, serialized (see [`histogram::encode`]).
    pub histogram: String,
    /// What a recorded value is multiplied by (1 for counts, 1000 for rates kept to a
    /// thousandth).
    pub scale: f64,
}

impl CountMetric {
    /// A metric from a histogram of values times `scale`.
    pub fn new(h: &Latency, scale: f64) -> Self {
        Self {
            summary: Summary::scaled(h, scale),
            histogram: histogram::encode(h),
            scale,
        }
    }

    /// The histogram, read back.
    pub fn decode(&self) -> Result<Latency, histogram::DecodeError> {
        histogram::decode(&self.histogram)
    }
}

/// Where and when a run happened; also the fingerprint the gate compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// scan-bench's version.
    pub scan_bench_version: String,
    /// The source's git commit, when known at build time.
    pub git_commit: Option<String>,
    /// Operating system and architecture.
    pub os: String,
    /// Kernel release, when readable.
    pub kernel: Option<String>,
    /// CPU model, when readable.
    pub cpu_model: Option<String>,
    /// Logical cores.
    pub cores: usize,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC.
    pub ended_at: String,
    /// Seconds from first to last request.
    pub duration_s: f64,
    /// The scenario's time scale (figures divided by it give real-time equivalents).
    pub time_scale: f64,
    /// The base URL that was loaded.
    pub target: String,
    /// Whether the target was the embedded stack.
    pub embedded: bool,
}

/// How the load generator itself fared during a run: whether its own delays are in the
/// figures. A load generator short of CPU starts requests late and reads streams late, and
/// that delay lands in every latency it reports; this section says so instead of hiding it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadgenHealth {
    /// The latest any of the load generator's timers fired (progress ticks, open-model
    /// arrivals), ms: how long a ready task could wait for a thread.
    pub max_timer_lag_ms: f64,
    /// Open model: the 99th percentile of how late requests started against their intended
    /// start, ms (the `scheduling_lag` latency).
    pub scheduling_lag_p99_ms: Option<f64>,
    /// CPU seconds (user + system) of the load generator's process during the run, where
    /// readable. With the embedded stack the mock and the pipeline run in the same process,
    /// so their CPU is included (see `cpu_includes_embedded_stack`).
    pub cpu_seconds: Option<f64>,
    /// `cpu_seconds` per completed request, µs.
    pub cpu_per_completed_us: Option<f64>,
    /// Whether `cpu_seconds` includes the embedded stack's mock and pipeline.
    pub cpu_includes_embedded_stack: bool,
    /// The timer lag above which the run counts as overloaded, ms.
    pub lag_bound_ms: f64,
    /// Whether `max_timer_lag_ms` exceeded `lag_bound_ms`: the latencies then include the
    /// load generator's own delay.
    pub overloaded: bool,
}

impl LoadgenHealth {
    /// The health of a run whose timers fired up to `max_timer_lag_ms` late, judged against
    /// `lag_bound_ms`, whose process spent `cpu_seconds`; the scheduling lag, the CPU per
    /// completed request and whether the CPU includes the embedded stack come from `report`.
    pub fn new(
        max_timer_lag_ms: f64,
        lag_bound_ms: f64,
        cpu_seconds: Option<f64>,
        report: &RunReport,
    ) -> Self {
        let completed = report.totals.completed;
        Self {
            max_timer_lag_ms,
            scheduling_lag_p99_ms: report
                .latency(Timing::SchedulingLag)
                .filter(|m| m.summary.count > 0)
                .map(|m| m.summary.p99),
            cpu_seconds,
            cpu_per_completed_us: cpu_seconds
                .filter(|_| completed > 0)
                .map(|cpu| cpu * 1e6 / completed as f64),
            cpu_includes_embedded_stack: report.environment.embedded,
            lag_bound_ms,
            overloaded: max_timer_lag_ms > lag_bound_ms,
        }
    }

    /// What an overloaded run's reader must know, without a label:
    /// `the load generator was overloaded (timers up to 35.0ms late): ...`.
    pub fn overload_warning(&self) -> Option<String> {
        self.overloaded.then(|| {
            format!(
                "the load generator was overloaded (timers up to {} late): latencies include its own delay",
                crate::render::ms(self.max_timer_lag_ms)
            )
        })
    }
}

/// Request counts. `attempted = completed + partial + interrupted + sum(failed)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests started.
    pub attempted: u64,
    /// All stages completed and the terminal event arrived.
    pub completed: u64,
    /// The stream ended without every stage completed.
    pub partial: u64,
    /// Cut by the end of the run.
    pub interrupted: u64,
    /// Open model: arrivals that found no free virtual user (k6's `dropped_iterations`).
    pub dropped: u64,
    /// Failed requests by class: `connect` (no TCP connection), `closed_before_response`
    /// (closed or reset before a response head), `bad_response` (an unparseable head),
    /// `http_503`, `timeout`, `error_event`, `malformed_event`, `stream_reset`.
    pub failed: BTreeMap<String, u64>,
    /// Of the failures, those k6 counts in `http_req_failed`: `connect`,
    /// `closed_before_response`, `bad_response`, non-2xx, and timeouts before the head.
    pub http_failed: u64,
    /// Keep-alive comments received.
    pub keepalives: u64,
    /// Body bytes received.
    pub bytes: u64,
}

impl Totals {
    /// All failed requests.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Completed / attempted from 0 to 1, k6's view of success; `None` before any request.
    pub fn completed_share(&self) -> Option<f64> {
        (self.attempted > 0).then(|| self.completed as f64 / self.attempted as f64)
    }

    /// What the reader must see first when most scans failed or ended partial, whatever the
    /// thresholds say (`http_req_failed` counts only transport and status failures):
    /// `MOST SCANS FAILED: 118 of 120 (98.3%) did not complete (connect 100, timeout 18) ...`.
    pub fn failure_warning(&self) -> Option<String> {
        let broken = self.failed_total() + self.partial;
        if self.attempted == 0 || broken * 2 <= self.attempted {
            return None;
        }
        let mut classes: Vec<String> = self
            .failed
            .iter()
            .map(|(class, n)| format!("{class} {n}"))
            .collect();
        if self.partial > 0 {
            classes.push(format!("partial {}", self.partial));
        }
        Some(format!(
            "MOST SCANS FAILED: {broken} of {} ({:.1}%) did not complete ({}): the latencies \
             describe failures, not the system working",
            self.attempted,
            broken as f64 * 100.0 / self.attempted as f64,
            classes.join(", ")
        ))
    }
}

/// One latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyMetric {
    /// Our name (`ttfb`, `chain`, or the stage).
    pub name: String,
    /// k6's name for the same figure, where there is one.
    pub k6_name: Option<String>,
    /// Figures in milliseconds.
    pub summary: Summary,
    /// The histogram of microseconds, serialized (see [`histogram::encode`]).
    pub histogram: String,
}

impl LatencyMetric {
    /// A metric from its histogram.
    pub fn new(name: &str, k6_name: Option<&str>, h: &Latency) -> Self {
        Self {
            name: name.to_owned(),
            k6_name: k6_name.map(str::to_owned),
            summary: Summary::of(h),
            histogram: histogram::encode(h),
        }
    }

    /// The histogram, read back.
    pub fn decode(&self) -> Result<Latency, histogram::DecodeError> {
        histogram::decode(&self.histogram)
    }
}

/// How often a JSON pointer held `null` in terminal events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NullCount {
    /// The pointer, e.g. `/result/reward`.
    pub pointer: String,
    /// Terminal events with `null` there.
    pub nulls: u64,
    /// Terminal events seen.
    pub of: u64,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// Seconds from the start.
    pub t: u32,
    /// Virtual users in their iteration loop.
    pub active_vus: u32,
    /// Requests started in this second.
    pub started: u64,
    /// Requests completed in this second.
    pub completed: u64,
    /// Requests failed in this second.
    pub failed: u64,
    /// Requests ended partial in this second.
    pub partial: u64,
    /// Streams open at the end of the second.
    pub open_streams: u64,
    /// TTFB of requests that ended in this second, ms.
    pub ttfb_p50: Option<f64>,
    /// 95th percentile of the same.
    pub ttfb_p95: Option<f64>,
    /// Chain of requests completed in this second, ms.
    pub chain_p50: Option<f64>,
    /// 95th percentile of the same.
    pub chain_p95: Option<f64>,
    /// Open model: arrivals due in this second that found no free virtual user.
    #[serde(default)]
    pub dropped: u64,
    /// Open model: the target arrival rate at the end of this second (requests/s).
    #[serde(default)]
    pub target_rate: Option<f64>,
    /// Requests a user actually started in this second. `started` counts them by their
    /// intended start, which the open model fixes in advance: a load generator that falls
    /// behind shows here, later than `started`. In the closed model the two agree.
    #[serde(default)]
    pub started_actual: u64,
}

/// The target's view from its `/metrics`, computed as Eco²'s Grafana panels compute it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerView {
    /// The endpoint scraped.
    pub source: String,
    /// `scan_sse_requests_total` by `status` over the run.
    pub requests: BTreeMap<String, f64>,
    /// Success Rate panel: success / all.
    pub success_rate: Option<f64>,
    /// Chain Avg panel: sum / count of `scan_sse_chain_duration_seconds`, seconds.
    pub chain_avg_s: Option<f64>,
    /// TTFB p50 panel: `histogram_quantile(0.5, scan_sse_ttfb_seconds)`, seconds.
    pub ttfb_p50_s: Option<f64>,
    /// TTFB p95 panel, seconds.
    pub ttfb_p95_s: Option<f64>,
    /// RPS panel: requests counted over the run's seconds.
    pub rps: Option<f64>,
    /// Peak of Active Connections over the scrapes.
    pub peak_connections: Option<f64>,
    /// Per-stage averages, seconds.
    pub stage_avg_s: BTreeMap<String, f64>,
    /// Requests the target refused at admission (not in `requests`, as in Eco²).
    pub rejected: Option<f64>,
    /// Worker-level success (Eco²'s "Celery-level" figure): stage tasks completed / stage
    /// tasks finished, from `scan_pipeline_stage_tasks_total`; cancelled tasks do not count.
    #[serde(default)]
    pub worker_success: Option<f64>,
    /// Requests the balancer answered 503 because no replica was ready (not in `requests`).
    #[serde(default)]
    pub upstream_unavailable: Option<f64>,
    /// Replicas the liveness probe restarted.
    #[serde(default)]
    pub replica_restarts: Option<f64>,
    /// OpenAI calls answered 429 (rate limited), from `scan_pipeline_openai_calls_total`.
    #[serde(default)]
    pub openai_rate_limited: Option<f64>,
    /// The target's own LLM calls, per stage and model, from the reference pipeline's
    /// `scan_pipeline_openai_*` series (empty for a target without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llm_calls: Vec<LlmCalls>,
}

/// One stage's calls to one model, as the target saw them over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCalls {
    /// The stage making the calls (`call` label: `vision`, `answer`).
    pub call: String,
    /// The model asked.
    pub model: String,
    /// Whole calls (a call's retries are inside it).
    pub calls: f64,
    /// Mean of a whole call, retries and back-off included, seconds.
    pub avg_s: Option<f64>,
    /// 95th percentile of a whole call (Prometheus' bucket interpolation), seconds.
    pub p95_s: Option<f64>,
    /// HTTP attempts answered 429.
    pub rate_limited: f64,
    /// Attempts retried.
    pub retries: f64,
    /// Input (prompt) tokens the answers reported.
    pub input_tokens: f64,
    /// Output (completion) tokens the answers reported.
    pub output_tokens: f64,
}

/// One threshold and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The metric, as written in the scenario.
    pub metric: String,
    /// The expression, e.g. `p(95)<8000`.
    pub expression: String,
    /// The value compared (latencies divided back by the time scale, in ms).
    pub observed: Option<f64>,
    /// Whether it held. A metric without data fails, as nothing shows it held.
    pub passed: bool,
}

/// A report that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a report.
    #[error("{path}: not a scan-bench run report: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The report has another schema version.
    #[error("{path}: report schema version {found}, this scan-bench reads version {expected}")]
    Version {
        /// The file.
        path: String,
        /// Its version.
        found: u64,
        /// Ours.
        expected: u32,
    },
}

impl RunReport {
    /// Writes the report as pretty JSON, atomically: a reader sees the old file or the whole
    /// new one, never a part.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ReportError> {
        write_json_atomic(self, path)
    }

    /// Reads a report, refusing other schema versions with a clear error.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let name = path.display().to_string();
        let value: serde_json::Value = read_json(path)?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| ReportError::Invalid {
                path: name.clone(),
                message: "no `schema_version` field".into(),
            })?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(ReportError::Version {
                path: name,
                found,
                expected: SCHEMA_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| ReportError::Invalid {
            path: name,
            message: e.to_string(),
        })
    }

    /// The latency metric of a timing.
    pub fn latency(&self, timing: Timing) -> Option<&LatencyMetric> {
        self.latency_named(timing.name())
    }

    /// The latency metric of a name read from report data (`compare` lines up whatever the
    /// reports hold); code names a metric with [`RunReport::latency`].
    pub fn latency_named(&self, name: &str) -> Option<&LatencyMetric> {
        self.latencies.iter().find(|m| m.name == name)
    }

    /// The stage metric of that name.
    pub fn stage(&self, name: &str) -> Option<&LatencyMetric> {
        self.stages.iter().find(|m| m.name == name)
    }

    /// The warning for a reader of this run's figures when its load generator was
    /// overloaded.
    pub fn overload_warning(&self) -> Option<String> {
        self.health
            .as_ref()
            .and_then(LoadgenHealth::overload_warning)
    }
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub(crate) fn write_json_atomic<T: Serialize>(value: &T, path: &Path) -> Result<(), ReportError> {
    let json = serde_json::to_vec_pretty(value).expect("reports and sweeps serialize to JSON");
    write_atomic(path, &json)
}

/// Reads a JSON file, naming it in the error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    let name = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| ReportError::Io {
        path: name.clone(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|e| ReportError::Invalid {
        path: name,
        message: e.to_string(),
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    use std::io::Write;
    let io = |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    // Readable like any file the user writes (a bare temporary file would be private).
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut file = builder.tempfile_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
