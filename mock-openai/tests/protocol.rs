//! Wire details over raw HTTP: stream framing and order, OpenAI-shaped errors, API keys,
//! metrics.

mod common;

use common::{
    CHAT, assert_alive, chat_as, chat_body, chat_with, client, expect_error, forced, post,
    post_text, url,
};
use mock_openai::MockConfig;
use serde_json::{Value, json};

#[tokio::test]
async fn chat_stream_order_finish_reason_usage_and_done() {
    let server = common::start(common::instant(10)).await;
    let mut body = chat_body("gpt-4o-mini", "hello");
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    body["max_tokens"] = json!(7);
    let response = post(&server, CHAT, &body).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let lines = common::sse_lines(&text);
    assert!(lines.iter().all(|l| l.starts_with("data: ")), "{lines:?}");
    let (done, chunks) = lines.split_last().unwrap();
    assert_eq!(done, "data: [DONE]");
    let chunks: Vec<Value> = chunks
        .iter()
        .map(|l| serde_json::from_str(&l[6..]).unwrap())
        .collect();
    // role, 7 content chunks, finish, usage
    assert_eq!(chunks.len(), 10, "{chunks:#?}");
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: Vec<&str> = chunks[1..8]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert!(content.iter().all(|c| !c.is_empty()));
    assert!(
        chunks[..8]
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    assert_eq!(
        chunks[8]["choices"][0]["finish_reason"], "length",
        "max_tokens cut the answer"
    );
    assert_eq!(chunks[9]["choices"], json!([]));
    assert_eq!(chunks[9]["usage"]["completion_tokens"], 7);
    assert!(chunks[..9].iter().all(|c| c["usage"].is_null()));
}

#[tokio::test]
async fn chat_stream_without_usage_has_no_usage_field() {
    let server = common::start(common::instant(11)).await;
    let mut body = chat_body("gpt-4o", "hello");
    body["stream"] = json!(true);
    let text = post_text(&server, CHAT, &body).await;
    let lines = common::sse_lines(&text);
    let last_chunk: Value = serde_json::from_str(&lines[lines.len() - 2][6..]).unwrap();
    assert_eq!(last_chunk["choices"][0]["finish_reason"], "stop");
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| !l.contains("\"usage\""))
    );
}

#[tokio::test]
async fn responses_stream_event_order() {
    let server = common::start(common::instant(12)).await;
    let body = json!({ "model": "gpt-4o", "input": "Describe the item.", "stream": true, "max_output_tokens": 16 });
    let text = post_text(&server, "/v1/responses", &body).await;
    let lines = common::sse_lines(&text);
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    // 16 tokens, OpenAI's smallest `max_output_tokens`: one delta each.
    let expected: Vec<&str> = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    .into_iter()
    .chain(std::iter::repeat_n("response.output_text.delta", 16))
    .chain([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ])
    .collect();
    assert_eq!(names, expected);
    let data: Vec<Value> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for (i, (event, name)) in data.iter().zip(names).enumerate() {
        assert_eq!(event["type"], name);
        assert_eq!(event["sequence_number"], i);
    }
    let last = &data[data.len() - 1]["response"];
    assert_eq!(last["status"], "incomplete");
    assert_eq!(last["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(last["usage"]["output_tokens"], 16);
    assert!(
        !text.contains("[DONE]"),
        "the Responses API does not send [DONE]"
    );
}

#[tokio::test]
async fn malformed_requests_get_4xx_json_and_the_server_keeps_serving() {
    let config = MockConfig {
        max_body_bytes: 64 * 1024,
        ..common::instant(13)
    };
    let server = common::start(config).await;
    let http = client();
    let chat = url(&server, CHAT);
    let raw = |body: &'static str| {
        http.post(&chat)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    for body in [
        "{\"model\": \"gpt-4o\", \"messages\": [",
        "not json",
        "",
        "[1, 2]",
        "null",
        "\u{0}\u{1}",
    ] {
        let error = expect_error(raw(body).await.unwrap(), 400).await;
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_alive(&server).await;
    }
    let cases = [
        (
            json!({ "messages": [{ "role": "user", "content": "x" }] }),
            "model",
        ),
        (json!({ "model": 5, "messages": [] }), "model"),
        (
            json!({ "model": "gpt-4o", "messages": { "role": "user" } }),
            "messages",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [{ "role": "robot", "content": "x" }] }),
            "messages[0].role",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "file:///etc/passwd" } }] }] }),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": "x" }], "max_tokens": -3 }),
            "max_tokens",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": "x" }], "stream_options": { "include_usage": true } }),
            "stream_options",
        ),
    ];
    for (body, param) in cases {
        let error = expect_error(post(&server, CHAT, &body).await, 400).await;
        assert_eq!(error["error"]["param"], param, "{body}");
        assert_alive(&server).await;
    }
    let error = expect_error(
        post(
            &server,
            "/v1/responses",
            &json!({ "model": "gpt-4o", "input": 3 }),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(error["error"]["param"], "input");

    let error = expect_error(post(&server, CHAT, &chat_body("gpt-9", "x")).await, 404).await;
    assert_eq!(error["error"]["code"], "model_not_found");

    let huge = format!(
        "{{\"model\": \"gpt-4o\", \"messages\": [{{\"role\": \"user\", \"content\": \"{}\"}}]}}",
        "x".repeat(200 * 1024)
    );
    let response = http
        .post(&chat)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let error = expect_error(response, 413).await;
    assert_eq!(error["error"]["code"], "request_too_large");
    assert_alive(&server).await;

    let error = expect_error(
        http.get(url(&server, "/v1/embeddingz"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(
        error["error"]["message"],
        "Invalid URL (GET /v1/embeddingz)"
    );
    expect_error(http.get(&chat).send().await.unwrap(), 405).await;
    let bad_fault = forced(&server, "teapot", &chat_body("gpt-4o", "x")).await;
    let error = expect_error(bad_fault, 400).await;
    assert_eq!(error["error"]["param"], "x-mock-fault");

    // And real work still succeeds.
    let ok = post(&server, CHAT, &chat_body("gpt-4o", "x")).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn configured_keys_are_required() {
    let config = MockConfig {
        api_keys: vec!["sk-one".into(), "sk-two".into()],
        ..common::instant(14)
    };
    let server = common::start(config).await;
    let body = chat_body("gpt-4o", "x");
    let missing = expect_error(post(&server, CHAT, &body).await, 401).await;
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("didn't provide an API key")
    );
    let wrong = expect_error(chat_as(&server, "sk-three", &body).await, 401).await;
    assert_eq!(wrong["error"]["code"], "invalid_api_key");
    assert_eq!(chat_as(&server, "sk-two", &body).await.status(), 200);
    let azure_style = chat_with(&server, ("api-key", "sk-one"), &body).await;
    assert_eq!(azure_style.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_faults_and_latency() {
    let server = common::start(common::instant(15)).await;
    for _ in 0..3 {
        assert_eq!(
            post(&server, CHAT, &chat_body("gpt-4o", "x"))
                .await
                .status(),
            200
        );
    }
    expect_error(forced(&server, "503", &chat_body("gpt-4o", "x")).await, 503).await;
    expect_error(post(&server, CHAT, &chat_body("nope", "x")).await, 404).await;
    let metrics = common::metrics(&server).await;
    let has = |line: &str| metrics.lines().any(|l| l == line);
    assert!(
        has(
            r#"mock_openai_requests_total{route="/v1/chat/completions",model="gpt-4o",status="200"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        has(
            r#"mock_openai_requests_total{route="/v1/chat/completions",model="gpt-4o",status="503"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        has(r#"mock_openai_requests_total{route="/v1/chat/completions",model="",status="404"} 1"#),
        "{metrics}"
    );
    assert!(
        has(r#"mock_openai_faults_total{kind="503"} 1"#),
        "{metrics}"
    );
    assert!(
        has(
            r#"mock_openai_request_duration_seconds_count{route="/v1/chat/completions",model="gpt-4o"} 3"#
        ),
        "{metrics}"
    );
    assert!(has("mock_openai_in_flight 0"), "{metrics}");
    assert!(metrics.contains("# TYPE mock_openai_time_to_first_token_seconds histogram"));
}

#[tokio::test]
async fn http2_with_prior_knowledge() {
    let server = common::start(common::instant(16)).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(common::TIMEOUT)
        .build()
        .unwrap();
    let chat = url(&server, CHAT);
    let response = h2
        .post(&chat)
        .json(&chat_body("gpt-4o", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let mut body = chat_body("gpt-4o", "x");
    body["stream"] = json!(true);
    let text = h2
        .post(&chat)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn latency_model_delays_answers() {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use mock_openai::{Delay, ModelConfig, TokenCount};
    // Lower bounds only: a loaded machine can make answers later, never earlier.
    let model = ModelConfig {
        ttft: Delay::fixed(Duration::from_millis(300)),
        inter_token: Delay::fixed(Duration::from_millis(20)),
        output_tokens: TokenCount::fixed(11),
    };
    let config = MockConfig {
        time_scale: 0.5,
        models: BTreeMap::from([("m".to_owned(), model)]),
        ..MockConfig::default()
    };
    let server = common::start(config).await;
    let start = Instant::now();
    let whole = post(&server, CHAT, &chat_body("m", "x")).await;
    assert_eq!(whole.status(), 200);
    // (300 ms + 10 x 20 ms) x 0.5
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );

    let mut body = chat_body("m", "x");
    body["stream"] = json!(true);
    let start = Instant::now();
    let response = post(&server, CHAT, &body).await;
    let mut stream = response.bytes_stream();
    let mut first_token = None;
    let mut text = String::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        if first_token.is_none()
            && text.contains("\"content\":\"")
            && text.matches("\"content\":").count() > 1
        {
            first_token = Some(start.elapsed());
        }
    }
    let (first_token, total) = (first_token.unwrap(), start.elapsed());
    assert!(first_token >= Duration::from_millis(150), "{first_token:?}");
    // The last of 11 tokens is due (300 ms + 10 x 20 ms) x 0.5 after the request.
    assert!(total >= Duration::from_millis(250), "{total:?}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}
