//! Injected stream faults: the `faults` table ([`FaultConfig`]), and which fault (if any) a scan
//! stream suffers, and where in the stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scan_config::{FaultKind, FaultTable, FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};

use crate::config::Protocol;

/// Faults injected into scan streams (`POST /api/v1/scan/classify/completion` requests that run
/// a chain; the non-streaming endpoint and the image-URL error are never faulted), so that a
/// client meets each of its failure classes on purpose.
///
/// Each stream suffers at most one fault, drawn with these probabilities (each from 0 to 1,
/// their sum at most 1) from a generator seeded by `seed`: the same seed and the same order of
/// requests give the same faults at the same places. The header
/// `x-pipeline-fault: drop|malformed|error|stall|none` forces one on a request. Injected faults
/// are counted in `scan_pipeline_faults_total{kind}` when they reach the stream, and the stream
/// in `scan_sse_requests_total{status}` with the status given below, as the client sees it.
///
/// | key | header | the stream | client outcome | `status` |
/// |---|---|---|---|---|
/// | `p_drop_stream` | `drop` | closed cleanly after a random stage event: no terminal, no error event | partial | `failed` |
/// | `p_malformed_event` | `malformed` | one line `data: {"step": "vision", "status":` at a random point, then the run as usual | malformed event | `failed` |
/// | `p_error_event` | `error` | `{"status": "error", "error": "INJECTED_FAULT"}` at a random point ends it | error event | `failed` |
/// | `p_stall` | `stall` | after the first stage event no byte at all, not even keep-alives, for `stall_for`; then closed | idle timeout | `timeout` |
///
/// A fault due after the point where the run ends anyway (a failed stage, the chain timeout)
/// fires at that point: the terminal event is withheld (a malformed line goes out just before
/// it). The `named-events` protocol gets the same faults in
/// its framing (`event: stage` over the malformed line, `event: error` over the error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Seed of the fault draws. Within a scenario the scenario's `seed` sets it.
    #[serde(skip_serializing_if = "is_zero")]
    pub seed: u64,
    /// Stream closed after a stage event, without its terminal event.
    pub p_drop_stream: f64,
    /// One invalid-JSON data line, then the stream as usual.
    pub p_malformed_event: f64,
    /// The stream ended by an `INJECTED_FAULT` error event.
    pub p_error_event: f64,
    /// Silence after the first stage event for `stall_for`, then the stream closed.
    pub p_stall: f64,
    /// Length of a stall; scaled by `time_scale`.
    #[serde(with = "humantime_serde")]
    pub stall_for: Duration,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            p_drop_stream: 0.0,
            p_malformed_event: 0.0,
            p_error_event: 0.0,
            p_stall: 0.0,
            stall_for: Duration::from_secs(30),
        }
    }
}

impl FaultTable for FaultConfig {
    type Kind = Fault;

    fn probabilities(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [
            ("p_drop_stream", self.p_drop_stream),
            ("p_malformed_event", self.p_malformed_event),
            ("p_error_event", self.p_error_event),
            ("p_stall", self.p_stall),
        ]
    }
}

impl FaultConfig {
    /// Checks each probability, their sum and the stall.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.check_probabilities()?;
        check::positive(FieldPath::root("stall_for"), self.stall_for)
    }
}

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

impl FaultKind for Fault {
    /// In the order of [`FaultConfig`]'s probabilities.
    const ALL: &'static [Fault] = &[Fault::Drop, Fault::Malformed, Fault::Error, Fault::Stall];
    const HEADER: &'static str = "x-pipeline-fault";

    /// The name used in the `x-pipeline-fault` header and in metrics.
    fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Malformed => "malformed",
            Fault::Error => "error",
            Fault::Stall => "stall",
        }
    }
}

impl Fault {
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

/// The service's fault sequence, drawn from `FaultConfig::seed`.
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
        let fault =
            forced.unwrap_or_else(|| self.config.draw(&mut self.rng(index, Draw::Fault)))?;
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
        for &fault in Fault::ALL {
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
        for &fault in Fault::ALL {
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
