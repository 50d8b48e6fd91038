//! Live `scan_bench_*` Prometheus metrics of a run (`--metrics-listen ADDR`), kept by the
//! collector from the same records as the report, so a last scrape and the report agree.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets_range};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::record::{FailureClass, Outcome, RequestRecord};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to 5 min: TTFB of a local mock up to a stalled chain.
    Histogram::new(exponential_buckets_range(0.001, 300.0, 24))
}

/// The live metrics of one run.
pub struct LiveMetrics {
    registry: Registry,
    /// Virtual users in their iteration loop.
    pub active_vus: Gauge,
    started: Counter,
    completed: Counter,
    partial: Counter,
    interrupted: Counter,
    failed: Family<ClassLabel, Counter>,
    dropped: Counter,
    ttfb: Histogram,
    first_stage: Histogram,
    chain: Histogram,
    stages: Family<StageLabel, Histogram, fn() -> Histogram>,
    scheduling_lag: Histogram,
    stage_names: Vec<String>,
}

impl LiveMetrics {
    /// Registers every metric for a stream of `stages`.
    pub fn new(stages: &[String]) -> Self {
        let mut registry = Registry::with_prefix("scan_bench");
        let metrics = Self {
            active_vus: Gauge::default(),
            started: Counter::default(),
            completed: Counter::default(),
            partial: Counter::default(),
            interrupted: Counter::default(),
            failed: Family::default(),
            dropped: Counter::default(),
            ttfb: latency_histogram(),
            first_stage: latency_histogram(),
            chain: latency_histogram(),
            stages: Family::new_with_constructor(latency_histogram),
            scheduling_lag: Histogram::new(exponential_buckets_range(0.0001, 10.0, 16)),
            stage_names: stages.to_vec(),
            registry: Registry::default(),
        };
        // Failures by class exist from the start, at zero: a run without failures shows a 0 %
        // failure rate rather than no data. An HTTP status class appears with its first.
        for class in FailureClass::WITHOUT_STATUS {
            let _ = metrics.failed.get_or_create(&ClassLabel {
                class: class.label(),
            });
        }
        registry.register(
            "active_vus",
            "Virtual users in their iteration loop",
            metrics.active_vus.clone(),
        );
        registry.register(
            "requests_started",
            "Requests started",
            metrics.started.clone(),
        );
        registry.register(
            "requests_completed",
            "Requests whose every stage completed",
            metrics.completed.clone(),
        );
        registry.register(
            "requests_partial",
            "Streams that ended without every stage",
            metrics.partial.clone(),
        );
        registry.register(
            "requests_interrupted",
            "Streams cut by the end of the run",
            metrics.interrupted.clone(),
        );
        registry.register(
            "requests_failed",
            "Failed requests by class",
            metrics.failed.clone(),
        );
        registry.register(
            "dropped_iterations",
            "Arrivals that found no free user",
            metrics.dropped.clone(),
        );
        registry.register(
            "ttfb_seconds",
            "Request start to first body byte",
            metrics.ttfb.clone(),
        );
        registry.register(
            "first_stage_seconds",
            "Request start to first stage event",
            metrics.first_stage.clone(),
        );
        registry.register(
            "chain_seconds",
            "Request start to terminal event, completed runs",
            metrics.chain.clone(),
        );
        registry.register(
            "stage_seconds",
            "Stage started to completed",
            metrics.stages.clone(),
        );
        registry.register(
            "scheduling_lag_seconds",
            "How late a request started against its intended start",
            metrics.scheduling_lag.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one finished request.
    pub fn finished(&self, record: &RequestRecord) {
        self.started.inc();
        match record.outcome {
            Outcome::Completed => self.completed.inc(),
            Outcome::Partial => self.partial.inc(),
            Outcome::Interrupted => self.interrupted.inc(),
            Outcome::Failed(class) => self
                .failed
                .get_or_create(&ClassLabel {
                    class: class.label(),
                })
                .inc(),
        };
        let secs = |d: Duration| d.as_secs_f64();
        if let Some(d) = record.ttfb {
            self.ttfb.observe(secs(d));
        }
        if let Some(d) = record.first_stage {
            self.first_stage.observe(secs(d));
        }
        if let (Outcome::Completed, Some(d)) = (record.outcome, record.chain) {
            self.chain.observe(secs(d));
        }
        for (name, timing) in self.stage_names.iter().zip(&record.stages) {
            if let Some(d) = timing.duration() {
                self.stages
                    .get_or_create(&StageLabel {
                        stage: name.clone(),
                    })
                    .observe(secs(d));
            }
        }
    }

    /// Counts an arrival that found no free user.
    pub fn dropped(&self) {
        self.dropped.inc();
    }

    /// Records a request's scheduling lag.
    pub fn lagged(&self, late: Duration) {
        self.scheduling_lag.observe(late.as_secs_f64());
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String does not fail");
        text
    }

    /// Serves `GET /metrics` on `addr` until `stop` fires; the bound address.
    pub async fn serve(
        self: Arc<Self>,
        addr: SocketAddr,
        stop: CancellationToken,
    ) -> std::io::Result<SocketAddr> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = self.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        );
        let server = scan_serve::Server::bind(addr, app, &Default::default()).await?;
        let bound = server.addr();
        tokio::spawn(async move {
            stop.cancelled().await;
            let _ = server.shutdown().await;
        });
        Ok(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_what_was_recorded() {
        let live = LiveMetrics::new(&["vision".to_owned()]);
        let mut done = RequestRecord::new(1);
        done.outcome = Outcome::Completed;
        done.chain = Some(Duration::from_millis(30));
        let mut failed = RequestRecord::new(1);
        failed.outcome = Outcome::Failed(FailureClass::HttpStatus(503));
        for record in [&done, &done, &failed] {
            live.finished(record);
        }
        live.dropped();
        let text = live.encode();
        for line in [
            "scan_bench_requests_started_total 3",
            "scan_bench_requests_completed_total 2",
            "scan_bench_requests_failed_total{class=\"http_503\"} 1",
            "scan_bench_dropped_iterations_total 1",
            "scan_bench_requests_failed_total{class=\"timeout\"} 0",
            "scan_bench_chain_seconds_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        assert!(prometheus_parse::Scrape::parse(lines).is_ok());
    }
}
