//! Arbitrary bodies and headers sent to the real server over loopback: every answer is 2xx or
//! 4xx JSON, and the server keeps serving. `PROPTEST_CASES=10000 cargo test -p mock-openai
//! --test fuzz` runs it longer.

mod common;

use proptest::prelude::*;
use scan_config::fuzz::edits_of;
use serde_json::Value;

/// A request the mock answers 200.
const VALID: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":1}"#;

/// The routes that read a body.
const ROUTES: [&str; 3] = ["/v1/chat/completions", "/v1/responses", "/admin/config"];

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        // Near misses of a real request: a valid one, edited.
        edits_of(VALID).prop_map(String::into_bytes),
    ]
}

#[test]
fn arbitrary_requests_get_2xx_or_4xx_json_and_the_server_keeps_serving() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(common::start(common::instant(7)));
    let client = common::client();
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/toml".to_owned()),
        "\\PC{0,12}",
    ];
    proptest!(|(route in proptest::sample::select(&ROUTES[..]), body in body(), content_type in content_type)| {
        let (status, text) = runtime.block_on(async {
            let response = client
                .post(common::url(&server, route))
                .header("content-type", content_type.as_str())
                .body(body.clone())
                .send()
                .await
                .expect("an answer");
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        });
        prop_assert!(status.is_success() || status.is_client_error(), "{status}: {text}");
        if route == "/admin/config" && status.is_success() {
            // A body that was a valid config replaced the instant one: put it back.
            server.set_config(common::instant(7)).unwrap();
        }
        if status.is_client_error() {
            let error: Value = serde_json::from_str(&text).expect("a JSON error");
            prop_assert!(error["error"]["message"].is_string(), "{text}");
        }
    });
    runtime.block_on(async {
        common::assert_alive(&server).await;
        server.shutdown().await;
    });
}
