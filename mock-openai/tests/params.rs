//! Request parameters over HTTP: wrong types, out-of-range values and unknown parameters get
//! OpenAI's 400s on both APIs; valid values, the edges of their ranges included, get 200.

mod common;

use common::{assert_alive, chat_body, expect_error, post};
use mock_openai::MockHandle;
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";
const RESPONSES: &str = "/v1/responses";

/// `base` with the fields of `extra` added.
fn with(mut base: Value, extra: Value) -> Value {
    let fields = base.as_object_mut().expect("an object body");
    fields.extend(extra.as_object().expect("an object of fields").clone());
    base
}

fn chat(extra: Value) -> Value {
    with(chat_body("gpt-4o-mini", "hello"), extra)
}

fn responses(extra: Value) -> Value {
    with(json!({ "model": "gpt-4o", "input": "hello" }), extra)
}

/// Posts `body` and returns the `error` object of its 400.
async fn refused(server: &MockHandle, path: &str, body: &Value) -> Value {
    let error = expect_error(post(server, path, body).await, 400).await;
    assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
    error["error"].clone()
}

#[tokio::test]
async fn wrong_types_are_refused_naming_the_parameter() {
    let server = common::start(common::instant(40)).await;
    let error = refused(&server, CHAT, &chat(json!({ "temperature": "hot" }))).await;
    assert_eq!(
        error,
        json!({
            "message": "Invalid type for 'temperature': expected a decimal, but got a string instead.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_type",
        })
    );
    let chat_cases = [
        (json!({ "top_p": [1] }), "top_p"),
        (json!({ "n": 1.5 }), "n"),
        (json!({ "seed": "42" }), "seed"),
        (json!({ "max_tokens": "100" }), "max_tokens"),
        (json!({ "stop": 3 }), "stop"),
        (json!({ "logprobs": "true" }), "logprobs"),
        (json!({ "user": 1 }), "user"),
        (json!({ "tools": "search" }), "tools"),
        (json!({ "parallel_tool_calls": 1 }), "parallel_tool_calls"),
        (json!({ "metadata": { "run": 1 } }), "metadata.run"),
        (json!({ "store": "yes" }), "store"),
        (json!({ "service_tier": 2 }), "service_tier"),
        (json!({ "stream": "yes" }), "stream"),
    ];
    for (extra, param) in chat_cases {
        let error = refused(&server, CHAT, &chat(extra.clone())).await;
        assert_eq!(
            (&error["param"], &error["code"]),
            (&json!(param), &json!("invalid_type")),
            "{extra}: {error}"
        );
    }
    let responses_cases = [
        (json!({ "temperature": "hot" }), "temperature"),
        (json!({ "max_output_tokens": 100.5 }), "max_output_tokens"),
        (json!({ "instructions": 7 }), "instructions"),
        (json!({ "previous_response_id": 7 }), "previous_response_id"),
        (json!({ "reasoning": "high" }), "reasoning"),
        (json!({ "text": { "format": "json" } }), "text.format"),
    ];
    for (extra, param) in responses_cases {
        let error = refused(&server, RESPONSES, &responses(extra.clone())).await;
        assert_eq!(
            (&error["param"], &error["code"]),
            (&json!(param), &json!("invalid_type")),
            "{extra}: {error}"
        );
    }
    assert_alive(&server).await;
}

#[tokio::test]
async fn values_out_of_range_are_refused_with_openais_codes() {
    let server = common::start(common::instant(41)).await;
    let error = refused(&server, CHAT, &chat(json!({ "temperature": 5 }))).await;
    assert_eq!(
        error["message"],
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead."
    );
    assert_eq!(error["code"], "decimal_above_max_value");
    let chat_cases = [
        (
            json!({ "temperature": -0.5 }),
            "temperature",
            "decimal_below_min_value",
        ),
        (json!({ "top_p": 1.5 }), "top_p", "decimal_above_max_value"),
        (
            json!({ "frequency_penalty": -3 }),
            "frequency_penalty",
            "decimal_below_min_value",
        ),
        (json!({ "n": 0 }), "n", "integer_below_min_value"),
        (
            json!({ "max_completion_tokens": 0 }),
            "max_completion_tokens",
            "integer_below_min_value",
        ),
        (
            json!({ "top_logprobs": 21 }),
            "top_logprobs",
            "integer_above_max_value",
        ),
        (
            json!({ "stop": ["a", "b", "c", "d", "e"] }),
            "stop",
            "array_above_max_length",
        ),
        (
            json!({ "logit_bias": { "50256": -101 } }),
            "logit_bias.50256",
            "decimal_below_min_value",
        ),
    ];
    for (extra, param, code) in chat_cases {
        let error = refused(&server, CHAT, &chat(extra.clone())).await;
        assert_eq!(
            (&error["param"], &error["code"]),
            (&json!(param), &json!(code)),
            "{extra}: {error}"
        );
    }
    let responses_cases = [
        (
            json!({ "temperature": 2.01 }),
            "temperature",
            "decimal_above_max_value",
        ),
        (json!({ "top_p": -1 }), "top_p", "decimal_below_min_value"),
        (
            json!({ "max_output_tokens": 8 }),
            "max_output_tokens",
            "integer_below_min_value",
        ),
        (
            json!({ "truncation": "always" }),
            "truncation",
            "invalid_value",
        ),
    ];
    for (extra, param, code) in responses_cases {
        let error = refused(&server, RESPONSES, &responses(extra.clone())).await;
        assert_eq!(
            (&error["param"], &error["code"]),
            (&json!(param), &json!(code)),
            "{extra}: {error}"
        );
    }
}

#[tokio::test]
async fn unknown_parameters_are_refused_in_each_apis_words() {
    let server = common::start(common::instant(42)).await;
    let error = refused(&server, CHAT, &chat(json!({ "foo": 1 }))).await;
    assert_eq!(
        error,
        json!({
            "message": "Unrecognized request argument supplied: foo",
            "type": "invalid_request_error",
            "param": null,
            "code": null,
        })
    );
    let error = refused(&server, RESPONSES, &responses(json!({ "foo": 1 }))).await;
    assert_eq!(
        error,
        json!({
            "message": "Unknown parameter: 'foo'.",
            "type": "invalid_request_error",
            "param": "foo",
            "code": "unknown_parameter",
        })
    );
    let error = refused(
        &server,
        RESPONSES,
        &responses(json!({ "reasoning": { "depth": 1 } })),
    )
    .await;
    assert_eq!(error["param"], "reasoning.depth");
}

#[tokio::test]
async fn more_than_one_choice_is_refused_as_unsupported() {
    let server = common::start(common::instant(43)).await;
    let error = refused(&server, CHAT, &chat(json!({ "n": 2 }))).await;
    assert_eq!(
        (&error["param"], &error["code"]),
        (&json!("n"), &json!("unsupported_value"))
    );
    assert!(
        error["message"].as_str().unwrap().contains("one choice"),
        "{error}"
    );
    let one = post(&server, CHAT, &chat(json!({ "n": 1 }))).await;
    assert_eq!(one.status(), 200);
}

#[tokio::test]
async fn valid_values_and_range_edges_are_answered() {
    let server = common::start(common::instant(44)).await;
    for temperature in [json!(0), json!(0.0), json!(1.3), json!(2), json!(2.0)] {
        let response = post(
            &server,
            CHAT,
            &chat(json!({ "temperature": temperature.clone() })),
        )
        .await;
        assert_eq!(response.status(), 200, "chat temperature {temperature}");
        let response = post(
            &server,
            RESPONSES,
            &responses(json!({ "temperature": temperature.clone() })),
        )
        .await;
        assert_eq!(
            response.status(),
            200,
            "responses temperature {temperature}"
        );
    }
    let everything = chat(json!({
        "temperature": 0, "top_p": 1, "n": 1, "presence_penalty": -2, "frequency_penalty": 2,
        "max_completion_tokens": 64, "stop": ["\n\n", "END", "STOP", "###"], "seed": 7,
        "user": "user-1", "logprobs": false, "top_logprobs": 0, "stream": false,
        "response_format": { "type": "text" },
        "tools": [{ "type": "function", "function": { "name": "lookup" } }],
        "tool_choice": "none", "parallel_tool_calls": false,
        "logit_bias": { "50256": -100, "1734": 100 }, "metadata": { "suite": "params" },
        "store": false, "service_tier": "default", "verbosity": "medium",
    }));
    let response = post(&server, CHAT, &everything).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");

    let everything = responses(json!({
        "instructions": "Be brief.", "temperature": 2, "top_p": 0, "max_output_tokens": 16,
        "text": { "format": { "type": "text" }, "verbosity": "low" }, "store": false,
        "metadata": {}, "user": "user-1", "stream": false, "tools": [], "tool_choice": "auto",
        "parallel_tool_calls": true, "previous_response_id": "resp_123",
        "truncation": "disabled", "reasoning": { "effort": "low", "summary": "auto" },
    }));
    let response = post(&server, RESPONSES, &everything).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "response");
    // `null` is "not given", as at OpenAI.
    let response = post(
        &server,
        CHAT,
        &chat(json!({ "temperature": null, "stop": null, "seed": null })),
    )
    .await;
    assert_eq!(response.status(), 200);
}
