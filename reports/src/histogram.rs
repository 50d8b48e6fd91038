//! HDR histograms of latencies (microseconds, 3 significant digits), their summaries and
//! their serialized form (V2 + deflate, base64) that keeps a report exactly mergeable.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// A latency histogram in microseconds.
pub type Latency = Histogram<u64>;

/// A new, empty latency histogram (3 significant digits, resizing as needed).
pub fn new_latency() -> Latency {
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

/// The histogram as base64 of its V2 deflate serialization.
pub fn encode(histogram: &Latency) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serializing into memory does not fail");
    STANDARD.encode(bytes)
}

/// A histogram that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("invalid serialized histogram: {0}")]
pub struct DecodeError(String);

/// Reads back what [`encode`] wrote.
pub fn decode(text: &str) -> Result<Latency, DecodeError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| DecodeError(e.to_string()))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| DecodeError(format!("{e:?}")))
}

/// The usual figures of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

impl Summary {
    /// The summary of a histogram of microseconds.
    pub fn of(h: &Latency) -> Self {
        Self::scaled(h, 1000.0)
    }

    /// The summary of a histogram of values times `scale`, in the values' unit (`of` is
    /// `scaled(h, 1000.0)`: microseconds to milliseconds).
    pub fn scaled(h: &Latency, scale: f64) -> Self {
        if h.is_empty() {
            return Summary {
                count: 0,
                mean: 0.0,
                min: 0.0,
                p50: 0.0,
                p90: 0.0,
                p95: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
            };
        }
        let ms = |v: u64| v as f64 / scale;
        Summary {
            count: h.len(),
            mean: h.mean() / scale,
            min: ms(h.min()),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }

    /// The value of a percentile from 0 to 100, in milliseconds, read from the histogram.
    pub fn percentile(h: &Latency, p: f64) -> f64 {
        h.value_at_quantile(p / 100.0) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly() {
        let mut h = new_latency();
        for v in [1u64, 250, 999, 1_000, 12_345, 4_500_000, 60_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(Summary::of(&back), Summary::of(&h));
    }

    #[test]
    fn summaries_match_hdrhistogram() {
        let mut h = new_latency();
        for v in 1..=10_000u64 {
            h.record(v * 100).unwrap();
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 10_000);
        assert_eq!(s.p50, h.value_at_quantile(0.5) as f64 / 1000.0);
        assert!((s.p50 - 500.0).abs() / 500.0 < 0.001, "{}", s.p50);
        assert!((s.p99 - 990.0).abs() / 990.0 < 0.001, "{}", s.p99);
        assert_eq!(s.min, 0.1);
        assert!((s.mean - 500.05).abs() < 0.5);
    }

    #[test]
    fn merged_halves_equal_the_whole() {
        let (mut a, mut b, mut whole) = (new_latency(), new_latency(), new_latency());
        for v in 1..=5_000u64 {
            let value = v * v % 1_000_003;
            whole.record(value).unwrap();
            if v % 2 == 0 {
                a.record(value).unwrap()
            } else {
                b.record(value).unwrap()
            }
        }
        let mut merged = decode(&encode(&a)).unwrap();
        merged.add(decode(&encode(&b)).unwrap()).unwrap();
        assert_eq!(Summary::of(&merged), Summary::of(&whole));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(decode("not base64!").is_err());
        assert!(decode("AAAA").is_err());
    }
}
