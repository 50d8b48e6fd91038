//! [`PipelineConfig`]: the whole service configuration as serde data. Each section lives
//! beside what it configures and checks itself; this composes them, holds the top-level
//! settings and reads the TOML.

use std::path::{Path, PathBuf};
use std::time::Duration;

use scan_config::{ConfigError, ConnectionLimits, FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};

use crate::chain::{StageTimeouts, Storage};
use crate::cluster::ClusterConfig;
use crate::exec::Mode;
use crate::faults::FaultConfig;
use crate::openai::OpenAiConfig;

/// Configuration of the pipeline service (the `[pipeline]` table of a scenario).
///
/// Every field has a default, so an empty table is a working async-mode service pointed at an
/// OpenAI-compatible server on `http://127.0.0.1:8080/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Stream framing: Eco²'s published bare `data:` lines, or one of its later named-event
    /// protocols.
    pub protocol: Protocol,
    /// How chains are executed: `"async"`, `{ kind = "threadpool", workers = 6 }` or
    /// `{ kind = "staged", ... }`.
    pub mode: Mode,
    /// Streams served at once; one more is answered 503 at once (admission).
    pub max_inflight: usize,
    /// Multiplies every injected delay (hop latency, subscription set-up, retry back-off), every
    /// timeout and the keep-alive interval. `0.01` runs Eco²'s seconds as tens of
    /// milliseconds. Within a scenario it is a factor on the scenario's `time_scale`.
    pub time_scale: f64,
    /// Silence after which a `: keepalive` comment is sent (Eco²: 1 s).
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
    /// A stream still running after this ends with a `timeout` event (Eco²: 120 s).
    #[serde(with = "humantime_serde")]
    pub chain_timeout: Duration,
    /// On shutdown, how long in-flight chains may run before they are ended with an error event.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Keep parsed disposal-rule documents in memory (the authors' Redis idea).
    pub rule_cache: bool,
    /// SQLite file holding character ownership; omitted = an in-memory database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<PathBuf>,
    /// The OpenAI-compatible upstreams and the call policy.
    pub openai: OpenAiConfig,
    /// Hard limit of each stage's execution (retries included).
    pub stage_timeouts: StageTimeouts,
    /// Faults injected into scan streams (none by default).
    pub faults: FaultConfig,
    /// Database latencies of the rule and reward stages (none by default).
    pub storage: Storage,
    /// API replicas behind a balancer, with an autoscaler and a liveness probe (one replica
    /// that never restarts by default).
    pub cluster: ClusterConfig,
    /// How long the server waits for a client's request head and for an idle kept-alive
    /// connection, and how many connections it holds (real time: `time_scale` does not
    /// apply).
    pub connections: ConnectionLimits,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Eco2V1,
            mode: Mode::Async,
            max_inflight: 4096,
            time_scale: 1.0,
            keepalive: Duration::from_secs(1),
            chain_timeout: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(10),
            rule_cache: true,
            database: None,
            openai: OpenAiConfig::default(),
            stage_timeouts: StageTimeouts::default(),
            faults: FaultConfig::default(),
            storage: Storage::default(),
            cluster: ClusterConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

/// Framing of the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Bare `data:` JSON lines, as in the published test (`"eco2-v1"`).
    #[serde(rename = "eco2-v1")]
    Eco2V1,
    /// `event: stage` / `event: ready` / `event: error`, as in later versions (`"named-events"`).
    #[serde(rename = "named-events")]
    NamedEvents,
    /// The event name is the stage itself (`queued`, `vision`, `rule`, `answer`, `reward`,
    /// `done`), each event with an `id:` line, and `event: keepalive`, as in Eco²'s latest
    /// versions (`"stage-events"`). A stage sends two events of its name, `started` and
    /// `completed` in the data's `status`.
    #[serde(rename = "stage-events")]
    StageEvents,
}

impl PipelineConfig {
    /// Parses a TOML document holding the fields of this struct at the top level, then
    /// validates it. `origin` names the text in errors (usually the file name).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        scan_config::from_toml_validated(text, origin, Self::validate)
    }

    /// Reads and parses a TOML file (see [`PipelineConfig::from_toml_str`]).
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        scan_config::from_toml_file(path, Self::validate)
    }

    /// Checks every field; [`crate::Pipeline::start`] refuses a config that fails this.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(Invalid::new(
                field("time_scale"),
                "a finite number > 0 (e.g. 0.01 for hundredfold faster delays)",
                self.time_scale,
            ));
        }
        check::at_least(field("max_inflight"), self.max_inflight, 1)?;
        check::positive(field("keepalive"), self.keepalive)?;
        check::positive(field("chain_timeout"), self.chain_timeout)?;
        self.mode.validate().map_err(|e| e.within("mode"))?;
        self.openai.validate().map_err(|e| e.within("openai"))?;
        self.stage_timeouts
            .validate()
            .map_err(|e| e.within("stage_timeouts"))?;
        self.faults.validate().map_err(|e| e.within("faults"))?;
        self.storage.validate().map_err(|e| e.within("storage"))?;
        self.cluster.validate().map_err(|e| e.within("cluster"))?;
        self.connections
            .validate()
            .map_err(|e| e.within("connections"))
    }

    /// `d` multiplied by [`PipelineConfig::time_scale`].
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }
}

#[cfg(test)]
mod tests {
    use scan_config::Delay;

    use super::*;
    use crate::exec::{StagePool, StagedMode};

    #[test]
    fn default_round_trips_through_toml() {
        let config = PipelineConfig::default();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(PipelineConfig::from_toml_str(&text, "t").unwrap(), config);
    }

    #[test]
    fn every_mode_round_trips_through_toml() {
        for mode in [
            Mode::Async,
            Mode::Threadpool { workers: 10 },
            Mode::Staged(StagedMode::default()),
        ] {
            let config = PipelineConfig {
                mode,
                ..PipelineConfig::default()
            };
            let text = toml::to_string(&config).unwrap();
            assert_eq!(PipelineConfig::from_toml_str(&text, "t").unwrap(), config);
        }
    }

    #[test]
    fn mode_reads_names_and_tables() {
        let parse = |text: &str| PipelineConfig::from_toml_str(text, "t").unwrap().mode;
        assert_eq!(parse("mode = \"async\""), Mode::Async);
        assert_eq!(
            parse("mode = \"threadpool\""),
            Mode::Threadpool { workers: 6 }
        );
        assert_eq!(
            parse("mode = { kind = \"threadpool\", workers = 5 }"),
            Mode::Threadpool { workers: 5 }
        );
        let staged = parse(
            "[mode]\nkind = \"staged\"\nvision = { workers = 3, hop_latency = \"20ms\" }\n\
             subscription = { pool = 4 }\n",
        );
        let Mode::Staged(staged) = staged else {
            panic!("expected staged, got {staged:?}");
        };
        assert_eq!(staged.vision.workers, 3);
        assert_eq!(
            staged.vision.hop_latency,
            Delay::fixed(Duration::from_millis(20))
        );
        assert_eq!(staged.rule, StagePool::default());
        assert_eq!(staged.character_match.workers, 16);
        assert_eq!(staged.subscription.pool, 4);
    }

    #[test]
    fn parse_error_names_line_column_and_field() {
        let text = "max_inflight = 10\n\n[mode]\nkind = \"threadpool\"\nworkers = \"six\"\n";
        let err = PipelineConfig::from_toml_str(text, "scenario.toml").unwrap_err();
        let ConfigError::Field {
            location, field, ..
        } = &err
        else {
            panic!("expected a parse error, got {err:?}");
        };
        assert_eq!(location.origin, "scenario.toml");
        assert_eq!((location.line, location.column), (5, 11), "{err}");
        assert_eq!(field.to_string(), "mode.workers");
        assert!(
            err.to_string()
                .starts_with("scenario.toml:5:11: field `mode.workers`"),
            "{err}"
        );
    }

    #[test]
    fn validation_error_is_located() {
        let text = "max_inflight = 10\n\n[cluster]\nmin_replicas = 0\n";
        let err = PipelineConfig::from_toml_str(text, "p.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.toml:4:1: field `cluster.min_replicas`: expected"),
            "{err}"
        );
    }

    #[test]
    fn unknown_field_is_refused_with_its_location() {
        let text = "[openai]\nvision_model = \"gpt-4o\"\nvison_model = \"x\"\n";
        let err = PipelineConfig::from_toml_str(text, "p.toml").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("p.toml:3:1:"), "{message}");
        assert!(message.contains("vison_model"), "{message}");
    }

    #[test]
    fn mode_settings_must_fit_the_kind() {
        let err = PipelineConfig::from_toml_str(
            "mode = { kind = \"threadpool\", vision = { workers = 2 } }",
            "t",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`vision` is not a setting"),
            "{err}"
        );
        let err = PipelineConfig::from_toml_str("mode = \"celery\"", "t").unwrap_err();
        assert_eq!(err.field(), Some(&FieldPath::root("mode")), "{err}");
    }

    #[test]
    fn syntax_error_has_a_location() {
        let err = PipelineConfig::from_toml_str("a = [\n", "x.toml").unwrap_err();
        let ConfigError::Syntax { location, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(matches!(location.line, 1 | 2), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let cases: Vec<(&str, &str)> = vec![
            ("time_scale = 0.0", "time_scale"),
            ("max_inflight = 0", "max_inflight"),
            (
                "mode = { kind = \"threadpool\", workers = 0 }",
                "mode.workers",
            ),
            (
                "mode = { kind = \"staged\", answer = { workers = 0 } }",
                "mode.answer.workers",
            ),
            ("[openai]\nproviders = []", "openai.providers"),
            (
                "[openai]\nproviders = [{ base_url = \"ftp://x\" }]",
                "openai.providers[0].base_url",
            ),
            ("stage_timeouts = { rule = \"0s\" }", "stage_timeouts.rule"),
            ("keepalive = \"0ms\"", "keepalive"),
            ("faults = { p_stall = 1.5 }", "faults.p_stall"),
            ("faults = { p_error_event = -0.1 }", "faults.p_error_event"),
            (
                "[faults]\np_drop_stream = 0.6\np_malformed_event = 0.5",
                "faults",
            ),
            ("faults = { stall_for = \"0s\" }", "faults.stall_for"),
        ];
        for (text, field) in cases {
            let err = PipelineConfig::from_toml_str(text, "t").unwrap_err();
            let found = err.field().map(ToString::to_string);
            assert_eq!(found.as_deref(), Some(field), "{text}: {err}");
        }
    }

    #[test]
    fn the_documented_examples_parse() {
        let docs: String = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
            .collect();
        let blocks: Vec<&str> = docs
            .split("```toml\n")
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap())
            .collect();
        assert_eq!(blocks.len(), 2);
        let general = PipelineConfig::from_toml_str(blocks[0], "lib.rs").unwrap();
        assert_eq!(general.openai.providers.len(), 2);
        assert_eq!(general.faults, FaultConfig::default());
        let staged = PipelineConfig::from_toml_str(blocks[1], "lib.rs").unwrap();
        assert_eq!(staged.mode, Mode::Staged(StagedMode::default()));
    }

    #[test]
    fn durations_are_human_friendly() {
        let config =
            PipelineConfig::from_toml_str("chain_timeout = \"1m30s\"\nkeepalive = \"250ms\"", "t")
                .unwrap();
        assert_eq!(config.chain_timeout, Duration::from_secs(90));
        assert_eq!(config.keepalive, Duration::from_millis(250));
    }

    mod fuzz {
        //! Whatever the text, the loader gives a config or a located error, never a panic.

        use proptest::prelude::*;
        use scan_config::fuzz::edits_of;

        use super::*;

        /// A config with every section written out.
        fn full() -> String {
            let config = PipelineConfig {
                mode: Mode::Staged(StagedMode::default()),
                database: Some("ownership.db".into()),
                ..PipelineConfig::default()
            };
            toml::to_string(&config).unwrap()
        }

        proptest! {
            #[test]
            fn any_text_is_a_config_or_an_error(text in "\\PC{0,256}") {
                let _ = PipelineConfig::from_toml_str(&text, "fuzz.toml");
            }

            #[test]
            fn an_edited_config_is_a_config_or_a_located_error(text in edits_of(&full())) {
                if let Err(e) = PipelineConfig::from_toml_str(&text, "pipeline.toml") {
                    prop_assert!(e.to_string().starts_with("pipeline.toml"), "{e}");
                }
            }
        }
    }
}
