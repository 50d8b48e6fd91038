//! The pools and executors of each mode at work.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::FutureExt;
use scan_config::Delay;
use tokio::runtime::Handle;
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};

use super::{Mode, StagedMode};
use crate::chain::{ChainState, Context, Run, Stage, run_chain, run_stage};
use crate::config::PipelineConfig;
use crate::events::Event;
use crate::metrics::{GaugeGuard, Metrics, PoolGauges};

/// A job of a [`TaskPool`]: builds the future a worker awaits.
pub(crate) type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A bounded queue served by `workers` tokio tasks (a gevent pool's analogue).
pub(crate) struct TaskPool {
    sender: mpsc::Sender<Job>,
    gauges: PoolGauges,
}

impl TaskPool {
    pub fn new(workers: usize, queue: usize, gauges: PoolGauges) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers {
            let receiver = receiver.clone();
            let gauges = gauges.clone();
            tokio::spawn(async move {
                loop {
                    // Only the worker holding the lock waits on the queue; the rest wait
                    // for the lock, so jobs go out in order.
                    let job = receiver.lock().await.recv().await;
                    let Some(job) = job else { return };
                    gauges.queue_depth.dec();
                    let _busy = GaugeGuard::inc(&gauges.busy);
                    // A panicking job must not take its worker with it.
                    let _ = AssertUnwindSafe(job()).catch_unwind().await;
                }
            });
        }
        Self { sender, gauges }
    }

    /// Queues a job, waiting while the queue is full.
    pub async fn submit(&self, job: Job) {
        let queued = GaugeGuard::inc(&self.gauges.queue_depth);
        if self.sender.send(job).await.is_ok() {
            // The worker that takes the job counts it out.
            queued.keep();
        }
    }
}

type ThreadJob = Box<dyn FnOnce() + Send>;

/// A fixed set of OS threads taking stage jobs from an unbounded FIFO queue.
pub(crate) struct ThreadPool {
    /// Taken on close, which ends the threads once the queue is empty.
    sender: std::sync::Mutex<Option<crossbeam_channel::Sender<ThreadJob>>>,
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
    gauges: PoolGauges,
}

impl ThreadPool {
    pub fn new(workers: usize, gauges: PoolGauges) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded::<ThreadJob>();
        let threads = (0..workers)
            .map(|i| {
                let receiver = receiver.clone();
                let gauges = gauges.clone();
                std::thread::Builder::new()
                    .name(format!("chain-worker-{i}"))
                    .spawn(move || {
                        for job in receiver {
                            gauges.queue_depth.dec();
                            let _busy = GaugeGuard::inc(&gauges.busy);
                            // A panicking chain must not take its worker with it.
                            let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                        }
                    })
                    .expect("spawning a chain worker thread")
            })
            .collect();
        Self {
            sender: std::sync::Mutex::new(Some(sender)),
            threads: std::sync::Mutex::new(threads),
            gauges,
        }
    }

    fn execute(&self, job: ThreadJob) {
        let sender = self.sender.lock().expect("thread pool lock").clone();
        if let Some(sender) = sender {
            self.gauges.queue_depth.inc();
            if sender.send(job).is_err() {
                self.gauges.queue_depth.dec();
            }
        }
    }

    /// Lets queued jobs finish and joins the threads (blocking).
    fn join(&self) {
        self.sender.lock().expect("thread pool lock").take();
        let threads = std::mem::take(&mut *self.threads.lock().expect("thread pool lock"));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// The staged mode's pools.
pub(crate) struct StagedPools {
    stages: [(Arc<TaskPool>, Delay); 4],
    subscriptions: Arc<Semaphore>,
    subscription_gauges: PoolGauges,
    subscription_setup: Delay,
    subscription_ready_timeout: Duration,
}

/// Where chains run.
pub(crate) enum Executor {
    Async,
    Threadpool(Arc<ThreadPool>, Handle),
    Staged(Arc<StagedPools>),
}

/// Pool names and sizes of a mode, for the metrics.
pub(crate) fn pool_sizes(mode: &Mode) -> Vec<(&'static str, usize)> {
    match mode {
        Mode::Async => vec![],
        Mode::Threadpool { workers } => vec![("chain", *workers)],
        Mode::Staged(s) => vec![
            ("vision", s.vision.workers),
            ("rule", s.rule.workers),
            ("answer", s.answer.workers),
            ("reward", s.reward.workers),
            ("character_match", s.character_match.workers),
            ("subscription", s.subscription.pool),
            ("worker_cpu", s.worker_cpu.cores),
        ],
    }
}

impl Executor {
    /// Builds the mode's pools on the current runtime; for the staged mode also the
    /// character-match pool the reward stage asks.
    pub fn new(
        config: &PipelineConfig,
        metrics: &Metrics,
    ) -> (Self, Option<(Arc<TaskPool>, Delay)>) {
        match &config.mode {
            Mode::Async => (Executor::Async, None),
            Mode::Threadpool { workers } => (
                Executor::Threadpool(
                    Arc::new(ThreadPool::new(*workers, metrics.pool("chain"))),
                    Handle::current(),
                ),
                None,
            ),
            Mode::Staged(staged) => {
                let (pools, character) = StagedPools::new(config, staged, metrics);
                (Executor::Staged(Arc::new(pools)), Some(character))
            }
        }
    }

    /// Starts a run; its events, ending with a terminal one, go to `run.events`.
    pub fn submit(&self, ctx: &Arc<Context>, run: Run) {
        match self {
            Executor::Async => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let Run {
                        input,
                        events,
                        cancel,
                    } = run;
                    let started = Event::Started {
                        task_id: input.task_id.clone(),
                    };
                    if events.send(started).await.is_ok() {
                        cancel
                            .run_until_cancelled(run_chain(&ctx, input, &events))
                            .await;
                    }
                });
            }
            Executor::Threadpool(pool, handle) => {
                let Run {
                    input,
                    events,
                    cancel,
                } = run;
                // The stream opens at once; each stage waits for a thread.
                let _ = events.try_send(Event::Started {
                    task_id: input.task_id.clone(),
                });
                let ctx = ctx.clone();
                let pool = pool.clone();
                let handle = handle.clone();
                tokio::spawn(async move {
                    let mut state = ChainState::new(input);
                    for stage in Stage::ALL {
                        let (reply, handed_back) = oneshot::channel();
                        let ctx = ctx.clone();
                        let events = events.clone();
                        let cancel = cancel.clone();
                        let handle = handle.clone();
                        pool.execute(Box::new(move || {
                            if cancel.is_cancelled() {
                                return;
                            }
                            let go_on = handle
                                .block_on(cancel.run_until_cancelled(run_stage(
                                    &ctx, stage, &mut state, &events,
                                )))
                                .unwrap_or(false);
                            let _ = reply.send((go_on, state));
                        }));
                        match handed_back.await {
                            Ok((true, next)) => state = next,
                            _ => return,
                        }
                    }
                });
            }
            Executor::Staged(pools) => {
                let ctx = ctx.clone();
                let pools = pools.clone();
                tokio::spawn(async move {
                    let cancel = run.cancel.clone();
                    cancel.run_until_cancelled(pools.run(ctx, run)).await;
                });
            }
        }
    }

    /// Stops the pools; blocking for the thread pool's threads.
    pub fn close(&self) {
        if let Executor::Threadpool(pool, _) = self {
            pool.join();
        }
    }
}

impl StagedPools {
    fn new(
        config: &PipelineConfig,
        staged: &StagedMode,
        metrics: &Metrics,
    ) -> (Self, (Arc<TaskPool>, Delay)) {
        let pool = |name: &'static str, spec: &super::StagePool| {
            (
                Arc::new(TaskPool::new(spec.workers, spec.queue, metrics.pool(name))),
                spec.hop_latency.scaled(config.time_scale),
            )
        };
        let pools = StagedPools {
            stages: [
                pool("vision", &staged.vision),
                pool("rule", &staged.rule),
                pool("answer", &staged.answer),
                pool("reward", &staged.reward),
            ],
            subscriptions: Arc::new(Semaphore::new(staged.subscription.pool)),
            subscription_gauges: metrics.pool("subscription"),
            subscription_setup: staged.subscription.setup.scaled(config.time_scale),
            subscription_ready_timeout: config.scaled(staged.subscription.ready_timeout),
        };
        let character = pool("character_match", &staged.character_match);
        (pools, character)
    }

    /// One run: subscribe, announce, then hand the state from stage pool to stage pool.
    async fn run(self: Arc<Self>, ctx: Arc<Context>, run: Run) {
        let Run {
            input,
            events,
            cancel,
        } = run;
        // The subscription is held for the stream's life, like Eco²'s broker
        // subscription; the wait for a slot and its set-up together are bounded by the
        // ready timeout, past which the run starts without one.
        let gauges = &self.subscription_gauges;
        let waiting = GaugeGuard::inc(&gauges.queue_depth);
        let subscribe = async {
            let permit = self.subscriptions.clone().acquire_owned().await.ok()?;
            drop(waiting);
            let held = (permit, GaugeGuard::inc(&gauges.busy));
            tokio::time::sleep(draw(&self.subscription_setup)).await;
            Some(held)
        };
        let _subscription = tokio::time::timeout(self.subscription_ready_timeout, subscribe)
            .await
            .ok()
            .flatten();
        let started = Event::Started {
            task_id: input.task_id.clone(),
        };
        if events.send(started).await.is_err() {
            return;
        }
        let mut state = ChainState::new(input);
        for stage in Stage::ALL {
            let (pool, hop) = &self.stages[stage as usize];
            tokio::time::sleep(draw(hop)).await;
            let (reply, handed_back) = oneshot::channel();
            let ctx = ctx.clone();
            let events = events.clone();
            let cancel = cancel.clone();
            pool.submit(Box::new(move || {
                Box::pin(async move {
                    if cancel.is_cancelled() {
                        return;
                    }
                    let go_on = cancel
                        .run_until_cancelled(run_stage(&ctx, stage, &mut state, &events))
                        .await
                        .unwrap_or(false);
                    let _ = reply.send((go_on, state));
                })
            }))
            .await;
            match handed_back.await {
                Ok((true, next)) => state = next,
                _ => return,
            }
        }
    }
}

/// One draw of a pipeline delay. The pipeline's delays are not part of a seeded sequence (only
/// its faults are), so they come from the thread's generator.
pub(crate) fn draw(delay: &Delay) -> Duration {
    delay.sample(&mut rand::rng())
}
