//! Reading one answer stream: SSE events parsed by `eventsource-stream` from reqwest's byte
//! stream, stages found by the scenario's `[stream]` rules, and the request classified.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event, EventStream, EventStreamError};
use futures_util::{Stream, StreamExt};
use scenarios::{EventMatch, StreamSpec};
use serde_json::Value;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::record::{FailureClass, Outcome, RequestRecord};

/// The `[stream]` rules of a scenario, ready to apply to events.
#[derive(Debug, Clone)]
pub struct StreamRules {
    spec: StreamSpec,
}

impl StreamRules {
    /// Rules from a validated stream spec.
    pub fn new(spec: StreamSpec) -> Self {
        Self { spec }
    }

    /// The stages a complete run goes through.
    pub fn stages(&self) -> &[String] {
        &self.spec.stages
    }

    /// The JSON pointers whose `null` is counted in the terminal event.
    pub fn null_checks(&self) -> &[String] {
        &self.spec.null_checks
    }
}

/// Limits on one stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// When the whole request must have ended.
    pub deadline: Instant,
    /// Longest silence between two body chunks (keep-alive comments count).
    pub idle: Duration,
}

/// What one event meant for the run.
enum Step {
    Continue,
    End(Outcome),
}

/// Reads the body of a response whose head has arrived, filling in `record` from `start`.
///
/// The record's outcome is set on return; `stop` ends the read as interrupted.
pub async fn read_stream(
    response: reqwest::Response,
    start: Instant,
    rules: &StreamRules,
    limits: StreamLimits,
    stop: &CancellationToken,
    record: &mut RequestRecord,
) {
    let is_event_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    if !is_event_stream {
        record.outcome = Outcome::Failed(FailureClass::MalformedEvent);
        record.ended = start.elapsed();
        return;
    }
    read_body(response.bytes_stream(), start, rules, limits, stop, record).await;
}

/// Reads an event-stream body (the chunks of a response whose head has arrived), filling in
/// `record` from `start`: [`read_stream`] after its checks of the head.
///
/// The record's outcome is set on return; `stop` ends the read as interrupted.
pub async fn read_body<S>(
    body: S,
    start: Instant,
    rules: &StreamRules,
    limits: StreamLimits,
    stop: &CancellationToken,
    record: &mut RequestRecord,
) where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Unpin,
{
    let mut stats = BodyStats::default();
    let outcome = {
        let body = Body::new(body, limits.idle, &mut stats);
        let mut events = EventStream::new(body);
        let deadline = tokio::time::sleep_until(limits.deadline);
        tokio::pin!(deadline);
        loop {
            let item = tokio::select! {
                biased;
                _ = stop.cancelled() => break Outcome::Interrupted,
                _ = &mut deadline => break Outcome::Failed(FailureClass::Timeout),
                item = events.next() => item,
            };
            let at = start.elapsed();
            match item {
                None => break Outcome::Partial,
                Some(Ok(event)) => match on_event(rules, &event, at, record) {
                    Step::Continue => {}
                    Step::End(outcome) => break outcome,
                },
                Some(Err(EventStreamError::Transport(BodyError::Idle))) => {
                    break Outcome::Failed(FailureClass::Timeout);
                }
                Some(Err(EventStreamError::Transport(BodyError::Read(e)))) => {
                    break Outcome::Failed(if e.is_timeout() {
                        FailureClass::Timeout
                    } else {
                        FailureClass::StreamReset
                    });
                }
                Some(Err(EventStreamError::Utf8(_) | EventStreamError::Parser(_))) => {
                    break Outcome::Failed(FailureClass::MalformedEvent);
                }
            }
        }
    };
    record.ttfb = stats.first_byte.map(|t| t.duration_since(start));
    record.keepalives += stats.keepalives;
    record.bytes = stats.bytes;
    record.outcome = outcome;
    record.ended = start.elapsed();
}

fn on_event(rules: &StreamRules, event: &Event, at: Duration, record: &mut RequestRecord) -> Step {
    let spec = &rules.spec;
    if event.event == "keepalive" {
        record.keepalives += 1;
        return Step::Continue;
    }
    if event.data.trim().is_empty() {
        return Step::Continue;
    }
    // Rules on the raw text come first: OpenAI ends its streams with `data: [DONE]`.
    let raw =
        |m: &EventMatch| m.data.as_ref().is_some_and(|d| *d == event.data) && m.fields.is_empty();
    if spec.error.iter().any(|m| raw(m) && name_matches(m, event)) {
        return Step::End(Outcome::Failed(FailureClass::ErrorEvent));
    }
    if spec
        .terminal
        .iter()
        .any(|m| raw(m) && name_matches(m, event))
    {
        return terminal(spec, record, at, None);
    }
    let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
        return Step::End(Outcome::Failed(FailureClass::MalformedEvent));
    };
    if spec.error.iter().any(|m| matches(m, event, &data)) {
        return Step::End(Outcome::Failed(FailureClass::ErrorEvent));
    }
    let is_stage_event = spec
        .stage_event
        .as_ref()
        .is_none_or(|name| *name == event_name(event));
    if is_stage_event {
        let stage = match &spec.stage_field {
            Some(pointer) => data.pointer(pointer).and_then(Value::as_str),
            None => Some(event_name(event)),
        };
        if let Some(index) = stage.and_then(|s| spec.stages.iter().position(|known| known == s)) {
            record.first_stage.get_or_insert(at);
            let status = data
                .pointer(&spec.status_field)
                .and_then(Value::as_str)
                .unwrap_or("");
            let timing = &mut record.stages[index];
            if spec.started.iter().any(|s| s == status) {
                timing.started.get_or_insert(at);
            } else if spec.completed.iter().any(|s| s == status) {
                // The seed's server may report a stage completed twice: the first counts.
                timing.completed.get_or_insert(at);
            }
        }
    }
    if spec.terminal.iter().any(|m| matches(m, event, &data)) {
        return terminal(spec, record, at, Some(&data));
    }
    Step::Continue
}

/// The run's terminal event: completed when every stage completed, else partial.
fn terminal(
    spec: &StreamSpec,
    record: &mut RequestRecord,
    at: Duration,
    data: Option<&Value>,
) -> Step {
    record.chain = Some(at);
    if let Some(data) = data {
        for (bit, pointer) in spec.null_checks.iter().enumerate().take(64) {
            if data.pointer(pointer).is_some_and(Value::is_null) {
                record.nulls |= 1 << bit;
            }
        }
    }
    let all_done = record.stages.iter().all(|s| s.completed.is_some());
    Step::End(if all_done {
        Outcome::Completed
    } else {
        Outcome::Partial
    })
}

/// SSE's default event name is `message`.
fn event_name(event: &Event) -> &str {
    if event.event.is_empty() {
        "message"
    } else {
        &event.event
    }
}

fn name_matches(rule: &EventMatch, event: &Event) -> bool {
    rule.event
        .as_ref()
        .is_none_or(|name| name == event_name(event))
}

fn matches(rule: &EventMatch, event: &Event, data: &Value) -> bool {
    name_matches(rule, event)
        && rule.data.as_ref().is_none_or(|d| *d == event.data)
        && rule.fields.iter().all(|(pointer, values)| {
            data.pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|v| values.iter().any(|x| x == v))
        })
}

/// What the byte stream saw, kept apart from the events.
#[derive(Debug, Default)]
struct BodyStats {
    first_byte: Option<Instant>,
    bytes: u64,
    keepalives: u32,
    at_line_start: bool,
}

impl BodyStats {
    /// Counts comment lines (`: keepalive`) across chunk boundaries.
    fn scan(&mut self, chunk: &[u8]) {
        if self.first_byte.is_none() {
            self.first_byte = Some(Instant::now());
            self.at_line_start = true;
        }
        self.bytes += chunk.len() as u64;
        for &b in chunk {
            if self.at_line_start && b == b':' {
                self.keepalives += 1;
            }
            self.at_line_start = b == b'\n' || b == b'\r';
        }
    }
}

/// Why the byte stream stopped.
#[derive(Debug)]
enum BodyError {
    /// No bytes for the idle timeout.
    Idle,
    /// reqwest could not read on.
    Read(reqwest::Error),
}

/// reqwest's byte stream with an idle timeout and statistics.
struct Body<'a, S> {
    inner: S,
    idle: Duration,
    last_chunk: Instant,
    timer: Pin<Box<Sleep>>,
    stats: &'a mut BodyStats,
}

impl<'a, S> Body<'a, S> {
    fn new(inner: S, idle: Duration, stats: &'a mut BodyStats) -> Self {
        let timer = Box::pin(tokio::time::sleep(idle));
        Self {
            inner,
            idle,
            last_chunk: Instant::now(),
            timer,
            stats,
        }
    }
}

impl<S> Stream for Body<'_, S>
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Unpin,
{
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.stats.scan(&chunk);
                // Re-arming the timer per chunk costs a timer-wheel update per event; the
                // time of the last chunk is enough, checked when the timer fires.
                this.last_chunk = Instant::now();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Read(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => loop {
                match this.timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        let quiet_until = this.last_chunk + this.idle;
                        if Instant::now() >= quiet_until {
                            return Poll::Ready(Some(Err(BodyError::Idle)));
                        }
                        this.timer.as_mut().reset(quiet_until);
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> Event {
        Event {
            event: name.into(),
            data: data.into(),
            id: String::new(),
            retry: None,
        }
    }

    fn run(rules: &StreamRules, events: &[Event]) -> (RequestRecord, Option<Outcome>) {
        let mut record = RequestRecord::new(rules.stages().len());
        for (i, e) in events.iter().enumerate() {
            if let Step::End(outcome) =
                on_event(rules, e, Duration::from_millis(i as u64), &mut record)
            {
                return (record, Some(outcome));
            }
        }
        (record, None)
    }

    fn eco2_events(reward: &str) -> Vec<Event> {
        let mut events = vec![event("", r#"{"status":"started","task_id":"t"}"#)];
        for (i, step) in ["vision", "rule", "answer", "reward"].iter().enumerate() {
            events.push(event(
                "",
                &format!(
                    r#"{{"step":"{step}","status":"started","progress":{}}}"#,
                    i * 25
                ),
            ));
            if *step == "reward" {
                events.push(event(
                    "",
                    &format!(r#"{{"step":"reward","status":"completed","progress":100,"result":{{"reward":{reward}}}}}"#),
                ));
            } else {
                let done = format!(
                    r#"{{"step":"{step}","status":"completed","progress":{}}}"#,
                    i * 25 + 25
                );
                events.push(event("", &done));
                events.push(event("", &done));
            }
        }
        events
    }

    #[test]
    fn eco2_stream_completes_with_deduplicated_stages() {
        let rules = StreamRules::new(StreamSpec::default());
        let (record, outcome) = run(&rules, &eco2_events("null"));
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!(record.first_stage, Some(Duration::from_millis(1)));
        assert_eq!(record.stages[0].started, Some(Duration::from_millis(1)));
        assert_eq!(
            record.stages[0].completed,
            Some(Duration::from_millis(2)),
            "first completed counts"
        );
        assert_eq!(record.stages[1].started, Some(Duration::from_millis(4)));
        assert_eq!(record.nulls, 1, "reward null counted");
        assert_eq!(record.chain, Some(Duration::from_millis(11)));

        let (record, _) = run(&rules, &eco2_events(r#"{"name":"Petty"}"#));
        assert_eq!(record.nulls, 0);
    }

    #[test]
    fn missing_stage_makes_a_partial_run() {
        let rules = StreamRules::new(StreamSpec::default());
        let events: Vec<_> = eco2_events("null")
            .into_iter()
            .filter(|e| !e.data.contains(r#""step":"rule","status":"completed""#))
            .collect();
        assert_eq!(run(&rules, &events).1, Some(Outcome::Partial));
    }

    #[test]
    fn error_and_malformed_events_fail() {
        let rules = StreamRules::new(StreamSpec::default());
        let error = [event(
            "",
            r#"{"status":"error","error":"IMAGE_URL_REQUIRED"}"#,
        )];
        assert_eq!(
            run(&rules, &error).1,
            Some(Outcome::Failed(FailureClass::ErrorEvent))
        );
        let failed = [event("", r#"{"step":"vision","status":"failed"}"#)];
        assert_eq!(
            run(&rules, &failed).1,
            Some(Outcome::Failed(FailureClass::ErrorEvent))
        );
        let malformed = [event("", "{not json")];
        assert_eq!(
            run(&rules, &malformed).1,
            Some(Outcome::Failed(FailureClass::MalformedEvent))
        );
    }

    #[test]
    fn named_event_protocol() {
        let spec = StreamSpec {
            stage_event: Some("stage".into()),
            terminal: vec![EventMatch {
                event: Some("ready".into()),
                data: None,
                fields: Default::default(),
            }],
            error: vec![EventMatch {
                event: Some("error".into()),
                data: None,
                fields: Default::default(),
            }],
            ..StreamSpec::default()
        };
        let rules = StreamRules::new(spec);
        let mut events = vec![event("stage", r#"{"step":"queued","status":"started"}"#)];
        for step in ["vision", "rule", "answer", "reward"] {
            events.push(event(
                "stage",
                &format!(r#"{{"step":"{step}","status":"started"}}"#),
            ));
            events.push(event(
                "stage",
                &format!(r#"{{"step":"{step}","status":"completed"}}"#),
            ));
        }
        events.push(event("keepalive", ""));
        events.push(event(
            "ready",
            r#"{"step":"done","result":{"reward":null}}"#,
        ));
        let (record, outcome) = run(&rules, &events);
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!(
            record.first_stage,
            Some(Duration::from_millis(1)),
            "queued is no stage"
        );
        assert_eq!(record.keepalives, 1);
        assert_eq!(
            run(&rules, &[event("error", "{}")]).1,
            Some(Outcome::Failed(FailureClass::ErrorEvent))
        );
    }

    #[test]
    fn keepalive_comments_are_counted_across_chunks() {
        let mut stats = BodyStats::default();
        for chunk in [
            &b": keepalive\n\ndata: {}\n\n:"[..],
            b" keepalive\n\n",
            b"data: x\n\n",
        ] {
            stats.scan(chunk);
        }
        assert_eq!(stats.keepalives, 2);
        assert_eq!(stats.bytes, 45);
    }
}
