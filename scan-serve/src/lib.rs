//! One way to serve scan-bench's HTTP servers (mock-openai, the reference pipeline, the load
//! generator's live metrics): bind a listener, serve an axum [`Router`] on it with
//! `TCP_NODELAY` until a token is cancelled, and, for a server process, wait for the stop
//! signals.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use axum::{Router, routing::get};
//!
//! let app = Router::new().route("/healthz", get(|| async { "ok" }));
//! let server = scan_serve::Server::bind("127.0.0.1:0".parse().unwrap(), app).await?;
//! println!("listening on http://{}", server.addr());
//! scan_serve::stop_signal().await;
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A router served on a bound address in the background. Dropping it stops accepting.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves `app` on the current runtime.
    pub async fn bind(listen: SocketAddr, app: Router) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        // Without TCP_NODELAY, back-to-back small SSE writes wait ~40 ms for Nagle.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
        });
        Ok(Self {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting; open connections go on until they end.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Stops accepting and waits for the open connections to end.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// [`Server::shutdown`], but connections still open after `within` are cut.
    pub async fn shutdown_within(mut self, within: Duration) -> io::Result<()> {
        self.stop.cancel();
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(within, &mut task).await {
            Ok(done) => done.unwrap_or(Ok(())),
            Err(_) => {
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Raises the open-file limit to the hard limit: each open stream holds a socket, and a
/// server (or a load generator) out of descriptors refuses connections.
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
}

/// A signal that stops a server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM: `docker stop`, Kubernetes deleting the pod, a CI timeout.
    Terminate,
    /// SIGHUP: the terminal closed.
    Hangup,
}

/// Waits for SIGINT, SIGTERM or SIGHUP (SIGINT only where there are no Unix signals).
pub async fn stop_signal() -> StopSignal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let listen = |kind: SignalKind| {
            signal(kind)
                .map_err(|e| tracing::warn!("cannot listen for {kind:?}: {e}"))
                .ok()
        };
        // A signal that cannot be listened for never arrives.
        async fn next(signal: &mut Option<Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let mut int = listen(SignalKind::interrupt());
        let mut term = listen(SignalKind::terminate());
        let mut hup = listen(SignalKind::hangup());
        tokio::select! {
            () = next(&mut int) => StopSignal::Interrupt,
            () = next(&mut term) => StopSignal::Terminate,
            () = next(&mut hup) => StopSignal::Hangup,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        StopSignal::Interrupt
    }
}

/// Runs `shutdown` after the first stop signal; a second one cuts it short. Returns the
/// first signal.
pub async fn until_stopped<F: Future<Output = ()>>(shutdown: F) -> StopSignal {
    let first = stop_signal().await;
    tracing::info!(signal = ?first, "shutting down; a second signal cuts the shutdown short");
    tokio::select! {
        () = shutdown => {}
        second = stop_signal() => tracing::warn!(signal = ?second, "shutdown cut short"),
    }
    first
}

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;

    #[tokio::test]
    async fn serves_until_shut_down() {
        let app = Router::new().route("/healthz", get(|| async { "ok" }));
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), app)
            .await
            .unwrap();
        let url = format!("http://{}/healthz", server.addr());
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, "ok");
        server.shutdown().await.unwrap();
        assert!(
            reqwest::get(&url).await.is_err(),
            "nothing listens after the shutdown"
        );
    }
}
