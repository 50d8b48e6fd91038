//! Eco²'s Grafana panels reduced from a run's scrapes, without Prometheus: each
//! [`PanelQuery`] evaluated at an instant with the PromQL of [`super::series`], its range
//! windows scaled by the run's time scale, and its value read back into the modelled system's
//! units.

use std::collections::BTreeMap;

use scenarios::published::{PanelQuery, PanelUnit};

use super::series::{Scrapes, quantile_by, sum, sum_by};

/// A panel's values at an instant: one per value of its `by` label (the empty string when
/// it has none), in the run's own (time-scaled) units.
pub type PanelValues = BTreeMap<String, f64>;

/// `query` at `at` (unix seconds) over `scrapes`, its windows multiplied by `time_scale`.
pub fn evaluate(query: &PanelQuery, scrapes: &Scrapes, at: f64, time_scale: f64) -> PanelValues {
    let single = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map(|v| (String::new(), v))
            .into_iter()
            .collect()
    };
    let keyed = |values: BTreeMap<Vec<String>, f64>| {
        values
            .into_iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(mut key, v)| (key.pop().unwrap_or_default(), v))
            .collect()
    };
    let by = |label: Option<&'static str>| -> Vec<&'static str> { label.into_iter().collect() };
    match *query {
        PanelQuery::Gauge { metric } => single(sum(&scrapes.instant(metric, &[], at))),
        PanelQuery::Average {
            histogram,
            window_s,
            by: label,
        } => {
            let window = window_s * time_scale;
            let sums = sum_by(
                &scrapes.rate(&format!("{histogram}_sum"), &[], window, at),
                &by(label),
            );
            let counts = sum_by(
                &scrapes.rate(&format!("{histogram}_count"), &[], window, at),
                &by(label),
            );
            // Vector division matches label sets: a group missing on one side has no value,
            // and 0 / 0 is NaN (dropped), as Grafana shows no number.
            keyed(
                sums.into_iter()
                    .filter_map(|(key, s)| counts.get(&key).map(|c| (key, s / c)))
                    .collect(),
            )
        }
        PanelQuery::Quantile {
            histogram,
            q,
            window_s,
            by: label,
        } => {
            let buckets = scrapes.rate(
                &format!("{histogram}_bucket"),
                &[],
                window_s * time_scale,
                at,
            );
            keyed(quantile_by(q, &buckets, &by(label)))
        }
        PanelQuery::Share {
            counter,
            label,
            value,
            window_s,
        } => {
            let window = window_s * time_scale;
            let part = sum(&scrapes.rate(counter, &[(label, value)], window, at));
            let all = sum(&scrapes.rate(counter, &[], window, at));
            single(part.zip(all).map(|(part, all)| part / all * 100.0))
        }
        PanelQuery::Rate {
            counter,
            window_s,
            by: label,
            per_s,
        } => {
            let rates = scrapes.rate(counter, &[], window_s * time_scale, at);
            match label {
                None => single(sum(&rates).map(|r| r * per_s)),
                Some(label) => keyed(
                    sum_by(&rates, &[label])
                        .into_iter()
                        .map(|(key, r)| (key, r * per_s))
                        .collect(),
                ),
            }
        }
    }
}

/// A value of a run at `time_scale`, read back into the modelled system: durations divided
/// by the scale, rates multiplied by it.
pub fn unscaled(unit: PanelUnit, value: f64, time_scale: f64) -> f64 {
    match unit {
        PanelUnit::Seconds => value / time_scale,
        PanelUnit::Rate => value * time_scale,
        PanelUnit::Percent | PanelUnit::Count => value,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use scenarios::published::{ECO2_SERIES, ECO2_TOP_ROW};

    use super::super::Snapshot;
    use super::*;

    /// Two scrapes 10 s apart of a pipeline that finished 10 scans (one timeout) between them.
    fn scrapes() -> Scrapes {
        let text = |n: u32, timeouts: u32, active: u32| {
            format!(
                "# TYPE scan_sse_requests counter\n\
                 scan_sse_requests_total{{status=\"success\"}} {n}\n\
                 scan_sse_requests_total{{status=\"timeout\"}} {timeouts}\n\
                 # TYPE scan_sse_connections_active gauge\n\
                 scan_sse_connections_active {active}\n\
                 # TYPE scan_sse_stage_duration_seconds histogram\n\
                 scan_sse_stage_duration_seconds_sum{{stage=\"vision\"}} {}\n\
                 scan_sse_stage_duration_seconds_count{{stage=\"vision\"}} {n}\n\
                 scan_sse_stage_duration_seconds_bucket{{stage=\"vision\",le=\"+Inf\"}} {n}\n",
                f64::from(n) * 0.5
            )
        };
        let mut scrapes = Scrapes::default();
        for (t, body) in [(0, text(0, 0, 4)), (10, text(9, 1, 2))] {
            let at = UNIX_EPOCH + Duration::from_secs(1000 + t);
            scrapes.push(at, &Snapshot::parse(&body).unwrap(), |_| true);
        }
        scrapes
    }

    #[test]
    fn the_panels_over_a_window_that_holds_the_run() {
        let scrapes = scrapes();
        let value = |title: &str, time_scale: f64| {
            let panel = ECO2_TOP_ROW
                .iter()
                .chain(&ECO2_SERIES)
                .find(|p| p.title == title)
                .unwrap();
            evaluate(&panel.computes, &scrapes, 1010.0, time_scale)
        };
        assert_eq!(value("Active Connections", 0.5).get(""), Some(&2.0));
        let success = value("Success Rate", 0.5)[""];
        assert!((success - 90.0).abs() < 1e-9, "{success}");
        assert!((value("Timeout Rate", 0.5)[""] - 10.0).abs() < 1e-9);
        // [1m] at time scale 0.5 is 30 s: 10 scans between the samples, not stretched before
        // the first (the counters' zero point) nor after the last (at the instant), over the
        // whole 30 s, as Prometheus divides a rate by its range.
        let rps = value("Requests/sec", 0.5)[""];
        assert!((rps - 10.0 / 30.0).abs() < 1e-9, "{rps}");
        let per_minute = value("Requests by Status (per minute)", 0.5);
        assert!(
            (per_minute["success"] - 18.0).abs() < 1e-9,
            "{per_minute:?}"
        );
        // At time scale 0.1 it is 6 s: one sample only, so no rate, as in Prometheus.
        assert!(value("Requests/sec", 0.1).is_empty());
        assert_eq!(value("Stage Avg Duration", 0.5).get("vision"), Some(&0.5));
    }

    #[test]
    fn values_read_back_into_the_modelled_system() {
        assert_eq!(unscaled(PanelUnit::Seconds, 0.5, 0.05), 10.0);
        assert_eq!(unscaled(PanelUnit::Rate, 20.0, 0.05), 1.0);
        assert_eq!(unscaled(PanelUnit::Percent, 90.0, 0.05), 90.0);
    }
}
