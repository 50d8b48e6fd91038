//! The published figures of the Eco² scan API write-up (2025-12-25) as typed data, for
//! `scan-bench reproduce eco2` to set beside local runs.
//!
//! Source: `shared/reference/eco2-scan-2025-12.md`. Durations are in seconds, shares and
//! success rates are fractions from 0 to 1.

/// One published load test: the Grafana panels (server view), the write-up's summary table
/// and k6's own end-of-test summary (client view).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedTest {
    /// The write-up's test number.
    pub id: u8,
    /// The catalog scenario with the same load profile.
    pub scenario: &'static str,
    /// Peak virtual users.
    pub vus: u32,
    /// The Grafana time range (KST) the panels were read over, `HH:MM:SS-HH:MM:SS`.
    pub window_kst: &'static str,
    /// The write-up's note on the run.
    pub note: &'static str,
    /// Chain Avg Duration panel.
    pub chain_avg_s: f64,
    /// TTFB (p50) panel (server-side: request start to the first stage event).
    pub ttfb_p50_s: f64,
    /// Success Rate panel as the published page prints it.
    pub success_panel: f64,
    /// Success Rate panel as the repository's copy of the same table prints it, where the two
    /// differ.
    pub success_panel_repository: Option<f64>,
    /// Requests/sec panel.
    pub rps: f64,
    /// The "peak conns" column, read from the Active Connections panel, where published.
    pub active_connections: Option<u32>,
    /// The write-up's summary table: k6's success.
    pub client_success: f64,
    /// The write-up's "p99 rose to ~25 s", where published.
    pub chain_p99_s: Option<f64>,
    /// k6's own end-of-test summary.
    pub k6: K6Summary,
}

/// k6's end-of-test summary of one test, as the authors' repository prints it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct K6Summary {
    /// Iterations: one request each.
    pub requests: u32,
    /// Iterations whose four stages all completed.
    pub completed: u32,
    /// Iterations with some stage missing.
    pub partial: u32,
    /// Iterations whose status was not 200 or whose content type was not SSE.
    pub failed: u32,
    /// Iterations whose reward result was `null`, where printed.
    pub reward_null: Option<u32>,
    /// `sse_ttfb` p95 (every response, a failed one too), in milliseconds. The write-up's
    /// TTFB table's p95 column is this figure rounded.
    pub ttfb_p95_ms: f64,
    /// `sse_total_duration` p95 (Eco²'s script times failures too), in milliseconds.
    pub total_p95_ms: f64,
}

impl PublishedTest {
    /// The length of the Grafana time range, in seconds.
    pub fn window_s(&self) -> f64 {
        let seconds = |hms: &str| {
            hms.split(':')
                .map(|part| {
                    part.parse::<f64>()
                        .expect("the published windows are HH:MM:SS")
                })
                .fold(0.0, |total, part| total * 60.0 + part)
        };
        let (start, end) = self
            .window_kst
            .split_once('-')
            .expect("the published windows are START-END");
        seconds(end) - seconds(start)
    }
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
        success_panel: 1.0,
        success_panel_repository: None,
        rps: 0.10,
        active_connections: Some(10),
        client_success: 1.0,
        chain_p99_s: None,
        k6: K6Summary {
            requests: 46,
            completed: 46,
            partial: 0,
            failed: 0,
            reward_null: None,
            ttfb_p95_ms: 5742.0,
            total_p95_ms: 19598.0,
        },
    },
    PublishedTest {
        id: 2,
        scenario: "eco2-vu34",
        vus: 34,
        window_kst: "02:59:01-03:00:12",
        note: "high load; Envoy answered 503 while the API pod restarted",
        chain_avg_s: 19.0,
        ttfb_p50_s: 1.07,
        // The published page's 90.7 % is k6's failed share (1,466 / 1,616); the repository's
        // copy of the table prints the panel at 100 %.
        success_panel: 0.907,
        success_panel_repository: Some(1.0),
        rps: 1.10,
        active_connections: Some(25),
        client_success: 0.828,
        chain_p99_s: None,
        k6: K6Summary {
            requests: 1616,
            completed: 150,
            partial: 0,
            failed: 1466,
            reward_null: None,
            ttfb_p95_ms: 3354.0,
            total_p95_ms: 20093.0,
        },
    },
    PublishedTest {
        id: 3,
        scenario: "eco2-vu30",
        vus: 30,
        window_kst: "04:31:59-04:34:45",
        note: "stabilised; near the OpenAI rate limit",
        chain_avg_s: 21.1,
        ttfb_p50_s: 1.32,
        success_panel: 1.0,
        success_panel_repository: None,
        rps: 0.27,
        active_connections: None,
        client_success: 0.951,
        chain_p99_s: Some(25.0),
        k6: K6Summary {
            requests: 164,
            completed: 156,
            partial: 1,
            failed: 7,
            reward_null: Some(120),
            ttfb_p95_ms: 16342.0,
            total_p95_ms: 47079.0,
        },
    },
];

/// What a panel's PromQL computes, for a reduction that does not run Prometheus. Windows are
/// the queries' range selectors, in seconds of the modelled system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PanelQuery {
    /// A gauge's last value.
    Gauge {
        /// The gauge.
        metric: &'static str,
    },
    /// `sum [by (by)] (rate(H_sum[w])) / sum [by (by)] (rate(H_count[w]))`.
    Average {
        /// The histogram's name (without `_sum`, `_count`).
        histogram: &'static str,
        /// The range window.
        window_s: f64,
        /// The label kept, if any.
        by: Option<&'static str>,
    },
    /// `histogram_quantile(q, sum by ([by,] le) (rate(H_bucket[w])))`.
    Quantile {
        /// The histogram's name (without `_bucket`).
        histogram: &'static str,
        /// The quantile.
        q: f64,
        /// The range window.
        window_s: f64,
        /// The label kept besides `le`, if any.
        by: Option<&'static str>,
    },
    /// `sum(rate(C{label="value"}[w])) / sum(rate(C[w])) * 100`.
    Share {
        /// The counter.
        counter: &'static str,
        /// The label matched.
        label: &'static str,
        /// Its value.
        value: &'static str,
        /// The range window.
        window_s: f64,
    },
    /// `sum [by (by)] (rate(C[w])) * per_s`.
    Rate {
        /// The counter.
        counter: &'static str,
        /// The range window.
        window_s: f64,
        /// The label kept, if any.
        by: Option<&'static str>,
        /// 1 for a rate per second, 60 per minute.
        per_s: f64,
    },
}

impl PanelQuery {
    /// The label the query keeps (besides `le`), which keys its values; `None` for one value.
    pub fn by(&self) -> Option<&'static str> {
        match *self {
            PanelQuery::Average { by, .. }
            | PanelQuery::Quantile { by, .. }
            | PanelQuery::Rate { by, .. } => by,
            PanelQuery::Gauge { .. } | PanelQuery::Share { .. } => None,
        }
    }
}

/// What a panel's value is in, which decides how a time-scaled run's value is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelUnit {
    /// Seconds (divided back by the time scale).
    Seconds,
    /// Percent.
    Percent,
    /// Per second or per minute of the modelled system (multiplied back by the time scale).
    Rate,
    /// A count, as is.
    Count,
}

/// One panel query of Eco²'s Grafana dashboard, as committed with the test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedPanel {
    /// The panel's title.
    pub title: &'static str,
    /// Its PromQL, verbatim.
    pub query: &'static str,
    /// What the query computes.
    pub computes: PanelQuery,
    /// Its unit.
    pub unit: PanelUnit,
}

const REQUESTS: &str = "scan_sse_requests_total";
const CHAIN: &str = "scan_sse_chain_duration_seconds";
const TTFB: &str = "scan_sse_ttfb_seconds";
const STAGE: &str = "scan_sse_stage_duration_seconds";

/// The dashboard's top row (`workloads/monitoring/dashboards/scan-sse-pipeline.yaml`): `stat`
/// panels (Success Rate a `gauge`) showing the last non-null value of their query over the
/// time range.
pub const ECO2_TOP_ROW: [PublishedPanel; 6] = [
    PublishedPanel {
        title: "Active Connections",
        query: "scan_sse_connections_active",
        computes: PanelQuery::Gauge {
            metric: "scan_sse_connections_active",
        },
        unit: PanelUnit::Count,
    },
    PublishedPanel {
        title: "Chain Avg Duration",
        query: "sum(rate(scan_sse_chain_duration_seconds_sum[5m])) / sum(rate(scan_sse_chain_duration_seconds_count[5m]))",
        computes: PanelQuery::Average {
            histogram: CHAIN,
            window_s: 300.0,
            by: None,
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "TTFB (p50)",
        query: "histogram_quantile(0.50, sum(rate(scan_sse_ttfb_seconds_bucket[5m])) by (le))",
        computes: PanelQuery::Quantile {
            histogram: TTFB,
            q: 0.5,
            window_s: 300.0,
            by: None,
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "Success Rate",
        query: "sum(rate(scan_sse_requests_total{status=\"success\"}[5m])) / sum(rate(scan_sse_requests_total[5m])) * 100",
        computes: PanelQuery::Share {
            counter: REQUESTS,
            label: "status",
            value: "success",
            window_s: 300.0,
        },
        unit: PanelUnit::Percent,
    },
    PublishedPanel {
        title: "Requests/sec",
        query: "sum(rate(scan_sse_requests_total[1m]))",
        computes: PanelQuery::Rate {
            counter: REQUESTS,
            window_s: 60.0,
            by: None,
            per_s: 1.0,
        },
        unit: PanelUnit::Rate,
    },
    PublishedPanel {
        title: "Timeout Rate",
        query: "sum(rate(scan_sse_requests_total{status=\"timeout\"}[5m])) / sum(rate(scan_sse_requests_total[5m])) * 100",
        computes: PanelQuery::Share {
            counter: REQUESTS,
            label: "status",
            value: "timeout",
            window_s: 300.0,
        },
        unit: PanelUnit::Percent,
    },
];

/// The dashboard's further rows, drawn over time.
pub const ECO2_SERIES: [PublishedPanel; 6] = [
    PublishedPanel {
        title: "Stage Avg Duration",
        query: "sum by (stage) (rate(scan_sse_stage_duration_seconds_sum[5m])) / sum by (stage) (rate(scan_sse_stage_duration_seconds_count[5m]))",
        computes: PanelQuery::Average {
            histogram: STAGE,
            window_s: 300.0,
            by: Some("stage"),
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "Stage p99 Duration",
        query: "histogram_quantile(0.99, sum by (stage, le) (rate(scan_sse_stage_duration_seconds_bucket[1m])))",
        computes: PanelQuery::Quantile {
            histogram: STAGE,
            q: 0.99,
            window_s: 60.0,
            by: Some("stage"),
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "TTFB p50",
        query: "histogram_quantile(0.5, sum by (le) (rate(scan_sse_ttfb_seconds_bucket[5m])))",
        computes: PanelQuery::Quantile {
            histogram: TTFB,
            q: 0.5,
            window_s: 300.0,
            by: None,
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "TTFB p95",
        query: "histogram_quantile(0.95, sum by (le) (rate(scan_sse_ttfb_seconds_bucket[5m])))",
        computes: PanelQuery::Quantile {
            histogram: TTFB,
            q: 0.95,
            window_s: 300.0,
            by: None,
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "TTFB p99",
        query: "histogram_quantile(0.99, sum by (le) (rate(scan_sse_ttfb_seconds_bucket[5m])))",
        computes: PanelQuery::Quantile {
            histogram: TTFB,
            q: 0.99,
            window_s: 300.0,
            by: None,
        },
        unit: PanelUnit::Seconds,
    },
    PublishedPanel {
        title: "Requests by Status (per minute)",
        query: "sum by (status) (rate(scan_sse_requests_total[1m])) * 60",
        computes: PanelQuery::Rate {
            counter: REQUESTS,
            window_s: 60.0,
            by: Some("status"),
            per_s: 60.0,
        },
        unit: PanelUnit::Rate,
    },
];

/// Not on the committed dashboard: the chain's p99 as scan-bench's shipped dashboard draws it
/// (its "Chain Percentiles" panel), for the write-up's "p99 rose to ~25 s" in test #3.
pub const CHAIN_P99: PublishedPanel = PublishedPanel {
    title: "Chain p99",
    query: "histogram_quantile(0.99, sum by (le) (rate(scan_sse_chain_duration_seconds_bucket[5m])))",
    computes: PanelQuery::Quantile {
        histogram: CHAIN,
        q: 0.99,
        window_s: 300.0,
        by: None,
    },
    unit: PanelUnit::Seconds,
};

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

/// One measured point of the v1.0.7 comparison, or of the later write-up's 50-VU test on the
/// test-time design: the published success and response times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedLaterRun {
    /// Short name, also the report's directory.
    pub name: &'static str,
    /// What was measured, as the write-up names it.
    pub design: &'static str,
    /// Concurrent users.
    pub users: u32,
    /// Success rate, where published.
    pub success: Option<f64>,
    /// The range of average response times, where published.
    pub avg_range_s: Option<(f64, f64)>,
    /// The server's average response time, where published.
    pub server_avg_s: Option<f64>,
    /// The server's p99 response time (a range, or one value twice), where published.
    pub server_p99_s: Option<(f64, f64)>,
}

/// v1.0.7's `/scan/classify` and `/scan/classify/completion` table, and the 50-VU test of the
/// test-time design from the same project's later write-up. Memory (4 GB, ~1 GB, 676 MiB over
/// a 512 MiB limit) is not modelled.
pub const LATER_RUNS: [PublishedLaterRun; 4] = [
    PublishedLaterRun {
        name: "v1.0.7-classify-60",
        design: "v1.0.7 /scan/classify: threads 2+4, HPA 1-4",
        users: 60,
        success: Some(0.983),
        avg_range_s: Some((10.0, 22.0)),
        server_avg_s: Some(6.0),
        server_p99_s: Some((10.0, 19.4)),
    },
    PublishedLaterRun {
        name: "v1.0.7-completion-30",
        design: "v1.0.7 /scan/classify/completion: SSE, 30 greenlets, HPA 1-4",
        users: 30,
        success: Some(0.951),
        avg_range_s: Some((11.0, 21.0)),
        server_avg_s: Some(13.0),
        server_p99_s: Some((49.0, 49.0)),
    },
    PublishedLaterRun {
        name: "v1.0.7-completion-50",
        design: "v1.0.7 /scan/classify/completion: SSE, 30 greenlets, HPA 1-4",
        users: 50,
        success: Some(0.387),
        avg_range_s: None,
        server_avg_s: None,
        server_p99_s: None,
    },
    PublishedLaterRun {
        name: "celery-chain-50",
        design: "the Celery chain at test time (test #2's design) at 50 VUs",
        users: 50,
        success: None,
        avg_range_s: None,
        server_avg_s: None,
        server_p99_s: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_their_published_lengths() {
        let lengths: Vec<f64> = ECO2_TESTS.iter().map(PublishedTest::window_s).collect();
        assert_eq!(lengths, [104.0, 71.0, 166.0]);
    }

    #[test]
    fn every_k6_iteration_has_one_outcome() {
        for test in &ECO2_TESTS {
            let k6 = test.k6;
            assert_eq!(
                k6.completed + k6.partial + k6.failed,
                k6.requests,
                "#{}",
                test.id
            );
        }
        // The published page's success panel of #2 is k6's failed share.
        let k6 = ECO2_TESTS[1].k6;
        let failed = f64::from(k6.failed) / f64::from(k6.requests);
        assert!((failed - ECO2_TESTS[1].success_panel).abs() < 0.0005);
    }
}
