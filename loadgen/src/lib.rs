//! The scan-bench load generator: goose drives virtual users, each request's SSE stream is
//! read and timed here, and the measurements become a `reports::RunReport`.

pub mod record;
pub mod sse;
pub mod request;
pub mod schedule;
pub mod measure;
pub mod engine;
pub mod scrape;
pub mod run;
pub mod stack;
