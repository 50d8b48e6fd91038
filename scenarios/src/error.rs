//! Errors that point at the place in a scenario file to fix.

use std::path::PathBuf;

use scan_config::ConfigError;
pub use scan_config::{FieldPath, Location, Segment};

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
    /// The text is not TOML, or a field is unknown, missing, of the wrong form or holds a
    /// value the scenario cannot run with: located, with the field.
    #[error(transparent)]
    Config(#[from] ConfigError),
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
