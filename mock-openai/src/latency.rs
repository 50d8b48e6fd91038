//! The latency model: per-model delays ([`ModelConfig`], the `models` tables) and how they
//! grow with the requests in flight ([`LoadConfig`], the `load` table).

use std::time::Duration;

use scan_config::{Delay, FieldPath, Invalid, TokenCount, Width, check};
use serde::{Deserialize, Serialize};

/// Latency model of one model name.
///
/// A non-streaming answer arrives after `ttft + (tokens - 1) * inter_token`; a stream sends its
/// first token after `ttft` and each further one `inter_token` later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Time to first token.
    pub ttft: Delay,
    /// Delay between tokens, drawn once per request.
    pub inter_token: Delay,
    /// Length of free-text answers. JSON answers are as long as their content.
    pub output_tokens: TokenCount,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            ttft: Delay::lognormal(Duration::from_millis(800), 0.4, Duration::from_secs(60)),
            inter_token: Delay::fixed(Duration::from_millis(15)),
            output_tokens: TokenCount::LogNormal {
                median: 150.0,
                width: Width::Sigma(0.5),
                min: None,
                max: Some(1000),
            },
        }
    }
}

impl ModelConfig {
    /// A model that answers at once.
    pub fn instant() -> Self {
        Self {
            ttft: Delay::ZERO,
            inter_token: Delay::ZERO,
            output_tokens: TokenCount::fixed(16),
        }
    }
}

impl ModelConfig {
    /// Checks the three distributions.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.ttft.validate().map_err(|e| e.within("ttft"))?;
        self.inter_token
            .validate()
            .map_err(|e| e.within("inter_token"))?;
        self.output_tokens
            .validate()
            .map_err(|e| e.within("output_tokens"))
    }
}

/// Load coupling: how latency reacts to the number of requests in flight (all models together).
///
/// Two mechanisms, usable together:
/// - slowdown: with `n` requests in flight on arrival, every delay of the new request is
///   multiplied by `min(1 + slowdown * max(0, n - capacity), max_factor)`;
/// - queueing: at most `max_concurrent` requests are served at once, the others wait in
///   arrival order (the wait adds to their latency).
///
/// Example ("vision ~4.5 s at 10 users, 6-10 s under load"): `capacity = 10`,
/// `slowdown = 0.05`, `max_factor = 2.5`. At 10 concurrent calls nothing changes; at 30 the
/// delays double (4.5 s -> 9 s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    /// Requests in flight served at base latency; 0 disables the slowdown.
    pub capacity: u32,
    /// Added delay factor per request in flight above `capacity`.
    pub slowdown: f64,
    /// Upper bound of the factor.
    pub max_factor: f64,
    /// Requests served concurrently, others queue; 0 = unlimited.
    pub max_concurrent: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            capacity: 0,
            slowdown: 0.0,
            max_factor: 1.0,
            max_concurrent: 0,
        }
    }
}

impl LoadConfig {
    /// The Eco² example: base latency up to 10 calls in flight, doubling at 30.
    pub fn eco2() -> Self {
        Self {
            capacity: 10,
            slowdown: 0.05,
            max_factor: 2.5,
            max_concurrent: 0,
        }
    }
}

impl LoadConfig {
    /// Checks the slowdown and its cap.
    pub fn validate(&self) -> Result<(), Invalid> {
        check::finite_at_least(FieldPath::root("slowdown"), self.slowdown, 0.0)?;
        check::finite_at_least(FieldPath::root("max_factor"), self.max_factor, 1.0)
    }
}

impl LoadConfig {
    /// Delay factor for a request arriving with `others` requests already in flight.
    pub(crate) fn factor(&self, others: i64) -> f64 {
        if self.capacity == 0 {
            return 1.0;
        }
        let over = (others + 1 - i64::from(self.capacity)).max(0) as f64;
        (1.0 + self.slowdown * over).min(self.max_factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_factor_grows_above_capacity_and_is_capped() {
        let load = LoadConfig::eco2();
        // `others` excludes the arriving request.
        assert_eq!(load.factor(0), 1.0);
        assert_eq!(load.factor(9), 1.0);
        assert!((load.factor(29) - 2.0).abs() < 1e-9);
        assert_eq!(load.factor(1000), 2.5);
        assert_eq!(LoadConfig::default().factor(1000), 1.0);
    }
}
