//! The OpenAI-compatible upstreams: the `openai` table ([`OpenAiConfig`]), and the client that
//! calls them (`client`).

use std::collections::BTreeMap;
use std::time::Duration;

use scan_config::{FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod client;

#[cfg(feature = "server")]
pub use client::MissingKey;
#[cfg(feature = "server")]
pub(crate) use client::*;

/// OpenAI-compatible upstreams and the call policy shared by the vision and answer stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// Base URLs (ending in `/v1`) with their keys; several spread or absorb rate limits.
    pub providers: Vec<Provider>,
    /// Which provider a call tries first.
    pub routing: Routing,
    /// Model of the vision stage (Responses API).
    pub vision_model: String,
    /// Model of the answer stage (chat completions).
    pub answer_model: String,
    /// Limit of one HTTP attempt (Eco²'s 60 s soft limit).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Attempts after the first on 429, 5xx, timeouts and connection errors (Eco²: 2).
    pub max_retries: u32,
    /// First back-off step; attempt n waits a uniform draw from 0 to `base * 2^n` (full jitter),
    /// at least the server's `retry-after`.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Cap of one back-off step.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Requests in flight per provider at most; more wait for a free one (the OpenAI Python
    /// SDK's default connection limit is 1000). Also the idle connections kept per provider.
    pub max_connections: usize,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            providers: vec![Provider::new("http://127.0.0.1:8080/v1")],
            routing: Routing::RoundRobin,
            vision_model: "gpt-4o".into(),
            answer_model: "gpt-4o-mini".into(),
            request_timeout: Duration::from_secs(60),
            max_retries: 2,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_connections: 1000,
        }
    }
}

/// One OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Base URL including the version segment, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer token; omitted = no `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Name of an environment variable holding the key, read at start (keeps keys out of files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Extra request headers, e.g. an organisation id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Provider {
    /// A provider without key or headers.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            api_key_env: None,
            headers: BTreeMap::new(),
        }
    }
}

/// Provider choice per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// Calls start on the providers in turn; a limited provider is skipped until its
    /// `retry-after` has passed.
    RoundRobin,
    /// Calls start on the first provider and move to the next one on 429, 5xx or timeout.
    Failover,
}

impl OpenAiConfig {
    /// Checks the providers, the models and the call policy.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        if self.providers.is_empty() {
            return Err(Invalid::new(
                field("providers"),
                "at least one provider, e.g. [{ base_url = \"http://127.0.0.1:8080/v1\" }]",
                "an empty list",
            ));
        }
        for (i, provider) in self.providers.iter().enumerate() {
            provider
                .validate()
                .map_err(|e| e.under(&FieldPath::root("providers").index(i)))?;
        }
        for (name, model) in [
            ("vision_model", &self.vision_model),
            ("answer_model", &self.answer_model),
        ] {
            if model.trim().is_empty() {
                return Err(Invalid::new(field(name), "a model name", "\"\""));
            }
        }
        check::positive(field("request_timeout"), self.request_timeout)?;
        check::in_range(field("max_connections"), self.max_connections, 1, 100_000)?;
        check::in_range(field("max_retries"), self.max_retries as usize, 0, 20)?;
        if self.backoff_max < self.backoff_base {
            return Err(Invalid::new(
                field("backoff_max"),
                "a duration >= openai.backoff_base",
                humantime::format_duration(self.backoff_max),
            ));
        }
        Ok(())
    }
}

impl Provider {
    /// Checks the URL and the headers.
    pub fn validate(&self) -> Result<(), Invalid> {
        let http = url::Url::parse(&self.base_url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
        if !http {
            return Err(Invalid::new(
                FieldPath::root("base_url"),
                "an http(s) URL such as \"http://127.0.0.1:8080/v1\"",
                format!("{:?}", self.base_url),
            ));
        }
        for (name, value) in &self.headers {
            let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && http::HeaderValue::from_str(value).is_ok();
            if !valid {
                return Err(Invalid::new(
                    FieldPath::root("headers"),
                    "valid HTTP header names and values",
                    format!("{name:?} = {value:?}"),
                ));
            }
        }
        Ok(())
    }
}
