//! The target's metrics over a run: every scrape's samples, and the PromQL a Grafana panel
//! evaluates over them, at an instant, as Prometheus 2.x does. Only the functions Eco²'s
//! dashboard uses are here: an instant selector (the last sample within the lookback),
//! `rate` over a range (closed at both ends, extrapolated as Prometheus extrapolates it),
//! `sum by`, and `histogram_quantile`.
//!
//! The rules follow Prometheus's `promql/functions.go` (`extrapolatedRate`): a range needs
//! two samples; the increase between its first and last sample (counter resets added back)
//! is stretched to the range's edges when a sample lies within 1.1 average intervals of the
//! edge, by half an interval otherwise, and never below the counter's zero point.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Labels, Snapshot, has_labels, histogram_quantile};

/// Prometheus's default `--query.lookback-delta`: how old the last sample an instant selector
/// takes may be.
pub const LOOKBACK_S: f64 = 300.0;

/// Every scrape of a run: each series' `(unix milliseconds, value)` samples in time order.
/// Times are whole milliseconds, as Prometheus keeps them, so that a range's edges fall
/// where Prometheus's fall: in float seconds since 1970 they would be off by ~0.1 µs.
#[derive(Debug, Clone, Default)]
pub struct Scrapes {
    times: Vec<i64>,
    series: BTreeMap<(String, Labels), Vec<(i64, f64)>>,
}

/// Unix seconds to whole milliseconds.
fn ms(unix_s: f64) -> i64 {
    (unix_s * 1000.0).round() as i64
}

/// One series' value: its labels and the value.
pub type Value<'a> = (&'a Labels, f64);

/// Seconds since the Unix epoch, as Prometheus timestamps samples and takes `time=`.
pub fn unix_s(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Scrapes {
    /// Adds a scrape that started at `at` (Prometheus stamps a scrape's samples with its
    /// start), keeping the series of the metrics `keep` names.
    pub fn push(&mut self, at: SystemTime, snapshot: &Snapshot, keep: impl Fn(&str) -> bool) {
        let at = ms(unix_s(at));
        self.times.push(at);
        for ((name, labels), value) in &snapshot.series {
            if keep(name) {
                self.series
                    .entry((name.clone(), labels.clone()))
                    .or_default()
                    .push((at, *value));
            }
        }
    }

    /// Adds one series' samples as another scraper took them (Prometheus's own, for
    /// checking this reduction against its answers on the same samples).
    pub fn insert_series(&mut self, name: &str, mut labels: Labels, samples: &[(f64, f64)]) {
        labels.sort();
        let series = self.series.entry((name.to_owned(), labels)).or_default();
        series.extend(samples.iter().map(|&(t, v)| (ms(t), v)));
        series.sort_by_key(|&(t, _)| t);
        for &(t, _) in samples {
            if let Err(at) = self.times.binary_search(&ms(t)) {
                self.times.insert(at, ms(t));
            }
        }
    }

    /// When each scrape started, in unix seconds.
    pub fn times(&self) -> impl Iterator<Item = f64> + '_ {
        self.times.iter().map(|&t| t as f64 / 1000.0)
    }

    fn matching(&self, name: &str, filter: &[(&str, &str)]) -> Vec<(&Labels, &[(i64, f64)])> {
        self.series
            .iter()
            .filter(|((metric, labels), _)| metric == name && has_labels(labels, filter))
            .map(|((_, labels), samples)| (labels, samples.as_slice()))
            .collect()
    }

    /// `name{filter}` at `at`: each series' last sample no older than the lookback.
    pub fn instant(&self, name: &str, filter: &[(&str, &str)], at: f64) -> Vec<Value<'_>> {
        self.matching(name, filter)
            .into_iter()
            .filter_map(|(labels, samples)| {
                let at = ms(at);
                let last = samples.iter().rev().find(|(t, _)| *t <= at)?;
                (at - last.0 <= ms(LOOKBACK_S)).then_some((labels, last.1))
            })
            .collect()
    }

    /// `rate(name{filter}[window_s])` at `at`, per series; a series with fewer than two
    /// samples in the range has no value, as in Prometheus.
    pub fn rate(
        &self,
        name: &str,
        filter: &[(&str, &str)],
        window_s: f64,
        at: f64,
    ) -> Vec<Value<'_>> {
        self.matching(name, filter)
            .into_iter()
            .filter_map(|(labels, samples)| {
                let (end, start) = (ms(at), ms(at) - ms(window_s));
                let inside: Vec<(i64, f64)> = samples
                    .iter()
                    .copied()
                    .filter(|(t, _)| (start..=end).contains(t))
                    .collect();
                Some((labels, extrapolated_rate(&inside, start, end)?))
            })
            .collect()
    }
}

/// Prometheus's `extrapolatedRate` for a counter over `[start, end]` (unix milliseconds), as a
/// per-second rate.
fn extrapolated_rate(samples: &[(i64, f64)], start: i64, end: i64) -> Option<f64> {
    let seconds = |from: i64, to: i64| (to - from) as f64 / 1000.0;
    let (&(first_t, first_v), &(last_t, last_v)) = (samples.first()?, samples.last()?);
    if samples.len() < 2 {
        return None;
    }
    let mut increase = last_v - first_v;
    for pair in samples.windows(2) {
        // A counter reset: the value before it was counted up to, then restarted from 0.
        if pair[1].1 < pair[0].1 {
            increase += pair[0].1;
        }
    }
    let sampled = seconds(first_t, last_t);
    let average = sampled / (samples.len() - 1) as f64;
    let mut to_start = seconds(start, first_t);
    let to_end = seconds(last_t, end);
    if increase > 0.0 && first_v >= 0.0 {
        // Not extrapolated below the counter's zero point.
        to_start = to_start.min(sampled * (first_v / increase));
    }
    let threshold = average * 1.1;
    let edge = |gap: f64| if gap < threshold { gap } else { average / 2.0 };
    let extrapolated = sampled + edge(to_start) + edge(to_end);
    Some(increase * extrapolated / sampled / seconds(start, end))
}

/// `sum by (labels) (values)`: the values of the series that have every label in `by`,
/// summed per combination of their values.
pub fn sum_by(values: &[Value<'_>], by: &[&str]) -> BTreeMap<Vec<String>, f64> {
    let mut out = BTreeMap::new();
    for (labels, v) in values {
        let key: Option<Vec<String>> = by
            .iter()
            .map(|l| labels.iter().find(|(k, _)| k == l).map(|(_, v)| v.clone()))
            .collect();
        if let Some(key) = key {
            *out.entry(key).or_default() += v;
        }
    }
    out
}

/// `sum(values)`; `None` for an empty vector (Prometheus's `sum` of nothing is no series).
pub fn sum(values: &[Value<'_>]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().map(|(_, v)| v).sum())
}

/// `histogram_quantile(q, sum by (group..., le) (bucket rates))` per combination of the
/// `group` labels' values.
pub fn quantile_by(q: f64, buckets: &[Value<'_>], group: &[&str]) -> BTreeMap<Vec<String>, f64> {
    let mut by: Vec<&str> = group.to_vec();
    by.push("le");
    let mut groups: BTreeMap<Vec<String>, Vec<(f64, f64)>> = BTreeMap::new();
    for (mut key, rate) in sum_by(buckets, &by) {
        let Some(le) = key.pop().and_then(|le| super::parse_le(&le)) else {
            continue;
        };
        groups.entry(key).or_default().push((le, rate));
    }
    groups
        .into_iter()
        .filter_map(|(key, mut buckets)| {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            Some((key, histogram_quantile(q, &buckets)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn counter(values: &[(f64, f64)]) -> Scrapes {
        let mut scrapes = Scrapes::default();
        for &(t, v) in values {
            let snapshot = Snapshot::parse(&format!(
                "# TYPE requests counter\nrequests_total{{status=\"success\"}} {v}\n"
            ))
            .unwrap();
            scrapes.push(UNIX_EPOCH + Duration::from_secs_f64(t), &snapshot, |_| true);
        }
        scrapes
    }

    #[test]
    fn rate_extrapolates_to_the_range_edges_as_prometheus_does() {
        // Samples every 10 s from t=5 s, the counter growing 1 per second from 100.
        let samples: Vec<(f64, f64)> = (0..6)
            .map(|i| (5.0 + 10.0 * i as f64, 105.0 + 10.0 * i as f64))
            .collect();
        let scrapes = counter(&samples);
        // [0, 60]: first sample 5 s in, last 5 s before the end, both within 1.1 intervals.
        let rate = scrapes.rate("requests_total", &[], 60.0, 60.0);
        assert_eq!(rate.len(), 1);
        assert!((rate[0].1 - 1.0).abs() < 1e-9, "{}", rate[0].1);
        // A window holding one sample has no rate.
        assert!(scrapes.rate("requests_total", &[], 5.0, 30.0).is_empty());
        // Samples at 15, 25, 35 in [10, 40]: increase 20 over 20 s, both edges 5 s away,
        // within 1.1 intervals: stretched to 30 s.
        let rate = scrapes.rate("requests_total", &[], 30.0, 40.0)[0].1;
        assert!((rate - 1.0).abs() < 1e-9, "{rate}");
        // [20, 80]: the last sample (55) is 25 s from the end, beyond 1.1 intervals: that
        // edge is stretched by half an interval only (30 + 5 + 5 = 40 s of 60).
        let rate = scrapes.rate("requests_total", &[], 60.0, 80.0)[0].1;
        assert!((rate - 30.0 * 40.0 / 30.0 / 60.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn rate_stops_at_the_counters_zero_point_and_adds_back_resets() {
        // 1 at 10 s, 9 at 30 s: stretching to the range's start at 0 would take the counter
        // below zero; its zero point is 20 s * 1 / 8 = 2.5 s before the first sample.
        let scrapes = counter(&[(10.0, 1.0), (20.0, 5.0), (30.0, 9.0)]);
        let rate = scrapes.rate("requests_total", &[], 30.0, 30.0)[0].1;
        assert!((rate - 8.0 * 22.5 / 20.0 / 30.0).abs() < 1e-9, "{rate}");
        // A reset (3 -> 1) counts as the 3 before it plus the 1 after.
        let reset = counter(&[(0.0, 0.0), (10.0, 3.0), (20.0, 1.0)]);
        let rate = reset.rate("requests_total", &[], 20.0, 20.0)[0].1;
        assert!((rate - 4.0 / 20.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn instant_takes_the_last_sample_within_the_lookback() {
        let scrapes = counter(&[(0.0, 1.0), (10.0, 2.0)]);
        assert_eq!(scrapes.instant("requests_total", &[], 15.0)[0].1, 2.0);
        assert_eq!(scrapes.instant("requests_total", &[], 5.0)[0].1, 1.0);
        assert!(
            scrapes
                .instant("requests_total", &[], 10.0 + LOOKBACK_S + 1.0)
                .is_empty()
        );
        assert!(
            scrapes
                .instant("requests_total", &[("status", "failed")], 15.0)
                .is_empty()
        );
    }

    #[test]
    fn quantiles_group_by_labels() {
        let labels = |stage: &str, le: &str| {
            vec![
                ("le".to_owned(), le.to_owned()),
                ("stage".to_owned(), stage.to_owned()),
            ]
        };
        let (a1, a2, b1, b2) = (
            labels("a", "1"),
            labels("a", "+Inf"),
            labels("b", "1"),
            labels("b", "+Inf"),
        );
        let values: Vec<Value<'_>> = vec![(&a1, 1.0), (&a2, 2.0), (&b1, 2.0), (&b2, 2.0)];
        let q = quantile_by(0.5, &values, &["stage"]);
        assert_eq!(q.get(&vec!["a".to_owned()]), Some(&1.0));
        assert_eq!(q.get(&vec!["b".to_owned()]), Some(&0.5));
    }
}
