//! Timeouts, graceful shutdown and the binary.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_past_its_timeout_ends_with_the_timeout_event() {
    let mock = start_mock(mock_config(Duration::from_secs(2), "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    // 2 s scaled down to 200 ms.
    config.chain_timeout = Duration::from_secs(2);
    config.keepalive = Duration::from_millis(500);
    config.time_scale = 0.1;
    config.openai.request_timeout = Duration::from_secs(100);
    let pipeline = start_pipeline(config).await;
    let (body, frames) = read_frames(post_scan(&client(), &pipeline.base_url(), "u").await).await;
    let events = events(&frames);
    let task_id = events[0]["task_id"].as_str().unwrap();
    assert!(
        body.ends_with(&format!(
            "data: {{\"status\": \"timeout\", \"task_id\": \"{task_id}\"}}\n\n"
        )),
        "{body}"
    );
    // Keep-alive every 50 ms of silence.
    assert!(body.contains(": keepalive\n\n"), "{body}");
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "timeout")],
        1.0,
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_chains_finish() {
    let mock = start_mock(mock_config(Duration::from_millis(200), "recyclable", "can")).await;
    let pipeline = start_pipeline(pipeline_config(&[&mock])).await;
    let client = client();
    let base = pipeline.base_url();
    let mut stream = post_scan(&client, &base, "u").await;
    first_chunk(&mut stream).await;
    let shutdown = tokio::spawn(pipeline.shutdown());
    let (_, frames) = read_frames(stream).await;
    assert_eq!(k6_outcome(&events(&frames)), "completed");
    tokio::time::timeout(PATIENCE, shutdown)
        .await
        .unwrap()
        .unwrap();
    // Nothing listens any more.
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_chains_still_running_after_the_grace() {
    let mock = start_mock(mock_config(Duration::from_secs(10), "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    config.shutdown_grace = Duration::from_millis(100);
    config.openai.request_timeout = Duration::from_secs(30);
    let pipeline = start_pipeline(config).await;
    let client = client();
    let mut stream = post_scan(&client, &pipeline.base_url(), "u").await;
    let mut buffer = String::new();
    read_until(&mut stream, &mut buffer, |e| e["step"] == "vision").await;
    tokio::time::timeout(PATIENCE, pipeline.shutdown())
        .await
        .expect("shutdown within its grace and a little more");
    let rest = tokio::time::timeout(PATIENCE, stream.text())
        .await
        .unwrap()
        .unwrap();
    assert!(
        (buffer + &rest)
            .ends_with("data: {\"status\": \"error\", \"error\": \"SERVER_SHUTTING_DOWN\"}\n\n"),
        "{rest}"
    );
    mock.shutdown().await;
}

#[test]
fn the_binary_refuses_a_bad_config_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(
        &path,
        "max_inflight = 10\nmode = { kind = \"threadpool\", workers = \"six\" }\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_reference-pipeline"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:2:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("`mode.workers`"), "{stderr}");
}

#[test]
fn the_binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-pipeline"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--openai-url",
            "http://127.0.0.1:9/v1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit_once(' ')
        .map(|(_, url)| url.to_string())
        .unwrap_or_default();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        client()
            .get(format!("{url}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status.unwrap(), 200);
}
