//! The chain: the `stage_timeouts` and `storage` tables ([`StageTimeouts`], [`Storage`]) that
//! bound and slow its stages, and the stages themselves (`stages`).

use std::time::Duration;

use scan_config::{Delay, FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod stages;

#[cfg(feature = "server")]
pub(crate) use stages::*;

/// Hard execution limit per stage, retries included (Eco²: 90 s for the OpenAI stages,
/// 60 s for rule and reward, 10 s for the character match).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageTimeouts {
    /// Vision stage.
    #[serde(with = "humantime_serde")]
    pub vision: Duration,
    /// Rule stage.
    #[serde(with = "humantime_serde")]
    pub rule: Duration,
    /// Answer stage.
    #[serde(with = "humantime_serde")]
    pub answer: Duration,
    /// Reward stage.
    #[serde(with = "humantime_serde")]
    pub reward: Duration,
    /// The reward stage's character match; past it the reward is null.
    #[serde(with = "humantime_serde")]
    pub character_match: Duration,
}

impl Default for StageTimeouts {
    fn default() -> Self {
        Self {
            vision: Duration::from_secs(90),
            rule: Duration::from_secs(60),
            answer: Duration::from_secs(90),
            reward: Duration::from_secs(60),
            character_match: Duration::from_secs(10),
        }
    }
}

impl StageTimeouts {
    /// Checks that every limit is above 0.
    pub fn validate(&self) -> Result<(), Invalid> {
        for (name, d) in [
            ("vision", self.vision),
            ("rule", self.rule),
            ("answer", self.answer),
            ("reward", self.reward),
            ("character_match", self.character_match),
        ] {
            check::positive(FieldPath::root(name), d)?;
        }
        Ok(())
    }
}

/// Time spent in the database by the stages that use one: the rule lookup when the rule
/// cache does not answer it (Eco² queried PostgreSQL), and the ownership write of a
/// matched reward. Each is a [`Delay`]: `"300ms"`, or e.g. `{ median = "300ms", p95 = "900ms" }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// One rule lookup that misses the cache (every lookup without the cache).
    pub rule_query: Delay,
    /// One character-ownership write.
    pub ownership_write: Delay,
}

impl Storage {
    /// Checks both latencies.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.rule_query
            .validate()
            .map_err(|e| e.within("rule_query"))?;
        self.ownership_write
            .validate()
            .map_err(|e| e.within("ownership_write"))
    }
}
