//! Helpers shared by the integration tests: a real server on an ephemeral loopback port and a
//! plain HTTP client.
#![allow(dead_code)]

use std::time::Duration;

use mock_openai::{MockConfig, MockHandle, MockServer};
use serde_json::{Value, json};

/// Every test request gives up after this long, so a hung server fails the test instead of
/// hanging it.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub async fn start(config: MockConfig) -> MockHandle {
    MockServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("server starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(TIMEOUT).build().unwrap()
}

pub fn url(server: &MockHandle, path: &str) -> String {
    format!("http://{}{path}", server.addr())
}

/// The chat completions route, the one most tests call.
pub const CHAT: &str = "/v1/chat/completions";

pub async fn post(server: &MockHandle, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(url(server, path))
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// A chat completion with one extra header (an API key, a forced fault).
pub async fn chat_with(
    server: &MockHandle,
    (name, value): (&str, &str),
    body: &Value,
) -> reqwest::Response {
    client()
        .post(url(server, CHAT))
        .header(name, value)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// A chat completion with the fault `fault` forced by `x-mock-fault`.
pub async fn forced(server: &MockHandle, fault: &str, body: &Value) -> reqwest::Response {
    chat_with(server, ("x-mock-fault", fault), body).await
}

/// A chat completion authenticated with the API key `key` (`Authorization: Bearer`).
pub async fn chat_as(server: &MockHandle, key: &str, body: &Value) -> reqwest::Response {
    chat_with(server, ("authorization", &format!("Bearer {key}")), body).await
}

/// The whole body of a POST, as text.
pub async fn post_text(server: &MockHandle, path: &str, body: &Value) -> String {
    post(server, path, body)
        .await
        .text()
        .await
        .expect("body read")
}

/// The server's `/metrics` text.
pub async fn metrics(server: &MockHandle) -> String {
    client()
        .get(server.metrics_url())
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics read")
}

/// A chat request with a text message.
pub fn chat_body(model: &str, text: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": text }] })
}

/// Asserts an OpenAI-shaped error body and returns it.
pub async fn expect_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("error body is JSON");
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error["type"].is_string(), "{body}");
    assert!(
        error.get("param").is_some() && error.get("code").is_some(),
        "{body}"
    );
    body
}

/// The server still answers.
pub async fn assert_alive(server: &MockHandle) {
    let response = client()
        .get(url(server, "/healthz"))
        .send()
        .await
        .expect("server still answers");
    assert_eq!(response.status(), 200);
}

/// The `data:` payloads of an SSE body, in order (`event:` lines are returned as
/// `event: NAME` entries).
pub fn sse_lines(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .flat_map(|frame| frame.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// An instant server config with a given seed.
pub fn instant(seed: u64) -> MockConfig {
    MockConfig {
        seed,
        ..MockConfig::instant()
    }
}
