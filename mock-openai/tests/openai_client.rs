//! A real OpenAI client library (async-openai) pointed at the mock parses every answer.

mod common;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, FinishReason};
use async_openai::types::responses::{CreateResponse, ResponseStreamEvent, Status};
use futures_util::StreamExt;
use mock_openai::MockHandle;
use serde_json::{Value, json};

fn openai(server: &MockHandle) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(server.base_url())
            .with_api_key("sk-test"),
    )
}

fn chat_request(body: Value) -> CreateChatCompletionRequest {
    serde_json::from_value(body).expect("request fits async-openai's type")
}

fn disposal_request(stream: bool) -> CreateChatCompletionRequest {
    chat_request(json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [
            { "role": "system", "content": "You explain waste disposal rules." },
            { "role": "user", "content": [
                { "type": "text", "text": "Category: recyclable / pet_bottle / water_bottle. How do I throw it away?" },
                { "type": "image_url", "image_url": { "url": "https://images.example.com/scan/42.jpg" } },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } }
            ]}
        ],
        "response_format": { "type": "json_schema", "json_schema": {
            "name": "disposal_answer",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {
                    "disposal_steps": { "type": "object" },
                    "insufficiencies": { "type": "array", "items": { "type": "string" } },
                    "user_answer": { "type": "string" }
                },
                "required": ["disposal_steps", "insufficiencies", "user_answer"],
                "additionalProperties": false
            }
        }}
    }))
}

fn assert_disposal_answer(text: &str) {
    let answer: Value = serde_json::from_str(text).expect("answer is JSON");
    assert!(answer["disposal_steps"]["step1"].is_string(), "{answer}");
    assert!(answer["insufficiencies"].is_array(), "{answer}");
    assert!(
        answer["user_answer"]
            .as_str()
            .unwrap()
            .contains("pet bottle"),
        "{answer}"
    );
}

#[tokio::test]
async fn chat_completion_with_vision_parts_and_json_schema() {
    let server = common::start(common::instant(1)).await;
    let response = openai(&server)
        .chat()
        .create(disposal_request(false))
        .await
        .unwrap();
    assert_eq!(response.object, "chat.completion");
    assert_eq!(response.model, "gpt-4o-mini");
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    assert_disposal_answer(choice.message.content.as_deref().unwrap());
    let usage = response.usage.unwrap();
    assert!(usage.prompt_tokens > 2 * 255, "two images count: {usage:?}");
    assert!(usage.completion_tokens > 20);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
}

#[tokio::test]
async fn chat_completion_stream() {
    let server = common::start(common::instant(2)).await;
    let mut request = disposal_request(true);
    request.stream_options = serde_json::from_value(json!({ "include_usage": true })).unwrap();
    let mut stream = openai(&server).chat().create_stream(request).await.unwrap();
    let mut content = String::new();
    let mut finish = Vec::new();
    let mut usage = None;
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        assert_eq!(chunk.object, "chat.completion.chunk");
        for choice in &chunk.choices {
            content.push_str(choice.delta.content.as_deref().unwrap_or(""));
            finish.extend(choice.finish_reason);
        }
        if let Some(u) = chunk.usage {
            assert!(chunk.choices.is_empty(), "usage comes in its own chunk");
            usage = Some(u);
        }
    }
    assert!(chunks > 10, "answer streamed in many chunks, got {chunks}");
    assert_eq!(finish, vec![FinishReason::Stop]);
    assert_disposal_answer(&content);
    assert!(usage.expect("usage chunk").completion_tokens > 20);
}

fn vision_request(stream: bool) -> CreateResponse {
    serde_json::from_value(json!({
        "model": "gpt-4o",
        "stream": stream,
        "input": [{
            "role": "user",
            "content": [
                { "type": "input_text", "text": "Is this recyclable?" },
                { "type": "input_image", "image_url": "https://images.example.com/scan/7.jpg", "detail": "auto" }
            ]
        }],
        "text": { "format": {
            "type": "json_schema",
            "name": "waste_classification",
            "strict": true,
            "schema": { "type": "object", "properties": {
                "classification": { "type": "object" },
                "situation_tags": { "type": "array", "items": { "type": "string" } },
                "meta": { "type": "object" }
            }, "required": ["classification", "situation_tags", "meta"], "additionalProperties": false }
        }}
    }))
    .expect("request fits async-openai's type")
}

fn assert_classification(text: &str) {
    let answer: Value = serde_json::from_str(text).expect("answer is JSON");
    let classification = &answer["classification"];
    for level in ["major_category", "middle_category", "minor_category"] {
        assert!(
            classification[level]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{answer}"
        );
    }
    assert!(answer["situation_tags"].is_array(), "{answer}");
    assert_eq!(answer["meta"]["user_input"], "Is this recyclable?");
}

#[tokio::test]
async fn responses_api_with_image_and_structured_output() {
    let server = common::start(common::instant(3)).await;
    let response = openai(&server)
        .responses()
        .create(vision_request(false))
        .await
        .unwrap();
    assert_eq!(response.status, Status::Completed);
    assert_classification(&response.output_text().expect("output text"));
    let usage = response.usage.unwrap();
    assert!(usage.input_tokens > 255 && usage.output_tokens > 10);
}

#[tokio::test]
async fn responses_api_stream() {
    let server = common::start(common::instant(4)).await;
    let mut stream = openai(&server)
        .responses()
        .create_stream(vision_request(true))
        .await
        .unwrap();
    let mut deltas = String::new();
    let mut first = None;
    let mut completed = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ResponseStreamEvent::ResponseCreated(e) => first = first.or(Some(e.response.status)),
            ResponseStreamEvent::ResponseOutputTextDelta(e) => deltas.push_str(&e.delta),
            ResponseStreamEvent::ResponseCompleted(e) => completed = Some(e.response),
            _ => {}
        }
    }
    assert_eq!(first, Some(Status::InProgress));
    let completed = completed.expect("response.completed event");
    assert_eq!(completed.output_text().as_deref(), Some(deltas.as_str()));
    assert_classification(&deltas);
}

#[tokio::test]
async fn generic_schema_and_model_list() {
    let server = common::start(common::instant(5)).await;
    let client = openai(&server);
    let request = chat_request(json!({
        "model": "gpt-4.1-mini",
        "messages": [{ "role": "user", "content": "Rate this." }],
        "response_format": { "type": "json_schema", "json_schema": { "name": "rating", "strict": true, "schema": {
            "type": "object",
            "properties": {
                "score": { "type": "integer", "minimum": 1, "maximum": 5 },
                "label": { "type": "string", "enum": ["good", "bad"] },
                "reasons": { "type": "array", "items": { "type": "string" }, "minItems": 1 }
            },
            "required": ["score", "label", "reasons"],
            "additionalProperties": false
        }}}
    }));
    let response = client.chat().create(request).await.unwrap();
    let answer: Value =
        serde_json::from_str(response.choices[0].message.content.as_deref().unwrap()).unwrap();
    assert!(
        (1..=5).contains(&answer["score"].as_i64().unwrap()),
        "{answer}"
    );
    assert!(
        answer["label"] == "good" || answer["label"] == "bad",
        "{answer}"
    );
    assert!(
        !answer["reasons"].as_array().unwrap().is_empty(),
        "{answer}"
    );

    let models = client.models().list().await.unwrap();
    let ids: Vec<&str> = models.data.iter().map(|m| m.id.as_str()).collect();
    assert!(
        ids.contains(&"gpt-4o") && ids.contains(&"gpt-4o-mini"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn client_sees_openai_errors() {
    let server = common::start(common::instant(6)).await;
    let request = chat_request(
        json!({ "model": "gpt-9", "messages": [{ "role": "user", "content": "hi" }] }),
    );
    let err = openai(&server).chat().create(request).await.unwrap_err();
    match err {
        async_openai::error::OpenAIError::ApiError(api) => {
            assert_eq!(api.status_code, 404);
            assert_eq!(api.api_error.code.as_deref(), Some("model_not_found"));
            assert!(api.api_error.message.contains("gpt-9"));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}
