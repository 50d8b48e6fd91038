//! From TOML text to serde data, with every error at its place: [`from_toml_str`], and
//! [`Location::of_field`] for an error found later (by a validation) in the same text.

use std::fmt;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::error::{ConfigError, Invalid};
use crate::path::{FieldPath, Segment};

/// Where in which file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file path, or another name of the text's origin (`catalog:NAME`, `request body`).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` of `text`.
    pub fn of_offset(text: &str, origin: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            origin: origin.to_owned(),
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }

    /// The location of `field` in the TOML `text`: the deepest part of the path the text
    /// spells out (the field itself, or the table it is missing from; the start of the text
    /// when not even its first key is there).
    pub fn of_field(text: &str, origin: &str, field: &FieldPath) -> Self {
        Self::of_offset(text, origin, span_of(text, field).start)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

/// Parses TOML `text` into `T`. `origin` names the text in errors: [`ConfigError::Syntax`]
/// when it is not TOML, [`ConfigError::Field`] when it does not fit `T` (unknown, missing or
/// mistyped field), each with its location and the field's path.
pub fn from_toml_str<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    let document = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
        location: Location::of_offset(text, origin, e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_owned(),
    })?;
    serde_path_to_error::deserialize(document).map_err(|e| {
        let field = FieldPath::from_serde(e.path());
        let span = e.inner().span().unwrap_or_else(|| span_of(text, &field));
        ConfigError::Field {
            location: Location::of_offset(text, origin, span.start),
            message: plain_serde_message(e.inner().message()),
            field,
        }
    })
}

/// A config file's text parsed into `T` ([`from_toml_str`]) and checked with `validate`,
/// whose error is then located in the text: what every standalone config file goes through.
pub fn from_toml_validated<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    validate: impl FnOnce(&T) -> Result<(), Invalid>,
) -> Result<T, ConfigError> {
    let config: T = from_toml_str(text, origin)?;
    validate(&config).map_err(|e| ConfigError::invalid_in(e, text, origin))?;
    Ok(config)
}

/// [`from_toml_validated`] of the file at `path`, named by its path in errors.
pub fn from_toml_file<T: DeserializeOwned>(
    path: &std::path::Path,
    validate: impl FnOnce(&T) -> Result<(), Invalid>,
) -> Result<T, ConfigError> {
    from_toml_validated(
        &ConfigError::read(path)?,
        &path.display().to_string(),
        validate,
    )
}

/// serde names Rust types (`u32`, `f64`); say what an author writes instead.
fn plain_serde_message(message: &str) -> String {
    let message = message.trim();
    [
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number >= 0"),
        ("expected usize", "expected a whole number >= 0"),
        ("expected f64", "expected a number"),
        ("expected a borrowed string", "expected a string"),
    ]
    .iter()
    .fold(message.to_owned(), |m, (from, to)| m.replace(from, to))
}

/// The span of the deepest part of `path` present in the text: the field itself, or the
/// table it is missing from.
fn span_of(text: &str, path: &FieldPath) -> Range<usize> {
    let Ok(root) = DeTable::parse(text) else {
        return 0..0;
    };
    let mut span = 0..0;
    let mut table = Some(root.get_ref());
    let mut array: Option<&DeArray<'_>> = None;
    for segment in path.segments() {
        let value = match (segment, table, array) {
            (Segment::Key(key), Some(t), _) => match t.iter().find(|(k, _)| k.get_ref() == key) {
                Some((k, v)) => {
                    span = k.span();
                    v
                }
                None => break,
            },
            (Segment::Index(i), _, Some(items)) => match items.get(*i) {
                Some(v) => {
                    span = v.span();
                    v
                }
                None => break,
            },
            _ => break,
        };
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(a)),
            _ => (None, None),
        };
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
name = "t"

[load]
stages = [
  { duration = "10s", target = 5 },
  { duration = "5s", target = 0 },
]

[models."gpt-4.1"]
ttft = "1s"
"#;

    #[test]
    fn locates_nested_fields() {
        let at = |path: FieldPath| {
            let l = Location::of_field(TEXT, "f", &path);
            (l.line, l.column)
        };
        let target = FieldPath::root("load").key("stages").index(1).key("target");
        assert_eq!(at(target), (7, 22));
        assert_eq!(at(FieldPath::root("load").key("arrival")).0, 4, "its table");
        assert_eq!(
            at(FieldPath::root("models").key("gpt-4.1").key("ttft")),
            (11, 1)
        );
        assert_eq!(at(FieldPath::root("absent")), (1, 1));
    }

    #[test]
    fn offsets_count_characters() {
        let l = Location::of_offset("a = \"é\"\nb", "x", 10);
        assert_eq!((l.line, l.column), (2, 2));
        assert_eq!(l.to_string(), "x:2:2");
    }

    #[test]
    fn parse_errors_name_the_field_in_plain_words() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            count: u32,
        }
        let err = from_toml_str::<Doc>("\ncount = -1\n", "d.toml").unwrap_err();
        assert_eq!(err.field(), Some(&FieldPath::root("count")));
        let message = err.to_string();
        assert!(
            message.starts_with("d.toml:2:9: field `count`: "),
            "{message}"
        );
        assert!(message.contains("a whole number"), "{message}");
        let err = from_toml_str::<Doc>("count = [", "d.toml").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    }
}
