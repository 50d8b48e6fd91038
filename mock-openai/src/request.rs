//! Parsing of chat-completions and Responses API request bodies into one [`ModelRequest`].
//!
//! Bodies are read as `serde_json::Value`. Each parser first holds the body to its API's
//! parameter table ([`crate::params`]), which owns the types and ranges of every parameter
//! and refuses unknown ones; it then walks what the mock uses by hand, so that every error in
//! the structure names the offending field the way OpenAI does (`messages[0].content`).
//! Parameters the mock does not use (temperature, tools, ...) are checked and then ignored.

use serde_json::{Map, Value};

use crate::content::OutputFormat;
use crate::error::ApiError;
use crate::params;

/// Which endpoint a request came through; decides the response shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/responses`.
    Responses,
}

impl Api {
    /// The route label used in metrics.
    pub fn route(self) -> &'static str {
        match self {
            Api::Chat => "/v1/chat/completions",
            Api::Responses => "/v1/responses",
        }
    }
}

/// What the mock needs to know about a request, whichever endpoint it came through.
#[derive(Debug, Clone)]
pub(crate) struct ModelRequest {
    pub api: Api,
    pub model: String,
    pub stream: bool,
    /// Chat only: `stream_options.include_usage`.
    pub include_usage: bool,
    pub format: OutputFormat,
    /// `max_tokens` / `max_completion_tokens` / `max_output_tokens`.
    pub max_output_tokens: Option<u32>,
    /// Estimated prompt size in tokens.
    pub prompt_tokens: u32,
    /// Text of the last user message (echoed as `meta.user_input` of a vision answer).
    pub user_input: String,
    /// All text of the prompt (where a disposal answer looks for the category it is about).
    pub prompt_text: String,
    /// Responses API: `instructions`, echoed back.
    pub instructions: Option<String>,
}

/// Tokens counted for one image part (OpenAI charges 85 to 1,105 depending on size and detail).
const IMAGE_TOKENS: u32 = 255;

/// Accumulates the prompt while walking messages.
#[derive(Default)]
struct Prompt {
    text: String,
    chars: usize,
    images: u32,
    messages: u32,
    last_user_text: Option<String>,
}

impl Prompt {
    fn add_text(&mut self, text: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(text);
        self.chars += text.chars().count();
    }

    fn tokens(&self) -> u32 {
        // ~4 characters per token, plus OpenAI's per-message framing overhead.
        let text = self.chars.div_ceil(4) as u64;
        let total = text
            + u64::from(self.messages) * 4
            + u64::from(self.images) * u64::from(IMAGE_TOKENS)
            + 3;
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

/// Parses a body as JSON; the top level must be an object.
pub(crate) fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid_type("body", "an object", &other)),
        Err(e) => Err(ApiError::malformed_json(&e.to_string())),
    }
}

/// `POST /v1/chat/completions`.
pub(crate) fn parse_chat(body: &Map<String, Value>) -> Result<ModelRequest, ApiError> {
    params::check(Api::Chat, body)?;
    // Past the check, each parameter read below is absent, null or of its table's kind.
    if let Some(n) = body.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(ApiError::unsupported_value(
            "n",
            format!(
                "Unsupported value: 'n' does not support {n} with this server. Only the default (1) \
                 value is supported: mock-openai answers one choice per request."
            ),
        ));
    }
    let mut prompt = Prompt::default();
    for (i, message) in array(body, "messages").iter().enumerate() {
        chat_message(message, &format!("messages[{i}]"), &mut prompt)?;
    }
    let stream = flag(body, "stream");
    let include_usage = match body.get("stream_options").and_then(Value::as_object) {
        Some(_) if !stream => {
            return Err(ApiError::invalid_value(
                "stream_options",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            ));
        }
        Some(options) => flag(options, "include_usage"),
        None => false,
    };
    Ok(ModelRequest {
        api: Api::Chat,
        model: text(body, "model").unwrap_or_default().to_owned(),
        stream,
        include_usage,
        format: chat_response_format(body)?,
        max_output_tokens: tokens(body, "max_completion_tokens")
            .or_else(|| tokens(body, "max_tokens")),
        prompt_tokens: prompt.tokens(),
        user_input: prompt.last_user_text.take().unwrap_or_default(),
        prompt_text: prompt.text,
        instructions: None,
    })
}

/// One message of `messages`, at `path`: its text goes into `prompt`.
fn chat_message(message: &Value, path: &str, prompt: &mut Prompt) -> Result<(), ApiError> {
    let Value::Object(message) = message else {
        return Err(ApiError::invalid_type(path, "an object", message));
    };
    let role = required_str(message, "role", &format!("{path}.role"))?;
    const ROLES: &[&str] = &[
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "function",
    ];
    if !ROLES.contains(&role) {
        return Err(ApiError::unsupported_choice(
            &format!("{path}.role"),
            role,
            ROLES,
        ));
    }
    prompt.messages += 1;
    let content_path = format!("{path}.content");
    let text = match message.get("content") {
        // Assistant messages with tool calls may have no content.
        None | Some(Value::Null) if role == "assistant" => String::new(),
        None | Some(Value::Null) => return Err(ApiError::missing(&content_path)),
        Some(Value::String(text)) => {
            prompt.add_text(text);
            text.clone()
        }
        Some(Value::Array(parts)) => chat_parts(parts, &content_path, prompt)?,
        Some(other) => {
            return Err(ApiError::invalid_type(
                &content_path,
                "one of a string or array of objects",
                other,
            ));
        }
    };
    if role == "user" {
        prompt.last_user_text = Some(text);
    }
    Ok(())
}

/// `response_format` of a chat request (an object, if there, past the parameter check).
fn chat_response_format(body: &Map<String, Value>) -> Result<OutputFormat, ApiError> {
    let Some(format) = body.get("response_format").and_then(Value::as_object) else {
        return Ok(OutputFormat::Text);
    };
    Ok(
        match required_str(format, "type", "response_format.type")? {
            "text" => OutputFormat::Text,
            "json_object" => OutputFormat::JsonObject,
            "json_schema" => {
                let Some(spec) = format.get("json_schema") else {
                    return Err(ApiError::missing("response_format.json_schema"));
                };
                let Value::Object(spec) = spec else {
                    return Err(ApiError::invalid_type(
                        "response_format.json_schema",
                        "an object",
                        spec,
                    ));
                };
                json_schema_format(spec, "response_format.json_schema")?
            }
            other => return Err(unsupported_format("response_format.type", other)),
        },
    )
}

fn chat_parts(parts: &[Value], path: &str, prompt: &mut Prompt) -> Result<String, ApiError> {
    let mut user_text = String::new();
    for (j, part) in parts.iter().enumerate() {
        let path = format!("{path}[{j}]");
        let Value::Object(part) = part else {
            return Err(ApiError::invalid_type(&path, "an object", part));
        };
        match required_str(part, "type", &format!("{path}.type"))? {
            "text" => {
                let text = required_str(part, "text", &format!("{path}.text"))?;
                prompt.add_text(text);
                push_line(&mut user_text, text);
            }
            "image_url" => {
                let image_path = format!("{path}.image_url");
                let image = match part.get("image_url") {
                    None | Some(Value::Null) => return Err(ApiError::missing(&image_path)),
                    Some(Value::Object(image)) => image,
                    Some(other) => {
                        return Err(ApiError::invalid_type(&image_path, "an object", other));
                    }
                };
                let url_path = format!("{image_path}.url");
                check_image_url(required_str(image, "url", &url_path)?, &url_path)?;
                prompt.images += 1;
            }
            // Accepted and not interpreted.
            "input_audio" | "file" | "refusal" => {}
            other => {
                return Err(ApiError::unsupported_choice(
                    &format!("{path}.type"),
                    other,
                    &["text", "image_url", "input_audio", "refusal", "file"],
                ));
            }
        }
    }
    Ok(user_text)
}

/// `POST /v1/responses`.
pub(crate) fn parse_responses(body: &Map<String, Value>) -> Result<ModelRequest, ApiError> {
    params::check(Api::Responses, body)?;
    // Past the check, each parameter read below is absent, null or of its table's kind.
    let mut prompt = Prompt::default();
    let instructions = text(body, "instructions").map(|instructions| {
        prompt.add_text(instructions);
        instructions.to_owned()
    });
    match body.get("input") {
        Some(Value::String(input)) => {
            prompt.messages += 1;
            prompt.add_text(input);
            prompt.last_user_text = Some(input.clone());
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                responses_item(item, &format!("input[{i}]"), &mut prompt)?;
            }
        }
        _ => {}
    }
    let format = match body
        .get("text")
        .and_then(|options| options.get("format"))
        .and_then(Value::as_object)
    {
        None => OutputFormat::Text,
        Some(format) => match required_str(format, "type", "text.format.type")? {
            "text" => OutputFormat::Text,
            "json_object" => OutputFormat::JsonObject,
            // The Responses API puts name and schema directly in `text.format`.
            "json_schema" => json_schema_format(format, "text.format")?,
            other => return Err(unsupported_format("text.format.type", other)),
        },
    };
    Ok(ModelRequest {
        api: Api::Responses,
        model: text(body, "model").unwrap_or_default().to_owned(),
        stream: flag(body, "stream"),
        include_usage: false,
        format,
        max_output_tokens: tokens(body, "max_output_tokens"),
        prompt_tokens: prompt.tokens(),
        user_input: prompt.last_user_text.take().unwrap_or_default(),
        prompt_text: prompt.text,
        instructions,
    })
}

fn responses_item(item: &Value, path: &str, prompt: &mut Prompt) -> Result<(), ApiError> {
    let Value::Object(item) = item else {
        return Err(ApiError::invalid_type(path, "an object", item));
    };
    // Items are messages (`{"role", "content"}`, optionally `"type": "message"`) or other
    // item types (function call outputs, reasoning...), which are accepted and skipped.
    match item.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == "message" => {}
        Some(Value::String(_)) => return Ok(()),
        Some(other) => {
            return Err(ApiError::invalid_type(
                &format!("{path}.type"),
                "a string",
                other,
            ));
        }
    }
    let role = required_str(item, "role", &format!("{path}.role"))?;
    prompt.messages += 1;
    let content_path = format!("{path}.content");
    let mut user_text = String::new();
    match item.get("content") {
        None | Some(Value::Null) => return Err(ApiError::missing(&content_path)),
        Some(Value::String(text)) => {
            prompt.add_text(text);
            user_text.push_str(text);
        }
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                let path = format!("{content_path}[{j}]");
                let Value::Object(part) = part else {
                    return Err(ApiError::invalid_type(&path, "an object", part));
                };
                match required_str(part, "type", &format!("{path}.type"))? {
                    "input_text" | "output_text" => {
                        let text = required_str(part, "text", &format!("{path}.text"))?;
                        prompt.add_text(text);
                        push_line(&mut user_text, text);
                    }
                    "input_image" => {
                        match (part.get("image_url"), part.get("file_id")) {
                            (Some(Value::String(url)), _) => {
                                check_image_url(url, &format!("{path}.image_url"))?
                            }
                            (Some(other), _) if !other.is_null() => {
                                return Err(ApiError::invalid_type(
                                    &format!("{path}.image_url"),
                                    "a string",
                                    other,
                                ));
                            }
                            (_, Some(Value::String(_))) => {}
                            _ => return Err(ApiError::missing(&format!("{path}.image_url"))),
                        }
                        prompt.images += 1;
                    }
                    "input_file" | "input_audio" | "refusal" => {}
                    other => {
                        return Err(ApiError::unsupported_choice(
                            &format!("{path}.type"),
                            other,
                            &["input_text", "input_image", "input_file"],
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(ApiError::invalid_type(
                &content_path,
                "one of a string or array of input content",
                other,
            ));
        }
    }
    if role == "user" {
        prompt.last_user_text = Some(user_text);
    }
    Ok(())
}

/// `{"name", "schema", "strict"}` of a JSON-schema output format.
fn json_schema_format(spec: &Map<String, Value>, path: &str) -> Result<OutputFormat, ApiError> {
    let name = required_str(spec, "name", &format!("{path}.name"))?.to_owned();
    let schema = match spec.get("schema") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(other) => {
            return Err(ApiError::invalid_type(
                &format!("{path}.schema"),
                "an object",
                other,
            ));
        }
    };
    Ok(OutputFormat::JsonSchema { name, schema })
}

fn unsupported_format(path: &str, value: &str) -> ApiError {
    ApiError::unsupported_choice(path, value, &["json_object", "json_schema", "text"])
}

/// Image URLs are checked for form and never fetched.
fn check_image_url(url: &str, path: &str) -> Result<(), ApiError> {
    let lower = url.get(..11).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(());
    }
    if lower.starts_with("data:image/") && url.contains(";base64,") {
        return Ok(());
    }
    Err(ApiError::invalid_value(
        path,
        format!(
            "Invalid '{path}'. Expected a valid URL, but got a value with an invalid format. \
             Use an http(s) URL or a base64-encoded data URL with an image MIME type."
        ),
    ))
}

fn push_line(into: &mut String, text: &str) {
    if !into.is_empty() {
        into.push('\n');
    }
    into.push_str(text);
}

fn required_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(ApiError::missing(path)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ApiError::invalid_type(path, "a string", other)),
    }
}

// Readers of checked values: in a body that passed `params::check` each of these is absent,
// null or of the kind read, so "not of that kind" can only mean "not given".

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn flag(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn array<'a>(map: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    map.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A token cap (an integer >= 1 past the check); one beyond `u32` caps no more than
/// `u32::MAX` does.
fn tokens(map: &Map<String, Value>, key: &str) -> Option<u32> {
    map.get(key)
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat(body: Value) -> Result<ModelRequest, ApiError> {
        parse_chat(body.as_object().unwrap())
    }

    fn responses(body: Value) -> Result<ModelRequest, ApiError> {
        parse_responses(body.as_object().unwrap())
    }

    #[test]
    fn chat_with_vision_parts_and_schema() {
        let request = chat(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You sort waste."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                ]}
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "disposal_answer", "schema": {"type": "object"}}},
            "max_tokens": 300,
        }))
        .unwrap();
        assert_eq!(request.user_input, "What is this?");
        assert_eq!(request.max_output_tokens, Some(300));
        assert!(
            matches!(request.format, OutputFormat::JsonSchema { ref name, .. } if name == "disposal_answer")
        );
        assert!(request.prompt_tokens > 2 * IMAGE_TOKENS);
    }

    #[test]
    fn chat_errors_name_the_parameter() {
        let cases = [
            (
                json!({"messages": [{"role": "user", "content": "hi"}]}),
                "model",
                "missing_required_parameter",
            ),
            (
                json!({"model": "m"}),
                "messages",
                "missing_required_parameter",
            ),
            (
                json!({"model": "m", "messages": "hi"}),
                "messages",
                "invalid_type",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
                "messages[0].content",
                "invalid_type",
            ),
            (
                json!({"model": "m", "messages": [{"content": "x"}]}),
                "messages[0].role",
                "missing_required_parameter",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
                "messages[0].content[0].image_url.url",
                "invalid_value",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
                "stream",
                "invalid_type",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}),
                "response_format.type",
                "invalid_value",
            ),
        ];
        for (body, param, code) in cases {
            let err = chat(body.clone()).unwrap_err();
            assert_eq!(
                (err.param.as_deref(), err.code),
                (Some(param), Some(code)),
                "{body}: {}",
                err.message
            );
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn responses_with_image_and_schema() {
        let request = responses(json!({
            "model": "gpt-4o",
            "input": [{"role": "user", "content": [
                {"type": "input_text", "text": "Is this recyclable?"},
                {"type": "input_image", "image_url": "https://example.com/bottle.jpg"}
            ]}],
            "text": {"format": {"type": "json_schema", "name": "waste_classification", "schema": {"type": "object"}, "strict": true}}
        }))
        .unwrap();
        assert_eq!(request.user_input, "Is this recyclable?");
        assert!(
            matches!(request.format, OutputFormat::JsonSchema { ref name, .. } if name == "waste_classification")
        );
        let plain =
            responses(json!({"model": "gpt-4o", "input": "hello", "stream": true})).unwrap();
        assert!(plain.stream);
        assert!(matches!(plain.format, OutputFormat::Text));
    }

    #[test]
    fn responses_errors_name_the_parameter() {
        let err = responses(json!({"model": "gpt-4o"})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input"));
        let err = responses(json!({"model": "gpt-4o", "input": [{"role": "user", "content": [{"type": "input_image"}]}]}))
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[0].content[0].image_url"));
    }

    #[test]
    fn non_object_bodies_are_refused() {
        assert_eq!(parse_json(b"[1,2]").unwrap_err().status, 400);
        assert_eq!(parse_json(b"{\"model\":").unwrap_err().status, 400);
    }
}
