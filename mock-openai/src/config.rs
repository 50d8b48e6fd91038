//! [`MockConfig`]: everything the server can be told, with its one validation and TOML loading.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use scan_config::{ConfigError, Delay, FieldPath, Invalid, TokenCount, Width};
use serde::{Deserialize, Serialize};

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
}

/// Latency model of one model name.
///
/// A non-streaming answer arrives after `ttft + (tokens - 1) * inter_token`; a stream sends its
/// first token after `ttft` and each further one `inter_token` later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Time to first token.
    pub ttft: Delay,
    /// Delay between tokens, drawn once per request.
    pub inter_token: Delay,
    /// Length of free-text answers. JSON answers are as long as their content.
    pub output_tokens: TokenCount,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            ttft: Delay::lognormal(Duration::from_millis(800), 0.4, Duration::from_secs(60)),
            inter_token: Delay::fixed(Duration::from_millis(15)),
            output_tokens: TokenCount::LogNormal {
                median: 150.0,
                width: Width::Sigma(0.5),
                min: None,
                max: Some(1000),
            },
        }
    }
}

impl ModelConfig {
    /// A model that answers at once.
    pub fn instant() -> Self {
        Self {
            ttft: Delay::ZERO,
            inter_token: Delay::ZERO,
            output_tokens: TokenCount::fixed(16),
        }
    }
}

/// Load coupling: how latency reacts to the number of requests in flight (all models together).
///
/// Two mechanisms, usable together:
/// - slowdown: with `n` requests in flight on arrival, every delay of the new request is
///   multiplied by `min(1 + slowdown * max(0, n - capacity), max_factor)`;
/// - queueing: at most `max_concurrent` requests are served at once, the others wait in
///   arrival order (the wait adds to their latency).
///
/// Example ("vision ~4.5 s at 10 users, 6-10 s under load"): `capacity = 10`,
/// `slowdown = 0.05`, `max_factor = 2.5`. At 10 concurrent calls nothing changes; at 30 the
/// delays double (4.5 s -> 9 s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    /// Requests in flight served at base latency; 0 disables the slowdown.
    pub capacity: u32,
    /// Added delay factor per request in flight above `capacity`.
    pub slowdown: f64,
    /// Upper bound of the factor.
    pub max_factor: f64,
    /// Requests served concurrently, others queue; 0 = unlimited.
    pub max_concurrent: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            capacity: 0,
            slowdown: 0.0,
            max_factor: 1.0,
            max_concurrent: 0,
        }
    }
}

impl LoadConfig {
    /// The Eco² example: base latency up to 10 calls in flight, doubling at 30.
    pub fn eco2() -> Self {
        Self {
            capacity: 10,
            slowdown: 0.05,
            max_factor: 2.5,
            max_concurrent: 0,
        }
    }
}

/// Rate limits per API key, as token buckets that refill continuously (OpenAI's semantics):
/// a bucket holds `rpm` requests (`tpm` tokens) and refills at that amount per `window`.
/// A request costs one request and `max(prompt tokens, max_tokens)` tokens (estimated from its
/// size, as OpenAI does before generating). Both limits must allow it, else 429.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests per window; absent = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per window; absent = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// The window (one minute, like the names say); scaled by `time_scale`, so a scenario run
    /// 100 times faster also meets the limit 100 times sooner.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            rpm: None,
            tpm: None,
            window: Duration::from_secs(60),
        }
    }
}

impl RateLimitConfig {
    /// Whether any limit is set.
    pub fn is_enabled(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some()
    }
}

/// Injected failures: each request suffers at most one, drawn with these probabilities (their
/// sum must not exceed 1) from the seeded random sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Immediate 429 (as if rate limited upstream), with `retry-after` of 1 s (scaled).
    pub p429: f64,
    /// Immediate 500.
    pub p500: f64,
    /// Immediate 503 (overloaded).
    pub p503: f64,
    /// Response head sent, then silence for `stall_for`, then the answer as usual.
    pub p_stall: f64,
    /// Connection dropped mid-answer (streams: after some tokens; others: after part of the body).
    pub p_drop: f64,
    /// Nothing at all (not even headers) for `slow_first_byte_by`, then the answer as usual.
    pub p_slow_first_byte: f64,
    /// Streams only: all tokens held back and sent in one burst at the end ("fake streaming").
    pub p_burst: f64,
    /// Silence of a stall; scaled by `time_scale`.
    #[serde(with = "humantime_serde")]
    pub stall_for: Duration,
    /// Extra wait of a slow first byte; scaled by `time_scale`.
    #[serde(with = "humantime_serde")]
    pub slow_first_byte_by: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            p429: 0.0,
            p500: 0.0,
            p503: 0.0,
            p_stall: 0.0,
            p_drop: 0.0,
            p_slow_first_byte: 0.0,
            p_burst: 0.0,
            stall_for: Duration::from_secs(30),
            slow_first_byte_by: Duration::from_secs(10),
        }
    }
}

impl FaultConfig {
    /// The probabilities with their field names, in draw order.
    pub(crate) fn probabilities(&self) -> [(&'static str, f64); 7] {
        [
            ("p429", self.p429),
            ("p500", self.p500),
            ("p503", self.p503),
            ("p_stall", self.p_stall),
            ("p_drop", self.p_drop),
            ("p_slow_first_byte", self.p_slow_first_byte),
            ("p_burst", self.p_burst),
        ]
    }
}

/// Content of canned answers for the scan pipeline's schemas (`waste_classification`,
/// `disposal_answer`); other JSON schemas get values generated from the schema itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// Probability that a `disposal_answer` lists insufficiencies.
    pub insufficiency_probability: f64,
    /// Categories the vision answer draws from, by weight.
    pub categories: Vec<Category>,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            insufficiency_probability: 0.15,
            categories: Category::defaults(),
        }
    }
}

/// One weighted entry of the vision answer's category distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Major category, e.g. `recyclable`.
    pub major: String,
    /// Middle category, e.g. `pet_bottle`.
    pub middle: String,
    /// Minor category (free text), e.g. `water_bottle`.
    pub minor: String,
    /// Relative weight (>= 0).
    pub weight: f64,
}

impl Category {
    fn new(major: &str, middle: &str, minor: &str, weight: f64) -> Self {
        Self {
            major: major.into(),
            middle: middle.into(),
            minor: minor.into(),
            weight,
        }
    }

    /// The default distribution: common household items first, about 10 % rule misses
    /// (`recyclable/composite`, `recyclable/other`, `unclassifiable`).
    pub fn defaults() -> Vec<Category> {
        let r = "recyclable";
        vec![
            Category::new(r, "pet_bottle", "water_bottle", 9.0),
            Category::new(r, "pet_bottle", "soda_bottle", 6.0),
            Category::new(r, "plastic", "food_container", 7.0),
            Category::new(r, "plastic", "shampoo_bottle", 3.0),
            Category::new(r, "paper", "cardboard_box", 6.0),
            Category::new(r, "paper", "newspaper", 3.0),
            Category::new(r, "can", "beer_can", 4.0),
            Category::new(r, "can", "soda_can", 4.0),
            Category::new(r, "vinyl", "snack_wrapper", 5.0),
            Category::new(r, "vinyl", "plastic_bag", 3.0),
            Category::new(r, "glass_bottle", "soju_bottle", 3.0),
            Category::new(r, "styrofoam", "delivery_box", 2.0),
            Category::new(r, "paper_pack", "milk_carton", 3.0),
            Category::new(r, "paper_cup", "coffee_cup", 3.0),
            Category::new(r, "metal", "frying_pan", 1.0),
            Category::new(r, "clothing", "t_shirt", 2.0),
            Category::new(r, "small_electronics", "hair_dryer", 1.0),
            Category::new("general", "general_waste", "tissue", 6.0),
            Category::new("food", "food_waste", "fruit_peel", 5.0),
            Category::new("bulky", "furniture", "chair", 1.0),
            Category::new("hazardous", "battery", "aa_battery", 1.5),
            Category::new("construction", "debris", "tile_fragment", 0.5),
            Category::new("medical", "medicine", "expired_pills", 1.0),
            Category::new(r, "composite", "toothbrush", 3.5),
            Category::new(r, "other", "rubber_glove", 2.5),
            Category::new("unclassifiable", "unclassifiable", "unknown_object", 3.5),
        ]
    }
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
        let config: MockConfig = scan_config::from_toml_str(text, origin)?;
        config
            .validate()
            .map_err(|e| ConfigError::invalid_in(e, text, origin))?;
        Ok(config)
    }

    /// Reads and parses a config file (see [`MockConfig::from_toml_str`]).
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        Self::from_toml_str(&ConfigError::read(path)?, &path.display().to_string())
    }

    /// Checks every field; the server refuses a config that fails this. The error names the
    /// field (as a path such as `models."gpt-4.1".ttft.sigma`) and the expected form.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return Err(Invalid::new(
                field("time_scale"),
                "a finite number >= 0",
                self.time_scale,
            ));
        }
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
        self.content.validate().map_err(|e| e.within("content"))
    }
}

impl ModelConfig {
    /// Checks the three distributions.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.ttft.validate().map_err(|e| e.within("ttft"))?;
        self.inter_token
            .validate()
            .map_err(|e| e.within("inter_token"))?;
        self.output_tokens
            .validate()
            .map_err(|e| e.within("output_tokens"))
    }
}

impl LoadConfig {
    /// Checks the slowdown and its cap.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        if !(self.slowdown.is_finite() && self.slowdown >= 0.0) {
            return Err(Invalid::new(
                field("slowdown"),
                "a finite number >= 0",
                self.slowdown,
            ));
        }
        if !(self.max_factor.is_finite() && self.max_factor >= 1.0) {
            return Err(Invalid::new(
                field("max_factor"),
                "a finite number >= 1",
                self.max_factor,
            ));
        }
        Ok(())
    }
}

impl RateLimitConfig {
    /// Checks that a limit, when set, allows something, and the window.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        for (name, limit) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if limit == Some(0) {
                return Err(Invalid::new(
                    field(name),
                    "a count > 0 (omit it for no limit)",
                    0,
                ));
            }
        }
        if self.window.is_zero() {
            return Err(Invalid::new(
                field("window"),
                "a duration > 0 such as \"1m\"",
                "0s",
            ));
        }
        Ok(())
    }
}

impl FaultConfig {
    /// Checks each probability and their sum.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut sum = 0.0;
        for (name, p) in self.probabilities() {
            check_probability(FieldPath::root(name), p)?;
            sum += p;
        }
        // A little slack for sums such as 0.1 + 0.2 + 0.7.
        if sum > 1.0 + 1e-9 {
            return Err(Invalid::new(
                FieldPath::default(),
                "probabilities that add up to at most 1",
                format!("a sum of {sum}"),
            ));
        }
        Ok(())
    }
}

impl ContentConfig {
    /// Checks the probability and the categories.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        check_probability(
            field("insufficiency_probability"),
            self.insufficiency_probability,
        )?;
        let categories = &self.categories;
        if categories.is_empty() {
            return Err(Invalid::rule(field("categories"), "at least one category"));
        }
        for (i, c) in categories.iter().enumerate() {
            let at = field("categories").index(i);
            if !(c.weight.is_finite() && c.weight >= 0.0) {
                return Err(Invalid::new(
                    at.key("weight"),
                    "a finite number >= 0",
                    c.weight,
                ));
            }
            for (name, value) in [
                ("major", &c.major),
                ("middle", &c.middle),
                ("minor", &c.minor),
            ] {
                if value.is_empty() {
                    return Err(Invalid::rule(at.key(name), "a non-empty name"));
                }
            }
        }
        if categories.iter().all(|c| c.weight == 0.0) {
            return Err(Invalid::rule(
                field("categories"),
                "at least one weight > 0",
            ));
        }
        Ok(())
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn check_probability(field: FieldPath, p: f64) -> Result<(), Invalid> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Invalid::new(field, "a probability from 0 to 1", p))
    }
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
}
