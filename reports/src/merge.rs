//! Shard reports combined into the report of the whole run.
//!
//! Exact where the reports allow it: histograms are added (so every percentile of the merge
//! is the percentile of all requests), counts are summed, and the per-second series are
//! aligned on each shard's start time and summed. Two figures cannot be exact, because the
//! reports keep only their results:
//! - the per-second percentiles (`ttfb_p50`, `chain_p95`, ...) of seconds that several shards
//!   share are averaged, weighted by each shard's requests in that second;
//! - the server view: shards against one shared target scraped the same counters, so the
//!   view that counted the most requests is kept; shards on their own embedded stacks are
//!   summed (counters exactly, averages and quantiles weighted by requests).
//!
//! The load generators' health combines as the worst of them: the longest timer lag, the
//! CPU of all shards together, overloaded when any shard was.
//!
//! Good requests (the scenario's `[slo]`) are summed exactly; their fraction and the goodput
//! are computed again over the merged totals and duration. Thresholds are judged again on the
//! merged figures.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::histogram::{self, Latency, new_latency};
use crate::report::{
    CountMetric, Environment, Goodput, LatencyMetric, LlmCalls, LoadgenHealth, NullCount,
    RunReport, SCHEMA_VERSION, SecondSample, ServerView, TokenStats, Totals,
};
use crate::thresholds;

/// Shards that cannot be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no shard reports given")]
    Empty,
    /// Reports of another schema version.
    #[error(
        "{label} has report schema version {found}, {first} has {expected}: merge reports written by the same scan-bench"
    )]
    Version {
        /// The odd shard.
        label: String,
        /// Its version.
        found: u32,
        /// The first shard.
        first: String,
        /// The first shard's version.
        expected: u32,
    },
    /// Reports of different scenarios.
    #[error(
        "{label} ran scenario `{found}` but {first} ran `{expected}`: only shards of one scenario merge"
    )]
    Scenario {
        /// The odd shard.
        label: String,
        /// Its scenario.
        found: String,
        /// The first shard.
        first: String,
        /// The first shard's scenario.
        expected: String,
    },
    /// The same scenario name with other settings.
    #[error(
        "{label} ran scenario `{name}` with a different `{field}` than {first}: only shards of one scenario merge"
    )]
    ScenarioSettings {
        /// The odd shard.
        label: String,
        /// The scenario.
        name: String,
        /// The first setting that differs, e.g. `load.stages`.
        field: String,
        /// The first shard.
        first: String,
    },
    /// A histogram that does not decode.
    #[error("{label}: metric `{metric}`: {message}")]
    Histogram {
        /// The shard.
        label: String,
        /// The metric.
        metric: String,
        /// Why.
        message: String,
    },
    /// A start time that does not parse.
    #[error("{label}: environment.started_at `{value}` is not an RFC 3339 time")]
    StartTime {
        /// The shard.
        label: String,
        /// The value.
        value: String,
    },
}

/// Merges labelled shard reports of one scenario into one report.
pub fn merge(shards: &[(&str, &RunReport)]) -> Result<RunReport, MergeError> {
    let (first_label, first) = *shards.first().ok_or(MergeError::Empty)?;
    for (label, shard) in &shards[1..] {
        check_compatible((first_label, first), (label, shard))?;
    }
    let starts = shards
        .iter()
        .map(|(label, s)| {
            humantime::parse_rfc3339_weak(&s.environment.started_at).map_err(|_| {
                MergeError::StartTime {
                    label: (*label).to_owned(),
                    value: s.environment.started_at.clone(),
                }
            })
        })
        .collect::<Result<Vec<SystemTime>, _>>()?;
    let earliest = *starts.iter().min().expect("at least one shard");
    let offsets: Vec<f64> = starts
        .iter()
        .map(|s| s.duration_since(earliest).unwrap_or_default().as_secs_f64())
        .collect();

    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        scenario: first.scenario.clone(),
        environment: environment(shards, &offsets),
        partial: shards.iter().any(|(_, s)| s.partial),
        totals: totals(shards.iter().map(|(_, s)| &s.totals)),
        latencies: metrics(shards, |s| &s.latencies)?,
        stages: metrics(shards, |s| &s.stages)?,
        nulls: nulls(shards),
        timeseries: timeseries(shards, &offsets),
        server: server(shards),
        thresholds: Vec::new(),
        health: None,
        goodput: None,
        tokens: None,
    };
    report.goodput = goodput(shards, &report);
    report.tokens = tokens(shards, report.environment.duration_s)?;
    report.health = health(shards, &report);
    report.thresholds = thresholds::evaluate(&report);
    Ok(report)
}

fn check_compatible(
    (first_label, first): (&str, &RunReport),
    (label, shard): (&str, &RunReport),
) -> Result<(), MergeError> {
    if shard.schema_version != first.schema_version {
        return Err(MergeError::Version {
            label: label.to_owned(),
            found: shard.schema_version,
            first: first_label.to_owned(),
            expected: first.schema_version,
        });
    }
    if shard.scenario.name != first.scenario.name {
        return Err(MergeError::Scenario {
            label: label.to_owned(),
            found: shard.scenario.name.clone(),
            first: first_label.to_owned(),
            expected: first.scenario.name.clone(),
        });
    }
    if shard.scenario != first.scenario {
        let (a, b) = (
            serde_json::to_value(&first.scenario),
            serde_json::to_value(&shard.scenario),
        );
        let field = match (a, b) {
            (Ok(a), Ok(b)) => first_difference(&a, &b, String::new()),
            _ => None,
        };
        return Err(MergeError::ScenarioSettings {
            label: label.to_owned(),
            name: shard.scenario.name.clone(),
            field: field.unwrap_or_else(|| "settings".into()),
            first: first_label.to_owned(),
        });
    }
    Ok(())
}

/// The dotted path of the first place two JSON values differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(v), Some(w)) => first_difference(v, w, join(k)),
                _ => Some(join(k)),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .find_map(|(v, w)| first_difference(v, w, path.clone())),
        _ => (a != b).then_some(path),
    }
}

fn environment(shards: &[(&str, &RunReport)], offsets: &[f64]) -> Environment {
    let first = &shards[0].1.environment;
    let earliest = shards
        .iter()
        .zip(offsets)
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("a shard")
        .0
        .1;
    let ended_at = shards
        .iter()
        .filter_map(|(_, s)| {
            humantime::parse_rfc3339_weak(&s.environment.ended_at)
                .ok()
                .map(|t| (t, &s.environment.ended_at))
        })
        .max_by_key(|(t, _)| *t)
        .map_or_else(|| first.ended_at.clone(), |(_, text)| text.clone());
    let duration_s = shards
        .iter()
        .zip(offsets)
        .map(|((_, s), o)| o + s.environment.duration_s)
        .fold(0.0, f64::max);
    Environment {
        started_at: earliest.environment.started_at.clone(),
        ended_at,
        duration_s,
        embedded: shards.iter().all(|(_, s)| s.environment.embedded),
        ..first.clone()
    }
}

/// The good requests of all shards (one scenario, so all of them judged SLOs or none did),
/// their fraction and rate over the merged totals and window.
fn goodput(shards: &[(&str, &RunReport)], merged: &RunReport) -> Option<Goodput> {
    let good = shards
        .iter()
        .map(|(_, s)| s.goodput.as_ref().map(|g| g.good))
        .sum::<Option<u64>>()?;
    Some(Goodput::new(good, &merged.totals, &merged.environment))
}

/// The shards' health: the longest lag, the CPU of all shards (only when every shard could
/// read its own), overloaded when any shard was; the scheduling lag (from the merged
/// histogram) and the CPU per completed request from `merged`.
fn health(shards: &[(&str, &RunReport)], merged: &RunReport) -> Option<LoadgenHealth> {
    let all: Vec<&LoadgenHealth> = shards
        .iter()
        .filter_map(|(_, s)| s.health.as_ref())
        .collect();
    if all.is_empty() {
        return None;
    }
    let max = |f: fn(&LoadgenHealth) -> f64| all.iter().map(|h| f(h)).fold(0.0, f64::max);
    // A sum over the shards that read theirs would pass for the whole while undercounting.
    let cpu_seconds = if all.len() == shards.len() {
        all.iter().map(|h| h.cpu_seconds).sum::<Option<f64>>()
    } else {
        None
    };
    let mut health = LoadgenHealth::new(
        max(|h| h.max_timer_lag_ms),
        max(|h| h.lag_bound_ms),
        cpu_seconds,
        merged,
    );
    health.overloaded |= all.iter().any(|h| h.overloaded);
    health.cpu_includes_embedded_stack = all.iter().any(|h| h.cpu_includes_embedded_stack);
    Some(health)
}

/// Adds each named counter of `$from` to `$into`: the counts of shards add up.
macro_rules! add_counters {
    ($into:expr, $from:expr; $($field:ident),+ $(,)?) => {
        $($into.$field += $from.$field;)+
    };
}

fn totals<'a>(all: impl Iterator<Item = &'a Totals>) -> Totals {
    let mut sum = Totals::default();
    for t in all {
        add_counters!(sum, t; attempted, completed, partial, interrupted, dropped, http_failed,
            keepalives, bytes);
        for (class, n) in &t.failed {
            *sum.failed.entry(class.clone()).or_default() += n;
        }
    }
    sum
}

/// Adds the histograms of each metric name, in the order the names first appear.
fn metrics(
    shards: &[(&str, &RunReport)],
    of: fn(&RunReport) -> &Vec<LatencyMetric>,
) -> Result<Vec<LatencyMetric>, MergeError> {
    let mut merged: Vec<(String, Option<String>, histogram::Latency)> = Vec::new();
    for (label, shard) in shards {
        for m in of(shard) {
            let h = m.decode().map_err(|e| MergeError::Histogram {
                label: (*label).to_owned(),
                metric: m.name.clone(),
                message: e.to_string(),
            })?;
            let index = match merged.iter().position(|(name, ..)| *name == m.name) {
                Some(i) => i,
                None => {
                    merged.push((m.name.clone(), m.k6_name.clone(), new_latency()));
                    merged.len() - 1
                }
            };
            merged[index]
                .2
                .add(&h)
                .expect("an auto-resizing histogram takes any other");
        }
    }
    Ok(merged
        .iter()
        .map(|(name, k6, h)| LatencyMetric::new(name, k6.as_deref(), h))
        .collect())
}

/// The shards' token counts summed and their distributions merged; none when no shard had a
/// token stream.
fn tokens(
    shards: &[(&str, &RunReport)],
    duration_s: f64,
) -> Result<Option<TokenStats>, MergeError> {
    let mut merged: Option<(TokenStats, Latency, Latency)> = None;
    for (label, shard) in shards {
        let Some(t) = &shard.tokens else { continue };
        let decode = |m: &CountMetric, metric: &str| {
            m.decode().map_err(|e| MergeError::Histogram {
                label: (*label).to_owned(),
                metric: metric.to_owned(),
                message: e.to_string(),
            })
        };
        let (counts, rates) = (
            decode(&t.output_tokens, "output_tokens")?,
            decode(&t.tokens_per_s, "tokens_per_s")?,
        );
        match &mut merged {
            None => merged = Some((t.clone(), counts, rates)),
            Some((m, c, r)) => {
                m.streams += t.streams;
                m.from_usage += t.from_usage;
                m.output_tokens_total += t.output_tokens_total;
                m.buffered += t.buffered;
                c.add(&counts)
                    .expect("an auto-resizing histogram takes any other");
                r.add(&rates)
                    .expect("an auto-resizing histogram takes any other");
            }
        }
    }
    Ok(merged.map(|(mut m, counts, rates)| {
        m.output_tokens = CountMetric::new(&counts, m.output_tokens.scale);
        m.tokens_per_s = CountMetric::new(&rates, m.tokens_per_s.scale);
        m.run_tokens_per_s = (duration_s > 0.0).then(|| m.output_tokens_total as f64 / duration_s);
        m
    }))
}

fn nulls(shards: &[(&str, &RunReport)]) -> Vec<NullCount> {
    let mut merged: Vec<NullCount> = Vec::new();
    for (_, shard) in shards {
        for n in &shard.nulls {
            match merged.iter_mut().find(|m| m.pointer == n.pointer) {
                Some(m) => {
                    m.nulls += n.nulls;
                    m.of += n.of;
                }
                None => merged.push(n.clone()),
            }
        }
    }
    merged
}

/// An average weighted by requests.
#[derive(Debug, Clone, Copy, Default)]
struct Weighted {
    sum: f64,
    weight: f64,
}

impl Weighted {
    fn add(&mut self, value: Option<f64>, weight: f64) {
        if let Some(v) = value {
            self.sum += v * weight;
            self.weight += weight;
        }
    }

    fn value(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }
}

/// Sums the series second by second, each shard shifted by its start offset.
fn timeseries(shards: &[(&str, &RunReport)], offsets: &[f64]) -> Vec<SecondSample> {
    let empty = |t| SecondSample {
        t,
        ..SecondSample::default()
    };
    // A second with a percentile but no count (should not happen) still counts once.
    let requests = |n: u64| n.max(1) as f64;
    let mut seconds: BTreeMap<u32, (SecondSample, [Weighted; 4])> = BTreeMap::new();
    for ((_, shard), offset) in shards.iter().zip(offsets) {
        let shift = offset.round() as u32;
        for s in &shard.timeseries {
            let t = s.t + shift;
            let (m, w) = seconds
                .entry(t)
                .or_insert_with(|| (empty(t), Default::default()));
            add_counters!(m, s; active_vus, started, completed, failed, partial, open_streams,
                dropped, started_actual);
            // Each shard runs its share of the arrival rate: the shares add up to the whole.
            m.target_rate = match (m.target_rate, s.target_rate) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            let ended = requests(s.completed + s.failed + s.partial);
            w[0].add(s.ttfb_p50, ended);
            w[1].add(s.ttfb_p95, ended);
            w[2].add(s.chain_p50, requests(s.completed));
            w[3].add(s.chain_p95, requests(s.completed));
        }
    }
    let Some(last) = seconds.keys().next_back().copied() else {
        return Vec::new();
    };
    // Dense, one sample per second, as a single run's series is.
    (0..=last)
        .map(|t| match seconds.remove(&t) {
            Some((mut m, w)) => {
                [m.ttfb_p50, m.ttfb_p95, m.chain_p50, m.chain_p95] = w.map(|w| w.value());
                m
            }
            None => empty(t),
        })
        .collect()
}

fn server(shards: &[(&str, &RunReport)]) -> Option<ServerView> {
    let views: Vec<&ServerView> = shards
        .iter()
        .filter_map(|(_, s)| s.server.as_ref())
        .collect();
    let first = *views.first()?;
    let counted = |v: &ServerView| v.requests.values().sum::<f64>();
    if views.iter().all(|v| v.source == first.source) {
        // One target, scraped by every shard: each view already counts everyone's requests.
        return views
            .into_iter()
            .max_by(|a, b| counted(a).total_cmp(&counted(b)))
            .cloned();
    }
    let total: f64 = views.iter().map(|v| counted(v)).sum();
    let weighted = |f: fn(&ServerView) -> Option<f64>| {
        let mut average = Weighted::default();
        for v in &views {
            average.add(f(v), counted(v));
        }
        average.value()
    };
    let summed =
        |f: fn(&ServerView) -> Option<f64>| views.iter().filter_map(|v| f(v)).reduce(|a, b| a + b);
    let mut requests: BTreeMap<String, f64> = BTreeMap::new();
    let mut stages: BTreeMap<String, Weighted> = BTreeMap::new();
    for v in &views {
        for (status, n) in &v.requests {
            *requests.entry(status.clone()).or_default() += n;
        }
        for (stage, avg) in &v.stage_avg_s {
            stages
                .entry(stage.clone())
                .or_default()
                .add(Some(*avg), counted(v));
        }
    }
    let success = requests.get("success").copied();
    Some(ServerView {
        source: views
            .iter()
            .map(|v| v.source.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        success_rate: success.filter(|_| total > 0.0).map(|s| s / total),
        chain_avg_s: weighted(|v| v.chain_avg_s),
        ttfb_p50_s: weighted(|v| v.ttfb_p50_s),
        ttfb_p95_s: weighted(|v| v.ttfb_p95_s),
        rps: summed(|v| v.rps),
        peak_connections: summed(|v| v.peak_connections),
        stage_avg_s: stages
            .into_iter()
            .filter_map(|(stage, average)| Some((stage, average.value()?)))
            .collect(),
        rejected: summed(|v| v.rejected),
        worker_success: weighted(|v| v.worker_success),
        upstream_unavailable: summed(|v| v.upstream_unavailable),
        replica_restarts: summed(|v| v.replica_restarts),
        openai_rate_limited: summed(|v| v.openai_rate_limited),
        llm_calls: merge_llm_calls(&views),
        requests,
    })
}

/// Several targets' LLM calls per stage and model: counts add up, averages are weighted by
/// calls (the p95 too, an approximation as for the TTFB percentiles).
fn merge_llm_calls(views: &[&ServerView]) -> Vec<LlmCalls> {
    let mut merged: BTreeMap<(String, String), (LlmCalls, Weighted, Weighted)> = BTreeMap::new();
    for call in views.iter().flat_map(|v| &v.llm_calls) {
        let key = (call.call.clone(), call.model.clone());
        let (sum, avg, p95) = merged.entry(key).or_insert_with(|| {
            let zero = LlmCalls {
                calls: 0.0,
                avg_s: None,
                p95_s: None,
                rate_limited: 0.0,
                retries: 0.0,
                input_tokens: 0.0,
                output_tokens: 0.0,
                ..call.clone()
            };
            (zero, Weighted::default(), Weighted::default())
        });
        sum.calls += call.calls;
        sum.rate_limited += call.rate_limited;
        sum.retries += call.retries;
        sum.input_tokens += call.input_tokens;
        sum.output_tokens += call.output_tokens;
        avg.add(call.avg_s, call.calls);
        p95.add(call.p95_s, call.calls);
    }
    merged
        .into_values()
        .map(|(sum, avg, p95)| LlmCalls {
            avg_s: avg.value(),
            p95_s: p95.value(),
            ..sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_differing_setting() {
        let a = json!({"name": "x", "load": {"stages": [{"target": 8}], "think_time": "1s"}});
        let b = json!({"name": "x", "load": {"stages": [{"target": 9}], "think_time": "1s"}});
        assert_eq!(
            first_difference(&a, &b, String::new()).as_deref(),
            Some("load.stages.target")
        );
        let c = json!({"name": "x", "load": {"stages": [], "think_time": "1s"}});
        assert_eq!(
            first_difference(&a, &c, String::new()).as_deref(),
            Some("load.stages")
        );
        assert_eq!(first_difference(&a, &a, String::new()), None);
    }
}
