//! Stream events and their wire framing in the three protocols.
//!
//! `eco2-v1` reproduces the bytes of Eco²'s published test: bare `data:` lines holding JSON
//! written the way Python's `json.dumps` writes it (`", "` and `": "` separators, non-ASCII
//! kept), a blank line after each, and `: keepalive` comments. `named-events` adds `event:`
//! names: `stage` (with a `queued` step in place of the `started` line), `ready` for the
//! result, `error` for failures. `stage-events` names each event by its stage instead
//! (`queued`, `vision`, `rule`, `answer`, `reward`, then `done` with the result), numbers
//! them with `id:` lines from 1 (for a client's `Last-Event-ID`; the pipeline replays
//! nothing), sends failures as `event: error` and keep-alives as `event: keepalive`.

use bytes::Bytes;
use serde::Serialize;

use crate::chain::Stage;
use crate::config::Protocol;
use crate::result::ScanResult;

/// What a stage reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StageStatus {
    Started,
    Completed,
    Failed,
}

/// One event of a run, before framing.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// The run is set up (`{"status": "started", "task_id": ...}`).
    Started { task_id: String },
    /// A stage changed state; the reward's `completed` carries the result.
    Stage {
        stage: Stage,
        status: StageStatus,
        result: Option<Box<ScanResult>>,
        error: Option<String>,
    },
    /// The run could not be dispatched or was ended by the server.
    Error { error: String },
    /// The chain did not finish within the chain timeout.
    Timeout { task_id: String },
}

impl Event {
    pub fn stage(stage: Stage, status: StageStatus) -> Self {
        Event::Stage {
            stage,
            status,
            result: None,
            error: None,
        }
    }

    /// Whether the stream ends after this event.
    pub fn is_terminal(&self) -> bool {
        match self {
            Event::Started { .. } => false,
            Event::Stage { stage, status, .. } => {
                *status == StageStatus::Failed
                    || (*stage == Stage::Reward && *status == StageStatus::Completed)
            }
            Event::Error { .. } | Event::Timeout { .. } => true,
        }
    }

    /// The framed bytes of this event; `ids` numbers the events of a stream with `id:` lines.
    pub fn encode(&self, protocol: Protocol, ids: &mut EventIds) -> Bytes {
        let mut out = Vec::with_capacity(96);
        match protocol {
            Protocol::Eco2V1 => self.write_data(Head::default(), &mut out),
            Protocol::NamedEvents => {
                self.write_named(&mut out, |frame| Head::named(frame.named_events()))
            }
            Protocol::StageEvents => self.write_named(&mut out, |frame| Head {
                event: Some(frame.stage_events()),
                id: Some(ids.next()),
            }),
        }
        Bytes::from(out)
    }

    /// The eco2-v1 `data:` payload, optionally under an `event:` name and an `id:`.
    fn write_data(&self, head: Head<'_>, out: &mut Vec<u8>) {
        match self {
            Event::Started { task_id } => write_frame(
                out,
                head,
                &StatusData {
                    status: "started",
                    task_id,
                },
            ),
            Event::Stage {
                stage,
                status,
                result,
                error,
            } => write_frame(
                out,
                head,
                &StageData {
                    step: stage.name(),
                    status: *status,
                    progress: stage.progress(*status),
                    result: result.as_deref(),
                    error: error.as_deref(),
                },
            ),
            Event::Error { error } => write_frame(
                out,
                head,
                &ErrorData {
                    status: "error",
                    error,
                },
            ),
            Event::Timeout { task_id } => write_frame(
                out,
                head,
                &StatusData {
                    status: "timeout",
                    task_id,
                },
            ),
        }
    }

    /// The named-event framing of both later protocols: the `started` line becomes a `queued`
    /// event, the reward's result moves to an event of its own, failures go out as errors;
    /// `head` names each frame (and numbers it, in `stage-events`).
    fn write_named(&self, out: &mut Vec<u8>, mut head: impl FnMut(Frame) -> Head<'static>) {
        match self {
            Event::Started { task_id } => write_frame(
                out,
                head(Frame::Queued),
                &QueuedData {
                    step: "queued",
                    status: "started",
                    progress: 0,
                    task_id,
                },
            ),
            Event::Stage {
                stage,
                status: StageStatus::Completed,
                result: Some(result),
                ..
            } => {
                Event::stage(*stage, StageStatus::Completed)
                    .write_data(head(Frame::Stage(*stage)), out);
                write_frame(
                    out,
                    head(Frame::Result),
                    &ReadyData {
                        step: "done",
                        result,
                    },
                );
            }
            Event::Stage {
                status: StageStatus::Failed,
                ..
            }
            | Event::Error { .. }
            | Event::Timeout { .. } => self.write_data(head(Frame::Error), out),
            Event::Stage { stage, .. } => self.write_data(head(Frame::Stage(*stage)), out),
        }
    }
}

/// What a frame of the named-event protocols carries, which decides its `event:` name.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// The run is set up.
    Queued,
    /// A stage changed state.
    Stage(Stage),
    /// The scan's result.
    Result,
    /// A failure.
    Error,
}

impl Frame {
    /// The `event:` name in `named-events`: `stage`, `ready` or `error`.
    fn named_events(self) -> &'static str {
        match self {
            Frame::Queued | Frame::Stage(_) => "stage",
            Frame::Result => "ready",
            Frame::Error => "error",
        }
    }

    /// The `event:` name in `stage-events`: the stage itself, `queued`, `done` or `error`.
    fn stage_events(self) -> &'static str {
        match self {
            Frame::Queued => "queued",
            Frame::Stage(stage) => stage.name(),
            Frame::Result => "done",
            Frame::Error => "error",
        }
    }
}

/// The numbers of a stream's `id:` lines, from 1.
#[derive(Debug, Default)]
pub(crate) struct EventIds(u64);

impl EventIds {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// The lines of a frame before its `data:`.
#[derive(Debug, Clone, Copy, Default)]
struct Head<'a> {
    event: Option<&'a str>,
    id: Option<u64>,
}

impl<'a> Head<'a> {
    fn named(event: &'a str) -> Self {
        Head {
            event: Some(event),
            id: None,
        }
    }
}

/// Writes `[event: NAME\n][id: N\n]data: JSON\n\n` with Python's `json.dumps` spacing.
fn write_frame(out: &mut Vec<u8>, head: Head<'_>, data: &impl Serialize) {
    if let Some(name) = head.event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    if let Some(id) = head.id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    out.extend_from_slice(b"data: ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, PythonFormatter);
    data.serialize(&mut serializer)
        .expect("event data serializes");
    out.extend_from_slice(b"\n\n");
}

/// serde_json formatting with the separators of Python's `json.dumps` defaults.
struct PythonFormatter;

/// `", "` before every item but the first, as `json.dumps` separates them.
fn python_separator<W: ?Sized + std::io::Write>(
    writer: &mut W,
    first: bool,
) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        python_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        python_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The keep-alive after a silence: a comment, or in `stage-events` an event of its own (with
/// data, so that an `EventSource` dispatches it).
pub(crate) fn keepalive(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Eco2V1 | Protocol::NamedEvents => b": keepalive\n\n",
        Protocol::StageEvents => b"event: keepalive\ndata: {}\n\n",
    }
}

#[derive(Serialize)]
struct StatusData<'a> {
    status: &'static str,
    task_id: &'a str,
}

#[derive(Serialize)]
struct QueuedData<'a> {
    step: &'static str,
    status: &'static str,
    progress: u8,
    task_id: &'a str,
}

#[derive(Serialize)]
struct StageData<'a> {
    step: &'static str,
    status: StageStatus,
    progress: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a ScanResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    status: &'static str,
    error: &'a str,
}

#[derive(Serialize)]
struct ReadyData<'a> {
    step: &'static str,
    result: &'a ScanResult,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(event: &Event, protocol: Protocol) -> String {
        String::from_utf8(event.encode(protocol, &mut EventIds::default()).to_vec()).unwrap()
    }

    #[test]
    fn eco2_lines_match_the_published_bytes() {
        let started = Event::Started {
            task_id: "t-1".into(),
        };
        assert_eq!(
            text(&started, Protocol::Eco2V1),
            "data: {\"status\": \"started\", \"task_id\": \"t-1\"}\n\n"
        );
        let stage = Event::stage(Stage::Rule, StageStatus::Completed);
        assert_eq!(
            text(&stage, Protocol::Eco2V1),
            "data: {\"step\": \"rule\", \"status\": \"completed\", \"progress\": 50}\n\n"
        );
        let error = Event::Error {
            error: "IMAGE_URL_REQUIRED".into(),
        };
        assert_eq!(
            text(&error, Protocol::Eco2V1),
            "data: {\"status\": \"error\", \"error\": \"IMAGE_URL_REQUIRED\"}\n\n"
        );
    }

    #[test]
    fn named_events_move_the_result_to_ready() {
        let input = crate::chain::ScanInput {
            task_id: "t".into(),
            user_id: "u".into(),
            image_url: "https://example.com/a.jpg".into(),
            user_input: String::new(),
        };
        let result = crate::chain::ChainState::new(std::sync::Arc::new(input)).result();
        let done = Event::Stage {
            stage: Stage::Reward,
            status: StageStatus::Completed,
            result: Some(Box::new(result)),
            error: None,
        };
        let text = text(&done, Protocol::NamedEvents);
        assert!(
            text.starts_with(
                "event: stage\ndata: {\"step\": \"reward\", \"status\": \"completed\", \
                 \"progress\": 100}\n\nevent: ready\ndata: {\"step\": \"done\", \"result\": \
                 {\"task_id\": \"t\", \"status\": \"completed\", \"message\": "
            ),
            "{text}"
        );
        assert!(
            text.ends_with("\"reward\": null, \"error\": null}}\n\n"),
            "{text}"
        );
        let queued = Event::Started {
            task_id: "t".into(),
        };
        assert!(
            self::text(&queued, Protocol::NamedEvents)
                .starts_with("event: stage\ndata: {\"step\": \"queued\", \"status\": \"started\"")
        );
    }
}
