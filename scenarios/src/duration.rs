//! Human-friendly durations in scenario files: `"250ms"`, `"60s"`, `"1m30s"`.
//!
//! Used as `#[serde(with = "crate::duration")]`; parsing is humantime's, the error says what
//! form was expected.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a duration such as `"1m30s"`, with an error message a user can act on.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration `{text}` ({e}); expected a duration such as \"250ms\", \"60s\" or \"1m30s\"")
    })
}

/// Formats a duration the way [`parse`] reads it back.
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// A map whose values are durations in the same forms, as `#[serde(with =
/// "crate::duration::map")]`: `[slo] chain = "30s"`.
pub(crate) mod map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// One value, parsed where it stands, so an error points at the value, not the table.
    struct Human(Duration);

    impl<'de> Deserialize<'de> for Human {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            super::deserialize(deserializer).map(Human)
        }
    }

    pub(crate) fn serialize<K: Serialize, S: Serializer>(
        map: &BTreeMap<K, Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.iter().map(|(k, d)| (k, super::format(*d))))
    }

    pub(crate) fn deserialize<'de, K, D>(deserializer: D) -> Result<BTreeMap<K, Duration>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        D: Deserializer<'de>,
    {
        let map = BTreeMap::<K, Human>::deserialize(deserializer)?;
        Ok(map.into_iter().map(|(k, Human(d))| (k, d)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_human_forms() {
        for (text, ms) in [
            ("250ms", 250),
            ("60s", 60_000),
            ("1m30s", 90_000),
            ("2h", 7_200_000),
        ] {
            let d = parse(text).unwrap();
            assert_eq!(d, Duration::from_millis(ms), "{text}");
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
        assert_eq!(format(Duration::from_millis(90_000)), "1m30s");
    }

    #[test]
    fn names_the_bad_input_and_the_expected_form() {
        let err = parse("60x").unwrap_err();
        assert!(err.contains("`60x`") && err.contains("\"1m30s\""), "{err}");
        assert!(parse("fast").is_err());
        assert!(parse("-5s").is_err());
    }
}
