//! [`Spread`]: a delay drawn afresh each time, fixed or lognormal.

use std::fmt;
use std::time::Duration;

use rand_distr::{Distribution, LogNormal};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// A delay: fixed (`"300ms"`), or lognormal with a median and a 95th percentile
/// (`{ median = "300ms", p95 = "900ms" }`), the shape of I/O latencies.
///
/// ```
/// use std::time::Duration;
/// use reference_pipeline::Spread;
///
/// let fixed = Spread::fixed(Duration::from_millis(300));
/// assert_eq!(fixed.draw(), Duration::from_millis(300));
/// assert_eq!(fixed.scaled(0.1).draw(), Duration::from_millis(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// The median (the value itself when fixed).
    pub median: Duration,
    /// The 95th percentile; `None` = fixed.
    pub p95: Option<Duration>,
}

/// z of the 95th percentile of a standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

impl Spread {
    /// Always `d`.
    pub const fn fixed(d: Duration) -> Self {
        Self {
            median: d,
            p95: None,
        }
    }

    /// Median and 95th percentile multiplied by `factor` (the time scale).
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            median: self.median.mul_f64(factor),
            p95: self.p95.map(|p95| p95.mul_f64(factor)),
        }
    }

    /// One draw.
    pub fn draw(&self) -> Duration {
        let median = self.median.as_secs_f64();
        let secs = match self.p95 {
            Some(p95) if median > 0.0 && p95 > self.median => {
                let sigma = (p95.as_secs_f64() / median).ln() / Z95;
                LogNormal::new(median.ln(), sigma).map_or(median, |d| d.sample(&mut rand::rng()))
            }
            _ => median,
        };
        Duration::from_secs_f64(secs)
    }

    /// Checks that the 95th percentile is not below the median.
    pub(crate) fn is_ordered(&self) -> bool {
        self.p95.is_none_or(|p95| p95 >= self.median)
    }
}

impl Serialize for Spread {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = |d: Duration| humantime::format_duration(d).to_string();
        match self.p95 {
            None => serializer.serialize_str(&text(self.median)),
            Some(p95) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("median", &text(self.median))?;
                map.serialize_entry("p95", &text(p95))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Spread {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SpreadVisitor)
    }
}

struct SpreadVisitor;

fn parse_duration<E: de::Error>(text: &str) -> Result<Duration, E> {
    humantime::parse_duration(text)
        .map_err(|e| E::custom(format!("{text:?} is not a duration such as \"300ms\": {e}")))
}

impl<'de> Visitor<'de> for SpreadVisitor {
    type Value = Spread;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"300ms\", or { median = \"300ms\", p95 = \"900ms\" }")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Spread, E> {
        Ok(Spread::fixed(parse_duration(text)?))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spread, A::Error> {
        let (mut median, mut p95) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            match key.as_str() {
                "median" => median = Some(parse_duration(&value)?),
                "p95" => p95 = Some(parse_duration(&value)?),
                other => return Err(de::Error::unknown_field(other, &["median", "p95"])),
            }
        }
        let median = median.ok_or_else(|| de::Error::missing_field("median"))?;
        Ok(Spread { median, p95 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        d: Spread,
    }

    #[test]
    fn reads_a_duration_or_a_median_with_p95() {
        let h: Holder = toml::from_str("d = \"250ms\"").unwrap();
        assert_eq!(h.d, Spread::fixed(Duration::from_millis(250)));
        let h: Holder = toml::from_str("d = { median = \"1s\", p95 = \"3s\" }").unwrap();
        assert_eq!(h.d.p95, Some(Duration::from_secs(3)));
        let err = toml::from_str::<Holder>("d = { median = \"1s\", p99 = \"3s\" }").unwrap_err();
        assert!(err.to_string().contains("unknown field `p99`"), "{err}");
        let err = toml::from_str::<Holder>("d = 5").unwrap_err();
        assert!(err.to_string().contains("median"), "{err}");
    }

    #[test]
    fn lognormal_draws_have_the_median_and_p95_asked_for() {
        let spread = Spread {
            median: Duration::from_secs(1),
            p95: Some(Duration::from_secs(3)),
        };
        let mut draws: Vec<f64> = (0..20_000).map(|_| spread.draw().as_secs_f64()).collect();
        draws.sort_by(f64::total_cmp);
        let (p50, p95) = (draws[10_000], draws[19_000]);
        // 20,000 draws put both within a few percent; the bounds are 5 sigma wide.
        assert!((0.95..1.05).contains(&p50), "p50 {p50}");
        assert!((2.8..3.2).contains(&p95), "p95 {p95}");
    }
}
