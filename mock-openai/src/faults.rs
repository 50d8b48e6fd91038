//! Injected faults: which one (if any) a request suffers.

use rand::Rng;

use crate::config::FaultConfig;

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

impl Fault {
    /// All kinds, in the order of [`FaultConfig`]'s probabilities.
    pub const ALL: [Fault; 7] = [
        Fault::TooManyRequests,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Stall,
        Fault::Drop,
        Fault::SlowFirstByte,
        Fault::Burst,
    ];

    /// The name used in the `x-mock-fault` header and in metrics.
    pub fn name(self) -> &'static str {
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

    /// Parses an `x-mock-fault` header value; `none` forces no fault.
    pub fn from_header(value: &str) -> Result<Option<Fault>, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        Fault::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(value))
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "Invalid x-mock-fault header '{value}'. Expected one of: none, {}.",
                    names.join(", ")
                )
            })
    }

    /// Draws at most one fault: one uniform number against the cumulative probabilities.
    pub(crate) fn draw<R: Rng + ?Sized>(config: &FaultConfig, rng: &mut R) -> Option<Fault> {
        let u: f64 = rng.random();
        let mut cumulative = 0.0;
        for (fault, (_, p)) in Fault::ALL.into_iter().zip(config.probabilities()) {
            cumulative += p;
            if u < cumulative {
                return Some(fault);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn header_names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(Fault::from_header(fault.name()), Ok(Some(fault)));
        }
        assert_eq!(Fault::from_header("NONE"), Ok(None));
        assert!(
            Fault::from_header("418")
                .unwrap_err()
                .contains("slow-first-byte")
        );
    }

    #[test]
    fn draws_follow_probabilities() {
        let config = FaultConfig {
            p500: 0.2,
            p_burst: 0.1,
            ..FaultConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let draws: Vec<_> = (0..n).map(|_| Fault::draw(&config, &mut rng)).collect();
        let share = |f| draws.iter().filter(|d| **d == Some(f)).count() as f64 / n as f64;
        // Binomial sd at n = 20,000: ~0.3 % and ~0.2 %; bounds are over 5 sd wide.
        assert!((share(Fault::ServerError) - 0.2).abs() < 0.015);
        assert!((share(Fault::Burst) - 0.1).abs() < 0.012);
        assert_eq!(share(Fault::Stall), 0.0);
    }
}
