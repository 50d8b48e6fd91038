//! Injected stream faults against a real mock: the bytes of each fault in every protocol, the
//! seeded sequence, probabilities, the forcing header and the metrics.

mod support;

use std::time::Duration;

use mock_openai::MockHandle;
use reference_pipeline::{FaultConfig, PipelineConfig, PipelineHandle, Protocol};
use serde_json::Value;
use support::*;

const TIME_SCALE: f64 = 0.05;

async fn start_mock_for_faults() -> MockHandle {
    start_mock(mock_config(
        Duration::from_millis(5),
        "recyclable",
        "pet_bottle",
    ))
    .await
}

fn config(mock: &MockHandle, protocol: Protocol, faults: FaultConfig) -> PipelineConfig {
    let mut config = pipeline_config(&[mock]);
    config.protocol = protocol;
    // Keep-alives every 50 ms, so a silence without them shows.
    config.time_scale = TIME_SCALE;
    config.openai.request_timeout = Duration::from_secs(60);
    config.faults = faults;
    config
}

/// POSTs a scan request, with `x-pipeline-fault: fault` when given.
async fn post(
    client: &reqwest::Client,
    pipeline: &PipelineHandle,
    user: &str,
    fault: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{}{COMPLETION}", pipeline.base_url()))
        .header("x-user-id", user)
        .json(&serde_json::json!({
            "image_url": "https://images.example.com/item.jpg",
            "user_input": "How do I throw this away?",
        }));
    if let Some(fault) = fault {
        request = request.header("x-pipeline-fault", fault);
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(response.status(), 200);
    response
}

async fn body(response: reqwest::Response) -> String {
    tokio::time::timeout(PATIENCE, response.text())
        .await
        .expect("stream ends in time")
        .expect("body read")
}

/// The event frames of a body in short form (`vision:started`, `status:started`,
/// `error:INJECTED_FAULT`, `done:` for `ready`, `malformed` for data that is not JSON);
/// keep-alive comments left out.
fn summary(body: &str) -> Vec<String> {
    assert!(body.ends_with("\n\n"), "unterminated frame: {body:?}");
    body.split_terminator("\n\n")
        .filter(|frame| !frame.starts_with(':') && !frame.starts_with("event: keepalive"))
        .map(|frame| {
            let data = frame
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("no data in {frame:?}"));
            let Ok(data) = serde_json::from_str::<Value>(data) else {
                return "malformed".to_string();
            };
            let text = |key: &str| data[key].as_str().unwrap_or("").to_string();
            if data.get("step").is_some() {
                format!("{}:{}", text("step"), text("status"))
            } else if data["status"] == "error" {
                format!("error:{}", text("error"))
            } else {
                format!("status:{}", text("status"))
            }
        })
        .collect()
}

/// The fault a stream shows, by its bytes (a stall looks like a drop).
fn fault_of(summary: &[String]) -> &'static str {
    let last = summary.last().map(String::as_str);
    if summary.iter().any(|s| s == "malformed") {
        "malformed"
    } else if last == Some("error:INJECTED_FAULT") {
        "error"
    } else if matches!(last, Some("reward:completed" | "done:")) {
        "none"
    } else {
        "drop"
    }
}

/// Whether every stage completed (the terminal event included).
fn completed(summary: &[String]) -> bool {
    ["vision", "rule", "answer", "reward"]
        .iter()
        .all(|stage| summary.contains(&format!("{stage}:completed")))
}

fn is_stage_event(s: &str) -> bool {
    ["vision:", "rule:", "answer:", "reward:", "queued:"]
        .iter()
        .any(|p| s.starts_with(p))
}

async fn metrics_text(pipeline: &PipelineHandle) -> String {
    scrape(&client(), &pipeline.metrics_url()).await
}

fn faults_total(text: &str, kind: &str) -> f64 {
    metric(text, "scan_pipeline_faults_total", &[("kind", kind)])
}

fn requests_total(text: &str, status: &str) -> f64 {
    metric(text, "scan_sse_requests_total", &[("status", status)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_faults_give_their_byte_streams_in_every_protocol() {
    let mock = start_mock_for_faults().await;
    for protocol in [
        Protocol::Eco2V1,
        Protocol::NamedEvents,
        Protocol::StageEvents,
    ] {
        let pipeline = start_pipeline(config(&mock, protocol, FaultConfig::default())).await;
        let client = client();
        let named = protocol != Protocol::Eco2V1;

        // Drop: closed cleanly after a stage event; no terminal, no error event.
        let drop = body(post(&client, &pipeline, "u-drop", Some("drop")).await).await;
        let frames = summary(&drop);
        assert!(frames.len() >= 2, "{drop}");
        assert!(is_stage_event(frames.last().unwrap()), "{drop}");
        assert!(!completed(&frames), "{drop}");
        assert!(!frames.iter().any(|f| f.starts_with("error:")), "{drop}");
        assert!(
            !drop.contains("event: error")
                && !drop.contains("event: ready")
                && !drop.contains("event: done")
        );
        assert_eq!(fault_of(&frames), "drop");

        // Malformed: the invalid line, then the whole run.
        let malformed =
            body(post(&client, &pipeline, "u-malformed", Some("malformed")).await).await;
        let line = match protocol {
            Protocol::Eco2V1 => "\n\ndata: {\"step\": \"vision\", \"status\":\n\n",
            Protocol::NamedEvents => "event: stage\ndata: {\"step\": \"vision\", \"status\":\n\n",
            Protocol::StageEvents => "event: vision\ndata: {\"step\": \"vision\", \"status\":\n\n",
        };
        assert_eq!(malformed.matches(line).count(), 1, "{malformed}");
        let frames = summary(&malformed);
        assert_eq!(frames.iter().filter(|f| *f == "malformed").count(), 1);
        assert!(completed(&frames), "{malformed}");
        assert_eq!(
            frames.last().unwrap(),
            if named { "done:" } else { "reward:completed" }
        );

        // Error: Eco²'s error event ends the stream.
        let error = body(post(&client, &pipeline, "u-error", Some("error")).await).await;
        let event = "data: {\"status\": \"error\", \"error\": \"INJECTED_FAULT\"}\n\n";
        let event = match protocol {
            Protocol::Eco2V1 => event.to_string(),
            Protocol::NamedEvents => format!("event: error\n{event}"),
            Protocol::StageEvents => {
                // Numbered after every event before it.
                let id = error.matches("\nid: ").count();
                format!("event: error\nid: {id}\n{event}")
            }
        };
        assert!(error.ends_with(&event), "{error}");
        let frames = summary(&error);
        assert_eq!(
            frames[0],
            if named {
                "queued:started"
            } else {
                "status:started"
            }
        );
        assert!(!completed(&frames), "{error}");

        // `none` forces a clean run.
        let clean = body(post(&client, &pipeline, "u-none", Some("none")).await).await;
        assert_eq!(fault_of(&summary(&clean)), "none", "{clean}");

        let text = metrics_text(&pipeline).await;
        for (kind, n) in [
            ("drop", 1.0),
            ("malformed", 1.0),
            ("error", 1.0),
            ("stall", 0.0),
        ] {
            assert_eq!(faults_total(&text, kind), n, "{kind}");
        }
        // As a client sees them: the malformed run failed although the chain completed.
        assert_eq!(requests_total(&text, "failed"), 3.0);
        assert_eq!(requests_total(&text, "success"), 1.0);
        assert_eq!(requests_total(&text, "cancelled"), 0.0);
        pipeline.shutdown().await;
    }
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_sends_no_byte_after_the_first_stage_event_then_ends() {
    let mock = start_mock_for_faults().await;
    let faults = FaultConfig {
        stall_for: Duration::from_secs(10),
        ..FaultConfig::default()
    };
    let stall = Duration::from_secs(10).mul_f64(TIME_SCALE);
    for protocol in [
        Protocol::Eco2V1,
        Protocol::NamedEvents,
        Protocol::StageEvents,
    ] {
        let pipeline = start_pipeline(config(&mock, protocol, faults.clone())).await;
        let sent = tokio::time::Instant::now();
        let mut response = post(&client(), &pipeline, "u-stall", Some("stall")).await;
        let mut buffer = String::new();
        // The run's first stage event (named events send a `queued` one before it).
        let first = read_until(&mut response, &mut buffer, |e| {
            e.get("step").is_some_and(|s| s != "queued")
        })
        .await;
        assert_eq!(first["step"], "vision");
        assert_eq!(buffer, "", "bytes after the first stage event");
        let rest = tokio::time::timeout(PATIENCE, response.chunk())
            .await
            .expect("the stall ends in time")
            .expect("clean end");
        // Ten keep-alive intervals passed: not one keep-alive, then the end of the stream.
        assert_eq!(rest, None);
        assert!(sent.elapsed() >= stall, "ended after {:?}", sent.elapsed());

        let text = wait_for_metrics(&client(), &pipeline.metrics_url(), "the stall", |t| {
            requests_total(t, "timeout") == 1.0
        })
        .await;
        assert_eq!(faults_total(&text, "stall"), 1.0);
        pipeline.shutdown().await;
    }
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_gives_up_on_a_stall_counts_as_timeout() {
    let mock = start_mock_for_faults().await;
    let faults = FaultConfig {
        stall_for: Duration::from_secs(10),
        ..FaultConfig::default()
    };
    let pipeline = start_pipeline(config(&mock, Protocol::Eco2V1, faults)).await;
    let mut response = post(&client(), &pipeline, "u-stall", Some("stall")).await;
    let mut buffer = String::new();
    read_until(&mut response, &mut buffer, |e| e["step"] == "vision").await;
    drop(response);
    let text = wait_for_metrics(&client(), &pipeline.metrics_url(), "the stall", |t| {
        requests_total(t, "timeout") == 1.0
    })
    .await;
    assert_eq!(requests_total(&text, "cancelled"), 0.0);
    stop(pipeline, mock).await;
}

/// The faults of `n` scans sent one after another.
async fn fault_sequence(pipeline: &PipelineHandle, n: usize) -> Vec<Vec<String>> {
    let client = client();
    let mut sequence = Vec::new();
    for i in 0..n {
        let response = post(&client, pipeline, &format!("user-{i}"), None).await;
        sequence.push(summary(&body(response).await));
    }
    sequence
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_faults_in_the_same_places() {
    let mock = start_mock_for_faults().await;
    let faults = |seed| FaultConfig {
        seed,
        p_drop_stream: 0.25,
        p_malformed_event: 0.25,
        p_error_event: 0.25,
        ..FaultConfig::default()
    };
    let n = 16;
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let pipeline = start_pipeline(config(&mock, Protocol::Eco2V1, faults(seed))).await;
        runs.push(fault_sequence(&pipeline, n).await);
        pipeline.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
    let kinds: std::collections::BTreeSet<&str> = runs[0].iter().map(|s| fault_of(s)).collect();
    assert_eq!(
        kinds,
        ["drop", "error", "malformed", "none"].into(),
        "{:?}",
        runs[0]
    );
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probability_of_one_faults_every_stream() {
    let mock = start_mock_for_faults().await;
    let n = 4;
    for kind in ["drop", "malformed", "error", "stall"] {
        let mut faults = FaultConfig {
            stall_for: Duration::from_secs(2),
            ..FaultConfig::default()
        };
        match kind {
            "drop" => faults.p_drop_stream = 1.0,
            "malformed" => faults.p_malformed_event = 1.0,
            "error" => faults.p_error_event = 1.0,
            _ => faults.p_stall = 1.0,
        }
        let pipeline = start_pipeline(config(&mock, Protocol::Eco2V1, faults)).await;
        for run in scan_bodies(&pipeline, n).await {
            let shown = fault_of(&run);
            // A stall shows as a stream cut after the first stage event.
            if kind == "stall" {
                assert_eq!(run, ["status:started", "vision:started"]);
            } else {
                assert_eq!(shown, kind, "{run:?}");
            }
        }
        let clean = body(post(&client(), &pipeline, "u-none", Some("none")).await).await;
        assert_eq!(fault_of(&summary(&clean)), "none", "{clean}");
        let text = wait_for_metrics(&client(), &pipeline.metrics_url(), kind, |t| {
            requests_total(t, "success") == 1.0
        })
        .await;
        assert_eq!(faults_total(&text, kind), n as f64, "{kind}");
        let status = if kind == "stall" { "timeout" } else { "failed" };
        assert_eq!(requests_total(&text, status), n as f64, "{kind}");
        pipeline.shutdown().await;
    }
    mock.shutdown().await;
}

/// `n` scans at once, each one's frames in short form.
async fn scan_bodies(pipeline: &PipelineHandle, n: usize) -> Vec<Vec<String>> {
    let client = client();
    let runs = (0..n).map(|i| {
        let client = client.clone();
        async move {
            let response = post(&client, pipeline, &format!("user-{i}"), None).await;
            summary(&body(response).await)
        }
    });
    futures_util::future::join_all(runs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_fault_header_is_refused_and_the_server_keeps_serving() {
    let mock = start_mock_for_faults().await;
    let pipeline = start_pipeline(config(&mock, Protocol::Eco2V1, FaultConfig::default())).await;
    let client = client();
    let response = client
        .post(format!("{}{COMPLETION}", pipeline.base_url()))
        .header("x-user-id", "u-1")
        .header("x-pipeline-fault", "teapot")
        .json(&serde_json::json!({"image_url": "https://images.example.com/item.jpg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "INVALID_HEADER");
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("x-pipeline-fault"), "{detail}");
    assert!(detail.contains("'teapot'"), "{detail}");
    assert!(
        detail.contains("none, drop, malformed, error, stall"),
        "{detail}"
    );

    let clean = body(post(&client, &pipeline, "u-2", None).await).await;
    assert_eq!(fault_of(&summary(&clean)), "none", "{clean}");
    let text = metrics_text(&pipeline).await;
    assert_eq!(requests_total(&text, "success"), 1.0);
    stop(pipeline, mock).await;
}
