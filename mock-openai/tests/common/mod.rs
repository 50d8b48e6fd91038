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

pub async fn post(server: &MockHandle, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(url(server, path))
        .json(body)
        .send()
        .await
        .expect("request sent")
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
