//! The API tier: replicas behind a balancer, the autoscaler and the liveness probe (see
//! [`ClusterConfig`]). A replica is the part of the service that holds streams; the chain's
//! workers are shared, as Eco²'s Celery workers were.

use std::time::Duration;

use scan_config::{FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod replicas;

#[cfg(feature = "server")]
pub(crate) use replicas::*;

/// The API tier as Eco² deployed it: replicas behind a balancer (Envoy), an autoscaler
/// (the HPA) and a liveness probe. The chain's workers are shared by every replica, as the
/// Celery workers were; a replica holds the streams it relays.
///
/// - The balancer sends each request to the ready replica with the fewest streams; with no
///   replica ready it answers 503 `NO_HEALTHY_UPSTREAM` at once (counted in
///   `scan_pipeline_upstream_unavailable_total`, not in `scan_sse_requests_total`).
/// - The autoscaler looks every `sync_period` at the streams in flight and wants
///   `ceil(streams / target_streams)` replicas, within `min_replicas..=max_replicas`; a new
///   replica is ready `reaction_delay + startup` later. It removes replicas only after wanting fewer for
///   `scale_down_after` (the HPA's stabilisation window), once they are idle.
/// - The liveness probe restarts a replica that has held more than `liveness.max_streams`
///   streams for `liveness.failure_after`: its streams are cut (counted `failed`; their runs
///   are cancelled) and it is ready again `startup` later.
///
/// Every duration is scaled by the pipeline's `time_scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Replicas ready when the service starts, and the autoscaler's floor.
    pub min_replicas: usize,
    /// The autoscaler's ceiling.
    pub max_replicas: usize,
    /// Streams per replica the autoscaler aims at (stands for Eco²'s 70 % CPU target).
    pub target_streams: usize,
    /// How often the autoscaler decides (the HPA: 15 s).
    #[serde(with = "humantime_serde")]
    pub sync_period: Duration,
    /// From a decision to add replicas to their creation: the age of the load figures it
    /// acts on (metrics-server samples every 60 s by default).
    #[serde(with = "humantime_serde")]
    pub reaction_delay: Duration,
    /// From a replica's creation or restart to its readiness.
    #[serde(with = "humantime_serde")]
    pub startup: Duration,
    /// How long the autoscaler must want fewer replicas before removing one (the HPA: 5 min).
    #[serde(with = "humantime_serde")]
    pub scale_down_after: Duration,
    /// The liveness probe; omitted = replicas never restart.
    pub liveness: Option<Liveness>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            min_replicas: 1,
            max_replicas: 1,
            target_streams: 100,
            sync_period: Duration::from_secs(15),
            reaction_delay: Duration::ZERO,
            startup: Duration::from_secs(30),
            scale_down_after: Duration::from_secs(300),
            liveness: None,
        }
    }
}

impl ClusterConfig {
    /// Whether anything ever changes: more than one replica possible, or restarts.
    pub(crate) fn is_dynamic(&self) -> bool {
        self.max_replicas > self.min_replicas || self.liveness.is_some()
    }
}

/// When a replica counts as dead: more than `max_streams` streams, for `failure_after` (the
/// probe's period times its failure threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Liveness {
    /// Streams a replica holds before its probe starts failing.
    pub max_streams: usize,
    /// How long the probe must fail before the replica is restarted.
    #[serde(with = "humantime_serde")]
    pub failure_after: Duration,
}

impl ClusterConfig {
    /// Checks the replica bounds, the autoscaler and the probe.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        check::in_range(field("min_replicas"), self.min_replicas, 1, 1000)?;
        check::in_range(
            field("max_replicas"),
            self.max_replicas,
            self.min_replicas,
            1000,
        )?;
        check::at_least(field("target_streams"), self.target_streams, 1)?;
        check::positive(field("sync_period"), self.sync_period)?;
        if let Some(liveness) = &self.liveness {
            let at = field("liveness");
            check::at_least(at.key("max_streams"), liveness.max_streams, 1)?;
            check::positive(at.key("failure_after"), liveness.failure_after)?;
        }
        Ok(())
    }
}
