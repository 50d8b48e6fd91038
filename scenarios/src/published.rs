//! The published figures of the Eco² scan API write-up (2025-12-25) as typed data, for
//! `scan-bench reproduce eco2` to set beside local runs.
//!
//! Source: `shared/reference/eco2-scan-2025-12.md`. Durations are in seconds, shares and
//! success rates are fractions from 0 to 1.

/// One published load test: the Grafana panels (server view) and k6's success (client view).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedTest {
    /// The write-up's test number.
    pub id: u8,
    /// The catalog scenario with the same load profile.
    pub scenario: &'static str,
    /// Peak virtual users.
    pub vus: u32,
    /// The Grafana time window (KST).
    pub window_kst: &'static str,
    /// The write-up's note on the run.
    pub note: &'static str,
    /// Chain Avg panel: `rate(sum)/rate(count)` of the chain duration.
    pub chain_avg_s: f64,
    /// TTFB p50 panel (server-side: request start to first stage event).
    pub ttfb_p50_s: f64,
    /// TTFB p95 panel (the table's unnamed second column, read as p95 by the conclusion).
    pub ttfb_p95_s: f64,
    /// Success Rate panel (server-side: streams that reached the handler).
    pub server_success: f64,
    /// RPS panel: `sum(rate(scan_sse_requests_total[1m]))`.
    pub rps: f64,
    /// Peak of the Active Connections panel, where published.
    pub peak_connections: Option<u32>,
    /// Client-side (k6) success of the summary table.
    pub client_success: f64,
    /// Chain p99 where published.
    pub chain_p99_s: Option<f64>,
    /// Share of completed runs whose reward was `null`, where published.
    pub reward_null: Option<f64>,
    /// Iterations and completed iterations in k6's printed summary, where published.
    pub k6_iterations: Option<(u32, u32)>,
}

/// The three published tests of the Celery-chain architecture.
pub const ECO2_TESTS: [PublishedTest; 3] = [
    PublishedTest {
        id: 1,
        scenario: "eco2-vu10",
        vus: 10,
        window_kst: "02:16:01-02:17:45",
        note: "low load, non-HA",
        chain_avg_s: 11.3,
        ttfb_p50_s: 1.74,
        ttfb_p95_s: 5.7,
        server_success: 1.0,
        rps: 0.10,
        peak_connections: Some(10),
        client_success: 1.0,
        chain_p99_s: None,
        reward_null: None,
        k6_iterations: None,
    },
    PublishedTest {
        id: 2,
        scenario: "eco2-vu34",
        vus: 34,
        window_kst: "02:59:01-03:00:12",
        note: "high load; Envoy answered 503 while the API pod restarted",
        chain_avg_s: 19.0,
        ttfb_p50_s: 1.07,
        ttfb_p95_s: 3.4,
        server_success: 0.907,
        rps: 1.10,
        peak_connections: Some(25),
        client_success: 0.828,
        chain_p99_s: None,
        reward_null: None,
        // The k6 summary: 150 of 1,616 iterations completed (protocol notes).
        k6_iterations: Some((1616, 150)),
    },
    PublishedTest {
        id: 3,
        scenario: "eco2-vu30",
        vus: 30,
        window_kst: "04:31:59-04:34:45",
        note: "stabilised; near the OpenAI rate limit",
        chain_avg_s: 21.1,
        ttfb_p50_s: 1.32,
        ttfb_p95_s: 16.3,
        server_success: 1.0,
        rps: 0.27,
        peak_connections: None,
        client_success: 0.951,
        chain_p99_s: Some(25.0),
        reward_null: Some(0.732),
        k6_iterations: None,
    },
];

/// One stage of the published stage table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedStage {
    /// Stage name, as in the stream.
    pub stage: &'static str,
    /// What the stage does.
    pub role: &'static str,
    /// Average at 10 virtual users.
    pub avg_low_load_s: f64,
    /// The range seen under load.
    pub under_load_s: (f64, f64),
    /// Share of the chain.
    pub share: f64,
    /// Start and end in the write-up's drawn timeline of one chain.
    pub timeline_s: (f64, f64),
}

/// The stage table and timeline of the write-up.
pub const ECO2_STAGES: [PublishedStage; 4] = [
    PublishedStage {
        stage: "vision",
        role: "OpenAI Vision API: classify the item in the photo",
        avg_low_load_s: 4.5,
        under_load_s: (6.0, 10.0),
        share: 0.40,
        timeline_s: (0.0, 5.0),
    },
    PublishedStage {
        stage: "rule",
        role: "disposal-rule lookup",
        avg_low_load_s: 0.3,
        under_load_s: (2.0, 3.0),
        share: 0.05,
        timeline_s: (5.0, 6.0),
    },
    PublishedStage {
        stage: "answer",
        role: "OpenAI Chat API: write the disposal answer",
        avg_low_load_s: 4.8,
        under_load_s: (8.0, 15.0),
        share: 0.45,
        timeline_s: (6.0, 11.0),
    },
    PublishedStage {
        stage: "reward",
        role: "character match and ownership write",
        avg_low_load_s: 1.7,
        under_load_s: (3.0, 5.0),
        share: 0.10,
        timeline_s: (11.0, 13.0),
    },
];

/// The k6 thresholds of the published test.
pub const ECO2_THRESHOLDS: [(&str, &str); 3] = [
    ("http_req_failed", "rate<0.3"),
    ("sse_total_duration", "p(95)<30000"),
    ("sse_ttfb", "p(95)<8000"),
];

/// The OpenAI account's request limit at test time.
pub const ECO2_OPENAI_RPM: u32 = 500;

/// One row of the v1.0.0 table (thread pool of 6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedThreadpoolRun {
    /// The catalog scenario with these users.
    pub scenario: &'static str,
    /// Concurrent users.
    pub users: u32,
    /// Average response time, where published.
    pub avg_s: Option<f64>,
    /// p95 / max response time; for 100 users only a lower bound ("150 s+").
    pub p95_s: f64,
    /// Whether `p95_s` is a lower bound.
    pub p95_is_lower_bound: bool,
    /// Success rate.
    pub success: f64,
}

/// Worker threads of the v1.0.0 design (2 + 4).
pub const V1_THREADPOOL_WORKERS: u32 = 6;

/// The v1.0.0 table.
pub const V1_THREADPOOL: [PublishedThreadpoolRun; 3] = [
    PublishedThreadpoolRun {
        scenario: "v1-threadpool-5",
        users: 5,
        avg_s: Some(10.0),
        p95_s: 15.0,
        p95_is_lower_bound: false,
        success: 1.0,
    },
    PublishedThreadpoolRun {
        scenario: "v1-threadpool-10",
        users: 10,
        avg_s: Some(11.0),
        p95_s: 16.0,
        p95_is_lower_bound: false,
        success: 1.0,
    },
    PublishedThreadpoolRun {
        scenario: "v1-threadpool-100",
        users: 100,
        avg_s: None,
        p95_s: 150.0,
        p95_is_lower_bound: true,
        success: 0.0,
    },
];
