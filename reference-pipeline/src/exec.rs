//! The execution modes, each a real concurrency structure:
//!
//! - `async`: one tokio task per run;
//! - `threadpool`: a fixed set of OS threads taking stages from one FIFO queue, each blocked
//!   on its stage (`Handle::block_on`): every stage of a run is one job, as every blocking
//!   call of Eco²'s v1.0.0 was one `asyncio.to_thread` job on a default executor of 6, so
//!   a run's next stage queues behind every stage submitted before it;
//! - `staged`: a bounded queue and a fixed set of worker tasks per stage, a hop latency before
//!   each stage, and a per-request subscription from a bounded pool before the first event.
//!
//! Every mode honours the run's cancellation: a queued job whose run is cancelled is skipped,
//! a running one is dropped at its next await point.
//!
//! This module holds the `mode` table ([`Mode`]); its pools are in `pools`.

use std::fmt;
use std::time::Duration;

use scan_config::{Delay, FieldPath, Invalid, check};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod pools;

#[cfg(feature = "server")]
pub(crate) use pools::*;

/// Execution structure of the chains.
///
/// In TOML either a bare name (`"async"`, `"threadpool"`, `"staged"`, each with its defaults) or
/// a table with a `kind` key and the mode's fields.
#[derive(Debug, Clone, PartialEq, Default)]
#[expect(
    clippy::large_enum_variant,
    reason = "read once per service; a box would only complicate matching on it"
)]
pub enum Mode {
    /// One task per run on the tokio runtime.
    #[default]
    Async,
    /// Stages on a pool of `workers` OS threads, each blocked for its stage's duration; every
    /// stage of a run is one job at the back of one FIFO queue (the v1.0.0 design: a blocking
    /// call per `asyncio.to_thread` on a default executor of 6).
    Threadpool {
        /// Number of OS threads.
        workers: usize,
    },
    /// A queue and a worker pool per stage with a hop latency before each stage, plus a
    /// per-request event subscription set up before the first event (the Celery chain).
    Staged(StagedMode),
}

impl Mode {
    /// Eco²'s v1.0.0 thread pool (2 + 4 threads).
    pub const ECO2_THREADPOOL_WORKERS: usize = 6;

    /// The mode's name as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Threadpool { .. } => "threadpool",
            Mode::Staged(_) => "staged",
        }
    }
}

/// The `staged` mode: per-stage pools and the subscription pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StagedMode {
    /// Vision stage pool.
    pub vision: StagePool,
    /// Rule stage pool.
    pub rule: StagePool,
    /// Answer stage pool.
    pub answer: StagePool,
    /// Reward stage pool.
    pub reward: StagePool,
    /// The character-match pool the reward stage asks (Eco²: 16 threads).
    pub character_match: StagePool,
    /// The per-request event subscription.
    pub subscription: Subscription,
    /// The worker processes' CPU, shared by every stage task (none by default).
    pub worker_cpu: WorkerCpu,
}

/// The CPU of the stage workers: every stage task needs `task_cpu` of it once started (the
/// event loop's share of a task: messages, serialization, result writes), served one task per
/// core at a time in arrival order. gevent runs all of a process's greenlets on one core, so
/// under load every stage waits for the core, and the wait counts inside the stage as the API
/// times it (started to completed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerCpu {
    /// Tasks served at once (processes x cores).
    pub cores: usize,
    /// CPU time of one stage task; `"0s"` = no CPU model.
    pub task_cpu: Delay,
}

impl Default for WorkerCpu {
    fn default() -> Self {
        Self {
            cores: 1,
            task_cpu: Delay::default(),
        }
    }
}

impl Default for StagedMode {
    /// Eco²'s Celery set-up: gevent 100 on every stage queue, character match 16.
    fn default() -> Self {
        let stage = StagePool::default();
        Self {
            vision: stage.clone(),
            rule: stage.clone(),
            answer: stage.clone(),
            reward: stage.clone(),
            character_match: StagePool {
                workers: 16,
                ..stage
            },
            subscription: Subscription::default(),
            worker_cpu: WorkerCpu::default(),
        }
    }
}

/// A bounded queue served by a fixed number of workers, reached after a hop latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StagePool {
    /// Jobs run at once.
    pub workers: usize,
    /// Jobs waiting for a worker; a full queue holds the sender back.
    pub queue: usize,
    /// Delay before a job reaches the queue (the broker hop): `"100ms"`, or
    /// `{ median = "100ms", p95 = "400ms" }` for a lognormal spread.
    pub hop_latency: Delay,
}

impl Default for StagePool {
    fn default() -> Self {
        Self {
            workers: 100,
            queue: 10_000,
            hop_latency: Delay::fixed(Duration::from_millis(100)),
        }
    }
}

/// The per-request event subscription of the staged mode: a slot from a bounded pool, held for
/// the stream's life, set up before the `started` event goes out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Subscription {
    /// Subscriptions open at once (broker connections).
    pub pool: usize,
    /// Time to set one up once a slot is free: `"50ms"`, or `{ median = "1.6s", p95 =
    /// "5.4s" }` for a lognormal spread.
    pub setup: Delay,
    /// Longest wait for a subscription, a slot and its set-up together; after it the run
    /// starts without one (Eco² waited up to 5 s).
    #[serde(with = "humantime_serde")]
    pub ready_timeout: Duration,
}

impl Default for Subscription {
    fn default() -> Self {
        Self {
            pool: 20,
            setup: Delay::fixed(Duration::from_millis(50)),
            ready_timeout: Duration::from_secs(5),
        }
    }
}

impl Mode {
    /// Checks the pools of the mode.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            Mode::Async => Ok(()),
            Mode::Threadpool { workers } => {
                check::in_range(FieldPath::root("workers"), *workers, 1, 4096)
            }
            Mode::Staged(staged) => staged.validate(),
        }
    }
}

impl StagedMode {
    /// The mode's pools by name: the keys of its table in a config, and the `pool` label of
    /// their `scan_pipeline_pool_*` series.
    pub const POOLS: [&'static str; 7] = [
        "vision",
        "rule",
        "answer",
        "reward",
        "character_match",
        "subscription",
        "worker_cpu",
    ];

    /// Checks every pool, the subscription and the worker CPU.
    pub fn validate(&self) -> Result<(), Invalid> {
        for (name, pool) in self.pools() {
            pool.validate().map_err(|e| e.within(name))?;
        }
        let subscription = FieldPath::root("subscription");
        check::at_least(subscription.key("pool"), self.subscription.pool, 1)?;
        let cpu = FieldPath::root("worker_cpu");
        check::in_range(cpu.key("cores"), self.worker_cpu.cores, 1, 4096)?;
        self.worker_cpu
            .task_cpu
            .validate()
            .map_err(|e| e.under(&cpu.key("task_cpu")))?;
        check::positive(
            subscription.key("ready_timeout"),
            self.subscription.ready_timeout,
        )
    }

    /// The stage pools with their names.
    fn pools(&self) -> [(&'static str, &StagePool); 5] {
        [
            ("vision", &self.vision),
            ("rule", &self.rule),
            ("answer", &self.answer),
            ("reward", &self.reward),
            ("character_match", &self.character_match),
        ]
    }
}

impl StagePool {
    /// Checks the pool's size, queue and hop latency.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        check::in_range(field("workers"), self.workers, 1, 100_000)?;
        self.hop_latency
            .validate()
            .map_err(|e| e.within("hop_latency"))?;
        check::at_least(field("queue"), self.queue, 1)
    }
}

// `mode` reads as a bare name or as a table tagged with `kind`. A derive cannot read it with the
// same errors: `untagged` and `tag = "kind"` both buffer their input, which loses the line,
// column and field path of an error inside the table (and `untagged` its message). So the
// table is read as one flat struct, and its kind then decides which keys it may have.

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ModeTable<'a> {
    Threadpool { workers: usize },
    Staged(&'a StagedMode),
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ModeKind {
    Async,
    Threadpool,
    Staged,
}

impl ModeKind {
    fn name(self) -> &'static str {
        match self {
            ModeKind::Async => "async",
            ModeKind::Threadpool => "threadpool",
            ModeKind::Staged => "staged",
        }
    }

    /// The keys a table of this kind may have besides `kind`.
    fn settings(self) -> &'static [&'static str] {
        match self {
            ModeKind::Async => &[],
            ModeKind::Threadpool => &["workers"],
            ModeKind::Staged => &StagedMode::POOLS,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeFields {
    kind: ModeKind,
    workers: Option<usize>,
    vision: Option<StagePool>,
    rule: Option<StagePool>,
    answer: Option<StagePool>,
    reward: Option<StagePool>,
    character_match: Option<StagePool>,
    subscription: Option<Subscription>,
    worker_cpu: Option<WorkerCpu>,
}

impl ModeFields {
    /// A bare name: the kind with its defaults.
    fn bare(kind: ModeKind) -> Self {
        ModeFields {
            kind,
            workers: None,
            vision: None,
            rule: None,
            answer: None,
            reward: None,
            character_match: None,
            subscription: None,
            worker_cpu: None,
        }
    }

    fn into_mode<E: de::Error>(self) -> Result<Mode, E> {
        let given = [
            ("workers", self.workers.is_some()),
            ("vision", self.vision.is_some()),
            ("rule", self.rule.is_some()),
            ("answer", self.answer.is_some()),
            ("reward", self.reward.is_some()),
            ("character_match", self.character_match.is_some()),
            ("subscription", self.subscription.is_some()),
            ("worker_cpu", self.worker_cpu.is_some()),
        ];
        let settings = self.kind.settings();
        if let Some((name, _)) = given.iter().find(|(n, g)| *g && !settings.contains(n)) {
            return Err(E::custom(format!(
                "`{name}` is not a setting of mode kind \"{}\"",
                self.kind.name()
            )));
        }
        let d = StagedMode::default();
        Ok(match self.kind {
            ModeKind::Async => Mode::Async,
            ModeKind::Threadpool => Mode::Threadpool {
                workers: self.workers.unwrap_or(Mode::ECO2_THREADPOOL_WORKERS),
            },
            ModeKind::Staged => Mode::Staged(StagedMode {
                vision: self.vision.unwrap_or(d.vision),
                rule: self.rule.unwrap_or(d.rule),
                answer: self.answer.unwrap_or(d.answer),
                reward: self.reward.unwrap_or(d.reward),
                character_match: self.character_match.unwrap_or(d.character_match),
                subscription: self.subscription.unwrap_or(d.subscription),
                worker_cpu: self.worker_cpu.unwrap_or(d.worker_cpu),
            }),
        })
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Mode::Async => serializer.serialize_str("async"),
            Mode::Threadpool { workers } => {
                ModeTable::Threadpool { workers: *workers }.serialize(serializer)
            }
            Mode::Staged(staged) => ModeTable::Staged(staged).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;

        impl<'de> Visitor<'de> for ModeVisitor {
            type Value = Mode;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"async\", \"threadpool\", \"staged\" or a table such as \
                     { kind = \"threadpool\", workers = 6 }",
                )
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Mode, E> {
                let kind = ModeKind::deserialize(de::value::StrDeserializer::<E>::new(name))?;
                ModeFields::bare(kind).into_mode()
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Mode, A::Error> {
                ModeFields::deserialize(de::value::MapAccessDeserializer::new(map))?.into_mode()
            }
        }

        deserializer.deserialize_any(ModeVisitor)
    }
}
