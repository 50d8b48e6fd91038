//! One way to serve scan-bench's HTTP servers (mock-openai, the reference pipeline, the load
//! generator's live metrics): bind a listener, serve an axum [`Router`](axum::Router) on it with
//! `TCP_NODELAY` within [`ConnectionLimits`] (a request-head timeout, an idle timeout, a
//! connection cap answered 503) until it is stopped, and, for a server process, wait for
//! the stop signals. [`read_limited`] reads a request body under a size limit the way both
//! servers answer 413.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use axum::{Router, routing::get};
//! use scan_serve::ConnectionLimits;
//!
//! let app = Router::new().route("/healthz", get(|| async { "ok" }));
//! let listen = "127.0.0.1:0".parse().unwrap();
//! let server = scan_serve::Server::bind(listen, app, &ConnectionLimits::default()).await?;
//! println!("listening on http://{}", server.addr());
//! scan_serve::stop_signal().await;
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod body;
mod connection;
mod server;
mod signal;

pub use body::{BodyError, DRAIN_BEYOND_LIMIT, read_limited};
pub use scan_config::ConnectionLimits;
pub use server::Server;
pub use signal::{StopSignal, raise_open_file_limit, stop_signal, until_stopped};
