//! Connection set-up time: a layer around reqwest's connector that times every new
//! connection (TCP, and TLS when there is one).
//!
//! Pooled connections are reused, so `connect` counts connections, not requests: as with k6's
//! `http_req_connecting`, a request on a reused connection spends no time connecting.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::{Layer, Service};

use crate::measure::Recorder;

/// Times each connection the wrapped connector makes and hands it to the recorder.
#[derive(Clone)]
pub struct ConnectTimer {
    recorder: Recorder,
}

impl ConnectTimer {
    /// A layer recording into `recorder`.
    pub fn new(recorder: Recorder) -> Self {
        Self { recorder }
    }
}

impl<S> Layer<S> for ConnectTimer {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            recorder: self.recorder.clone(),
        }
    }
}

/// The timed connector.
#[derive(Clone)]
pub struct Timed<S> {
    inner: S,
    recorder: Recorder,
}

impl<S, R> Service<R> for Timed<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let start = Instant::now();
        let connecting = self.inner.call(request);
        let recorder = self.recorder.clone();
        Box::pin(async move {
            let connection = connecting.await;
            if connection.is_ok() {
                recorder.connected(start.elapsed());
            }
            connection
        })
    }
}
