//! The Eco² scan chain (vision -> rule -> answer -> reward) as an async SSE service: the system
//! under test of scan-bench, faithful to the published one on the wire and in its metrics, with
//! the seed's architectures as execution modes.
//!
//! # Endpoints
//! - `POST /api/v1/scan/classify/completion` with `{"image_url", "user_input"}` and an
//!   `x-user-id` header: a `text/event-stream` of the run (`{"status": "started", "task_id"}`,
//!   then `started`/`completed` per stage, the reward's `completed` carrying `result`), with
//!   `: keepalive` comments after each second of silence. Missing user: 401 JSON; a body that is
//!   not a JSON object: 400 JSON; missing or invalid `image_url`: the seed's
//!   `{"status": "error", "error": "IMAGE_URL_REQUIRED"}` event; more than `max_inflight`
//!   requests: 503 JSON at once (counted in `scan_pipeline_admission_rejected_total`, not in
//!   `scan_sse_requests_total`). A failed stage ends the stream with its `failed` event.
//!   In front of it all sits a balancer over the API replicas ([`ClusterConfig`]): with no
//!   replica ready it answers 503 `NO_HEALTHY_UPSTREAM`, and a replica restarted by its
//!   liveness probe cuts its streams (the connection is reset).
//!   The header `x-pipeline-fault: drop|malformed|error|stall|none` forces an injected fault
//!   on the stream (an unknown value: 400 JSON); see [`FaultConfig`].
//! - `POST /api/v1/scan/classify`: the same chain answered as one JSON document (the result).
//! - `GET /metrics` (the seed's `scan_sse_*` series plus `scan_pipeline_*`), `/healthz`,
//!   `/readyz` (503 while draining).
//!
//! A client that disconnects cancels its run: queued work is skipped, running work is dropped.
//! `scan_sse_requests_total{status}` counts `success`, `failed` (a failed stage, the image
//! error, a shutdown) and `timeout` as the seed did, plus `cancelled` for streams the client
//! abandoned. A stream with an injected fault counts as `failed` (drop, malformed line, error
//! event) or `timeout` (stall) even when the client leaves early, and the fault in
//! `scan_pipeline_faults_total{kind}` (see [`FaultConfig`]).
//! `grafana/scan-sse-pipeline.json` is the seed's "Scan SSE Pipeline" dashboard
//! over these series, with a row for the `scan_pipeline_*` ones.
//!
//! # Configuration
//! [`PipelineConfig`] is serde data; as TOML (the `[pipeline]` table of a scenario, or a file
//! given to the `reference-pipeline` binary), every key optional:
//!
//! ```toml
//! protocol = "eco2-v1"          # or "named-events"
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
//! The staged mode (the seed's Celery chain; shown with its defaults):
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

mod chain;
mod cluster;
mod config;
mod events;
mod exec;
mod faults;
mod metrics;
mod openai;
mod relay;
mod result;
mod reward;
mod rules;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use chain::{StageTimeouts, Storage};
pub use cluster::{ClusterConfig, Liveness};
pub use config::{PipelineConfig, Protocol};
pub use exec::{Mode, StagePool, StagedMode, Subscription, WorkerCpu};
pub use faults::{Fault, FaultConfig};
pub use openai::MissingKey;
pub use openai::{OpenAiConfig, Provider, Routing};
pub use reward::DatabaseError;
pub use scan_config::{ConfigError, Delay, Dist, FieldPath, Invalid, Width};

use crate::chain::Context;
use crate::cluster::Cluster;
use crate::exec::{Executor, pool_sizes};
use crate::faults::Faults;
use crate::metrics::Metrics;
use crate::openai::OpenAi;
use crate::relay::Limits;
use crate::reward::{Catalog, OwnershipStore};
use crate::server::Shared;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid pipeline configuration: {0}")]
    Config(#[from] ConfigError),
    /// A provider's key is missing from the environment.
    #[error(transparent)]
    MissingKey(#[from] MissingKey),
    /// The ownership database cannot be opened.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Entry point of the service.
pub struct Pipeline;

impl Pipeline {
    /// Validates `config`, binds `listen` (port 0 picks a free port) and serves on the current
    /// tokio runtime until [`PipelineHandle::shutdown`] (or until the handle is dropped, which
    /// stops it at once).
    pub async fn start(
        config: PipelineConfig,
        listen: SocketAddr,
    ) -> Result<PipelineHandle, StartError> {
        config.validate().map_err(ConfigError::from)?;
        let metrics = Arc::new(Metrics::new(&pool_sizes(&config.mode)));
        let openai = OpenAi::new(&config.openai, config.time_scale, metrics.clone())?;
        let catalog = Arc::new(Catalog::embedded());
        let ownership =
            OwnershipStore::open(config.database.as_deref(), &catalog, metrics.clone())?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
        let (executor, character_pool) = Executor::new(&config, &metrics);
        let ctx = Arc::new(Context::new(
            &config,
            openai,
            ownership,
            catalog,
            metrics.clone(),
            character_pool,
        ));
        let cluster = Cluster::new(&config.cluster, config.time_scale, metrics.clone());
        let shared = Arc::new(Shared {
            protocol: config.protocol,
            limits: Limits {
                keepalive: config.scaled(config.keepalive),
                chain_timeout: config.scaled(config.chain_timeout),
                stall_for: config.scaled(config.faults.stall_for),
            },
            faults: Faults::new(&config.faults),
            max_inflight: config.max_inflight,
            ctx,
            executor,
            metrics,
            admission: Arc::new(Semaphore::new(config.max_inflight)),
            cluster,
            inflight: watch::Sender::new(0),
            draining: Default::default(),
            abort: CancellationToken::new(),
        });
        let stop = CancellationToken::new();
        tokio::spawn(shared.cluster.clone().control(stop.clone()));
        let app = server::router(shared.clone());
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            // Without it back-to-back events wait for Nagle's algorithm.
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        tracing::info!(%addr, mode = config.mode.kind(), "reference pipeline listening");
        Ok(PipelineHandle {
            addr,
            grace: config.scaled(config.shutdown_grace),
            shared,
            stop,
            server: Some(server),
        })
    }
}

/// A running service.
pub struct PipelineHandle {
    addr: SocketAddr,
    grace: Duration,
    shared: Arc<Shared>,
    stop: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl PipelineHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://{addr}/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("{}/metrics", self.base_url())
    }

    /// Graceful shutdown: stop accepting, let in-flight requests finish within
    /// `shutdown_grace`, end the rest with an `{"status": "error", "error":
    /// "SERVER_SHUTTING_DOWN"}` event, then stop the worker pools and flush the database.
    pub async fn shutdown(mut self) {
        let shared = self.shared.clone();
        shared.draining.store(true, Ordering::Relaxed);
        self.stop.cancel();
        let mut inflight = shared.inflight.subscribe();
        let drained = tokio::time::timeout(self.grace, inflight.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                remaining = *inflight.borrow(),
                "shutdown grace over, ending the remaining runs"
            );
        }
        shared.abort.cancel();
        if let Some(mut server) = self.server.take() {
            // Ended streams close their connections; a client that stops reading cannot
            // hold the shutdown for long.
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        let _ = tokio::task::spawn_blocking(move || {
            shared.executor.close();
            shared.ctx.ownership.close();
        })
        .await;
    }
}

impl Drop for PipelineHandle {
    fn drop(&mut self) {
        self.stop.cancel();
        self.shared.abort.cancel();
    }
}
