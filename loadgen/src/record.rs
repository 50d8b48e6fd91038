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
    /// Every class but [`FailureClass::HttpStatus`], whose codes are open-ended: the labels
    /// known before the first failure (the live metrics export them from the start, at zero).
    pub const WITHOUT_STATUS: [FailureClass; 7] = [
        FailureClass::Connect,
        FailureClass::ClosedBeforeResponse,
        FailureClass::BadResponse,
        FailureClass::Timeout,
        FailureClass::ErrorEvent,
        FailureClass::MalformedEvent,
        FailureClass::StreamReset,
    ];

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
    /// The content chunks of a token stream (`[stream.tokens]`); empty otherwise.
    pub tokens: TokenRecord,
}

/// What a token stream's reader saw of its content: arrival times are those of the body
/// chunk that completed each event, from the request's (intended) start, so events that came
/// in one read share one time, as the client saw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenRecord {
    /// Events whose content delta was a non-empty string.
    pub chunks: u32,
    /// Arrival of the first content chunk: the request's time to first token.
    pub first: Option<Duration>,
    /// Arrival of the last content chunk.
    pub last: Option<Duration>,
    /// The gaps between consecutive content chunks, µs (`chunks - 1` of them), kept for the
    /// pooled `chunk_gap` distribution.
    pub gaps_us: Vec<u32>,
    /// The last output token count the server reported (`usage`), if any.
    pub usage: Option<u64>,
    /// Whether the stream matched the buffered-stream rule (set by the reader at the end).
    pub buffered: bool,
}

impl TokenRecord {
    /// Notes a content chunk that arrived `at`.
    pub fn chunk(&mut self, at: Duration) {
        if let Some(last) = self.last {
            let gap = at.saturating_sub(last).as_micros();
            self.gaps_us.push(u32::try_from(gap).unwrap_or(u32::MAX));
        }
        self.first.get_or_insert(at);
        self.last = Some(at);
        self.chunks += 1;
    }

    /// The request's output tokens: the server's `usage` when it sent one, else the content
    /// chunks counted (one token per chunk); `None` without content.
    pub fn output_tokens(&self) -> Option<u64> {
        self.usage
            .or((self.chunks > 0).then_some(u64::from(self.chunks)))
    }

    /// The per-request token figures of a stream that ended (terminal event) `e2e` after its
    /// start; `None` without content.
    pub fn figures(&self, e2e: Duration) -> Option<TokenFigures> {
        let ttft = self.first?;
        let tokens = self.output_tokens().filter(|&n| n > 0)?;
        let e2e = e2e.max(ttft);
        let per = |d: Duration, n: u64| Duration::from_secs_f64(d.as_secs_f64() / n as f64);
        Some(TokenFigures {
            ttft,
            tokens,
            itl: (tokens >= 2).then(|| per(e2e - ttft, tokens - 1)),
            tpot: per(e2e, tokens),
            tokens_per_s: (!e2e.is_zero()).then(|| tokens as f64 / e2e.as_secs_f64()),
        })
    }
}

/// One request's token figures, as the README defines them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenFigures {
    /// Start to the first content chunk.
    pub ttft: Duration,
    /// Output tokens.
    pub tokens: u64,
    /// `(e2e - ttft) / (tokens - 1)`, for two tokens or more.
    pub itl: Option<Duration>,
    /// `e2e / tokens`.
    pub tpot: Duration,
    /// `tokens / e2e`, tokens per second; `None` for an instant stream.
    pub tokens_per_s: Option<f64>,
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
                Timing::Total => self.total(),
                Timing::Ttft => self.tokens.first,
                // Figures of a stream that ended on its terminal event, as the collector's.
                Timing::Itl => self.token_figures().and_then(|f| f.itl),
                Timing::Tpot => self.token_figures().map(|f| f.tpot),
                // Not one request's: connect is per new connection, the scheduling lag the
                // load generator's own, chunk gaps many per request (validation refuses SLOs
                // on them).
                Timing::Connect | Timing::SchedulingLag | Timing::ChunkGap => None,
            },
            LatencyOf::Stage(index) => self.stages.get(index).and_then(StageTiming::duration),
        }
    }

    /// Request start to the end of its exchange, however it ended; `None` for a request the
    /// run's end interrupted, which k6 would not have counted.
    pub fn total(&self) -> Option<Duration> {
        (self.outcome != Outcome::Interrupted).then_some(self.ended)
    }

    /// The token figures of a completed token stream (its chain is its e2e).
    pub fn token_figures(&self) -> Option<TokenFigures> {
        self.tokens.figures(self.chain?)
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
            tokens: TokenRecord::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_status_lists_every_class_but_http_status() {
        // No wildcard: a new class does not compile here until it is sorted in or out.
        let listed = |class: FailureClass| match class {
            FailureClass::HttpStatus(_) => false,
            FailureClass::Connect
            | FailureClass::ClosedBeforeResponse
            | FailureClass::BadResponse
            | FailureClass::Timeout
            | FailureClass::ErrorEvent
            | FailureClass::MalformedEvent
            | FailureClass::StreamReset => true,
        };
        assert!(FailureClass::WITHOUT_STATUS.into_iter().all(listed));
        let mut labels: Vec<String> = FailureClass::WITHOUT_STATUS.map(FailureClass::label).into();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), FailureClass::WITHOUT_STATUS.len());
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn token_figures_follow_their_definitions() {
        // ttft 200 ms, then 15 more chunks 20 ms apart: e2e 500 ms, 16 tokens.
        let mut t = TokenRecord::default();
        for i in 0..16 {
            t.chunk(ms(200 + 20 * i));
        }
        assert_eq!(t.gaps_us, vec![20_000; 15]);
        let f = t.figures(ms(500)).unwrap();
        assert_eq!((f.ttft, f.tokens), (ms(200), 16));
        assert_eq!(f.itl, Some(ms(20)), "(500 - 200) / 15");
        assert_eq!(f.tpot, Duration::from_micros(31_250), "500 / 16");
        assert_eq!(f.tokens_per_s, Some(32.0));
        // The server's usage wins over the count: 4 tokens per chunk halves nothing of the
        // gaps but divides itl by about 4.
        t.usage = Some(64);
        let f = t.figures(ms(500)).unwrap();
        assert_eq!(f.tokens, 64);
        assert_eq!(f.itl, Some(Duration::from_secs_f64(0.3 / 63.0)));
    }

    #[test]
    fn one_token_has_no_itl_and_no_content_no_figures() {
        let mut t = TokenRecord::default();
        assert_eq!(t.figures(ms(10)), None);
        assert_eq!(t.output_tokens(), None);
        t.chunk(ms(100));
        let f = t.figures(ms(100)).unwrap();
        assert_eq!((f.tokens, f.itl, f.tpot), (1, None, ms(100)));
        // A usage of 0 with content is no figure to divide by.
        t.usage = Some(0);
        assert_eq!(t.figures(ms(100)), None);
    }

    #[test]
    fn slos_read_a_completed_token_streams_figures() {
        let mut record = RequestRecord::new(0);
        for at in [100, 120, 140, 160, 180] {
            record.tokens.chunk(ms(at));
        }
        let ttft = LatencyOf::Timing(Timing::Ttft);
        let itl = LatencyOf::Timing(Timing::Itl);
        assert_eq!(record.latency(ttft), Some(ms(100)));
        // No terminal event yet: no e2e, so no itl or tpot to judge.
        assert_eq!(record.latency(itl), None);
        record.chain = Some(ms(200));
        // (200 - 100) / (5 - 1) and 200 / 5.
        assert_eq!(record.latency(itl), Some(ms(25)));
        assert_eq!(
            record.latency(LatencyOf::Timing(Timing::Tpot)),
            Some(ms(40))
        );
        assert_eq!(record.latency(LatencyOf::Timing(Timing::ChunkGap)), None);
    }
}
