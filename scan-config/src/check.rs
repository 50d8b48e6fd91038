//! Checks that several configs make of their fields, each an [`Invalid`] naming the field.

use std::fmt::Display;
use std::time::Duration;

use crate::error::Invalid;
use crate::path::FieldPath;

/// A probability: from 0 to 1.
pub fn probability(field: FieldPath, p: f64) -> Result<(), Invalid> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Invalid::new(field, "a probability from 0 to 1", p))
    }
}

/// Probabilities of exclusive events, each from 0 to 1 and adding up to at most 1; `field`
/// names the table holding them.
pub fn exclusive_probabilities<'a>(
    field: &FieldPath,
    probabilities: impl IntoIterator<Item = (&'a str, f64)>,
) -> Result<(), Invalid> {
    let mut sum = 0.0;
    for (name, p) in probabilities {
        probability(field.key(name), p)?;
        sum += p;
    }
    // A little slack for sums such as 0.1 + 0.2 + 0.7.
    if sum > 1.0 + 1e-9 {
        return Err(Invalid::new(
            field.clone(),
            "probabilities that add up to at most 1",
            format!("a sum of {sum}"),
        ));
    }
    Ok(())
}

/// A count of at least `min`.
pub fn at_least<N: PartialOrd + Display + Copy>(
    field: FieldPath,
    value: N,
    min: N,
) -> Result<(), Invalid> {
    if value < min {
        return Err(Invalid::new(field, format!("an integer >= {min}"), value));
    }
    Ok(())
}

/// A count from `min` to `max`.
pub fn in_range<N: PartialOrd + Display + Copy>(
    field: FieldPath,
    value: N,
    min: N,
    max: N,
) -> Result<(), Invalid> {
    if !(min..=max).contains(&value) {
        return Err(Invalid::new(
            field,
            format!("an integer from {min} to {max}"),
            value,
        ));
    }
    Ok(())
}

/// A duration above 0.
pub fn positive(field: FieldPath, d: Duration) -> Result<(), Invalid> {
    if d.is_zero() {
        return Err(Invalid::new(
            field,
            "a duration > 0 such as \"500ms\" or \"1m30s\"",
            "0s",
        ));
    }
    Ok(())
}

/// A finite number of at least `min`.
pub fn finite_at_least(field: FieldPath, value: f64, min: f64) -> Result<(), Invalid> {
    if !(value.is_finite() && value >= min) {
        return Err(Invalid::new(
            field,
            format!("a finite number >= {min}"),
            value,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_names_its_field() {
        let f = || FieldPath::root("faults");
        assert!(exclusive_probabilities(&f(), [("a", 0.5), ("b", 0.5)]).is_ok());
        let err = exclusive_probabilities(&f(), [("a", 0.5), ("b", 1.5)]).unwrap_err();
        assert_eq!(err.field, f().key("b"));
        let err = exclusive_probabilities(&f(), [("a", 0.6), ("b", 0.6)]).unwrap_err();
        assert_eq!(err.field, f());
        assert!(in_range(f(), 3, 1, 4).is_ok());
        assert_eq!(
            in_range(f(), 0, 1, 4).unwrap_err().message(),
            "expected an integer from 1 to 4, found 0"
        );
        assert!(at_least(f(), 0usize, 1).is_err());
        assert!(positive(f(), Duration::ZERO).is_err());
        assert!(finite_at_least(f(), f64::NAN, 0.0).is_err());
    }
}
