//! Rate limits (RPM and TPM buckets per key) and load coupling (queueing beyond a cap).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{CHAT, chat_as, chat_body, client, expect_error, forced, url};
use mock_openai::{Delay, LoadConfig, MockConfig, ModelConfig, RateLimitConfig};
use serde_json::json;

/// Instant answers, with a rate limit whose one-minute window is scaled by `time_scale`.
fn limited(rpm: Option<u32>, tpm: Option<u32>, time_scale: f64) -> MockConfig {
    MockConfig {
        time_scale,
        models: BTreeMap::from([("gpt-4o".to_owned(), ModelConfig::instant())]),
        rate_limit: RateLimitConfig {
            rpm,
            tpm,
            window: Duration::from_secs(60),
        },
        ..MockConfig::default()
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn rpm_limit_refuses_the_next_request_until_the_bucket_refills() {
    // 3 requests per minute, time scaled by 0.02: the window is 1.2 s, one request per 0.4 s.
    let server = common::start(limited(Some(3), None, 0.02)).await;
    let body = chat_body("gpt-4o", "x");
    for remaining in ["2", "1", "0"] {
        let ok = chat_as(&server, "sk-a", &body).await;
        assert_eq!(ok.status(), 200);
        assert_eq!(header(&ok, "x-ratelimit-limit-requests"), "3");
        assert_eq!(header(&ok, "x-ratelimit-remaining-requests"), remaining);
        assert!(header(&ok, "x-ratelimit-reset-requests").ends_with('s'));
    }
    let refused = chat_as(&server, "sk-a", &body).await;
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    assert_eq!(header(&refused, "retry-after"), "1");
    let wait_ms: u64 = header(&refused, "retry-after-ms").parse().unwrap();
    assert!((1..=400).contains(&wait_ms), "{wait_ms}");
    let error = expect_error(refused, 429).await;
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requests per min (RPM): Limit 3")
    );

    // Another key has its own bucket.
    let other = chat_as(&server, "sk-b", &body).await;
    assert_eq!(other.status(), 200);

    // A client honouring retry-after-ms gets through.
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    let again = chat_as(&server, "sk-a", &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "x-ratelimit-remaining-requests"), "0");
}

#[tokio::test]
async fn tpm_limit_counts_prompt_and_max_tokens() {
    let server = common::start(limited(None, Some(1000), 1.0)).await;
    let mut body = chat_body("gpt-4o", "x");
    body["max_tokens"] = json!(600);
    let first = common::post(&server, CHAT, &body).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-ratelimit-remaining-tokens"), "400");
    let second = common::post(&server, CHAT, &body).await;
    assert!(header(&second, "retry-after").parse::<u64>().unwrap() >= 1);
    let error = expect_error(second, 429).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens per min (TPM)")
    );
    body["max_tokens"] = json!(5000);
    let too_large = expect_error(common::post(&server, CHAT, &body).await, 429).await;
    assert!(
        too_large["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Request too large")
    );
}

#[tokio::test]
async fn rate_limit_headers_come_with_faults_too() {
    let server = common::start(limited(Some(100), Some(100_000), 1.0)).await;
    let response = forced(&server, "500", &chat_body("gpt-4o", "x")).await;
    assert_eq!(response.status(), 500);
    assert_eq!(header(&response, "x-ratelimit-limit-tokens"), "100000");
    assert_eq!(header(&response, "x-ratelimit-remaining-requests"), "99");
}

#[tokio::test]
async fn requests_beyond_max_concurrent_queue() {
    let slow = ModelConfig {
        ttft: Delay::fixed(Duration::from_secs(60)),
        ..ModelConfig::instant()
    };
    let config = MockConfig {
        models: BTreeMap::from([("gpt-4o".to_owned(), slow)]),
        load: LoadConfig {
            max_concurrent: 1,
            ..LoadConfig::default()
        },
        ..MockConfig::default()
    };
    let server = common::start(config).await;
    let send = || {
        let request = client()
            .post(url(&server, CHAT))
            .json(&chat_body("gpt-4o", "x"))
            .send();
        tokio::spawn(request)
    };
    let first = send();
    let second = send();
    // Wait (bounded) until the metrics show one request served and one queued.
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        let text = common::metrics(&server).await;
        if text.contains("mock_openai_queued 1\n") && text.contains("mock_openai_in_flight 2\n") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw a queued request:\n{text}"
        );
        tokio::task::yield_now().await;
    }
    // Shutdown ends both instead of waiting a minute.
    tokio::time::timeout(common::TIMEOUT, server.shutdown())
        .await
        .expect("shutdown is prompt");
    for request in [first, second] {
        let outcome = request.await.unwrap();
        assert!(outcome.map_or(true, |r| r.status() == 503));
    }
}
