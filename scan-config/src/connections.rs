//! [`ConnectionLimits`]: how long a server waits for a client and how many clients it holds,
//! the `[connections]` table of both servers' configs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::Invalid;
use crate::path::FieldPath;

/// Limits on the connections a server holds, so that slow, idle or too many clients cannot
/// take its open files. Real time: no time scale applies.
///
/// ```toml
/// [connections]
/// header_timeout = "10s"
/// idle_timeout = "60s"
/// max_connections = 10000
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// A request's head (request line and headers) must arrive whole within this, counted from
    /// the connection's opening or, on a kept-alive connection, from the request's first byte.
    /// A slower client's connection is closed.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// A kept-alive connection with no request in progress is closed after this.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections held at once; one more is answered 503 and closed at once. Unset: half
    /// the process's open-file limit, which leaves the other half for what the open
    /// connections need (upstream connections, files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
        }
    }
}

impl ConnectionLimits {
    /// Checks every field; field paths are relative to the table.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        check::positive(field("header_timeout"), self.header_timeout)?;
        check::positive(field("idle_timeout"), self.idle_timeout)?;
        if let Some(max) = self.max_connections {
            check::at_least(field("max_connections"), max, 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_humantime_durations_and_an_optional_cap() {
        let limits: ConnectionLimits =
            crate::from_toml_str("header_timeout = \"2s\"\nmax_connections = 5\n", "t").unwrap();
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(limits.max_connections, Some(5));
        assert!(limits.validate().is_ok());
    }

    #[test]
    fn refuses_zero_timeouts_and_caps() {
        let field_of = |limits: ConnectionLimits| limits.validate().unwrap_err().field.to_string();
        let zero_header = ConnectionLimits {
            header_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert_eq!(field_of(zero_header), "header_timeout");
        let zero_cap = ConnectionLimits {
            max_connections: Some(0),
            ..ConnectionLimits::default()
        };
        assert_eq!(field_of(zero_cap), "max_connections");
    }
}
