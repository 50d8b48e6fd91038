//! The server view: the target's Prometheus `/metrics`, scraped with `prometheus-parse`, and
//! reduced with the formulas of Eco²'s Grafana dashboard over the run's window (the
//! difference between a scrape at the start and one at the end); [`series`] keeps every
//! scrape of a run, for panels evaluated at an instant.

pub mod panel;
pub mod series;

use std::collections::BTreeMap;
use std::time::Duration;

use reports::{LlmCalls, ServerView};

/// Eco²'s gauge of open SSE streams: not differenced, and its peak is the server view's.
pub const ACTIVE_CONNECTIONS: &str = "scan_sse_connections_active";

/// A series' labels, sorted by name.
pub type Labels = Vec<(String, String)>;

/// One scrape, flattened: `(metric name, sorted labels)` to value; histogram buckets appear
/// as `NAME_bucket` with an `le` label, as on the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    series: BTreeMap<(String, Labels), f64>,
}

/// A scrape that failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The endpoint did not answer.
    #[error("cannot scrape {url}: {source}")]
    Http {
        /// The endpoint.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The answer is not Prometheus text.
    #[error("cannot parse the metrics of {url}: {message}")]
    Parse {
        /// The endpoint.
        url: String,
        /// Why.
        message: String,
    },
}

impl Snapshot {
    /// Parses Prometheus (or OpenMetrics) text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).map_err(|e| e.to_string())?;
        let mut series = BTreeMap::new();
        for sample in scrape.samples {
            let mut labels: Labels = sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => {
                    series.insert((sample.metric, labels), v);
                }
                prometheus_parse::Value::Histogram(buckets) => {
                    for bucket in buckets {
                        let mut labels = labels.clone();
                        labels.push(("le".into(), format_le(bucket.less_than)));
                        labels.sort();
                        series.insert((format!("{}_bucket", sample.metric), labels), bucket.count);
                    }
                }
                prometheus_parse::Value::Summary(_) => {}
            }
        }
        Ok(Self { series })
    }

    /// Fetches and parses `url`.
    pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<Self, ScrapeError> {
        // Messages name the URL without its userinfo (reqwest's own would repeat it).
        let shown = scenarios::redact::url(url);
        let http = |source: reqwest::Error| ScrapeError::Http {
            url: shown.clone(),
            source: source.without_url(),
        };
        let text = client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(http)?;
        let text = text.text().await.map_err(http)?;
        Self::parse(&text).map_err(|message| ScrapeError::Parse {
            url: shown.clone(),
            message,
        })
    }

    /// `self - earlier` for every series (counters and buckets grow; gauges are kept as now).
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let series = self
            .series
            .iter()
            .map(|(key, v)| {
                let is_gauge = key.0 == ACTIVE_CONNECTIONS;
                let before = if is_gauge {
                    0.0
                } else {
                    earlier.series.get(key).copied().unwrap_or(0.0)
                };
                (key.clone(), v - before)
            })
            .collect();
        Snapshot { series }
    }

    /// Sum of a metric's series whose labels include `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let mut found = false;
        let mut total = 0.0;
        for ((metric, labels), v) in &self.series {
            if metric == name && has_labels(labels, filter) {
                found = true;
                total += v;
            }
        }
        found.then_some(total)
    }

    /// The values of one label of a metric, with the sum of each.
    pub fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        self.by_labels(name, &[label])
            .into_iter()
            .map(|(mut values, v)| (values.remove(0), v))
            .collect()
    }

    /// The combinations of values of `labels` in a metric's series (those having them all),
    /// with the sum of each.
    pub fn by_labels(&self, name: &str, labels: &[&str]) -> BTreeMap<Vec<String>, f64> {
        let mut out = BTreeMap::new();
        for ((metric, series_labels), v) in &self.series {
            if metric != name {
                continue;
            }
            let values: Option<Vec<String>> = labels
                .iter()
                .map(|l| {
                    series_labels
                        .iter()
                        .find(|(k, _)| k == l)
                        .map(|(_, v)| v.clone())
                })
                .collect();
            if let Some(values) = values {
                *out.entry(values).or_default() += v;
            }
        }
        out
    }

    /// Prometheus's `histogram_quantile(q, NAME_bucket)` over series matching `filter`.
    pub fn histogram_quantile(&self, q: f64, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let bucket_name = format!("{name}_bucket");
        let buckets: Vec<series::Value<'_>> = self
            .series
            .iter()
            .filter(|((metric, labels), _)| *metric == bucket_name && has_labels(labels, filter))
            .map(|((_, labels), count)| (labels, *count))
            .collect();
        series::quantile_by(q, &buckets, &[]).remove(&Vec::new())
    }
}

/// Whether a series' labels include every `(name, value)` of `filter`.
fn has_labels(labels: &Labels, filter: &[(&str, &str)]) -> bool {
    filter
        .iter()
        .all(|(k, want)| labels.iter().any(|(lk, lv)| lk == k && lv == want))
}

fn format_le(le: f64) -> String {
    if le.is_infinite() {
        "+Inf".into()
    } else {
        le.to_string()
    }
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        _ => text.parse().ok(),
    }
}

/// Prometheus's `histogram_quantile` over cumulative `(upper bound, count)` buckets sorted by
/// bound: linear interpolation inside the bucket that holds the rank; the `+Inf` bucket
/// answers the largest finite bound.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 || !buckets.last()?.0.is_infinite() {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            if count == lower.1 {
                return Some(le);
            }
            return Some(lower.0 + (le - lower.0) * (rank - lower.1) / (count - lower.1));
        }
        lower = (le, count);
    }
    None
}

/// The Eco² dashboard's panels over the run's window `delta`, with the peak of the active
/// connections seen over the run's scrapes.
pub fn server_view(
    source: &str,
    delta: &Snapshot,
    peak_connections: Option<f64>,
    window: Duration,
) -> ServerView {
    let requests = delta.by_label("scan_sse_requests_total", "status");
    let all: f64 = requests.values().sum();
    let success = requests.get("success").copied().unwrap_or(0.0);
    let ratio = |sum: Option<f64>, count: Option<f64>| match (sum, count) {
        (Some(s), Some(c)) if c > 0.0 => Some(s / c),
        _ => None,
    };
    let stage_sums = delta.by_label("scan_sse_stage_duration_seconds_sum", "stage");
    let stage_counts = delta.by_label("scan_sse_stage_duration_seconds_count", "stage");
    let stage_avg_s = stage_sums
        .iter()
        .filter_map(|(stage, sum)| {
            ratio(Some(*sum), stage_counts.get(stage).copied()).map(|avg| (stage.clone(), avg))
        })
        .collect();
    ServerView {
        source: source.to_owned(),
        success_rate: (all > 0.0).then(|| success / all),
        chain_avg_s: ratio(
            delta.sum("scan_sse_chain_duration_seconds_sum", &[]),
            delta.sum("scan_sse_chain_duration_seconds_count", &[]),
        ),
        ttfb_p50_s: delta.histogram_quantile(0.5, "scan_sse_ttfb_seconds", &[]),
        ttfb_p95_s: delta.histogram_quantile(0.95, "scan_sse_ttfb_seconds", &[]),
        rps: (window.as_secs_f64() > 0.0 && all > 0.0).then(|| all / window.as_secs_f64()),
        peak_connections,
        stage_avg_s,
        rejected: delta.sum("scan_pipeline_admission_rejected_total", &[]),
        worker_success: {
            let tasks = delta.by_label("scan_pipeline_stage_tasks_total", "outcome");
            let completed = tasks.get("completed").copied().unwrap_or(0.0);
            let finished: f64 = tasks.values().sum();
            (finished > 0.0).then(|| completed / finished)
        },
        upstream_unavailable: delta.sum("scan_pipeline_upstream_unavailable_total", &[]),
        replica_restarts: delta.sum("scan_pipeline_replica_restarts_total", &[]),
        openai_rate_limited: {
            let calls = delta.by_label("scan_pipeline_openai_calls_total", "status");
            (!calls.is_empty()).then(|| calls.get("429").copied().unwrap_or(0.0))
        },
        llm_calls: llm_calls(delta),
        requests,
    }
}

/// The reference pipeline's LLM calls per stage and model. Attempts, 429s and retries are
/// labelled by stage only (each stage calls one model), so every model row of a stage shows
/// its stage's.
fn llm_calls(delta: &Snapshot) -> Vec<LlmCalls> {
    const DURATION: &str = "scan_pipeline_openai_call_duration_seconds";
    let sums = delta.by_labels(&format!("{DURATION}_sum"), &["call", "model"]);
    let counts = delta.by_labels(&format!("{DURATION}_count"), &["call", "model"]);
    let tokens = delta.by_labels(
        "scan_pipeline_openai_tokens_total",
        &["call", "model", "kind"],
    );
    let attempts = delta.by_labels("scan_pipeline_openai_calls_total", &["call", "status"]);
    let retries = delta.by_label("scan_pipeline_openai_retries_total", "call");
    counts
        .into_iter()
        .filter(|(_, calls)| *calls > 0.0)
        .map(|(key, calls)| {
            let (call, model) = (&key[0], &key[1]);
            let filter = [("call", call.as_str()), ("model", model.as_str())];
            let token = |kind: &str| {
                let key = [call.clone(), model.clone(), kind.to_owned()];
                tokens.get(&key[..]).copied().unwrap_or(0.0)
            };
            LlmCalls {
                call: call.clone(),
                model: model.clone(),
                calls,
                avg_s: sums.get(&key).map(|sum| sum / calls),
                p95_s: delta.histogram_quantile(0.95, DURATION, &filter),
                rate_limited: attempts
                    .get(&[call.clone(), "429".to_owned()][..])
                    .copied()
                    .unwrap_or(0.0),
                retries: retries.get(call).copied().unwrap_or(0.0),
                input_tokens: token("input"),
                output_tokens: token("output"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE scan_sse_requests counter
scan_sse_requests_total{status=\"success\"} 9
scan_sse_requests_total{status=\"failed\"} 1
# TYPE scan_sse_ttfb_seconds histogram
scan_sse_ttfb_seconds_sum 6.0
scan_sse_ttfb_seconds_count 10
scan_sse_ttfb_seconds_bucket{le=\"0.5\"} 2
scan_sse_ttfb_seconds_bucket{le=\"1.0\"} 8
scan_sse_ttfb_seconds_bucket{le=\"+Inf\"} 10
# TYPE scan_sse_chain_duration_seconds histogram
scan_sse_chain_duration_seconds_sum 20.0
scan_sse_chain_duration_seconds_count 8
scan_sse_chain_duration_seconds_bucket{le=\"+Inf\"} 8
# TYPE scan_sse_connections_active gauge
scan_sse_connections_active 3
";

    #[test]
    fn quantiles_interpolate_as_prometheus_does() {
        let buckets = [(0.5, 2.0), (1.0, 8.0), (f64::INFINITY, 10.0)];
        assert_eq!(
            histogram_quantile(0.5, &buckets),
            Some(0.5 + 0.5 * 3.0 / 6.0)
        );
        assert_eq!(histogram_quantile(0.1, &buckets), Some(0.25));
        assert_eq!(
            histogram_quantile(0.95, &buckets),
            Some(1.0),
            "+Inf answers the last bound"
        );
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn panels_from_a_scrape_and_a_window() {
        let end = Snapshot::parse(TEXT).unwrap();
        let view = server_view(
            "m",
            &end.since(&Snapshot::default()),
            Some(3.0),
            Duration::from_secs(5),
        );
        assert_eq!(view.requests.get("success"), Some(&9.0));
        assert_eq!(view.success_rate, Some(0.9));
        assert_eq!(view.chain_avg_s, Some(2.5));
        assert_eq!(view.ttfb_p50_s, Some(0.75));
        assert_eq!(view.rps, Some(2.0));

        let later = Snapshot::parse(
            &TEXT
                .replace("} 9", "} 19")
                .replace("connections_active 3", "connections_active 1"),
        )
        .unwrap();
        let delta = later.since(&end);
        assert_eq!(
            delta
                .by_label("scan_sse_requests_total", "status")
                .get("success"),
            Some(&10.0)
        );
        assert_eq!(
            delta.sum("scan_sse_connections_active", &[]),
            Some(1.0),
            "gauges are not differenced"
        );
    }
}
