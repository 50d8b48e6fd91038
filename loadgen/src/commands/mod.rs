//! One module per subcommand; each turns raw arguments into resolved settings, then works.

mod catalog;
mod reproduce;
mod run;
mod serve;

pub use catalog::{list, show, validate};
pub use reproduce::reproduce;
pub use run::run;
pub use serve::serve;

use crate::error::CliError;

/// A subcommand whose work is not built yet says so instead of pretending.
pub fn not_built(command: &'static str) -> Result<(), CliError> {
    Err(CliError::NotBuilt(command))
}
