//! Execution modes, admission and cancellation, observed from outside over HTTP.

mod support;

use std::time::Duration;

use reference_pipeline::{Delay, Mode, StagePool, StagedMode, Subscription, WorkerCpu};
use support::*;
use tokio::time::Instant;

/// Mock latency per OpenAI call in these tests; a chain makes two calls.
const CALL: Duration = Duration::from_millis(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threadpool_runs_at_most_its_workers_and_queues_the_rest() {
    let mock = start_mock(mock_config(CALL, "recyclable", "plastic")).await;
    let mut config = pipeline_config(&[&mock]);
    config.mode = Mode::Threadpool { workers: 6 };
    let pipeline = start_pipeline(config).await;

    let started = Instant::now();
    let (runs, max) = max_gauges_during(
        &pipeline.metrics_url(),
        &["chain"],
        scan_many(&pipeline.base_url(), 12),
    )
    .await;
    let elapsed = started.elapsed();
    for run in &runs {
        assert_eq!(k6_outcome(run), "completed");
    }
    assert!(
        max["chain"] <= 6.0,
        "more than 6 chains ran at once: {max:?}"
    );
    assert_eq!(max["chain"], 6.0, "the pool never filled: {max:?}");
    // 12 chains of two calls on 6 threads take two rounds at least.
    assert!(elapsed >= CALL * 4, "12 chains done in {elapsed:?}");
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_pipeline_pool_workers",
        &[("pool", "chain")],
        6.0,
    );
    assert_metric(
        &metrics,
        "scan_pipeline_pool_queue_depth",
        &[("pool", "chain")],
        0.0,
    );
    stop(pipeline, mock).await;
}

fn staged(vision: usize, answer: usize) -> StagedMode {
    let pool = |workers| StagePool {
        workers,
        queue: 100,
        hop_latency: Delay::fixed(Duration::from_millis(100)),
    };
    StagedMode {
        vision: pool(vision),
        rule: pool(4),
        answer: pool(answer),
        reward: pool(4),
        character_match: pool(1),
        subscription: Subscription {
            pool: 100,
            setup: Delay::fixed(Duration::from_millis(50)),
            ready_timeout: Duration::from_secs(5),
        },
        worker_cpu: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_worker_cpu_serves_one_task_per_core_inside_the_stage() {
    let mock = start_mock(mock_config(CALL, "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    let mut staged = staged(8, 8);
    staged.worker_cpu = WorkerCpu {
        cores: 1,
        task_cpu: Delay::fixed(Duration::from_millis(40)),
    };
    config.mode = Mode::Staged(staged);
    config.time_scale = 0.1;
    let pipeline = start_pipeline(config).await;
    // The mock's latency is not scaled: 40 ms of CPU becomes 4 ms per task.
    let (runs, max) = max_gauges_during(
        &pipeline.metrics_url(),
        &["worker_cpu"],
        scan_many(&pipeline.base_url(), 6),
    )
    .await;
    for run in &runs {
        assert_eq!(k6_outcome(run), "completed");
    }
    assert_eq!(max["worker_cpu"], 1.0, "one task at a time: {max:?}");
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    let stage = |name: &str| {
        let sum = metric(
            &metrics,
            "scan_sse_stage_duration_seconds_sum",
            &[("stage", name)],
        );
        let count = metric(
            &metrics,
            "scan_sse_stage_duration_seconds_count",
            &[("stage", name)],
        );
        sum / count
    };
    // The rule stage does nothing else: its whole duration is the CPU and its queue.
    assert!(stage("rule") >= 0.004, "rule avg {}", stage("rule"));
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_mode_holds_each_stage_pool_size() {
    let mock = start_mock(mock_config(CALL, "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    config.mode = Mode::Staged(staged(4, 2));
    // Hops and set-up shrink tenfold.
    config.time_scale = 0.1;
    config.openai.request_timeout = Duration::from_secs(100);
    let pipeline = start_pipeline(config).await;

    let pools = StagedMode::POOLS;
    let (runs, max) = max_gauges_during(
        &pipeline.metrics_url(),
        &pools,
        scan_many(&pipeline.base_url(), 8),
    )
    .await;
    for run in &runs {
        assert_eq!(k6_outcome(run), "completed");
        let reward = &run.last().unwrap()["result"]["reward"];
        assert_eq!(
            reward["match_reason"], "middle_category=can",
            "asked the match pool"
        );
    }
    assert!(max["vision"] <= 4.0, "{max:?}");
    assert!(max["answer"] <= 2.0, "{max:?}");
    assert!(max["character_match"] <= 1.0, "{max:?}");
    // The OpenAI stages are slow enough for their pools to fill (8 requests at once reach
    // vision together, and leave it four at a time for answer).
    assert_eq!(max["vision"], 4.0, "{max:?}");
    assert_eq!(max["answer"], 2.0, "{max:?}");
    // Workers count themselves free just after the last event goes out.
    wait_for_metrics(&client(), &pipeline.metrics_url(), "idle pools", |m| {
        pools.iter().all(|pool| {
            metric(m, "scan_pipeline_pool_busy_workers", &[("pool", pool)]) == 0.0
                && metric(m, "scan_pipeline_pool_queue_depth", &[("pool", pool)]) == 0.0
        })
    })
    .await;
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_subscription_setup_delays_the_first_byte() {
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "paper")).await;
    let mut config = pipeline_config(&[&mock]);
    let mut mode = staged(10, 10);
    mode.subscription = Subscription {
        pool: 1,
        setup: Delay::fixed(Duration::from_millis(100)),
        ready_timeout: Duration::from_secs(5),
    };
    config.mode = Mode::Staged(mode);
    config.time_scale = 0.5;
    let pipeline = start_pipeline(config).await;
    let client = client();
    // One subscription slot held for a whole stream: the second stream's `started` line waits
    // for the first stream to end.
    let mut first = post_scan(&client, &pipeline.base_url(), "a").await;
    let first_line = first_chunk(&mut first).await;
    assert!(first_line.starts_with("data: {\"status\": \"started\""));
    let second_sent = Instant::now();
    let mut second = post_scan(&client, &pipeline.base_url(), "b").await;
    let metrics = wait_for_metrics(
        &client,
        &pipeline.metrics_url(),
        "a waiting subscription",
        |m| {
            metric(
                m,
                "scan_pipeline_pool_queue_depth",
                &[("pool", "subscription")],
            ) == 1.0
        },
    )
    .await;
    assert_metric(
        &metrics,
        "scan_pipeline_pool_busy_workers",
        &[("pool", "subscription")],
        1.0,
    );
    let (_, frames) = read_frames(first).await;
    assert_eq!(k6_outcome(&events(&frames)), "completed");
    let second_line = first_chunk(&mut second).await;
    assert!(second_line.starts_with("data: {\"status\": \"started\""));
    // At least its own set-up (100 ms x 0.5) passed before the first byte.
    assert!(second_sent.elapsed() >= Duration::from_millis(50));
    drain(second).await;
    stop(pipeline, mock).await;
}

async fn disconnect_cancels_the_chain(mode: Mode) {
    let mock = start_mock(mock_config(
        Duration::from_millis(300),
        "recyclable",
        "vinyl",
    ))
    .await;
    let mut config = pipeline_config(&[&mock]);
    config.mode = mode.clone();
    if let Mode::Staged(_) = mode {
        config.time_scale = 0.1;
        config.openai.request_timeout = Duration::from_secs(100);
    }
    let pipeline = start_pipeline(config).await;
    let client = client();
    let url = pipeline.metrics_url();

    // Run A: leave during the vision call.
    let mut abandoned = post_scan(&client, &pipeline.base_url(), "leaver").await;
    let mut buffer = String::new();
    read_until(&mut abandoned, &mut buffer, |e| {
        e["step"] == "vision" && e["status"] == "started"
    })
    .await;
    drop(abandoned);
    wait_for_metrics(&client, &url, "the abandoned stream to close", |m| {
        metric(m, "scan_sse_connections_active", &[]) == 0.0
            && metric(m, "scan_sse_requests_total", &[("status", "cancelled")]) == 1.0
    })
    .await;

    // Run B starts later and ends later than A would have: A's answer call, had A gone on,
    // would be made before B ends.
    let (_, frames) = read_frames(post_scan(&client, &pipeline.base_url(), "stayer").await).await;
    assert_eq!(k6_outcome(&events(&frames)), "completed");
    let metrics = scrape(&client, &url).await;
    let calls = |call| {
        metric(
            &metrics,
            "scan_pipeline_openai_calls_total",
            &[("call", call)],
        )
    };
    assert!(calls("vision") <= 2.0, "{metrics}");
    assert_eq!(
        calls("answer"),
        1.0,
        "the abandoned run went on to the answer stage"
    );
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "success")],
        1.0,
    );
    assert_metric(&metrics, "scan_sse_connections_active", &[], 0.0);
    // Workers count themselves free just after the last event goes out.
    wait_for_metrics(&client, &url, "every worker free", |m| {
        metric(m, "scan_pipeline_pool_busy_workers", &[]) == 0.0
    })
    .await;
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_cancels_the_chain_in_async_mode() {
    disconnect_cancels_the_chain(Mode::Async).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_cancels_the_chain_in_threadpool_mode() {
    disconnect_cancels_the_chain(Mode::Threadpool { workers: 2 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_cancels_the_chain_in_staged_mode() {
    disconnect_cancels_the_chain(Mode::Staged(staged(4, 4))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_answers_503_beyond_max_inflight() {
    let mock = start_mock(mock_config(
        Duration::from_millis(200),
        "recyclable",
        "paper",
    ))
    .await;
    let mut config = pipeline_config(&[&mock]);
    config.max_inflight = 2;
    let pipeline = start_pipeline(config).await;
    let client = client();

    let mut open = Vec::new();
    for user in ["a", "b"] {
        let mut response = post_scan(&client, &pipeline.base_url(), user).await;
        assert_eq!(response.status(), 200);
        first_chunk(&mut response).await;
        open.push(response);
    }
    let refused = post_scan(&client, &pipeline.base_url(), "c").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "OVERLOADED");

    for response in open {
        let (_, frames) = read_frames(response).await;
        assert_eq!(k6_outcome(&events(&frames)), "completed");
    }
    // Slots come back: the next request is served.
    let (_, frames) = read_frames(post_scan(&client, &pipeline.base_url(), "d").await).await;
    assert_eq!(k6_outcome(&events(&frames)), "completed");
    let metrics = scrape(&client, &pipeline.metrics_url()).await;
    assert_metric(&metrics, "scan_pipeline_admission_rejected_total", &[], 1.0);
    // Rejections are not chain outcomes: the server view says 3 of 3, the client saw 3 of 4.
    assert_metric(&metrics, "scan_sse_requests_total", &[], 3.0);
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "success")],
        3.0,
    );
    stop(pipeline, mock).await;
}
