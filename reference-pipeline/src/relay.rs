//! The API side of a run: takes the chain's events, adds `: keepalive` comments and the chain
//! timeout, and keeps the `scan_sse_*` metrics the way Eco²'s API did (TTFB to the first
//! stage event, stage durations as relayed, outcome at stream end).
//!
//! Dropping a relay (the client went away) cancels its run and counts it as `cancelled`. A
//! relay with a [`FaultPlan`] injects its fault on the way (see [`crate::FaultConfig`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use scan_config::FaultKind;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::chain::Stage;
use crate::cluster::Lease;
use crate::events::{Event, StageStatus};
use crate::faults::{self, Fault, FaultPlan};
use crate::metrics::{FaultLabel, Metrics, StageLabel, StatusLabel};

/// Which endpoint a run serves; only streams feed the `scan_sse_*` series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Stream,
    Classify,
}

/// Outcome of a finished run (the `status` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failed,
    Timeout,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
        }
    }

    fn of(event: &Event) -> Self {
        match event {
            Event::Stage {
                status: StageStatus::Completed,
                ..
            } => Outcome::Success,
            Event::Timeout { .. } => Outcome::Timeout,
            _ => Outcome::Failed,
        }
    }
}

/// What the relay hands on next.
pub(crate) enum Next {
    Keepalive,
    Event(Event),
    /// The injected invalid data line.
    Malformed,
    /// The replica restarted: the connection is cut, with no terminal event.
    Cut,
}

/// An admitted request: its slot and its place in the in-flight count, released on drop.
pub(crate) struct Admitted {
    _permit: OwnedSemaphorePermit,
    /// The replica holding the stream.
    lease: Lease,
    inflight: watch::Sender<usize>,
    connection: Option<Arc<Metrics>>,
}

impl Admitted {
    pub fn new(
        permit: OwnedSemaphorePermit,
        lease: Lease,
        inflight: watch::Sender<usize>,
        kind: Kind,
        metrics: &Arc<Metrics>,
    ) -> Self {
        inflight.send_modify(|n| *n += 1);
        let connection = (kind == Kind::Stream).then(|| {
            metrics.connections_active.inc();
            metrics.clone()
        });
        Self {
            _permit: permit,
            lease,
            inflight,
            connection,
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(metrics) = &self.connection {
            metrics.connections_active.dec();
        }
        self.inflight.send_modify(|n| *n -= 1);
    }
}

/// Timing limits of a relay, already scaled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub keepalive: Duration,
    pub chain_timeout: Duration,
    pub stall_for: Duration,
}

pub(crate) struct Relay {
    kind: Kind,
    task_id: String,
    events: mpsc::Receiver<Event>,
    limits: Limits,
    started_at: Instant,
    deadline: Instant,
    /// Fired when the server's shutdown grace is over.
    abort: CancellationToken,
    /// Fired when the replica holding the stream restarts.
    replica_down: CancellationToken,
    /// Cancels the run when the relay goes away.
    _cancel: DropGuard,
    metrics: Arc<Metrics>,
    stage_started: [Option<Instant>; 4],
    first_stage_seen: bool,
    finished: bool,
    /// The fault still to inject.
    fault: Option<FaultPlan>,
    /// Events handed on so far (keep-alives not counted).
    sent: u32,
    /// An event held back while the malformed line goes out before it.
    held: Option<Event>,
    /// The status an injected fault gave the stream, whatever happens after it.
    faulted: Option<Outcome>,
    _admitted: Admitted,
}

impl Relay {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: Kind,
        task_id: String,
        events: mpsc::Receiver<Event>,
        started_at: Instant,
        limits: Limits,
        cancel: CancellationToken,
        abort: CancellationToken,
        metrics: Arc<Metrics>,
        admitted: Admitted,
        fault: Option<FaultPlan>,
    ) -> Self {
        Self {
            kind,
            task_id,
            events,
            limits,
            started_at,
            deadline: started_at + limits.chain_timeout,
            abort,
            replica_down: admitted.lease.down.clone(),
            _cancel: cancel.drop_guard(),
            metrics,
            stage_started: [None; 4],
            first_stage_seen: false,
            finished: false,
            fault,
            sent: 0,
            held: None,
            faulted: None,
            _admitted: admitted,
        }
    }

    /// The next event or keep-alive; `None` after the terminal event.
    pub async fn next(&mut self) -> Option<Next> {
        if self.finished {
            return None;
        }
        if let Some(event) = self.held.take() {
            return Some(self.hand_on(event));
        }
        if self.fault.is_some_and(|plan| self.sent >= plan.after) {
            return self.inject().await;
        }
        // Nothing goes out before the run's first event, keep-alives included: Eco²'s
        // generator started its loop once the run was set up, so k6's TTFB (the first byte)
        // waited for the subscription.
        let keepalive = if self.sent == 0 {
            Duration::MAX
        } else {
            self.limits.keepalive
        };
        let event = tokio::select! {
            biased;
            _ = self.replica_down.cancelled() => {
                self.finish(Outcome::Failed, Instant::now());
                return Some(Next::Cut);
            }
            _ = self.abort.cancelled() => Event::Error {
                error: "SERVER_SHUTTING_DOWN".into(),
            },
            _ = tokio::time::sleep_until(self.deadline) => Event::Timeout {
                task_id: self.task_id.clone(),
            },
            received = tokio::time::timeout(keepalive, self.events.recv()) => {
                match received {
                    Err(_) => return Some(Next::Keepalive),
                    Ok(Some(event)) => event,
                    // The run stopped without a terminal event (it panicked).
                    Ok(None) => Event::Error {
                        error: "the chain stopped without a result".into(),
                    },
                }
            }
        };
        if self.fault.is_some() && event.is_terminal() {
            // The run ends before the fault's place: the fault takes the terminal event's.
            if self
                .fault
                .is_some_and(|plan| plan.fault == Fault::Malformed)
            {
                self.held = Some(event);
            }
            return self.inject().await;
        }
        Some(self.hand_on(event))
    }

    fn hand_on(&mut self, event: Event) -> Next {
        self.sent += 1;
        self.observe(&event);
        Next::Event(event)
    }

    /// Injects the planned fault; `None` ends the stream.
    async fn inject(&mut self) -> Option<Next> {
        let fault = self.fault.take()?.fault;
        self.metrics
            .faults
            .get_or_create(&FaultLabel { kind: fault.name() })
            .inc();
        match fault {
            Fault::Drop => {
                self.finish(Outcome::Failed, Instant::now());
                None
            }
            Fault::Malformed => {
                self.faulted = Some(Outcome::Failed);
                Some(Next::Malformed)
            }
            Fault::Error => Some(self.hand_on(Event::Error {
                error: faults::INJECTED_FAULT.into(),
            })),
            Fault::Stall => {
                // A client that gives up during the silence has timed out, not cancelled.
                self.faulted = Some(Outcome::Timeout);
                tokio::select! {
                    _ = self.abort.cancelled() => {}
                    _ = tokio::time::sleep(self.limits.stall_for) => {}
                }
                self.finish(Outcome::Timeout, Instant::now());
                None
            }
        }
    }

    fn observe(&mut self, event: &Event) {
        let now = Instant::now();
        if let Event::Stage { stage, status, .. } = event
            && self.kind == Kind::Stream
        {
            if !self.first_stage_seen {
                self.first_stage_seen = true;
                self.metrics
                    .ttfb
                    .observe((now - self.started_at).as_secs_f64());
            }
            self.observe_stage(*stage, *status, now);
        }
        if event.is_terminal() {
            self.finish(Outcome::of(event), now);
        }
    }

    fn observe_stage(&mut self, stage: Stage, status: StageStatus, now: Instant) {
        let slot = &mut self.stage_started[stage as usize];
        match status {
            StageStatus::Started => *slot = Some(now),
            StageStatus::Completed => {
                if let Some(started) = slot.take() {
                    self.metrics
                        .stage_duration
                        .get_or_create(&StageLabel {
                            stage: stage.name(),
                        })
                        .observe((now - started).as_secs_f64());
                }
            }
            StageStatus::Failed => {}
        }
    }

    fn finish(&mut self, outcome: Outcome, now: Instant) {
        self.finished = true;
        let outcome = self.faulted.unwrap_or(outcome);
        let elapsed = (now - self.started_at).as_secs_f64();
        let status = StatusLabel {
            status: outcome.label(),
        };
        match self.kind {
            Kind::Stream => {
                self.metrics.requests.get_or_create(&status).inc();
                self.metrics.chain_duration.observe(elapsed);
            }
            Kind::Classify => {
                self.metrics.classify_requests.get_or_create(&status).inc();
                self.metrics.classify_duration.observe(elapsed);
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.finished {
            let status = StatusLabel {
                status: self.faulted.map_or("cancelled", Outcome::label),
            };
            match self.kind {
                Kind::Stream => self.metrics.requests.get_or_create(&status).inc(),
                Kind::Classify => self.metrics.classify_requests.get_or_create(&status).inc(),
            };
        }
    }
}

/// The relay as an SSE body: framed events and keep-alives. A cut ends the body with
/// an error, which makes the server reset the connection.
pub(crate) fn sse_body(
    relay: Relay,
    protocol: crate::config::Protocol,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let ids = crate::events::EventIds::default();
    futures_util::stream::unfold((relay, ids), move |(mut relay, mut ids)| async move {
        let bytes = match relay.next().await? {
            Next::Keepalive => Bytes::from_static(crate::events::keepalive(protocol)),
            Next::Event(event) => event.encode(protocol, &mut ids),
            Next::Malformed => Bytes::from_static(crate::faults::malformed_line(protocol)),
            Next::Cut => {
                let cut = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the replica restarted",
                );
                return Some((Err(cut), (relay, ids)));
            }
        };
        Some((Ok(bytes), (relay, ids)))
    })
}
