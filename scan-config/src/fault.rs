//! Injected faults as both servers draw them: a closed set of kinds ([`FaultKind`]), a
//! `faults` table giving each kind a probability ([`FaultTable`]), at most one fault per
//! request, and a request header that forces one. Each server keeps its own kinds and what
//! they do; only the drawing and the naming are shared.

use rand::Rng;

use crate::check;
use crate::error::Invalid;
use crate::path::FieldPath;

/// One server's kinds of injected fault.
pub trait FaultKind: Copy + 'static {
    /// Every kind, in draw order: the order of [`FaultTable::probabilities`].
    const ALL: &'static [Self];
    /// The request header that forces a kind (or `none`) on one request.
    const HEADER: &'static str;

    /// The name used in [`HEADER`](Self::HEADER) and in metrics.
    fn name(self) -> &'static str;

    /// Parses a [`HEADER`](Self::HEADER) value, ignoring case and surrounding blanks; `none`
    /// forces no fault.
    fn from_header(value: &str) -> Result<Option<Self>, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(value))
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "Invalid {} header '{value}'. Expected one of: none, {}.",
                    Self::HEADER,
                    names.join(", ")
                )
            })
    }
}

/// A `faults` table: the probability of each kind of fault, exclusive events.
pub trait FaultTable {
    /// The kinds this table's probabilities draw.
    type Kind: FaultKind;

    /// Each kind's probability with its field name, in the order of [`FaultKind::ALL`].
    fn probabilities(&self) -> impl IntoIterator<Item = (&'static str, f64)>;

    /// Checks each probability (from 0 to 1) and their sum (at most 1); the errors name the
    /// field within the table.
    fn check_probabilities(&self) -> Result<(), Invalid> {
        check::exclusive_probabilities(&FieldPath::default(), self.probabilities())
    }

    /// Draws at most one fault: one uniform number against the cumulative probabilities, so a
    /// table draws the same fault from the same generator state whatever its kinds.
    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Self::Kind> {
        let u: f64 = rng.random();
        let mut cumulative = 0.0;
        for (&fault, (_, p)) in Self::Kind::ALL.iter().zip(self.probabilities()) {
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

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Slow,
        Cut,
        Lost,
    }

    impl FaultKind for Kind {
        const ALL: &'static [Kind] = &[Kind::Slow, Kind::Cut, Kind::Lost];
        const HEADER: &'static str = "x-test-fault";

        fn name(self) -> &'static str {
            match self {
                Kind::Slow => "slow",
                Kind::Cut => "cut",
                Kind::Lost => "lost",
            }
        }
    }

    struct Table([f64; 3]);

    impl FaultTable for Table {
        type Kind = Kind;

        fn probabilities(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
            ["p_slow", "p_cut", "p_lost"].into_iter().zip(self.0)
        }
    }

    #[test]
    fn header_names_round_trip() {
        for &kind in Kind::ALL {
            assert_eq!(Kind::from_header(kind.name()), Ok(Some(kind)));
        }
        assert_eq!(Kind::from_header(" CUT "), Ok(Some(Kind::Cut)));
        assert_eq!(Kind::from_header(" None "), Ok(None));
        assert_eq!(
            Kind::from_header("teapot"),
            Err(
                "Invalid x-test-fault header 'teapot'. Expected one of: none, slow, cut, lost."
                    .into()
            )
        );
    }

    #[test]
    fn draws_follow_probabilities() {
        let table = Table([0.2, 0.0, 0.1]);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let draws: Vec<_> = (0..n).map(|_| table.draw(&mut rng)).collect();
        let share = |f| draws.iter().filter(|d| **d == Some(f)).count() as f64 / n as f64;
        // Binomial sd at n = 20,000: ~0.3 % and ~0.2 %; bounds are over 5 sd wide.
        assert!((share(Kind::Slow) - 0.2).abs() < 0.015);
        assert!((share(Kind::Lost) - 0.1).abs() < 0.012);
        assert_eq!(share(Kind::Cut), 0.0);
        assert_eq!(Table([0.0; 3]).draw(&mut rng), None);
    }

    #[test]
    fn probabilities_are_checked_by_field() {
        assert!(Table([0.5, 0.25, 0.25]).check_probabilities().is_ok());
        let err = Table([0.0, 1.5, 0.0]).check_probabilities().unwrap_err();
        assert_eq!(err.field, FieldPath::root("p_cut"));
        let err = Table([0.5, 0.5, 0.5]).check_probabilities().unwrap_err();
        assert_eq!(err.field, FieldPath::default());
    }
}
