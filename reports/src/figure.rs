//! Named figures of a report, such as `chain.p95` or `vision.mean`: what `compare` lines up
//! and what the gate checks.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use scenarios::Timing;

use crate::histogram::Latency;
use crate::report::{LatencyMetric, RunReport};

/// A statistic of a latency distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// The mean.
    Mean,
    /// A percentile from 0 (the minimum) to 100 (the maximum).
    Percentile(f64),
}

impl Stat {
    /// The statistic of a histogram of microseconds, in milliseconds; `None` when empty.
    pub fn of(self, h: &Latency) -> Option<f64> {
        if h.is_empty() {
            return None;
        }
        Some(match self {
            Stat::Mean => h.mean() / 1000.0,
            Stat::Percentile(p) => h.value_at_quantile(p / 100.0) as f64 / 1000.0,
        })
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Stat::Mean => f.write_str("mean"),
            Stat::Percentile(0.0) => f.write_str("min"),
            Stat::Percentile(100.0) => f.write_str("max"),
            Stat::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

impl FromStr for Stat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "unknown statistic `{text}`: expected mean, min, max or a percentile such as p50, p95, p99.9"
            )
        };
        match text {
            "mean" | "avg" => Ok(Stat::Mean),
            "med" | "median" => Ok(Stat::Percentile(50.0)),
            "min" => Ok(Stat::Percentile(0.0)),
            "max" => Ok(Stat::Percentile(100.0)),
            _ => {
                let p: f64 = text
                    .strip_prefix('p')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(expected)?;
                if (0.0..=100.0).contains(&p) {
                    Ok(Stat::Percentile(p))
                } else {
                    Err(expected())
                }
            }
        }
    }
}

/// A statistic of one of a report's latency metrics or stages, written `metric.stat`:
/// `chain.p95`, `ttfb.p50`, `vision.mean`. k6's names work too (`sse_total_duration.p95`).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// A latency metric (`headers`, `ttfb`, `first_stage`, `chain`, or its k6 name) or a stage.
    pub metric: String,
    /// Which statistic of it.
    pub stat: Stat,
}

impl Figure {
    /// A figure of that metric and statistic.
    pub fn new(metric: &str, stat: Stat) -> Self {
        Self {
            metric: metric.to_owned(),
            stat,
        }
    }

    /// The report's distribution this figure is read from, if the report has it.
    pub fn metric_of<'r>(&self, report: &'r RunReport) -> Option<&'r LatencyMetric> {
        Timing::from_name(&self.metric)
            .and_then(|timing| report.latency(timing))
            .or_else(|| report.stage(&self.metric))
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.metric, self.stat)
    }
}

impl FromStr for Figure {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (metric, stat) = text
            .split_once('.')
            .filter(|(m, _)| !m.is_empty())
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a figure: expected METRIC.STAT, e.g. chain.p95 or vision.mean"
                )
            })?;
        Ok(Figure {
            metric: metric.to_owned(),
            stat: stat.parse()?,
        })
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_latency;

    #[test]
    fn parses_and_prints_figures() {
        for (text, metric, stat) in [
            ("chain.p95", "chain", Stat::Percentile(95.0)),
            ("ttfb.p99.9", "ttfb", Stat::Percentile(99.9)),
            ("vision.mean", "vision", Stat::Mean),
            ("answer.avg", "answer", Stat::Mean),
            ("chain.max", "chain", Stat::Percentile(100.0)),
        ] {
            let figure: Figure = text.parse().unwrap();
            assert_eq!(figure, Figure::new(metric, stat), "{text}");
        }
        assert_eq!(
            Figure::new("ttfb", Stat::Percentile(99.9)).to_string(),
            "ttfb.p99.9"
        );
        assert_eq!(Figure::new("chain", Stat::Mean).to_string(), "chain.mean");
        for bad in ["chain", ".p95", "chain.p101", "chain.q95", "chain.p"] {
            let err = bad.parse::<Figure>().unwrap_err();
            assert!(
                err.contains(bad.split('.').nth(1).unwrap_or(bad)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn statistics_read_the_histogram() {
        let mut h = new_latency();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        assert_eq!(
            Stat::Percentile(50.0).of(&h),
            Some(h.value_at_quantile(0.5) as f64 / 1000.0)
        );
        assert_eq!(
            Stat::Percentile(100.0).of(&h),
            Some(h.max() as f64 / 1000.0)
        );
        assert!((Stat::Mean.of(&h).unwrap() - 500.5).abs() < 0.5);
        assert_eq!(Stat::Mean.of(&new_latency()), None);
    }
}
