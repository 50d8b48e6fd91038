//! Injected faults: the `faults` table ([`FaultConfig`]), and which fault (if any) a request
//! suffers.

use std::time::Duration;

use scan_config::{FaultKind, FaultTable, Invalid};
use serde::{Deserialize, Serialize};

/// Injected failures: each request suffers at most one, drawn with these probabilities (their
/// sum must not exceed 1) from the random sequence `seed` starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Immediate 429 (as if rate limited upstream), with `retry-after` of 1 s (scaled).
    pub p429: f64,
    /// Immediate 500.
    pub p500: f64,
    /// Immediate 503 (overloaded).
    pub p503: f64,
    /// Response head sent, then silence for `stall_for`, then the answer as usual.
    pub p_stall: f64,
    /// Connection dropped mid-answer (streams: after some tokens; others: after part of the body).
    pub p_drop: f64,
    /// Nothing at all (not even headers) for `slow_first_byte_by`, then the answer as usual.
    pub p_slow_first_byte: f64,
    /// Streams only: all tokens held back and sent in one burst at the end ("fake streaming").
    pub p_burst: f64,
    /// Silence of a stall; scaled by `time_scale`.
    #[serde(with = "humantime_serde")]
    pub stall_for: Duration,
    /// Extra wait of a slow first byte; scaled by `time_scale`.
    #[serde(with = "humantime_serde")]
    pub slow_first_byte_by: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            p429: 0.0,
            p500: 0.0,
            p503: 0.0,
            p_stall: 0.0,
            p_drop: 0.0,
            p_slow_first_byte: 0.0,
            p_burst: 0.0,
            stall_for: Duration::from_secs(30),
            slow_first_byte_by: Duration::from_secs(10),
        }
    }
}

impl FaultTable for FaultConfig {
    type Kind = Fault;

    fn probabilities(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [
            ("p429", self.p429),
            ("p500", self.p500),
            ("p503", self.p503),
            ("p_stall", self.p_stall),
            ("p_drop", self.p_drop),
            ("p_slow_first_byte", self.p_slow_first_byte),
            ("p_burst", self.p_burst),
        ]
    }
}

impl FaultConfig {
    /// Checks each probability and their sum.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.check_probabilities()
    }
}

/// A failure injected into one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Immediate 429 with OpenAI's rate-limit error and `retry-after`.
    TooManyRequests,
    /// Immediate 500.
    ServerError,
    /// Immediate 503.
    Unavailable,
    /// Response head at once, then silence for `faults.stall_for`, then the answer.
    Stall,
    /// The connection is cut mid-answer.
    Drop,
    /// No byte at all for `faults.slow_first_byte_by`, then the answer.
    SlowFirstByte,
    /// Streams: every token held back, then all sent at once at the end.
    Burst,
}

impl FaultKind for Fault {
    /// In the order of [`FaultConfig`]'s probabilities.
    const ALL: &'static [Fault] = &[
        Fault::TooManyRequests,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Stall,
        Fault::Drop,
        Fault::SlowFirstByte,
        Fault::Burst,
    ];
    const HEADER: &'static str = "x-mock-fault";

    /// The name used in the `x-mock-fault` header and in metrics.
    fn name(self) -> &'static str {
        match self {
            Fault::TooManyRequests => "429",
            Fault::ServerError => "500",
            Fault::Unavailable => "503",
            Fault::Stall => "stall",
            Fault::Drop => "drop",
            Fault::SlowFirstByte => "slow-first-byte",
            Fault::Burst => "burst",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn header_names_round_trip() {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "429",
                "500",
                "503",
                "stall",
                "drop",
                "slow-first-byte",
                "burst"
            ]
        );
        assert!(
            Fault::ALL
                .iter()
                .all(|&f| Fault::from_header(f.name()) == Ok(Some(f)))
        );
        assert_eq!(Fault::from_header("NONE"), Ok(None));
        assert!(
            Fault::from_header("418")
                .unwrap_err()
                .contains("slow-first-byte")
        );
    }

    #[test]
    fn draws_follow_probabilities() {
        // From TOML, so that each probability is drawn under the key a config file spells.
        let config: FaultConfig = toml::from_str("p500 = 0.2\np_burst = 0.1").unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let draws: Vec<_> = (0..n).map(|_| config.draw(&mut rng)).collect();
        let share = |f| draws.iter().filter(|d| **d == Some(f)).count() as f64 / n as f64;
        // Binomial sd at n = 20,000: ~0.3 % and ~0.2 %; bounds are over 5 sd wide.
        assert!((share(Fault::ServerError) - 0.2).abs() < 0.015);
        assert!((share(Fault::Burst) - 0.1).abs() < 0.012);
        assert_eq!(share(Fault::Stall), 0.0);
    }
}
