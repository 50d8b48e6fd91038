//! Injected stream faults: which one (if any) a scan stream suffers, and where in the stream.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{FaultConfig, Protocol};

/// A failure injected into one scan stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The stream is closed cleanly after a stage event, without the terminal event and
    /// without an error event.
    Drop,
    /// One data line that is not valid JSON, then the stream as usual.
    Malformed,
    /// `{"status": "error", "error": "INJECTED_FAULT"}` ends the stream.
    Error,
    /// After the first stage event, no byte at all (not even keep-alives) for
    /// `faults.stall_for`, then the stream ends.
    Stall,
}

impl Fault {
    /// All kinds, in the order of [`FaultConfig`]'s probabilities.
    pub const ALL: [Fault; 4] = [Fault::Drop, Fault::Malformed, Fault::Error, Fault::Stall];

    /// The name used in the `x-pipeline-fault` header and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Malformed => "malformed",
            Fault::Error => "error",
            Fault::Stall => "stall",
        }
    }

    /// Parses an `x-pipeline-fault` header value; `none` forces no fault.
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
                    "Invalid x-pipeline-fault header '{value}'. Expected one of: none, {}.",
                    names.join(", ")
                )
            })
    }

    /// Draws at most one fault: one uniform number against the cumulative probabilities.
    fn draw<R: Rng + ?Sized>(config: &FaultConfig, rng: &mut R) -> Option<Fault> {
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

    /// Events sent before the fault fires, drawn for this kind. A run is `started`, eight
    /// stage events and nothing more; the last stage event is the terminal one.
    fn draw_after<R: Rng + ?Sized>(self, rng: &mut R) -> u32 {
        match self {
            // After one of the seven non-terminal stage events.
            Fault::Drop => rng.random_range(2..=8),
            // Anywhere after `started` and before the terminal event.
            Fault::Malformed | Fault::Error => rng.random_range(1..=8),
            Fault::Stall => 2,
        }
    }
}

/// The framed bytes of [`Fault::Malformed`]'s data line (cut off inside the object).
pub(crate) fn malformed_line(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Eco2V1 => b"data: {\"step\": \"vision\", \"status\":\n\n",
        Protocol::NamedEvents => b"event: stage\ndata: {\"step\": \"vision\", \"status\":\n\n",
        Protocol::StageEvents => b"event: vision\ndata: {\"step\": \"vision\", \"status\":\n\n",
    }
}

/// The error code of [`Fault::Error`]'s event.
pub(crate) const INJECTED_FAULT: &str = "INJECTED_FAULT";

/// One stream's fault and where it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultPlan {
    pub fault: Fault,
    /// Fires once this many events (`started` included, keep-alives not) have been sent, or in
    /// place of the terminal event if that comes first.
    pub after: u32,
}

/// The seeded fault sequence of the service.
pub(crate) struct Faults {
    config: FaultConfig,
    /// Stream `n` draws from stream `n` of this generator, so concurrent streams do not
    /// shift each other's draws.
    rng: ChaCha8Rng,
    /// Streams planned so far (the index of the next one).
    streams: AtomicU64,
}

/// Independent parts of one stream's draws.
#[derive(Clone, Copy)]
enum Draw {
    Fault = 0,
    Position = 1,
}

impl Faults {
    pub fn new(config: &FaultConfig) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config: config.clone(),
            streams: AtomicU64::new(0),
        }
    }

    /// The plan of the next stream: `forced` (from the request header) if given, else a draw.
    pub fn plan(&self, forced: Option<Option<Fault>>) -> Option<FaultPlan> {
        let index = self.streams.fetch_add(1, Ordering::Relaxed);
        let fault = forced
            .unwrap_or_else(|| Fault::draw(&self.config, &mut self.rng(index, Draw::Fault)))?;
        Some(FaultPlan {
            fault,
            after: fault.draw_after(&mut self.rng(index, Draw::Position)),
        })
    }

    fn rng(&self, index: u64, draw: Draw) -> ChaCha8Rng {
        let mut rng = self.rng.clone();
        rng.set_stream(index);
        rng.set_word_pos((draw as u128) << 64);
        rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(Fault::from_header(fault.name()), Ok(Some(fault)));
        }
        assert_eq!(Fault::from_header(" None "), Ok(None));
        let message = Fault::from_header("teapot").unwrap_err();
        assert!(message.contains("x-pipeline-fault"), "{message}");
        assert!(
            message.contains("none, drop, malformed, error, stall"),
            "{message}"
        );
    }

    #[test]
    fn draws_follow_probabilities() {
        let config = FaultConfig {
            p_drop_stream: 0.2,
            p_stall: 0.1,
            ..FaultConfig::default()
        };
        let faults = Faults::new(&config);
        let n = 20_000;
        let draws: Vec<_> = (0..n).map(|_| faults.plan(None).map(|p| p.fault)).collect();
        let share = |f| draws.iter().filter(|d| **d == Some(f)).count() as f64 / n as f64;
        // Binomial sd at n = 20,000: ~0.3 % and ~0.2 %; bounds are over 5 sd wide.
        assert!((share(Fault::Drop) - 0.2).abs() < 0.015);
        assert!((share(Fault::Stall) - 0.1).abs() < 0.012);
        assert_eq!(share(Fault::Error), 0.0);
    }

    #[test]
    fn positions_stay_inside_the_stream() {
        let faults = Faults::new(&FaultConfig::default());
        for fault in Fault::ALL {
            for _ in 0..200 {
                let plan = faults.plan(Some(Some(fault))).unwrap();
                let range = match fault {
                    Fault::Drop => 2..=8,
                    Fault::Malformed | Fault::Error => 1..=8,
                    Fault::Stall => 2..=2,
                };
                assert!(range.contains(&plan.after), "{plan:?}");
            }
        }
        assert_eq!(faults.plan(Some(None)), None);
    }

    #[test]
    fn the_malformed_line_is_not_json() {
        for protocol in [
            Protocol::Eco2V1,
            Protocol::NamedEvents,
            Protocol::StageEvents,
        ] {
            let text = std::str::from_utf8(malformed_line(protocol)).unwrap();
            let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            assert!(serde_json::from_str::<serde_json::Value>(data).is_err());
            assert!(text.ends_with("\n\n"));
        }
    }
}
