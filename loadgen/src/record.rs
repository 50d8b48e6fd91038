//! What one request measured, and how it ended.

use std::fmt;
use std::time::Duration;

use scenarios::Timing;

/// Why a request failed. Every request that did not complete or end partial has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureClass {
    /// No TCP connection could be made: refused, unreachable, or the connect timed out.
    Connect,
    /// A connection was made (or reused) and then closed or reset before a response head.
    ClosedBeforeResponse,
    /// The response head could not be parsed: a bad status line, oversized headers, garbage.
    BadResponse,
    /// The response head had a non-2xx status.
    HttpStatus(u16),
    /// The request timeout, or the idle timeout between events, ran out.
    Timeout,
    /// The stream sent an error event.
    ErrorEvent,
    /// An event's data was not what the stream spec expects, or the answer was no event
    /// stream.
    MalformedEvent,
    /// The connection broke while the body was streaming.
    StreamReset,
}

impl FailureClass {
    /// Whether k6 would count it in `http_req_failed`: the HTTP exchange itself failed (no
    /// usable response head, or a non-2xx one).
    pub fn is_http_failure(self) -> bool {
        self.is_transport_failure() || matches!(self, FailureClass::HttpStatus(_))
    }

    /// Whether the exchange broke below HTTP, before any response head: a target answering
    /// like this is worth a short back-off before the next try.
    pub fn is_transport_failure(self) -> bool {
        matches!(
            self,
            FailureClass::Connect | FailureClass::ClosedBeforeResponse | FailureClass::BadResponse
        )
    }

    /// A stable name for reports and metrics labels (`http_503`, `timeout`, ...).
    pub fn label(self) -> String {
        match self {
            FailureClass::Connect => "connect".into(),
            FailureClass::ClosedBeforeResponse => "closed_before_response".into(),
            FailureClass::BadResponse => "bad_response".into(),
            FailureClass::HttpStatus(code) => format!("http_{code}"),
            FailureClass::Timeout => "timeout".into(),
            FailureClass::ErrorEvent => "error_event".into(),
            FailureClass::MalformedEvent => "malformed_event".into(),
            FailureClass::StreamReset => "stream_reset".into(),
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// How a request ended: exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The terminal event arrived after every stage completed.
    Completed,
    /// The stream ended (terminal event or end of body) without every stage completed.
    Partial,
    /// The request failed.
    Failed(FailureClass),
    /// The run ended (ramp-down grace over, or a stop signal) while the stream was open, as k6's
    /// interrupted iterations.
    Interrupted,
}

/// The timings of one stage of one request, from the request's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTiming {
    /// First `started` event of the stage; with `stage_timing = "since-previous"`, the last
    /// stage completion before its event (the request's start when there was none).
    pub started: Option<Duration>,
    /// First `completed` event of the stage, or its one event (later duplicates are ignored).
    pub completed: Option<Duration>,
}

impl StageTiming {
    /// Started to completed, when both were seen in order.
    pub fn duration(&self) -> Option<Duration> {
        self.completed?.checked_sub(self.started?)
    }
}

/// Which latency of one request: a timing, or the duration of the stage at an index of the
/// stream spec's stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyOf {
    /// A timing the record carries (see [`Timing::per_request`]).
    Timing(Timing),
    /// The stage at this index of the stream spec's stages.
    Stage(usize),
}

/// Everything measured of one request. Times are from the request's start (for the open
/// model, its intended start).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Response head received.
    pub headers: Option<Duration>,
    /// First body byte (k6's `sse_ttfb`).
    pub ttfb: Option<Duration>,
    /// First stage event.
    pub first_stage: Option<Duration>,
    /// Terminal event (k6's `sse_total_duration`), for completed and partial runs.
    pub chain: Option<Duration>,
    /// Per stage, in the stream spec's order.
    pub stages: Vec<StageTiming>,
    /// How it ended.
    pub outcome: Outcome,
    /// `: keepalive` comments (and keep-alive events) seen.
    pub keepalives: u32,
    /// Body bytes received.
    pub bytes: u64,
    /// Which `null_checks` pointers held `null` in the terminal event (bit i = pointer i).
    pub nulls: u64,
    /// When the request ended, from its start.
    pub ended: Duration,
}

impl RequestRecord {
    /// Whether k6 counts it in `http_req_failed`: a failure of the HTTP exchange itself, or
    /// a timeout before the response head (k6's request timeout).
    pub fn is_http_failure(&self) -> bool {
        match self.outcome {
            Outcome::Failed(FailureClass::Timeout) => self.headers.is_none(),
            Outcome::Failed(class) => class.is_http_failure(),
            _ => false,
        }
    }

    /// The latency this request measured, if it did: the one lookup of a request's latency
    /// by what it is (an SLO names it).
    pub fn latency(&self, of: LatencyOf) -> Option<Duration> {
        match of {
            LatencyOf::Timing(timing) => match timing {
                Timing::Headers => self.headers,
                Timing::Ttfb => self.ttfb,
                Timing::FirstStage => self.first_stage,
                Timing::Chain => self.chain,
                // Not one request's: connect is per new connection, the scheduling lag the
                // load generator's own (validation refuses SLOs on them).
                Timing::Connect | Timing::SchedulingLag => None,
            },
            LatencyOf::Stage(index) => self.stages.get(index).and_then(StageTiming::duration),
        }
    }

    /// A record with nothing measured yet, for a stream spec of `stages` stages.
    pub fn new(stages: usize) -> Self {
        Self {
            headers: None,
            ttfb: None,
            first_stage: None,
            chain: None,
            stages: vec![StageTiming::default(); stages],
            outcome: Outcome::Partial,
            keepalives: 0,
            bytes: 0,
            nulls: 0,
            ended: Duration::ZERO,
        }
    }
}
