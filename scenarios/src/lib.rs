//! The vocabulary of scan-bench: scenario files, load profiles, thresholds, the bundled
//! catalog, and the published reference figures as data.
//!
//! A scenario is TOML. Everything but `name` and `[load]` has a default (the reference
//! pipeline's request and stream protocol, an embedded mock and pipeline):
//!
//! ```toml
//! name = "my-test"
//! time_scale = 0.1              # every injected latency and load duration x 0.1
//!
//! [load]                        # closed model, as k6's ramping-vus
//! stages = [
//!   { duration = "60s", target = 34 },
//!   { duration = "90s", target = 34 },
//!   { duration = "30s", target = 0 },
//! ]
//!
//! [thresholds]                  # k6 syntax; latencies in ms
//! sse_ttfb = ["p(95)<8000"]
//! "stage_duration{stage:vision}" = ["avg<6000"]
//! ```
//!
//! Every scenario, from the catalog or a file, goes one way before it runs: parse
//! ([`ScenarioSource`]), apply command-line [`Overrides`], validate ([`Scenario::validate`]).
//! Each error names the file, line, column and field, and the form expected:
//!
//! ```
//! use scenarios::{Overrides, ScenarioSource};
//!
//! let text = "name = \"x\"\n[load]\nstages = [{ duration = \"60x\", target = 3 }]\n";
//! let err = ScenarioSource::parse(text, "x.toml").unwrap_err().to_string();
//! assert!(err.starts_with("x.toml:3:24: field `load.stages[0].duration`"), "{err}");
//!
//! let scenario = scenarios::open("eco2-vu34").unwrap().resolve(&Overrides::default()).unwrap();
//! assert_eq!(scenario.load.peak_vus(), 34);
//! ```

pub mod catalog;
pub mod duration;
mod error;
mod metric;
mod overrides;
pub mod published;
pub mod redact;
mod scenario;
mod shard;
mod source;
mod sweep;
pub mod template;
mod threshold;
mod validate;

pub use error::{FieldPath, Location, ScenarioError, Segment};
pub use metric::{Metric, MetricKind, Timing};
pub use overrides::Overrides;
pub use scenario::{
    ArrivalRate, BUILTIN_VARS, DEFAULT_MAX_EVENT_BYTES, EmbeddedTarget, EventMatch, Load,
    LoadModel, RateStage, Request, SERVER_VIEW_OFF, Scenario, StageName, StageTimingRule,
    StreamSpec, TokenSpec, Var, VuStage,
};
pub use shard::Shard;
pub use source::ScenarioSource;
pub use sweep::{LoadPoint, LoadUnit};
pub use threshold::{Aggregate, MetricKey, Op, Threshold};
pub use validate::Invalid;

/// A catalog name or a file path, parsed: see [`ScenarioSource::open`].
pub fn open(name_or_path: &str) -> Result<ScenarioSource, ScenarioError> {
    ScenarioSource::open(name_or_path)
}

impl Scenario {
    /// The scenario as TOML that parses back to the same scenario, defaults spelled out, with
    /// a comment on the embedded stack's tables saying which settings the scenario owns, and
    /// one on `[stream]` naming the spellings of its stage settings.
    pub fn to_toml(&self) -> String {
        let text = toml::to_string_pretty(self).expect("a scenario always serializes to TOML");
        let mut out = String::with_capacity(text.len() + 512);
        for line in text.lines() {
            match line {
                "[stream]" => out.push_str(
                    "# How the answer stream is read. stage_name: \"event\" (the SSE event name\n\
                     # is the stage) or a JSON pointer into the data (\"/step\"). stage_timing:\n\
                     # \"status\" (a stage runs from its `started` to its `completed` event) or\n\
                     # \"since-previous\" (one event per stage, timed from the previous stage's\n\
                     # end). stages = [] reads a stream without stages.\n",
                ),
                "[mock]" => out.push_str(
                    "# The embedded mock-openai (not used against an external target). Its\n\
                     # time_scale is a factor on the scenario's time_scale; the scenario's seed\n\
                     # seeds it.\n",
                ),
                "[pipeline]" => out.push_str(
                    "# The embedded reference pipeline (not used against an external target).\n\
                     # Its time_scale is a factor on the scenario's time_scale; the scenario's\n\
                     # seed seeds its faults.\n",
                ),
                _ => {}
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
