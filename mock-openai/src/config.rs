//! [`MockConfig`]: everything the server can be told. Each section lives beside what it
//! configures and checks itself; this composes them, holds the top-level settings and reads
//! the TOML.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use scan_config::{ConfigError, ConnectionLimits, Delay, FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};

use crate::content::ContentConfig;
use crate::faults::FaultConfig;
use crate::latency::{LoadConfig, ModelConfig};
use crate::ratelimit::RateLimitConfig;

/// Configuration of the mock server. See the crate documentation for the TOML form.
///
/// `Default` is an OpenAI-like setup calibrated on the Eco² scan figures at low load (vision
/// call on `gpt-4o` ~4.5 s, answer call on `gpt-4o-mini` ~4.8 s), with no rate limit, no faults
/// and no load coupling. [`MockConfig::instant`] answers without any delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MockConfig {
    /// Seed of every random draw (latency, content, faults). Same seed and same request order
    /// give the same answers, delays and faults. Within a scenario the scenario's `seed` sets
    /// it.
    #[serde(skip_serializing_if = "is_zero")]
    pub seed: u64,
    /// Multiplies every injected delay and the rate-limit window; 0 removes all delays (and
    /// so the rate limits, whose window becomes instant). Within a scenario it is a factor
    /// (> 0) on the scenario's `time_scale`.
    pub time_scale: f64,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Accepted API keys (`Authorization: Bearer KEY` or `api-key: KEY`). Empty: any key or none
    /// is accepted. Non-empty: a missing or unknown key gets 401.
    pub api_keys: Vec<String>,
    /// Known models by name; a request for any other model gets 404. A `models` table in a
    /// file replaces this whole list.
    pub models: BTreeMap<String, ModelConfig>,
    /// Latency growth with concurrent requests.
    pub load: LoadConfig,
    /// Per-key request and token budgets.
    pub rate_limit: RateLimitConfig,
    /// Injected failures.
    pub faults: FaultConfig,
    /// What the canned answers contain.
    pub content: ContentConfig,
    /// How long the server waits for a client's request head and for an idle kept-alive
    /// connection, and how many connections it holds (real time: `time_scale` does not
    /// apply). Read when the server starts; `PUT /admin/config` does not change it.
    pub connections: ConnectionLimits,
}

impl Default for MockConfig {
    fn default() -> Self {
        let ms = Duration::from_millis;
        let model = |ttft_median_ms: u64, sigma: f64, inter_token_ms: u64| ModelConfig {
            ttft: Delay::lognormal(ms(ttft_median_ms), sigma, Duration::from_secs(60)),
            inter_token: Delay::fixed(ms(inter_token_ms)),
            ..ModelConfig::default()
        };
        // Mean latency (lognormal mean = median * exp(sigma^2 / 2), plus pacing): gpt-4o with a
        // ~50-token vision answer ~4.5 s; gpt-4o-mini with a ~130-token disposal answer ~4.8 s
        // (the Eco² figures at 10 users).
        let models = BTreeMap::from([
            ("gpt-4o".to_owned(), model(3_700, 0.35, 12)),
            ("gpt-4o-mini".to_owned(), model(2_600, 0.40, 15)),
            ("gpt-4.1".to_owned(), model(2_500, 0.40, 14)),
            ("gpt-4.1-mini".to_owned(), model(1_200, 0.40, 10)),
            ("gpt-4.1-nano".to_owned(), model(600, 0.40, 6)),
        ]);
        Self {
            seed: 0,
            time_scale: 1.0,
            max_body_bytes: 32 * 1024 * 1024,
            api_keys: Vec::new(),
            models,
            load: LoadConfig::default(),
            rate_limit: RateLimitConfig::default(),
            faults: FaultConfig::default(),
            content: ContentConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

/// What `GET /admin/config` and scan-bench's reports show in place of a secret.
pub const REDACTED: &str = "<redacted>";

impl MockConfig {
    /// The config with its API keys replaced by [`REDACTED`], for showing it.
    pub fn redacted(&self) -> Self {
        Self {
            api_keys: vec![REDACTED.to_owned(); self.api_keys.len()],
            ..self.clone()
        }
    }

    /// A config read back from [`MockConfig::redacted`] (its keys all [`REDACTED`], as many as
    /// `current` has) takes `current`'s keys, so a shown config can be edited and sent back.
    pub fn keep_redacted_keys(&mut self, current: &MockConfig) {
        if self.api_keys.len() == current.api_keys.len()
            && self.api_keys.iter().all(|k| k == REDACTED)
        {
            self.api_keys.clone_from(&current.api_keys);
        }
    }

    /// The default models and content with every delay removed (`time_scale = 0`): for tests and
    /// throughput benchmarks.
    pub fn instant() -> Self {
        Self {
            time_scale: 0.0,
            ..Self::default()
        }
    }

    /// Parses a standalone config file's text (top-level keys are this struct's fields) and
    /// validates it. Errors carry `origin` (a file name), line, column and the field.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        scan_config::from_toml_validated(text, origin, Self::validate)
    }

    /// Reads and parses a config file (see [`MockConfig::from_toml_str`]).
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        scan_config::from_toml_file(path, Self::validate)
    }

    /// Checks every field; the server refuses a config that fails this. The error names the
    /// field (as a path such as `models."gpt-4.1".ttft.sigma`) and the expected form.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        check::finite_at_least(field("time_scale"), self.time_scale, 0.0)?;
        if self.max_body_bytes == 0 {
            return Err(Invalid::new(
                field("max_body_bytes"),
                "a size in bytes > 0",
                0,
            ));
        }
        if let Some(i) = self
            .api_keys
            .iter()
            .position(|k| k.trim().is_empty() || k.contains(char::is_whitespace))
        {
            return Err(Invalid::rule(
                field("api_keys").index(i),
                "a key without spaces, not empty",
            ));
        }
        if self.models.is_empty() {
            return Err(Invalid::rule(field("models"), "at least one model"));
        }
        for (name, model) in &self.models {
            if name.is_empty() {
                return Err(Invalid::rule(field("models"), "non-empty model names"));
            }
            model
                .validate()
                .map_err(|e| e.within(name).within("models"))?;
        }
        self.load.validate().map_err(|e| e.within("load"))?;
        self.rate_limit
            .validate()
            .map_err(|e| e.within("rate_limit"))?;
        self.faults.validate().map_err(|e| e.within("faults"))?;
        self.content.validate().map_err(|e| e.within("content"))?;
        self.connections
            .validate()
            .map_err(|e| e.within("connections"))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_instant_are_valid() {
        MockConfig::default().validate().unwrap();
        MockConfig::instant().validate().unwrap();
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(
            MockConfig::from_toml_str("", "empty.toml").unwrap(),
            MockConfig::default()
        );
    }

    #[test]
    fn documented_example_parses() {
        let config = MockConfig::from_toml_str(crate::EXAMPLE_CONFIG, "example.toml").unwrap();
        assert_eq!(config.rate_limit.rpm, Some(500));
        assert_eq!(config.load.capacity, 10);
        assert!(config.models.contains_key("gpt-4o"));
        assert_eq!(config.connections.max_connections, Some(10_000));
    }

    #[test]
    fn unknown_field_is_located() {
        let text = "seed = 1\n\n[models.\"gpt-4o\"]\nttft = \"1s\"\nintertoken = \"5ms\"\n";
        let err = MockConfig::from_toml_str(text, "m.toml").unwrap_err();
        let ConfigError::Field {
            location,
            field,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((location.line, location.column), (5, 1), "{err}");
        assert!(message.contains("intertoken"), "{err}");
        assert!(field.to_string().contains("gpt-4o"), "{err}");
        assert!(err.to_string().starts_with("m.toml:5:1: "), "{err}");
    }

    #[test]
    fn wrong_type_is_located() {
        let err =
            MockConfig::from_toml_str("seed = 1\ntime_scale = \"fast\"\n", "m.toml").unwrap_err();
        let ConfigError::Field {
            location, field, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(location.line, 2, "{err}");
        assert_eq!(field, &FieldPath::root("time_scale"), "{err}");
    }

    #[test]
    fn invalid_value_is_located() {
        let field = |err: &ConfigError| err.field().map(ToString::to_string);
        let line = |err: &ConfigError| match err {
            ConfigError::Invalid {
                location: Some(location),
                ..
            } => location.line,
            _ => panic!("{err:?}"),
        };
        let text = "[faults]\np429 = 0.5\np500 = 0.7\n";
        let err = MockConfig::from_toml_str(text, "m.toml").unwrap_err();
        assert_eq!(field(&err).as_deref(), Some("faults"), "{err}");
        let text =
            "[models.\"gpt-4.1\"]\nttft = { dist = \"lognormal\", median = \"1s\", sigma = 0 }\n";
        let err = MockConfig::from_toml_str(text, "m.toml").unwrap_err();
        assert_eq!(
            field(&err).as_deref(),
            Some("models.\"gpt-4.1\".ttft.sigma"),
            "{err}"
        );
        assert_eq!(line(&err), 2, "{err}");
        let text = "[content]\ncategories = [\n  { major = \"a\", middle = \"b\", minor = \"c\", weight = 1 },\n  { major = \"a\", middle = \"b\", minor = \"c\", weight = -1 },\n]\n";
        let err = MockConfig::from_toml_str(text, "m.toml").unwrap_err();
        assert_eq!(
            field(&err).as_deref(),
            Some("content.categories[1].weight"),
            "{err}"
        );
        assert_eq!(line(&err), 4, "{err}");
        let message = err.to_string();
        assert_eq!(
            message.matches("categories[1].weight").count(),
            1,
            "the field is named once: {message}"
        );
    }

    #[test]
    fn serialized_config_parses_back() {
        let config = MockConfig::from_toml_str(crate::EXAMPLE_CONFIG, "example.toml").unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<MockConfig>(&json).unwrap(), config);
        let toml_text = toml::to_string(&config).unwrap();
        assert_eq!(
            MockConfig::from_toml_str(&toml_text, "round-trip").unwrap(),
            config
        );
    }

    mod fuzz {
        //! Whatever the text, the loader gives a config or a located error, never a panic.

        use proptest::prelude::*;
        use scan_config::fuzz::edits_of;

        use super::*;

        proptest! {
            #[test]
            fn any_text_is_a_config_or_an_error(text in "\\PC{0,256}") {
                let _ = MockConfig::from_toml_str(&text, "fuzz.toml");
            }

            #[test]
            fn an_edited_example_is_a_config_or_a_located_error(
                text in edits_of(crate::EXAMPLE_CONFIG),
            ) {
                if let Err(e) = MockConfig::from_toml_str(&text, "example.toml") {
                    prop_assert!(e.to_string().starts_with("example.toml"), "{e}");
                }
            }
        }
    }
}
