//! [`Server`]: the accept loop, with the connection cap and each connection's deadlines.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use scan_config::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::connection::{Requests, TrackedBody, Watched};

/// A router served on a bound address in the background. Dropping it stops accepting.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    max_connections: usize,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves `app` on the current runtime
    /// within `limits`.
    pub async fn bind(
        listen: SocketAddr,
        app: Router,
        limits: &ConnectionLimits,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let max_connections = limits
            .max_connections
            .unwrap_or_else(default_max_connections);
        let stop = CancellationToken::new();
        let accept = Accept {
            listener,
            app,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            slots: Arc::new(Semaphore::new(max_connections)),
            refusals: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
            max_connections,
        };
        let task = tokio::spawn(accept.run(stop.clone()));
        Ok(Self {
            addr,
            max_connections,
            stop,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connection cap in force (the configured one, or the default from the open-file
    /// limit).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Stops accepting; open connections go on until they end.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Stops accepting and waits for the open connections to end (idle ones are closed at
    /// once, requests in progress finish).
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        Ok(())
    }

    /// [`Server::shutdown`], but connections still open after `within` are cut.
    pub async fn shutdown_within(mut self, within: Duration) -> io::Result<()> {
        self.stop.cancel();
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        if tokio::time::timeout(within, &mut task).await.is_err() {
            task.abort();
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Refused connections answered at once; beyond this a refused connection is closed without
/// an answer, so that a flood of them costs no more than accepting and closing.
const REFUSALS_AT_ONCE: usize = 64;

/// How long a refused connection is waited on for its request head, and then read from after
/// its 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The most of a refused connection's request head that is read before it is answered.
const REFUSAL_HEAD_BYTES: usize = 64 * 1024;

/// How often an accept error that is not the client's (EMFILE, ENFILE, ENOMEM) is logged.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

/// The pause after such an error: the error stays until a connection closes, and retrying
/// at once would spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Half the open-file limit (see [`ConnectionLimits::max_connections`]).
fn default_max_connections() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    usize::try_from(soft / 2).unwrap_or(usize::MAX).max(1)
}

struct Accept {
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    idle_timeout: Duration,
    slots: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    max_connections: usize,
}

impl Accept {
    async fn run(self, stop: CancellationToken) {
        let graceful = GracefulShutdown::new();
        let mut errors = EveryInterval::new(ACCEPT_ERROR_LOG_EVERY);
        loop {
            let accepted = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, _peer)) => self.take(tcp, &graceful),
                Err(e) if is_client_error(&e) => {}
                Err(e) => {
                    if let Some(suppressed) = errors.due(Instant::now()) {
                        tracing::warn!(
                            suppressed,
                            "cannot accept connections: {e} (open: {})",
                            self.max_connections - self.slots.available_permits()
                        );
                    }
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            }
        }
        drop(self.listener);
        graceful.shutdown().await;
    }

    /// Serves `tcp` if there is room, refuses it otherwise.
    fn take(&self, tcp: TcpStream, graceful: &GracefulShutdown) {
        // Without TCP_NODELAY, back-to-back small SSE writes wait ~40 ms for Nagle.
        let _ = tcp.set_nodelay(true);
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            if let Ok(refusal) = self.refusals.clone().try_acquire_owned() {
                let limit = self.max_connections;
                tokio::spawn(async move {
                    refuse(tcp, limit).await;
                    drop(refusal);
                });
            }
            return;
        };
        let requests = Arc::new(Requests::default());
        let io = Watched::new(
            tcp,
            requests.clone(),
            self.header_timeout,
            self.idle_timeout,
        );
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let guard = requests.begin();
            let mut app = app.clone();
            async move {
                let response = app.call(request).await?;
                Ok::<_, Infallible>(response.map(|body| Body::new(TrackedBody::new(body, guard))))
            }
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // HTTP/1.1, and HTTP/2 with prior knowledge (h2c), as `axum::serve` offers.
            let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // The deadlines are `Watched`'s (see `connection`), not hyper's.
            http.http1().header_read_timeout(None);
            let connection = http.serve_connection(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }
}

/// Errors of one connection that the listener survives as is.
fn is_client_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Answers a connection beyond the cap with 503 and closes it. The answer waits for the
/// request head (up to [`REFUSAL_LINGER`]): an HTTP client takes an answer that comes before
/// its request for a broken connection.
async fn refuse(mut tcp: TcpStream, limit: usize) {
    let body = format!(
        "{{\"error\":{{\"message\":\"The server holds its maximum of {limit} connections; \
         try again later.\",\"type\":\"server_error\",\"param\":null,\
         \"code\":\"too_many_connections\"}}}}"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut seen = Vec::new();
    let head = async {
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < REFUSAL_HEAD_BYTES {
            let n = tcp.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        io::Result::Ok(())
    };
    if !matches!(tokio::time::timeout(REFUSAL_LINGER, head).await, Ok(Ok(()))) {
        return;
    }
    let answer = async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await?;
        // Read what else the client sends (a body), so that the close is not a reset that
        // could discard the answer before the client reads it.
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, answer).await;
}

/// A log line at most once per interval, with the count of those left out.
#[derive(Debug)]
struct EveryInterval {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl EveryInterval {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(left out since the last one)` if a line is due at `now`.
    fn due(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|last| now < last + self.every) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_interval_and_counts_the_rest() {
        let mut every = EveryInterval::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(every.due(t0), Some(0));
        assert_eq!(every.due(t0 + Duration::from_secs(1)), None);
        assert_eq!(every.due(t0 + Duration::from_secs(9)), None);
        assert_eq!(every.due(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(every.due(t0 + Duration::from_secs(11)), None);
    }
}
