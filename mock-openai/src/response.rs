//! Response bodies in OpenAI's shapes: `chat.completion`, `chat.completion.chunk`, the
//! Responses API's `response` object and its streaming events.

use serde::Serialize;
use serde_json::Value;

use crate::content::OutputFormat;

/// What every body of one answer shares.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub id: String,
    /// Responses API: id of the output message item.
    pub item_id: String,
    pub created: u64,
    pub model: String,
    pub prompt_tokens: u32,
    pub instructions: Option<String>,
    pub format: OutputFormat,
    pub max_output_tokens: Option<u32>,
}

const FINGERPRINT: &str = "fp_mock0penai";

#[derive(Serialize)]
pub(crate) struct ChatUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u32,
    audio_tokens: u32,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u32,
    audio_tokens: u32,
    accepted_prediction_tokens: u32,
    rejected_prediction_tokens: u32,
}

impl ChatUsage {
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            prompt_tokens_details: PromptDetails {
                cached_tokens: 0,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

/// `"stop"` or `"length"`.
pub(crate) fn finish_reason(truncated: bool) -> &'static str {
    if truncated { "length" } else { "stop" }
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChatChoice<'a>; 1],
    usage: ChatUsage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: ChatMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<()>,
    annotations: [(); 0],
}

/// A non-streaming `chat.completion` body.
pub(crate) fn chat_completion(meta: &Meta, text: &str, tokens: u32, truncated: bool) -> Vec<u8> {
    let body = ChatCompletion {
        id: &meta.id,
        object: "chat.completion",
        created: meta.created,
        model: &meta.model,
        choices: [ChatChoice {
            index: 0,
            message: ChatMessage {
                role: "assistant",
                content: text,
                refusal: None,
                annotations: [],
            },
            logprobs: None,
            finish_reason: finish_reason(truncated),
        }],
        usage: ChatUsage::new(meta.prompt_tokens, tokens),
        service_tier: "default",
        system_fingerprint: FINGERPRINT,
    };
    serde_json::to_vec(&body).expect("completion serializes")
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<ChatUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<()>>,
}

/// The pieces of a chat stream, each one SSE `data:` payload.
pub(crate) enum ChunkKind<'a> {
    /// First chunk: `delta.role = "assistant"`, empty content.
    Role,
    /// One content delta.
    Content(&'a str),
    /// Empty delta with `finish_reason`.
    Finish(&'static str),
    /// `choices: []` with `usage` (when `stream_options.include_usage`).
    Usage(ChatUsage),
}

/// One `chat.completion.chunk` as JSON. With `include_usage`, every chunk carries `usage: null`
/// except the usage chunk, as OpenAI does.
pub(crate) fn chat_chunk(meta: &Meta, kind: ChunkKind<'_>, include_usage: bool) -> Vec<u8> {
    let choice = |delta, finish_reason| {
        vec![ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        }]
    };
    let (choices, usage) = match kind {
        ChunkKind::Role => {
            let delta = Delta {
                role: Some("assistant"),
                content: Some(""),
                refusal: Some(None),
            };
            (choice(delta, None), None)
        }
        ChunkKind::Content(text) => (
            choice(
                Delta {
                    content: Some(text),
                    ..Delta::default()
                },
                None,
            ),
            None,
        ),
        ChunkKind::Finish(reason) => (choice(Delta::default(), Some(reason)), None),
        ChunkKind::Usage(usage) => (Vec::new(), Some(usage)),
    };
    let chunk = ChatChunk {
        id: &meta.id,
        object: "chat.completion.chunk",
        created: meta.created,
        model: &meta.model,
        service_tier: "default",
        system_fingerprint: FINGERPRINT,
        choices,
        usage: include_usage.then_some(usage),
    };
    serde_json::to_vec(&chunk).expect("chunk serializes")
}

/// State of a Responses API object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    InProgress,
    Completed,
    Incomplete,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete => "incomplete",
        }
    }
}

#[derive(Serialize)]
struct ResponseObject<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    background: bool,
    error: Option<()>,
    incomplete_details: Option<IncompleteDetails>,
    instructions: Option<&'a str>,
    max_output_tokens: Option<u32>,
    model: &'a str,
    #[serde(serialize_with = "zero_or_one")]
    output: Option<[OutputMessage<'a>; 1]>,
    parallel_tool_calls: bool,
    previous_response_id: Option<()>,
    reasoning: Reasoning,
    service_tier: &'static str,
    store: bool,
    temperature: f64,
    text: TextField<'a>,
    tool_choice: &'static str,
    tools: [(); 0],
    top_p: f64,
    truncation: &'static str,
    usage: Option<ResponseUsage>,
    user: Option<()>,
    metadata: Empty,
}

/// An array of zero or one item, without allocating.
fn zero_or_one<S: serde::Serializer, T: Serialize>(
    item: &Option<[T; 1]>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(item.iter().flatten())
}

#[derive(Serialize)]
struct IncompleteDetails {
    reason: &'static str,
}

#[derive(Serialize)]
struct Reasoning {
    effort: Option<()>,
    summary: Option<()>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct TextField<'a> {
    format: TextFormat<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TextFormat<'a> {
    Text,
    JsonObject,
    JsonSchema {
        name: &'a str,
        schema: &'a Value,
        strict: bool,
    },
}

impl<'a> TextFormat<'a> {
    fn of(format: &'a OutputFormat) -> Self {
        match format {
            OutputFormat::Text => TextFormat::Text,
            OutputFormat::JsonObject => TextFormat::JsonObject,
            OutputFormat::JsonSchema { name, schema } => TextFormat::JsonSchema {
                name,
                schema,
                strict: true,
            },
        }
    }
}

#[derive(Serialize)]
struct OutputMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    role: &'static str,
    #[serde(serialize_with = "zero_or_one")]
    content: Option<[OutputText<'a>; 1]>,
}

impl<'a> OutputMessage<'a> {
    fn new(id: &'a str, status: &'static str, text: Option<&'a str>) -> Self {
        Self {
            id,
            kind: "message",
            status,
            role: "assistant",
            content: text.map(|t| [OutputText::new(t)]),
        }
    }
}

#[derive(Serialize)]
struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    annotations: [(); 0],
    logprobs: [(); 0],
}

impl<'a> OutputText<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            kind: "output_text",
            text,
            annotations: [],
            logprobs: [],
        }
    }
}

#[derive(Serialize)]
struct ResponseUsage {
    input_tokens: u32,
    input_tokens_details: InputDetails,
    output_tokens: u32,
    output_tokens_details: OutputDetails,
    total_tokens: u32,
}

#[derive(Serialize)]
struct InputDetails {
    cached_tokens: u32,
}

#[derive(Serialize)]
struct OutputDetails {
    reasoning_tokens: u32,
}

/// The Responses API object. `text` is the answer so far (`None`: no output item yet).
fn response_object<'a>(
    meta: &'a Meta,
    status: Status,
    text: Option<&'a str>,
    output_tokens: u32,
) -> ResponseObject<'a> {
    let done = status != Status::InProgress;
    let item_status = if done { status.as_str() } else { "in_progress" };
    ResponseObject {
        id: &meta.id,
        object: "response",
        created_at: meta.created,
        status: status.as_str(),
        background: false,
        error: None,
        incomplete_details: (status == Status::Incomplete).then_some(IncompleteDetails {
            reason: "max_output_tokens",
        }),
        instructions: meta.instructions.as_deref(),
        max_output_tokens: meta.max_output_tokens,
        model: &meta.model,
        output: text.map(|t| [OutputMessage::new(&meta.item_id, item_status, Some(t))]),
        parallel_tool_calls: true,
        previous_response_id: None,
        reasoning: Reasoning {
            effort: None,
            summary: None,
        },
        service_tier: "default",
        store: true,
        temperature: 1.0,
        text: TextField {
            format: TextFormat::of(&meta.format),
        },
        tool_choice: "auto",
        tools: [],
        top_p: 1.0,
        truncation: "disabled",
        usage: done.then(|| ResponseUsage {
            input_tokens: meta.prompt_tokens,
            input_tokens_details: InputDetails { cached_tokens: 0 },
            output_tokens,
            output_tokens_details: OutputDetails {
                reasoning_tokens: 0,
            },
            total_tokens: meta.prompt_tokens.saturating_add(output_tokens),
        }),
        user: None,
        metadata: Empty {},
    }
}

/// A non-streaming Responses API body.
pub(crate) fn response(meta: &Meta, text: &str, tokens: u32, truncated: bool) -> Vec<u8> {
    let status = if truncated {
        Status::Incomplete
    } else {
        Status::Completed
    };
    serde_json::to_vec(&response_object(meta, status, Some(text), tokens))
        .expect("response serializes")
}

/// A Responses API streaming event; `data` of `event: {type}`.
pub(crate) enum Event<'a> {
    Created,
    InProgress,
    ItemAdded,
    PartAdded,
    Delta(&'a str),
    TextDone(&'a str),
    PartDone(&'a str),
    ItemDone(&'a str),
    /// `response.completed`, or `response.incomplete` when truncated.
    Finished {
        text: &'a str,
        tokens: u32,
        truncated: bool,
    },
}

/// The fields every event of a stream may carry; absent ones are skipped.
#[derive(Serialize, Default)]
struct EventBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<ResponseObject<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<OutputMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<OutputText<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<[(); 0]>,
}

impl Event<'_> {
    /// The event's `type`, which is also its SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Created => "response.created",
            Event::InProgress => "response.in_progress",
            Event::ItemAdded => "response.output_item.added",
            Event::PartAdded => "response.content_part.added",
            Event::Delta(_) => "response.output_text.delta",
            Event::TextDone(_) => "response.output_text.done",
            Event::PartDone(_) => "response.content_part.done",
            Event::ItemDone(_) => "response.output_item.done",
            Event::Finished {
                truncated: false, ..
            } => "response.completed",
            Event::Finished {
                truncated: true, ..
            } => "response.incomplete",
        }
    }

    /// The event's JSON.
    pub fn to_json(&self, meta: &Meta, sequence_number: u32) -> Vec<u8> {
        let base = || EventBody {
            kind: self.kind(),
            sequence_number,
            ..EventBody::default()
        };
        let in_item = || EventBody {
            item_id: Some(&meta.item_id),
            output_index: Some(0),
            content_index: Some(0),
            ..base()
        };
        let body = match *self {
            Event::Created | Event::InProgress => EventBody {
                response: Some(response_object(meta, Status::InProgress, None, 0)),
                ..base()
            },
            Event::ItemAdded => EventBody {
                output_index: Some(0),
                item: Some(OutputMessage::new(&meta.item_id, "in_progress", None)),
                ..base()
            },
            Event::PartAdded => EventBody {
                part: Some(OutputText::new("")),
                ..in_item()
            },
            Event::Delta(delta) => EventBody {
                delta: Some(delta),
                logprobs: Some([]),
                ..in_item()
            },
            Event::TextDone(text) => EventBody {
                text: Some(text),
                logprobs: Some([]),
                ..in_item()
            },
            Event::PartDone(text) => EventBody {
                part: Some(OutputText::new(text)),
                ..in_item()
            },
            Event::ItemDone(text) => EventBody {
                output_index: Some(0),
                item: Some(OutputMessage::new(&meta.item_id, "completed", Some(text))),
                ..base()
            },
            Event::Finished {
                text,
                tokens,
                truncated,
            } => {
                let status = if truncated {
                    Status::Incomplete
                } else {
                    Status::Completed
                };
                EventBody {
                    response: Some(response_object(meta, status, Some(text), tokens)),
                    ..base()
                }
            }
        };
        serde_json::to_vec(&body).expect("event serializes")
    }
}
