//! From text to a resolved [`Scenario`]: parse, apply command-line overrides, validate, and
//! point every error at its file, line, column and field.
//!
//! This is the one path every scenario takes before anything runs, whether it comes from the
//! catalog or a file (the way ripgrep turns low-level arguments into resolved settings).

use std::ops::Range;
use std::path::Path;

use toml::de::{DeArray, DeTable, DeValue};

use crate::catalog;
use crate::error::{FieldPath, Location, ScenarioError, Segment};
use crate::overrides::Overrides;
use crate::scenario::Scenario;
use crate::validate::Invalid;

/// A parsed scenario that still knows its text, so later errors can point into it.
#[derive(Debug, Clone)]
pub struct ScenarioSource {
    origin: String,
    text: String,
    scenario: Scenario,
}

impl ScenarioSource {
    /// Parses scenario TOML. `origin` names the text in errors (a path, or `catalog:NAME`).
    pub fn parse(
        text: impl Into<String>,
        origin: impl Into<String>,
    ) -> Result<Self, ScenarioError> {
        let (text, origin) = (text.into(), origin.into());
        let de = toml::Deserializer::parse(&text).map_err(|e| ScenarioError::Syntax {
            location: locate_offset(&text, &origin, e.span().map_or(0, |s| s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = field_path(e.path());
            let span = e.inner().span().unwrap_or_else(|| span_of(&text, &field));
            ScenarioError::Field {
                location: locate_offset(&text, &origin, span.start),
                field,
                expected: plain_serde_message(e.inner().message()),
            }
        })?;
        Ok(Self {
            origin,
            text,
            scenario,
        })
    }

    /// Reads and parses a scenario file.
    pub fn read(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(text, path.display().to_string())
    }

    /// A catalog name, else a file path.
    pub fn open(name_or_path: &str) -> Result<Self, ScenarioError> {
        if let Some(entry) = catalog::find(name_or_path) {
            return entry.source();
        }
        let path = Path::new(name_or_path);
        if path.exists() || name_or_path.ends_with(".toml") {
            return Self::read(path);
        }
        Err(ScenarioError::UnknownScenario {
            name: name_or_path.to_owned(),
            known: catalog::ENTRIES.iter().map(|e| e.name.to_owned()).collect(),
        })
    }

    /// Where the scenario came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The scenario as parsed, before overrides and validation.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Applies the overrides and validates: the scenario that will run.
    pub fn resolve(self, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
        let mut scenario = self.scenario;
        overrides.apply(&mut scenario)?;
        scenario
            .validate()
            .map_err(|Invalid { field, expected }| ScenarioError::Field {
                location: locate_offset(
                    &self.text,
                    &self.origin,
                    span_of(&self.text, &field).start,
                ),
                field,
                expected,
            })?;
        Ok(scenario)
    }
}

fn field_path(path: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment as S;
    let mut out = FieldPath::default();
    for segment in path.iter() {
        match segment {
            S::Seq { index } => out.push(Segment::Index(*index)),
            S::Map { key } => out.push(Segment::Key(key.clone())),
            S::Enum { variant } => out.push(Segment::Key(variant.clone())),
            S::Unknown => {}
        }
    }
    out
}

/// serde names Rust types (`u32`, `f64`); say what a scenario author writes instead.
fn plain_serde_message(message: &str) -> String {
    let message = message.trim();
    [
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number >= 0"),
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

fn locate_offset(text: &str, origin: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        origin: origin.to_owned(),
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"

[load]
stages = [
  { duration = "10s", target = 5 },
  { duration = "5s", target = 0 },
]
"#;

    #[test]
    fn locates_nested_fields() {
        let path = FieldPath::root("load").key("stages").index(1).key("target");
        let at = locate_offset(GOOD, "f", span_of(GOOD, &path).start);
        assert_eq!((at.line, at.column), (7, 22));
        let missing = FieldPath::root("load").key("arrival");
        let at = locate_offset(GOOD, "f", span_of(GOOD, &missing).start);
        assert_eq!(at.line, 4, "a missing field points at its table");
    }

    #[test]
    fn validation_errors_carry_line_and_field() {
        let text = GOOD.replace("target = 5", "target = 0");
        let err = ScenarioSource::parse(text, "f.toml")
            .unwrap()
            .resolve(&Overrides::default());
        let message = err.unwrap_err().to_string();
        assert!(
            message.starts_with("f.toml:5:1: field `load.stages`"),
            "{message}"
        );
    }
}
