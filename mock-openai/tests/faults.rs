//! Injected faults: forced by header, drawn with the configured rates, repeatable by seed.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{CHAT, chat_body, client, expect_error, forced, url};
use futures_util::StreamExt;
use mock_openai::{Delay, FaultConfig, MockConfig, ModelConfig, TokenCount};
use serde_json::{Value, json};

fn stream_body() -> Value {
    let mut body = chat_body("gpt-4o", "hello");
    body["stream"] = json!(true);
    body
}

/// One model, `tokens` tokens per answer, no time to first token, `pace` between tokens.
fn paced(tokens: u32, pace: Duration, faults: FaultConfig) -> MockConfig {
    let model = ModelConfig {
        ttft: Delay::ZERO,
        inter_token: Delay::fixed(pace),
        output_tokens: TokenCount::fixed(tokens),
    };
    MockConfig {
        models: BTreeMap::from([("gpt-4o".to_owned(), model)]),
        faults,
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn immediate_error_faults() {
    let server = common::start(common::instant(20)).await;
    let body = chat_body("gpt-4o", "x");
    let too_many = forced(&server, "429", &body).await;
    assert!(too_many.headers().contains_key("retry-after"));
    assert!(too_many.headers().contains_key("retry-after-ms"));
    let error = expect_error(too_many, 429).await;
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    expect_error(forced(&server, "500", &body).await, 500).await;
    let unavailable = expect_error(forced(&server, "503", &body).await, 503).await;
    assert_eq!(unavailable["error"]["type"], "server_error");
    assert_eq!(forced(&server, "none", &body).await.status(), 200);
}

#[tokio::test]
async fn stall_sends_headers_then_silence() {
    let faults = FaultConfig {
        stall_for: Duration::from_secs(60),
        ..FaultConfig::default()
    };
    let server = common::start(paced(5, Duration::ZERO, faults)).await;
    for body in [chat_body("gpt-4o", "x"), stream_body()] {
        // The head arrives long before the 60 s stall ends...
        let response = forced(&server, "stall", &body).await;
        assert_eq!(response.status(), 200);
        // ...and no byte of the body within a short look.
        let mut bytes = response.bytes_stream();
        let first = tokio::time::timeout(Duration::from_millis(300), bytes.next()).await;
        assert!(first.is_err(), "body arrived during the stall: {first:?}");
    }
    // Shutdown cuts stalled responses instead of waiting out the stall.
    tokio::time::timeout(common::TIMEOUT, server.shutdown())
        .await
        .expect("shutdown does not wait for stalls");
}

#[tokio::test]
async fn slow_first_byte_delays_the_head() {
    let faults = FaultConfig {
        slow_first_byte_by: Duration::from_secs(60),
        ..FaultConfig::default()
    };
    let server = common::start(paced(5, Duration::ZERO, faults)).await;
    let slow = tokio::time::timeout(
        Duration::from_millis(300),
        forced(&server, "slow-first-byte", &stream_body()),
    )
    .await;
    assert!(
        slow.is_err(),
        "response head arrived despite slow-first-byte"
    );
    // Other requests are not held up.
    assert_eq!(forced(&server, "none", &stream_body()).await.status(), 200);
}

#[tokio::test]
async fn drop_cuts_the_answer() {
    let server = common::start(paced(40, Duration::ZERO, FaultConfig::default())).await;
    let stream = forced(&server, "drop", &stream_body()).await;
    assert_eq!(stream.status(), 200);
    match stream.text().await {
        Err(_) => {}
        Ok(text) => panic!("a dropped stream ended cleanly: {text}"),
    }
    let whole = forced(&server, "drop", &chat_body("gpt-4o", "x")).await;
    assert_eq!(whole.status(), 200);
    assert!(
        whole.text().await.is_err(),
        "a dropped answer arrived complete"
    );
    common::assert_alive(&server).await;
}

#[tokio::test]
async fn burst_holds_tokens_back_and_sends_them_at_once() {
    let server = common::start(paced(30, Duration::from_millis(10), FaultConfig::default())).await;
    let first_write = |response: reqwest::Response| async move {
        let mut bytes = response.bytes_stream();
        let mut first = String::new();
        // The first write that carries content.
        while let Some(chunk) = bytes.next().await {
            first = String::from_utf8(chunk.unwrap().to_vec()).unwrap();
            if first.contains("\"content\":\"") && !first.contains("\"content\":\"\"")
                || first.contains("[DONE]")
            {
                break;
            }
        }
        first
    };
    let burst = first_write(forced(&server, "burst", &stream_body()).await).await;
    assert!(
        burst.contains("[DONE]"),
        "burst: first content write should hold the whole answer"
    );
    let paced = first_write(forced(&server, "none", &stream_body()).await).await;
    assert!(
        !paced.contains("[DONE]"),
        "paced stream sent everything at once"
    );
}

/// Statuses and answers of `n` sequential requests.
async fn run(seed: u64, n: usize) -> Vec<(u16, String)> {
    let faults = FaultConfig {
        p429: 0.1,
        p500: 0.1,
        p503: 0.1,
        ..FaultConfig::default()
    };
    let server = common::start(MockConfig {
        faults,
        ..common::instant(seed)
    })
    .await;
    let mut out = Vec::new();
    for i in 0..n {
        let body = json!({
            "model": "gpt-4o",
            "messages": [{ "role": "user", "content": format!("item {i}") }],
            "response_format": { "type": "json_schema", "json_schema": { "name": "waste_classification", "schema": {} } }
        });
        let response = common::post(&server, CHAT, &body).await;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap();
        let content = value["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        out.push((status, content));
    }
    out
}

#[tokio::test]
async fn same_seed_same_faults_and_answers() {
    let a = run(7, 150).await;
    let b = run(7, 150).await;
    assert_eq!(a, b);
    assert!(a.iter().any(|(s, _)| *s != 200) && a.iter().any(|(s, _)| *s == 200));
    let c = run(8, 150).await;
    assert_ne!(a, c, "another seed gives another sequence");
}

#[tokio::test]
async fn fault_rates_fall_within_statistical_bounds() {
    let faults = FaultConfig {
        p429: 0.05,
        p500: 0.10,
        p503: 0.05,
        ..FaultConfig::default()
    };
    let server = common::start(MockConfig {
        faults,
        ..common::instant(99)
    })
    .await;
    let n = 3000u32;
    let mut counts = BTreeMap::<u16, u32>::new();
    let http = client();
    let target = url(&server, CHAT);
    let body = chat_body("gpt-4o", "x");
    for _ in 0..n {
        let status = http
            .post(&target)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        *counts.entry(status).or_default() += 1;
    }
    for (status, p) in [(429u16, 0.05), (500, 0.10), (503, 0.05), (200, 0.80)] {
        let expected = f64::from(n) * p;
        let sd = (f64::from(n) * p * (1.0 - p)).sqrt();
        let got = f64::from(counts.get(&status).copied().unwrap_or(0));
        assert!(
            (got - expected).abs() < 5.0 * sd,
            "status {status}: {got} vs {expected} ± 5 × {sd:.1}"
        );
    }
}
