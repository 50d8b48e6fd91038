//! Run reports of scan-bench: the versioned [`RunReport`] JSON, HDR histogram summaries that
//! merge exactly, threshold verdicts, runs side by side ([`compare`]), the regression
//! [`gate`], shard [`merge`], load sweeps and their knee ([`sweep`]), and renderers (one module per output format behind
//! [`render::Renderer`]).
//!
//! ```no_run
//! use reports::{RunReport, gate::{GateConfig, gate}, render::Format};
//!
//! let base = RunReport::read("base/report.json".as_ref())?;
//! let new = RunReport::read("new/report.json".as_ref())?;
//! let config = GateConfig { tolerances: reports::gate::parse_tolerances("chain.p95=10%")?, ..GateConfig::default() };
//! let verdict = gate(("base", &base), ("new", &new), &config)?;
//! print!("{}", Format::Terminal.renderer().gate(&verdict));
//! std::process::exit(if verdict.passed { 0 } else { 99 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bootstrap;
pub mod compare;
pub mod figure;
pub mod gate;
pub mod histogram;
pub mod merge;
pub mod render;
mod report;
pub mod sweep;
pub mod thresholds;

pub use report::{
    CountMetric, Environment, Goodput, LatencyMetric, LlmCalls, LoadgenHealth, NullCount,
    ReportError, RunReport, SCHEMA_VERSION, SecondSample, ServerView, ThresholdResult, TokenStats,
    Totals, write_atomic,
};
