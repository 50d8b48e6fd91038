//! [`FieldPath`]: where a field is, as the user would write it.

use std::fmt;

/// A path to a field, as written in TOML: `load.stages[0].duration`, `models."gpt-4.1".ttft`.
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

    /// This path followed by `rest` (a path relative to the field this one names).
    pub fn join(&self, rest: &FieldPath) -> Self {
        let mut path = self.clone();
        path.0.extend(rest.0.iter().cloned());
        path
    }

    /// The path serde_path_to_error recorded while deserializing (enum variants count as keys).
    pub fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        let segments = path.iter().filter_map(|segment| match segment {
            S::Seq { index } => Some(Segment::Index(*index)),
            S::Map { key } => Some(Segment::Key(key.clone())),
            S::Enum { variant } => Some(Segment::Key(variant.clone())),
            S::Unknown => None,
        });
        FieldPath(segments.collect())
    }

    /// The steps, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the path of the whole document.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
                    // TOML's bare keys; any other key is quoted.
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
        let path = FieldPath::root("mock").join(&FieldPath::root("models").key("gpt-4.1"));
        assert_eq!(path.segments()[2], Segment::Key("gpt-4.1".into()));
        assert_eq!(path.to_string(), "mock.models.\"gpt-4.1\"");
    }

    #[test]
    fn serde_paths_become_field_paths() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            items: Vec<std::collections::BTreeMap<String, u32>>,
        }
        let text = "items = [{ a = 1 }, { \"b.c\" = -1 }]";
        let de = toml::Deserializer::parse(text).unwrap();
        let err = serde_path_to_error::deserialize::<_, Doc>(de).unwrap_err();
        assert_eq!(
            FieldPath::from_serde(err.path()),
            FieldPath::root("items").index(1).key("b.c")
        );
    }
}
