//! The scan-bench load generator: goose drives virtual users, each request's SSE stream is
//! read and timed here, and the measurements become a `reports::RunReport`.

pub mod arrivals;
pub mod connect;
pub mod engine;
pub mod failure;
pub mod live;
pub mod measure;
pub mod prometheus;
pub mod record;
pub mod request;
pub mod scenario_run;
pub mod schedule;
pub mod scrape;
pub mod slo;
pub mod sse;
pub mod stack;
