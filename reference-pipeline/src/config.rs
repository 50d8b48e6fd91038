//! [`PipelineConfig`]: the whole service configuration as serde data, validated in one place.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scan_config::{ConfigError, Delay, FieldPath, Invalid};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Configuration of the pipeline service (the `[pipeline]` table of a scenario).
///
/// Every field has a default, so an empty table is a working async-mode service pointed at an
/// OpenAI-compatible server on `http://127.0.0.1:8080/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Stream framing: the seed's bare `data:` lines or the later named events.
    pub protocol: Protocol,
    /// How chains are executed: `"async"`, `{ kind = "threadpool", workers = 6 }` or
    /// `{ kind = "staged", ... }`.
    pub mode: Mode,
    /// Streams served at once; one more is answered 503 at once (admission).
    pub max_inflight: usize,
    /// Multiplies every injected delay (hop latency, subscription set-up, retry back-off), every
    /// timeout and the keep-alive interval. `0.01` runs Eco²'s seconds as tens of
    /// milliseconds. Within a scenario it is a factor on the scenario's `time_scale`.
    pub time_scale: f64,
    /// Silence after which a `: keepalive` comment is sent (the seed: 1 s).
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
    /// A stream still running after this ends with a `timeout` event (the seed: 120 s).
    #[serde(with = "humantime_serde")]
    pub chain_timeout: Duration,
    /// On shutdown, how long in-flight chains may run before they are ended with an error event.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Keep parsed disposal-rule documents in memory (the authors' Redis idea).
    pub rule_cache: bool,
    /// SQLite file holding character ownership; omitted = an in-memory database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<PathBuf>,
    /// The OpenAI-compatible upstreams and the call policy.
    pub openai: OpenAiConfig,
    /// Hard limit of each stage's execution (retries included).
    pub stage_timeouts: StageTimeouts,
    /// Faults injected into scan streams (none by default).
    pub faults: FaultConfig,
    /// Database latencies of the rule and reward stages (none by default).
    pub storage: Storage,
    /// API replicas behind a balancer, with an autoscaler and a liveness probe (one replica
    /// that never restarts by default).
    pub cluster: ClusterConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Eco2V1,
            mode: Mode::Async,
            max_inflight: 4096,
            time_scale: 1.0,
            keepalive: Duration::from_secs(1),
            chain_timeout: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(10),
            rule_cache: true,
            database: None,
            openai: OpenAiConfig::default(),
            stage_timeouts: StageTimeouts::default(),
            faults: FaultConfig::default(),
            storage: Storage::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

/// Framing of the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Bare `data:` JSON lines, as in the published test (`"eco2-v1"`).
    #[serde(rename = "eco2-v1")]
    Eco2V1,
    /// `event: stage` / `event: ready` / `event: error`, as in later versions (`"named-events"`).
    #[serde(rename = "named-events")]
    NamedEvents,
}

/// Execution structure of the chains.
///
/// In TOML either a bare name (`"async"`, `"threadpool"`, `"staged"`, each with its defaults) or
/// a table with a `kind` key and the mode's fields.
#[derive(Debug, Clone, PartialEq, Default)]
#[expect(
    clippy::large_enum_variant,
    reason = "read once per service; a box would only complicate matching on it"
)]
pub enum Mode {
    /// One task per run on the tokio runtime.
    #[default]
    Async,
    /// Stages on a pool of `workers` OS threads, each blocked for its stage's duration; every
    /// stage of a run is one job at the back of one FIFO queue (the v1.0.0 design: a blocking
    /// call per `asyncio.to_thread` on a default executor of 6).
    Threadpool {
        /// Number of OS threads.
        workers: usize,
    },
    /// A queue and a worker pool per stage with a hop latency before each stage, plus a
    /// per-request event subscription set up before the first event (the Celery chain).
    Staged(StagedMode),
}

impl Mode {
    /// The seed's v1.0.0 thread pool (2 + 4 threads).
    pub const SEED_THREADPOOL_WORKERS: usize = 6;

    /// The mode's name as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Threadpool { .. } => "threadpool",
            Mode::Staged(_) => "staged",
        }
    }
}

/// The `staged` mode: per-stage pools and the subscription pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StagedMode {
    /// Vision stage pool.
    pub vision: StagePool,
    /// Rule stage pool.
    pub rule: StagePool,
    /// Answer stage pool.
    pub answer: StagePool,
    /// Reward stage pool.
    pub reward: StagePool,
    /// The character-match pool the reward stage asks (the seed: 16 threads).
    pub character_match: StagePool,
    /// The per-request event subscription.
    pub subscription: Subscription,
    /// The worker processes' CPU, shared by every stage task (none by default).
    pub worker_cpu: WorkerCpu,
}

/// The CPU of the stage workers: every stage task needs `task_cpu` of it once started (the
/// event loop's share of a task: messages, serialization, result writes), served one task per
/// core at a time in arrival order. gevent runs all of a process's greenlets on one core, so
/// under load every stage waits for the core, and the wait counts inside the stage as the API
/// times it (started to completed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerCpu {
    /// Tasks served at once (processes x cores).
    pub cores: usize,
    /// CPU time of one stage task; `"0s"` = no CPU model.
    pub task_cpu: Delay,
}

impl Default for WorkerCpu {
    fn default() -> Self {
        Self {
            cores: 1,
            task_cpu: Delay::default(),
        }
    }
}

impl Default for StagedMode {
    /// The seed's Celery set-up: gevent 100 on every stage queue, character match 16.
    fn default() -> Self {
        let stage = StagePool::default();
        Self {
            vision: stage.clone(),
            rule: stage.clone(),
            answer: stage.clone(),
            reward: stage.clone(),
            character_match: StagePool {
                workers: 16,
                ..stage
            },
            subscription: Subscription::default(),
            worker_cpu: WorkerCpu::default(),
        }
    }
}

/// A bounded queue served by a fixed number of workers, reached after a hop latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StagePool {
    /// Jobs run at once.
    pub workers: usize,
    /// Jobs waiting for a worker; a full queue holds the sender back.
    pub queue: usize,
    /// Delay before a job reaches the queue (the broker hop): `"100ms"`, or
    /// `{ median = "100ms", p95 = "400ms" }` for a lognormal spread.
    pub hop_latency: Delay,
}

impl Default for StagePool {
    fn default() -> Self {
        Self {
            workers: 100,
            queue: 10_000,
            hop_latency: Delay::fixed(Duration::from_millis(100)),
        }
    }
}

/// The per-request event subscription of the staged mode: a slot from a bounded pool, held for
/// the stream's life, set up before the `started` event goes out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Subscription {
    /// Subscriptions open at once (broker connections).
    pub pool: usize,
    /// Time to set one up once a slot is free.
    #[serde(with = "humantime_serde")]
    pub setup: Duration,
    /// Longest wait for a subscription; after it the run starts without one (the seed waited
    /// up to 5 s).
    #[serde(with = "humantime_serde")]
    pub ready_timeout: Duration,
}

impl Default for Subscription {
    fn default() -> Self {
        Self {
            pool: 20,
            setup: Duration::from_millis(50),
            ready_timeout: Duration::from_secs(5),
        }
    }
}

/// OpenAI-compatible upstreams and the call policy shared by the vision and answer stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// Base URLs (ending in `/v1`) with their keys; several spread or absorb rate limits.
    pub providers: Vec<Provider>,
    /// Which provider a call tries first.
    pub routing: Routing,
    /// Model of the vision stage (Responses API).
    pub vision_model: String,
    /// Model of the answer stage (chat completions).
    pub answer_model: String,
    /// Limit of one HTTP attempt (the seed's 60 s soft limit).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Attempts after the first on 429, 5xx, timeouts and connection errors (the seed: 2).
    pub max_retries: u32,
    /// First back-off step; attempt n waits a uniform draw from 0 to `base * 2^n` (full jitter),
    /// at least the server's `retry-after`.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Cap of one back-off step.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Requests in flight per provider at most; more wait for a free one (the OpenAI Python
    /// SDK's default connection limit is 1000). Also the idle connections kept per provider.
    pub max_connections: usize,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            providers: vec![Provider::new("http://127.0.0.1:8080/v1")],
            routing: Routing::RoundRobin,
            vision_model: "gpt-4o".into(),
            answer_model: "gpt-4o-mini".into(),
            request_timeout: Duration::from_secs(60),
            max_retries: 2,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_connections: 1000,
        }
    }
}

/// One OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Base URL including the version segment, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer token; omitted = no `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Name of an environment variable holding the key, read at start (keeps keys out of files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Extra request headers, e.g. an organisation id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Provider {
    /// A provider without key or headers.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            api_key_env: None,
            headers: BTreeMap::new(),
        }
    }
}

/// Provider choice per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// Calls start on the providers in turn; a limited provider is skipped until its
    /// `retry-after` has passed.
    RoundRobin,
    /// Calls start on the first provider and move to the next one on 429, 5xx or timeout.
    Failover,
}

/// Hard execution limit per stage, retries included (the seed: 90 s for the OpenAI stages,
/// 60 s for rule and reward, 10 s for the character match).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageTimeouts {
    /// Vision stage.
    #[serde(with = "humantime_serde")]
    pub vision: Duration,
    /// Rule stage.
    #[serde(with = "humantime_serde")]
    pub rule: Duration,
    /// Answer stage.
    #[serde(with = "humantime_serde")]
    pub answer: Duration,
    /// Reward stage.
    #[serde(with = "humantime_serde")]
    pub reward: Duration,
    /// The reward stage's character match; past it the reward is null.
    #[serde(with = "humantime_serde")]
    pub character_match: Duration,
}

impl Default for StageTimeouts {
    fn default() -> Self {
        Self {
            vision: Duration::from_secs(90),
            rule: Duration::from_secs(60),
            answer: Duration::from_secs(90),
            reward: Duration::from_secs(60),
            character_match: Duration::from_secs(10),
        }
    }
}

/// Faults injected into scan streams (`POST /api/v1/scan/classify/completion` requests that run
/// a chain; the non-streaming endpoint and the image-URL error are never faulted), so that a
/// client meets each of its failure classes on purpose.
///
/// Each stream suffers at most one fault, drawn with these probabilities (each from 0 to 1,
/// their sum at most 1) from a generator seeded by `seed`: the same seed and the same order of
/// requests give the same faults at the same places. The header
/// `x-pipeline-fault: drop|malformed|error|stall|none` forces one on a request. Injected faults
/// are counted in `scan_pipeline_faults_total{kind}` when they reach the stream, and the stream
/// in `scan_sse_requests_total{status}` with the status given below, as the client sees it.
///
/// | key | header | the stream | client outcome | `status` |
/// |---|---|---|---|---|
/// | `p_drop_stream` | `drop` | closed cleanly after a random stage event: no terminal, no error event | partial | `failed` |
/// | `p_malformed_event` | `malformed` | one line `data: {"step": "vision", "status":` at a random point, then the run as usual | malformed event | `failed` |
/// | `p_error_event` | `error` | `{"status": "error", "error": "INJECTED_FAULT"}` at a random point ends it | error event | `failed` |
/// | `p_stall` | `stall` | after the first stage event no byte at all, not even keep-alives, for `stall_for`; then closed | idle timeout | `timeout` |
///
/// A fault due after the point where the run ends anyway (a failed stage, the chain timeout)
/// fires at that point: the terminal event is withheld (a malformed line goes out just before
/// it). The `named-events` protocol gets the same faults in
/// its framing (`event: stage` over the malformed line, `event: error` over the error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Seed of the fault draws. Within a scenario the scenario's `seed` sets it.
    #[serde(skip_serializing_if = "is_zero")]
    pub seed: u64,
    /// Stream closed after a stage event, without its terminal event.
    pub p_drop_stream: f64,
    /// One invalid-JSON data line, then the stream as usual.
    pub p_malformed_event: f64,
    /// The stream ended by an `INJECTED_FAULT` error event.
    pub p_error_event: f64,
    /// Silence after the first stage event for `stall_for`, then the stream closed.
    pub p_stall: f64,
    /// Length of a stall; scaled by `time_scale`.
    #[serde(with = "humantime_serde")]
    pub stall_for: Duration,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            p_drop_stream: 0.0,
            p_malformed_event: 0.0,
            p_error_event: 0.0,
            p_stall: 0.0,
            stall_for: Duration::from_secs(30),
        }
    }
}

impl FaultConfig {
    /// The probabilities with their field names, in draw order.
    pub(crate) fn probabilities(&self) -> [(&'static str, f64); 4] {
        [
            ("p_drop_stream", self.p_drop_stream),
            ("p_malformed_event", self.p_malformed_event),
            ("p_error_event", self.p_error_event),
            ("p_stall", self.p_stall),
        ]
    }
}

/// Time spent in the database by the stages that use one: the rule lookup when the rule
/// cache does not answer it (the seed queried PostgreSQL), and the ownership write of a
/// matched reward. Each is a [`Delay`]: `"300ms"`, or e.g. `{ median = "300ms", p95 = "900ms" }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// One rule lookup that misses the cache (every lookup without the cache).
    pub rule_query: Delay,
    /// One character-ownership write.
    pub ownership_write: Delay,
}

/// The API tier as the seed deployed it: replicas behind a balancer (Envoy), an autoscaler
/// (the HPA) and a liveness probe. The chain's workers are shared by every replica, as the
/// Celery workers were; a replica holds the streams it relays.
///
/// - The balancer sends each request to the ready replica with the fewest streams; with no
///   replica ready it answers 503 `NO_HEALTHY_UPSTREAM` at once (counted in
///   `scan_pipeline_upstream_unavailable_total`, not in `scan_sse_requests_total`).
/// - The autoscaler looks every `sync_period` at the streams in flight and wants
///   `ceil(streams / target_streams)` replicas, within `min_replicas..=max_replicas`; a new
///   replica is ready `reaction_delay + startup` later. It removes replicas only after wanting fewer for
///   `scale_down_after` (the HPA's stabilisation window), once they are idle.
/// - The liveness probe restarts a replica that has held more than `liveness.max_streams`
///   streams for `liveness.failure_after`: its streams are cut (counted `failed`; their runs
///   are cancelled) and it is ready again `startup` later.
///
/// Every duration is scaled by the pipeline's `time_scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Replicas ready when the service starts, and the autoscaler's floor.
    pub min_replicas: usize,
    /// The autoscaler's ceiling.
    pub max_replicas: usize,
    /// Streams per replica the autoscaler aims at (stands for the seed's 70 % CPU target).
    pub target_streams: usize,
    /// How often the autoscaler decides (the HPA: 15 s).
    #[serde(with = "humantime_serde")]
    pub sync_period: Duration,
    /// From a decision to add replicas to their creation: the age of the load figures it
    /// acts on (metrics-server samples every 60 s by default).
    #[serde(with = "humantime_serde")]
    pub reaction_delay: Duration,
    /// From a replica's creation or restart to its readiness.
    #[serde(with = "humantime_serde")]
    pub startup: Duration,
    /// How long the autoscaler must want fewer replicas before removing one (the HPA: 5 min).
    #[serde(with = "humantime_serde")]
    pub scale_down_after: Duration,
    /// The liveness probe; omitted = replicas never restart.
    pub liveness: Option<Liveness>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            min_replicas: 1,
            max_replicas: 1,
            target_streams: 100,
            sync_period: Duration::from_secs(15),
            reaction_delay: Duration::ZERO,
            startup: Duration::from_secs(30),
            scale_down_after: Duration::from_secs(300),
            liveness: None,
        }
    }
}

impl ClusterConfig {
    /// Whether anything ever changes: more than one replica possible, or restarts.
    pub(crate) fn is_dynamic(&self) -> bool {
        self.max_replicas > self.min_replicas || self.liveness.is_some()
    }
}

/// When a replica counts as dead: more than `max_streams` streams, for `failure_after` (the
/// probe's period times its failure threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Liveness {
    /// Streams a replica holds before its probe starts failing.
    pub max_streams: usize,
    /// How long the probe must fail before the replica is restarted.
    #[serde(with = "humantime_serde")]
    pub failure_after: Duration,
}

impl PipelineConfig {
    /// Parses a TOML document holding the fields of this struct at the top level, then
    /// validates it. `origin` names the text in errors (usually the file name).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = scan_config::from_toml_str(text, origin)?;
        config
            .validate()
            .map_err(|e| ConfigError::invalid_in(e, text, origin))?;
        Ok(config)
    }

    /// Reads and parses a TOML file (see [`PipelineConfig::from_toml_str`]).
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        Self::from_toml_str(&ConfigError::read(path)?, &path.display().to_string())
    }

    /// Checks every field; [`crate::Pipeline::start`] refuses a config that fails this.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(Invalid::new(
                field("time_scale"),
                "a finite number > 0 (e.g. 0.01 for hundredfold faster delays)",
                self.time_scale,
            ));
        }
        at_least(field("max_inflight"), self.max_inflight, 1)?;
        positive(field("keepalive"), self.keepalive)?;
        positive(field("chain_timeout"), self.chain_timeout)?;
        self.mode.validate().map_err(|e| e.within("mode"))?;
        self.openai.validate().map_err(|e| e.within("openai"))?;
        self.stage_timeouts
            .validate()
            .map_err(|e| e.within("stage_timeouts"))?;
        self.faults.validate().map_err(|e| e.within("faults"))?;
        self.storage.validate().map_err(|e| e.within("storage"))?;
        self.cluster.validate().map_err(|e| e.within("cluster"))
    }

    /// `d` multiplied by [`PipelineConfig::time_scale`].
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }
}

impl Mode {
    /// Checks the pools of the mode.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            Mode::Async => Ok(()),
            Mode::Threadpool { workers } => in_range(FieldPath::root("workers"), *workers, 1, 4096),
            Mode::Staged(staged) => staged.validate(),
        }
    }
}

impl StagedMode {
    /// Checks every pool, the subscription and the worker CPU.
    pub fn validate(&self) -> Result<(), Invalid> {
        for (name, pool) in self.pools() {
            pool.validate().map_err(|e| e.within(name))?;
        }
        let subscription = FieldPath::root("subscription");
        at_least(subscription.key("pool"), self.subscription.pool, 1)?;
        let cpu = FieldPath::root("worker_cpu");
        in_range(cpu.key("cores"), self.worker_cpu.cores, 1, 4096)?;
        distribution(cpu.key("task_cpu"), &self.worker_cpu.task_cpu)?;
        positive(
            subscription.key("ready_timeout"),
            self.subscription.ready_timeout,
        )
    }

    /// The stage pools with their names.
    fn pools(&self) -> [(&'static str, &StagePool); 5] {
        [
            ("vision", &self.vision),
            ("rule", &self.rule),
            ("answer", &self.answer),
            ("reward", &self.reward),
            ("character_match", &self.character_match),
        ]
    }
}

impl StagePool {
    /// Checks the pool's size, queue and hop latency.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        in_range(field("workers"), self.workers, 1, 100_000)?;
        distribution(field("hop_latency"), &self.hop_latency)?;
        at_least(field("queue"), self.queue, 1)
    }
}

impl OpenAiConfig {
    /// Checks the providers, the models and the call policy.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        if self.providers.is_empty() {
            return Err(Invalid::new(
                field("providers"),
                "at least one provider, e.g. [{ base_url = \"http://127.0.0.1:8080/v1\" }]",
                "an empty list",
            ));
        }
        for (i, provider) in self.providers.iter().enumerate() {
            provider
                .validate()
                .map_err(|e| e.under(&FieldPath::root("providers").index(i)))?;
        }
        for (name, model) in [
            ("vision_model", &self.vision_model),
            ("answer_model", &self.answer_model),
        ] {
            if model.trim().is_empty() {
                return Err(Invalid::new(field(name), "a model name", "\"\""));
            }
        }
        positive(field("request_timeout"), self.request_timeout)?;
        in_range(field("max_connections"), self.max_connections, 1, 100_000)?;
        in_range(field("max_retries"), self.max_retries as usize, 0, 20)?;
        if self.backoff_max < self.backoff_base {
            return Err(Invalid::new(
                field("backoff_max"),
                "a duration >= openai.backoff_base",
                humantime::format_duration(self.backoff_max),
            ));
        }
        Ok(())
    }
}

impl Provider {
    /// Checks the URL and the headers.
    pub fn validate(&self) -> Result<(), Invalid> {
        let http = url::Url::parse(&self.base_url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
        if !http {
            return Err(Invalid::new(
                FieldPath::root("base_url"),
                "an http(s) URL such as \"http://127.0.0.1:8080/v1\"",
                format!("{:?}", self.base_url),
            ));
        }
        for (name, value) in &self.headers {
            let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && http::HeaderValue::from_str(value).is_ok();
            if !valid {
                return Err(Invalid::new(
                    FieldPath::root("headers"),
                    "valid HTTP header names and values",
                    format!("{name:?} = {value:?}"),
                ));
            }
        }
        Ok(())
    }
}

impl StageTimeouts {
    /// Checks that every limit is above 0.
    pub fn validate(&self) -> Result<(), Invalid> {
        for (name, d) in [
            ("vision", self.vision),
            ("rule", self.rule),
            ("answer", self.answer),
            ("reward", self.reward),
            ("character_match", self.character_match),
        ] {
            positive(FieldPath::root(name), d)?;
        }
        Ok(())
    }
}

impl FaultConfig {
    /// Checks each probability, their sum and the stall.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut sum = 0.0;
        for (name, p) in self.probabilities() {
            if !(0.0..=1.0).contains(&p) {
                return Err(Invalid::new(
                    FieldPath::root(name),
                    "a probability from 0 to 1",
                    p,
                ));
            }
            sum += p;
        }
        // A little slack for sums such as 0.1 + 0.2 + 0.7.
        if sum > 1.0 + 1e-9 {
            return Err(Invalid::new(
                FieldPath::default(),
                "probabilities that add up to at most 1",
                format!("a sum of {sum}"),
            ));
        }
        positive(FieldPath::root("stall_for"), self.stall_for)
    }
}

impl Storage {
    /// Checks both latencies.
    pub fn validate(&self) -> Result<(), Invalid> {
        distribution(FieldPath::root("rule_query"), &self.rule_query)?;
        distribution(FieldPath::root("ownership_write"), &self.ownership_write)
    }
}

impl ClusterConfig {
    /// Checks the replica bounds, the autoscaler and the probe.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        in_range(field("min_replicas"), self.min_replicas, 1, 1000)?;
        in_range(
            field("max_replicas"),
            self.max_replicas,
            self.min_replicas,
            1000,
        )?;
        at_least(field("target_streams"), self.target_streams, 1)?;
        positive(field("sync_period"), self.sync_period)?;
        if let Some(liveness) = &self.liveness {
            let at = field("liveness");
            at_least(at.key("max_streams"), liveness.max_streams, 1)?;
            positive(at.key("failure_after"), liveness.failure_after)?;
        }
        Ok(())
    }
}

fn at_least(field: FieldPath, value: usize, min: usize) -> Result<(), Invalid> {
    if value < min {
        return Err(Invalid::new(field, format!("an integer >= {min}"), value));
    }
    Ok(())
}

fn in_range(field: FieldPath, value: usize, min: usize, max: usize) -> Result<(), Invalid> {
    if !(min..=max).contains(&value) {
        return Err(Invalid::new(
            field,
            format!("an integer from {min} to {max}"),
            value,
        ));
    }
    Ok(())
}

fn distribution(field: FieldPath, delay: &Delay) -> Result<(), Invalid> {
    delay.validate().map_err(|e| e.under(&field))
}

fn positive(field: FieldPath, d: Duration) -> Result<(), Invalid> {
    if d.is_zero() {
        return Err(Invalid::new(
            field,
            "a duration > 0 such as \"500ms\" or \"1m30s\"",
            "0s",
        ));
    }
    Ok(())
}

// `mode` reads as a bare name or as a table tagged with `kind`. The table is read as one flat
// struct rather than as a serde-tagged enum: tagged enums buffer their input, which loses the
// line/column and field path of errors inside the table.

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ModeTable<'a> {
    Threadpool { workers: usize },
    Staged(&'a StagedMode),
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ModeKind {
    Async,
    Threadpool,
    Staged,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeFields {
    kind: ModeKind,
    workers: Option<usize>,
    vision: Option<StagePool>,
    rule: Option<StagePool>,
    answer: Option<StagePool>,
    reward: Option<StagePool>,
    character_match: Option<StagePool>,
    subscription: Option<Subscription>,
    worker_cpu: Option<WorkerCpu>,
}

impl ModeFields {
    fn into_mode<E: de::Error>(self) -> Result<Mode, E> {
        let staged_fields = [
            ("vision", self.vision.is_some()),
            ("rule", self.rule.is_some()),
            ("answer", self.answer.is_some()),
            ("reward", self.reward.is_some()),
            ("character_match", self.character_match.is_some()),
            ("subscription", self.subscription.is_some()),
            ("worker_cpu", self.worker_cpu.is_some()),
        ];
        let misplaced = |kind: &str, allowed: &[&str]| {
            let given = std::iter::once(("workers", self.workers.is_some()))
                .chain(staged_fields)
                .find(|(name, given)| *given && !allowed.contains(name));
            match given {
                Some((name, _)) => Err(E::custom(format!(
                    "`{name}` is not a setting of mode kind \"{kind}\""
                ))),
                None => Ok(()),
            }
        };
        match self.kind {
            ModeKind::Async => {
                misplaced("async", &[])?;
                Ok(Mode::Async)
            }
            ModeKind::Threadpool => {
                misplaced("threadpool", &["workers"])?;
                Ok(Mode::Threadpool {
                    workers: self.workers.unwrap_or(Mode::SEED_THREADPOOL_WORKERS),
                })
            }
            ModeKind::Staged => {
                misplaced(
                    "staged",
                    &[
                        "vision",
                        "rule",
                        "answer",
                        "reward",
                        "character_match",
                        "subscription",
                        "worker_cpu",
                    ],
                )?;
                let d = StagedMode::default();
                Ok(Mode::Staged(StagedMode {
                    vision: self.vision.unwrap_or(d.vision),
                    rule: self.rule.unwrap_or(d.rule),
                    answer: self.answer.unwrap_or(d.answer),
                    reward: self.reward.unwrap_or(d.reward),
                    character_match: self.character_match.unwrap_or(d.character_match),
                    subscription: self.subscription.unwrap_or(d.subscription),
                    worker_cpu: self.worker_cpu.unwrap_or(d.worker_cpu),
                }))
            }
        }
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Mode::Async => serializer.serialize_str("async"),
            Mode::Threadpool { workers } => {
                ModeTable::Threadpool { workers: *workers }.serialize(serializer)
            }
            Mode::Staged(staged) => ModeTable::Staged(staged).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;

        impl<'de> Visitor<'de> for ModeVisitor {
            type Value = Mode;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"async\", \"threadpool\", \"staged\" or a table such as \
                     { kind = \"threadpool\", workers = 6 }",
                )
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Mode, E> {
                match name {
                    "async" => Ok(Mode::Async),
                    "threadpool" => Ok(Mode::Threadpool {
                        workers: Mode::SEED_THREADPOOL_WORKERS,
                    }),
                    "staged" => Ok(Mode::Staged(StagedMode::default())),
                    other => Err(E::unknown_variant(
                        other,
                        &["async", "threadpool", "staged"],
                    )),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Mode, A::Error> {
                ModeFields::deserialize(de::value::MapAccessDeserializer::new(map))?.into_mode()
            }
        }

        deserializer.deserialize_any(ModeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_through_toml() {
        let config = PipelineConfig::default();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(PipelineConfig::from_toml_str(&text, "t").unwrap(), config);
    }

    #[test]
    fn every_mode_round_trips_through_toml() {
        for mode in [
            Mode::Async,
            Mode::Threadpool { workers: 10 },
            Mode::Staged(StagedMode::default()),
        ] {
            let config = PipelineConfig {
                mode,
                ..PipelineConfig::default()
            };
            let text = toml::to_string(&config).unwrap();
            assert_eq!(PipelineConfig::from_toml_str(&text, "t").unwrap(), config);
        }
    }

    #[test]
    fn mode_reads_names_and_tables() {
        let parse = |text: &str| PipelineConfig::from_toml_str(text, "t").unwrap().mode;
        assert_eq!(parse("mode = \"async\""), Mode::Async);
        assert_eq!(
            parse("mode = \"threadpool\""),
            Mode::Threadpool { workers: 6 }
        );
        assert_eq!(
            parse("mode = { kind = \"threadpool\", workers = 5 }"),
            Mode::Threadpool { workers: 5 }
        );
        let staged = parse(
            "[mode]\nkind = \"staged\"\nvision = { workers = 3, hop_latency = \"20ms\" }\n\
             subscription = { pool = 4 }\n",
        );
        let Mode::Staged(staged) = staged else {
            panic!("expected staged, got {staged:?}");
        };
        assert_eq!(staged.vision.workers, 3);
        assert_eq!(
            staged.vision.hop_latency,
            Delay::fixed(Duration::from_millis(20))
        );
        assert_eq!(staged.rule, StagePool::default());
        assert_eq!(staged.character_match.workers, 16);
        assert_eq!(staged.subscription.pool, 4);
    }

    #[test]
    fn parse_error_names_line_column_and_field() {
        let text = "max_inflight = 10\n\n[mode]\nkind = \"threadpool\"\nworkers = \"six\"\n";
        let err = PipelineConfig::from_toml_str(text, "scenario.toml").unwrap_err();
        let ConfigError::Field {
            location, field, ..
        } = &err
        else {
            panic!("expected a parse error, got {err:?}");
        };
        assert_eq!(location.origin, "scenario.toml");
        assert_eq!((location.line, location.column), (5, 11), "{err}");
        assert_eq!(field.to_string(), "mode.workers");
        assert!(
            err.to_string()
                .starts_with("scenario.toml:5:11: field `mode.workers`"),
            "{err}"
        );
    }

    #[test]
    fn validation_error_is_located() {
        let text = "max_inflight = 10\n\n[cluster]\nmin_replicas = 0\n";
        let err = PipelineConfig::from_toml_str(text, "p.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.toml:4:1: field `cluster.min_replicas`: expected"),
            "{err}"
        );
    }

    #[test]
    fn unknown_field_is_refused_with_its_location() {
        let text = "[openai]\nvision_model = \"gpt-4o\"\nvison_model = \"x\"\n";
        let err = PipelineConfig::from_toml_str(text, "p.toml").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("p.toml:3:1:"), "{message}");
        assert!(message.contains("vison_model"), "{message}");
    }

    #[test]
    fn mode_settings_must_fit_the_kind() {
        let err = PipelineConfig::from_toml_str(
            "mode = { kind = \"threadpool\", vision = { workers = 2 } }",
            "t",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`vision` is not a setting"),
            "{err}"
        );
        let err = PipelineConfig::from_toml_str("mode = \"celery\"", "t").unwrap_err();
        assert_eq!(err.field(), Some(&FieldPath::root("mode")), "{err}");
    }

    #[test]
    fn syntax_error_has_a_location() {
        let err = PipelineConfig::from_toml_str("a = [\n", "x.toml").unwrap_err();
        let ConfigError::Syntax { location, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(matches!(location.line, 1 | 2), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let cases: Vec<(&str, &str)> = vec![
            ("time_scale = 0.0", "time_scale"),
            ("max_inflight = 0", "max_inflight"),
            (
                "mode = { kind = \"threadpool\", workers = 0 }",
                "mode.workers",
            ),
            (
                "mode = { kind = \"staged\", answer = { workers = 0 } }",
                "mode.answer.workers",
            ),
            ("[openai]\nproviders = []", "openai.providers"),
            (
                "[openai]\nproviders = [{ base_url = \"ftp://x\" }]",
                "openai.providers[0].base_url",
            ),
            ("stage_timeouts = { rule = \"0s\" }", "stage_timeouts.rule"),
            ("keepalive = \"0ms\"", "keepalive"),
            ("faults = { p_stall = 1.5 }", "faults.p_stall"),
            ("faults = { p_error_event = -0.1 }", "faults.p_error_event"),
            (
                "[faults]\np_drop_stream = 0.6\np_malformed_event = 0.5",
                "faults",
            ),
            ("faults = { stall_for = \"0s\" }", "faults.stall_for"),
        ];
        for (text, field) in cases {
            let err = PipelineConfig::from_toml_str(text, "t").unwrap_err();
            let found = err.field().map(ToString::to_string);
            assert_eq!(found.as_deref(), Some(field), "{text}: {err}");
        }
    }

    #[test]
    fn the_documented_examples_parse() {
        let docs: String = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
            .collect();
        let blocks: Vec<&str> = docs
            .split("```toml\n")
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap())
            .collect();
        assert_eq!(blocks.len(), 2);
        let general = PipelineConfig::from_toml_str(blocks[0], "lib.rs").unwrap();
        assert_eq!(general.openai.providers.len(), 2);
        assert_eq!(general.faults, FaultConfig::default());
        let staged = PipelineConfig::from_toml_str(blocks[1], "lib.rs").unwrap();
        assert_eq!(staged.mode, Mode::Staged(StagedMode::default()));
    }

    #[test]
    fn durations_are_human_friendly() {
        let config =
            PipelineConfig::from_toml_str("chain_timeout = \"1m30s\"\nkeepalive = \"250ms\"", "t")
                .unwrap();
        assert_eq!(config.chain_timeout, Duration::from_secs(90));
        assert_eq!(config.keepalive, Duration::from_millis(250));
    }
}
