//! Both shipped Grafana dashboards return data from a real run: the embedded stack and the
//! load generator's live metrics, scraped by a real Prometheus, every query of
//! `reference-pipeline/grafana/scan-sse-pipeline.json` and `deploy/grafana/scan-bench.json`
//! evaluated at the end of a short healthy run with its ranges scaled into the run.
//!
//! Without the `prometheus` binary the test says it is skipped, unless
//! `SCAN_BENCH_REQUIRE_PROMETHEUS=1` (CI) makes that a failure.

mod support;

use support::FIXED_MOCK;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use loadgen::engine::RunOptions;
use loadgen::live::LiveMetrics;
use loadgen::prometheus::{
    Prometheus, PrometheusError, ScrapeTarget, dashboard_queries, scale_ranges,
};
use loadgen::stack::EmbeddedStack;
use scenarios::{Overrides, ScenarioSource, Shard};
use tokio_util::sync::CancellationToken;

/// A healthy run that reaches every panel: the open model (so scheduling lag is measured),
/// the staged pipeline (so its pools report), a rule every scan hits (so the rule cache hits
/// after the first lookups), and an autoscaled API tier (replicas start while the load runs).
/// Latencies are small and fixed so that a few seconds hold dozens of chains.
const SCENARIO: &str = r#"
name = "prometheus-dashboards"

[load]
think_time = "0ms"
request_timeout = "30s"
graceful_ramp_down = "10s"

[load.arrival]
start_rate = 8.0
stages = [{ duration = "8s", target = 8.0 }]
pre_allocated_vus = 8
max_vus = 16


[pipeline]
rule_cache = true

[pipeline.mode]
kind = "staged"
vision = { hop_latency = "20ms" }
rule = { hop_latency = "20ms" }
answer = { hop_latency = "20ms" }
reward = { hop_latency = "20ms" }
character_match = { hop_latency = "20ms" }
subscription = { pool = 100, setup = "20ms" }

[pipeline.cluster]
min_replicas = 1
max_replicas = 3
target_streams = 1
sync_period = "500ms"
reaction_delay = "0s"
startup = "500ms"
"#;

const SCRAPE_INTERVAL: Duration = Duration::from_millis(500);

/// The longest range of the dashboards' queries (`[5m]`): scaled to the span of the run.
const LONGEST_RANGE: Duration = Duration::from_secs(300);

const DASHBOARDS: [(&str, &str); 2] = [
    (
        "reference-pipeline/grafana/scan-sse-pipeline.json",
        include_str!("../../reference-pipeline/grafana/scan-sse-pipeline.json"),
    ),
    (
        "deploy/grafana/scan-bench.json",
        include_str!("../../deploy/grafana/scan-bench.json"),
    ),
];

/// False (after one line saying so) when there is no Prometheus to run and none is required.
fn have_prometheus() -> bool {
    match Prometheus::binary() {
        Ok(_) => true,
        Err(e) if std::env::var("SCAN_BENCH_REQUIRE_PROMETHEUS").as_deref() == Ok("1") => {
            panic!("SCAN_BENCH_REQUIRE_PROMETHEUS=1: {e}")
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_from_a_healthy_run() {
    if !have_prometheus() {
        return;
    }

    let source = ScenarioSource::parse(
        format!("{SCENARIO}{FIXED_MOCK}"),
        "prometheus-dashboards.toml",
    )
    .unwrap();
    let embedded = source.clone().resolve(&Overrides::default()).unwrap();
    let stack = EmbeddedStack::start(&embedded).await.unwrap();
    // The stack as an external target, so the test holds its metrics URL for Prometheus.
    let scenario = source
        .resolve(&Overrides {
            target: Some(stack.target()),
            ..Overrides::default()
        })
        .unwrap();

    let stop = CancellationToken::new();
    let live = Arc::new(LiveMetrics::new(&scenario.stream.stages));
    let live_addr = live
        .clone()
        .serve(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            stop.child_token(),
        )
        .await
        .unwrap();
    let targets = [
        ScrapeTarget::new("scan-sse-pipeline", stack.metrics_url().unwrap()),
        ScrapeTarget::new("scan-bench", format!("http://{live_addr}/metrics")),
    ];
    let prometheus = Prometheus::start(&targets, SCRAPE_INTERVAL).await.unwrap();
    // A sample of every target before the load, so that rates span the whole run.
    prometheus
        .wait_for_scrape(SystemTime::now(), Duration::from_secs(30))
        .await
        .unwrap();
    let began = SystemTime::now();

    let options = RunOptions {
        shard: Shard::WHOLE,
        stop: CancellationToken::new(),
        cut: CancellationToken::new(),
        live: Some(live),
        on_live: Box::new(|_, _, _, _| {}),
    };
    let report = loadgen::scenario_run::run_scenario(&scenario, options)
        .await
        .unwrap();
    let ended = SystemTime::now();
    let totals = &report.totals;
    assert!(
        totals.completed >= 20 && totals.failed.is_empty() && totals.partial == 0,
        "not a healthy run: {totals:?}"
    );
    prometheus
        .wait_for_scrape(ended, Duration::from_secs(30))
        .await
        .unwrap();

    let span = ended.duration_since(began).unwrap();
    let scale = span.as_secs_f64() / LONGEST_RANGE.as_secs_f64();
    let mut failures = Vec::new();
    let mut evaluated = 0;
    for (path, json) in DASHBOARDS {
        for query in dashboard_queries(json).unwrap() {
            let at = format!("{path}: panel \"{}\": `{}`", query.panel, query.expr);
            let scaled = match scale_ranges(&query.expr, scale) {
                Ok(scaled) => scaled,
                Err(e) => {
                    failures.push(format!("{at}: {e}"));
                    continue;
                }
            };
            evaluated += 1;
            match prometheus.query(&scaled, ended).await {
                Ok(samples) if samples.is_empty() => {
                    failures.push(format!("{at}: no data (evaluated as `{scaled}`)"));
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("{at}: {e}")),
            }
        }
    }
    prometheus.stop().await;
    stop.cancel();
    stack.shutdown().await;
    assert!(evaluated >= 40, "{evaluated} queries");
    assert!(
        failures.is_empty(),
        "{} of {evaluated} dashboard queries failed on a healthy run of {span:?} (ranges \
         scaled by {scale:.4}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_and_a_refused_query_are_told() {
    if !have_prometheus() {
        return;
    }
    // A loopback port that nothing listens on any more.
    let closed = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap();
    let targets = [ScrapeTarget::new(
        "nobody",
        format!("http://{closed}/metrics"),
    )];
    let prometheus = Prometheus::start(&targets, SCRAPE_INTERVAL).await.unwrap();
    let now = SystemTime::now();

    match prometheus.query("sum(rate(up[1m]", now).await {
        Err(PrometheusError::Query {
            query, error_type, ..
        }) => {
            assert_eq!(query, "sum(rate(up[1m]");
            assert_eq!(error_type, "bad_data");
        }
        other => panic!("{other:?}"),
    }
    let scalar = prometheus.query("1 / 0", now).await.unwrap();
    assert_eq!(scalar.len(), 1);
    assert_eq!(scalar[0].value, f64::INFINITY);
    assert!(scalar[0].labels.is_empty());

    // Discovery hands targets over within 5 s; the first scrape then fails.
    let err = prometheus
        .wait_for_scrape(now, Duration::from_secs(10))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, PrometheusError::ScrapeTimeout { .. }),
        "{message}"
    );
    assert!(
        message.contains("nobody") && message.contains(&closed.to_string()),
        "{message}"
    );
    assert!(message.contains("health down"), "{message}");
    assert!(message.contains("connection refused"), "{message}");
    let up = prometheus.query("up", SystemTime::now()).await.unwrap();
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].labels["job"], "nobody");
    assert_eq!(up[0].value, 0.0);
    prometheus.stop().await;
}

/// `reproduce eco2 --prometheus`: Prometheus answers every panel's own query on every
/// test's run, with the same series as the built-in reduction and values of the same size,
/// or within what the built-in reduction read one scrape interval either side.
/// Each reads its own scrapes, taken at different phases of the same interval, so a window
/// of a few scrapes can differ by what one interval held (up to ~40 % on test #2's 71 s
/// window of ~5 scrapes); that the reduction computes what Prometheus computes is checked
/// exactly on shared samples above. Off by the time scale (a window or a unit not scaled)
/// would be 50 times off.
#[test]
fn reproduce_with_prometheus_agrees_with_the_built_in_reduction() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    assert_cmd::Command::cargo_bin("scan-bench")
        .unwrap()
        .args([
            "reproduce",
            "eco2",
            "--prometheus",
            "--time-scale",
            "0.02",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("reproduction.json")).unwrap();
    let reproduction: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dashboards = reproduction["dashboards"].as_array().unwrap();
    assert_eq!(dashboards.len(), 3, "one dashboard per published test");
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for dashboard in dashboards {
        for panel in dashboard["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            let query = panel["query"].as_str().unwrap();
            let built_in = panel["built_in"].as_object().unwrap();
            let prometheus = panel["prometheus"]
                .as_object()
                .unwrap_or_else(|| panic!("{title}: no Prometheus answer"));
            let keys = |m: &serde_json::Map<String, serde_json::Value>| {
                m.keys().cloned().collect::<Vec<_>>()
            };
            if keys(built_in) != keys(prometheus) {
                disagreements.push(format!(
                    "{} {title}: built-in {built_in:?}, Prometheus {prometheus:?}",
                    dashboard["test"]
                ));
                continue;
            }
            for (key, b) in built_in {
                let (b, p) = (b.as_f64().unwrap(), prometheus[key].as_f64().unwrap());
                compared += 1;
                // Same size: within a factor of two, or both near zero.
                let same_size =
                    |b: f64| (p.abs() <= 0.01 && b.abs() <= 0.01) || (p / b > 0.5 && p / b < 2.0);
                // Or what the built-in reduction read one scrape interval either side of the
                // instant (its chart), where Prometheus's phase may have caught a step such
                // as a pod restart cutting every stream.
                let line = if key.is_empty() { title } else { key.as_str() };
                let nearby = chart_values_near(dashboard, title, line, ECO2_SCRAPE_INTERVAL_S);
                let (low, high) = nearby
                    .iter()
                    .fold((b, b), |(low, high), v| (low.min(*v), high.max(*v)));
                if !same_size(b) && !(low..=high).contains(&p) {
                    disagreements.push(format!(
                        "{} {title}{{{key}}}: built-in {b}, Prometheus {p} ({query})",
                        dashboard["test"]
                    ));
                }
            }
        }
    }
    assert!(compared >= 3 * 15, "only {compared} values compared");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// The reproduction's scrape interval (Eco²'s 15 s), in modelled seconds.
const ECO2_SCRAPE_INTERVAL_S: f64 = 15.0;

/// The values of a dashboard chart's line within `within` modelled seconds of the instant
/// (the end of the published window); empty when the panel is not drawn.
fn chart_values_near(
    dashboard: &serde_json::Value,
    title: &str,
    line: &str,
    within: f64,
) -> Vec<f64> {
    let at = dashboard["window_s"].as_f64().unwrap();
    dashboard["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|chart| chart["title"] == title)
        .flat_map(|chart| chart["lines"].as_array().unwrap())
        .filter(|l| l["label"] == line)
        .flat_map(|l| l["points"].as_array().unwrap())
        .filter_map(|point| {
            let (x, y) = (point[0].as_f64()?, point[1].as_f64()?);
            ((x - at).abs() <= within).then_some(y)
        })
        .collect()
}

/// The built-in reduction's PromQL, on Prometheus's own samples, gives Prometheus's answers:
/// every Eco² panel of test #2's run (a pod restart, 503s, a load still ramping at the
/// instant), at the end of its published window, within floating-point rounding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_reduction_computes_what_prometheus_computes_on_the_same_samples() {
    if !have_prometheus() {
        return;
    }
    use loadgen::scenario_run::{self, ScrapeSettings};
    use loadgen::scrape::panel;
    use loadgen::scrape::series::{Scrapes, unix_s};
    use scenarios::published::{CHAIN_P99, ECO2_SERIES, ECO2_TESTS, ECO2_TOP_ROW};

    let test = &ECO2_TESTS[1];
    let scale = 0.02;
    let scenario = scenarios::open(test.scenario)
        .unwrap()
        .resolve(&Overrides {
            time_scale: Some(scale),
            ..Overrides::default()
        })
        .unwrap();
    let stack = EmbeddedStack::start(&scenario).await.unwrap();
    let url = stack.metrics_url().unwrap();
    let interval = Duration::from_secs_f64(15.0 * scale);
    let prometheus = Prometheus::start(&[ScrapeTarget::new("scan-pipeline", url)], interval)
        .await
        .unwrap();
    prometheus
        .wait_for_scrape(SystemTime::now(), Duration::from_secs(30))
        .await
        .unwrap();
    let options = RunOptions {
        shard: Shard::WHOLE,
        stop: CancellationToken::new(),
        cut: CancellationToken::new(),
        live: None,
        on_live: Box::new(|_, _, _, _| {}),
    };
    let run = scenario_run::run_on(&scenario, Some(stack), options, ScrapeSettings::default())
        .await
        .unwrap();
    let start = humantime::parse_rfc3339(&run.report.environment.started_at).unwrap();
    // In milliseconds, Prometheus's resolution, so that both read the same range.
    let at = ((unix_s(start) + test.window_s() * scale) * 1000.0).round() / 1000.0;
    let at_time = SystemTime::UNIX_EPOCH + Duration::from_millis((at * 1000.0).round() as u64);

    // Every sample of Eco²'s metrics the longest window and the lookback can reach.
    let mut samples = Scrapes::default();
    let raw = prometheus
        .samples(
            "{__name__=~\"scan_sse_.*\"}",
            Duration::from_secs(600),
            at_time,
        )
        .await
        .unwrap();
    assert!(!raw.is_empty(), "Prometheus holds samples of the run");
    for mut series in raw {
        let name = series.labels.remove("__name__").unwrap();
        let labels = series.labels.into_iter().collect();
        samples.insert_series(&name, labels, &series.samples);
    }

    let mut compared = 0;
    let mut disagreements = Vec::new();
    for panel in ECO2_TOP_ROW.iter().chain(&ECO2_SERIES).chain([&CHAIN_P99]) {
        let built_in = panel::evaluate(&panel.computes, &samples, at, scale);
        let query = scale_ranges(panel.query, scale).unwrap();
        let answer: std::collections::BTreeMap<String, f64> = prometheus
            .query(&query, at_time)
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.value.is_finite())
            .map(|s| {
                let key = panel
                    .computes
                    .by()
                    .and_then(|label| s.labels.get(label).cloned())
                    .unwrap_or_default();
                (key, s.value)
            })
            .collect();
        let same = built_in.len() == answer.len()
            && built_in.iter().all(|(key, b)| {
                answer
                    .get(key)
                    .is_some_and(|p| (p - b).abs() <= 1e-9 * b.abs().max(1.0))
            });
        compared += built_in.len();
        if !same {
            disagreements.push(format!(
                "{}: built-in {built_in:?}, Prometheus {answer:?} ({query})",
                panel.title
            ));
        }
    }
    prometheus.stop().await;
    assert!(compared >= 15, "only {compared} values compared");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
