//! A real Prometheus for a run: the `prometheus` binary (2.x; Debian and Ubuntu package it as
//! `prometheus`) started on loopback in a temporary directory of its own, scraping the given
//! `/metrics` URLs at a given interval, and queried through its HTTP API at given instants.
//!
//! ```no_run
//! # async fn f() -> Result<(), loadgen::prometheus::PrometheusError> {
//! use std::time::{Duration, SystemTime};
//! use loadgen::prometheus::{Prometheus, ScrapeTarget};
//!
//! let targets = [ScrapeTarget::new("pipeline", "http://127.0.0.1:8080/metrics")];
//! let prometheus = Prometheus::start(&targets, Duration::from_millis(500)).await?;
//! let end = SystemTime::now();
//! prometheus.wait_for_scrape(end, Duration::from_secs(30)).await?;
//! let rps = prometheus.query("sum(rate(scan_sse_requests_total[1m]))", end).await?;
//! prometheus.stop().await;
//! # Ok(()) }
//! ```
//!
//! Besides the process, two pure helpers for evaluating Grafana dashboards on a short run:
//! [`dashboard_queries`] lists a dashboard's queries, [`scale_ranges`] shrinks their range
//! windows (`[5m]`) to fit the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use tokio::process::{Child, Command};

/// The environment variable naming the Prometheus binary; without it, `prometheus` on `PATH`.
pub const BINARY_ENV: &str = "SCAN_BENCH_PROMETHEUS";

/// How long [`Prometheus::start`] waits for `GET /-/ready` to answer 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the start and [`Prometheus::wait_for_scrape`] look again.
const POLL: Duration = Duration::from_millis(50);

/// Ports tried when the free port found is taken before Prometheus binds it.
const START_ATTEMPTS: u32 = 3;

/// Bytes of the Prometheus log quoted in a start error.
const LOG_TAIL_BYTES: usize = 2048;

/// One `/metrics` endpoint to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// The `job` label of its series.
    pub job: String,
    /// The full URL, e.g. `http://127.0.0.1:9000/metrics`.
    pub url: String,
}

impl ScrapeTarget {
    /// A target of `job` at `url`.
    pub fn new(job: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            job: job.into(),
            url: url.into(),
        }
    }
}

/// One element of a query's result: a vector element's labels and value, or a scalar
/// (no labels).
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    /// The series' labels, `__name__` included when the expression keeps it.
    pub labels: BTreeMap<String, String>,
    /// The value; `NaN` and the infinities as Prometheus writes them (`NaN`, `+Inf`, `-Inf`).
    pub value: f64,
}

/// One PromQL query of a Grafana dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardQuery {
    /// The panel's title.
    pub panel: String,
    /// The panel's type (`stat`, `timeseries`, ...).
    pub panel_type: String,
    /// The target's `refId` (`A`, `B`, ...), when it has one.
    pub ref_id: Option<String>,
    /// The PromQL expression.
    pub expr: String,
}

/// What went wrong with the Prometheus process or its API.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// No Prometheus binary to run.
    #[error(
        "no Prometheus binary: {reason}; install it with `apt-get install prometheus` (Debian, \
         Ubuntu; the package's own service need not run) or set {BINARY_ENV} to its path"
    )]
    NotInstalled {
        /// What was looked for and where.
        reason: String,
    },
    /// A scrape target that is not an `http://host:port/path` URL.
    #[error("scrape target {job} at `{url}`: {reason}")]
    BadTarget {
        /// Its job.
        job: String,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The scrape interval cannot be written as Prometheus reads it.
    #[error("scrape interval {0:?}: at least 1 ms")]
    BadInterval(Duration),
    /// A file or directory of the run could not be written.
    #[error("{what}: {source}")]
    Io {
        /// Which file or step.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The process exited or never became ready.
    #[error("Prometheus did not start: {reason}; the end of its log:\n{tail}")]
    Start {
        /// Why.
        reason: String,
        /// The last lines of its log (the file goes with the temporary directory).
        tail: String,
    },
    /// A request to the API failed below HTTP, or its answer could not be read.
    #[error("Prometheus API {what}: {source}")]
    Http {
        /// Which request.
        what: String,
        /// The error.
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus refused a query (`"status": "error"`).
    #[error("Prometheus refused `{query}`: {error_type}: {error}")]
    Query {
        /// The expression.
        query: String,
        /// Its `errorType` (`bad_data`, `execution`, `timeout`, ...).
        error_type: String,
        /// Its `error` message.
        error: String,
    },
    /// An answer that is not what the API documents.
    #[error("Prometheus API {what}: unexpected answer: {reason}")]
    BadAnswer {
        /// Which request.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// Not every target was scraped after the instant in time.
    #[error("not every target was scraped healthy within {waited:?} of waiting: {targets}")]
    ScrapeTimeout {
        /// How long it waited.
        waited: Duration,
        /// Each late target with its health, last scrape and last error.
        targets: String,
    },
}

/// A `[...]` of a PromQL expression that [`scale_ranges`] cannot rewrite.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    /// The factor is not a positive finite number.
    #[error("range scale {0}: a finite number > 0")]
    BadScale(f64),
    /// A `[` without its `]`.
    #[error("`{expr}`: the `[` at byte {at} is never closed")]
    Unclosed {
        /// The expression.
        expr: String,
        /// Byte offset of the `[`.
        at: usize,
    },
    /// A string literal without its closing quote.
    #[error("`{expr}`: the string at byte {at} is never closed")]
    UnclosedString {
        /// The expression.
        expr: String,
        /// Byte offset of the opening quote.
        at: usize,
    },
    /// Brackets holding something else than a duration (or two, for a subquery).
    #[error("`{expr}`: `[{inside}]` is not a PromQL range such as [5m], [1h30m] or [5m:30s]")]
    NotADuration {
        /// The expression.
        expr: String,
        /// What the brackets hold.
        inside: String,
    },
    /// A range that the scale shrinks below one millisecond.
    #[error("`{expr}`: `[{inside}]` scaled by {scale} is under 1 ms")]
    TooShort {
        /// The expression.
        expr: String,
        /// What the brackets hold.
        inside: String,
        /// The factor.
        scale: f64,
    },
}

/// A Grafana dashboard that [`dashboard_queries`] cannot read.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// Not JSON.
    #[error("dashboard JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON without a `panels` array (at the top, or under `dashboard` as the HTTP API
    /// exports it).
    #[error("dashboard JSON without a `panels` array")]
    NoPanels,
}

/// A target as written into the configuration.
#[derive(Debug, Clone)]
struct Target {
    job: String,
    /// `host:port`, Prometheus's `instance` label.
    address: String,
    url: String,
}

/// A temporary directory removed when dropped.
#[derive(Debug)]
struct WorkDir(PathBuf);

impl WorkDir {
    /// A new, empty directory under the system's temporary directory, readable by its owner
    /// alone.
    fn create() -> Result<Self, PrometheusError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "scan-bench-prometheus-{}-{n}-{nanos}",
                std::process::id()
            ));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&path) {
                Ok(()) => return Ok(Self(path)),
                // Left by an earlier process of the same id: take the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(PrometheusError::Io {
                        what: format!("creating {}", path.display()),
                        source,
                    });
                }
            }
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Empty once handed on to the next start attempt.
        if self.0.as_os_str().is_empty() {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running Prometheus. Dropping it (or [`Prometheus::stop`]) kills the process and removes
/// its directory, samples and all.
#[derive(Debug)]
pub struct Prometheus {
    child: Option<Child>,
    base: Url,
    http: reqwest::Client,
    targets: Vec<Target>,
    log: PathBuf,
    // Last: removed after the process is gone.
    dir: WorkDir,
}

impl Prometheus {
    /// The binary [`Prometheus::start`] runs: `$SCAN_BENCH_PROMETHEUS` when set (a path, or a
    /// name looked up on `PATH`), else `prometheus` on `PATH`.
    pub fn binary() -> Result<PathBuf, PrometheusError> {
        match std::env::var_os(BINARY_ENV).filter(|v| !v.is_empty()) {
            Some(value) => {
                let path = PathBuf::from(&value);
                let found = if path.components().count() > 1 {
                    is_executable(&path).then_some(path)
                } else {
                    on_path(&path)
                };
                found.ok_or_else(|| PrometheusError::NotInstalled {
                    reason: format!(
                        "{BINARY_ENV}={} is not an executable file",
                        value.to_string_lossy()
                    ),
                })
            }
            None => on_path(Path::new("prometheus")).ok_or_else(|| PrometheusError::NotInstalled {
                reason: "no `prometheus` on PATH".to_owned(),
            }),
        }
    }

    /// Starts Prometheus on a free loopback port, scraping every target each
    /// `scrape_interval` (its scrape timeout the same), with its storage in a new temporary
    /// directory, and returns once `GET /-/ready` answers 200 (at most 30 s). Prometheus
    /// hands new targets to its scrapers in batches every 5 s, so the first scrape may come
    /// that long after: [`Prometheus::wait_for_scrape`] before the load when the samples
    /// before it matter.
    pub async fn start(
        targets: &[ScrapeTarget],
        scrape_interval: Duration,
    ) -> Result<Prometheus, PrometheusError> {
        let binary = Self::binary()?;
        let targets = targets
            .iter()
            .map(parse_target)
            .collect::<Result<Vec<_>, _>>()?;
        let config = config_yaml(&targets, scrape_interval)?;
        let mut dir = WorkDir::create()?;
        let config_path = dir.0.join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|source| PrometheusError::Io {
            what: format!("writing {}", config_path.display()),
            source,
        })?;
        let http = reqwest::Client::builder()
            // Loopback only: no proxy from the environment may sit in between.
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| PrometheusError::Http {
                what: "client".to_owned(),
                source,
            })?;
        let log = dir.0.join("prometheus.log");
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let data = dir.0.join(format!("data-{attempt}"));
            let child = spawn(&binary, &config_path, &data, addr, &log)?;
            let base = Url::parse(&format!("http://{addr}/")).expect("a valid URL");
            let mut prometheus = Prometheus {
                child: Some(child),
                base,
                http: http.clone(),
                targets: targets.clone(),
                log: log.clone(),
                dir,
            };
            match prometheus.ready().await {
                Ok(()) => return Ok(prometheus),
                Err(Exited(status)) => {
                    let tail = log_tail(&log);
                    // Another process took the port between our probe and Prometheus's bind.
                    if tail.contains("address already in use") && attempt < START_ATTEMPTS {
                        attempt += 1;
                        dir = prometheus.take_dir();
                        continue;
                    }
                    return Err(PrometheusError::Start {
                        reason: format!("{} exited ({status})", binary.display()),
                        tail,
                    });
                }
                Err(NotReady(why)) => {
                    prometheus.kill().await;
                    return Err(PrometheusError::Start {
                        reason: why,
                        tail: log_tail(&log),
                    });
                }
            }
        }
    }

    /// The API's base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Prometheus's own log (inside the temporary directory).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until every target's last scrape (`/api/v1/targets`) began later than `after`
    /// and was healthy, and its samples are queryable: from then on a query at any instant
    /// up to `after` sees everything the targets exported until then. At most `timeout`;
    /// then an error naming each late target with its health and last error.
    pub async fn wait_for_scrape(
        &self,
        after: SystemTime,
        timeout: Duration,
    ) -> Result<(), PrometheusError> {
        let start = Instant::now();
        loop {
            let late = self.late_targets(after).await?;
            if late.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(PrometheusError::ScrapeTimeout {
                    waited: timeout,
                    targets: late.join("; "),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Evaluates `expr` at the instant `at` (`GET /api/v1/query`): one sample per element of
    /// an instant vector, or one without labels for a scalar. Prometheus's refusal (a parse
    /// or execution error) is [`PrometheusError::Query`].
    pub async fn query(
        &self,
        expr: &str,
        at: SystemTime,
    ) -> Result<Vec<QuerySample>, PrometheusError> {
        let mut url = self.base.join("api/v1/query").expect("a valid path");
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("time", &unix_seconds(at));
        let what = || format!("query `{expr}`");
        let data = self.api(url, &what, Some(expr)).await?;
        parse_result(&data).map_err(|reason| PrometheusError::BadAnswer {
            what: what(),
            reason,
        })
    }

    /// The raw samples Prometheus holds of `selector` in the `window` before `at` (a range
    /// vector query, `selector[window]`): one `(labels with __name__, [(unix seconds,
    /// value)])` per series, as scraped.
    pub async fn samples(
        &self,
        selector: &str,
        window: Duration,
        at: SystemTime,
    ) -> Result<Vec<RawSeries>, PrometheusError> {
        let expr = format!("{selector}[{}ms]", window.as_millis());
        let mut url = self.base.join("api/v1/query").expect("a valid path");
        url.query_pairs_mut()
            .append_pair("query", &expr)
            .append_pair("time", &unix_seconds(at));
        let what = || format!("samples `{expr}`");
        let data = self.api(url, &what, Some(&expr)).await?;
        parse_matrix(&data).map_err(|reason| PrometheusError::BadAnswer {
            what: what(),
            reason,
        })
    }

    /// Kills the process and removes its directory.
    pub async fn stop(mut self) {
        self.kill().await;
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// The directory, leaving this value without one (the process is killed first).
    fn take_dir(mut self) -> WorkDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            reap(&mut child);
        }
        std::mem::replace(&mut self.dir, WorkDir(PathBuf::new()))
    }

    async fn ready(&mut self) -> Result<(), StartFailure> {
        let url = self.base.join("-/ready").expect("a valid path");
        let start = Instant::now();
        loop {
            let child = self.child.as_mut().expect("a started process");
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Exited(status));
            }
            // Refused until it listens, 503 while its storage starts.
            if let Ok(response) = self.http.get(url.clone()).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if start.elapsed() >= READY_TIMEOUT {
                return Err(NotReady(format!(
                    "{url} did not answer 200 within {READY_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Each target not yet scraped healthy after `after`, described; empty when all were.
    async fn late_targets(&self, after: SystemTime) -> Result<Vec<String>, PrometheusError> {
        let mut url = self.base.join("api/v1/targets").expect("a valid path");
        url.query_pairs_mut().append_pair("state", "active");
        let what = || "targets".to_owned();
        let data = self.api(url, &what, None).await?;
        let active: ActiveTargets =
            serde_json::from_value(data).map_err(|e| PrometheusError::BadAnswer {
                what: what(),
                reason: e.to_string(),
            })?;
        let mut late = Vec::new();
        for target in &self.targets {
            let found = active.active_targets.iter().find(|t| {
                t.labels.get("job") == Some(&target.job)
                    && t.labels.get("instance") == Some(&target.address)
            });
            let Some(found) = found else {
                late.push(format!(
                    "{} ({}): not discovered yet",
                    target.job, target.url
                ));
                continue;
            };
            // Go writes the zero time for a target never scraped; it does not parse here.
            let scraped = humantime::parse_rfc3339(&found.last_scrape).ok();
            if found.health != "up" || scraped.is_none_or(|at| at <= after) {
                let mut line = format!(
                    "{} ({}): health {}, last scrape {}",
                    target.job, target.url, found.health, found.last_scrape
                );
                if !found.last_error.is_empty() {
                    let _ = write!(line, ", last error: {}", found.last_error);
                }
                late.push(line);
            }
        }
        if !late.is_empty() {
            return Ok(late);
        }
        // The targets' page may show a scrape before its samples are committed; its `up`
        // sample, committed with them, may not be: wait for that too.
        let up = self.query("timestamp(up)", SystemTime::now()).await?;
        let after_s = after
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        for target in &self.targets {
            let committed = up.iter().any(|s| {
                s.labels.get("job") == Some(&target.job)
                    && s.labels.get("instance") == Some(&target.address)
                    && s.value > after_s
            });
            if !committed {
                late.push(format!(
                    "{} ({}): scraped, samples not queryable yet",
                    target.job, target.url
                ));
            }
        }
        Ok(late)
    }

    /// GETs an API URL and returns its `data`; `query` names the expression of a refusal.
    async fn api(
        &self,
        url: Url,
        what: &dyn Fn() -> String,
        query: Option<&str>,
    ) -> Result<Value, PrometheusError> {
        let http = |source| PrometheusError::Http {
            what: what(),
            source,
        };
        let response = self.http.get(url).send().await.map_err(http)?;
        let status = response.status();
        let body = response.text().await.map_err(http)?;
        let answer: ApiAnswer =
            serde_json::from_str(&body).map_err(|e| PrometheusError::BadAnswer {
                what: what(),
                reason: format!("HTTP {status}, {e}: {}", truncated(&body, 200)),
            })?;
        match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) => Ok(data),
            ("error", _) => Err(PrometheusError::Query {
                query: query.unwrap_or_default().to_owned(),
                error_type: answer.error_type.unwrap_or_default(),
                error: answer.error.unwrap_or_default(),
            }),
            (other, _) => Err(PrometheusError::BadAnswer {
                what: what(),
                reason: format!("HTTP {status}, status `{other}`: {}", truncated(&body, 200)),
            }),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // kill_on_drop would signal it too, but without waiting: the directory is removed
            // next, and a process still writing would leave files behind.
            let _ = child.start_kill();
            reap(&mut child);
        }
    }
}

/// Waits (at most 2 s) for a killed child to be gone, without an async runtime.
fn reap(child: &mut Child) {
    let start = Instant::now();
    while matches!(child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Why the process did not become ready.
enum StartFailure {
    Exited(ExitStatus),
    NotReady(String),
}
use StartFailure::{Exited, NotReady};

#[derive(Deserialize)]
struct ApiAnswer {
    status: String,
    data: Option<Value>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ActiveTargets {
    #[serde(rename = "activeTargets")]
    active_targets: Vec<ActiveTarget>,
}

#[derive(Deserialize)]
struct ActiveTarget {
    labels: BTreeMap<String, String>,
    #[serde(rename = "lastScrape")]
    last_scrape: String,
    #[serde(rename = "lastError", default)]
    last_error: String,
    health: String,
}

fn spawn(
    binary: &Path,
    config: &Path,
    data: &Path,
    addr: SocketAddr,
    log: &Path,
) -> Result<Child, PrometheusError> {
    let io = |what: String| move |source| PrometheusError::Io { what, source };
    let out = std::fs::File::create(log).map_err(io(format!("creating {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io(format!("opening {}", log.display())))?;
    Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address={addr}"))
        // Go writes times in the local zone; the targets' `lastScrape` is read as UTC.
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(io(format!("starting {}", binary.display())))
}

/// A loopback port free right now (Prometheus binds it a moment later; a race is retried).
fn free_port() -> Result<u16, PrometheusError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| PrometheusError::Io {
            what: "finding a free loopback port".to_owned(),
            source,
        })
}

fn parse_target(target: &ScrapeTarget) -> Result<Target, PrometheusError> {
    let bad = |reason: &str| PrometheusError::BadTarget {
        job: target.job.clone(),
        url: target.url.clone(),
        reason: reason.to_owned(),
    };
    if target.job.is_empty() {
        return Err(bad("an empty job name"));
    }
    let url = Url::parse(&target.url).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(bad("not an http:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // It would be written into the configuration and shown by the targets' page.
        return Err(bad("credentials in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "a query or fragment (only scheme, host, port and path are used)",
        ));
    }
    let host = url.host_str().ok_or_else(|| bad("no host"))?;
    let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
    Ok(Target {
        job: target.job.clone(),
        address: format!("{host}:{port}"),
        url: target.url.clone(),
    })
}

/// The configuration: global interval and timeout, one static job per target. Strings are
/// written as JSON strings, which YAML reads as the same double-quoted scalars.
fn config_yaml(targets: &[Target], interval: Duration) -> Result<String, PrometheusError> {
    let ms = interval.as_millis();
    if ms == 0 {
        return Err(PrometheusError::BadInterval(interval));
    }
    let quote = |s: &str| Value::from(s).to_string();
    let mut yaml = format!(
        "# Written by scan-bench for one run.\nglobal:\n  scrape_interval: {ms}ms\n  \
         scrape_timeout: {ms}ms\nscrape_configs:\n"
    );
    for target in targets {
        let path = Url::parse(&target.url)
            .expect("parsed before")
            .path()
            .to_owned();
        let _ = write!(
            yaml,
            "  - job_name: {}\n    scheme: http\n    metrics_path: {}\n    static_configs:\n      \
             - targets: [{}]\n",
            quote(&target.job),
            quote(&path),
            quote(&target.address)
        );
    }
    Ok(yaml)
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn on_path(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The last lines of the log, at most [`LOG_TAIL_BYTES`].
fn log_tail(log: &Path) -> String {
    let text = match std::fs::read(log) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return format!("(cannot read it: {e})"),
    };
    let mut start = text.len().saturating_sub(LOG_TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    // From a line's start.
    let tail = &text[start..];
    let tail = match (start > 0, tail.find('\n')) {
        (true, Some(newline)) => &tail[newline + 1..],
        _ => tail,
    };
    tail.trim_end().to_owned()
}

fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `at` as the API's `time`: Unix seconds with milliseconds.
fn unix_seconds(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", since.as_secs(), since.subsec_millis())
}

/// A sample value as Prometheus writes it.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// The samples of a query's `data`: a vector or a scalar.
/// One series of a range vector: its labels (`__name__` among them) and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    /// The series' labels, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)` in time order.
    pub samples: Vec<(f64, f64)>,
}

fn parse_matrix(data: &Value) -> Result<Vec<RawSeries>, String> {
    #[derive(Deserialize)]
    struct Element {
        #[serde(default)]
        metric: BTreeMap<String, String>,
        values: Vec<(f64, String)>,
    }
    if data["resultType"].as_str() != Some("matrix") {
        return Err(format!(
            "result type `{}`; a range vector was expected",
            data["resultType"]
        ));
    }
    let elements: Vec<Element> =
        serde_json::from_value(data["result"].clone()).map_err(|e| format!("matrix: {e}"))?;
    elements
        .into_iter()
        .map(|e| {
            let samples = e
                .values
                .iter()
                .map(|(t, text)| {
                    parse_value(text)
                        .map(|v| (*t, v))
                        .ok_or_else(|| format!("value `{text}`"))
                })
                .collect::<Result<_, _>>()?;
            Ok(RawSeries {
                labels: e.metric,
                samples,
            })
        })
        .collect()
}

fn parse_result(data: &Value) -> Result<Vec<QuerySample>, String> {
    #[derive(Deserialize)]
    struct Element {
        #[serde(default)]
        metric: BTreeMap<String, String>,
        value: (f64, String),
    }
    let kind = data["resultType"].as_str().unwrap_or_default();
    let result = data["result"].clone();
    let value = |text: &str| parse_value(text).ok_or_else(|| format!("value `{text}`"));
    match kind {
        "vector" => {
            let elements: Vec<Element> =
                serde_json::from_value(result).map_err(|e| format!("vector: {e}"))?;
            elements
                .into_iter()
                .map(|e| {
                    Ok(QuerySample {
                        labels: e.metric,
                        value: value(&e.value.1)?,
                    })
                })
                .collect()
        }
        "scalar" => {
            let (_, text): (f64, String) =
                serde_json::from_value(result).map_err(|e| format!("scalar: {e}"))?;
            Ok(vec![QuerySample {
                labels: BTreeMap::new(),
                value: value(&text)?,
            }])
        }
        other => Err(format!(
            "result type `{other}`; an instant query of a vector or a scalar was expected"
        )),
    }
}

/// Rewrites every range and subquery window of a PromQL expression (`[5m]`, `[1h30m]`,
/// `[5m:30s]`, `[5m:]`) multiplied by `scale`, in integer milliseconds (`[5m]` by 0.05 is
/// `[15000ms]`), so that a dashboard built for hours can be evaluated on a run of seconds.
/// String literals (`{le="5m"}`) and comments are left as they are; `offset` durations are
/// not ranges and are not touched.
///
/// ```
/// use loadgen::prometheus::scale_ranges;
/// let scaled = scale_ranges("rate(x{le=\"5m\"}[5m])", 0.05).unwrap();
/// assert_eq!(scaled, "rate(x{le=\"5m\"}[15000ms])");
/// ```
pub fn scale_ranges(expr: &str, scale: f64) -> Result<String, RangeError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(RangeError::BadScale(scale));
    }
    let mut out = String::with_capacity(expr.len() + 16);
    let mut rest = expr.char_indices().peekable();
    while let Some((at, c)) = rest.next() {
        match c {
            '"' | '\'' | '`' => {
                // Backquoted strings are raw; the others take backslash escapes.
                let mut end = None;
                let mut escaped = false;
                for (i, d) in rest.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' && c != '`' {
                        escaped = true;
                    } else if d == c {
                        end = Some(i + d.len_utf8());
                        break;
                    }
                }
                let end = end.ok_or_else(|| RangeError::UnclosedString {
                    expr: expr.to_owned(),
                    at,
                })?;
                out.push_str(&expr[at..end]);
            }
            '#' => {
                let end = expr[at..].find('\n').map_or(expr.len(), |n| at + n);
                out.push_str(&expr[at..end]);
                while rest.next_if(|&(i, _)| i < end).is_some() {}
            }
            '[' => {
                let close = expr[at..].find(']').ok_or_else(|| RangeError::Unclosed {
                    expr: expr.to_owned(),
                    at,
                })? + at;
                let inside = &expr[at + 1..close];
                out.push('[');
                out.push_str(&scale_window(expr, inside, scale)?);
                out.push(']');
                while rest.next_if(|&(i, _)| i <= close).is_some() {}
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// `5m` or `5m:30s` or `5m:` scaled.
fn scale_window(expr: &str, inside: &str, scale: f64) -> Result<String, RangeError> {
    let not_a_duration = || RangeError::NotADuration {
        expr: expr.to_owned(),
        inside: inside.to_owned(),
    };
    let scaled = |part: &str| {
        let ms = duration_ms(part.trim()).ok_or_else(not_a_duration)?;
        let ms = (ms as f64 * scale).round();
        if ms < 1.0 {
            return Err(RangeError::TooShort {
                expr: expr.to_owned(),
                inside: inside.to_owned(),
                scale,
            });
        }
        Ok(format!("{ms:.0}ms"))
    };
    match inside.split_once(':') {
        None => scaled(inside),
        Some((range, step)) if step.trim().is_empty() => Ok(format!("{}:", scaled(range)?)),
        Some((range, step)) => Ok(format!("{}:{}", scaled(range)?, scaled(step)?)),
    }
}

/// A PromQL duration (`5m`, `1h30m`, `250ms`) in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let unit = match rest.chars().next()? {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 604_800_000,
                'y' => 31_536_000_000,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[len..];
        total = total.checked_add(number.checked_mul(unit)?)?;
    }
    Some(total)
}

/// Every query of a Grafana dashboard's JSON: each `targets[].expr` of each panel, panels
/// inside rows (`panels[].panels[]`, as a collapsed row holds them) included, in the
/// dashboard's order. Targets without an `expr` (other data sources, empty queries) are
/// skipped.
pub fn dashboard_queries(json: &str) -> Result<Vec<DashboardQuery>, DashboardError> {
    let dashboard: Value = serde_json::from_str(json)?;
    let panels = dashboard
        .get("panels")
        .or_else(|| dashboard.get("dashboard").and_then(|d| d.get("panels")))
        .and_then(Value::as_array)
        .ok_or(DashboardError::NoPanels)?;
    let mut queries = Vec::new();
    collect_queries(panels, &mut queries);
    Ok(queries)
}

fn collect_queries(panels: &[Value], queries: &mut Vec<DashboardQuery>) {
    for panel in panels {
        let text = |key: &str| panel[key].as_str().unwrap_or_default().to_owned();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let Some(expr) = target["expr"].as_str().filter(|e| !e.trim().is_empty()) else {
                continue;
            };
            queries.push(DashboardQuery {
                panel: text("title"),
                panel_type: text("type"),
                ref_id: target["refId"].as_str().map(str::to_owned),
                expr: expr.to_owned(),
            });
        }
        if let Some(inner) = panel["panels"].as_array() {
            collect_queries(inner, queries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_scaled_to_milliseconds() {
        let cases = [
            ("rate(x[5m])", 0.05, "rate(x[15000ms])"),
            ("rate(x[1m])", 0.5, "rate(x[30000ms])"),
            ("rate(x[30s])", 0.1, "rate(x[3000ms])"),
            ("rate(x[1h])", 0.001, "rate(x[3600ms])"),
            ("rate(x[1h30m])", 0.001, "rate(x[5400ms])"),
            ("rate(x[250ms])", 2.0, "rate(x[500ms])"),
            (
                "max_over_time(rate(x[1m])[5m:30s])",
                0.1,
                "max_over_time(rate(x[6000ms])[30000ms:3000ms])",
            ),
            ("max_over_time(x[5m:])", 0.1, "max_over_time(x[30000ms:])"),
            ("rate(x[ 5m ])", 1.0, "rate(x[300000ms])"),
            ("up", 0.1, "up"),
        ];
        for (expr, scale, want) in cases {
            assert_eq!(scale_ranges(expr, scale).unwrap(), want, "{expr}");
        }
    }

    #[test]
    fn strings_and_comments_keep_their_durations() {
        let expr = r#"sum(rate(x_bucket{le="5m",a='[1m]',b=`[2h]`,c="q\"[3s]"}[5m])) # [1m]
            / sum(rate(y[1m]))"#;
        let want = r#"sum(rate(x_bucket{le="5m",a='[1m]',b=`[2h]`,c="q\"[3s]"}[30000ms])) # [1m]
            / sum(rate(y[6000ms]))"#;
        assert_eq!(scale_ranges(expr, 0.1).unwrap(), want);
    }

    #[test]
    fn what_is_not_a_range_is_refused() {
        assert!(matches!(
            scale_ranges("rate(x[$__rate_interval])", 0.1),
            Err(RangeError::NotADuration { .. })
        ));
        assert!(matches!(
            scale_ranges("rate(x[5q])", 0.1),
            Err(RangeError::NotADuration { .. })
        ));
        assert!(matches!(
            scale_ranges("rate(x[])", 0.1),
            Err(RangeError::NotADuration { .. })
        ));
        assert!(matches!(
            scale_ranges("rate(x[5m)", 0.1),
            Err(RangeError::Unclosed { at: 6, .. })
        ));
        assert!(matches!(
            scale_ranges("x{a=\"[5m]}", 0.1),
            Err(RangeError::UnclosedString { at: 4, .. })
        ));
        assert!(matches!(
            scale_ranges("rate(x[1ms])", 0.1),
            Err(RangeError::TooShort { .. })
        ));
        assert_eq!(scale_ranges("x", 0.0), Err(RangeError::BadScale(0.0)));
        assert!(scale_ranges("x", f64::NAN).is_err());
    }

    #[test]
    fn values_parse_as_prometheus_writes_them() {
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value("1.5e-3"), Some(0.0015));
        assert_eq!(parse_value("bad"), None);
    }

    #[test]
    fn vectors_and_scalars_become_samples() {
        let vector: Value = serde_json::from_str(
            r#"{"resultType":"vector","result":[
                {"metric":{"job":"a","le":"5"},"value":[1700000000.5,"3"]},
                {"metric":{},"value":[1700000000.5,"NaN"]}]}"#,
        )
        .unwrap();
        let samples = parse_result(&vector).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].labels["job"], "a");
        assert_eq!(samples[0].value, 3.0);
        assert!(samples[1].value.is_nan());
        let scalar: Value =
            serde_json::from_str(r#"{"resultType":"scalar","result":[1700000000.5,"+Inf"]}"#)
                .unwrap();
        assert_eq!(
            parse_result(&scalar).unwrap(),
            [QuerySample {
                labels: BTreeMap::new(),
                value: f64::INFINITY
            }]
        );
        let matrix: Value = serde_json::from_str(r#"{"resultType":"matrix","result":[]}"#).unwrap();
        assert!(parse_result(&matrix).unwrap_err().contains("matrix"));
    }

    #[test]
    fn times_are_seconds_with_milliseconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_042);
        assert_eq!(unix_seconds(at), "1700000000.042");
    }

    #[test]
    fn targets_split_into_the_config() {
        let target =
            parse_target(&ScrapeTarget::new("pipe", "http://127.0.0.1:9000/metrics")).unwrap();
        assert_eq!(target.address, "127.0.0.1:9000");
        let yaml = config_yaml(&[target], Duration::from_millis(750)).unwrap();
        for line in [
            "  scrape_interval: 750ms",
            "  scrape_timeout: 750ms",
            "  - job_name: \"pipe\"",
            "    metrics_path: \"/metrics\"",
            "      - targets: [\"127.0.0.1:9000\"]",
        ] {
            assert!(yaml.lines().any(|l| l == line), "no `{line}` in\n{yaml}");
        }
        assert!(config_yaml(&[], Duration::from_micros(10)).is_err());
        for url in [
            "https://127.0.0.1:9000/metrics",
            "http://user:secret@127.0.0.1:9000/metrics",
            "http://127.0.0.1:9000/metrics?x=1",
            "not a url",
        ] {
            let err = parse_target(&ScrapeTarget::new("j", url)).unwrap_err();
            assert!(matches!(err, PrometheusError::BadTarget { .. }), "{url}");
        }
    }

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        let err = PrometheusError::NotInstalled {
            reason: "no `prometheus` on PATH".to_owned(),
        };
        assert!(
            err.to_string().contains("apt-get install prometheus"),
            "{err}"
        );
    }

    #[test]
    fn nested_panels_and_targets_without_expr() {
        let json = r#"{"panels":[
            {"type":"row","title":"R","panels":[
                {"type":"stat","title":"In row","targets":[{"refId":"A","expr":"up"}]}]},
            {"type":"timeseries","title":"Top","targets":[
                {"refId":"A","expr":"sum(x)"},{"refId":"B"},{"refId":"C","expr":""}]}]}"#;
        let queries = dashboard_queries(json).unwrap();
        assert_eq!(
            queries,
            [
                DashboardQuery {
                    panel: "In row".into(),
                    panel_type: "stat".into(),
                    ref_id: Some("A".into()),
                    expr: "up".into()
                },
                DashboardQuery {
                    panel: "Top".into(),
                    panel_type: "timeseries".into(),
                    ref_id: Some("A".into()),
                    expr: "sum(x)".into()
                },
            ]
        );
        assert!(matches!(
            dashboard_queries("{}"),
            Err(DashboardError::NoPanels)
        ));
        assert!(matches!(
            dashboard_queries("{"),
            Err(DashboardError::Json(_))
        ));
    }

    /// The shipped dashboards parse, and every query's ranges scale.
    #[test]
    fn the_shipped_dashboards_have_queries() {
        for (path, json) in [
            (
                "reference-pipeline/grafana/scan-sse-pipeline.json",
                include_str!("../../reference-pipeline/grafana/scan-sse-pipeline.json"),
            ),
            (
                "deploy/grafana/scan-bench.json",
                include_str!("../../deploy/grafana/scan-bench.json"),
            ),
        ] {
            let queries = dashboard_queries(json).unwrap();
            assert!(queries.len() >= 20, "{path}: {} queries", queries.len());
            for query in &queries {
                assert!(!query.panel.is_empty(), "{path}: {query:?}");
                scale_ranges(&query.expr, 0.05).unwrap();
            }
        }
    }
}
