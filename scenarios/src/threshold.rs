//! Thresholds in k6's syntax, parsed into typed expressions.
//!
//! A threshold is `aggregation operator value`, as in k6: `p(95)<8000`, `avg<=3000`,
//! `rate<0.3`, `count==0`. Latencies are in milliseconds, as in k6. Thresholds are keyed by
//! metric; stage latencies take k6's tag syntax: `"stage_duration{stage:vision}"`.
//!
//! ```
//! use scenarios::{Aggregate, Metric, MetricKey, Op, Threshold};
//!
//! let t: Threshold = "p(95)<8000".parse().unwrap();
//! assert_eq!(t.aggregate, Aggregate::Percentile(95.0));
//! assert_eq!(t.op, Op::Lt);
//! assert!(t.passes(7999.0) && !t.passes(8000.0));
//!
//! let key: MetricKey = "stage_duration{stage:vision}".parse().unwrap();
//! assert_eq!(key.metric, Metric::StageDuration);
//! assert_eq!(key.stage.as_deref(), Some("vision"));
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a metric measures, which decides the aggregations it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A latency distribution in milliseconds: `avg`, `min`, `max`, `med`, `p(N)`.
    Trend,
    /// A fraction of requests between 0 and 1: `rate`.
    Rate,
    /// A count over the run: `count`, and `rate` per second.
    Counter,
}

/// A metric thresholds can be set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// TCP (and TLS) connection set-up.
    Connect,
    /// Request start to response headers.
    Headers,
    /// Request start to the first body byte (k6's `sse_ttfb`; alias `ttfb`).
    SseTtfb,
    /// Request start to the first stage event (the seed dashboard's server-side TTFB).
    FirstStage,
    /// Request start to the terminal event (k6's `sse_total_duration`; alias `chain`).
    SseTotalDuration,
    /// One stage, started to completed; needs the `{stage:NAME}` tag.
    StageDuration,
    /// Fraction of requests that failed at the HTTP level: no connection, closed before or
    /// unparseable response head, non-2xx status, timeout before the head (k6's
    /// `http_req_failed`).
    HttpReqFailed,
    /// Fraction of requests that did not complete every stage (any failure or partial).
    ScanFailed,
    /// Fraction of completed runs whose terminal event had a `null` at a checked pointer
    /// (the seed's `sse_reward_null`).
    SseRewardNull,
    /// Requests started.
    Iterations,
    /// Requests the open model could not start for want of a free virtual user.
    DroppedIterations,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Metric; 11] = [
        Metric::Connect,
        Metric::Headers,
        Metric::SseTtfb,
        Metric::FirstStage,
        Metric::SseTotalDuration,
        Metric::StageDuration,
        Metric::HttpReqFailed,
        Metric::ScanFailed,
        Metric::SseRewardNull,
        Metric::Iterations,
        Metric::DroppedIterations,
    ];

    /// The name used in scenario files and reports (k6's where k6 has one).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Connect => "connect",
            Metric::Headers => "headers",
            Metric::SseTtfb => "sse_ttfb",
            Metric::FirstStage => "first_stage",
            Metric::SseTotalDuration => "sse_total_duration",
            Metric::StageDuration => "stage_duration",
            Metric::HttpReqFailed => "http_req_failed",
            Metric::ScanFailed => "scan_failed",
            Metric::SseRewardNull => "sse_reward_null",
            Metric::Iterations => "iterations",
            Metric::DroppedIterations => "dropped_iterations",
        }
    }

    /// What the metric measures.
    pub fn kind(self) -> MetricKind {
        match self {
            Metric::Connect
            | Metric::Headers
            | Metric::SseTtfb
            | Metric::FirstStage
            | Metric::SseTotalDuration
            | Metric::StageDuration => MetricKind::Trend,
            Metric::HttpReqFailed | Metric::ScanFailed | Metric::SseRewardNull => MetricKind::Rate,
            Metric::Iterations | Metric::DroppedIterations => MetricKind::Counter,
        }
    }

    fn from_name(name: &str) -> Option<Metric> {
        match name {
            "ttfb" => Some(Metric::SseTtfb),
            "chain" => Some(Metric::SseTotalDuration),
            _ => Metric::ALL.into_iter().find(|m| m.name() == name),
        }
    }
}

/// A metric, with the stage it is restricted to for `stage_duration`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    /// The metric.
    pub metric: Metric,
    /// The `{stage:NAME}` tag.
    pub stage: Option<String>,
}

impl fmt::Display for MetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stage {
            Some(stage) => write!(f, "{}{{stage:{stage}}}", self.metric.name()),
            None => f.write_str(self.metric.name()),
        }
    }
}

impl FromStr for MetricKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, tag) = match s.split_once('{') {
            Some((name, rest)) => {
                let tag = rest.strip_suffix('}').ok_or_else(|| {
                    format!("unclosed tag in `{s}`: expected `name{{stage:STAGE}}`")
                })?;
                (name.trim(), Some(tag))
            }
            None => (s.trim(), None),
        };
        let metric = Metric::from_name(name).ok_or_else(|| {
            let known: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
            format!(
                "unknown metric `{name}`: expected one of {}",
                known.join(", ")
            )
        })?;
        let stage = match tag {
            None => None,
            Some(tag) => match tag.split_once(':') {
                Some(("stage", stage)) if !stage.trim().is_empty() => Some(stage.trim().to_owned()),
                _ => {
                    return Err(format!(
                        "unknown tag `{{{tag}}}`: expected `{{stage:STAGE}}`"
                    ));
                }
            },
        };
        match (metric, &stage) {
            (Metric::StageDuration, None) => {
                Err("`stage_duration` needs a stage: `stage_duration{stage:vision}`".into())
            }
            (m, Some(_)) if m != Metric::StageDuration => Err(format!(
                "`{}` takes no tag; only `stage_duration` has stages",
                m.name()
            )),
            _ => Ok(MetricKey { metric, stage }),
        }
    }
}

/// How a threshold reduces a metric to one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// Mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Median, `p(50)`.
    Med,
    /// The given percentile, 0 to 100.
    Percentile(f64),
    /// Fraction (rate metrics) or per-second rate (counters).
    Rate,
    /// Total count.
    Count,
}

impl Aggregate {
    /// Whether this aggregation applies to a metric of `kind`, as in k6.
    pub fn applies_to(self, kind: MetricKind) -> bool {
        match self {
            Aggregate::Avg
            | Aggregate::Min
            | Aggregate::Max
            | Aggregate::Med
            | Aggregate::Percentile(_) => kind == MetricKind::Trend,
            Aggregate::Rate => kind != MetricKind::Trend,
            Aggregate::Count => kind == MetricKind::Counter,
        }
    }
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` (k6 also spells it `===`)
    Eq,
    /// `!=`
    Ne,
}

/// One threshold expression, kept with the text it was written as.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written, for reports.
    pub source: String,
    /// How the metric is reduced.
    pub aggregate: Aggregate,
    /// How the reduced value is compared.
    pub op: Op,
    /// What it is compared with (milliseconds for latencies).
    pub value: f64,
}

impl Threshold {
    /// Whether a reduced metric value satisfies the threshold.
    pub fn passes(&self, observed: f64) -> bool {
        match self.op {
            Op::Lt => observed < self.value,
            Op::Le => observed <= self.value,
            Op::Gt => observed > self.value,
            Op::Ge => observed >= self.value,
            Op::Eq => observed == self.value,
            Op::Ne => observed != self.value,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

const EXPECTED_FORM: &str = "expected `aggregation operator value` as in k6, e.g. `p(95)<8000`, \
                             `avg<=3000`, `rate<0.3`, `count==0`";

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let op_at = text
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| format!("invalid threshold `{s}`: no operator; {EXPECTED_FORM}"))?;
        let (lhs, rest) = text.split_at(op_at);
        let (op, value) = [
            ("===", Op::Eq),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(token, op)| rest.strip_prefix(token).map(|v| (op, v)))
        .ok_or_else(|| format!("invalid threshold `{s}`: bad operator; {EXPECTED_FORM}"))?;
        let aggregate =
            parse_aggregate(lhs.trim()).map_err(|why| format!("invalid threshold `{s}`: {why}"))?;
        let value: f64 = value.trim().parse().map_err(|_| {
            format!(
                "invalid threshold `{s}`: `{}` is not a number; {EXPECTED_FORM}",
                value.trim()
            )
        })?;
        if !value.is_finite() {
            return Err(format!("invalid threshold `{s}`: the value must be finite"));
        }
        Ok(Threshold {
            source: text.to_owned(),
            aggregate,
            op,
            value,
        })
    }
}

fn parse_aggregate(text: &str) -> Result<Aggregate, String> {
    match text {
        "avg" => Ok(Aggregate::Avg),
        "min" => Ok(Aggregate::Min),
        "max" => Ok(Aggregate::Max),
        "med" => Ok(Aggregate::Med),
        "rate" => Ok(Aggregate::Rate),
        "count" => Ok(Aggregate::Count),
        _ => {
            let inner = text
                .strip_prefix("p(")
                .and_then(|t| t.strip_suffix(')'))
                .ok_or_else(|| {
                    format!(
                        "unknown aggregation `{text}`: expected avg, min, max, med, p(N), rate \
                         or count"
                    )
                })?;
            let p: f64 = inner
                .trim()
                .parse()
                .map_err(|_| format!("percentile `{inner}` is not a number"))?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("percentile {p} is out of range: expected 0 to 100"));
            }
            Ok(Aggregate::Percentile(p))
        }
    }
}

macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_str!(MetricKey);
serde_via_str!(Threshold);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k6_forms() {
        let cases = [
            ("p(95)<8000", Aggregate::Percentile(95.0), Op::Lt, 8000.0),
            ("p(99.9) <= 1.5", Aggregate::Percentile(99.9), Op::Le, 1.5),
            ("avg>=10", Aggregate::Avg, Op::Ge, 10.0),
            ("rate<0.3", Aggregate::Rate, Op::Lt, 0.3),
            ("count===0", Aggregate::Count, Op::Eq, 0.0),
            ("med!=3", Aggregate::Med, Op::Ne, 3.0),
            ("max>2", Aggregate::Max, Op::Gt, 2.0),
        ];
        for (text, aggregate, op, value) in cases {
            let t: Threshold = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (t.aggregate, t.op, t.value),
                (aggregate, op, value),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_forms_with_the_reason() {
        for (text, why) in [
            ("p(101)<5", "out of range"),
            ("p(x)<5", "not a number"),
            ("p95<5", "unknown aggregation"),
            ("avg 5", "no operator"),
            ("avg<fast", "not a number"),
            ("avg=<5", "bad operator"),
        ] {
            let err = text.parse::<Threshold>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn operators_compare_as_written() {
        let t = |s: &str| s.parse::<Threshold>().unwrap();
        assert!(t("rate<0.3").passes(0.29) && !t("rate<0.3").passes(0.3));
        assert!(t("rate<=0.3").passes(0.3));
        assert!(t("count==0").passes(0.0) && !t("count!=0").passes(0.0));
    }

    #[test]
    fn metric_keys_and_aliases() {
        let key = |s: &str| s.parse::<MetricKey>();
        assert_eq!(key("ttfb").unwrap(), key("sse_ttfb").unwrap());
        assert_eq!(key("chain").unwrap().to_string(), "sse_total_duration");
        assert_eq!(
            key("stage_duration{stage:rule}").unwrap().to_string(),
            "stage_duration{stage:rule}"
        );
        assert!(
            key("latency")
                .unwrap_err()
                .contains("unknown metric `latency`")
        );
        assert!(key("stage_duration").unwrap_err().contains("needs a stage"));
        assert!(
            key("sse_ttfb{stage:vision}")
                .unwrap_err()
                .contains("takes no tag")
        );
        assert!(
            key("stage_duration{step:vision}")
                .unwrap_err()
                .contains("unknown tag")
        );
    }

    #[test]
    fn aggregations_fit_metric_kinds() {
        assert!(Aggregate::Percentile(95.0).applies_to(MetricKind::Trend));
        assert!(!Aggregate::Rate.applies_to(MetricKind::Trend));
        assert!(Aggregate::Rate.applies_to(MetricKind::Rate));
        assert!(!Aggregate::Count.applies_to(MetricKind::Rate));
        assert!(Aggregate::Count.applies_to(MetricKind::Counter));
    }
}
