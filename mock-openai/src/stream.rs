//! Server-sent-event bodies for `stream: true`, paced token by token.
//!
//! A stream is a small state machine driven by the response body: the first token goes out
//! `ttft` after the request, each further one `inter_token` later (deadlines, so pacing does not
//! drift). Tokens already due are written together, so with zero latency a whole answer is one
//! write. Faults change the schedule: a stall adds silence before anything, a burst holds every
//! token back until the last is due, a drop cuts the connection after some tokens.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::content::{Answer, next_token_len};
use crate::request::Api;
use crate::response::{self, ChatUsage, ChunkKind, Event, Meta};
use crate::server::InFlight;

/// When the parts of a stream are due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Request arrival.
    pub start: Instant,
    pub stall: Duration,
    pub ttft: Duration,
    pub inter_token: Duration,
    pub burst: bool,
    /// Cut the connection after this many tokens.
    pub drop_after: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stall,
    Opening,
    Tokens,
    Done,
}

pub(crate) struct TokenStream {
    api: Api,
    meta: Meta,
    include_usage: bool,
    answer: Answer,
    schedule: Schedule,
    phase: Phase,
    /// Byte offset of the next token in `answer.text`.
    offset: usize,
    sent_tokens: u32,
    sequence: u32,
    shutdown: CancellationToken,
    guard: InFlight,
}

impl TokenStream {
    pub fn new(
        api: Api,
        meta: Meta,
        include_usage: bool,
        answer: Answer,
        schedule: Schedule,
        shutdown: CancellationToken,
        guard: InFlight,
    ) -> Self {
        Self {
            api,
            meta,
            include_usage,
            answer,
            schedule,
            phase: Phase::Stall,
            offset: 0,
            sent_tokens: 0,
            sequence: 0,
            shutdown,
            guard,
        }
    }

    /// The response body.
    pub fn into_body(self) -> Body {
        let stream = futures_util::stream::unfold(self, |mut s| async move {
            let item = s.next_frame().await?;
            Some((item, s))
        });
        Body::from_stream(stream)
    }

    /// Deadline of token `i` (0-based), counted from the end of the stall.
    fn due(&self, i: u32) -> Instant {
        let s = &self.schedule;
        let pace = if s.burst {
            // Everything is held until the last token is due.
            s.inter_token
                .saturating_mul(self.answer.tokens.saturating_sub(1))
        } else {
            s.inter_token.saturating_mul(i)
        };
        s.start + s.stall + s.ttft + pace
    }

    async fn wait_until(&self, deadline: Instant) -> Result<(), io::Error> {
        if deadline <= Instant::now() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => Ok(()),
            () = self.shutdown.cancelled() => Err(io::Error::other("server shutting down")),
        }
    }

    async fn next_frame(&mut self) -> Option<Result<Bytes, io::Error>> {
        loop {
            match self.phase {
                Phase::Stall => {
                    self.phase = Phase::Opening;
                    if let Err(e) = self
                        .wait_until(self.schedule.start + self.schedule.stall)
                        .await
                    {
                        return self.fail(e);
                    }
                }
                Phase::Opening => {
                    self.phase = Phase::Tokens;
                    if self.api == Api::Responses {
                        let mut out = BytesMut::new();
                        self.event(&mut out, Event::Created);
                        self.event(&mut out, Event::InProgress);
                        return Some(Ok(out.freeze()));
                    }
                }
                Phase::Tokens => {
                    if self
                        .schedule
                        .drop_after
                        .is_some_and(|n| self.sent_tokens >= n)
                    {
                        self.phase = Phase::Done;
                        // Pending once, so the server flushes what was sent before the cut.
                        tokio::task::yield_now().await;
                        return Some(Err(io::Error::other("fault injected: stream dropped")));
                    }
                    if let Err(e) = self.wait_until(self.due(self.sent_tokens)).await {
                        return self.fail(e);
                    }
                    return Some(Ok(self.due_tokens()));
                }
                Phase::Done => return None,
            }
        }
    }

    fn fail(&mut self, e: io::Error) -> Option<Result<Bytes, io::Error>> {
        self.phase = Phase::Done;
        Some(Err(e))
    }

    /// Every token due by now (at least one), with the opening frames before the first.
    fn due_tokens(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        if self.sent_tokens == 0 {
            self.guard.first_token();
            match self.api {
                Api::Chat => self.chunk(&mut out, ChunkKind::Role),
                Api::Responses => {
                    self.event(&mut out, Event::ItemAdded);
                    self.event(&mut out, Event::PartAdded);
                }
            }
        }
        let now = Instant::now();
        loop {
            let text = &self.answer.text[self.offset..];
            if text.is_empty() {
                // An empty answer still gets its one (empty) token event.
                if self.sent_tokens == 0 {
                    self.sent_tokens = 1;
                }
                break;
            }
            let len = next_token_len(text);
            let token = self.answer.text[self.offset..self.offset + len].to_owned();
            match self.api {
                Api::Chat => self.chunk(&mut out, ChunkKind::Content(&token)),
                Api::Responses => self.event(&mut out, Event::Delta(&token)),
            }
            self.offset += len;
            self.sent_tokens += 1;
            let more_due = self.due(self.sent_tokens) <= now;
            let dropping = self
                .schedule
                .drop_after
                .is_some_and(|n| self.sent_tokens >= n);
            if !more_due || dropping {
                break;
            }
        }
        // The last token and the closing frames go out in one write (so a burst is one write).
        let dropping = self
            .schedule
            .drop_after
            .is_some_and(|n| self.sent_tokens >= n);
        if self.offset >= self.answer.text.len() && !dropping {
            self.phase = Phase::Done;
            self.closing(&mut out);
        }
        out.freeze()
    }

    /// Finish (and usage) chunks and `[DONE]`, or the Responses API's closing events.
    fn closing(&mut self, out: &mut BytesMut) {
        let truncated = self.answer.truncated;
        match self.api {
            Api::Chat => {
                self.chunk(out, ChunkKind::Finish(response::finish_reason(truncated)));
                if self.include_usage {
                    let usage = ChatUsage::new(self.meta.prompt_tokens, self.answer.tokens);
                    self.chunk(out, ChunkKind::Usage(usage));
                }
                out.put_slice(b"data: [DONE]\n\n");
            }
            Api::Responses => {
                let text = std::mem::take(&mut self.answer.text);
                self.event(out, Event::TextDone(&text));
                self.event(out, Event::PartDone(&text));
                self.event(out, Event::ItemDone(&text));
                let tokens = self.answer.tokens;
                self.event(
                    out,
                    Event::Finished {
                        text: &text,
                        tokens,
                        truncated,
                    },
                );
            }
        }
    }

    fn chunk(&self, out: &mut BytesMut, kind: ChunkKind<'_>) {
        out.put_slice(b"data: ");
        out.put_slice(&response::chat_chunk(&self.meta, kind, self.include_usage));
        out.put_slice(b"\n\n");
    }

    fn event(&mut self, out: &mut BytesMut, event: Event<'_>) {
        out.put_slice(b"event: ");
        out.put_slice(event.kind().as_bytes());
        out.put_slice(b"\ndata: ");
        out.put_slice(&event.to_json(&self.meta, self.sequence));
        out.put_slice(b"\n\n");
        self.sequence += 1;
    }
}
