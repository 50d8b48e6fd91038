//! The scenario model: what to load, how hard, and how to read the answers.
//!
//! Every type here is plain serde data with `deny_unknown_fields` and defaults, so a scenario
//! file only names what differs from the defaults. Checks that span several fields live in
//! [`crate::validate`], not in these types.

use std::collections::BTreeMap;
use std::time::Duration;

use mock_openai::MockConfig;
use reference_pipeline::PipelineConfig;
use serde::{Deserialize, Serialize};

use crate::threshold::{MetricKey, Threshold};

/// One load test: target, load profile, request, stream protocol, thresholds and, for the
/// embedded stack, the settings of the mock and the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short identifier, used in report and directory names.
    pub name: String,
    /// One line saying what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Base URL of the system under test. Absent: the embedded stack (mock-openai and
    /// reference-pipeline started in-process on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Prometheus endpoint of the target, scraped for the server view. Defaults to
    /// `{target}/metrics`; the embedded stack's is always known. `"off"` ([`SERVER_VIEW_OFF`])
    /// scrapes nothing: the report then has no server view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_metrics: Option<String>,
    /// Which embedded server the load goes to when `target` is absent.
    #[serde(default)]
    pub embedded_target: EmbeddedTarget,
    /// Multiplies every injected latency and every load duration: `0.05` runs Eco²'s
    /// three-minute test in nine seconds. Reports show figures divided back by it too.
    ///
    /// A property of the embedded stack, where the latencies are injected: against an external
    /// `target` it must be 1. `[mock] time_scale` and `[pipeline] time_scale` are factors on
    /// this one (`[mock] time_scale = 1.1` makes the mock 10 % slower than the scenario's
    /// scale).
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Seed of every random draw: request variables, and the embedded mock's latency, content
    /// and faults and the pipeline's faults (neither table may set a seed of its own).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Load profile.
    pub load: Load,
    /// The request each virtual user sends, once per iteration.
    #[serde(default)]
    pub request: Request,
    /// How to read the answer stream.
    #[serde(default)]
    pub stream: StreamSpec,
    /// Pass/fail criteria in k6's syntax, by metric: `sse_ttfb = ["p(95)<8000"]`.
    #[serde(default)]
    pub thresholds: BTreeMap<MetricKey, Vec<Threshold>>,
    /// Service-level objectives, by latency metric (the names thresholds take, with
    /// `stage_duration{stage:NAME}`): `chain = "30s"`. A request is good when it completed and
    /// each of its latencies named here, divided back by the time scale to modelled time, is
    /// at most its objective; the report then counts good requests, their fraction and the
    /// goodput, and thresholds may use `goodput` and `good_fraction`.
    #[serde(
        default,
        with = "crate::duration::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub slo: BTreeMap<MetricKey, Duration>,
    /// The embedded mock-openai's settings (ignored when `target` is set).
    #[serde(default)]
    pub mock: MockConfig,
    /// The embedded reference-pipeline's settings (ignored when `target` is set).
    #[serde(default)]
    pub pipeline: PipelineConfig,
}

/// The `target_metrics` value that turns the server view off.
pub const SERVER_VIEW_OFF: &str = "off";

/// The server of the embedded stack that is the target of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbeddedTarget {
    /// The reference pipeline (its OpenAI calls go to the embedded mock); its `/metrics` gives
    /// the server view.
    #[default]
    Pipeline,
    /// mock-openai itself, without a pipeline (`request.path` such as
    /// `/v1/chat/completions`). The run has no server view: the mock's metrics are not the
    /// Eco² dashboard's.
    MockOpenai,
}

fn one() -> f64 {
    1.0
}

fn default_seed() -> u64 {
    1
}

/// The load profile: either a closed model (virtual users, `stages`) or an open model
/// (`[load.arrival]`), plus what applies to both.
///
/// Every duration here is multiplied by the scenario's `time_scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Closed model, as k6's `ramping-vus`: ramp linearly from the previous target to each
    /// stage's `target` virtual users over its `duration`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<VuStage>,
    /// Virtual users at the start of the closed model.
    #[serde(default)]
    pub start_vus: u32,
    /// Open model, as k6's `ramping-arrival-rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<ArrivalRate>,
    /// Pause of a virtual user after each iteration (Eco²'s k6 script slept 1 s).
    #[serde(with = "crate::duration", default = "default_think_time")]
    pub think_time: Duration,
    /// After the last stage, how long running streams may still finish before they are cut.
    #[serde(with = "crate::duration", default = "default_graceful_ramp_down")]
    pub graceful_ramp_down: Duration,
    /// Longest a request may take, stream included (Eco²'s script used 120 s).
    #[serde(with = "crate::duration", default = "default_request_timeout")]
    pub request_timeout: Duration,
    /// Longest silence between two stream events (keep-alives included) before the request
    /// counts as timed out.
    #[serde(with = "crate::duration", default = "default_idle_timeout")]
    pub idle_timeout: Duration,
}

fn default_think_time() -> Duration {
    Duration::from_secs(1)
}

fn default_graceful_ramp_down() -> Duration {
    Duration::from_secs(30)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(120)
}

fn default_idle_timeout() -> Duration {
    Duration::from_secs(30)
}

/// One stage of the closed model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VuStage {
    /// How long the ramp to `target` takes.
    #[serde(with = "crate::duration")]
    pub duration: Duration,
    /// Virtual users at the end of the stage.
    pub target: u32,
}

/// The open model: requests start at a target rate whatever the target's latency, so a stall
/// cannot hide behind fewer requests (no coordinated omission).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalRate {
    /// Ramp linearly from the previous rate to each stage's `target` (requests per second).
    pub stages: Vec<RateStage>,
    /// Requests per second at the start.
    #[serde(default)]
    pub start_rate: f64,
    /// Virtual users ready at the start to take requests.
    #[serde(default = "default_pre_allocated_vus")]
    pub pre_allocated_vus: u32,
    /// Most virtual users the run may add; a request that finds none free is dropped and
    /// counted (k6's `dropped_iterations`).
    #[serde(default = "default_max_vus")]
    pub max_vus: u32,
    /// Exponential gaps between arrivals (a Poisson process) instead of even spacing.
    #[serde(default)]
    pub poisson: bool,
}

fn default_pre_allocated_vus() -> u32 {
    10
}

fn default_max_vus() -> u32 {
    100
}

/// One stage of the open model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateStage {
    /// How long the ramp to `target` takes.
    #[serde(with = "crate::duration")]
    pub duration: Duration,
    /// Requests per second at the end of the stage.
    pub target: f64,
}

/// The load model of a validated scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadModel<'a> {
    /// Virtual users loop iterations; the load follows the target's speed.
    Closed {
        /// Virtual users at the start.
        start_vus: u32,
        /// Ramp stages.
        stages: &'a [VuStage],
    },
    /// Requests arrive at a set rate.
    Open(&'a ArrivalRate),
}

impl Load {
    /// The model this profile describes. A validated scenario has exactly one; should both be
    /// present, the open model wins.
    pub fn model(&self) -> LoadModel<'_> {
        match &self.arrival {
            Some(arrival) => LoadModel::Open(arrival),
            None => LoadModel::Closed {
                start_vus: self.start_vus,
                stages: &self.stages,
            },
        }
    }

    /// Length of the profile before scaling, without the ramp-down grace.
    pub fn duration(&self) -> Duration {
        match self.model() {
            LoadModel::Closed { stages, .. } => stages.iter().map(|s| s.duration).sum(),
            LoadModel::Open(a) => a.stages.iter().map(|s| s.duration).sum(),
        }
    }

    /// Most virtual users the profile asks for.
    pub fn peak_vus(&self) -> u32 {
        match self.model() {
            LoadModel::Closed { start_vus, stages } => {
                stages.iter().map(|s| s.target).fold(start_vus, u32::max)
            }
            LoadModel::Open(a) => a.max_vus,
        }
    }
}

/// The HTTP request of one iteration. Header values and string leaves of `body` may hold
/// `{{name}}` placeholders, filled per request from [`Request::vars`] or the built-ins `vu`
/// (1-based virtual-user number) and `iteration` (0-based, per virtual user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path and query, appended to the target's base URL.
    pub path: String,
    /// Request headers.
    pub headers: BTreeMap<String, String>,
    /// JSON body template; absent sends no body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Per-request variables.
    pub vars: BTreeMap<String, Var>,
}

/// Names every request template may use without declaring them.
pub const BUILTIN_VARS: [&str; 2] = ["vu", "iteration"];

impl Default for Request {
    /// The reference pipeline's streaming scan request, as Eco²'s k6 script sent it.
    fn default() -> Self {
        let headers = [
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
            ("x-user-id", "{{user_id}}"),
        ];
        let images = [
            "pet-bottle",
            "beer-can",
            "snack-wrapper",
            "newspaper",
            "styrofoam-box",
        ]
        .map(|name| format!("https://images.scan-bench.test/{name}.jpg"));
        Self {
            method: "POST".into(),
            path: "/api/v1/scan/classify/completion".into(),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            body: Some(serde_json::json!({
                "image_url": "{{image_url}}",
                "user_input": "How do I throw this away?",
            })),
            vars: BTreeMap::from([
                (
                    "image_url".into(),
                    Var::OneOf {
                        values: images.into(),
                    },
                ),
                ("user_id".into(), Var::VuUuid),
            ]),
        }
    }
}

/// A per-request variable of the request template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Var {
    /// A value drawn at random (seeded) for each request.
    OneOf {
        /// The values to draw from.
        values: Vec<String>,
    },
    /// The values in turn, shared by all virtual users.
    Cycle {
        /// The values to cycle through.
        values: Vec<String>,
    },
    /// A UUID fixed per virtual user and derived from the scenario's `seed`, like a logged-in user.
    VuUuid,
    /// A fresh random UUID per request.
    Uuid,
}

/// How to read the answer stream: which events are stages, which ends the run, which is an
/// error. Defaults to the reference pipeline's `eco2-v1` protocol (bare `data:` JSON lines
/// with `step` and `status`).
///
/// The shapes of stream it describes:
///
/// ```toml
/// # Eco²'s published protocol (the default): the stage at /step, its status at /status.
/// stage_name = "/step"
///
/// # Eco²'s later protocol: `event: vision` with a status in the data, `event: done` at the end.
/// stage_name = "event"
/// terminal = [{ event = "done" }]
///
/// # One event per stage, sent when the stage is done, with no status.
/// stage_name = "event"
/// stage_timing = "since-previous"
///
/// # No stages: OpenAI's chat completion stream, done at `data: [DONE]`.
/// stages = []
/// terminal = [{ data = "[DONE]" }]
/// ```
///
/// A `terminal` or `error` rule on the raw `data` text is tried first; every other event's
/// data must be JSON (else `malformed_event`). An event named `keepalive` counts as a
/// keep-alive, as `: keepalive` comments do. Every event is read through a bounded framer: a
/// line, or an event's data, longer than `max_event_bytes` ends the stream as
/// `malformed_event` and drops the connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamSpec {
    /// The stages a complete run goes through, in order. Empty: the stream has no stages and
    /// is completed by its terminal event alone.
    pub stages: Vec<String>,
    /// Where a stage event names its stage: `"event"` (the SSE event name, `event: vision`)
    /// or a JSON pointer into its data (`"/step"`). `stage_field`, the older spelling, takes
    /// a pointer.
    #[serde(alias = "stage_field")]
    pub stage_name: StageName,
    /// SSE event name of stage events; absent means any event (including unnamed ones). Only
    /// with a pointer `stage_name`: with `"event"` every event name is a candidate stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_event: Option<String>,
    /// How a stage's start and end are found, and so what `stage_duration` measures.
    pub stage_timing: StageTimingRule,
    /// JSON pointer to the stage's status (read with `stage_timing = "status"`).
    pub status_field: String,
    /// Status values that mark a stage started (with `stage_timing = "status"`).
    pub started: Vec<String>,
    /// Status values that mark a stage completed (with `stage_timing = "status"`). A stage may
    /// be reported completed twice; the first one counts (as Eco²'s k6 script de-duplicated by
    /// step).
    pub completed: Vec<String>,
    /// Events that end a run normally.
    pub terminal: Vec<EventMatch>,
    /// Events that end a run with an error.
    pub error: Vec<EventMatch>,
    /// JSON pointers into the terminal event's data counted when `null` (Eco²'s
    /// `sse_reward_null`).
    pub null_checks: Vec<String>,
    /// Longest line, and longest event data (its `data:` lines joined), the reader accepts, in
    /// bytes. A longer one ends the stream as `malformed_event`, and the connection is dropped
    /// without reading on.
    pub max_event_bytes: u64,
    /// Set when the stream carries LLM output tokens (`[stream.tokens]`): where the content
    /// deltas and the usage are, for the token metrics (`ttft`, `itl`, `tpot`, `chunk_gap`,
    /// `output_tokens`) and the buffered-stream check. Absent: no token metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSpec>,
}

/// Where an LLM token stream carries its output (`[stream.tokens]`). The defaults read
/// OpenAI's chat completions; the Responses API's stream is
///
/// ```toml
/// [stream.tokens]
/// event = "response.output_text.delta"
/// content = "/delta"
/// usage = "/response/usage/output_tokens"
/// ```
///
/// A *content chunk* is an event (of the name `event`, when given) whose data holds a
/// non-empty string at `content`. The output tokens of a request are the last number seen at
/// `usage` in any event, else the count of its content chunks (one token per chunk, which
/// undercounts a server that sends several tokens in one chunk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSpec {
    /// SSE event name of content events; absent means any event (chat completions' chunks are
    /// unnamed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// JSON pointer to the text delta of a content event.
    pub content: String,
    /// JSON pointer to the output token count the server reports (a number), in whichever
    /// event carries it. Chat completions send it only when asked
    /// (`stream_options = { include_usage = true }`).
    pub usage: String,
    /// The buffered-stream rule: a stream whose content chunks (at least
    /// `buffered_min_chunks`) all arrived within `buffered_within` of the first, after a
    /// time to first token of at least `buffered_after`, was held back and sent at once by
    /// something between the model and the client. Both durations are multiplied by the
    /// scenario's `time_scale`.
    pub buffered_min_chunks: u32,
    /// See [`TokenSpec::buffered_min_chunks`].
    #[serde(with = "crate::duration")]
    pub buffered_within: Duration,
    /// See [`TokenSpec::buffered_min_chunks`].
    #[serde(with = "crate::duration")]
    pub buffered_after: Duration,
}

impl Default for TokenSpec {
    fn default() -> Self {
        Self {
            event: None,
            content: "/choices/0/delta/content".into(),
            usage: "/usage/completion_tokens".into(),
            buffered_min_chunks: 3,
            buffered_within: Duration::from_millis(5),
            buffered_after: Duration::from_millis(50),
        }
    }
}

/// The default [`StreamSpec::max_event_bytes`]: 1 MiB, a thousand times an Eco² result.
pub const DEFAULT_MAX_EVENT_BYTES: u64 = 1 << 20;

impl Default for StreamSpec {
    fn default() -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Self {
            stages: strings(&["vision", "rule", "answer", "reward"]),
            stage_name: StageName::Pointer("/step".into()),
            stage_event: None,
            stage_timing: StageTimingRule::Status,
            status_field: "/status".into(),
            started: strings(&["started"]),
            completed: strings(&["completed"]),
            terminal: vec![EventMatch {
                event: None,
                data: None,
                fields: BTreeMap::from([
                    ("/step".into(), strings(&["reward"])),
                    ("/status".into(), strings(&["completed"])),
                ]),
            }],
            error: vec![EventMatch {
                event: None,
                data: None,
                fields: BTreeMap::from([(
                    "/status".into(),
                    strings(&["error", "timeout", "failed"]),
                )]),
            }],
            null_checks: strings(&["/result/reward"]),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            tokens: None,
        }
    }
}

/// Where a stage event names its stage: in TOML, `"event"` or a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageName {
    /// The SSE event name is the stage (`event: vision`); an unnamed event is `message`.
    Event,
    /// The string at this JSON pointer (RFC 6901) in the event's data, e.g. `/step`.
    Pointer(String),
}

impl StageName {
    /// The TOML spelling of [`StageName::Event`].
    pub const EVENT: &'static str = "event";

    /// The pointer, unless the event name is the stage.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            StageName::Event => None,
            StageName::Pointer(p) => Some(p),
        }
    }
}

impl Serialize for StageName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.pointer().unwrap_or(Self::EVENT))
    }
}

impl<'de> Deserialize<'de> for StageName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = StageName;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"event\" or a JSON pointer such as \"/step\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StageName, E> {
                // A pointer is checked with the other fields in `validate`.
                Ok(if v == StageName::EVENT {
                    StageName::Event
                } else {
                    StageName::Pointer(v.to_owned())
                })
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// How a stage's start and end are found in the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageTimingRule {
    /// A stage event carries a status at `status_field`: a `started` value starts the stage,
    /// a `completed` value ends it; the duration runs from one to the other.
    #[default]
    Status,
    /// One event per stage, sent when the stage is done, with no status: its arrival
    /// completes the stage, and the duration runs from the last stage completion before it,
    /// or from the request's start when there was none (so the first stage includes the
    /// connection and the response head). A stage reported twice counts once, the first time.
    SincePrevious,
}

/// Matches an SSE event by name, by its raw data, and by values inside its JSON data.
///
/// ```toml
/// terminal = [{ event = "ready" }]
/// error = [{ fields = { "/status" = ["error", "timeout"] } }]
/// terminal = [{ data = "[DONE]" }]      # OpenAI's streams
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// The event name must equal this, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The event's data must equal this text, when given (it need not be JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Each JSON pointer must hold a string equal to one of the values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<String>>,
}

impl EventMatch {
    /// Matches every event of this SSE name: `{ event = "done" }`.
    pub fn named(name: &str) -> Self {
        Self {
            event: Some(name.to_owned()),
            data: None,
            fields: BTreeMap::new(),
        }
    }

    /// Matches every event whose raw data is this text: `{ data = "[DONE]" }`.
    pub fn data(text: &str) -> Self {
        Self {
            event: None,
            data: Some(text.to_owned()),
            fields: BTreeMap::new(),
        }
    }
}
