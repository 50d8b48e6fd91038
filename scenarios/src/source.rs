//! From text to a resolved [`Scenario`]: parse, apply command-line overrides, validate, and
//! point every error at its file, line, column and field.
//!
//! This is the one path every scenario takes before anything runs, whether it comes from the
//! catalog or a file (the way ripgrep turns low-level arguments into resolved settings).

use std::path::Path;

use scan_config::ConfigError;

use crate::catalog;
use crate::error::ScenarioError;
use crate::overrides::Overrides;
use crate::scenario::Scenario;

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
        let scenario = scan_config::from_toml_str(&text, &origin)?;
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
            .map_err(|invalid| ConfigError::invalid_in(invalid, &self.text, &self.origin))?;
        Ok(scenario)
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

    mod fuzz {
        //! Whatever a scenario file holds, a resolved scenario or an error naming the file,
        //! never a panic: every catalog scenario, edited.

        use proptest::prelude::*;
        use scan_config::fuzz::edits_of;

        use super::*;
        use crate::Overrides;
        use crate::catalog::ENTRIES;

        fn edited_entry() -> impl Strategy<Value = String> {
            proptest::sample::select(ENTRIES).prop_flat_map(|entry| edits_of(entry.text))
        }

        proptest! {
            #[test]
            fn an_edited_scenario_resolves_or_names_the_file(text in edited_entry()) {
                let resolved = ScenarioSource::parse(text, "edited.toml")
                    .and_then(|source| source.resolve(&Overrides::default()));
                if let Err(e) = resolved {
                    prop_assert!(e.to_string().contains("edited.toml"), "{e}");
                }
            }
        }
    }
}
