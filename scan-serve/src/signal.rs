//! Stopping a server process: the stop signals, and the open-file limit it starts with.

use std::future::Future;

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
