//! The Eco² scan chain (vision -> rule -> answer -> reward) as an async SSE service.
//!
//! The public surface: [`PipelineConfig`] (serde, owned by this crate, embedded in scenarios as
//! the `[pipeline]` table) and [`Pipeline::start`], which binds and returns a [`PipelineHandle`].

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Configuration of the pipeline service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Multiplies every injected delay and every timeout.
    pub time_scale: f64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self { time_scale: 1.0 }
    }
}

/// A configuration that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A field holds a value outside its allowed range.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl PipelineConfig {
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

/// Entry point of the service.
pub struct Pipeline;

/// A running service.
pub struct PipelineHandle {
    addr: SocketAddr,
}

impl PipelineHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
