//! Helpers of the integration tests: a real mock-openai and a real pipeline on loopback, an SSE
//! reader, and a Prometheus text reader.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use mock_openai::{Category, Delay, MockConfig, MockHandle, MockServer, ModelConfig, TokenCount};
use reference_pipeline::{Pipeline, PipelineConfig, PipelineHandle, Provider};
use serde_json::Value;

/// Upper bound of any single wait in these tests.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub const COMPLETION: &str = "/api/v1/scan/classify/completion";

/// A mock whose two models answer after exactly `latency`, without faults or limits, always
/// classifying the item as `major/middle` with no insufficiencies.
pub fn mock_config(latency: Duration, major: &str, middle: &str) -> MockConfig {
    let model = ModelConfig {
        ttft: Delay::fixed(latency),
        inter_token: Delay::fixed(Duration::ZERO),
        output_tokens: TokenCount::fixed(10),
    };
    let mut config = MockConfig {
        models: BTreeMap::from([
            ("gpt-4o".to_string(), model.clone()),
            ("gpt-4o-mini".to_string(), model),
        ]),
        ..MockConfig::default()
    };
    config.content.insufficiency_probability = 0.0;
    config.content.categories = vec![Category {
        major: major.into(),
        middle: middle.into(),
        minor: "item".into(),
        weight: 1.0,
    }];
    config
}

pub async fn start_mock(config: MockConfig) -> MockHandle {
    MockServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("mock starts")
}

/// A pipeline config pointed at `mocks`, with test-sized limits.
pub fn pipeline_config(mocks: &[&MockHandle]) -> PipelineConfig {
    let mut config = PipelineConfig {
        shutdown_grace: Duration::from_secs(5),
        ..PipelineConfig::default()
    };
    config.openai.providers = mocks.iter().map(|m| Provider::new(m.base_url())).collect();
    config.openai.request_timeout = Duration::from_secs(10);
    config.openai.backoff_base = Duration::from_millis(10);
    config.openai.backoff_max = Duration::from_millis(100);
    config
}

pub async fn start_pipeline(config: PipelineConfig) -> PipelineHandle {
    Pipeline::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("pipeline starts")
}

/// Shuts down the pipeline first, so it sends no call to a mock that is already gone.
pub async fn stop(pipeline: PipelineHandle, mock: MockHandle) {
    pipeline.shutdown().await;
    mock.shutdown().await;
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

/// POSTs a scan request for `user`.
pub async fn post_scan(client: &reqwest::Client, base: &str, user: &str) -> reqwest::Response {
    client
        .post(format!("{base}{COMPLETION}"))
        .header("x-user-id", user)
        .header("accept", "text/event-stream")
        .json(&serde_json::json!({
            "image_url": "https://images.example.com/item.jpg",
            "user_input": "How do I throw this away?",
        }))
        .send()
        .await
        .expect("request sent")
}

/// POSTs `body` as JSON to `path` for `user` (the `x-user-id` header).
pub async fn post_json(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    user: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .header("x-user-id", user)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// One SSE frame: its event name (if any) and data parsed as JSON; comments are kept apart.
#[derive(Debug, Clone)]
pub enum Frame {
    Event {
        name: Option<String>,
        id: Option<String>,
        data: Value,
    },
    Comment(String),
}

/// Reads a whole SSE body and splits it into frames (all frames end in a blank line).
pub async fn read_frames(response: reqwest::Response) -> (String, Vec<Frame>) {
    let body = tokio::time::timeout(PATIENCE, response.text())
        .await
        .expect("stream ends in time")
        .expect("body read");
    let frames = parse_frames(&body);
    (body, frames)
}

pub fn parse_frames(body: &str) -> Vec<Frame> {
    assert!(
        body.is_empty() || body.ends_with("\n\n"),
        "unterminated frame: {body:?}"
    );
    body.split_terminator("\n\n")
        .map(|frame| {
            if let Some(comment) = frame.strip_prefix(": ") {
                return Frame::Comment(comment.to_string());
            }
            let mut name = None;
            let mut id = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(i) = line.strip_prefix("id: ") {
                    id = Some(i.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).expect("data is JSON"));
                } else {
                    panic!("unexpected line {line:?} in frame {frame:?}");
                }
            }
            Frame::Event {
                name,
                id,
                data: data.expect("frame has data"),
            }
        })
        .collect()
}

/// The data of the event frames.
pub fn events(frames: &[Frame]) -> Vec<Value> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Event { data, .. } => Some(data.clone()),
            Frame::Comment(_) => None,
        })
        .collect()
}

/// Eco²'s k6 parse: `completed` when all four steps reached `completed` (de-duplicated by
/// step), else `partial`.
pub fn k6_outcome(events: &[Value]) -> &'static str {
    let mut done = std::collections::BTreeSet::new();
    for e in events {
        if e["status"] == "completed"
            && let Some(step) = e["step"].as_str()
        {
            done.insert(step.to_string());
        }
    }
    let all = ["vision", "rule", "answer", "reward"];
    if all.iter().all(|s| done.contains(*s)) {
        "completed"
    } else {
        "partial"
    }
}

/// Reads the stream until the first event matching `pred`, returning the response for more.
pub async fn read_until(
    response: &mut reqwest::Response,
    buffer: &mut String,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                for f in parse_frames(&frame) {
                    if let Frame::Event { data, .. } = f
                        && pred(&data)
                    {
                        return data;
                    }
                }
            }
            let chunk = response
                .chunk()
                .await
                .expect("chunk")
                .expect("stream still open");
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("event arrives in time")
}

/// Sum of the samples of `name` whose labels include every `key="value"` of `labels`.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let matches = labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse::<f64>().expect("sample value"))
        })
        .sum()
}

/// Asserts that the series `name` with `labels` in the Prometheus text `text` has the value
/// `expected`.
#[track_caller]
pub fn assert_metric(text: &str, name: &str, labels: &[(&str, &str)], expected: f64) {
    assert_eq!(metric(text, name, labels), expected);
}

pub async fn scrape(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Polls `url` until `check` holds on the metrics text, or panics after [`PATIENCE`].
pub async fn wait_for_metrics(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = scrape(client, url).await;
        if check(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; metrics:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `n` scans at once and returns each one's events.
pub async fn scan_many(base: &str, n: usize) -> Vec<Vec<Value>> {
    let client = client();
    let runs = (0..n).map(|i| {
        let client = client.clone();
        let base = base.to_string();
        async move {
            let response = post_scan(&client, &base, &format!("user-{i}")).await;
            assert_eq!(response.status(), 200);
            events(&read_frames(response).await.1)
        }
    });
    futures_util::future::join_all(runs).await
}

/// Samples a gauge per pool while `work` runs and returns the largest value seen per pool.
pub async fn max_gauges_during<F: std::future::Future>(
    metrics_url: &str,
    pools: &[&'static str],
    work: F,
) -> (F::Output, BTreeMap<&'static str, f64>) {
    let client = client();
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let stop = stop.clone();
        let url = metrics_url.to_string();
        let pools = pools.to_vec();
        tokio::spawn(async move {
            let mut max = BTreeMap::new();
            while !stop.is_cancelled() {
                let text = scrape(&client, &url).await;
                for pool in &pools {
                    let busy = metric(&text, "scan_pipeline_pool_busy_workers", &[("pool", pool)]);
                    let entry = max.entry(*pool).or_insert(0.0f64);
                    *entry = entry.max(busy);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            max
        })
    };
    let output = work.await;
    stop.cancel();
    (output, sampler.await.unwrap())
}

/// Bytes of a response body as a stream of text chunks (for tests reading incrementally).
pub async fn first_chunk(response: &mut reqwest::Response) -> String {
    let chunk = tokio::time::timeout(PATIENCE, response.chunk())
        .await
        .expect("first chunk in time")
        .expect("chunk")
        .expect("some bytes");
    String::from_utf8(chunk.to_vec()).unwrap()
}

pub async fn drain(response: reqwest::Response) {
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        if chunk.is_err() {
            break;
        }
    }
}
