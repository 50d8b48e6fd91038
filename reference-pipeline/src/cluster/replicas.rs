//! The replicas at work: the balancer's choice, the autoscaler's decisions, the probe's
//! restarts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ClusterConfig, Liveness};
use crate::metrics::Metrics;

/// Every replica and the balancer's choice among them.
pub(crate) struct Cluster {
    replicas: Mutex<Vec<Replica>>,
    /// Already scaled.
    timing: Timing,
    config: ClusterConfig,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    sync_period: Duration,
    reaction_delay: Duration,
    startup: Duration,
    scale_down_after: Duration,
    failure_after: Duration,
    /// How often the control loop looks: the liveness probe's period.
    tick: Duration,
}

struct Replica {
    state: State,
    /// Streams held; a lease decrements the counter it incremented, so a restart starts a
    /// fresh one.
    streams: Arc<AtomicUsize>,
    /// Fired when the replica dies: its leases' streams are cut.
    down: CancellationToken,
    /// Since when the liveness probe has been failing.
    failing_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Starting {
        ready_at: Instant,
    },
    Ready,
    /// Chosen for removal: no new streams; removed once idle.
    Draining,
}

impl Replica {
    fn new(state: State) -> Self {
        Self {
            state,
            streams: Arc::new(AtomicUsize::new(0)),
            down: CancellationToken::new(),
            failing_since: None,
        }
    }

    fn streams(&self) -> usize {
        self.streams.load(Ordering::Relaxed)
    }
}

/// A stream's place on its replica, given back when dropped.
pub(crate) struct Lease {
    streams: Arc<AtomicUsize>,
    /// Fired when the replica is restarted.
    pub down: CancellationToken,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// No replica was ready (Envoy's "no healthy upstream").
#[derive(Debug)]
pub(crate) struct NoHealthyUpstream;

impl Cluster {
    pub fn new(config: &ClusterConfig, time_scale: f64, metrics: Arc<Metrics>) -> Arc<Self> {
        let scaled = |d: Duration| d.mul_f64(time_scale);
        let failure_after = config
            .liveness
            .as_ref()
            .map_or(Duration::MAX, |l| scaled(l.failure_after));
        let timing = Timing {
            sync_period: scaled(config.sync_period),
            reaction_delay: scaled(config.reaction_delay),
            startup: scaled(config.startup),
            scale_down_after: scaled(config.scale_down_after),
            failure_after,
            // Kubernetes probes every 10 s by default; a tenth of the failure time keeps the
            // restart within 10 % of it.
            tick: scaled(Duration::from_secs(1))
                .min(failure_after / 10)
                .max(Duration::from_millis(1)),
        };
        let replicas = (0..config.min_replicas)
            .map(|_| Replica::new(State::Ready))
            .collect();
        let cluster = Arc::new(Self {
            replicas: Mutex::new(replicas),
            timing,
            config: config.clone(),
            metrics,
        });
        cluster.publish(&cluster.lock());
        cluster
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Replica>> {
        // A panic while holding the lock leaves counts that are still valid numbers.
        self.replicas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The balancer: the ready replica with the fewest streams (Istio's least-request).
    pub fn route(&self) -> Result<Lease, NoHealthyUpstream> {
        let replicas = self.lock();
        let Some(replica) = replicas
            .iter()
            .filter(|r| r.state == State::Ready)
            .min_by_key(|r| r.streams())
        else {
            self.metrics.upstream_unavailable.inc();
            return Err(NoHealthyUpstream);
        };
        replica.streams.fetch_add(1, Ordering::Relaxed);
        Ok(Lease {
            streams: replica.streams.clone(),
            down: replica.down.clone(),
        })
    }

    /// Runs the autoscaler and the liveness probe until `stop` fires; nothing to do for a
    /// fixed set of replicas that never restart.
    pub async fn control(self: Arc<Self>, stop: CancellationToken) {
        if !self.config.is_dynamic() {
            return;
        }
        let mut tick = tokio::time::interval(self.timing.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_sync = Instant::now() + self.timing.sync_period;
        let mut wanting_fewer_since = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let mut replicas = self.lock();
            for replica in replicas.iter_mut() {
                if let State::Starting { ready_at } = replica.state
                    && now >= ready_at
                {
                    tracing::info!("replica ready");
                    replica.state = State::Ready;
                }
            }
            if let Some(liveness) = &self.config.liveness {
                self.probe(&mut replicas, liveness, now);
            }
            if now >= next_sync {
                next_sync = now + self.timing.sync_period;
                self.scale(&mut replicas, &mut wanting_fewer_since, now);
            }
            replicas.retain(|r| r.state != State::Draining || r.streams() > 0);
            self.publish(&replicas);
        }
    }

    /// Restarts each ready replica whose probe has failed for `failure_after`.
    fn probe(&self, replicas: &mut [Replica], liveness: &Liveness, now: Instant) {
        for replica in replicas.iter_mut().filter(|r| r.state == State::Ready) {
            if replica.streams() <= liveness.max_streams {
                replica.failing_since = None;
                continue;
            }
            let since = *replica.failing_since.get_or_insert(now);
            if now - since >= self.timing.failure_after {
                tracing::warn!(
                    streams = replica.streams(),
                    "replica failed its liveness probe, restarting"
                );
                replica.down.cancel();
                *replica = Replica::new(State::Starting {
                    ready_at: now + self.timing.startup,
                });
                self.metrics.replica_restarts.inc();
            }
        }
    }

    /// The autoscaler's decision: `ceil(streams / target)` replicas within the bounds.
    fn scale(
        &self,
        replicas: &mut Vec<Replica>,
        wanting_fewer_since: &mut Option<Instant>,
        now: Instant,
    ) {
        let streams: usize = replicas.iter().map(Replica::streams).sum();
        let desired = streams
            .div_ceil(self.config.target_streams)
            .clamp(self.config.min_replicas, self.config.max_replicas);
        let serving = replicas
            .iter()
            .filter(|r| r.state != State::Draining)
            .count();
        if desired > serving {
            *wanting_fewer_since = None;
            let ready_at = now + self.timing.reaction_delay + self.timing.startup;
            tracing::info!(
                streams,
                from = serving,
                to = desired,
                "autoscaler adds replicas"
            );
            replicas.extend((serving..desired).map(|_| Replica::new(State::Starting { ready_at })));
        } else if desired < serving {
            let since = *wanting_fewer_since.get_or_insert(now);
            if now - since >= self.timing.scale_down_after {
                // Replicas still starting go first, then the least busy.
                let mut order: Vec<usize> = (0..replicas.len())
                    .filter(|&i| replicas[i].state != State::Draining)
                    .collect();
                order.sort_by_key(|&i| {
                    let r = &replicas[i];
                    (r.state == State::Ready, r.streams())
                });
                for &i in order.iter().take(serving - desired) {
                    replicas[i].state = State::Draining;
                }
            }
        } else {
            *wanting_fewer_since = None;
        }
    }

    fn publish(&self, replicas: &[Replica]) {
        let count = |state: fn(&State) -> bool| replicas.iter().filter(|r| state(&r.state)).count();
        let m = &self.metrics;
        m.replicas("ready")
            .set(count(|s| *s == State::Ready) as i64);
        m.replicas("starting")
            .set(count(|s| matches!(s, State::Starting { .. })) as i64);
        m.replicas("draining")
            .set(count(|s| *s == State::Draining) as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(config: ClusterConfig) -> Arc<Cluster> {
        Cluster::new(&config, 1.0, Arc::new(Metrics::new(&[])))
    }

    #[test]
    fn the_balancer_picks_the_least_busy_ready_replica() {
        let c = cluster(ClusterConfig {
            min_replicas: 2,
            max_replicas: 2,
            ..ClusterConfig::default()
        });
        let a = c.route().unwrap();
        let b = c.route().unwrap();
        assert!(!Arc::ptr_eq(&a.streams, &b.streams), "one stream on each");
        drop(a);
        let c2 = c.route().unwrap();
        let counts: Vec<usize> = c.lock().iter().map(Replica::streams).collect();
        assert_eq!(counts, vec![1, 1], "the freed replica took the next stream");
        drop((b, c2));
        assert_eq!(c.lock().iter().map(Replica::streams).sum::<usize>(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_overloaded_replica_restarts_and_the_balancer_answers_503_until_it_is_back() {
        let c = cluster(ClusterConfig {
            liveness: Some(Liveness {
                max_streams: 2,
                failure_after: Duration::from_secs(10),
            }),
            startup: Duration::from_secs(5),
            ..ClusterConfig::default()
        });
        let stop = CancellationToken::new();
        let control = tokio::spawn(c.clone().control(stop.clone()));
        let leases: Vec<Lease> = (0..3).map(|_| c.route().unwrap()).collect();
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert!(leases.iter().all(|l| l.down.is_cancelled()), "streams cut");
        assert_eq!(c.metrics.replica_restarts.get(), 1);
        assert!(c.route().is_err(), "no replica ready while it restarts");
        tokio::time::sleep(Duration::from_secs(6)).await;
        let lease = c.route().expect("ready again after start-up");
        assert!(!lease.down.is_cancelled());
        stop.cancel();
        control.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_autoscaler_adds_replicas_that_serve_after_their_startup() {
        let c = cluster(ClusterConfig {
            max_replicas: 4,
            target_streams: 2,
            sync_period: Duration::from_secs(15),
            startup: Duration::from_secs(30),
            ..ClusterConfig::default()
        });
        let stop = CancellationToken::new();
        let control = tokio::spawn(c.clone().control(stop.clone()));
        let leases: Vec<Lease> = (0..5).map(|_| c.route().unwrap()).collect();
        tokio::time::sleep(Duration::from_secs(16)).await;
        assert_eq!(c.lock().len(), 3, "ceil(5 / 2) replicas wanted");
        assert_eq!(
            c.lock().iter().filter(|r| r.state == State::Ready).count(),
            1
        );
        tokio::time::sleep(Duration::from_secs(31)).await;
        let extra = c.route().unwrap();
        let counts: Vec<usize> = c.lock().iter().map(Replica::streams).collect();
        assert_eq!(counts, vec![5, 1, 0], "a new replica took the stream");
        drop((leases, extra));
        stop.cancel();
        control.await.unwrap();
    }
}
