//! An OpenAI-compatible server with realistic latency, rate limits and faults.
//!
//! The public surface: [`MockConfig`] (serde, owned by this crate, embedded in scenarios as the
//! `[mock]` table) and [`MockServer::start`], which binds and returns a [`MockHandle`].

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Configuration of the mock server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MockConfig {
    /// Seed of every random draw (latency, content, faults).
    pub seed: u64,
    /// Multiplies every injected delay.
    pub time_scale: f64,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            time_scale: 1.0,
        }
    }
}

/// A configuration that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A field holds a value outside its allowed range.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl MockConfig {
    /// Checks every field; the server refuses a config that fails this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return Err(ConfigError::Invalid {
                field: "time_scale".into(),
                message: "expected a finite number >= 0".into(),
            });
        }
        Ok(())
    }
}

/// Entry point of the server.
pub struct MockServer;

/// A running server.
pub struct MockHandle {
    addr: SocketAddr,
}

impl MockHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
