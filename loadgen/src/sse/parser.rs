//! The `text/event-stream` framing (WHATWG HTML, "Server-sent events", parsing an event
//! stream) over byte chunks, without an allocation per event.
//!
//! Only what reading a stream's outcome needs is kept: `data` lines (joined with LF), the
//! `event` name and event boundaries. `id` and `retry` only matter to a client that reconnects,
//! and comments are counted on the raw bytes by the caller, so all three are skipped.

use std::str::Utf8Error;

/// One dispatched event, borrowed from the parser until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event name; `message` when the event had none (the spec's default type).
    pub name: &'a str,
    /// The data lines, joined with LF.
    pub data: &'a str,
}

/// The UTF-8 byte order mark, skipped once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits an event stream into events as its chunks arrive.
#[derive(Debug, Default)]
pub struct EventParser {
    /// Bytes received and not yet consumed (from `pos` on).
    buf: Vec<u8>,
    pos: usize,
    /// The stream's first bytes have been checked for a BOM.
    started: bool,
    /// The last line ended in CR: an LF that follows belongs to it.
    after_cr: bool,
    /// The event being built, or the one last returned (`dispatched`).
    name: String,
    data: String,
    dispatched: bool,
}

impl EventParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next chunk of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
        } else if self.pos > 0 {
            self.buf.drain(..self.pos);
        }
        self.pos = 0;
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event in what was fed, or `None` until more arrives.
    ///
    /// A line that is not UTF-8 is an error; the stream cannot be read on after one.
    pub fn next_event(&mut self) -> Option<Result<Event<'_>, Utf8Error>> {
        if self.dispatched {
            self.dispatched = false;
            self.name.clear();
            self.data.clear();
        }
        if !self.started {
            let head = &self.buf[self.pos..];
            if head.len() < BOM.len() && BOM.starts_with(head) {
                // Maybe the start of a BOM: wait for the rest.
                return None;
            }
            if head.starts_with(BOM) {
                self.pos += BOM.len();
            }
            self.started = true;
        }
        loop {
            let rest = &self.buf[self.pos..];
            if self.after_cr && !rest.is_empty() {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            let end = memchr::memchr2(b'\n', b'\r', rest)?;
            let line = &rest[..end];
            let mut next = self.pos + end + 1;
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.pos = next;
            if line.is_empty() {
                // An event without data is dropped, name and all, as the spec says.
                if self.data.is_empty() {
                    self.name.clear();
                    continue;
                }
                self.data.pop();
                self.dispatched = true;
                let name = if self.name.is_empty() {
                    "message"
                } else {
                    &self.name
                };
                return Some(Ok(Event {
                    name,
                    data: &self.data,
                }));
            }
            let line = match std::str::from_utf8(line) {
                Ok(line) => line,
                Err(e) => return Some(Err(e)),
            };
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
                "event" => {
                    self.name.clear();
                    self.name.push_str(value);
                }
                _ => {}
            }
        }
    }

    /// Whether bytes are left over that are not UTF-8: at the end of a stream, a truncated
    /// character rather than a truncated event.
    pub fn rest_is_malformed(&self) -> bool {
        std::str::from_utf8(&self.buf[self.pos..]).is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of `chunks` as (name, data); `Err` at a line that is not UTF-8.
    fn events(chunks: &[&[u8]]) -> Result<Vec<(String, String)>, Utf8Error> {
        let mut parser = EventParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk);
            while let Some(event) = parser.next_event() {
                let event = event?;
                out.push((event.name.to_owned(), event.data.to_owned()));
            }
        }
        Ok(out)
    }

    fn whole(text: &str) -> Vec<(String, String)> {
        events(&[text.as_bytes()]).unwrap()
    }

    fn message(data: &str) -> (String, String) {
        ("message".into(), data.into())
    }

    #[test]
    fn data_lines_make_events() {
        assert_eq!(whole("data: Hello, world!\n\n"), [message("Hello, world!")]);
        assert_eq!(
            whole("data: Hello,\ndata: world!\n\n"),
            [message("Hello,\nworld!")]
        );
        assert_eq!(
            whole("data: first\n\ndata: second\n\n"),
            [message("first"), message("second")]
        );
        assert_eq!(whole("data: no blank line yet\n"), []);
    }

    #[test]
    fn spec_examples() {
        // The WHATWG spec's examples of parsing an event stream.
        assert_eq!(
            whole(
                ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
            ),
            [
                message("first event"),
                message("second event"),
                message(" third event")
            ]
        );
        assert_eq!(
            whole("data\n\ndata\ndata\n\ndata:"),
            [message(""), message("\n")]
        );
        assert_eq!(
            whole("data: YHOO\ndata: +2\ndata: 10\n\n"),
            [message("YHOO\n+2\n10")]
        );
        assert_eq!(
            whole("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"),
            [
                ("add".into(), "73857293".into()),
                ("remove".into(), "2153".into())
            ]
        );
    }

    #[test]
    fn event_names_last_one_event() {
        assert_eq!(
            whole("event: stage\ndata: 1\n\ndata: 2\n\n"),
            [("stage".into(), "1".into()), message("2")]
        );
        // An event without data is dropped, and its name with it.
        assert_eq!(whole("event: keepalive\n\ndata: x\n\n"), [message("x")]);
        assert_eq!(
            whole("event: a\nevent: b\ndata: x\n\n"),
            [("b".into(), "x".into())]
        );
    }

    #[test]
    fn comments_and_other_fields_are_skipped() {
        assert_eq!(
            whole(": keepalive\n\nid: 7\nretry: 10\nfoo: bar\ndata: x\n:mid\n\n"),
            [message("x")]
        );
    }

    #[test]
    fn every_line_ending() {
        let expected = [message("a\nb"), message("c")];
        for text in [
            "data: a\ndata: b\n\ndata: c\n\n",
            "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
            "data: a\rdata: b\r\rdata: c\r\r",
            "data: a\r\ndata: b\r\rdata: c\n\r\n",
        ] {
            assert_eq!(whole(text), expected, "{text:?}");
            // Byte by byte: a CR at the end of one chunk and an LF at the start of the next
            // are one line ending.
            let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
            assert_eq!(events(&bytes).unwrap(), expected, "{text:?} byte by byte");
        }
    }

    #[test]
    fn an_event_is_ready_as_its_blank_line_arrives() {
        let mut parser = EventParser::new();
        parser.feed(b"data: {\"step\": \"vi");
        assert!(parser.next_event().is_none());
        parser.feed(b"sion\"}\n");
        assert!(parser.next_event().is_none());
        parser.feed(b"\rdata: next");
        let event = parser.next_event().unwrap().unwrap();
        assert_eq!(event.data, r#"{"step": "vision"}"#);
        assert!(parser.next_event().is_none());
    }

    #[test]
    fn a_leading_bom_is_skipped_once() {
        assert_eq!(whole("\u{feff}data: x\n\n"), [message("x")]);
        let bom = "\u{feff}".as_bytes();
        assert_eq!(
            events(&[&bom[..1], &bom[1..], b"data: x\n\n"]).unwrap(),
            [message("x")]
        );
        // Only at the start: later, it is part of a field name.
        assert_eq!(whole("\u{feff}\u{feff}data: x\n\n"), []);
        assert_eq!(whole("data: x\n\n\u{feff}data: y\n\n"), [message("x")]);
    }

    #[test]
    fn text_that_is_not_utf8_is_an_error() {
        assert!(events(&[b"data: \xff\n\n"]).is_err());
        assert!(events(&[b": \xff\n"]).is_err());
        // A character split across chunks is fine.
        let snowman = "data: \u{2603}\n\n".as_bytes();
        assert_eq!(
            events(&[&snowman[..8], &snowman[8..]]).unwrap(),
            [message("\u{2603}")]
        );
        // At the end of the stream, a truncated character is malformed, a truncated line is not.
        let mut parser = EventParser::new();
        parser.feed(&snowman[..8]);
        assert!(parser.next_event().is_none());
        assert!(parser.rest_is_malformed());
        parser.feed(&snowman[8..]);
        assert!(parser.next_event().is_some());
        parser.feed(b"data: trunc");
        assert!(parser.next_event().is_none());
        assert!(!parser.rest_is_malformed());
    }
}
