//! The bundled scenarios, compiled into the binary from `scenarios/catalog/*.toml`.

use crate::error::ScenarioError;
use crate::source::ScenarioSource;

/// One bundled scenario.
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    /// Its name, the file name without `.toml`.
    pub name: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

impl CatalogEntry {
    /// Parses the entry (errors point at `catalog:NAME`).
    pub fn source(&self) -> Result<ScenarioSource, ScenarioError> {
        ScenarioSource::parse(self.text, format!("catalog:{}", self.name))
    }
}

macro_rules! entries {
    ($($name:literal),* $(,)?) => {
        &[$(CatalogEntry { name: $name, text: include_str!(concat!("../catalog/", $name, ".toml")) }),*]
    };
}

/// Every bundled scenario, in the order `scan-bench list` shows them.
pub const ENTRIES: &[CatalogEntry] = entries![
    "eco2-quick",
    "eco2-vu10",
    "eco2-vu34",
    "eco2-vu30",
    "v1-threadpool-5",
    "v1-threadpool-10",
    "v1-threadpool-100",
    "ci-smoke",
    "eco2-named-events",
    "openai-chat",
];

/// What `scan-bench run` runs without an argument: Eco²'s test #2 profile at a time scale
/// that finishes in well under 30 seconds.
pub const DEFAULT_SCENARIO: &str = "eco2-quick";

/// The entry of that name.
pub fn find(name: &str) -> Option<&'static CatalogEntry> {
    ENTRIES.iter().find(|e| e.name == name)
}
