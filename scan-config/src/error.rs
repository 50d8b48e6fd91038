//! [`Invalid`]: a value a config cannot take; [`ConfigError`]: every way a config file can be
//! wrong, each naming the field once and, for a file, its place.

use std::fmt;
use std::path::PathBuf;

use crate::locate::Location;
use crate::path::FieldPath;

/// A field whose value the config cannot be used with: what a `validate` reports.
///
/// The path is relative to the config that was checked; a config embedding it puts its own
/// key in front with [`Invalid::within`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field.
    pub field: FieldPath,
    /// What was expected instead (`a probability from 0 to 1`), or the whole rule when there is
    /// no value to show.
    pub expected: String,
    /// The value given, when it helps to show it.
    pub found: Option<String>,
}

impl Invalid {
    /// `field` should be `expected`; it is `found`.
    pub fn new(field: FieldPath, expected: impl Into<String>, found: impl fmt::Display) -> Self {
        Invalid {
            field,
            expected: expected.into(),
            found: Some(found.to_string()),
        }
    }

    /// `field` breaks a rule that says it all (`at least one stage, e.g. ...`).
    pub fn rule(field: FieldPath, expected: impl Into<String>) -> Self {
        Invalid {
            field,
            expected: expected.into(),
            found: None,
        }
    }

    /// The same error in a config that holds this one under `key`.
    pub fn within(self, key: &str) -> Self {
        self.under(&FieldPath::root(key))
    }

    /// The same error in a config that holds this one at `path`.
    pub fn under(self, path: &FieldPath) -> Self {
        Invalid {
            field: path.join(&self.field),
            ..self
        }
    }

    /// What is wrong, without the field: `expected X, found Y`, or the rule.
    pub fn message(&self) -> String {
        match &self.found {
            Some(found) => format!("expected {}, found {found}", self.expected),
            None => self.expected.clone(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&field_message(&self.field, &self.message()))
    }
}

impl std::error::Error for Invalid {}

/// A configuration that cannot be read or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not TOML.
    #[error("{location}: invalid TOML: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A field is unknown, missing, or of the wrong type or form.
    #[error("{location}: {}", field_message(field, message))]
    Field {
        /// Where the field is (for a missing field, its table).
        location: Location,
        /// The field; empty when the error is about the whole document.
        field: FieldPath,
        /// What is wrong.
        message: String,
    },
    /// A field holds a value outside what it allows.
    #[error("{}{invalid}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Invalid {
        /// Where the field is, when the config came from a text.
        location: Option<Location>,
        /// The field and the rule it breaks.
        invalid: Invalid,
    },
    /// A config file could not be read.
    #[error("cannot read config file {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
}

impl ConfigError {
    /// The field the error is about, if it is about one.
    pub fn field(&self) -> Option<&FieldPath> {
        match self {
            ConfigError::Field { field, .. } if !field.is_empty() => Some(field),
            ConfigError::Invalid { invalid, .. } => Some(&invalid.field),
            _ => None,
        }
    }

    /// A validation error located in the TOML `text` it was read from.
    pub fn invalid_in(invalid: Invalid, text: &str, origin: &str) -> Self {
        ConfigError::Invalid {
            location: Some(Location::of_field(text, origin, &invalid.field)),
            invalid,
        }
    }

    /// Reads a config file's text, for a parser given the result and the file's name.
    pub fn read(path: &std::path::Path) -> Result<String, ConfigError> {
        std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

impl From<Invalid> for ConfigError {
    fn from(invalid: Invalid) -> Self {
        ConfigError::Invalid {
            location: None,
            invalid,
        }
    }
}

/// `field `a.b`: message`, or the message alone for the whole document.
fn field_message(field: &FieldPath, message: &str) -> String {
    if field.is_empty() {
        message.to_owned()
    } else {
        format!("field `{field}`: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embedded_error_names_its_field_once() {
        let inner = Invalid::new(
            FieldPath::root("faults").key("p429"),
            "a probability from 0 to 1",
            1.5,
        );
        let outer = inner.within("mock");
        assert_eq!(
            outer.to_string(),
            "field `mock.faults.p429`: expected a probability from 0 to 1, found 1.5"
        );
        let text = "[mock.faults]\np429 = 1.5\n";
        let located = ConfigError::invalid_in(outer, text, "s.toml");
        assert_eq!(
            located.to_string(),
            "s.toml:2:1: field `mock.faults.p429`: expected a probability from 0 to 1, found 1.5"
        );
        assert_eq!(located.field().unwrap().to_string(), "mock.faults.p429");
    }
}
