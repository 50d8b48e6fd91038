//! Run reports of scan-bench: the versioned [`RunReport`] JSON, HDR histogram summaries that
//! merge exactly, threshold verdicts, and renderers (one module per output format).
//!
//! ```no_run
//! use reports::RunReport;
//!
//! let report = RunReport::read("out/report.json".as_ref())?;
//! println!("{}", reports::render::terminal(&report));
//! # Ok::<(), reports::ReportError>(())
//! ```

pub mod histogram;
pub mod render;
mod report;
pub mod thresholds;

pub use report::{
    Environment, LatencyMetric, NullCount, ReportError, RunReport, SCHEMA_VERSION, SecondSample,
    ServerView, ThresholdResult, Totals, write_atomic,
};
