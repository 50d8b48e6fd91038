//! The names of what scan-bench measures, in one table: the [`Timing`]s every request gets (the
//! latency distributions of a report) and the [`Metric`]s thresholds are set on. Every crate
//! names a figure with these values, never with a string of its own, so a rename cannot leave
//! a threshold or a chart reading no data.
//!
//! ```
//! use scenarios::{Metric, Timing};
//!
//! assert_eq!(Timing::Ttfb.name(), "ttfb");
//! assert_eq!(Timing::Ttfb.k6_name(), Some("sse_ttfb"));
//! assert_eq!(Timing::from_name("sse_total_duration"), Some(Timing::Chain));
//! assert_eq!(Metric::from_name("chain"), Some(Metric::SseTotalDuration));
//! assert_eq!(Metric::SseTtfb.timing(), Some(Timing::Ttfb));
//! assert_eq!(Metric::from_name("itl"), Some(Metric::LlmItl));
//! ```

/// A latency distribution measured for every request (every new connection, for `connect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timing {
    /// TCP (and TLS) connection set-up, per new connection.
    Connect,
    /// Request start to the response head.
    Headers,
    /// Request start to the first body byte (k6's `sse_ttfb`).
    Ttfb,
    /// Request start to the first stage event (Eco²'s dashboard's server-side TTFB).
    FirstStage,
    /// Request start to the terminal event, completed scans only (k6's `sse_total_duration`
    /// name; Eco²'s k6 script also timed the requests that failed: that is [`Timing::Total`]).
    Chain,
    /// Request start to the end of the exchange, every request however it ended (the time
    /// Eco²'s k6 script put in `sse_total_duration`: a fast 503 is a short total).
    Total,
    /// Open model: how late a request started against its intended start.
    SchedulingLag,
    /// Token streams: request start to the first content chunk (k6-style `llm_ttft`).
    Ttft,
    /// Token streams: a request's inter-token latency, `(e2e - ttft) / (output_tokens - 1)`
    /// (vLLM's TPOT, AIPerf's ITL; `llm_itl`), one value per request of two tokens or more.
    Itl,
    /// Token streams: a request's time per output token, `e2e / output_tokens` (`llm_tpot`).
    Tpot,
    /// Token streams: every gap between two consecutive content chunks of a request, pooled
    /// over the run's requests. Not `itl`: a chunk of several tokens is one gap here.
    ChunkGap,
}

impl Timing {
    /// Every timing, in report order.
    pub const ALL: [Timing; 11] = [
        Timing::Connect,
        Timing::Headers,
        Timing::Ttfb,
        Timing::FirstStage,
        Timing::Chain,
        Timing::Total,
        Timing::SchedulingLag,
        Timing::Ttft,
        Timing::Itl,
        Timing::Tpot,
        Timing::ChunkGap,
    ];

    /// The timings of token streams only, measured when the scenario has `[stream.tokens]`.
    pub const TOKENS: [Timing; 4] = [Timing::Ttft, Timing::Itl, Timing::Tpot, Timing::ChunkGap];

    /// Its name in reports, `compare` and the gate's figures (`chain.p95`).
    pub fn name(self) -> &'static str {
        match self {
            Timing::Connect => "connect",
            Timing::Headers => "headers",
            Timing::Ttfb => "ttfb",
            Timing::FirstStage => "first_stage",
            Timing::Chain => "chain",
            Timing::Total => "total",
            Timing::SchedulingLag => "scheduling_lag",
            Timing::Ttft => "ttft",
            Timing::Itl => "itl",
            Timing::Tpot => "tpot",
            Timing::ChunkGap => "chunk_gap",
        }
    }

    /// k6's name for it, where k6 (Eco²'s script) has one.
    pub fn k6_name(self) -> Option<&'static str> {
        match self {
            Timing::Ttfb => Some("sse_ttfb"),
            Timing::Chain => Some("sse_total_duration"),
            Timing::Ttft => Some("llm_ttft"),
            Timing::Itl => Some("llm_itl"),
            Timing::Tpot => Some("llm_tpot"),
            _ => None,
        }
    }

    /// Whether one request's record carries it, so that an `[slo]` can judge each request by
    /// it: `connect` is measured per new connection (a reused one has none), and the
    /// scheduling lag is the load generator's own lateness, not the target's, and a token
    /// stream has many chunk gaps, not one.
    pub fn per_request(self) -> bool {
        match self {
            Timing::Headers
            | Timing::Ttfb
            | Timing::FirstStage
            | Timing::Chain
            | Timing::Total
            | Timing::Ttft
            | Timing::Itl
            | Timing::Tpot => true,
            Timing::Connect | Timing::SchedulingLag | Timing::ChunkGap => false,
        }
    }

    /// The timing of a name or a k6 name.
    pub fn from_name(name: &str) -> Option<Timing> {
        Timing::ALL
            .into_iter()
            .find(|t| t.name() == name || t.k6_name() == Some(name))
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that widths (`{:<11}`) apply.
        f.pad(self.name())
    }
}

/// What a metric measures, which decides the aggregations it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A latency distribution in milliseconds: `avg`, `min`, `max`, `med`, `p(N)`.
    Trend,
    /// A fraction of requests between 0 and 1: `rate`.
    Rate,
    /// A count over the run: `count`, and `rate` per second.
    Counter,
}

/// A metric thresholds can be set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// TCP (and TLS) connection set-up.
    Connect,
    /// Request start to response headers.
    Headers,
    /// Request start to the first body byte (k6's `sse_ttfb`; alias `ttfb`).
    SseTtfb,
    /// Request start to the first stage event (the Eco² dashboard's server-side TTFB).
    FirstStage,
    /// Request start to the terminal event (k6's `sse_total_duration`; alias `chain`).
    SseTotalDuration,
    /// One stage, started to completed; needs the `{stage:NAME}` tag.
    StageDuration,
    /// Fraction of requests that failed at the HTTP level: no connection, closed before or
    /// unparseable response head, non-2xx status, timeout before the head (k6's
    /// `http_req_failed`).
    HttpReqFailed,
    /// Fraction of requests that did not complete every stage (any failure or partial).
    ScanFailed,
    /// Fraction of completed runs whose terminal event had a `null` at a checked pointer
    /// (Eco²'s `sse_reward_null`).
    SseRewardNull,
    /// Requests started.
    Iterations,
    /// Requests the open model could not start for want of a free virtual user.
    DroppedIterations,
    /// Good requests (completed, every `[slo]` met): `count`, and `rate` per second of the
    /// modelled time (divided back by the time scale, unlike `iterations`' rate). Needs `[slo]`.
    Goodput,
    /// Good requests over attempted ones, from 0 to 1: errors, partial and interrupted
    /// requests count as not good. Needs `[slo]`.
    GoodFraction,
    /// Token streams: request start to the first content chunk (alias `ttft`).
    LlmTtft,
    /// Token streams: per-request inter-token latency (alias `itl`).
    LlmItl,
    /// Token streams: per-request time per output token (alias `tpot`).
    LlmTpot,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Metric; 16] = [
        Metric::Connect,
        Metric::Headers,
        Metric::SseTtfb,
        Metric::FirstStage,
        Metric::SseTotalDuration,
        Metric::StageDuration,
        Metric::HttpReqFailed,
        Metric::ScanFailed,
        Metric::SseRewardNull,
        Metric::Iterations,
        Metric::DroppedIterations,
        Metric::Goodput,
        Metric::GoodFraction,
        Metric::LlmTtft,
        Metric::LlmItl,
        Metric::LlmTpot,
    ];

    /// The name used in scenario files and reports (k6's where k6 has one).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Connect => "connect",
            Metric::Headers => "headers",
            Metric::SseTtfb => "sse_ttfb",
            Metric::FirstStage => "first_stage",
            Metric::SseTotalDuration => "sse_total_duration",
            Metric::StageDuration => "stage_duration",
            Metric::HttpReqFailed => "http_req_failed",
            Metric::ScanFailed => "scan_failed",
            Metric::SseRewardNull => "sse_reward_null",
            Metric::Iterations => "iterations",
            Metric::DroppedIterations => "dropped_iterations",
            Metric::Goodput => "goodput",
            Metric::GoodFraction => "good_fraction",
            Metric::LlmTtft => "llm_ttft",
            Metric::LlmItl => "llm_itl",
            Metric::LlmTpot => "llm_tpot",
        }
    }

    /// What the metric measures.
    pub fn kind(self) -> MetricKind {
        match self {
            Metric::Connect
            | Metric::Headers
            | Metric::SseTtfb
            | Metric::FirstStage
            | Metric::SseTotalDuration
            | Metric::StageDuration
            | Metric::LlmTtft
            | Metric::LlmItl
            | Metric::LlmTpot => MetricKind::Trend,
            Metric::HttpReqFailed
            | Metric::ScanFailed
            | Metric::SseRewardNull
            | Metric::GoodFraction => MetricKind::Rate,
            Metric::Iterations | Metric::DroppedIterations | Metric::Goodput => MetricKind::Counter,
        }
    }

    /// The metric of a name: its own, or a [`Timing`]'s (`ttfb` is `sse_ttfb`).
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .or_else(|| Timing::from_name(name).and_then(Metric::of_timing))
    }

    /// The metric that thresholds a timing; `None` for the scheduling lag, which has none.
    pub fn of_timing(timing: Timing) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.timing() == Some(timing))
    }

    /// The timing whose distribution this metric reads; `None` for the rates, the counters and
    /// `stage_duration` (read from the stage of its tag).
    pub fn timing(self) -> Option<Timing> {
        match self {
            Metric::Connect => Some(Timing::Connect),
            Metric::Headers => Some(Timing::Headers),
            Metric::SseTtfb => Some(Timing::Ttfb),
            Metric::FirstStage => Some(Timing::FirstStage),
            Metric::SseTotalDuration => Some(Timing::Chain),
            Metric::LlmTtft => Some(Timing::Ttft),
            Metric::LlmItl => Some(Timing::Itl),
            Metric::LlmTpot => Some(Timing::Tpot),
            _ => None,
        }
    }
}
