//! One module per subcommand; each turns raw arguments into resolved settings, then works.

mod catalog;
mod compare;
mod gate;
mod merge;
mod report_files;
mod reproduce;
mod run;
mod serve;
mod signals;
mod sweep;

pub use catalog::{list, show, validate};
pub use compare::compare;
pub use gate::gate;
pub use merge::merge;
pub use reproduce::reproduce;
pub use run::run;
pub use serve::serve;
pub use sweep::sweep;
