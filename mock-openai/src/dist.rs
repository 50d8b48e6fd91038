//! Random quantities of the latency model: [`Delay`] (a duration) and [`TokenCount`].
//!
//! Both accept a short form in configuration (`"15ms"`, `120`) for a fixed value and a table
//! tagged by `dist` for a distribution, e.g. `{ dist = "lognormal", median = "4.2s", sigma = 0.35,
//! max = "30s" }`. Draws are clamped to the optional `min` / `max`, and delays never exceed
//! [`Delay::CEILING`], so a heavy tail cannot produce an absurd or overflowing wait.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand_distr::StandardNormal;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A random duration, such as the time to first token.
///
/// TOML forms (durations are humantime strings such as `"250ms"` or `"1m30s"`):
///
/// | form | meaning |
/// |---|---|
/// | `"15ms"` or `{ dist = "fixed", value = "15ms" }` | always 15 ms |
/// | `{ dist = "uniform", min = "1s", max = "2s" }` | uniform between min and max |
/// | `{ dist = "normal", mean = "4s", std_dev = "1s", min = "1s", max = "9s" }` | normal, clamped (min defaults to 0) |
/// | `{ dist = "lognormal", median = "4.2s", sigma = 0.35, max = "30s" }` | log-normal: `median * exp(sigma * z)` |
/// | `{ dist = "pareto", scale = "3s", shape = 2.5, max = "60s" }` | Pareto: at least `scale`, tail index `shape` (smaller = heavier) |
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Delay {
    /// Always the same duration.
    Fixed {
        /// The duration.
        #[serde(with = "humantime_serde")]
        value: Duration,
    },
    /// Uniform between `min` and `max`.
    Uniform {
        /// Lower bound.
        #[serde(with = "humantime_serde")]
        min: Duration,
        /// Upper bound.
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
    /// Normal, clamped to `[min, max]`.
    Normal {
        /// Mean.
        #[serde(with = "humantime_serde")]
        mean: Duration,
        /// Standard deviation.
        #[serde(with = "humantime_serde")]
        std_dev: Duration,
        /// Lower clamp (default 0).
        #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
        min: Option<Duration>,
        /// Upper clamp.
        #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
        max: Option<Duration>,
    },
    /// Log-normal with the given median and shape `sigma` (the standard deviation of the log).
    #[serde(rename = "lognormal")]
    LogNormal {
        /// Median (= `exp(mu)`).
        #[serde(with = "humantime_serde")]
        median: Duration,
        /// Standard deviation of the logarithm; 0.3 to 0.6 looks like a real API.
        sigma: f64,
        /// Lower clamp.
        #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
        min: Option<Duration>,
        /// Upper clamp.
        #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
        max: Option<Duration>,
    },
    /// Pareto (type I): never below `scale`, with a power-law tail of index `shape`.
    Pareto {
        /// Minimum value (`x_m`).
        #[serde(with = "humantime_serde")]
        scale: Duration,
        /// Tail index (`alpha`); the mean is infinite for `shape <= 1`.
        shape: f64,
        /// Upper clamp.
        #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
        max: Option<Duration>,
    },
}

/// The table form of [`Delay`], deserialized with serde's derive (for its error messages).
#[derive(Deserialize)]
#[serde(
    remote = "Delay",
    tag = "dist",
    rename_all = "lowercase",
    deny_unknown_fields
)]
enum DelayTable {
    Fixed {
        #[serde(with = "humantime_serde")]
        value: Duration,
    },
    Uniform {
        #[serde(with = "humantime_serde")]
        min: Duration,
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
    Normal {
        #[serde(with = "humantime_serde")]
        mean: Duration,
        #[serde(with = "humantime_serde")]
        std_dev: Duration,
        #[serde(default, with = "humantime_serde")]
        min: Option<Duration>,
        #[serde(default, with = "humantime_serde")]
        max: Option<Duration>,
    },
    #[serde(rename = "lognormal")]
    LogNormal {
        #[serde(with = "humantime_serde")]
        median: Duration,
        sigma: f64,
        #[serde(default, with = "humantime_serde")]
        min: Option<Duration>,
        #[serde(default, with = "humantime_serde")]
        max: Option<Duration>,
    },
    Pareto {
        #[serde(with = "humantime_serde")]
        scale: Duration,
        shape: f64,
        #[serde(default, with = "humantime_serde")]
        max: Option<Duration>,
    },
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DelayVisitor;
        impl<'de> Visitor<'de> for DelayVisitor {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration such as \"15ms\" or a table such as \
                     { dist = \"lognormal\", median = \"4s\", sigma = 0.35 }",
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Delay, E> {
                humantime::parse_duration(text)
                    .map(Delay::fixed)
                    .map_err(|e| E::custom(format!("invalid duration {text:?}: {e}")))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Delay, A::Error> {
                DelayTable::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_any(DelayVisitor)
    }
}

impl Delay {
    /// No draw ever exceeds this, whatever the distribution says.
    pub const CEILING: Duration = Duration::from_secs(24 * 3600);

    /// No delay.
    pub const ZERO: Delay = Delay::Fixed {
        value: Duration::ZERO,
    };

    /// Always `value`.
    pub const fn fixed(value: Duration) -> Self {
        Delay::Fixed { value }
    }

    /// Log-normal with the given median and sigma, clamped to `max`.
    pub const fn lognormal(median: Duration, sigma: f64, max: Duration) -> Self {
        Delay::LogNormal {
            median,
            sigma,
            min: None,
            max: Some(max),
        }
    }

    /// Draws one duration.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let (secs, min, max) = match *self {
            Delay::Fixed { value } => return value.min(Self::CEILING),
            Delay::Uniform { min, max } => {
                let (a, b) = (min.as_secs_f64(), max.as_secs_f64());
                (a + (b - a) * rng.random::<f64>(), None, None)
            }
            Delay::Normal {
                mean,
                std_dev,
                min,
                max,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                (mean.as_secs_f64() + std_dev.as_secs_f64() * z, min, max)
            }
            Delay::LogNormal {
                median,
                sigma,
                min,
                max,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                (median.as_secs_f64() * (sigma * z).exp(), min, max)
            }
            Delay::Pareto { scale, shape, max } => {
                // Inverse transform: x_m / U^(1/alpha), U in (0, 1].
                let u = 1.0 - rng.random::<f64>();
                (scale.as_secs_f64() / u.powf(1.0 / shape), None, max)
            }
        };
        clamp_secs(secs, min, max)
    }

    /// Checks the parameters; `field` names this value in the error.
    pub(crate) fn validate(&self, field: &str) -> Result<(), crate::ConfigError> {
        use crate::ConfigError as E;
        let check_clamp = |min: Option<Duration>, max: Option<Duration>| match (min, max) {
            (Some(lo), Some(hi)) if lo > hi => Err(E::invalid(
                format!("{field}.min"),
                format!("min ({lo:?}) is above max ({hi:?})"),
                "min <= max",
            )),
            _ => Ok(()),
        };
        let check_shape = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(E::invalid(
                    format!("{field}.{name}"),
                    format!("got {value}"),
                    "a finite number > 0",
                ))
            }
        };
        match *self {
            Delay::Fixed { .. } => Ok(()),
            Delay::Uniform { min, max } => check_clamp(Some(min), Some(max)),
            Delay::Normal { min, max, .. } => check_clamp(min, max),
            Delay::LogNormal {
                median,
                sigma,
                min,
                max,
            } => {
                check_shape("sigma", sigma)?;
                if median.is_zero() {
                    return Err(E::invalid(
                        format!("{field}.median"),
                        "got 0",
                        "a duration > 0",
                    ));
                }
                check_clamp(min, max)
            }
            Delay::Pareto { scale, shape, max } => {
                check_shape("shape", shape)?;
                if scale.is_zero() {
                    return Err(E::invalid(
                        format!("{field}.scale"),
                        "got 0",
                        "a duration > 0",
                    ));
                }
                check_clamp(Some(scale), max)
            }
        }
    }
}

fn clamp_secs(secs: f64, min: Option<Duration>, max: Option<Duration>) -> Duration {
    let lo = min.map_or(0.0, |d| d.as_secs_f64());
    let hi = max
        .unwrap_or(Delay::CEILING)
        .min(Delay::CEILING)
        .as_secs_f64();
    // NaN (impossible with validated parameters) falls to the lower bound.
    let secs = if secs.is_nan() {
        lo
    } else {
        secs.clamp(lo, hi.max(lo))
    };
    Duration::from_secs_f64(secs)
}

/// A random number of output tokens (for free-text answers).
///
/// TOML forms: `120` (fixed), `{ dist = "uniform", min = 50, max = 300 }`,
/// `{ dist = "normal", mean = 200, std_dev = 50, min = 20, max = 500 }`,
/// `{ dist = "lognormal", median = 180, sigma = 0.5, max = 1000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum TokenCount {
    /// Always `value` tokens.
    Fixed {
        /// The count.
        value: u32,
    },
    /// Uniform between `min` and `max` inclusive.
    Uniform {
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
    /// Normal, rounded and clamped to `[min, max]`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std_dev: f64,
        /// Lower clamp (default 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Upper clamp.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// Log-normal with the given median, rounded and clamped.
    #[serde(rename = "lognormal")]
    LogNormal {
        /// Median.
        median: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
        /// Lower clamp (default 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Upper clamp.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
}

#[derive(Deserialize)]
#[serde(
    remote = "TokenCount",
    tag = "dist",
    rename_all = "lowercase",
    deny_unknown_fields
)]
enum TokenCountTable {
    Fixed {
        value: u32,
    },
    Uniform {
        min: u32,
        max: u32,
    },
    Normal {
        mean: f64,
        std_dev: f64,
        #[serde(default)]
        min: Option<u32>,
        #[serde(default)]
        max: Option<u32>,
    },
    #[serde(rename = "lognormal")]
    LogNormal {
        median: f64,
        sigma: f64,
        #[serde(default)]
        min: Option<u32>,
        #[serde(default)]
        max: Option<u32>,
    },
}

impl<'de> Deserialize<'de> for TokenCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = TokenCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a token count such as 120 or a table such as \
                     { dist = \"uniform\", min = 50, max = 300 }",
                )
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<TokenCount, E> {
                u32::try_from(value)
                    .map(TokenCount::fixed)
                    .map_err(|_| E::custom(format!("token count {value} is too large")))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<TokenCount, E> {
                u64::try_from(value)
                    .map_err(|_| E::custom(format!("token count {value} is negative")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TokenCount, A::Error> {
                TokenCountTable::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

impl TokenCount {
    /// No draw exceeds this, whatever the configuration says (an answer stays below ~1 MB).
    pub const CEILING: u32 = 200_000;

    /// Always `value` tokens.
    pub const fn fixed(value: u32) -> Self {
        TokenCount::Fixed { value }
    }

    /// Draws one count.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let (value, min, max) = match *self {
            TokenCount::Fixed { value } => return value.min(Self::CEILING),
            TokenCount::Uniform { min, max } => {
                return rng.random_range(min..=max.max(min)).min(Self::CEILING);
            }
            TokenCount::Normal {
                mean,
                std_dev,
                min,
                max,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                (mean + std_dev * z, min, max)
            }
            TokenCount::LogNormal {
                median,
                sigma,
                min,
                max,
            } => {
                let z: f64 = rng.sample(StandardNormal);
                (median * (sigma * z).exp(), min, max)
            }
        };
        let lo = f64::from(min.unwrap_or(1).min(Self::CEILING));
        let hi = f64::from(max.unwrap_or(Self::CEILING).min(Self::CEILING)).max(lo);
        // `as` saturates, and the clamp keeps the value in range.
        value.round().clamp(lo, hi) as u32
    }

    pub(crate) fn validate(&self, field: &str) -> Result<(), crate::ConfigError> {
        use crate::ConfigError as E;
        let check_clamp = |min: Option<u32>, max: Option<u32>| match (min, max) {
            (Some(lo), Some(hi)) if lo > hi => Err(E::invalid(
                format!("{field}.min"),
                format!("min ({lo}) is above max ({hi})"),
                "min <= max",
            )),
            _ => Ok(()),
        };
        let check_positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(E::invalid(
                    format!("{field}.{name}"),
                    format!("got {value}"),
                    "a finite number > 0",
                ))
            }
        };
        match *self {
            TokenCount::Fixed { .. } => Ok(()),
            TokenCount::Uniform { min, max } => check_clamp(Some(min), Some(max)),
            TokenCount::Normal {
                mean,
                std_dev,
                min,
                max,
            } => {
                check_positive("mean", mean)?;
                if !(std_dev.is_finite() && std_dev >= 0.0) {
                    return Err(E::invalid(
                        format!("{field}.std_dev"),
                        format!("got {std_dev}"),
                        "a finite number >= 0",
                    ));
                }
                check_clamp(min, max)
            }
            TokenCount::LogNormal {
                median,
                sigma,
                min,
                max,
            } => {
                check_positive("median", median)?;
                check_positive("sigma", sigma)?;
                check_clamp(min, max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[derive(Debug, Deserialize)]
    struct Holder {
        d: Delay,
        n: TokenCount,
    }

    fn parse(text: &str) -> Result<Holder, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn short_and_table_forms_parse() {
        let h = parse("d = \"15ms\"\nn = 120").unwrap();
        assert_eq!(h.d, Delay::fixed(Duration::from_millis(15)));
        assert_eq!(h.n, TokenCount::fixed(120));
        let h = parse(
            "d = { dist = \"lognormal\", median = \"4.2s\", sigma = 0.35, max = \"30s\" }\n\
             n = { dist = \"uniform\", min = 5, max = 9 }",
        )
        .unwrap();
        assert_eq!(
            h.d,
            Delay::lognormal(Duration::from_millis(4200), 0.35, Duration::from_secs(30))
        );
        assert_eq!(h.n, TokenCount::Uniform { min: 5, max: 9 });
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let err =
            parse("d = { dist = \"lognormal\", median = \"4s\", sigma = 0.3, mx = \"1s\" }\nn = 1");
        assert!(err.unwrap_err().message().contains("mx"));
        let err = parse("d = { dist = \"gamma\", median = \"4s\" }\nn = 1");
        assert!(err.unwrap_err().message().contains("gamma"));
        let err = parse("d = \"4 parsecs\"\nn = 1");
        assert!(err.unwrap_err().message().contains("invalid duration"));
    }

    #[test]
    fn serialized_form_parses_back() {
        let d = Delay::Pareto {
            scale: Duration::from_secs(3),
            shape: 2.5,
            max: Some(Duration::from_secs(60)),
        };
        let n = TokenCount::LogNormal {
            median: 180.0,
            sigma: 0.5,
            min: None,
            max: Some(900),
        };
        let json = serde_json::json!({ "d": d, "n": n });
        let back: Holder = serde_json::from_value(json).unwrap();
        assert_eq!((back.d, back.n), (d, n));
    }

    #[test]
    fn draws_respect_clamps() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let heavy = Delay::Pareto {
            scale: Duration::from_secs(1),
            shape: 0.5,
            max: Some(Duration::from_secs(20)),
        };
        let normal = Delay::Normal {
            mean: Duration::from_millis(100),
            std_dev: Duration::from_secs(5),
            min: None,
            max: Some(Duration::from_secs(1)),
        };
        let count = TokenCount::Normal {
            mean: 10.0,
            std_dev: 100.0,
            min: Some(3),
            max: Some(40),
        };
        for _ in 0..10_000 {
            let d = heavy.sample(&mut rng);
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(20),
                "{d:?}"
            );
            assert!(normal.sample(&mut rng) <= Duration::from_secs(1));
            assert!((3..=40).contains(&count.sample(&mut rng)));
        }
    }

    #[test]
    fn lognormal_median_is_the_median() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let d = Delay::lognormal(Duration::from_secs(4), 0.4, Delay::CEILING);
        let mut draws: Vec<Duration> = (0..20_001).map(|_| d.sample(&mut rng)).collect();
        draws.sort();
        let median = draws[10_000].as_secs_f64();
        assert!((median - 4.0).abs() < 0.1, "median {median}");
    }

    #[test]
    fn validation_names_the_parameter() {
        let bad = Delay::LogNormal {
            median: Duration::from_secs(1),
            sigma: -1.0,
            min: None,
            max: None,
        };
        let err = bad.validate("models.m.ttft").unwrap_err().to_string();
        assert!(err.contains("models.m.ttft.sigma"), "{err}");
        let bad = Delay::Uniform {
            min: Duration::from_secs(2),
            max: Duration::from_secs(1),
        };
        assert!(bad.validate("x").unwrap_err().to_string().contains("x.min"));
    }
}
