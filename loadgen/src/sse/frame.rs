//! SSE framing (the WHATWG `text/event-stream` rules): lines ended by `\n`, `\r` or `\r\n`,
//! fields `event`, `data` (joined with `\n`), `id` and `retry`, comments, one space after the
//! colon stripped, a BOM at the start skipped, an event dispatched at a blank line.
//!
//! Incremental and linear: each byte is scanned once (an unfinished line is kept, not
//! rescanned), and no line or event data may grow beyond a bound, so a line that never ends
//! costs at most that bound. Our own, instead of `eventsource-stream`, which rescans its
//! whole buffer on every chunk (quadratic in an event's size) and has no bound.

use std::ops::ControlFlow;

/// One dispatched event, borrowed from the framer until the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `event:` name; `message` when the event had none.
    pub name: &'a str,
    /// The `data:` lines joined with `\n`.
    pub data: &'a str,
    /// The last `id:` seen in the stream, this event's or an earlier one's.
    pub id: &'a str,
}

/// Why framing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A line, or an event's data, grew beyond the bound.
    TooLarge,
    /// A line is not UTF-8.
    NotUtf8,
}

/// Turns chunks of an event stream into events.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    /// The unfinished line: bytes after the last line end, none of them a line end.
    line: Vec<u8>,
    /// The last chunk ended with `\r`: a `\n` first in the next one ends no second line.
    after_cr: bool,
    /// No line has ended yet (a BOM may open the first).
    first_line: bool,
    name: String,
    data: String,
    id: String,
}

impl Framer {
    /// A framer for lines and event data of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            name: String::new(),
            data: String::new(),
            id: String::new(),
        }
    }

    /// Frames `chunk`, calling `on_event` for each event it completes, until `on_event`
    /// breaks (the rest of the chunk is then left unread).
    pub fn feed<B>(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(&Event<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>, FrameError> {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let (ended, cr) = (&rest[..end], rest[end] == b'\r');
            rest = &rest[end + 1..];
            if cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let flow = if self.line.is_empty() {
                self.line_end(ended, &mut on_event)?
            } else {
                if self.line.len() + ended.len() > self.max {
                    return Err(FrameError::TooLarge);
                }
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(ended);
                let flow = self.line_end(&line, &mut on_event);
                // Kept for its capacity.
                line.clear();
                self.line = line;
                flow?
            };
            if flow.is_break() {
                return Ok(flow);
            }
        }
        if self.line.len() + rest.len() > self.max {
            return Err(FrameError::TooLarge);
        }
        self.line.extend_from_slice(rest);
        Ok(ControlFlow::Continue(()))
    }

    /// At the end of the stream: an unfinished line is dropped, as the spec says, but one
    /// that is not UTF-8 (a character cut off) makes the stream malformed.
    pub fn finish(&self) -> Result<(), FrameError> {
        match std::str::from_utf8(&self.line) {
            Ok(_) => Ok(()),
            Err(_) => Err(FrameError::NotUtf8),
        }
    }

    /// One whole line, without its line end.
    fn line_end<B>(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(&Event<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>, FrameError> {
        if line.len() > self.max {
            return Err(FrameError::TooLarge);
        }
        let mut line = std::str::from_utf8(line).map_err(|_| FrameError::NotUtf8)?;
        if std::mem::take(&mut self.first_line) {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            return Ok(self.dispatch(on_event));
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            // A comment (`: keepalive`).
            "" => {}
            "event" => {
                self.name.clear();
                self.name.push_str(value);
            }
            "data" => {
                if self.data.len() + value.len() > self.max {
                    return Err(FrameError::TooLarge);
                }
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => {
                self.id.clear();
                self.id.push_str(value);
            }
            // `retry` sets a reconnection delay; a load test's request never reconnects.
            _ => {}
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The blank line: the event so far, if it has data.
    fn dispatch<B>(
        &mut self,
        on_event: &mut impl FnMut(&Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        if self.data.is_empty() {
            self.name.clear();
            return ControlFlow::Continue(());
        }
        let name = if self.name.is_empty() {
            "message"
        } else {
            &self.name
        };
        let flow = on_event(&Event {
            name,
            data: &self.data[..self.data.len() - 1],
            id: &self.id,
        });
        self.name.clear();
        self.data.clear();
        flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event as `(name, data, id)`.
    type Owned = (String, String, String);

    /// Frames `chunks` with bound `max`: the events, and the error that stopped it.
    fn frame(chunks: &[&[u8]], max: usize) -> (Vec<Owned>, Result<(), FrameError>) {
        let mut framer = Framer::new(max);
        let mut events = Vec::new();
        for chunk in chunks {
            let fed = framer.feed(chunk, |e| {
                events.push((e.name.into(), e.data.into(), e.id.into()));
                ControlFlow::<()>::Continue(())
            });
            if let Err(e) = fed {
                return (events, Err(e));
            }
        }
        let end = framer.finish();
        (events, end)
    }

    fn owned(name: &str, data: &str, id: &str) -> Owned {
        (name.into(), data.into(), id.into())
    }

    /// Every rule of the spec once, with all three line ends and multi-byte characters.
    const BODY: &str = concat!(
        "\u{feff}: a comment\r\n",
        "data: first\r\n\r\n",
        "event: stage\rdata:no space\rdata:  two spaces\r\r",
        "id: 7\nevent: ünïcode ✓\ndata\ndata: x\n\n",
        "event: lonely\n\n",
        "retry: 1000\nfoo: bar\ndata: after lonely\n\n",
        "id\ndata: {\"a\": \"b:c\"}\r\n\n",
        "id: a\0b\ndata: a NUL id is ignored\n\n",
        "data: never dispatched",
    );

    fn body_events() -> Vec<Owned> {
        vec![
            owned("message", "first", ""),
            owned("stage", "no space\n two spaces", ""),
            owned("ünïcode ✓", "\nx", "7"),
            owned("message", "after lonely", "7"),
            owned("message", "{\"a\": \"b:c\"}", ""),
            owned("message", "a NUL id is ignored", ""),
        ]
    }

    #[test]
    fn the_spec_rules_hold() {
        assert_eq!(frame(&[BODY.as_bytes()], 1 << 20), (body_events(), Ok(())));
    }

    #[test]
    fn every_chunking_gives_the_same_events() {
        let body = BODY.as_bytes();
        let want = (body_events(), Ok(()));
        for size in 1..=body.len() {
            let chunks: Vec<&[u8]> = body.chunks(size).collect();
            assert_eq!(frame(&chunks, 1 << 20), want, "chunks of {size}");
        }
        for i in 0..=body.len() {
            for j in i..=body.len() {
                let chunks = [&body[..i], &body[i..j], &body[j..]];
                assert_eq!(frame(&chunks, 1 << 20), want, "cut at {i} and {j}");
            }
        }
    }

    #[test]
    fn every_line_ending_gives_the_same_events() {
        let lf = "data: a\ndata: b\n\nevent: e\ndata: c\n\n: x\n\nid: 1\ndata: d\n\n";
        let want = vec![
            owned("message", "a\nb", ""),
            owned("e", "c", ""),
            owned("message", "d", "1"),
        ];
        for end in ["\n", "\r", "\r\n"] {
            let body = lf.replace('\n', end);
            for size in 1..=body.len() {
                let chunks: Vec<&[u8]> = body.as_bytes().chunks(size).collect();
                assert_eq!(frame(&chunks, 64), (want.clone(), Ok(())), "{end:?} {size}");
            }
        }
        // A CR then an LF in the next chunk ends one line, not two.
        let (events, _) = frame(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], 64);
        assert_eq!(events, [owned("message", "a\nb", "")]);
    }

    #[test]
    fn the_bound_holds_mid_line_and_across_chunks() {
        let max = 16;
        let line = |n: usize| format!("data: {}", "x".repeat(n - 6));
        // A line of exactly the bound is read; one byte more is refused.
        let exact = format!("{}\n\n", line(max));
        assert_eq!(frame(&[exact.as_bytes()], max).1, Ok(()));
        let over = format!("{}\n\n", line(max + 1));
        assert_eq!(frame(&[over.as_bytes()], max).1, Err(FrameError::TooLarge));
        // The same line across chunks, refused before its end arrives.
        let (head, tail) = over.as_bytes().split_at(10);
        assert_eq!(frame(&[head, tail], max).1, Err(FrameError::TooLarge));
        let unended = &over.as_bytes()[..max + 1];
        let (a, b) = unended.split_at(5);
        assert_eq!(frame(&[a, b], max).1, Err(FrameError::TooLarge));
        // Short lines whose joined data is over the bound.
        let (events, end) = frame(&[b"data: 0123456789\ndata: 012345\n\n"], max);
        assert_eq!((events, end), (vec![], Err(FrameError::TooLarge)));
        let (events, end) = frame(&[b"data: 0123456789\ndata: 01234\n\n"], max);
        assert_eq!((events.len(), end), (1, Ok(())), "16 bytes joined");
    }

    #[test]
    fn a_line_that_never_ends_is_cut_at_the_bound() {
        let max = 4 << 20;
        let chunk = vec![b'x'; 1 << 20];
        let mut framer = Framer::new(max);
        let mut fed = 0;
        let result = loop {
            match framer.feed(&chunk, |_| ControlFlow::<()>::Continue(())) {
                Ok(_) => fed += 1,
                Err(e) => break e,
            }
            assert!(fed <= 4, "read on past the bound");
        };
        assert_eq!((fed, result), (4, FrameError::TooLarge));
        assert!(framer.line.len() <= max, "kept no more than the bound");
    }

    #[test]
    fn text_that_is_no_utf8_is_refused() {
        assert_eq!(frame(&[b"data: \xff\n\n"], 64).1, Err(FrameError::NotUtf8));
        // A character cut off by the end of the stream.
        let snowman = "data: \u{2603}".as_bytes();
        assert_eq!(
            frame(&[&snowman[..snowman.len() - 1]], 64).1,
            Err(FrameError::NotUtf8)
        );
        // Split across chunks, it is whole.
        let (a, b) = b"data: \xe2\x98\x83\n\n".split_at(7);
        assert_eq!(frame(&[a, b], 64).0, [owned("message", "\u{2603}", "")]);
    }

    #[test]
    fn a_break_leaves_the_rest_unread() {
        let mut framer = Framer::new(64);
        let mut seen = 0;
        let flow = framer.feed(b"data: a\n\ndata: b\n\n", |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert_eq!((flow, seen), (Ok(ControlFlow::Break(())), 1));
    }
}
