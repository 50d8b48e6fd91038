//! The running service: [`Pipeline::start`] builds every part from the config and serves,
//! [`PipelineHandle`] stops it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use scan_config::ConfigError;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::chain::Context;
use crate::cluster::Cluster;
use crate::config::PipelineConfig;
use crate::exec::{Executor, pool_sizes};
use crate::faults::Faults;
use crate::metrics::Metrics;
use crate::openai::{MissingKey, OpenAi};
use crate::relay::Limits;
use crate::reward::{Catalog, DatabaseError, OwnershipStore};
use crate::server::{self, Shared};

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

/// Runs the service the way the `reference-pipeline` binary and `scan-bench serve pipeline` do:
/// raises the open-file limit, starts the service, hands it to `started` (which announces
/// it), serves until SIGINT, SIGTERM or SIGHUP, then shuts down gracefully
/// ([`PipelineHandle::shutdown`]; a second signal cuts that short).
pub async fn serve_until_signal(
    config: PipelineConfig,
    listen: SocketAddr,
    started: impl FnOnce(&PipelineHandle),
) -> Result<(), StartError> {
    scan_serve::raise_open_file_limit();
    let pipeline = Pipeline::start(config, listen).await?;
    started(&pipeline);
    scan_serve::until_stopped(pipeline.shutdown()).await;
    Ok(())
}

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
        let server =
            scan_serve::Server::bind(listen, server::router(shared.clone()), &config.connections)
                .await
                .map_err(|source| StartError::Bind {
                    addr: listen,
                    source,
                })?;
        let addr = server.addr();
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
    server: Option<scan_serve::Server>,
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
        if let Some(server) = &self.server {
            server.stop();
        }
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
        if let Some(server) = self.server.take() {
            // Ended streams close their connections; a client that stops reading cannot
            // hold the shutdown for long.
            let _ = server.shutdown_within(Duration::from_secs(5)).await;
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
