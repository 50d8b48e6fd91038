//! An OpenAI-compatible server with realistic latency, rate limits and faults, so that a
//! pipeline built on OpenAI can be tested and load-tested offline and repeatably.
//!
//! # Endpoints
//! - `POST /v1/chat/completions`: `model` (one of the config's models, else 404), `messages`
//!   with text and `image_url` content parts (http(s) and `data:` URLs,
//!   never fetched), `response_format` `json_object` / `json_schema`, `stream` with
//!   `stream_options.include_usage`, `max_tokens` / `max_completion_tokens`, `n` (1 only: one
//!   choice per answer; `n` > 1 gets 400 `unsupported_value`).
//! - `POST /v1/responses`: `input` as a string or items with `input_text` / `input_image`
//!   parts, `instructions`, `text.format` JSON schema, `stream`, `max_output_tokens`.
//! - `GET /v1/models`, `GET /v1/models/{model}`, `GET /healthz`, `GET /metrics` (Prometheus).
//! - `GET /admin/config` (JSON) and `PUT /admin/config` (JSON, or TOML with a content type
//!   containing `toml`): replaces the whole config while running; an invalid one gets 400 and
//!   the old one stays. Its bodies have their own limit, [`ADMIN_MAX_BODY_BYTES`] (1 MiB),
//!   whatever the config's `max_body_bytes`, so that no config can lock the admin API out.
//!
//! HTTP/1.1, and HTTP/2 with prior knowledge (h2c), on one port; TCP_NODELAY on every
//! connection.
//!
//! # Parameters
//! Each endpoint accepts OpenAI's parameters, as strictly as OpenAI does: a wrong type is 400
//! `invalid_type` (`Invalid type for 'temperature': expected a decimal, but got a string
//! instead.`), a value out of range 400 `decimal_above_max_value`, `integer_below_min_value`,
//! `array_above_max_length` ... (`Invalid 'temperature': decimal above maximum value. Expected
//! a value <= 2, but got 5 instead.`), and an unknown parameter 400 `Unrecognized request
//! argument supplied: foo` (chat, no `param` or `code`) or `Unknown parameter: 'foo'.`
//! (Responses, `unknown_parameter`). `null` counts as not given. Parameters the mock does not
//! use are checked, then ignored:
//! - chat: `temperature` (0 to 2), `top_p` (0 to 1), `presence_penalty` and
//!   `frequency_penalty` (-2 to 2), `stop` (a string or up to 4), `seed`, `user`, `logprobs`,
//!   `top_logprobs` (0 to 20), `tools`, `tool_choice`, `parallel_tool_calls`, `functions`,
//!   `function_call`, `logit_bias` (-100 to 100), `metadata` (up to 16 strings), `store`,
//!   `service_tier`, `reasoning_effort`, `verbosity`, `modalities`, `audio`, `prediction`,
//!   `web_search_options`, `prompt_cache_key`, `safety_identifier`,
//!   `stream_options.include_obfuscation`;
//! - Responses: `temperature`, `top_p`, `top_logprobs`, `store`, `metadata`, `user`, `tools`,
//!   `tool_choice`, `parallel_tool_calls`, `max_tool_calls`, `previous_response_id` (nothing is
//!   stored), `conversation`, `truncation` (`auto` or `disabled`), `reasoning` (`effort`,
//!   `summary`), `include`, `background`, `service_tier`, `stream_options`, `prompt`,
//!   `prompt_cache_key`, `safety_identifier`, `text.verbosity`.
//!
//! Token caps are integers >= 1, `max_output_tokens` >= 16 (OpenAI's floor for Responses).
//! Tools are checked as objects, not run.
//!
//! Errors have OpenAI's shape `{"error": {"message", "type", "param", "code"}}`: 400 (naming
//! the parameter), 401, 404 (unknown model or route), 405, 413, 429, 500, 503.
//!
//! # Behaviour
//! - Answers: free text of `output_tokens` tokens, or valid JSON for the requested schema. The
//!   scan pipeline's schemas `waste_classification` and `disposal_answer` get plausible data
//!   drawn from [`ContentConfig`]; any other schema gets values generated from the schema.
//! - Latency per model ([`ModelConfig`]): time to first token from a [`Delay`] distribution,
//!   then `inter_token` per token; a non-streaming answer arrives when its last token would.
//!   [`LoadConfig`] makes delays grow with the requests in flight, or queues requests beyond a
//!   concurrency cap. `time_scale` multiplies every delay.
//! - Rate limits per API key ([`RateLimitConfig`]): continuous token buckets for requests and
//!   tokens; when a limit is set, `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` on
//!   every model response past authentication and parsing, and 429 with `retry-after` and
//!   `retry-after-ms` when over.
//! - Faults ([`FaultConfig`], [`Fault`], drawn and named as [`scan_config::FaultTable`] and
//!   [`scan_config::FaultKind`] say): immediate 429/500/503, stall, drop, slow first byte,
//!   burst ("fake streaming"); the header `x-mock-fault: <kind>` forces one on one request.
//! - Determinism: model request number `n` (in arrival order, counted from server start or the
//!   last config swap) draws its fault, delays and content from stream `n` of one ChaCha8
//!   generator seeded with `seed`. Same seed and same request order give the same faults,
//!   delays and answers (ids included, `created` timestamps aside).
//! - `/admin/config` and `/metrics` need no API key: the server binds loopback unless told
//!   otherwise. With an admin token ([`ServerOptions::admin_token`]; for the binary and
//!   [`serve_until_signal`], the environment variable [`ADMIN_TOKEN_ENV`],
//!   `MOCK_OPENAI_ADMIN_TOKEN`, set and non-empty), `GET` and `PUT /admin/config` require
//!   `Authorization: Bearer <token>` and answer 401 without it. The token lives beside the
//!   config, never in it: no `GET /admin/config`, log line or report shows it.
//!
//! # Running it
//! - In process: [`MockServer::start`] (or [`MockServer::start_with`] and its
//!   [`ServerOptions`]) returns a [`MockHandle`] with the bound address,
//!   [`MockHandle::base_url`] for an OpenAI client, [`MockHandle::set_config`] and a graceful
//!   [`MockHandle::shutdown`].
//! - Standalone: `mock-openai [--config FILE] [--listen 127.0.0.1:0]` prints
//!   `mock-openai listening on http://ADDR` and serves until Ctrl-C; a bad config exits with
//!   status 2 and a message naming file, line, column and field. `--example-config` prints the
//!   example below. [`serve_until_signal`] is that binary in one call.
//! - Benchmarks: `cargo bench -p mock-openai --bench mock_openai [-- completions | streams]`
//!   (see `benches/mock_openai.rs`).
//!
//! # Configuration
//! [`MockConfig`] is plain serde data (embedded as the `[mock]` table of a scan-bench scenario).
//! The server is the default feature `server`; without it the crate is this configuration alone
//! (its sections, validation and TOML loading, none of axum or tokio), which is what scan-bench's
//! scenarios and reports depend on.
//! A standalone file, parsed with [`MockConfig::from_toml_str`], looks like this:
//!
//! ```toml
#![doc = include_str!("../example.toml")]
//! ```
//!
//! # Example
//! ```
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mock_openai::{MockConfig, MockServer};
//! use serde_json::{Value, json};
//!
//! let server = MockServer::start(MockConfig::instant(), "127.0.0.1:0".parse()?).await?;
//! // Any OpenAI client takes `server.base_url()` as its base URL.
//! let answer: Value = reqwest::Client::new()
//!     .post(format!("{}/chat/completions", server.base_url()))
//!     .json(&json!({ "model": "gpt-4o-mini", "messages": [{ "role": "user", "content": "Hi" }] }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(answer["object"], "chat.completion");
//! server.shutdown().await;
//! # Ok(()) }
//! ```

// Without the server, its answer and rate-limit machinery beside the config sections is unused.
#![cfg_attr(not(feature = "server"), allow(dead_code))]

#[cfg(feature = "server")]
mod admin;
mod config;
mod content;
#[cfg(feature = "server")]
mod error;
mod faults;
mod json_schema;
mod latency;
#[cfg(feature = "server")]
mod metrics;
#[cfg(feature = "server")]
mod params;
mod ratelimit;
#[cfg(feature = "server")]
mod request;
#[cfg(feature = "server")]
mod response;
mod scan;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod stream;

#[cfg(feature = "server")]
use std::net::SocketAddr;

#[cfg(feature = "server")]
pub use admin::{
    ADMIN_MAX_BODY_BYTES, ADMIN_TOKEN_ENV, AdminToken, AdminTokenError, ServerOptions,
};
pub use config::{MockConfig, REDACTED};
pub use content::{Category, ContentConfig};
pub use faults::{Fault, FaultConfig};
pub use latency::{LoadConfig, ModelConfig};
pub use ratelimit::RateLimitConfig;
pub use scan::{ANSWER_SCHEMA, VISION_SCHEMA};
pub use scan_config::{ConfigError, Delay, Dist, FieldPath, Invalid, Location, TokenCount, Width};
#[cfg(feature = "server")]
pub use server::{MockHandle, MockServer};

/// The documented example configuration (a standalone TOML file).
pub const EXAMPLE_CONFIG: &str = include_str!("../example.toml");

/// The server could not start.
#[cfg(feature = "server")]
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The admin token in the environment ([`ADMIN_TOKEN_ENV`]) cannot be one.
    #[error("{ADMIN_TOKEN_ENV}: {0}")]
    AdminToken(#[from] AdminTokenError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Runs a server the way the `mock-openai` binary and `scan-bench serve mock-openai` do:
/// takes its [`ServerOptions`] from the environment (the admin token from
/// [`ADMIN_TOKEN_ENV`]), raises the open-file limit, starts the server, hands it to `started`
/// (which announces it), serves until SIGINT, SIGTERM or SIGHUP, then shuts down gracefully
/// (a second signal cuts that short).
#[cfg(feature = "server")]
pub async fn serve_until_signal(
    config: MockConfig,
    listen: SocketAddr,
    started: impl FnOnce(&MockHandle),
) -> Result<(), StartError> {
    let options = ServerOptions::from_env()?;
    scan_serve::raise_open_file_limit();
    let server = MockServer::start_with(config, listen, options).await?;
    started(&server);
    scan_serve::until_stopped(server.shutdown()).await;
    Ok(())
}
