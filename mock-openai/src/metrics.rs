//! The server's Prometheus metrics (`GET /metrics`, text format).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mock_openai_requests_total` | counter | `route`, `model`, `status` |
//! | `mock_openai_in_flight` | gauge | - |
//! | `mock_openai_queued` | gauge | - |
//! | `mock_openai_request_duration_seconds` | histogram | `route`, `model` |
//! | `mock_openai_time_to_first_token_seconds` | histogram | `route`, `model` |
//! | `mock_openai_output_tokens_total` | counter | `model` |
//! | `mock_openai_rate_limited_total` | counter | `limit` = requests / tokens |
//! | `mock_openai_faults_total` | counter | `kind` |
//!
//! `model` is empty for requests that never named a known model (bad body, unknown model), so
//! a client cannot grow the label set without bound.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: &'static str,
    pub model: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteModel {
    pub route: &'static str,
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ModelLabel {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LimitLabel {
    pub limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FaultLabel {
    pub kind: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~131 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

type HistogramFamily = Family<RouteModel, Histogram, fn() -> Histogram>;

pub(crate) struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub in_flight: Gauge,
    pub queued: Gauge,
    pub duration: HistogramFamily,
    pub ttft: HistogramFamily,
    pub output_tokens: Family<ModelLabel, Counter>,
    pub rate_limited: Family<LimitLabel, Counter>,
    pub faults: Family<FaultLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mock_openai");
        let requests = Family::<RequestLabels, Counter>::default();
        let in_flight = Gauge::default();
        let queued = Gauge::default();
        let duration =
            HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        let ttft = HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        let output_tokens = Family::<ModelLabel, Counter>::default();
        let rate_limited = Family::<LimitLabel, Counter>::default();
        let faults = Family::<FaultLabel, Counter>::default();
        registry.register(
            "requests",
            "Model requests answered, by route, model and HTTP status",
            requests.clone(),
        );
        registry.register(
            "in_flight",
            "Model requests being served or queued",
            in_flight.clone(),
        );
        registry.register(
            "queued",
            "Model requests waiting for a concurrency slot",
            queued.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to the end of the response body",
            duration.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Time from request to the first content token",
            ttft.clone(),
        );
        registry.register(
            "output_tokens",
            "Completion tokens generated",
            output_tokens.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        registry.register("faults", "Injected faults, by kind", faults.clone());
        Self {
            registry,
            requests,
            in_flight,
            queued,
            duration,
            ttft,
            output_tokens,
            rate_limited,
            faults,
        }
    }

    pub fn count_request(&self, route: &'static str, model: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                model: model.to_owned(),
                status,
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
