//! The Eco² scan chain (vision -> rule -> answer -> reward) as an async SSE service: the system
//! under test of scan-bench, faithful to the published one on the wire and in its metrics, with
//! Eco²'s architectures as execution modes.
//!
//! # Endpoints
//! - `POST /api/v1/scan/classify/completion` with `{"image_url", "user_input"}` and an
//!   `x-user-id` header: a `text/event-stream` of the run (`{"status": "started", "task_id"}`,
//!   then `started`/`completed` per stage, the reward's `completed` carrying `result`), with
//!   `: keepalive` comments after each second of silence. Missing user: 401 JSON; a body that is
//!   not a JSON object: 400 JSON; missing or invalid `image_url`: Eco²'s
//!   `{"status": "error", "error": "IMAGE_URL_REQUIRED"}` event; more than `max_inflight`
//!   requests: 503 JSON at once (counted in `scan_pipeline_admission_rejected_total`, not in
//!   `scan_sse_requests_total`). A failed stage ends the stream with its `failed` event.
//!   In front of it all sits a balancer over the API replicas ([`ClusterConfig`]): with no
//!   replica ready it answers 503 `NO_HEALTHY_UPSTREAM`, and a replica restarted by its
//!   liveness probe cuts its streams (the connection is reset).
//!   The header `x-pipeline-fault: drop|malformed|error|stall|none` forces an injected fault
//!   on the stream (an unknown value: 400 JSON); see [`FaultConfig`].
//! - `POST /api/v1/scan/classify`: the same chain answered as one JSON document (the result).
//! - `GET /metrics` (Eco²'s `scan_sse_*` series plus `scan_pipeline_*`), `/healthz`,
//!   `/readyz` (503 while draining).
//!
//! A client that disconnects cancels its run: queued work is skipped, running work is dropped.
//! `scan_sse_requests_total{status}` counts `success`, `failed` (a failed stage, the image
//! error, a shutdown) and `timeout` as Eco² did, plus `cancelled` for streams the client
//! abandoned. A stream with an injected fault counts as `failed` (drop, malformed line, error
//! event) or `timeout` (stall) even when the client leaves early, and the fault in
//! `scan_pipeline_faults_total{kind}` (see [`FaultConfig`]).
//! `grafana/scan-sse-pipeline.json` is Eco²'s "Scan SSE Pipeline" dashboard
//! over these series, with a row for the `scan_pipeline_*` ones.
//!
//! # Configuration
//! [`PipelineConfig`] is serde data; as TOML (the `[pipeline]` table of a scenario, or a file
//! given to the `reference-pipeline` binary), every key optional (below). The service is the
//! default feature `server`; without it the crate is this configuration alone (its sections,
//! validation and TOML loading, none of axum, reqwest or SQLite), which is what scan-bench's
//! scenarios and reports depend on.
//!
//! ```toml
//! protocol = "eco2-v1"          # or "named-events", "stage-events"
//! mode = "async"                # or { kind = "threadpool", workers = 6 }, or a staged table
//! max_inflight = 4096           # more concurrent requests are answered 503
//! time_scale = 1.0              # multiplies delays, timeouts and the keep-alive interval
//! keepalive = "1s"
//! chain_timeout = "120s"
//! shutdown_grace = "10s"
//! rule_cache = true
//! # database = "ownership.sqlite3"   # omitted: in-memory SQLite
//!
//! [openai]
//! providers = [
//!     { base_url = "http://127.0.0.1:8080/v1", api_key = "sk-one" },
//!     { base_url = "http://127.0.0.1:8081/v1", api_key_env = "SECOND_KEY" },
//! ]
//! routing = "round_robin"       # or "failover"
//! vision_model = "gpt-4o"
//! answer_model = "gpt-4o-mini"
//! request_timeout = "60s"       # one attempt
//! max_retries = 2
//! backoff_base = "500ms"
//! backoff_max = "8s"
//! max_connections = 1000        # requests in flight per provider
//!
//! [stage_timeouts]              # whole stage, retries included
//! vision = "90s"
//! rule = "60s"
//! answer = "90s"
//! reward = "60s"
//! character_match = "10s"
//!
//! [faults]                      # injected into streams; at most one per stream
//! seed = 0                      # same seed and request order: same faults
//! p_drop_stream = 0.0           # closed after a stage event, no terminal event
//! p_malformed_event = 0.0       # one invalid-JSON data line, then the run as usual
//! p_error_event = 0.0           # {"status": "error", "error": "INJECTED_FAULT"} ends it
//! p_stall = 0.0                 # no byte after the first stage event for stall_for, then closed
//! stall_for = "30s"
//!
//! [storage]                     # database time; "300ms" or { median = "300ms", p95 = "900ms" }
//! rule_query = "0s"             # a rule lookup the cache does not answer
//! ownership_write = "0s"        # a matched reward's ownership write
//!
//! [cluster]                     # API replicas; see ClusterConfig (default: one, never restarted)
//! min_replicas = 1              # ready at start; the autoscaler's floor
//! max_replicas = 4
//! target_streams = 8            # streams per replica the autoscaler aims at
//! sync_period = "15s"
//! reaction_delay = "0s"         # decision to creation (the age of the load figures)
//! startup = "30s"               # creation or restart to readiness
//! scale_down_after = "5m"
//! liveness = { max_streams = 12, failure_after = "30s" }   # omitted: never restarted
//! ```
//!
//! The staged mode (Eco²'s Celery chain; shown with its defaults):
//!
//! ```toml
//! [mode]
//! kind = "staged"
//! # hop_latency: "100ms" or a lognormal { median = "100ms", p95 = "400ms" }
//! vision = { workers = 100, queue = 10000, hop_latency = "100ms" }
//! rule = { workers = 100, queue = 10000, hop_latency = "100ms" }
//! answer = { workers = 100, queue = 10000, hop_latency = "100ms" }
//! reward = { workers = 100, queue = 10000, hop_latency = "100ms" }
//! character_match = { workers = 16, queue = 10000, hop_latency = "100ms" }
//! subscription = { pool = 20, setup = "50ms", ready_timeout = "5s" }
//! worker_cpu = { cores = 1, task_cpu = "0s" }   # CPU per stage task, one task per core
//! ```
//!
//! # Benchmark
//! `cargo bench -p reference-pipeline --bench chains -- [--concurrency 1000] [--chains 20000]
//! [--latency 0ms] [--mode async|threadpool|staged]` runs the release binary against an
//! in-process mock and prints throughput, chain time and overhead percentiles, the pipeline's
//! CPU time per chain and its peak RSS.
//!
//! # Example
//! ```no_run
//! use reference_pipeline::{Mode, Pipeline, PipelineConfig, Provider};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = PipelineConfig::from_toml_str("mode = \"threadpool\"", "inline")?;
//! config.openai.providers = vec![Provider::new("http://127.0.0.1:8080/v1")];
//! assert_eq!(config.mode, Mode::Threadpool { workers: 6 });
//! let pipeline = Pipeline::start(config, "127.0.0.1:0".parse()?).await?;
//! println!("scan endpoint: {}/api/v1/scan/classify/completion", pipeline.base_url());
//! pipeline.shutdown().await;
//! # Ok(())
//! # }
//! ```

// Without the server, the fault draws beside the `faults` table are unused.
#![cfg_attr(not(feature = "server"), allow(dead_code))]

mod chain;
mod cluster;
mod config;
#[cfg(feature = "server")]
mod events;
mod exec;
mod faults;
#[cfg(feature = "server")]
mod metrics;
mod openai;
#[cfg(feature = "server")]
mod relay;
#[cfg(feature = "server")]
mod result;
#[cfg(feature = "server")]
mod reward;
#[cfg(feature = "server")]
mod rules;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod service;

pub use chain::{StageTimeouts, Storage};
pub use cluster::{ClusterConfig, Liveness};
pub use config::{PipelineConfig, Protocol};
pub use exec::{Mode, StagePool, StagedMode, Subscription, WorkerCpu};
pub use faults::{Fault, FaultConfig};
#[cfg(feature = "server")]
pub use openai::MissingKey;
pub use openai::{OpenAiConfig, Provider, Routing};
#[cfg(feature = "server")]
pub use reward::DatabaseError;
pub use scan_config::{ConfigError, Delay, Dist, FieldPath, Invalid, Width};
#[cfg(feature = "server")]
pub use service::{Pipeline, PipelineHandle, StartError, serve_until_signal};
