//! Stream events and their wire framing in both protocols.
//!
//! `eco2-v1` reproduces the seed's bytes: bare `data:` lines holding JSON written the way
//! Python's `json.dumps` writes it (`", "` and `": "` separators, non-ASCII kept), a blank line
//! after each, and `: keepalive` comments. `named-events` adds `event:` names: `stage` (with a
//! `queued` step in place of the `started` line), `ready` for the result, `error` for failures.

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

    /// The framed bytes of this event.
    pub fn encode(&self, protocol: Protocol) -> Bytes {
        let mut out = Vec::with_capacity(96);
        match protocol {
            Protocol::Eco2V1 => self.write_data(None, &mut out),
            Protocol::NamedEvents => self.write_named(&mut out),
        }
        Bytes::from(out)
    }

    /// The eco2-v1 `data:` payload, optionally under an `event:` name.
    fn write_data(&self, event: Option<&str>, out: &mut Vec<u8>) {
        match self {
            Event::Started { task_id } => write_frame(
                out,
                event,
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
                event,
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
                event,
                &ErrorData {
                    status: "error",
                    error,
                },
            ),
            Event::Timeout { task_id } => write_frame(
                out,
                event,
                &StatusData {
                    status: "timeout",
                    task_id,
                },
            ),
        }
    }

    fn write_named(&self, out: &mut Vec<u8>) {
        match self {
            Event::Started { task_id } => write_frame(
                out,
                Some("stage"),
                &QueuedData {
                    step: "queued",
                    status: "started",
                    progress: 0,
                    task_id,
                },
            ),
            // The result moves from the reward stage event to a `ready` event.
            Event::Stage {
                stage,
                status: StageStatus::Completed,
                result: Some(result),
                ..
            } => {
                Event::stage(*stage, StageStatus::Completed).write_data(Some("stage"), out);
                write_frame(
                    out,
                    Some("ready"),
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
            | Event::Timeout { .. } => self.write_data(Some("error"), out),
            Event::Stage { .. } => self.write_data(Some("stage"), out),
        }
    }
}

/// Writes `[event: NAME\n]data: JSON\n\n` with Python's `json.dumps` spacing.
fn write_frame(out: &mut Vec<u8>, event: Option<&str>, data: &impl Serialize) {
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, PythonFormatter);
    data.serialize(&mut serializer)
        .expect("event data serializes");
    out.extend_from_slice(b"\n\n");
}

/// serde_json formatting with the separators of Python's `json.dumps` defaults.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The keep-alive comment.
pub(crate) const KEEPALIVE: &[u8] = b": keepalive\n\n";

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
        String::from_utf8(event.encode(protocol).to_vec()).unwrap()
    }

    #[test]
    fn eco2_lines_match_the_seed_bytes() {
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
