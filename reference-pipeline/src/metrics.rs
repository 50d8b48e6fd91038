//! Prometheus metrics: Eco²'s `scan_sse_*` series (names and buckets of its Grafana
//! dashboard) plus `scan_pipeline_*` series for what Eco² did not measure.

use std::borrow::Cow;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets_range};
use prometheus_client::registry::Registry;
use scan_config::FaultKind;

/// Content type of [`Metrics::encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StageLabel {
    pub stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabel {
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PoolLabel {
    pub pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FaultLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StateLabel {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StageOutcomeLabel {
    pub stage: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OpenAiLabel {
    pub call: &'static str,
    pub provider: &'static str,
    pub status: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallModelLabel {
    pub call: &'static str,
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TokenLabel {
    pub call: &'static str,
    pub model: String,
    /// `input` or `output`.
    pub kind: &'static str,
}

/// Histogram of seconds with `length` buckets spread exponentially from `min` to `max`,
/// rounded to 3 significant digits so the `le` labels stay readable (1, 1.45, 2.1, ... 180).
fn seconds_histogram(min: f64, max: f64, length: u16) -> Histogram {
    Histogram::new(exponential_buckets_range(min, max, length).map(|b| {
        let scale = 10f64.powi(2 - b.log10().floor() as i32);
        (b * scale).round() / scale
    }))
}

fn stage_histogram() -> Histogram {
    seconds_histogram(0.1, 60.0, 15)
}

/// Every metric the service exports.
pub(crate) struct Metrics {
    registry: Registry,
    /// Streams open now.
    pub connections_active: Gauge,
    /// Request start to stream end.
    pub chain_duration: Histogram,
    /// Stage `started` to `completed`, as relayed by the API.
    pub stage_duration: Family<StageLabel, Histogram, fn() -> Histogram>,
    /// Streams that reached the handler, by outcome.
    pub requests: Family<StatusLabel, Counter>,
    /// Request start to the first stage event.
    pub ttfb: Histogram,
    /// Requests refused by admission (503), never counted in `requests`.
    pub admission_rejected: Counter,
    /// OpenAI HTTP attempts by call, provider and status (`200`, `429`, `timeout`, ...).
    pub openai_calls: Family<OpenAiLabel, Counter>,
    /// OpenAI attempts that were retried, labelled with the status that caused the retry.
    pub openai_retries: Family<OpenAiLabel, Counter>,
    /// A stage's whole OpenAI call (retries and back-off included), by call and model.
    pub openai_call_duration: Family<CallModelLabel, Histogram, fn() -> Histogram>,
    /// Tokens the answers reported (`usage`), by call, model and kind (input, output).
    pub openai_tokens: Family<TokenLabel, Counter>,
    /// Jobs waiting for a worker, per pool.
    pub pool_queue_depth: Family<PoolLabel, Gauge>,
    /// Workers running a job, per pool.
    pub pool_busy_workers: Family<PoolLabel, Gauge>,
    /// Configured workers, per pool.
    pub pool_workers: Family<PoolLabel, Gauge>,
    /// Rule cache lookups by `result` (`hit`, `miss`).
    pub rule_cache: Family<OutcomeLabel, Counter>,
    /// Reward stage results (`matched`, `null`).
    pub rewards: Family<OutcomeLabel, Counter>,
    /// Ownership writes (`inserted`, `existing`, `error`).
    pub ownership_writes: Family<OutcomeLabel, Counter>,
    /// Non-streaming `/api/v1/scan/classify` requests by outcome.
    pub classify_requests: Family<StatusLabel, Counter>,
    /// Non-streaming request durations.
    pub classify_duration: Histogram,
    /// Faults injected into streams, by kind.
    pub faults: Family<FaultLabel, Counter>,
    /// Stage tasks the workers finished, by stage and outcome (the Celery-level view).
    pub stage_tasks: Family<StageOutcomeLabel, Counter>,
    /// API replicas by state.
    pub replicas: Family<StateLabel, Gauge>,
    /// Replicas restarted by the liveness probe.
    pub replica_restarts: Counter,
    /// Requests answered 503 because no replica was ready.
    pub upstream_unavailable: Counter,
}

impl Metrics {
    pub fn new(pools: &[(&'static str, usize)]) -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            connections_active: Gauge::default(),
            chain_duration: seconds_histogram(1.0, 180.0, 15),
            stage_duration: Family::new_with_constructor(stage_histogram),
            requests: Family::default(),
            ttfb: seconds_histogram(0.01, 10.0, 14),
            admission_rejected: Counter::default(),
            openai_calls: Family::default(),
            openai_retries: Family::default(),
            openai_call_duration: Family::new_with_constructor(stage_histogram),
            openai_tokens: Family::default(),
            pool_queue_depth: Family::default(),
            pool_busy_workers: Family::default(),
            pool_workers: Family::default(),
            rule_cache: Family::default(),
            rewards: Family::default(),
            ownership_writes: Family::default(),
            classify_requests: Family::default(),
            classify_duration: seconds_histogram(1.0, 180.0, 15),
            faults: Family::default(),
            stage_tasks: Family::default(),
            replicas: Family::default(),
            replica_restarts: Counter::default(),
            upstream_unavailable: Counter::default(),
        };
        // Series that dashboards divide by exist from the start, at zero.
        for status in ["success", "failed", "timeout"] {
            let _ = m.requests.get_or_create(&StatusLabel { status });
        }
        for stage in crate::chain::Stage::ALL {
            let _ = m.stage_duration.get_or_create(&StageLabel {
                stage: stage.name(),
            });
        }
        for &fault in crate::faults::Fault::ALL {
            let _ = m.faults.get_or_create(&FaultLabel { kind: fault.name() });
        }
        for outcome in ["matched", "null"] {
            let _ = m.rewards.get_or_create(&OutcomeLabel { outcome });
        }
        for stage in crate::chain::Stage::ALL {
            for outcome in ["completed", "failed"] {
                let _ = m.stage_tasks.get_or_create(&StageOutcomeLabel {
                    stage: stage.name(),
                    outcome,
                });
            }
        }
        for &(pool, workers) in pools {
            let label = PoolLabel { pool };
            m.pool_workers.get_or_create(&label).set(workers as i64);
            let _ = m.pool_queue_depth.get_or_create(&label);
            let _ = m.pool_busy_workers.get_or_create(&label);
        }
        m.register_all();
        m
    }

    fn register_all(&mut self) {
        self.register_dashboard_series();
        self.register_pipeline_series();
        self.register_cluster_series();
    }

    /// The `scan_sse_*` series, named as Eco²'s Grafana dashboard queries them.
    fn register_dashboard_series(&mut self) {
        let r = &mut self.registry;
        r.register(
            "scan_sse_connections_active",
            "Active SSE connections",
            self.connections_active.clone(),
        );
        r.register(
            "scan_sse_chain_duration_seconds",
            "SSE chain duration from request start to stream end",
            self.chain_duration.clone(),
        );
        r.register(
            "scan_sse_stage_duration_seconds",
            "Stage duration from started to completed as relayed by the API",
            self.stage_duration.clone(),
        );
        r.register(
            "scan_sse_requests",
            "SSE requests that reached the handler, by final status",
            self.requests.clone(),
        );
        r.register(
            "scan_sse_ttfb_seconds",
            "Time from request start to the first stage event",
            self.ttfb.clone(),
        );
    }

    /// The pipeline's own `scan_pipeline_*` series: admission, OpenAI calls, pools, stages.
    fn register_pipeline_series(&mut self) {
        let r = &mut self.registry;
        r.register(
            "scan_pipeline_admission_rejected",
            "Requests answered 503 because max_inflight streams were open",
            self.admission_rejected.clone(),
        );
        r.register(
            "scan_pipeline_openai_calls",
            "OpenAI HTTP attempts by call, provider and status",
            self.openai_calls.clone(),
        );
        r.register(
            "scan_pipeline_openai_retries",
            "OpenAI attempts retried, by the status that caused the retry",
            self.openai_retries.clone(),
        );
        r.register(
            "scan_pipeline_openai_call_duration_seconds",
            "A stage's whole OpenAI call, retries and back-off included, by call and model",
            self.openai_call_duration.clone(),
        );
        r.register(
            "scan_pipeline_openai_tokens",
            "Tokens the OpenAI answers reported, by call, model and kind (input, output)",
            self.openai_tokens.clone(),
        );
        r.register(
            "scan_pipeline_pool_queue_depth",
            "Jobs waiting for a worker",
            self.pool_queue_depth.clone(),
        );
        r.register(
            "scan_pipeline_pool_busy_workers",
            "Workers running a job",
            self.pool_busy_workers.clone(),
        );
        r.register(
            "scan_pipeline_pool_workers",
            "Configured workers",
            self.pool_workers.clone(),
        );
        r.register(
            "scan_pipeline_rule_cache",
            "Rule cache lookups by outcome (hit, miss)",
            self.rule_cache.clone(),
        );
        r.register(
            "scan_pipeline_rewards",
            "Reward stage results by outcome (matched, null)",
            self.rewards.clone(),
        );
        r.register(
            "scan_pipeline_ownership_writes",
            "Character ownership writes by outcome (inserted, existing, error)",
            self.ownership_writes.clone(),
        );
        r.register(
            "scan_pipeline_classify_requests",
            "Non-streaming classify requests by final status",
            self.classify_requests.clone(),
        );
        r.register(
            "scan_pipeline_classify_duration_seconds",
            "Non-streaming classify request duration",
            self.classify_duration.clone(),
        );
        r.register(
            "scan_pipeline_faults",
            "Faults injected into streams, by kind (drop, malformed, error, stall)",
            self.faults.clone(),
        );
        r.register(
            "scan_pipeline_stage_tasks",
            "Stage tasks the workers finished, by stage and outcome (completed, failed); \
             cancelled tasks are not counted",
            self.stage_tasks.clone(),
        );
    }

    /// The API tier's series: replicas, restarts, requests no replica could take.
    fn register_cluster_series(&mut self) {
        let r = &mut self.registry;
        r.register(
            "scan_pipeline_replicas",
            "API replicas by state (ready, starting, draining)",
            self.replicas.clone(),
        );
        r.register(
            "scan_pipeline_replica_restarts",
            "API replicas restarted by the liveness probe",
            self.replica_restarts.clone(),
        );
        r.register(
            "scan_pipeline_upstream_unavailable",
            "Requests answered 503 NO_HEALTHY_UPSTREAM because no API replica was ready",
            self.upstream_unavailable.clone(),
        );
    }

    /// OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn pool(&self, pool: &'static str) -> PoolGauges {
        let label = PoolLabel { pool };
        PoolGauges {
            queue_depth: self.pool_queue_depth.get_or_create(&label).clone(),
            busy: self.pool_busy_workers.get_or_create(&label).clone(),
        }
    }

    /// The replica gauge of one state.
    pub fn replicas(&self, state: &'static str) -> Gauge {
        self.replicas.get_or_create(&StateLabel { state }).clone()
    }

    pub fn count(family: &Family<OutcomeLabel, Counter>, outcome: &'static str) {
        family.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}

/// The two gauges a worker pool keeps current.
#[derive(Clone)]
pub(crate) struct PoolGauges {
    pub queue_depth: Gauge,
    pub busy: Gauge,
}

/// Increments a gauge and decrements it again when dropped, unless kept.
pub(crate) struct GaugeGuard(Option<Gauge>);

impl GaugeGuard {
    pub fn inc(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(Some(gauge.clone()))
    }

    /// Leaves the increment in place; someone else decrements it.
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        if let Some(gauge) = self.0.take() {
            gauge.dec();
        }
    }
}
