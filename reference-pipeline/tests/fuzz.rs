//! Arbitrary scan requests sent to the real service (in front of a real mock) over loopback:
//! every answer is 2xx or 4xx, errors are JSON, and the service keeps serving.
//! `PROPTEST_CASES=10000 cargo test -p reference-pipeline --test fuzz` runs it longer.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::{COMPLETION, mock_config, start_mock, start_pipeline, stop};

/// A body: any bytes, or a JSON object whose two fields take any JSON value.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::String),
        Just(json!("https://example.invalid/item.jpg")),
        Just(json!([1, {"a": null}])),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        (value.clone(), value).prop_map(|(image_url, user_input)| {
            serde_json::to_vec(&json!({"image_url": image_url, "user_input": user_input})).unwrap()
        }),
    ]
}

#[test]
fn arbitrary_scan_requests_get_2xx_or_4xx_and_the_service_keeps_serving() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mock, pipeline) = runtime.block_on(async {
        let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "can")).await;
        let pipeline = start_pipeline(support::pipeline_config(&[&mock])).await;
        (mock, pipeline)
    });
    let client = support::client();
    let route = proptest::sample::select(&[COMPLETION, "/api/v1/scan/classify"][..]);
    let user = proptest::option::of("\\PC{0,8}");
    proptest!(|(route in route, body in body(), user in user)| {
        let (status, text) = runtime.block_on(async {
            let mut request = client
                .post(format!("{}{route}", pipeline.base_url()))
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(user) = &user {
                request = request.header("x-user-id", user.as_str());
            }
            let response = request.send().await.expect("an answer");
            let status = response.status();
            // A stream is read to its end, so that no chain outlives its case.
            (status, response.text().await.unwrap_or_default())
        });
        prop_assert!(status.is_success() || status.is_client_error(), "{status}: {text}");
        if status.is_client_error() {
            let error: Value = serde_json::from_str(&text).expect("a JSON error");
            prop_assert!(error.is_object(), "{text}");
        }
    });
    runtime.block_on(async {
        let health = client
            .get(format!("{}/healthz", pipeline.base_url()))
            .send()
            .await
            .expect("the service still answers");
        assert_eq!(health.status(), 200);
        stop(pipeline, mock).await;
    });
}
