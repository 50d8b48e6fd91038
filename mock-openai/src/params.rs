//! The request parameters each API accepts, with their types and ranges ([`CHAT`],
//! [`RESPONSES`]), and the one validator ([`check`]) that holds a body to them.
//!
//! OpenAI refuses a request whose parameters have the wrong type or lie out of range before it
//! looks at anything else, and so does the mock: a client that the mock accepts is not refused
//! by OpenAI for its parameters. The tables say what OpenAI accepts; what the mock *does* with
//! a parameter (most it ignores) is up to the parsers in `request`, which read only bodies that
//! passed [`check`]. Deep structure (messages, input items, output formats) is checked there too,
//! where it is walked.

use serde_json::{Map, Number, Value};

use crate::error::{ApiError, Crossed};
use crate::request::Api;

/// One parameter: its name, what its value must be, and whether it must be there. `null` is
/// taken as absent, as OpenAI takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// What a parameter's value must be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A number (integers too) in `min..=max`.
    Decimal {
        min: f64,
        max: f64,
    },
    /// An integer (no fraction, no exponent) in `min..=max`; `None` is unbounded.
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Bool,
    String,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A string, or an array of at most `max_items` strings (`stop`).
    StringOrStrings {
        max_items: usize,
    },
    /// A string or an object (`tool_choice`: a mode or a named tool).
    StringOrObject,
    /// A string or an array whose items the parser checks (Responses `input`).
    StringOrArray,
    /// An object; with fields, only those keys, each checked like a parameter. Without, the
    /// parser checks what is inside (`response_format`) or nothing does (`audio`).
    Object(Option<&'static [Param]>),
    /// An array with at least `min_items` items, which the parser checks (`messages`).
    Array {
        min_items: usize,
    },
    /// An array of objects (`tools`; what each tool holds is not checked).
    ArrayOfObjects,
    /// An array of strings (`modalities`, `include`).
    ArrayOfStrings,
    /// An object of numbers in `min..=max` (`logit_bias`: token id to bias).
    DecimalMap {
        min: f64,
        max: f64,
    },
    /// OpenAI's `metadata`: at most 16 pairs of strings, keys up to 64 characters and values
    /// up to 512.
    Metadata,
}

const fn required(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: true,
    }
}

const fn optional(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: false,
    }
}

const fn decimal(min: f64, max: f64) -> Kind {
    Kind::Decimal { min, max }
}

const fn integer(min: Option<i64>, max: Option<i64>) -> Kind {
    Kind::Integer { min, max }
}

/// `-100..=100`, the range of `logit_bias` values.
const LOGIT_BIAS: Kind = Kind::DecimalMap {
    min: -100.0,
    max: 100.0,
};

/// Token counts: at least one.
const TOKENS: Kind = integer(Some(1), None);

/// `top_logprobs`: 0 to 20 alternatives per token.
const TOP_LOGPROBS: Kind = integer(Some(0), Some(20));

/// `POST /v1/chat/completions`. The mock uses `model`, `messages`, `stream`,
/// `stream_options.include_usage`, `response_format`, `max_tokens`, `max_completion_tokens`
/// and `n` (which must be 1: the mock answers one choice); every other parameter is checked
/// here and then ignored.
pub(crate) const CHAT: &[Param] = &[
    required("model", Kind::String),
    required("messages", Kind::Array { min_items: 1 }),
    // Used by the mock.
    optional("stream", Kind::Bool),
    optional("stream_options", Kind::Object(Some(CHAT_STREAM_OPTIONS))),
    optional("response_format", Kind::Object(None)),
    optional("max_tokens", TOKENS),
    optional("max_completion_tokens", TOKENS),
    optional("n", integer(Some(1), Some(128))),
    // Checked, then ignored.
    optional("temperature", decimal(0.0, 2.0)),
    optional("top_p", decimal(0.0, 1.0)),
    optional("presence_penalty", decimal(-2.0, 2.0)),
    optional("frequency_penalty", decimal(-2.0, 2.0)),
    optional("stop", Kind::StringOrStrings { max_items: 4 }),
    optional("seed", integer(None, None)),
    optional("user", Kind::String),
    optional("logprobs", Kind::Bool),
    optional("top_logprobs", TOP_LOGPROBS),
    optional("tools", Kind::ArrayOfObjects),
    optional("tool_choice", Kind::StringOrObject),
    optional("parallel_tool_calls", Kind::Bool),
    optional("functions", Kind::ArrayOfObjects),
    optional("function_call", Kind::StringOrObject),
    optional("logit_bias", LOGIT_BIAS),
    optional("metadata", Kind::Metadata),
    optional("store", Kind::Bool),
    optional("service_tier", Kind::String),
    optional("reasoning_effort", Kind::String),
    optional("verbosity", Kind::OneOf(VERBOSITY)),
    optional("modalities", Kind::ArrayOfStrings),
    optional("audio", Kind::Object(None)),
    optional("prediction", Kind::Object(None)),
    optional("web_search_options", Kind::Object(None)),
    optional("prompt_cache_key", Kind::String),
    optional("safety_identifier", Kind::String),
];

/// `stream_options` of a chat request; the mock uses `include_usage`.
const CHAT_STREAM_OPTIONS: &[Param] = &[
    optional("include_usage", Kind::Bool),
    optional("include_obfuscation", Kind::Bool),
];

/// `POST /v1/responses`. The mock uses `model`, `input`, `instructions`, `stream`,
/// `text.format` and `max_output_tokens`; every other parameter is checked here and then
/// ignored (there is no stored state: `store` and `previous_response_id` change nothing).
pub(crate) const RESPONSES: &[Param] = &[
    required("model", Kind::String),
    required("input", Kind::StringOrArray),
    // Used by the mock.
    optional("instructions", Kind::String),
    optional("stream", Kind::Bool),
    optional("text", Kind::Object(Some(RESPONSES_TEXT))),
    // OpenAI's floor for the Responses API is 16, not 1.
    optional("max_output_tokens", integer(Some(16), None)),
    // Checked, then ignored.
    optional("temperature", decimal(0.0, 2.0)),
    optional("top_p", decimal(0.0, 1.0)),
    optional("top_logprobs", TOP_LOGPROBS),
    optional("store", Kind::Bool),
    optional("metadata", Kind::Metadata),
    optional("user", Kind::String),
    optional("tools", Kind::ArrayOfObjects),
    optional("tool_choice", Kind::StringOrObject),
    optional("parallel_tool_calls", Kind::Bool),
    optional("max_tool_calls", integer(Some(1), None)),
    optional("previous_response_id", Kind::String),
    optional("conversation", Kind::StringOrObject),
    optional("truncation", Kind::OneOf(&["auto", "disabled"])),
    optional("reasoning", Kind::Object(Some(REASONING))),
    optional("include", Kind::ArrayOfStrings),
    optional("background", Kind::Bool),
    optional("service_tier", Kind::String),
    optional(
        "stream_options",
        Kind::Object(Some(RESPONSES_STREAM_OPTIONS)),
    ),
    optional("prompt", Kind::Object(None)),
    optional("prompt_cache_key", Kind::String),
    optional("safety_identifier", Kind::String),
];

/// `text` of a Responses request; the parser reads `format`.
const RESPONSES_TEXT: &[Param] = &[
    optional("format", Kind::Object(None)),
    optional("verbosity", Kind::OneOf(VERBOSITY)),
];

const RESPONSES_STREAM_OPTIONS: &[Param] = &[optional("include_obfuscation", Kind::Bool)];

/// `reasoning` of a Responses request. Efforts differ by model, so any string is taken.
const REASONING: &[Param] = &[
    optional("effort", Kind::String),
    optional("summary", Kind::OneOf(SUMMARY)),
    optional("generate_summary", Kind::OneOf(SUMMARY)),
];

const VERBOSITY: &[&str] = &["low", "medium", "high"];
const SUMMARY: &[&str] = &["auto", "concise", "detailed"];

/// Limits of OpenAI's `metadata`.
const METADATA_MAX_PAIRS: usize = 16;
const METADATA_MAX_KEY: usize = 64;
const METADATA_MAX_VALUE: usize = 512;

/// Checks a request body against its API's table: every key is a known parameter, every
/// required one is there, and every value has its kind and lies in its range. The first
/// problem (an unknown key, then the parameters in table order) is the answer, named as
/// OpenAI names it.
pub(crate) fn check(api: Api, body: &Map<String, Value>) -> Result<(), ApiError> {
    let table = match api {
        Api::Chat => CHAT,
        Api::Responses => RESPONSES,
    };
    check_object(api, table, body, None)
}

/// The keys of `object` (at `prefix`, or the top level) against `table`.
fn check_object(
    api: Api,
    table: &[Param],
    object: &Map<String, Value>,
    prefix: Option<&str>,
) -> Result<(), ApiError> {
    let path = |name: &str| match prefix {
        Some(prefix) => format!("{prefix}.{name}"),
        None => name.to_owned(),
    };
    if let Some(unknown) = object
        .keys()
        .find(|key| table.iter().all(|p| p.name != key.as_str()))
    {
        return Err(match (api, prefix) {
            // Only a top-level chat parameter gets chat's older wording.
            (Api::Chat, None) => ApiError::unrecognized_argument(unknown),
            _ => ApiError::unknown_parameter(&path(unknown)),
        });
    }
    // In table order, so that the first problem named does not depend on key order.
    for param in table {
        match object.get(param.name) {
            None | Some(Value::Null) if param.required => {
                return Err(ApiError::missing(&path(param.name)));
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(api, param.kind, value, &path(param.name))?,
        }
    }
    Ok(())
}

/// One non-null value at `path` against its kind.
fn check_value(api: Api, kind: Kind, value: &Value, path: &str) -> Result<(), ApiError> {
    let wrong = |expected: &str| Err(ApiError::invalid_type(path, expected, value));
    match (kind, value) {
        (Kind::Decimal { min, max }, Value::Number(n)) => check_decimal(n, min, max, path),
        (Kind::Decimal { .. }, _) => wrong("a decimal"),
        (Kind::Integer { min, max }, Value::Number(n)) => check_integer(n, min, max, path, value),
        (Kind::Integer { .. }, _) => wrong("an integer"),
        (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::Bool, _) => wrong("a boolean"),
        (Kind::String, Value::String(_)) => Ok(()),
        (Kind::String, _) => wrong("a string"),
        (Kind::OneOf(choices), Value::String(s)) if choices.contains(&s.as_str()) => Ok(()),
        (Kind::OneOf(choices), Value::String(s)) => {
            Err(ApiError::unsupported_choice(path, s, choices))
        }
        (Kind::OneOf(_), _) => wrong("a string"),
        (Kind::StringOrStrings { .. }, Value::String(_)) => Ok(()),
        (Kind::StringOrStrings { max_items }, Value::Array(items)) => {
            if items.len() > max_items {
                return Err(ApiError::array_too_long(path, max_items, items.len()));
            }
            items_of(items, path, Value::is_string, "a string")
        }
        (Kind::StringOrStrings { .. }, _) => wrong("one of a string or array of strings"),
        (Kind::StringOrObject, Value::String(_) | Value::Object(_)) => Ok(()),
        (Kind::StringOrObject, _) => wrong("one of a string or object"),
        (Kind::StringOrArray, Value::String(_) | Value::Array(_)) => Ok(()),
        (Kind::StringOrArray, _) => wrong("one of a string or array of input items"),
        (Kind::Object(Some(fields)), Value::Object(object)) => {
            check_object(api, fields, object, Some(path))
        }
        (Kind::Object(None), Value::Object(_)) => Ok(()),
        (Kind::Object(_), _) => wrong("an object"),
        (Kind::Array { min_items }, Value::Array(items)) => {
            if items.len() < min_items {
                return Err(ApiError::empty_array(path));
            }
            Ok(())
        }
        (Kind::Array { .. }, _) => wrong("an array"),
        (Kind::ArrayOfObjects, Value::Array(items)) => {
            items_of(items, path, Value::is_object, "an object")
        }
        (Kind::ArrayOfObjects, _) => wrong("an array of objects"),
        (Kind::ArrayOfStrings, Value::Array(items)) => {
            items_of(items, path, Value::is_string, "a string")
        }
        (Kind::ArrayOfStrings, _) => wrong("an array of strings"),
        (Kind::DecimalMap { min, max }, Value::Object(map)) => {
            for (key, value) in map {
                let path = format!("{path}.{key}");
                match value {
                    Value::Number(n) => check_decimal(n, min, max, &path)?,
                    other => return Err(ApiError::invalid_type(&path, "a decimal", other)),
                }
            }
            Ok(())
        }
        (Kind::DecimalMap { .. }, _) => wrong("an object"),
        (Kind::Metadata, Value::Object(map)) => check_metadata(map, path),
        (Kind::Metadata, _) => wrong("an object"),
    }
}

/// Every item of an array at `path` passes `is`, or the first that does not is named.
fn items_of(
    items: &[Value],
    path: &str,
    is: fn(&Value) -> bool,
    expected: &str,
) -> Result<(), ApiError> {
    match items.iter().enumerate().find(|(_, item)| !is(item)) {
        Some((i, item)) => Err(ApiError::invalid_type(
            &format!("{path}[{i}]"),
            expected,
            item,
        )),
        None => Ok(()),
    }
}

fn check_decimal(n: &Number, min: f64, max: f64, path: &str) -> Result<(), ApiError> {
    // Without serde_json's arbitrary precision every number has an f64 form.
    let x = n.as_f64().unwrap_or(f64::NAN);
    if x < min {
        Err(ApiError::out_of_range(path, Crossed::DecimalMin, min, n))
    } else if x > max {
        Err(ApiError::out_of_range(path, Crossed::DecimalMax, max, n))
    } else {
        Ok(())
    }
}

fn check_integer(
    n: &Number,
    min: Option<i64>,
    max: Option<i64>,
    path: &str,
    value: &Value,
) -> Result<(), ApiError> {
    // JSON integers beyond i64 are still integers (u64); compare them widened.
    let Some(x) = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
    else {
        return Err(ApiError::invalid_type(path, "an integer", value));
    };
    if let Some(min) = min.filter(|&min| x < i128::from(min)) {
        return Err(ApiError::out_of_range(path, Crossed::IntegerMin, min, n));
    }
    if let Some(max) = max.filter(|&max| x > i128::from(max)) {
        return Err(ApiError::out_of_range(path, Crossed::IntegerMax, max, n));
    }
    Ok(())
}

fn check_metadata(map: &Map<String, Value>, path: &str) -> Result<(), ApiError> {
    if map.len() > METADATA_MAX_PAIRS {
        return Err(ApiError::too_many_properties(
            path,
            METADATA_MAX_PAIRS,
            map.len(),
        ));
    }
    for (key, value) in map {
        let at = format!("{path}.{key}");
        let key_len = key.chars().count();
        if key_len > METADATA_MAX_KEY {
            return Err(ApiError::key_too_long(
                path,
                &at,
                key,
                METADATA_MAX_KEY,
                key_len,
            ));
        }
        let Value::String(text) = value else {
            return Err(ApiError::invalid_type(&at, "a string", value));
        };
        let len = text.chars().count();
        if len > METADATA_MAX_VALUE {
            return Err(ApiError::string_too_long(&at, METADATA_MAX_VALUE, len));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat(extra: Value) -> Result<(), ApiError> {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        check(Api::Chat, body.as_object().unwrap())
    }

    fn responses(extra: Value) -> Result<(), ApiError> {
        let mut body = json!({"model": "m", "input": "x"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        check(Api::Responses, body.as_object().unwrap())
    }

    /// `(param, code)` of a refusal.
    fn named(result: Result<(), ApiError>) -> (Option<String>, Option<&'static str>) {
        let err = result.unwrap_err();
        assert_eq!(err.status, 400, "{}", err.message);
        (err.param, err.code)
    }

    #[test]
    fn tables_have_unique_names() {
        for table in [
            CHAT,
            CHAT_STREAM_OPTIONS,
            RESPONSES,
            RESPONSES_TEXT,
            RESPONSES_STREAM_OPTIONS,
            REASONING,
        ] {
            for (i, p) in table.iter().enumerate() {
                assert!(
                    table[i + 1..].iter().all(|q| q.name != p.name),
                    "{} twice",
                    p.name
                );
            }
        }
    }

    /// The crate docs list what each API accepts; a parameter added here is added there.
    #[test]
    fn every_parameter_is_in_the_crate_docs() {
        let docs = include_str!("lib.rs");
        for p in CHAT.iter().chain(RESPONSES) {
            // `text` appears as `text.format`.
            assert!(
                docs.contains(&format!("`{}`", p.name)) || docs.contains(&format!("`{}.", p.name)),
                "{} is not in the crate docs",
                p.name
            );
        }
    }

    #[test]
    fn wrong_types_name_the_parameter_and_the_expected_type() {
        let err = chat(json!({"temperature": "hot"})).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid type for 'temperature': expected a decimal, but got a string instead."
        );
        assert_eq!(
            (err.param.as_deref(), err.code),
            (Some("temperature"), Some("invalid_type"))
        );
        let cases = [
            (json!({"n": 1.5}), "n"),
            (json!({"seed": "1"}), "seed"),
            (json!({"logprobs": 1}), "logprobs"),
            (json!({"user": 7}), "user"),
            (json!({"stop": 4}), "stop"),
            (json!({"stop": ["a", 1]}), "stop[1]"),
            (json!({"tools": [1]}), "tools[0]"),
            (json!({"tools": {}}), "tools"),
            (json!({"tool_choice": true}), "tool_choice"),
            (json!({"logit_bias": {"50256": "ban"}}), "logit_bias.50256"),
            (json!({"metadata": {"k": 1}}), "metadata.k"),
            (json!({"metadata": []}), "metadata"),
            (
                json!({"stream": true, "stream_options": {"include_usage": "yes"}}),
                "stream_options.include_usage",
            ),
            (json!({"response_format": "json"}), "response_format"),
            (json!({"model": 4}), "model"),
        ];
        for (extra, param) in cases {
            assert_eq!(
                named(chat(extra.clone())),
                (Some(param.to_owned()), Some("invalid_type")),
                "{extra}"
            );
        }
        for (extra, param) in [
            (json!({"instructions": ["x"]}), "instructions"),
            (json!({"store": "no"}), "store"),
            (json!({"previous_response_id": 5}), "previous_response_id"),
            (json!({"reasoning": "high"}), "reasoning"),
            (json!({"text": {"format": "json"}}), "text.format"),
            (json!({"input": 3}), "input"),
        ] {
            assert_eq!(
                named(responses(extra.clone())),
                (Some(param.to_owned()), Some("invalid_type")),
                "{extra}"
            );
        }
    }

    #[test]
    fn ranges_are_openais_with_its_codes_and_wording() {
        let err = chat(json!({"temperature": 5})).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead."
        );
        let cases = [
            (
                json!({"temperature": -0.1}),
                "temperature",
                "decimal_below_min_value",
            ),
            (json!({"top_p": 1.01}), "top_p", "decimal_above_max_value"),
            (
                json!({"presence_penalty": -2.5}),
                "presence_penalty",
                "decimal_below_min_value",
            ),
            (
                json!({"frequency_penalty": 3}),
                "frequency_penalty",
                "decimal_above_max_value",
            ),
            (json!({"n": 0}), "n", "integer_below_min_value"),
            (json!({"n": 129}), "n", "integer_above_max_value"),
            (
                json!({"max_tokens": 0}),
                "max_tokens",
                "integer_below_min_value",
            ),
            (
                json!({"max_completion_tokens": -3}),
                "max_completion_tokens",
                "integer_below_min_value",
            ),
            (
                json!({"top_logprobs": 21}),
                "top_logprobs",
                "integer_above_max_value",
            ),
            (
                json!({"logit_bias": {"1": 101}}),
                "logit_bias.1",
                "decimal_above_max_value",
            ),
            (
                json!({"stop": ["a", "b", "c", "d", "e"]}),
                "stop",
                "array_above_max_length",
            ),
            (
                json!({"metadata": {"k": "v".repeat(513)}}),
                "metadata.k",
                "string_above_max_length",
            ),
            (json!({"verbosity": "loud"}), "verbosity", "invalid_value"),
            (json!({"messages": []}), "messages", "empty_array"),
        ];
        for (extra, param, code) in cases {
            assert_eq!(
                named(chat(extra.clone())),
                (Some(param.to_owned()), Some(code)),
                "{extra}"
            );
        }
        let err = chat(json!({"n": 0})).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."
        );
        let err = responses(json!({"truncation": "sometimes"})).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value: 'sometimes'. Supported values are: 'auto' and 'disabled'."
        );
        for (extra, param, code) in [
            (
                json!({"max_output_tokens": 15}),
                "max_output_tokens",
                "integer_below_min_value",
            ),
            (
                json!({"temperature": 2.5}),
                "temperature",
                "decimal_above_max_value",
            ),
            (
                json!({"reasoning": {"summary": "long"}}),
                "reasoning.summary",
                "invalid_value",
            ),
        ] {
            assert_eq!(
                named(responses(extra.clone())),
                (Some(param.to_owned()), Some(code)),
                "{extra}"
            );
        }
        let many: Map<String, Value> = (0..17).map(|i| (i.to_string(), json!("v"))).collect();
        assert_eq!(
            named(responses(json!({ "metadata": many }))).0.as_deref(),
            Some("metadata")
        );
        let err = responses(json!({"metadata": {"k".repeat(65): "v"}})).unwrap_err();
        assert_eq!(err.code, Some("string_above_max_length"));
    }

    #[test]
    fn edges_nulls_and_every_ignored_parameter_pass() {
        chat(json!({
            "temperature": 0, "top_p": 1, "presence_penalty": -2, "frequency_penalty": 2.0,
            "n": 1, "max_tokens": 1, "max_completion_tokens": 4096, "stop": ["a", "b", "c", "d"],
            "seed": -9_007_199_254_740_993_i64, "user": "u", "logprobs": true, "top_logprobs": 20,
            "stream": true, "stream_options": {"include_usage": true, "include_obfuscation": false},
            "response_format": {"type": "text"}, "tools": [{"type": "function"}], "tool_choice": "auto",
            "parallel_tool_calls": false, "logit_bias": {"50256": -100, "1": 100},
            "metadata": {"k": "v"}, "store": false, "service_tier": "auto",
            "reasoning_effort": "low", "verbosity": "low", "modalities": ["text"],
            "prompt_cache_key": "k", "safety_identifier": "s", "audio": null,
        }))
        .unwrap();
        chat(json!({"temperature": 2, "stop": "END", "seed": u64::MAX, "tool_choice": {"type": "function"}}))
            .unwrap();
        // `null` stands for "not given".
        chat(json!({"temperature": null, "n": null, "stop": null})).unwrap();
        responses(json!({
            "instructions": "be brief", "temperature": 2, "top_p": 0, "max_output_tokens": 16,
            "text": {"format": {"type": "text"}, "verbosity": "high"}, "store": true,
            "metadata": {}, "user": "u", "stream": false, "tools": [], "tool_choice": "none",
            "parallel_tool_calls": true, "previous_response_id": "resp_1", "truncation": "auto",
            "reasoning": {"effort": "minimal", "summary": "auto"}, "include": [],
            "background": false, "max_tool_calls": 3, "top_logprobs": 0,
        }))
        .unwrap();
    }

    #[test]
    fn unknown_and_missing_parameters() {
        let err = chat(json!({"foo": 1})).unwrap_err();
        assert_eq!(err.message, "Unrecognized request argument supplied: foo");
        assert_eq!((err.param, err.code), (None, None));
        let err = responses(json!({"foo": 1})).unwrap_err();
        assert_eq!(err.message, "Unknown parameter: 'foo'.");
        assert_eq!(
            (err.param.as_deref(), err.code),
            (Some("foo"), Some("unknown_parameter"))
        );
        // Nested unknown keys are named by path, in both APIs.
        assert_eq!(
            named(chat(json!({"stream_options": {"usage": true}}))),
            (
                Some("stream_options.usage".to_owned()),
                Some("unknown_parameter")
            )
        );
        assert_eq!(
            named(responses(json!({"reasoning": {"depth": 3}})))
                .0
                .as_deref(),
            Some("reasoning.depth")
        );
        let err = check(Api::Responses, json!({"model": "m"}).as_object().unwrap()).unwrap_err();
        assert_eq!(
            (err.param.as_deref(), err.code),
            (Some("input"), Some("missing_required_parameter"))
        );
        let err = check(
            Api::Chat,
            json!({"model": null, "messages": [1]}).as_object().unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
    }
}
