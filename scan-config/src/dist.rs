//! [`Dist`]: a random quantity of a config, drawn afresh each time: a [`Delay`] (a duration)
//! or a [`TokenCount`].
//!
//! TOML forms (durations are humantime strings such as `"250ms"` or `"1m30s"`; a count's
//! values are whole numbers, its mean, median and scale real numbers):
//!
//! | form | meaning |
//! |---|---|
//! | `"15ms"`, `120` or `{ dist = "fixed", value = "15ms" }` | always that value |
//! | `{ dist = "uniform", min = "1s", max = "2s" }` | uniform between min and max |
//! | `{ dist = "normal", mean = "4s", std_dev = "1s", min = "1s", max = "9s" }` | normal, clamped (min defaults to 0, for a count to 1) |
//! | `{ dist = "lognormal", median = "4.2s", sigma = 0.35, max = "30s" }` | log-normal: `median * exp(sigma * z)` |
//! | `{ median = "300ms", p95 = "900ms" }` (or with `dist = "lognormal"`) | log-normal by its median and 95th percentile, the shape of I/O latencies |
//! | `{ dist = "pareto", scale = "3s", shape = 2.5, max = "60s" }` | Pareto: at least `scale`, tail index `shape` (smaller = heavier) |
//!
//! Draws are clamped to the optional `min` / `max`, and never exceed [`Quantity::CEILING`], so
//! a heavy tail cannot produce an absurd or overflowing value. A fixed value draws nothing from
//! the generator; every other form draws one number (a uniform count draws an integer).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use rand::Rng;
use rand_distr::StandardNormal;
use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::path::FieldPath;

/// A random duration, such as the time to first token or a queue hop.
pub type Delay = Dist<Duration>;

/// A random number of tokens, such as the length of a free-text answer.
pub type TokenCount = Dist<u32>;

/// A random quantity: fixed, or drawn from a distribution. See the module documentation for
/// its TOML forms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist<T: Quantity> {
    /// Always the same value.
    Fixed {
        /// The value.
        value: T,
    },
    /// Uniform between `min` and `max` (inclusive for counts).
    Uniform {
        /// Lower bound.
        min: T,
        /// Upper bound.
        max: T,
    },
    /// Normal, clamped to `[min, max]`.
    Normal {
        /// Mean.
        mean: T::Param,
        /// Standard deviation.
        std_dev: T::Param,
        /// Lower clamp (default: 0, for a count 1).
        min: Option<T>,
        /// Upper clamp.
        max: Option<T>,
    },
    /// Log-normal with the given median, clamped to `[min, max]`.
    LogNormal {
        /// Median (= `exp(mu)`).
        median: T::Param,
        /// How wide it is.
        width: Width<T::Param>,
        /// Lower clamp (default: 0, for a count 1).
        min: Option<T>,
        /// Upper clamp.
        max: Option<T>,
    },
    /// Pareto (type I): never below `scale`, with a power-law tail of index `shape`.
    Pareto {
        /// Minimum value (`x_m`).
        scale: T::Param,
        /// Tail index (`alpha`); the mean is infinite for `shape <= 1`.
        shape: f64,
        /// Upper clamp.
        max: Option<T>,
    },
}

/// The width of a log-normal [`Dist`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Width<P> {
    /// The standard deviation of the logarithm (`sigma`); 0.3 to 0.6 looks like a real API.
    Sigma(f64),
    /// The 95th percentile (`p95`); at the median or below it, the draws are the median.
    P95(P),
}

/// z of the 95th percentile of a standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

/// What a [`Dist`] draws: how its values are written and clamped.
pub trait Quantity: Copy + PartialEq + PartialOrd + fmt::Debug + Send + Sync + 'static {
    /// The mean, standard deviation, median and scale of a distribution: a duration for a
    /// delay, a real number for a count.
    type Param: Copy + PartialEq + fmt::Debug + Send + Sync + 'static;
    /// The value of [`Dist::default`].
    const ZERO: Self;
    /// No draw exceeds this, whatever the distribution says.
    const CEILING: Self;
    /// What a [`Dist`] of this quantity looks like, for error messages.
    const EXPECTING: &'static str;
    /// What a valid mean, median or scale is, for error messages.
    const POSITIVE: &'static str;

    /// The value as a number (seconds for a duration).
    fn to_f64(self) -> f64;
    /// A parameter as a number in the same unit.
    fn param_to_f64(param: Self::Param) -> f64;
    /// The value as written.
    fn show(self) -> String;
    /// A parameter as written.
    fn show_param(param: Self::Param) -> String;
    /// `value * factor`.
    fn scale_value(self, factor: f64) -> Self;
    /// `param * factor`.
    fn scale_param(param: Self::Param, factor: f64) -> Self::Param;
    /// Writes a value.
    fn serialize_value<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error>;
    /// Reads a value.
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
    /// Writes a parameter.
    fn serialize_param<S: Serializer>(param: Self::Param, serializer: S)
    -> Result<S::Ok, S::Error>;
    /// Reads a parameter.
    fn deserialize_param<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self::Param, D::Error>;
    /// The short form of a fixed value, when it is a string (`"15ms"`).
    fn from_str<E: de::Error>(text: &str) -> Result<Self, E> {
        Err(E::invalid_type(Unexpected::Str(text), &Self::EXPECTING))
    }
    /// The short form of a fixed value, when it is a whole number (`120`).
    fn from_i64<E: de::Error>(value: i64) -> Result<Self, E> {
        Err(E::invalid_type(Unexpected::Signed(value), &Self::EXPECTING))
    }
    /// A uniform draw between `min` and `max`.
    fn uniform<R: Rng + ?Sized>(rng: &mut R, min: Self, max: Self) -> Self;
    /// A draw `x` (in the unit of [`Quantity::to_f64`]) as a value within the clamps and the
    /// ceiling.
    fn from_draw(x: f64, min: Option<Self>, max: Option<Self>) -> Self;
}

impl<T: Quantity> Default for Dist<T> {
    fn default() -> Self {
        Dist::fixed(T::ZERO)
    }
}

impl<T: Quantity> Dist<T> {
    /// No draw ever exceeds this, whatever the distribution says.
    pub const CEILING: T = T::CEILING;

    /// Always `value`.
    pub const fn fixed(value: T) -> Self {
        Dist::Fixed { value }
    }

    /// Draws one value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> T {
        let p = T::param_to_f64;
        let x = match *self {
            Dist::Fixed { value } => {
                return if value > T::CEILING {
                    T::CEILING
                } else {
                    value
                };
            }
            Dist::Uniform { min, max } => return T::uniform(rng, min, max),
            Dist::Normal { mean, std_dev, .. } => {
                let z: f64 = rng.sample(StandardNormal);
                p(mean) + p(std_dev) * z
            }
            Dist::LogNormal { median, width, .. } => {
                let z: f64 = rng.sample(StandardNormal);
                p(median) * (sigma::<T>(median, width) * z).exp()
            }
            Dist::Pareto { scale, shape, .. } => {
                // Inverse transform: x_m / U^(1/alpha), U in (0, 1].
                let u = 1.0 - rng.random::<f64>();
                p(scale) / u.powf(1.0 / shape)
            }
        };
        let (min, max) = self.clamps();
        T::from_draw(x, min, max)
    }

    /// The clamps of the draws, whatever the form: a uniform's bounds, the optional `min` and
    /// `max` of the others (a Pareto's floor is its `scale`, so it has no `min`).
    fn clamps(&self) -> (Option<T>, Option<T>) {
        match *self {
            Dist::Fixed { .. } => (None, None),
            Dist::Uniform { min, max } => (Some(min), Some(max)),
            Dist::Normal { min, max, .. } | Dist::LogNormal { min, max, .. } => (min, max),
            Dist::Pareto { max, .. } => (None, max),
        }
    }

    /// Every value and parameter multiplied by `factor` (a time scale); shapes stay.
    pub fn scaled(&self, factor: f64) -> Self {
        let v = |x: T| x.scale_value(factor);
        let p = |x: T::Param| T::scale_param(x, factor);
        match *self {
            Dist::Fixed { value } => Dist::Fixed { value: v(value) },
            Dist::Uniform { min, max } => Dist::Uniform {
                min: v(min),
                max: v(max),
            },
            Dist::Normal {
                mean,
                std_dev,
                min,
                max,
            } => Dist::Normal {
                mean: p(mean),
                std_dev: p(std_dev),
                min: min.map(v),
                max: max.map(v),
            },
            Dist::LogNormal {
                median,
                width,
                min,
                max,
            } => Dist::LogNormal {
                median: p(median),
                width: match width {
                    Width::Sigma(s) => Width::Sigma(s),
                    Width::P95(p95) => Width::P95(p(p95)),
                },
                min: min.map(v),
                max: max.map(v),
            },
            Dist::Pareto { scale, shape, max } => Dist::Pareto {
                scale: p(scale),
                shape,
                max: max.map(v),
            },
        }
    }

    /// Checks the parameters; the error's field is relative to this value (`sigma`).
    pub fn validate(&self) -> Result<(), Invalid> {
        let p = T::param_to_f64;
        match *self {
            Dist::Fixed { .. } | Dist::Uniform { .. } => {}
            Dist::Normal { mean, std_dev, .. } => {
                for (name, value) in [("mean", mean), ("std_dev", std_dev)] {
                    if !(p(value).is_finite() && p(value) >= 0.0) {
                        return Err(Invalid::new(
                            FieldPath::root(name),
                            "a finite number >= 0",
                            T::show_param(value),
                        ));
                    }
                }
            }
            Dist::LogNormal {
                median,
                width: Width::Sigma(sigma),
                ..
            } => {
                check_positive_param::<T>("median", median)?;
                check_shape("sigma", sigma)?;
            }
            Dist::LogNormal {
                median,
                width: Width::P95(p95),
                ..
            } => {
                if p(p95) < p(median) {
                    return Err(Invalid::new(
                        FieldPath::root("p95"),
                        format!(
                            "a 95th percentile at least the median ({})",
                            T::show_param(median)
                        ),
                        T::show_param(p95),
                    ));
                }
            }
            Dist::Pareto { scale, shape, max } => {
                check_shape("shape", shape)?;
                check_positive_param::<T>("scale", scale)?;
                if let Some(max) = max.filter(|max| max.to_f64() < p(scale)) {
                    return Err(Invalid::new(
                        FieldPath::root("max"),
                        format!("a value at least `scale` ({})", T::show_param(scale)),
                        max.show(),
                    ));
                }
            }
        }
        // Last, so that a bad parameter is named before a bad clamp.
        let (min, max) = self.clamps();
        check_clamp(min, max)
    }
}

impl Dist<Duration> {
    /// No delay.
    pub const ZERO: Delay = Dist::Fixed {
        value: Duration::ZERO,
    };

    /// Log-normal with the given median and sigma, clamped to `max`.
    pub const fn lognormal(median: Duration, sigma: f64, max: Duration) -> Self {
        Dist::LogNormal {
            median,
            width: Width::Sigma(sigma),
            min: None,
            max: Some(max),
        }
    }
}

/// The sigma of a log-normal: given, or from its 95th percentile.
fn sigma<T: Quantity>(median: T::Param, width: Width<T::Param>) -> f64 {
    match width {
        Width::Sigma(sigma) => sigma,
        Width::P95(p95) => {
            let (median, p95) = (T::param_to_f64(median), T::param_to_f64(p95));
            if median > 0.0 && p95 > median {
                (p95 / median).ln() / Z95
            } else {
                0.0
            }
        }
    }
}

fn check_clamp<T: Quantity>(min: Option<T>, max: Option<T>) -> Result<(), Invalid> {
    match (min, max) {
        (Some(lo), Some(hi)) if lo > hi => Err(Invalid::new(
            FieldPath::root("min"),
            format!("a value at most `max` ({})", hi.show()),
            lo.show(),
        )),
        _ => Ok(()),
    }
}

fn check_shape(name: &str, value: f64) -> Result<(), Invalid> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Invalid::new(
            FieldPath::root(name),
            "a finite number > 0",
            value,
        ))
    }
}

fn check_positive_param<T: Quantity>(name: &str, value: T::Param) -> Result<(), Invalid> {
    let x = T::param_to_f64(value);
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Invalid::new(
            FieldPath::root(name),
            T::POSITIVE,
            T::show_param(value),
        ))
    }
}

impl Quantity for Duration {
    type Param = Duration;
    const ZERO: Self = Duration::ZERO;
    const CEILING: Self = Duration::from_secs(24 * 3600);
    const EXPECTING: &'static str = "a duration such as \"300ms\", or a table such as \
         { median = \"300ms\", p95 = \"900ms\" } or { dist = \"lognormal\", median = \"4s\", \
         sigma = 0.35 }";
    const POSITIVE: &'static str = "a duration > 0";

    fn to_f64(self) -> f64 {
        self.as_secs_f64()
    }
    fn param_to_f64(param: Duration) -> f64 {
        param.as_secs_f64()
    }
    fn show(self) -> String {
        humantime::format_duration(self).to_string()
    }
    fn show_param(param: Duration) -> String {
        param.show()
    }
    fn scale_value(self, factor: f64) -> Self {
        self.mul_f64(factor)
    }
    fn scale_param(param: Duration, factor: f64) -> Duration {
        param.mul_f64(factor)
    }
    fn serialize_value<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.show())
    }
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"300ms\" or \"1m30s\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                <Duration as Quantity>::from_str(text)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
    fn serialize_param<S: Serializer>(param: Duration, serializer: S) -> Result<S::Ok, S::Error> {
        param.serialize_value(serializer)
    }
    fn deserialize_param<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Duration::deserialize_value(deserializer)
    }
    fn from_str<E: de::Error>(text: &str) -> Result<Self, E> {
        humantime::parse_duration(text).map_err(|e| {
            E::custom(format!(
                "invalid duration {text:?} ({e}): expected a duration such as \"300ms\" or \"1m30s\""
            ))
        })
    }
    fn uniform<R: Rng + ?Sized>(rng: &mut R, min: Self, max: Self) -> Self {
        let (a, b) = (min.as_secs_f64(), max.as_secs_f64());
        Self::from_draw(a + (b - a) * rng.random::<f64>(), None, None)
    }
    fn from_draw(secs: f64, min: Option<Self>, max: Option<Self>) -> Self {
        let lo = min.map_or(0.0, |d| d.as_secs_f64());
        let hi = max
            .unwrap_or(Self::CEILING)
            .min(Self::CEILING)
            .as_secs_f64();
        // NaN (impossible with validated parameters) falls to the lower bound.
        let secs = if secs.is_nan() {
            lo
        } else {
            secs.clamp(lo, hi.max(lo))
        };
        Duration::from_secs_f64(secs)
    }
}

impl Quantity for u32 {
    type Param = f64;
    const ZERO: Self = 0;
    /// An answer of this many tokens stays below ~1 MB.
    const CEILING: Self = 200_000;
    const EXPECTING: &'static str = "a token count such as 120 or a table such as \
         { dist = \"uniform\", min = 50, max = 300 }";
    const POSITIVE: &'static str = "a finite number > 0";

    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn param_to_f64(param: f64) -> f64 {
        param
    }
    fn show(self) -> String {
        self.to_string()
    }
    fn show_param(param: f64) -> String {
        param.to_string()
    }
    fn scale_value(self, factor: f64) -> Self {
        // `as` saturates.
        (f64::from(self) * factor).round() as u32
    }
    fn scale_param(param: f64, factor: f64) -> f64 {
        param * factor
    }
    fn serialize_value<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self)
    }
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer)
    }
    fn serialize_param<S: Serializer>(param: f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(param)
    }
    fn deserialize_param<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        f64::deserialize(deserializer)
    }
    fn from_i64<E: de::Error>(value: i64) -> Result<Self, E> {
        if value < 0 {
            return Err(E::custom(format!("token count {value} is negative")));
        }
        u32::try_from(value).map_err(|_| E::custom(format!("token count {value} is too large")))
    }
    fn uniform<R: Rng + ?Sized>(rng: &mut R, min: Self, max: Self) -> Self {
        rng.random_range(min..=max.max(min)).min(Self::CEILING)
    }
    fn from_draw(value: f64, min: Option<Self>, max: Option<Self>) -> Self {
        let lo = f64::from(min.unwrap_or(1).min(Self::CEILING));
        let hi = f64::from(max.unwrap_or(Self::CEILING).min(Self::CEILING)).max(lo);
        // `as` saturates, and the clamp keeps the value in range.
        value.round().clamp(lo, hi) as u32
    }
}

// ---- serde: a short form for a fixed value, else a table ------------------------------------

/// A value written by its quantity's rules.
struct Value<T>(T);

/// A parameter written by its quantity's rules.
struct Param<T: Quantity>(T::Param);

impl<T: Quantity> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_value(serializer)
    }
}

impl<T: Quantity> Serialize for Param<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        T::serialize_param(self.0, serializer)
    }
}

impl<'de, T: Quantity> Deserialize<'de> for Value<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize_value(deserializer).map(Value)
    }
}

impl<'de, T: Quantity> Deserialize<'de> for Param<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize_param(deserializer).map(Param)
    }
}

/// The `dist` key.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Fixed,
    Uniform,
    Normal,
    LogNormal,
    Pareto,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Fixed => "fixed",
            Kind::Uniform => "uniform",
            Kind::Normal => "normal",
            Kind::LogNormal => "lognormal",
            Kind::Pareto => "pareto",
        }
    }

    /// The keys a table of this kind may have.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Fixed => &["dist", "value"],
            Kind::Uniform => &["dist", "min", "max"],
            Kind::Normal => &["dist", "mean", "std_dev", "min", "max"],
            Kind::LogNormal => &["dist", "median", "sigma", "p95", "min", "max"],
            Kind::Pareto => &["dist", "scale", "shape", "max"],
        }
    }
}

/// Every key of a table, whatever its kind.
const KEYS: &[&str] = &[
    "dist", "value", "min", "max", "mean", "std_dev", "median", "sigma", "p95", "scale", "shape",
];

/// A table's keys as read, before its kind decides what they mean. Read key by key (not as a
/// serde-tagged enum, which buffers its input) so that an error inside keeps its line and path.
struct Table<T: Quantity> {
    given: Vec<&'static str>,
    dist: Option<Kind>,
    value: Option<T>,
    min: Option<T>,
    max: Option<T>,
    mean: Option<T::Param>,
    std_dev: Option<T::Param>,
    median: Option<T::Param>,
    p95: Option<T::Param>,
    scale: Option<T::Param>,
    sigma: Option<f64>,
    shape: Option<f64>,
}

impl<T: Quantity> Table<T> {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut t = Table {
            given: Vec::new(),
            dist: None,
            value: None,
            min: None,
            max: None,
            mean: None,
            std_dev: None,
            median: None,
            p95: None,
            scale: None,
            sigma: None,
            shape: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            let Some(&key) = KEYS.iter().find(|k| **k == key) else {
                let expected = t.dist.map_or(KEYS, Kind::keys);
                return Err(de::Error::unknown_field(&key, expected));
            };
            if t.given.contains(&key) {
                return Err(de::Error::duplicate_field(key));
            }
            t.given.push(key);
            match key {
                "dist" => t.dist = Some(map.next_value()?),
                "value" => t.value = Some(map.next_value::<Value<T>>()?.0),
                "min" => t.min = Some(map.next_value::<Value<T>>()?.0),
                "max" => t.max = Some(map.next_value::<Value<T>>()?.0),
                "mean" => t.mean = Some(map.next_value::<Param<T>>()?.0),
                "std_dev" => t.std_dev = Some(map.next_value::<Param<T>>()?.0),
                "median" => t.median = Some(map.next_value::<Param<T>>()?.0),
                "p95" => t.p95 = Some(map.next_value::<Param<T>>()?.0),
                "scale" => t.scale = Some(map.next_value::<Param<T>>()?.0),
                "sigma" => t.sigma = Some(map.next_value()?),
                _ => t.shape = Some(map.next_value()?),
            }
        }
        Ok(t)
    }

    fn into_dist<E: de::Error>(self) -> Result<Dist<T>, E> {
        let Some(kind) = self.dist else {
            return self.percentiles();
        };
        if let Some(key) = self.given.iter().find(|k| !kind.keys().contains(k)) {
            return Err(E::custom(format!(
                "`{key}` is not a setting of dist = \"{}\" (its settings: {})",
                kind.name(),
                kind.keys()[1..].join(", ")
            )));
        }
        fn need<X, E: de::Error>(value: Option<X>, key: &'static str) -> Result<X, E> {
            value.ok_or_else(|| E::missing_field(key))
        }
        Ok(match kind {
            Kind::Fixed => Dist::Fixed {
                value: need(self.value, "value")?,
            },
            Kind::Uniform => Dist::Uniform {
                min: need(self.min, "min")?,
                max: need(self.max, "max")?,
            },
            Kind::Normal => Dist::Normal {
                mean: need(self.mean, "mean")?,
                std_dev: need(self.std_dev, "std_dev")?,
                min: self.min,
                max: self.max,
            },
            Kind::LogNormal => Dist::LogNormal {
                median: need(self.median, "median")?,
                width: match (self.sigma, self.p95) {
                    (Some(sigma), None) => Width::Sigma(sigma),
                    (None, Some(p95)) => Width::P95(p95),
                    (None, None) => return Err(E::missing_field("sigma")),
                    (Some(_), Some(_)) => {
                        return Err(E::custom(
                            "`sigma` and `p95` both set the width of a lognormal: give one",
                        ));
                    }
                },
                min: self.min,
                max: self.max,
            },
            Kind::Pareto => Dist::Pareto {
                scale: need(self.scale, "scale")?,
                shape: need(self.shape, "shape")?,
                max: self.max,
            },
        })
    }

    /// A table without `dist`: `{ median, p95 }`, a log-normal by its percentiles (a median
    /// alone is that value).
    fn percentiles<E: de::Error>(self) -> Result<Dist<T>, E> {
        let Some(median) = self.median else {
            return Err(E::missing_field("dist"));
        };
        if let Some(key) = self.given.iter().find(|k| !["median", "p95"].contains(k)) {
            return Err(E::custom(format!(
                "`{key}` needs a `dist` key; a table without one is {{ median, p95 }}"
            )));
        }
        Ok(Dist::LogNormal {
            median,
            width: Width::P95(self.p95.unwrap_or(median)),
            min: None,
            max: None,
        })
    }
}

impl<'de, T: Quantity> Deserialize<'de> for Dist<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DistVisitor<T>(PhantomData<T>);
        impl<'de, T: Quantity> Visitor<'de> for DistVisitor<T> {
            type Value = Dist<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Dist<T>, E> {
                T::from_str(text).map(Dist::fixed)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Dist<T>, E> {
                T::from_i64(value).map(Dist::fixed)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Dist<T>, E> {
                match i64::try_from(value) {
                    Ok(value) => self.visit_i64(value),
                    Err(_) => Err(E::invalid_value(Unexpected::Unsigned(value), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Dist<T>, A::Error> {
                Table::<T>::read(map)?.into_dist()
            }
        }
        deserializer.deserialize_any(DistVisitor(PhantomData))
    }
}

impl<T: Quantity> Serialize for Dist<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = match self {
            Dist::Fixed { value } => return value.serialize_value(serializer),
            Dist::Uniform { .. } => Kind::Uniform,
            Dist::Normal { .. } => Kind::Normal,
            Dist::LogNormal { .. } => Kind::LogNormal,
            Dist::Pareto { .. } => Kind::Pareto,
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("dist", kind.name())?;
        match *self {
            Dist::Fixed { .. } => unreachable!("written above"),
            // The bounds are the clamps, written below.
            Dist::Uniform { .. } => {}
            Dist::Normal { mean, std_dev, .. } => {
                map.serialize_entry("mean", &Param::<T>(mean))?;
                map.serialize_entry("std_dev", &Param::<T>(std_dev))?;
            }
            Dist::LogNormal { median, width, .. } => {
                map.serialize_entry("median", &Param::<T>(median))?;
                match width {
                    Width::Sigma(sigma) => map.serialize_entry("sigma", &sigma)?,
                    Width::P95(p95) => map.serialize_entry("p95", &Param::<T>(p95))?,
                }
            }
            Dist::Pareto { scale, shape, .. } => {
                map.serialize_entry("scale", &Param::<T>(scale))?;
                map.serialize_entry("shape", &shape)?;
            }
        }
        let (min, max) = self.clamps();
        if let Some(min) = min {
            map.serialize_entry("min", &Value(min))?;
        }
        if let Some(max) = max {
            map.serialize_entry("max", &Value(max))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests;
