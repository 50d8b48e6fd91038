//! The load engine: goose runs the virtual users, each loops one transaction (one scan
//! request, then think time), and every request is read and timed by [`crate::sse`].
//!
//! goose is configured in code, never through its command-line parser. Its own test plan
//! counts whole seconds, which a time-scaled profile cannot use, so goose keeps a pool of the
//! peak number of users and [`VuSchedule`] decides, to the millisecond, which of them may
//! start an iteration (k6's `ramping-vus` semantics). The engine ends goose's run itself once
//! the profile is over and the last stream has ended or been cut after the ramp-down grace.
//!
//! The open model (k6's arrival-rate executors) is built on the same pool: a dispatcher hands
//! each arrival, at its intended start, to a free user, and counts it dropped when none is
//! free. Every latency of an arrival is measured from its intended start, so a stalled target
//! shows in the figures instead of hiding behind fewer requests (coordinated omission).
//!
//! goose keeps process-wide state (its kill switch), so one engine runs per process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use goose::config::{GooseConfiguration, GooseDefault, GooseDefaultType};
use goose::goose::{
    GooseMethod, GooseRequest, GooseUser, Transaction, TransactionError, TransactionFunction,
    TransactionResult,
};
use goose::metrics::GooseCoordinatedOmissionMitigation;
use goose::prelude::GooseAttack;
use scenarios::{LoadModel, Scenario, Shard, VuStage};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::arrivals::Arrivals;
use crate::connect::ConnectTimer;
use crate::failure;
use crate::live::LiveMetrics;
use crate::measure::{Collector, LiveView, Measurements, Recorder};
use crate::record::{FailureClass, Outcome, RequestRecord};
use crate::request::{RequestTemplate, TemplateError, VuVars};
use crate::schedule::VuSchedule;
use crate::slo::Slos;
use crate::sse::{StreamLimits, StreamRules, read_stream};

/// Longest grace for open streams after a stop signal.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// Longest wait for the open model's pre-allocated users before arrivals start anyway.
const POOL_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a transport failure (no connection, or none that answered) before the next
/// try, so a refused or exhausted target does not turn into a hot retry loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(100);

/// Longest a TCP connect may take (k6's dialer timeout), so that a target that never answers
/// the handshake counts as `connect` rather than `timeout` when the request timeout is longer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request template is unusable.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// goose refused its configuration or failed.
    #[error("load engine: {0}")]
    Goose(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The measurements.
    pub measurements: Measurements,
    /// Wall-clock start and end.
    pub started_at: SystemTime,
    /// Wall-clock end.
    pub ended_at: SystemTime,
    /// From start to the last stream's end.
    pub duration: Duration,
    /// Cut short by the stop token (a signal).
    pub interrupted: bool,
    /// The latest any of the engine's timers fired: above [`LAG_BOUND`], the load generator
    /// itself was short of CPU and its latencies are inflated.
    pub max_timer_lag: Duration,
    /// CPU seconds (user + system) this process spent during the run, where readable; with
    /// the embedded stack this includes the mock and the pipeline, which run in-process.
    pub cpu_seconds: Option<f64>,
}

/// How late a timer may fire before the run is marked as overloaded.
pub const LAG_BOUND: Duration = Duration::from_millis(10);

/// Which users work when.
enum Model {
    /// The schedule says how many users are active.
    Closed(VuSchedule),
    /// A dispatcher hands arrivals to free users.
    Open(OpenPool),
}

/// The open model's hand-off between dispatcher and users.
struct OpenPool {
    /// Arrivals, each with its intended start; closed when the profile is over.
    queue: async_channel::Receiver<Instant>,
    /// Users waiting for an arrival and not yet promised one.
    idle: AtomicU64,
    /// Signalled when a user becomes idle, while the pool fills up.
    idle_added: Notify,
    /// Users that must be idle before the first arrival (k6's pre-allocated VUs).
    ready_at: u64,
    /// Fired when the last arrival has been dispatched.
    dispatched: CancellationToken,
    /// When the profile ends.
    end: Duration,
}

/// Everything the users share.
struct Shared {
    model: Model,
    shard: Shard,
    template: RequestTemplate,
    rules: StreamRules,
    client: reqwest::Client,
    recorder: Recorder,
    start: Instant,
    think: Duration,
    request_timeout: Duration,
    idle_timeout: Duration,
    /// No new iterations: the profile is over or the run was stopped.
    draining: CancellationToken,
    /// Open streams are cut (counted as interrupted).
    hard_stop: CancellationToken,
    /// goose has been told to end; users leave their transaction.
    finished: CancellationToken,
    /// Signalled when the last open stream ends.
    streams_done: Notify,
    /// The latest a timer fired, in microseconds.
    max_timer_lag_us: AtomicU64,
}

impl Shared {
    /// Notes how late a timer due at `due` fired.
    fn timer_fired(&self, due: Instant) -> Duration {
        let late = Instant::now().saturating_duration_since(due);
        self.max_timer_lag_us
            .fetch_max(late.as_micros() as u64, Ordering::Relaxed);
        late
    }
}

impl Shared {
    /// When the load profile ends.
    fn end(&self) -> Duration {
        match &self.model {
            Model::Closed(schedule) => schedule.end(),
            Model::Open(pool) => pool.end,
        }
    }
}

/// The per-user state goose keeps for us.
#[derive(Debug, Clone)]
struct VuSession {
    vars: VuVars,
    active: bool,
}

/// How a run is carried out, besides its scenario.
pub struct RunOptions {
    /// The share of the load this process runs.
    pub shard: Shard,
    /// Fires on a first stop signal: stop starting requests, give open streams a short grace.
    pub stop: CancellationToken,
    /// Fires on a second: cut open streams now (counted interrupted); the run still ends with
    /// what it measured.
    pub cut: CancellationToken,
    /// Live `scan_bench_*` metrics to keep, when served.
    pub live: Option<Arc<LiveMetrics>>,
    /// Called twice a second with elapsed time, profile length, active users and the live
    /// view, for a progress display.
    pub on_live: OnLive,
}

/// The progress callback of [`RunOptions`].
pub type OnLive = Box<dyn Fn(Duration, Duration, u64, &LiveView) + Send + 'static>;

/// Runs `options.shard`'s share of `scenario` against `target` (a base URL) until the profile
/// ends or `options.stop` fires.
pub async fn drive(
    scenario: &Scenario,
    target: &str,
    options: RunOptions,
) -> Result<RunOutput, EngineError> {
    let RunOptions {
        shard,
        stop,
        cut,
        live: live_metrics,
        on_live,
    } = options;
    let scale = scenario.time_scale;
    let (model, arrivals, users) = load_model(scenario, shard);
    let users = users.max(1) as usize;
    let request_timeout = scenario.load.request_timeout.mul_f64(scale);
    let grace = scenario.load.graceful_ramp_down.mul_f64(scale);
    let rules = StreamRules::new(scenario.stream.clone()).with_time_scale(scale);
    let slos = Slos::new(&scenario.slo, rules.stages(), scale);
    let (collector, recorder) = Collector::new(
        rules.stages(),
        rules.null_checks(),
        rules.has_tokens(),
        slos,
        live_metrics,
    );
    let client = http_client(request_timeout, &recorder)?;
    let live = collector.live();
    let start = Instant::now();
    let started_at = SystemTime::now();
    let shared = Arc::new(Shared {
        template: RequestTemplate::new(&scenario.request, target, scenario.seed)?,
        model,
        shard,
        rules,
        client,
        recorder,
        start,
        think: scenario.load.think_time.mul_f64(scale),
        request_timeout,
        idle_timeout: scenario.load.idle_timeout.mul_f64(scale),
        draining: CancellationToken::new(),
        hard_stop: cut.child_token(),
        finished: CancellationToken::new(),
        streams_done: Notify::new(),
        max_timer_lag_us: AtomicU64::new(0),
    });
    let cpu_before = process_cpu_seconds();
    let collected = CancellationToken::new();
    let collecting = tokio::spawn(collector.run(start, collected.clone()));
    let progress = tokio::spawn(report_live(shared.clone(), live, on_live));
    let dispatcher = arrivals
        .map(|(arrivals, tx)| tokio::spawn(dispatch(shared.clone(), arrivals, tx, stop.clone())));
    let finisher = tokio::spawn(finish(shared.clone(), grace, stop.clone()));

    // A backstop only: the finisher ends the run well before this.
    let run_time = (shared.end() + grace + request_timeout).as_secs() as usize + 5;
    let attack = goose_attack(shared.clone(), target, users, run_time)?;
    // goose prints "All N users launched." to stdout whatever its settings; stdout is the
    // summary's, so it is muted while goose runs (when it can be).
    let muted = gag::Gag::stdout().ok();
    let result = attack.execute().await;
    drop(muted);
    finisher.abort();
    progress.abort();
    if let Some(dispatcher) = dispatcher {
        dispatcher.abort();
    }
    let duration = start.elapsed();
    let ended_at = SystemTime::now();
    let interrupted = stop.is_cancelled() || cut.is_cancelled();
    let max_timer_lag = Duration::from_micros(shared.max_timer_lag_us.load(Ordering::Relaxed));
    let cpu_seconds = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    drop(shared);
    // Every request has ended (the finisher waited for the last stream), so its record is in
    // the collector's channel; clients goose may still hold keep a recorder alive.
    collected.cancel();
    result.map_err(|e| EngineError::Goose(e.to_string()))?;
    let measurements = collecting
        .await
        .map_err(|e| EngineError::Goose(e.to_string()))?;
    Ok(RunOutput {
        measurements,
        started_at,
        ended_at,
        duration,
        interrupted,
        max_timer_lag,
        cpu_seconds,
    })
}

/// Who works when, for `shard`'s share: the closed model's schedule, or the open model's pool
/// with its arrivals and their queue; and how many users goose must keep.
fn load_model(
    scenario: &Scenario,
    shard: Shard,
) -> (
    Model,
    Option<(Arrivals, async_channel::Sender<Instant>)>,
    u32,
) {
    let scale = scenario.time_scale;
    match scenario.load.model() {
        LoadModel::Closed { start_vus, stages } => {
            let stages: Vec<VuStage> = stages
                .iter()
                .map(|s| VuStage {
                    duration: s.duration,
                    target: shard.share(s.target),
                })
                .collect();
            let schedule = VuSchedule::closed(shard.share(start_vus), &stages, scale);
            let users = schedule.peak();
            (Model::Closed(schedule), None, users)
        }
        LoadModel::Open(profile) => {
            let share = 1.0 / f64::from(shard.count);
            let seed = scenario.seed ^ u64::from(shard.index);
            let arrivals = Arrivals::new(profile, scale, share, seed);
            let (tx, rx) = async_channel::unbounded();
            let users = shard.share(profile.max_vus);
            let pool = OpenPool {
                queue: rx,
                idle: AtomicU64::new(0),
                idle_added: Notify::new(),
                ready_at: u64::from(
                    shard
                        .share(profile.pre_allocated_vus)
                        .clamp(1, users.max(1)),
                ),
                dispatched: CancellationToken::new(),
                end: arrivals.end(),
            };
            (Model::Open(pool), Some((arrivals, tx)), users)
        }
    }
}

/// The client every user shares: a pool without idle limit, no compression, each new
/// connection timed.
fn http_client(request_timeout: Duration, recorder: &Recorder) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(request_timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_max_idle_per_host(usize::MAX)
        // SSE is not worth compressing here, and the decompression layer costs per frame.
        .no_gzip()
        .connector_layer(ConnectTimer::new(recorder.clone()))
        .build()
}

fn goose_attack(
    shared: Arc<Shared>,
    target: &str,
    users: usize,
    run_time: usize,
) -> Result<GooseAttack, EngineError> {
    let goose = |e: goose::GooseError| EngineError::Goose(e.to_string());
    let function: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move { iteration(user, &shared).await })
    });
    let scenario = goose::goose::Scenario::new("scan")
        .register_transaction(Transaction::new(function).set_name("scan"));
    // Without a client builder goose builds one client per user before any starts: slow, and
    // ~140 KiB per user. Users get the engine's own client in their first transaction anyway.
    let client = goose::client::GooseClientBuilder::new().without_cookies();
    let attack = GooseAttack::initialize_with_config(GooseConfiguration::default())
        .map_err(goose)?
        .set_client_builder_without_cookies(client)
        .map_err(goose)?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, target)
        .map_err(goose)?
        .set_default(GooseDefault::Users, users)
        .map_err(goose)?
        .set_default(GooseDefault::IncreaseRate, "100000")
        .map_err(goose)?
        .set_default(GooseDefault::RunTime, run_time)
        .map_err(goose)?
        .set_default(GooseDefault::Quiet, 1)
        .map_err(goose)?
        .set_default(GooseDefault::NoPrintMetrics, true)
        .map_err(goose)?
        .set_default(GooseDefault::NoErrorSummary, true)
        .map_err(goose)?
        .set_default(GooseDefault::NoTelnet, true)
        .map_err(goose)?
        .set_default(GooseDefault::NoResetMetrics, true)
        .map_err(goose)?
        .set_default(
            GooseDefault::CoordinatedOmissionMitigation,
            GooseCoordinatedOmissionMitigation::Disabled,
        )
        .map_err(goose)?;
    Ok(*attack)
}

/// Ends the run: at the profile's end (or on `stop`) no new iterations start; open streams
/// get the grace, then are cut (at once when the cut token fires); then goose is told to end.
async fn finish(shared: Arc<Shared>, grace: Duration, stop: CancellationToken) {
    let end = shared.start + shared.end();
    let profile_over = async {
        match &shared.model {
            Model::Closed(_) => tokio::time::sleep_until(end).await,
            Model::Open(pool) => pool.dispatched.cancelled().await,
        }
    };
    let grace = tokio::select! {
        _ = profile_over => grace,
        _ = stop.cancelled() => grace.min(INTERRUPT_GRACE),
        _ = shared.hard_stop.cancelled() => Duration::ZERO,
    };
    shared.draining.cancel();
    let cut_at = Instant::now() + grace;
    let wait_for_streams = async {
        while shared
            .recorder
            .gauges()
            .open_streams
            .load(Ordering::Acquire)
            > 0
        {
            shared.streams_done.notified().await;
        }
    };
    let cut_due = async {
        tokio::select! {
            _ = tokio::time::sleep_until(cut_at) => {}
            // A stop during the ramp-down grace shortens it as one during the profile does.
            _ = async {
                stop.cancelled().await;
                tokio::time::sleep(INTERRUPT_GRACE).await;
            } => {}
        }
    };
    tokio::select! {
        _ = wait_for_streams => {}
        _ = cut_due => {
            shared.hard_stop.cancel();
            while shared.recorder.gauges().open_streams.load(Ordering::Acquire) > 0 {
                shared.streams_done.notified().await;
            }
        }
    }
    shared.finished.cancel();
    goose::trigger_killswitch("scan-bench: the load profile is over");
}

async fn report_live(shared: Arc<Shared>, live: Arc<std::sync::Mutex<LiveView>>, on_live: OnLive) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let due = tick.tick().await;
        let late = shared.timer_fired(due);
        let mut view = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        view.timer_lag = late;
        let vus = shared.recorder.gauges().active_vus.load(Ordering::Relaxed);
        on_live(shared.start.elapsed(), shared.end(), vus, &view);
    }
}

/// One goose transaction: wait until the schedule lets this user run, send one request,
/// read its stream, think.
async fn iteration(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    let vu = user.weighted_users_index as u32;
    if user.get_session_data::<VuSession>().is_none() {
        // One pooled client for every user: per-user clients cost memory and CPU at scale.
        user.client = shared.client.clone();
        let vars = shared.template.vu_vars(shared.shard.global_vu(vu + 1));
        user.set_session_data(VuSession {
            vars,
            active: false,
        });
    }
    match &shared.model {
        Model::Closed(schedule) => {
            if !wait_for_turn(user, shared, schedule, vu).await {
                return Ok(());
            }
            let now = Instant::now();
            let transport_failed = scan(user, shared, now, now).await;
            let pause = if transport_failed {
                shared.think.max(CONNECT_BACKOFF)
            } else {
                shared.think
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shared.draining.cancelled() => {}
            }
        }
        Model::Open(pool) => {
            pool.idle.fetch_add(1, Ordering::AcqRel);
            pool.idle_added.notify_one();
            match pool.queue.recv().await {
                Ok(intended) => {
                    let began = Instant::now();
                    shared
                        .recorder
                        .lagged(began.saturating_duration_since(intended));
                    set_active(user, shared, true);
                    scan(user, shared, intended, began).await;
                    set_active(user, shared, false);
                }
                Err(_) => {
                    // The profile is over: leave once goose is ending the run.
                    shared.finished.cancelled().await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    Ok(())
}

/// The open model's dispatcher: at each arrival's intended start, promise it to an idle user
/// or count it dropped; close the queue when the profile (or the run) is over.
async fn dispatch(
    shared: Arc<Shared>,
    mut arrivals: Arrivals,
    queue: async_channel::Sender<Instant>,
    stop: CancellationToken,
) {
    let Model::Open(pool) = &shared.model else {
        return;
    };
    // As k6 does, start the clock once the pre-allocated users are ready, so the first
    // arrivals are not dropped while goose is still launching users.
    let ready = async {
        while pool.idle.load(Ordering::Acquire) < pool.ready_at {
            pool.idle_added.notified().await;
        }
    };
    let _ = tokio::time::timeout(POOL_READY_TIMEOUT, ready).await;
    let origin = Instant::now();
    let mut rate_second = None;
    while let Some(due) = arrivals.next_due() {
        let intended = origin + due;
        let second = intended.saturating_duration_since(shared.start).as_secs();
        if rate_second != Some(second) {
            rate_second = Some(second);
            shared
                .recorder
                .target_rate(Duration::from_secs(second), arrivals.rate_at(due));
        }
        tokio::select! {
            _ = tokio::time::sleep_until(intended) => {
                shared.timer_fired(intended);
            }
            _ = stop.cancelled() => break,
        }
        let idle = &pool.idle;
        if idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            let _ = queue.send(intended).await;
        } else {
            shared
                .recorder
                .dropped(intended.saturating_duration_since(shared.start));
        }
    }
    queue.close();
    pool.dispatched.cancel();
}

/// Waits until user `vu` (0-based) is scheduled; false when the run is over for it.
async fn wait_for_turn(
    user: &mut GooseUser,
    shared: &Shared,
    schedule: &VuSchedule,
    vu: u32,
) -> bool {
    loop {
        if shared.draining.is_cancelled() {
            set_active(user, shared, false);
            shared.finished.cancelled().await;
            // goose is ending the run and stops users between transactions: give it a moment
            // instead of spinning through empty transactions.
            tokio::time::sleep(Duration::from_millis(10)).await;
            return false;
        }
        let now = shared.start.elapsed();
        if schedule.active_at(now) > vu {
            set_active(user, shared, true);
            return true;
        }
        set_active(user, shared, false);
        let wake = schedule.next_reaching(vu + 1, now);
        tokio::select! {
            _ = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(shared.start + at).await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = shared.draining.cancelled() => {}
        }
    }
}

fn set_active(user: &mut GooseUser, shared: &Shared, active: bool) {
    let session = user.get_session_data_unchecked_mut::<VuSession>();
    if session.active != active {
        session.active = active;
        let gauge = &shared.recorder.gauges().active_vus;
        if active {
            gauge.fetch_add(1, Ordering::Relaxed);
        } else {
            gauge.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Sends one request and reads its stream, timing everything from `start` (the intended
/// start, in the open model; `began` is when this user took it); true when it failed below
/// HTTP (see [`FailureClass::is_transport_failure`]).
async fn scan(user: &mut GooseUser, shared: &Shared, start: Instant, began: Instant) -> bool {
    let rendered = shared
        .template
        .render(&mut user.get_session_data_unchecked_mut::<VuSession>().vars);
    let gauges = shared.recorder.gauges();
    gauges.open_streams.fetch_add(1, Ordering::AcqRel);
    let started_at = start.saturating_duration_since(shared.start);
    let began_at = began.saturating_duration_since(shared.start);
    let mut record = RequestRecord::new(shared.rules.stages().len());

    let method = goose::goose::goose_method_from_method(rendered.method.clone())
        .unwrap_or(GooseMethod::Post);
    let mut builder = user
        .client
        .request(rendered.method, &rendered.url)
        .headers(rendered.headers);
    if let Some(body) = rendered.body {
        builder = builder.body(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(rendered.url.as_str())
        .name("scan")
        .set_request_builder(builder)
        .build();
    let sent = tokio::select! {
        sent = user.request(request) => Some(sent),
        _ = shared.hard_stop.cancelled() => None,
    };
    let mut goose_metric = None;
    match sent {
        None => record.outcome = Outcome::Interrupted,
        Some(Err(error)) => {
            record.outcome = match *error {
                TransactionError::Reqwest(ref e) => Outcome::Failed(failure::of_request_error(e)),
                // goose fails a request itself only when its channels are closed, as its run
                // is torn down around it (the template rules out methods it cannot name).
                _ => Outcome::Interrupted,
            }
        }
        Some(Ok(goose)) => {
            record.headers = Some(start.elapsed());
            goose_metric = Some(goose.request);
            match goose.response {
                Err(e) => {
                    record.headers = None;
                    record.outcome = Outcome::Failed(failure::of_request_error(&e));
                }
                Ok(response) if !response.status().is_success() => {
                    // k6's `sse_ttfb` (`timings.waiting`) times every response, a fast 503
                    // too: its first byte is its head.
                    record.ttfb = record.headers;
                    record.outcome =
                        Outcome::Failed(FailureClass::HttpStatus(response.status().as_u16()));
                }
                Ok(response) => {
                    let limits = StreamLimits {
                        deadline: start + shared.request_timeout,
                        idle: shared.idle_timeout,
                    };
                    read_stream(
                        response,
                        start,
                        &shared.rules,
                        limits,
                        &shared.hard_stop,
                        &mut record,
                    )
                    .await;
                }
            }
        }
    }
    if record.ended.is_zero() {
        record.ended = start.elapsed();
    }
    // goose counted the scan when its head arrived; a stream that then did not complete
    // flips it, so goose's totals agree with ours.
    let failure = match record.outcome {
        Outcome::Completed => None,
        Outcome::Partial => Some("partial".to_owned()),
        Outcome::Interrupted => Some("interrupted".to_owned()),
        Outcome::Failed(class) => Some(class.label()),
    };
    if let (Some(metric), Some(tag)) = (goose_metric.as_mut(), failure) {
        // set_failure also returns the transaction error goose would log; we report it ourselves.
        let _ = user.set_failure(&tag, metric, None, None);
    }
    let transport_failed =
        matches!(record.outcome, Outcome::Failed(class) if class.is_transport_failure());
    shared.recorder.record(started_at, began_at, record);
    if gauges.open_streams.fetch_sub(1, Ordering::AcqRel) == 1 {
        shared.streams_done.notify_one();
    }
    transport_failed
}

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux architecture scan-bench runs on.
    Some(ticks / 100.0)
}
