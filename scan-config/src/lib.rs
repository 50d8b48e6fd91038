//! The configuration vocabulary that mock-openai's and reference-pipeline's configs and
//! scan-bench's scenarios share, at the bottom of the crate graph so that a reader of configs
//! (or of reports embedding them) needs no server:
//!
//! - [`FieldPath`]: where a field is, as the user writes it (`models."gpt-4.1".ttft`);
//! - [`from_toml_str`] and [`Location`]: TOML text into serde data, with every error at its
//!   file, line, column and field; [`Invalid`] and [`ConfigError`]: a value a config cannot
//!   take, and every way a config file can be wrong; [`check`]: the checks several configs
//!   make;
//! - [`ConnectionLimits`]: the `[connections]` table of both servers (timeouts, a cap);
//! - [`FaultKind`] and [`FaultTable`]: a server's kinds of injected fault and the `faults`
//!   table that draws at most one of them per request;
//! - [`Dist`]: a random quantity ([`Delay`], [`TokenCount`]), fixed or drawn from a
//!   distribution, in every spelling the configs accept.
//!
//! ```
//! use scan_config::{ConfigError, Delay};
//!
//! #[derive(serde::Deserialize)]
//! struct Model { ttft: Delay }
//!
//! let text = "ttft = { dist = \"lognormal\", median = \"2s\", sigma = \"wide\" }\n";
//! let err = scan_config::from_toml_str::<Model>(text, "m.toml").err().unwrap();
//! assert!(matches!(err, ConfigError::Field { .. }));
//! assert!(err.to_string().starts_with("m.toml:1:"), "{err}");
//! assert_eq!(err.field().unwrap().to_string(), "ttft.sigma");
//! ```

pub mod check;
mod connections;
mod dist;
mod error;
mod fault;
#[cfg(feature = "fuzz")]
pub mod fuzz;
mod locate;
mod path;
pub mod waste;

pub use connections::ConnectionLimits;
pub use dist::{Delay, Dist, Quantity, TokenCount, Width};
pub use error::{ConfigError, Invalid};
pub use fault::{FaultKind, FaultTable};
pub use locate::{Location, from_toml_file, from_toml_str, from_toml_validated};
pub use path::{FieldPath, Segment};
