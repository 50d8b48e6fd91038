//! One run from a resolved scenario to a `RunReport`: start the embedded stack if needed,
//! scrape the target's metrics around the load, drive the load, assemble the report, with
//! the load generator's own health (timer lag, CPU) beside the figures it may have inflated.

use std::time::{Duration, SystemTime};

use reports::{Environment, Goodput, LoadgenHealth, RunReport, SCHEMA_VERSION};
use scenarios::{SERVER_VIEW_OFF, Scenario, redact};
use tokio_util::sync::CancellationToken;

use crate::engine::{self, EngineError, RunOptions};
use crate::scrape::series::Scrapes;
use crate::scrape::{ACTIVE_CONNECTIONS, ScrapeError, Snapshot, server_view};
use crate::stack::{EmbeddedStack, StackError};

/// Why a run produced no report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The embedded stack did not start.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// How the target's `/metrics` is scraped during a run.
#[derive(Debug, Clone, Copy)]
pub struct ScrapeSettings {
    /// Between two scrapes.
    pub interval: Duration,
    /// Keep every scrape of the `scan_sse_*` metrics (Eco²'s dashboard's), for panels
    /// evaluated at an instant; otherwise only the peak of active connections is kept.
    pub keep: bool,
}

impl Default for ScrapeSettings {
    /// Every second, keeping the peak only: a long run's scrapes would grow without bound.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            keep: false,
        }
    }
}

/// What one run measured: its report and, when [`ScrapeSettings::keep`] asked, the scrapes.
#[derive(Debug)]
pub struct Run {
    /// The report, thresholds evaluated.
    pub report: RunReport,
    /// The target's kept scrapes (empty when none were kept or it has no metrics).
    pub scrapes: Scrapes,
}

/// Runs a resolved scenario to its report (thresholds evaluated), the embedded stack started
/// for it when it has no target. `stop` ends it early as interrupted; the report then says
/// `partial`.
pub async fn run_scenario(scenario: &Scenario, options: RunOptions) -> Result<RunReport, RunError> {
    Ok(run_on(scenario, None, options, ScrapeSettings::default())
        .await?
        .report)
}

/// Runs `scenario` on `stack`, an embedded stack the caller started to reach it before the
/// load (to point a Prometheus at it, say), shut down at the end; with `None`, on the
/// scenario's target, or on an embedded stack started here when it has none. The target's
/// metrics are scraped as `scrape` says.
pub async fn run_on(
    scenario: &Scenario,
    stack: Option<EmbeddedStack>,
    options: RunOptions,
    scrape: ScrapeSettings,
) -> Result<Run, RunError> {
    let stack = match (stack, &scenario.target) {
        (None, None) => Some(EmbeddedStack::start(scenario).await?),
        (stack, _) => stack,
    };
    let stop = options.stop.clone();
    let (target, metrics_url) = match (&stack, &scenario.target) {
        (Some(stack), _) => (stack.target(), stack.metrics_url()),
        (None, Some(target)) => {
            let metrics = match scenario.target_metrics.as_deref() {
                Some(SERVER_VIEW_OFF) => None,
                Some(url) => Some(url.to_owned()),
                None => Some(format!("{}/metrics", target.trim_end_matches('/'))),
            };
            (target.clone(), metrics)
        }
        (None, None) => unreachable!("an embedded stack was started above"),
    };
    // A target without metrics is told once, before the load, and not scraped again.
    let mut scraper = metrics_url.map(|url| Scraper::start(url, scrape, stop.clone()));
    let first = match &scraper {
        Some(s) => match s.snapshot().await {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                eprintln!(
                    "scan-bench: no server view: {e} (target_metrics = \"off\" or \
                     --target-metrics off runs without one)"
                );
                None
            }
        },
        None => None,
    };
    if first.is_none()
        && let Some(idle) = scraper.take()
    {
        idle.stop().await;
    }

    let result = engine::drive(scenario, &target, options).await;

    let mut scrapes = Scrapes::default();
    let server = match (scraper, first) {
        (Some(scraper), Some(first)) => {
            let last = scraper.snapshot().await;
            let url = redact::url(&scraper.url);
            let watched = scraper.stop().await;
            scrapes = watched.scrapes;
            let window = result.as_ref().map(|r| r.duration).unwrap_or_default();
            match last {
                Ok(last) => Some(server_view(&url, &last.since(&first), watched.peak, window)),
                Err(e) => {
                    eprintln!("scan-bench: no server view: the last scrape failed: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    if let Some(stack) = stack {
        stack.shutdown().await;
    }
    let output = result?;
    let m = &output.measurements;
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        // Reports are attached to pull requests and CI logs: no secret goes in.
        scenario: scenario.redacted(),
        environment: environment(scenario, &target, &output),
        partial: output.interrupted,
        totals: m.totals.clone(),
        latencies: m.latency_metrics(),
        stages: m.stage_metrics(),
        nulls: m.nulls.clone(),
        timeseries: m.timeseries.clone(),
        server,
        thresholds: Vec::new(),
        health: None,
        goodput: None,
        tokens: None,
    };
    report.goodput = m
        .good
        .map(|good| Goodput::new(good, &report.totals, &report.environment));
    report.tokens = m
        .tokens
        .as_ref()
        .map(|t| t.stats(report.environment.duration_s));
    report.health = Some(LoadgenHealth::new(
        ms(output.max_timer_lag),
        ms(engine::LAG_BOUND),
        output.cpu_seconds,
        &report,
    ));
    report.thresholds = reports::thresholds::evaluate(&report);
    Ok(Run { report, scrapes })
}

fn environment(scenario: &Scenario, target: &str, output: &engine::RunOutput) -> Environment {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let cpu_model = read("/proc/cpuinfo").and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    });
    Environment {
        scan_bench_version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: option_env!("SCAN_BENCH_GIT_COMMIT").map(str::to_owned),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()),
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        started_at: rfc3339(output.started_at),
        ended_at: rfc3339(output.ended_at),
        duration_s: output.duration.as_secs_f64(),
        time_scale: scenario.time_scale,
        target: redact::url(target),
        embedded: scenario.target.is_none(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Scrapes the target's metrics during the run, for the peak of active connections and,
/// when asked, every scrape; first and last scrapes give the window.
struct Scraper {
    url: String,
    client: reqwest::Client,
    done: CancellationToken,
    task: tokio::task::JoinHandle<Watched>,
}

/// What the scrapes during a run saw.
#[derive(Default)]
struct Watched {
    peak: Option<f64>,
    scrapes: Scrapes,
}

impl Scraper {
    fn start(url: String, settings: ScrapeSettings, stop: CancellationToken) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain client builds");
        let done = stop.child_token();
        let task = tokio::spawn({
            let (client, url, done) = (client.clone(), url.clone(), done.clone());
            async move {
                let mut watched = Watched::default();
                let mut tick = tokio::time::interval(settings.interval);
                // A late scrape is taken at once and the next one a full interval on, as
                // Prometheus keeps its own interval.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = done.cancelled() => break,
                    }
                    let at = SystemTime::now();
                    let Ok(snapshot) = Snapshot::fetch(&client, &url).await else {
                        continue;
                    };
                    if let Some(active) = snapshot.sum(ACTIVE_CONNECTIONS, &[]) {
                        watched.peak = Some(watched.peak.map_or(active, |p| p.max(active)));
                    }
                    if settings.keep {
                        watched
                            .scrapes
                            .push(at, &snapshot, |name| name.starts_with("scan_sse_"));
                    }
                }
                watched
            }
        });
        Self {
            url,
            client,
            done,
            task,
        }
    }

    async fn snapshot(&self) -> Result<Snapshot, ScrapeError> {
        Snapshot::fetch(&self.client, &self.url).await
    }

    /// Stops scraping; what the scrapes saw.
    async fn stop(self) -> Watched {
        self.done.cancel();
        self.task.await.unwrap_or_default()
    }
}
