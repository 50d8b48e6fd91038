//! The OpenAI client against a real mock: rate limits, retries, failover, timeouts.

mod support;

use std::time::Duration;

use reference_pipeline::{Provider, Routing};
use serde_json::Value;
use support::*;

fn last_event(frames: &[Frame]) -> Value {
    events(frames).pop().expect("at least one event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storm_is_ridden_out_with_retries() {
    // One request per 100 ms per key: 8 calls at once get 429 and `retry-after-ms`.
    let mut mock_config = mock_config(Duration::ZERO, "recyclable", "pet_bottle");
    mock_config.rate_limit.rpm = Some(2);
    mock_config.rate_limit.window = Duration::from_millis(200);
    let mock = start_mock(mock_config).await;
    let mut config = pipeline_config(&[&mock]);
    config.openai.max_retries = 20;
    let pipeline = start_pipeline(config).await;

    for run in scan_many(&pipeline.base_url(), 4).await {
        assert_eq!(k6_outcome(&run), "completed", "{run:?}");
    }
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    let limited = metric(
        &metrics,
        "scan_pipeline_openai_calls_total",
        &[("status", "429")],
    );
    assert!(limited > 0.0, "no 429 seen:\n{metrics}");
    assert_metric(
        &metrics,
        "scan_pipeline_openai_retries_total",
        &[("status", "429")],
        limited,
    );
    assert_metric(
        &metrics,
        "scan_pipeline_openai_calls_total",
        &[("status", "200")],
        8.0,
    );
    let mock_metrics = scrape(&client(), &mock.metrics_url()).await;
    assert_metric(
        &mock_metrics,
        "mock_openai_requests_total",
        &[("status", "429")],
        limited,
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_end_in_a_clean_failed_event() {
    let mut mock_config = mock_config(Duration::ZERO, "recyclable", "pet_bottle");
    // The forced 429's retry-after (1 s) shrinks with the mock's time scale.
    mock_config.time_scale = 0.01;
    let mock = start_mock(mock_config).await;
    let mut config = pipeline_config(&[&mock]);
    config.openai.providers = vec![Provider {
        headers: [("x-mock-fault".to_string(), "429".to_string())].into(),
        ..Provider::new(mock.base_url())
    }];
    config.openai.max_retries = 2;
    let pipeline = start_pipeline(config).await;

    let (body, frames) = read_frames(post_scan(&client(), &pipeline.base_url(), "u").await).await;
    let failed = last_event(&frames);
    assert_eq!(failed["step"], "vision", "{body}");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["progress"], 0);
    assert!(
        failed["error"].as_str().unwrap().contains("429"),
        "{failed}"
    );
    assert_eq!(k6_outcome(&events(&frames)), "partial");
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_pipeline_openai_calls_total",
        &[("status", "429")],
        3.0,
    );
    assert_metric(&metrics, "scan_pipeline_openai_retries_total", &[], 2.0);
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "failed")],
        1.0,
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_provider_takes_over_when_the_first_is_limited() {
    // The first provider allows one request a minute; its 429 says to come back in a minute.
    let mut limited_config = mock_config(Duration::ZERO, "recyclable", "pet_bottle");
    limited_config.rate_limit.rpm = Some(1);
    let limited = start_mock(limited_config).await;
    let spare = start_mock(mock_config(Duration::ZERO, "recyclable", "pet_bottle")).await;
    let mut config = pipeline_config(&[&limited, &spare]);
    config.openai.routing = Routing::Failover;
    let pipeline = start_pipeline(config).await;

    let client = client();
    for user in 0..5 {
        let (_, frames) =
            read_frames(post_scan(&client, &pipeline.base_url(), &format!("u{user}")).await).await;
        assert_eq!(k6_outcome(&events(&frames)), "completed");
    }
    let metrics = scrape(&client, &pipeline.metrics_url()).await;
    let calls = |provider: &str, status| {
        metric(
            &metrics,
            "scan_pipeline_openai_calls_total",
            &[("provider", provider), ("status", status)],
        )
    };
    let (first, second) = (&limited.base_url(), &spare.base_url());
    assert_eq!(calls(first, "200"), 1.0, "{metrics}");
    assert_eq!(
        calls(first, "429"),
        1.0,
        "skipped while limited:\n{metrics}"
    );
    assert_eq!(calls(second, "200"), 9.0, "{metrics}");
    pipeline.shutdown().await;
    limited.shutdown().await;
    spare.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_calls_over_providers() {
    let a = start_mock(mock_config(Duration::ZERO, "general", "general_waste")).await;
    let b = start_mock(mock_config(Duration::ZERO, "general", "general_waste")).await;
    let pipeline = start_pipeline(pipeline_config(&[&a, &b])).await;
    let client = client();
    for _ in 0..3 {
        read_frames(post_scan(&client, &pipeline.base_url(), "u").await).await;
    }
    let metrics = scrape(&client, &pipeline.metrics_url()).await;
    for mock in [&a, &b] {
        assert_eq!(
            metric(
                &metrics,
                "scan_pipeline_openai_calls_total",
                &[("provider", &mock.base_url())]
            ),
            3.0,
            "{metrics}"
        );
    }
    pipeline.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_times_out_per_attempt_and_fails_the_stage() {
    let mock = start_mock(mock_config(Duration::from_secs(5), "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    config.openai.request_timeout = Duration::from_millis(100);
    config.openai.max_retries = 1;
    let pipeline = start_pipeline(config).await;
    let (_, frames) = read_frames(post_scan(&client(), &pipeline.base_url(), "u").await).await;
    let failed = last_event(&frames);
    assert_eq!(failed["step"], "vision");
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("did not answer"),
        "{failed}"
    );
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_pipeline_openai_calls_total",
        &[("status", "timeout")],
        2.0,
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_bounds_the_calls_in_flight_per_provider() {
    let call = Duration::from_millis(100);
    let mock = start_mock(mock_config(call, "recyclable", "paper")).await;
    let mut config = pipeline_config(&[&mock]);
    config.openai.max_connections = 1;
    let pipeline = start_pipeline(config).await;
    let started = tokio::time::Instant::now();
    for run in scan_many(&pipeline.base_url(), 3).await {
        assert_eq!(k6_outcome(&run), "completed");
    }
    // Six calls, one at a time.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= call * 6,
        "six 100 ms calls overlapped: {elapsed:?}"
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_reports_its_calls_and_the_tokens_the_mock_counted() {
    let mock = start_mock(mock_config(Duration::from_millis(20), "recyclable", "can")).await;
    let pipeline = start_pipeline(pipeline_config(&[&mock])).await;
    let client = client();
    const SCANS: usize = 4;
    for _ in 0..SCANS {
        read_frames(post_scan(&client, &pipeline.base_url(), "u").await).await;
    }
    let ours = scrape(&client, &pipeline.metrics_url()).await;
    let theirs = scrape(&client, &mock.metrics_url()).await;
    for (call, model) in [("vision", "gpt-4o"), ("answer", "gpt-4o-mini")] {
        let labels = [("call", call), ("model", model)];
        let calls = metric(
            &ours,
            "scan_pipeline_openai_call_duration_seconds_count",
            &labels,
        );
        assert_eq!(calls, SCANS as f64, "{call}: {ours}");
        // Each call waits at least the mock's fixed 20 ms before its answer.
        let seconds = metric(
            &ours,
            "scan_pipeline_openai_call_duration_seconds_sum",
            &labels,
        );
        assert!(seconds >= 0.02 * SCANS as f64, "{call}: {seconds}");
        // What the answers said they used is what the mock counted for that model.
        let output = metric(
            &ours,
            "scan_pipeline_openai_tokens_total",
            &[("call", call), ("model", model), ("kind", "output")],
        );
        let counted = metric(
            &theirs,
            "mock_openai_output_tokens_total",
            &[("model", model)],
        );
        assert!(output > 0.0, "{call}: {ours}");
        assert_eq!(
            output, counted,
            "{call}: ours {output}, the mock's {counted}"
        );
    }
    pipeline.shutdown().await;
    mock.shutdown().await;
}
