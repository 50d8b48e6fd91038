//! Threshold verdicts over a report, with k6's semantics.
//!
//! Latency thresholds compare figures divided back by the run's time scale, so a scenario's
//! thresholds describe the modelled system whatever the scale it ran at: `p(95)<30000` on a
//! run at `time_scale = 0.02` holds when the measured p95 is under 600 ms.

use scenarios::{Aggregate, Metric, MetricKey, Threshold};

use crate::histogram::{Latency, Summary};
use crate::report::{RunReport, ThresholdResult};

/// Every threshold of the report's scenario, judged on the report's data.
pub fn evaluate(report: &RunReport) -> Vec<ThresholdResult> {
    let mut results = Vec::new();
    for (key, thresholds) in &report.scenario.thresholds {
        for threshold in thresholds {
            let observed = observe(report, key, threshold);
            results.push(ThresholdResult {
                metric: key.to_string(),
                expression: threshold.source.clone(),
                observed,
                passed: observed.is_some_and(|v| threshold.passes(v)),
            });
        }
    }
    results
}

/// Whether every threshold held.
pub fn all_passed(results: &[ThresholdResult]) -> bool {
    results.iter().all(|r| r.passed)
}

fn observe(report: &RunReport, key: &MetricKey, threshold: &Threshold) -> Option<f64> {
    let totals = &report.totals;
    let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
    match key.metric {
        Metric::Connect
        | Metric::Headers
        | Metric::SseTtfb
        | Metric::FirstStage
        | Metric::SseTotalDuration
        | Metric::StageDuration
        | Metric::LlmTtft
        | Metric::LlmItl
        | Metric::LlmTpot => {
            let metric = match (key.metric.timing(), &key.stage) {
                (Some(timing), _) => report.latency(timing),
                (None, Some(stage)) => report.stage(stage),
                (None, None) => None,
            }?;
            let h = metric.decode().ok()?;
            trend(&h, threshold.aggregate).map(|ms| ms / report.environment.time_scale)
        }
        Metric::HttpReqFailed => ratio(totals.http_failed, totals.attempted),
        Metric::ScanFailed => ratio(totals.failed_total() + totals.partial, totals.attempted),
        Metric::SseRewardNull => report.nulls.first().and_then(|n| ratio(n.nulls, n.of)),
        Metric::Iterations | Metric::DroppedIterations => {
            let count = if key.metric == Metric::Iterations {
                totals.attempted
            } else {
                totals.dropped
            };
            match threshold.aggregate {
                Aggregate::Count => Some(count as f64),
                _ => {
                    let secs = report.environment.duration_s;
                    (secs > 0.0).then(|| count as f64 / secs)
                }
            }
        }
        // A scenario with SLOs always has these; without, validation refuses the thresholds.
        Metric::Goodput => report
            .goodput
            .as_ref()
            .and_then(|g| match threshold.aggregate {
                Aggregate::Count => Some(g.good as f64),
                _ => g.per_second,
            }),
        Metric::GoodFraction => report.goodput.as_ref().and_then(|g| g.good_fraction),
    }
}

fn trend(h: &Latency, aggregate: Aggregate) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(match aggregate {
        Aggregate::Avg => h.mean() / 1000.0,
        Aggregate::Min => ms(h.min()),
        Aggregate::Max => ms(h.max()),
        Aggregate::Med => Summary::percentile(h, 50.0),
        Aggregate::Percentile(p) => Summary::percentile(h, p),
        Aggregate::Rate | Aggregate::Count => return None,
    })
}
