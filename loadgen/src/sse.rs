//! Reading one answer stream: SSE events framed from reqwest's byte stream (`frame`, bounded
//! by `max_event_bytes`), stages found by the scenario's `[stream]` rules (`fields` reads the
//! JSON pointers they name), and the request classified.
//!
//! This runs for every event of every stream: an event's data is read without building a
//! `serde_json::Value` or allocating, and a chunk costs one clock read and no timer update.

mod fields;
mod frame;

use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use scenarios::{EventMatch, StageTimingRule, StreamSpec, TokenSpec};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use self::fields::{Found, Pointers, Slot};
use self::frame::{Event, Framer};
use crate::record::{FailureClass, Outcome, RequestRecord, TokenRecord};

/// The `[stream]` rules of a scenario, ready to apply to events.
#[derive(Debug, Clone)]
pub struct StreamRules {
    spec: StreamSpec,
    /// Every JSON pointer below, read from an event's data in one pass.
    pointers: Pointers,
    /// Where the stage name is in the data; none when the event name is the stage.
    stage_field: Option<Slot>,
    status_field: Slot,
    max_event_bytes: usize,
    terminal: Vec<Match>,
    error: Vec<Match>,
    null_checks: Vec<Slot>,
    tokens: Option<TokenRules>,
}

/// A `[stream.tokens]` spec with its pointers in [`StreamRules::pointers`].
#[derive(Debug, Clone)]
struct TokenRules {
    event: Option<String>,
    content: Slot,
    usage: Slot,
    min_chunks: u32,
    /// Already multiplied by the time scale.
    within: Duration,
    after: Duration,
}

impl TokenRules {
    /// The buffered-stream rule, the one place it is decided: at least `min_chunks` content
    /// chunks, the last within `within` of the first, and the first no sooner than `after`
    /// from the request's start. A server that paces tokens spreads them over the answer; a
    /// proxy that holds the body back delivers them in one read after a wait as long as the
    /// whole answer.
    fn is_buffered(&self, t: &TokenRecord) -> bool {
        match (t.first, t.last) {
            (Some(first), Some(last)) => {
                t.chunks >= self.min_chunks && last - first <= self.within && first >= self.after
            }
            _ => false,
        }
    }
}

/// An [`EventMatch`] with its pointers in [`StreamRules::pointers`].
#[derive(Debug, Clone)]
struct Match {
    event: Option<String>,
    data: Option<String>,
    fields: Vec<(Slot, Vec<String>)>,
}

impl StreamRules {
    /// Rules from a validated stream spec.
    pub fn new(spec: StreamSpec) -> Self {
        let mut pointers = Pointers::default();
        let mut compile = |matches: &[EventMatch]| -> Vec<Match> {
            matches
                .iter()
                .map(|m| Match {
                    event: m.event.clone(),
                    data: m.data.clone(),
                    fields: m
                        .fields
                        .iter()
                        .map(|(pointer, values)| (pointers.add(pointer), values.clone()))
                        .collect(),
                })
                .collect()
        };
        let terminal = compile(&spec.terminal);
        let error = compile(&spec.error);
        let tokens = spec.tokens.as_ref().map(|t: &TokenSpec| TokenRules {
            event: t.event.clone(),
            content: pointers.add(&t.content),
            usage: pointers.add(&t.usage),
            min_chunks: t.buffered_min_chunks,
            within: t.buffered_within,
            after: t.buffered_after,
        });
        Self {
            tokens,
            stage_field: spec.stage_name.pointer().map(|p| pointers.add(p)),
            status_field: pointers.add(&spec.status_field),
            max_event_bytes: usize::try_from(spec.max_event_bytes).unwrap_or(usize::MAX),
            // Only the first 64 have a bit in the record.
            null_checks: spec
                .null_checks
                .iter()
                .take(64)
                .map(|p| pointers.add(p))
                .collect(),
            terminal,
            error,
            pointers,
            spec,
        }
    }

    /// The rules with the buffered-stream durations multiplied by `scale`, the scenario's time
    /// scale (a mock fifty times faster paces its tokens fifty times closer).
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        if let Some(t) = &mut self.tokens {
            t.within = t.within.mul_f64(scale);
            t.after = t.after.mul_f64(scale);
        }
        self
    }

    /// Whether the stream carries LLM tokens (`[stream.tokens]`).
    pub fn has_tokens(&self) -> bool {
        self.tokens.is_some()
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
/// The record's outcome is set on return; `stop` ends the read as interrupted. The body is
/// dropped on return, so a stream that ended early (a malformed or oversized event) is not
/// read on: its connection closes.
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
    let mut found = Found::default();
    let mut framer = Framer::new(rules.max_event_bytes);
    let outcome = {
        let mut body = Body::new(body, start, limits, &mut stats);
        // Made once: a fresh `cancelled()` per chunk would register a waiter each time.
        let stopped = stop.cancelled();
        tokio::pin!(stopped);
        loop {
            let item = tokio::select! {
                biased;
                _ = &mut stopped => break Outcome::Interrupted,
                item = body.next() => item,
            };
            let chunk = match item {
                None => {
                    break match framer.finish() {
                        Ok(()) => Outcome::Partial,
                        Err(_) => Outcome::Failed(FailureClass::MalformedEvent),
                    };
                }
                Some(Ok(chunk)) => chunk,
                Some(Err(BodyError::TimedOut)) => break Outcome::Failed(FailureClass::Timeout),
                Some(Err(BodyError::Read(e))) => {
                    break Outcome::Failed(if e.is_timeout() {
                        FailureClass::Timeout
                    } else {
                        FailureClass::StreamReset
                    });
                }
            };
            // Every event a chunk completes arrived with it.
            let at = body.arrived;
            let framed = framer.feed(&chunk, |event| {
                on_event(rules, event, &mut found, at, record)
            });
            match framed {
                Ok(ControlFlow::Continue(())) => {}
                Ok(ControlFlow::Break(outcome)) => break outcome,
                Err(_) => break Outcome::Failed(FailureClass::MalformedEvent),
            }
        }
    };
    record.ttfb = stats.first_byte.map(|t| t.duration_since(start));
    record.keepalives += stats.keepalives;
    record.bytes = stats.bytes;
    record.outcome = outcome;
    record.ended = start.elapsed();
    if let Some(tokens) = &rules.tokens {
        record.tokens.buffered = tokens.is_buffered(&record.tokens);
    }
}

/// What one event means for the run: read on, or the outcome.
fn on_event(
    rules: &StreamRules,
    event: &Event<'_>,
    found: &mut Found,
    at: Duration,
    record: &mut RequestRecord,
) -> ControlFlow<Outcome> {
    if event.name == "keepalive" {
        record.keepalives += 1;
        return ControlFlow::Continue(());
    }
    if event.data.trim().is_empty() {
        return ControlFlow::Continue(());
    }
    // Rules on the raw text come first: OpenAI ends its streams with `data: [DONE]`.
    let raw = |m: &Match| m.data.as_ref().is_some_and(|d| *d == event.data) && m.fields.is_empty();
    if rules.error.iter().any(|m| raw(m) && name_matches(m, event)) {
        return ControlFlow::Break(Outcome::Failed(FailureClass::ErrorEvent));
    }
    if rules
        .terminal
        .iter()
        .any(|m| raw(m) && name_matches(m, event))
    {
        return terminal(rules, record, at, None);
    }
    if rules.pointers.read(event.data, found).is_err() {
        return ControlFlow::Break(Outcome::Failed(FailureClass::MalformedEvent));
    }
    if rules.error.iter().any(|m| matches(m, event, found)) {
        return ControlFlow::Break(Outcome::Failed(FailureClass::ErrorEvent));
    }
    if let Some(tokens) = &rules.tokens {
        if let Some(n) = found.u64(tokens.usage) {
            record.tokens.usage = Some(n);
        }
        let is_content_event = tokens.event.as_ref().is_none_or(|name| *name == event.name);
        if is_content_event && found.str(tokens.content).is_some_and(|c| !c.is_empty()) {
            record.tokens.chunk(at);
        }
    }
    let spec = &rules.spec;
    let is_stage_event = spec
        .stage_event
        .as_ref()
        .is_none_or(|name| *name == event.name);
    if is_stage_event {
        let stage = match rules.stage_field {
            Some(slot) => found.str(slot),
            None => Some(event.name),
        };
        if let Some(index) = stage.and_then(|s| spec.stages.iter().position(|known| known == s)) {
            record.first_stage.get_or_insert(at);
            match spec.stage_timing {
                StageTimingRule::Status => {
                    let status = found.str(rules.status_field).unwrap_or("");
                    let timing = &mut record.stages[index];
                    if spec.started.iter().any(|s| s == status) {
                        timing.started.get_or_insert(at);
                    } else if spec.completed.iter().any(|s| s == status) {
                        // Eco²'s server may report a stage completed twice: the first counts.
                        timing.completed.get_or_insert(at);
                    }
                }
                StageTimingRule::SincePrevious if record.stages[index].completed.is_none() => {
                    let since = record.stages.iter().filter_map(|s| s.completed).max();
                    let timing = &mut record.stages[index];
                    timing.started = Some(since.unwrap_or(Duration::ZERO));
                    timing.completed = Some(at);
                }
                // A stage reported twice: the first counts.
                StageTimingRule::SincePrevious => {}
            }
        }
    }
    if rules.terminal.iter().any(|m| matches(m, event, found)) {
        return terminal(rules, record, at, Some(found));
    }
    ControlFlow::Continue(())
}

/// The run's terminal event: completed when every stage completed, else partial.
fn terminal(
    rules: &StreamRules,
    record: &mut RequestRecord,
    at: Duration,
    found: Option<&Found>,
) -> ControlFlow<Outcome> {
    record.chain = Some(at);
    if let Some(found) = found {
        for (bit, &slot) in rules.null_checks.iter().enumerate() {
            if found.is_null(slot) {
                record.nulls |= 1 << bit;
            }
        }
    }
    let all_done = record.stages.iter().all(|s| s.completed.is_some());
    ControlFlow::Break(if all_done {
        Outcome::Completed
    } else {
        Outcome::Partial
    })
}

fn name_matches(rule: &Match, event: &Event<'_>) -> bool {
    rule.event.as_ref().is_none_or(|name| *name == event.name)
}

fn matches(rule: &Match, event: &Event<'_>, found: &Found) -> bool {
    name_matches(rule, event)
        && rule.data.as_ref().is_none_or(|d| *d == event.data)
        && rule.fields.iter().all(|(slot, values)| {
            found
                .str(*slot)
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
    /// Counts comment lines (`: keepalive`) across chunk boundaries; `now` is the chunk's
    /// arrival.
    fn scan(&mut self, chunk: &[u8], now: Instant) {
        if self.first_byte.is_none() {
            self.first_byte = Some(now);
            self.at_line_start = true;
        }
        self.bytes += chunk.len() as u64;
        let Some(&last) = chunk.last() else {
            return;
        };
        if self.at_line_start && chunk[0] == b':' {
            self.keepalives += 1;
        }
        for end in memchr::memchr2_iter(b'\n', b'\r', chunk) {
            if chunk.get(end + 1) == Some(&b':') {
                self.keepalives += 1;
            }
        }
        self.at_line_start = last == b'\n' || last == b'\r';
    }
}

/// Why the byte stream stopped.
#[derive(Debug)]
enum BodyError {
    /// No bytes for the idle timeout, or the request's deadline passed.
    TimedOut,
    /// reqwest could not read on.
    Read(reqwest::Error),
}

/// reqwest's byte stream with the stream's time limits and statistics.
struct Body<'a, S> {
    inner: S,
    start: Instant,
    limits: StreamLimits,
    last_chunk: Instant,
    /// When the last chunk arrived, from the request's start: the time of the events it
    /// completes (read once per chunk, not per event).
    arrived: Duration,
    /// One timer for both limits, so a chunk costs no timer poll or update: it is polled
    /// only while the body waits, and set to the nearer limit when it fires.
    timer: Pin<Box<Sleep>>,
    stats: &'a mut BodyStats,
}

impl<'a, S> Body<'a, S> {
    fn new(inner: S, start: Instant, limits: StreamLimits, stats: &'a mut BodyStats) -> Self {
        let now = Instant::now();
        let timer = Box::pin(tokio::time::sleep_until(
            limits.deadline.min(now + limits.idle),
        ));
        Self {
            inner,
            limits,
            start,
            last_chunk: now,
            arrived: Duration::ZERO,
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
                let now = Instant::now();
                if now >= this.limits.deadline {
                    return Poll::Ready(Some(Err(BodyError::TimedOut)));
                }
                this.stats.scan(&chunk, now);
                this.last_chunk = now;
                this.arrived = now.duration_since(this.start);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Read(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => loop {
                match this.timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        let quiet_until = this.last_chunk + this.limits.idle;
                        let now = Instant::now();
                        if now >= this.limits.deadline || now >= quiet_until {
                            return Poll::Ready(Some(Err(BodyError::TimedOut)));
                        }
                        this.timer
                            .as_mut()
                            .reset(this.limits.deadline.min(quiet_until));
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use scenarios::StageName;

    use super::*;

    /// An event as the framer gives it, owned.
    struct Owned {
        name: String,
        data: String,
    }

    /// An event as the framer gives it: unnamed is `message`.
    fn event(name: &str, data: &str) -> Owned {
        Owned {
            name: if name.is_empty() { "message" } else { name }.into(),
            data: data.into(),
        }
    }

    fn run(rules: &StreamRules, events: &[Owned]) -> (RequestRecord, Option<Outcome>) {
        let mut record = RequestRecord::new(rules.stages().len());
        let mut found = Found::default();
        for (i, e) in events.iter().enumerate() {
            let at = Duration::from_millis(i as u64);
            let event = Event {
                name: &e.name,
                data: &e.data,
                id: "",
            };
            if let ControlFlow::Break(outcome) =
                on_event(rules, &event, &mut found, at, &mut record)
            {
                return (record, Some(outcome));
            }
        }
        (record, None)
    }

    fn eco2_events(reward: &str) -> Vec<Owned> {
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
            terminal: vec![EventMatch::named("ready")],
            error: vec![EventMatch::named("error")],
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
    fn stage_named_events_with_a_status() {
        let spec = StreamSpec {
            stage_name: StageName::Event,
            terminal: vec![EventMatch::named("done")],
            ..StreamSpec::default()
        };
        let rules = StreamRules::new(spec);
        let mut events = vec![event("queued", r#"{"step":"queued","status":"started"}"#)];
        for step in ["vision", "rule", "answer", "reward"] {
            for status in ["started", "completed"] {
                events.push(event(step, &format!(r#"{{"status":"{status}"}}"#)));
            }
        }
        events.push(event("keepalive", "{}"));
        events.push(event("done", r#"{"step":"done","result":{"reward":null}}"#));
        let (record, outcome) = run(&rules, &events);
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!(record.first_stage, Some(Duration::from_millis(1)));
        let durations: Vec<_> = record.stages.iter().map(|s| s.duration()).collect();
        assert_eq!(durations, [Some(Duration::from_millis(1)); 4]);
        assert_eq!((record.keepalives, record.nulls), (1, 1));
    }

    #[test]
    fn one_event_stages_run_from_the_previous_completion() {
        let spec = StreamSpec {
            stages: vec!["a".into(), "b".into(), "c".into()],
            stage_name: StageName::Event,
            stage_timing: StageTimingRule::SincePrevious,
            started: vec![],
            completed: vec![],
            terminal: vec![EventMatch::data("[DONE]")],
            error: vec![],
            null_checks: vec![],
            ..StreamSpec::default()
        };
        let rules = StreamRules::new(spec);
        let ms = |n| Some(Duration::from_millis(n));
        // At 0 ms an event that is no stage, at 3 ms `a` again: the first counts.
        let events = ["queued", "a", "b", "a", "c"]
            .map(|name| event(name, "{}"))
            .into_iter()
            .chain([event("", "[DONE]")])
            .collect::<Vec<_>>();
        let (record, outcome) = run(&rules, &events);
        assert_eq!(outcome, Some(Outcome::Completed));
        let spans: Vec<_> = record
            .stages
            .iter()
            .map(|s| (s.started, s.completed))
            .collect();
        assert_eq!(
            spans,
            [(ms(0), ms(1)), (ms(1), ms(2)), (ms(2), ms(4))],
            "the first from the request's start, each next from the last completion"
        );
        assert_eq!(record.first_stage, ms(1));
        // A skipped stage: the next runs from the last stage that did complete.
        let skipped = [event("a", "{}"), event("c", "{}"), event("", "[DONE]")];
        let (record, outcome) = run(&rules, &skipped);
        assert_eq!(outcome, Some(Outcome::Partial));
        assert_eq!(record.stages[2].started, ms(0));
        assert_eq!(record.stages[1], Default::default());
    }

    #[test]
    fn a_stream_without_stages_completes_at_its_terminal_event() {
        let spec = StreamSpec {
            stages: vec![],
            terminal: vec![EventMatch::data("[DONE]")],
            error: vec![],
            null_checks: vec![],
            ..StreamSpec::default()
        };
        let rules = StreamRules::new(spec);
        let chunk = r#"{"object":"chat.completion.chunk","choices":[{"delta":{"content":"Hi"}}]}"#;
        let events = [event("", chunk), event("", chunk), event("", "[DONE]")];
        let (record, outcome) = run(&rules, &events);
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!(
            (record.chain, record.first_stage),
            (Some(Duration::from_millis(2)), None)
        );
        // Without its terminal event it is partial; a chunk that is no JSON is malformed.
        assert_eq!(run(&rules, &events[..2]).1, None);
        assert_eq!(
            run(&rules, &[event("", "{\"object\":")]).1,
            Some(Outcome::Failed(FailureClass::MalformedEvent))
        );
    }

    fn chat_tokens() -> StreamRules {
        StreamRules::new(StreamSpec {
            stages: vec![],
            terminal: vec![EventMatch::data("[DONE]")],
            error: vec![],
            null_checks: vec![],
            tokens: Some(TokenSpec::default()),
            ..StreamSpec::default()
        })
    }

    #[test]
    fn content_chunks_and_usage_are_read_from_a_chat_stream() {
        let rules = chat_tokens();
        let chunk = |delta: &str| {
            format!(
                r#"{{"object":"chat.completion.chunk","choices":[{{"index":0,"delta":{delta}}}]}}"#
            )
        };
        let events = [
            // The role chunk's empty content is no token.
            event("", &chunk(r#"{"role":"assistant","content":""}"#)),
            event("", &chunk(r#"{"content":"Hi"}"#)),
            event("", &chunk(r#"{"content":" there"}"#)),
            event("", &chunk("{}")),
            event(
                "",
                r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#,
            ),
            event("", "[DONE]"),
        ];
        let (record, outcome) = run(&rules, &events);
        assert_eq!(outcome, Some(Outcome::Completed));
        let t = &record.tokens;
        assert_eq!(t.chunks, 2);
        assert_eq!(
            (t.first, t.last),
            (
                Some(Duration::from_millis(1)),
                Some(Duration::from_millis(2))
            )
        );
        assert_eq!(t.gaps_us, [1_000]);
        assert_eq!(t.usage, Some(2));
        // Without `[stream.tokens]` nothing is read.
        let plain = StreamRules::new(StreamSpec {
            tokens: None,
            ..chat_tokens().spec
        });
        assert_eq!(run(&plain, &events).0.tokens, TokenRecord::default());
    }

    #[test]
    fn responses_content_is_read_from_its_named_events_only() {
        let rules = StreamRules::new(StreamSpec {
            stages: vec![],
            terminal: vec![EventMatch::named("response.completed")],
            error: vec![],
            null_checks: vec![],
            tokens: Some(TokenSpec {
                event: Some("response.output_text.delta".into()),
                content: "/delta".into(),
                usage: "/response/usage/output_tokens".into(),
                ..TokenSpec::default()
            }),
            ..StreamSpec::default()
        });
        let delta = r#"{"type":"response.output_text.delta","delta":"Hi"}"#;
        let events = [
            event("response.created", r#"{"delta":"not text"}"#),
            event("response.output_text.delta", delta),
            event("response.output_text.delta", delta),
            event("response.output_text.delta", delta),
            event("response.output_text.done", r#"{"text":"HiHiHi"}"#),
            event(
                "response.completed",
                r#"{"response":{"usage":{"output_tokens":3}}}"#,
            ),
        ];
        let (record, outcome) = run(&rules, &events);
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!((record.tokens.chunks, record.tokens.usage), (3, Some(3)));
        assert_eq!(record.tokens.first, Some(Duration::from_millis(1)));
    }

    #[test]
    fn the_buffered_rule_takes_a_burst_after_a_wait() {
        let rules = chat_tokens();
        let tokens = rules.tokens.as_ref().unwrap();
        let stream = |first_ms: u64, gap_us: u64, n: u64| {
            let mut t = TokenRecord::default();
            for i in 0..n {
                t.chunk(Duration::from_millis(first_ms) + Duration::from_micros(gap_us * i));
            }
            t
        };
        assert!(
            tokens.is_buffered(&stream(200, 0, 16)),
            "one read after 200 ms"
        );
        assert!(
            tokens.is_buffered(&stream(50, 2_500, 3)),
            "5 ms spread, at the bounds"
        );
        assert!(!tokens.is_buffered(&stream(200, 20_000, 16)), "paced");
        assert!(!tokens.is_buffered(&stream(200, 0, 2)), "too few chunks");
        assert!(!tokens.is_buffered(&stream(49, 0, 16)), "no long wait");
        // At time scale 0.02 the bounds are 100 µs and 1 ms.
        let scaled = chat_tokens().with_time_scale(0.02);
        let tokens = scaled.tokens.as_ref().unwrap();
        assert!(!tokens.is_buffered(&stream(4, 300, 16)), "paced at 0.3 ms");
        assert!(tokens.is_buffered(&stream(4, 0, 16)));
    }

    #[tokio::test]
    async fn an_oversized_event_ends_the_stream_unread() {
        let spec = StreamSpec {
            max_event_bytes: 64,
            ..StreamSpec::default()
        };
        let rules = StreamRules::new(spec);
        let mut body = String::new();
        for e in eco2_events("null") {
            body.push_str(&format!("data: {}\n\n", e.data));
        }
        // Every event of the run is within the bound but the last, the reward's with its result.
        let record = read_in_chunks(&rules, body.as_bytes(), 16).await;
        assert_eq!(
            record.outcome,
            Outcome::Failed(FailureClass::MalformedEvent)
        );
        assert!(
            record.stages[2].completed.is_some(),
            "read up to the big one"
        );
        // A line that never ends: nothing is polled after the chunk that passed the bound.
        let polled = std::sync::atomic::AtomicUsize::new(0);
        let endless = futures_util::stream::repeat_with(|| {
            polled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Bytes::from_static(b"xxxxxxxxxxxxxxxx"))
        });
        let mut record = RequestRecord::new(rules.stages().len());
        let start = Instant::now();
        let limits = StreamLimits {
            deadline: start + Duration::from_secs(60),
            idle: Duration::from_secs(60),
        };
        let stop = CancellationToken::new();
        read_body(endless, start, &rules, limits, &stop, &mut record).await;
        assert_eq!(
            record.outcome,
            Outcome::Failed(FailureClass::MalformedEvent)
        );
        assert_eq!(
            polled.into_inner(),
            5,
            "64 bytes read, then the 16 past them"
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
            stats.scan(chunk, Instant::now());
        }
        assert_eq!(stats.keepalives, 2);
        assert_eq!(stats.bytes, 45);
    }

    #[test]
    fn keepalives_are_comment_lines_at_any_line_ending() {
        let text = b": a\r\n:b\r:c\n\ndata: x:y\n: d\r\n\r\n::e\n";
        // Every comment line, counted the slow way: a colon at the start of a line.
        let expected = (0..text.len())
            .filter(|&i| text[i] == b':' && (i == 0 || matches!(text[i - 1], b'\n' | b'\r')))
            .count() as u32;
        for size in 1..=text.len() {
            let mut stats = BodyStats::default();
            for chunk in text.chunks(size) {
                stats.scan(chunk, Instant::now());
            }
            assert_eq!(stats.keepalives, expected, "chunks of {size}");
        }
    }

    /// Reads `body` cut into chunks of `size` through [`read_body`].
    pub(super) async fn read_in_chunks(
        rules: &StreamRules,
        body: &[u8],
        size: usize,
    ) -> RequestRecord {
        let chunks: Vec<_> = body
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut record = RequestRecord::new(rules.stages().len());
        let start = Instant::now();
        let limits = StreamLimits {
            deadline: start + Duration::from_secs(60),
            idle: Duration::from_secs(60),
        };
        let stream = futures_util::stream::iter(chunks);
        read_body(
            stream,
            start,
            rules,
            limits,
            &CancellationToken::new(),
            &mut record,
        )
        .await;
        record
    }

    #[tokio::test]
    async fn chunk_boundaries_do_not_change_the_reading() {
        let rules = StreamRules::new(StreamSpec::default());
        let events = eco2_events("null");
        let mut body = String::new();
        for e in &events {
            body.push_str(&format!(": keepalive\r\n\r\ndata: {}\r\n\r\n", e.data));
        }
        let whole = read_in_chunks(&rules, body.as_bytes(), body.len()).await;
        assert_eq!(whole.outcome, Outcome::Completed);
        assert_eq!(whole.nulls, 1);
        assert_eq!(whole.bytes, body.len() as u64);
        assert_eq!(whole.keepalives, events.len() as u32);
        for size in 1..=64 {
            let record = read_in_chunks(&rules, body.as_bytes(), size).await;
            assert_eq!(record.outcome, whole.outcome, "chunks of {size}");
            assert_eq!(record.nulls, whole.nulls, "chunks of {size}");
            assert_eq!(record.keepalives, whole.keepalives, "chunks of {size}");
            assert!(
                record
                    .stages
                    .iter()
                    .all(|s| s.started.is_some() && s.completed.is_some()),
                "chunks of {size}"
            );
        }
    }

    #[tokio::test]
    async fn a_stream_that_ends_early_is_partial_or_malformed() {
        let rules = StreamRules::new(StreamSpec::default());
        let cut = "data: {\"step\": \"vision\", \"status\": \"started\"}\n\ndata: {\"st";
        let record = read_in_chunks(&rules, cut.as_bytes(), 7).await;
        assert_eq!(record.outcome, Outcome::Partial);
        assert!(record.first_stage.is_some());
        // A truncated character at the end is malformed text, not a truncated event.
        let mut truncated = cut.as_bytes().to_vec();
        truncated.extend_from_slice(&"\u{2603}".as_bytes()[..2]);
        let record = read_in_chunks(&rules, &truncated, 7).await;
        assert_eq!(
            record.outcome,
            Outcome::Failed(FailureClass::MalformedEvent)
        );
        // Text that is no UTF-8 makes the stream malformed, whatever complete run follows it.
        let mut invalid = b"data: \xff\n\n".to_vec();
        for e in eco2_events("null") {
            invalid.extend_from_slice(format!("data: {}\n\n", e.data).as_bytes());
        }
        let record = read_in_chunks(&rules, &invalid, 64).await;
        assert_eq!(
            record.outcome,
            Outcome::Failed(FailureClass::MalformedEvent)
        );
        assert_eq!(record.chain, None);
    }
}
