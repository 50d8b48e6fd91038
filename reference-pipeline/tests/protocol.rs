//! The wire protocol against a real mock: event sequence, result shape, framing, errors.

mod support;

use std::time::Duration;

use reference_pipeline::{PipelineHandle, Protocol};
use serde_json::Value;
use support::*;

fn step_sequence(events: &[Value]) -> Vec<(String, String, u64)> {
    events
        .iter()
        .filter(|e| e.get("step").is_some())
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
                e["progress"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The keys of an object, sorted (serde_json's map sorts them).
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// The whole body of a scan stream asked for without an image: its one error event.
async fn image_url_error(pipeline: &PipelineHandle) -> String {
    let no_image = serde_json::json!({"user_input": "no image"});
    let response = post_json(&client(), &pipeline.base_url(), COMPLETION, "u", &no_image).await;
    read_frames(response).await.0
}

/// Whether `needles` occur in `text` in this order.
fn in_order(text: &str, needles: &[&str]) -> bool {
    let mut from = 0;
    needles.iter().all(|n| match text[from..].find(n) {
        Some(at) => {
            from += at + n.len();
            true
        }
        None => false,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_chain_streams_the_eco2_sequence_and_result() {
    let mock = start_mock(mock_config(
        Duration::from_millis(60),
        "recyclable",
        "pet_bottle",
    ))
    .await;
    let mut config = pipeline_config(&[&mock]);
    config.keepalive = Duration::from_millis(20);
    let pipeline = start_pipeline(config).await;

    let response = post_scan(&client(), &pipeline.base_url(), "user-1").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let (body, frames) = read_frames(response).await;

    // Bare data lines in Eco²'s JSON spacing, keep-alive comments in the silences.
    assert!(
        body.starts_with("data: {\"status\": \"started\", \"task_id\": \""),
        "{body}"
    );
    assert!(body.contains(
        "\n\ndata: {\"step\": \"vision\", \"status\": \"started\", \"progress\": 0}\n\n"
    ));
    assert!(body.contains(": keepalive\n\n"), "no keep-alive in {body}");
    assert!(frames.iter().all(|f| match f {
        Frame::Event { name, .. } => name.is_none(),
        Frame::Comment(c) => c == "keepalive",
    }));

    let events = events(&frames);
    assert_eq!(events[0]["status"], "started");
    let task_id = events[0]["task_id"].as_str().unwrap();
    assert_eq!(task_id.len(), 36, "a UUID: {task_id}");
    let expected: Vec<(String, String, u64)> = [
        ("vision", "started", 0),
        ("vision", "completed", 25),
        ("rule", "started", 25),
        ("rule", "completed", 50),
        ("answer", "started", 50),
        ("answer", "completed", 75),
        ("reward", "started", 75),
        ("reward", "completed", 100),
    ]
    .iter()
    .map(|(s, st, p)| (s.to_string(), st.to_string(), *p))
    .collect();
    assert_eq!(step_sequence(&events), expected);
    assert_eq!(k6_outcome(&events), "completed");

    let result = &events.last().unwrap()["result"];
    assert_eq!(
        keys(result),
        [
            "error",
            "message",
            "pipeline_result",
            "reward",
            "status",
            "task_id"
        ]
    );
    // On the wire the keys keep Eco²'s order.
    let last_line = body.lines().rfind(|l| l.starts_with("data: ")).unwrap();
    assert!(
        in_order(
            last_line,
            &[
                "\"result\": {\"task_id\": ",
                "\"status\": \"completed\", \"message\": ",
                "\"pipeline_result\": {\"classification_result\": {\"classification\": ",
                "\"disposal_rules\": ",
                "\"final_answer\": {\"disposal_steps\": {\"step1\": ",
                "\"reward\": {\"name\": ",
                "\"error\": null}}",
            ]
        ),
        "{last_line}"
    );
    assert_eq!(result["task_id"], task_id);
    assert_eq!(result["status"], "completed");
    assert!(result["error"].is_null());
    let pipeline_result = &result["pipeline_result"];
    assert_eq!(
        keys(pipeline_result),
        ["classification_result", "disposal_rules", "final_answer"]
    );
    let classification = &pipeline_result["classification_result"];
    assert_eq!(
        classification["classification"]["major_category"],
        "recyclable"
    );
    assert_eq!(
        classification["classification"]["middle_category"],
        "pet_bottle"
    );
    assert!(classification["situation_tags"].is_array());
    assert!(classification["meta"]["user_input"].is_string());
    assert_eq!(
        pipeline_result["disposal_rules"]["category"]["middle_category"],
        "pet_bottle"
    );
    let answer = &pipeline_result["final_answer"];
    assert!(answer["disposal_steps"]["step1"].is_string());
    assert_eq!(answer["insufficiencies"], serde_json::json!([]));
    assert!(answer["user_answer"].is_string());
    assert_eq!(
        keys(&result["reward"]),
        ["dialog", "match_reason", "name", "type"]
    );

    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "success")],
        1.0,
    );
    assert_metric(&metrics, "scan_sse_ttfb_seconds_count", &[], 1.0);
    assert_metric(&metrics, "scan_sse_chain_duration_seconds_count", &[], 1.0);
    for stage in ["vision", "rule", "answer", "reward"] {
        assert_eq!(
            metric(
                &metrics,
                "scan_sse_stage_duration_seconds_count",
                &[("stage", stage)]
            ),
            1.0,
            "{stage}"
        );
    }
    // Eco²'s buckets: 15 from 1 s to 180 s for chains.
    let chain_buckets: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("scan_sse_chain_duration_seconds_bucket{le=\""))
        .filter_map(|l| l.split_once('"').map(|(le, _)| le))
        .collect();
    assert_eq!(chain_buckets.len(), 16, "{chain_buckets:?}");
    assert_eq!(chain_buckets[0], "1.0");
    assert_eq!(chain_buckets[1], "1.45");
    assert_eq!(chain_buckets[14], "180.0");
    assert_eq!(chain_buckets[15], "+Inf");
    assert_metric(&metrics, "scan_sse_connections_active", &[], 0.0);
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_events_protocol_frames_stages_ready_and_errors() {
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    config.protocol = Protocol::NamedEvents;
    let pipeline = start_pipeline(config).await;

    let response = post_scan(&client(), &pipeline.base_url(), "user-1").await;
    let (_, frames) = read_frames(response).await;
    let named: Vec<(String, Value)> = frames
        .into_iter()
        .filter_map(|f| match f {
            Frame::Event { name, id, data } => {
                assert_eq!(id, None, "named-events has no ids");
                Some((name.expect("every event is named"), data))
            }
            Frame::Comment(_) => None,
        })
        .collect();
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [["stage"; 9].as_slice(), &["ready"]].concat());
    assert_eq!(named[0].1["step"], "queued");
    assert!(named[0].1["task_id"].is_string());
    let data: Vec<Value> = named.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(k6_outcome(&data), "completed");
    let ready = &named[9].1;
    assert_eq!(ready["step"], "done");
    assert_eq!(ready["result"]["status"], "completed");
    assert_eq!(
        ready["result"]["reward"]["match_reason"],
        "middle_category=can"
    );

    // Errors are `event: error`.
    assert_eq!(
        image_url_error(&pipeline).await,
        "event: error\ndata: {\"status\": \"error\", \"error\": \"IMAGE_URL_REQUIRED\"}\n\n"
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_events_protocol_names_events_by_stage_with_ids() {
    let mock = start_mock(mock_config(Duration::from_millis(60), "recyclable", "can")).await;
    let mut config = pipeline_config(&[&mock]);
    config.protocol = Protocol::StageEvents;
    config.keepalive = Duration::from_millis(20);
    let pipeline = start_pipeline(config).await;

    let response = post_scan(&client(), &pipeline.base_url(), "user-1").await;
    let (body, frames) = read_frames(response).await;
    let mut keepalives = 0;
    let mut named = Vec::new();
    for frame in frames {
        match frame {
            Frame::Event { name, id, data } => match name.as_deref() {
                Some("keepalive") => {
                    assert_eq!((id, &data), (None, &serde_json::json!({})));
                    keepalives += 1;
                }
                Some(name) => named.push((name.to_owned(), id.expect("an id"), data)),
                None => panic!("an unnamed event: {data}"),
            },
            Frame::Comment(c) => panic!("a comment, not a keep-alive event: {c}"),
        }
    }
    assert!(keepalives > 0, "a keep-alive in 60 ms silences:\n{body}");
    let names: Vec<&str> = named.iter().map(|(n, ..)| n.as_str()).collect();
    let stages = ["vision", "rule", "answer", "reward"];
    let pairs = stages.iter().flat_map(|s| [*s, *s]);
    let expected: Vec<&str> = std::iter::once("queued")
        .chain(pairs)
        .chain(["done"])
        .collect();
    assert_eq!(names, expected);
    let ids: Vec<&str> = named.iter().map(|(_, id, _)| id.as_str()).collect();
    let counted: Vec<String> = (1..=named.len()).map(|i| i.to_string()).collect();
    assert_eq!(ids, counted, "ids count the events from 1");
    // The data is eco2-v1's: a stage's event says its status.
    for (i, (name, _, data)) in named[1..9].iter().enumerate() {
        let status = if i % 2 == 0 { "started" } else { "completed" };
        assert_eq!(
            (data["step"].as_str(), data["status"].as_str()),
            (Some(name.as_str()), Some(status))
        );
    }
    assert!(named[0].2["task_id"].is_string());
    let done = &named[9].2;
    assert_eq!(done["step"], "done");
    assert_eq!(
        done["result"]["reward"]["match_reason"],
        "middle_category=can"
    );

    // Errors are `event: error`, numbered too.
    assert_eq!(
        image_url_error(&pipeline).await,
        "event: error\nid: 1\ndata: {\"status\": \"error\", \"error\": \"IMAGE_URL_REQUIRED\"}\n\n"
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_classify_answers_the_result() {
    let mock = start_mock(mock_config(Duration::ZERO, "food", "food_waste")).await;
    let pipeline = start_pipeline(pipeline_config(&[&mock])).await;
    let image = serde_json::json!({"image_url": "https://x.example/a.png"});
    let response = post_json(
        &client(),
        &pipeline.base_url(),
        "/api/v1/scan/classify",
        "u",
        &image,
    )
    .await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["status"], "completed");
    assert_eq!(
        result["pipeline_result"]["disposal_rules"]["category"]["major_category"],
        "food"
    );
    assert!(result["reward"].is_null(), "no reward for food waste");
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_pipeline_classify_requests_total",
        &[("status", "success")],
        1.0,
    );
    assert_metric(&metrics, "scan_sse_requests_total", &[], 0.0);
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_4xx_and_the_server_keeps_serving() {
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "paper")).await;
    let pipeline = start_pipeline(pipeline_config(&[&mock])).await;
    let client = client();
    let url = format!("{}{COMPLETION}", pipeline.base_url());

    let no_user = client
        .post(&url)
        .json(&serde_json::json!({"image_url": "https://a.example/b.jpg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_user.status(), 401);
    let body: Value = no_user.json().await.unwrap();
    assert_eq!(body["error"], "UNAUTHORIZED");

    for bad in [
        "{not json",
        "[1, 2]",
        "",
        "{\"image_url\": \"https://a/b\", \"user_input\": 3}",
    ] {
        let response = client
            .post(&url)
            .header("x-user-id", "u")
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        let body: Value = response.json().await.expect("a JSON error body");
        assert_eq!(body["error"], "INVALID_JSON", "{bad:?}");
    }

    for body in [
        serde_json::json!({}),
        serde_json::json!({"image_url": ""}),
        serde_json::json!({"image_url": "ftp://files.example/a.jpg"}),
        serde_json::json!({"image_url": 42}),
    ] {
        let response = post_json(&client, &pipeline.base_url(), COMPLETION, "u", &body).await;
        assert_eq!(response.status(), 200);
        let (text, _) = read_frames(response).await;
        assert_eq!(
            text, "data: {\"status\": \"error\", \"error\": \"IMAGE_URL_REQUIRED\"}\n\n",
            "{body}"
        );
    }

    let missing = client
        .get(format!("{}/nope", pipeline.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"], "NOT_FOUND");
    let wrong_method = client.get(&url).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);

    for probe in ["/healthz", "/readyz"] {
        let url = format!("{}{probe}", pipeline.base_url());
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{probe}");
    }
    // Still serving full chains.
    let response = post_scan(&client, &pipeline.base_url(), "u").await;
    let (_, frames) = read_frames(response).await;
    assert_eq!(k6_outcome(&events(&frames)), "completed");
    let metrics = scrape(&client, &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "failed")],
        4.0,
    );
    assert_metric(
        &metrics,
        "scan_sse_requests_total",
        &[("status", "success")],
        1.0,
    );
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_cache_hits_on_repeated_categories_and_reward_is_null_without_a_character() {
    // paper_pack has a rule document but no character.
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "paper_pack")).await;
    let pipeline = start_pipeline(pipeline_config(&[&mock])).await;
    // One after another: scans at once may each miss before the first fills the cache.
    for _ in 0..3 {
        let run = scan_many(&pipeline.base_url(), 1).await.remove(0);
        let result = &run.last().unwrap()["result"];
        assert!(result["pipeline_result"]["disposal_rules"].is_object());
        assert!(result["reward"].is_null());
    }
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_pipeline_rule_cache_total",
        &[("outcome", "miss")],
        1.0,
    );
    assert_metric(
        &metrics,
        "scan_pipeline_rule_cache_total",
        &[("outcome", "hit")],
        2.0,
    );
    assert_metric(
        &metrics,
        "scan_pipeline_rewards_total",
        &[("outcome", "null")],
        3.0,
    );
    assert_metric(
        &metrics,
        "scan_pipeline_rewards_total",
        &[("outcome", "matched")],
        0.0,
    );
    pipeline.shutdown().await;

    // A rule miss: no rule, a canned answer without a model call, reward null.
    let mock_miss = start_mock(mock_config(Duration::ZERO, "recyclable", "composite")).await;
    let mut config = pipeline_config(&[&mock_miss]);
    config.rule_cache = false;
    let pipeline = start_pipeline(config).await;
    let run = scan_many(&pipeline.base_url(), 1).await.remove(0);
    let result = &run.last().unwrap()["result"];
    assert!(result["pipeline_result"]["disposal_rules"].is_null());
    assert!(result["reward"].is_null());
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    assert_metric(
        &metrics,
        "scan_pipeline_openai_calls_total",
        &[("call", "answer")],
        0.0,
    );
    assert_metric(&metrics, "scan_pipeline_rule_cache_total", &[], 0.0);
    stop(pipeline, mock).await;
    mock_miss.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_write_is_idempotent() {
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "glass_bottle")).await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("ownership.sqlite3");
    let mut config = pipeline_config(&[&mock]);
    config.database = Some(database.clone());
    let pipeline = start_pipeline(config).await;
    let client = client();
    for _ in 0..3 {
        let (_, frames) =
            read_frames(post_scan(&client, &pipeline.base_url(), "same-user").await).await;
        let last = events(&frames).pop().unwrap();
        assert_eq!(
            last["result"]["reward"]["match_reason"],
            "middle_category=glass_bottle"
        );
    }
    let (_, frames) =
        read_frames(post_scan(&client, &pipeline.base_url(), "other-user").await).await;
    assert_eq!(k6_outcome(&events(&frames)), "completed");
    // The writes are fire-and-forget: wait for all four to land.
    let metrics = wait_for_metrics(
        &client,
        &pipeline.metrics_url(),
        "4 ownership writes",
        |m| metric(m, "scan_pipeline_ownership_writes_total", &[]) == 4.0,
    )
    .await;
    assert_metric(
        &metrics,
        "scan_pipeline_ownership_writes_total",
        &[("outcome", "inserted")],
        2.0,
    );
    assert_metric(
        &metrics,
        "scan_pipeline_ownership_writes_total",
        &[("outcome", "existing")],
        2.0,
    );
    pipeline.shutdown().await;
    let connection = rusqlite::Connection::open(&database).unwrap();
    let rows: Vec<(String, String)> = connection
        .prepare("SELECT user_id, character_id FROM user_characters ORDER BY user_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "other-user");
    assert_eq!(rows[1].0, "same-user");
    assert_eq!(rows[0].1, rows[1].1);
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_only_exported_metrics() {
    let dashboard: Value =
        serde_json::from_str(include_str!("../grafana/scan-sse-pipeline.json")).unwrap();
    let mut mock_config = mock_config(Duration::ZERO, "recyclable", "paper");
    mock_config.time_scale = 0.01;
    let mock = start_mock(mock_config).await;
    let mut config = pipeline_config(&[&mock]);
    config.mode = reference_pipeline::Mode::Staged(Default::default());
    config.time_scale = 0.01;
    // Every call meets a 429 on the first provider, so every series family has a sample.
    config.openai.providers.insert(
        0,
        reference_pipeline::Provider {
            headers: [("x-mock-fault".to_string(), "429".to_string())].into(),
            ..reference_pipeline::Provider::new(mock.base_url())
        },
    );
    config.openai.routing = reference_pipeline::Routing::Failover;
    let pipeline = start_pipeline(config).await;
    let run = scan_many(&pipeline.base_url(), 1).await.remove(0);
    assert_eq!(k6_outcome(&run), "completed");
    let metrics = scrape(&client(), &pipeline.metrics_url()).await;
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("scan_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                queried.push(name);
            }
        }
    }
    assert!(queried.len() > 20, "{queried:?}");
    for name in queried {
        let family = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        assert!(
            metrics.contains(&format!("# TYPE {family} ")),
            "the dashboard queries {name}, which is not exported"
        );
    }
    stop(pipeline, mock).await;
}
