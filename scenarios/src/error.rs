//! Errors that point at the place in a scenario file to fix.

use std::fmt;
use std::path::PathBuf;

/// A path to a field in a scenario, as the user would write it: `load.stages[0].duration`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<Segment>);

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl FieldPath {
    /// The path of a top-level field.
    pub fn root(key: &str) -> Self {
        FieldPath(vec![Segment::Key(key.to_owned())])
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// The steps, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Appends a dotted TOML path such as `models."gpt-4.1".ttft` reported by another crate
    /// (quoted keys may hold dots; `name[3]` is an index).
    pub fn join_dotted(&self, dotted: &str) -> Self {
        let mut path = self.clone();
        let mut key = String::new();
        let mut quoted = false;
        for c in dotted.chars().chain(std::iter::once('.')) {
            match c {
                '"' => quoted = !quoted,
                '.' if !quoted => {
                    path.push_dotted_key(&key);
                    key.clear();
                }
                _ => key.push(c),
            }
        }
        path
    }

    fn push_dotted_key(&mut self, key: &str) {
        match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
            Some((name, index)) if index.parse::<usize>().is_ok() => {
                if !name.is_empty() {
                    self.0.push(Segment::Key(name.to_owned()));
                }
                self.0
                    .push(Segment::Index(index.parse().expect("checked above")));
            }
            _ if key.is_empty() => {}
            _ => self.0.push(Segment::Key(key.to_owned())),
        }
    }

    pub(crate) fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?
                    } else {
                        write!(f, "{key:?}")?
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where in which file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file path, or `catalog:NAME` for a bundled scenario.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

/// A scenario that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not TOML.
    #[error("{location}: invalid TOML: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A field is missing, unknown, or holds a value of the wrong form.
    #[error("{location}: {}", field_message(field, expected))]
    Field {
        /// Where the field is (or, for a missing field, its table).
        location: Location,
        /// The field.
        field: FieldPath,
        /// What was expected instead.
        expected: String,
    },
    /// A command-line flag gave a value the scenario cannot take.
    #[error("{flag}: {expected}")]
    Override {
        /// The flag, e.g. `--vus`.
        flag: &'static str,
        /// What was expected instead.
        expected: String,
    },
    /// Neither a catalog name nor an existing file.
    #[error("no scenario named `{name}` in the catalog and no such file; catalog: {}", known.join(", "))]
    UnknownScenario {
        /// What was asked for.
        name: String,
        /// The catalog's names.
        known: Vec<String>,
    },
}

fn field_message(field: &FieldPath, expected: &str) -> String {
    if field.segments().is_empty() {
        expected.to_owned()
    } else {
        format!("field `{field}`: {expected}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_as_written_in_toml() {
        let path = FieldPath::root("load")
            .key("stages")
            .index(2)
            .key("duration");
        assert_eq!(path.to_string(), "load.stages[2].duration");
        let path = FieldPath::root("thresholds").key("stage_duration{stage:rule}");
        assert_eq!(
            path.to_string(),
            "thresholds.\"stage_duration{stage:rule}\""
        );
        let path = FieldPath::root("mock").join_dotted("models.\"gpt-4.1\".ttft");
        assert_eq!(path.segments()[2], Segment::Key("gpt-4.1".into()));
        assert_eq!(path.to_string(), "mock.models.\"gpt-4.1\".ttft");
        let path = FieldPath::root("load").join_dotted("stages[2].target");
        assert_eq!(path.to_string(), "load.stages[2].target");
    }
}
