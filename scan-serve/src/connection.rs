//! One connection's clock: how long a client may take to send a request head, and how long
//! a kept-alive connection may sit with no request in progress.
//!
//! hyper's own `header_read_timeout` starts whenever hyper waits for a head, including on a
//! kept-alive connection between requests, so it cannot tell an idle client (allowed
//! `idle_timeout`) from a slow one (allowed `header_timeout`). This follows Go's
//! `net/http` instead: the head timeout runs from the connection's opening and, on a
//! kept-alive connection, from the next request's first byte; the idle timeout runs from
//! the end of the last response. On an HTTP/2 connection, whose control frames (pings,
//! window updates) come at any time, only the idle timeout applies between requests.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What the connection is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request is in progress: no deadline (streams may be long and quiet).
    Busy,
    /// No request in progress and no byte of the next one: `idle_timeout`. `finished` is the
    /// count of requests finished when the phase began.
    Idle { finished: u64 },
    /// Part of a head has arrived (or the connection just opened): `header_timeout`.
    Head { finished: u64 },
}

/// The requests of one connection, shared between its I/O ([`Watched`]) and its service
/// ([`Requests::begin`]).
#[derive(Debug, Default)]
pub(crate) struct Requests {
    in_progress: AtomicUsize,
    finished: AtomicU64,
    /// The connection's reader: hyper does not read again after a response unless woken,
    /// and the idle deadline starts on that read.
    reader: AtomicWaker,
}

impl Requests {
    /// Marks a request in progress until the returned guard (held by its response body) is
    /// dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> RequestGuard {
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        RequestGuard(self.clone())
    }
}

/// A request in progress on its connection.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<Requests>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        // `finished` first: a reader that sees nothing in progress sees this request done.
        self.0.finished.fetch_add(1, Ordering::AcqRel);
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
        self.0.reader.wake();
    }
}

/// A response body that keeps its request in progress until hyper has written (or dropped)
/// it.
pub(crate) struct TrackedBody {
    body: Body,
    _request: RequestGuard,
}

impl TrackedBody {
    pub(crate) fn new(body: Body, request: RequestGuard) -> Self {
        Self {
            body,
            _request: request,
        }
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's I/O with its deadlines: a read past the deadline fails with `TimedOut`,
/// which makes hyper close the connection.
pub(crate) struct Watched<IO> {
    io: IO,
    requests: Arc<Requests>,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// Known from the first bytes: HTTP/2's preface starts with `PRI `.
    http2: Option<bool>,
}

impl<IO> Watched<IO> {
    /// A connection just opened: its first head must arrive within `header_timeout`.
    pub(crate) fn new(
        io: IO,
        requests: Arc<Requests>,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            io,
            requests,
            header_timeout,
            idle_timeout,
            phase: Phase::Head { finished: 0 },
            deadline: Box::pin(tokio::time::sleep(header_timeout)),
            http2: None,
        }
    }

    /// Moves to the phase the requests say, resetting the deadline on a change.
    fn update_phase(&mut self) {
        if self.requests.in_progress.load(Ordering::Acquire) > 0 {
            self.phase = Phase::Busy;
            return;
        }
        let finished = self.requests.finished.load(Ordering::Acquire);
        let current = match self.phase {
            Phase::Idle { finished: f } | Phase::Head { finished: f } => f == finished,
            Phase::Busy => false,
        };
        if !current {
            self.phase = Phase::Idle { finished };
            self.deadline
                .as_mut()
                .reset(Instant::now() + self.idle_timeout);
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.update_phase();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if this.http2.is_none() && !read.is_empty() {
                    this.http2 = Some(read.starts_with(b"PRI "));
                }
                if let Phase::Idle { finished } = this.phase
                    && !read.is_empty()
                    && this.http2 == Some(false)
                {
                    this.phase = Phase::Head { finished };
                    let deadline = Instant::now() + this.header_timeout;
                    this.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                this.requests.reader.register(cx.waker());
                if this.phase != Phase::Busy && this.deadline.as_mut().poll(cx).is_ready() {
                    let what = match this.phase {
                        Phase::Idle { .. } => "idle timeout",
                        _ => "request head timeout",
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
