//! `--compare-architectures`: Eco²'s test #2 load on the architectures and fixes of the
//! authors' "what next" list, each measured, in one table.

use reference_pipeline::{Mode, Provider};
use reports::RunReport;
use scenarios::Scenario;
use serde::Serialize;

use super::figures::client_chain_s;

/// One architecture or fix, as a change to the test #2 scenario.
pub struct Variant {
    /// Short name, also the report's directory.
    pub name: &'static str,
    /// The item of the authors' list it answers.
    pub answers: &'static str,
    /// Peak VUs, when not test #2's 34.
    pub vus: Option<u32>,
    /// The change.
    pub apply: fn(&mut Scenario),
}

/// Two keys, each with its own 500 RPM, called in turn.
fn two_keys(s: &mut Scenario) {
    s.pipeline.openai.providers = ["sk-scan-bench-one", "sk-scan-bench-two"]
        .into_iter()
        .map(|key| Provider {
            api_key: Some(key.to_owned()),
            ..Provider::new("http://127.0.0.1:0/v1")
        })
        .collect();
}

/// The authors' first fix, under every variant after it: two API pods from the start, so the
/// rows that follow compare the chain's architecture rather than the API tier's restart.
fn two_pods(s: &mut Scenario) {
    s.pipeline.cluster.min_replicas = 2;
}

fn in_process(s: &mut Scenario) {
    two_pods(s);
    s.pipeline.mode = Mode::Async;
}

/// The in-process graph with the rule cache and API pods enough for the load, so that only
/// OpenAI's limit stands in the way.
fn rate_limited(s: &mut Scenario) {
    in_process(s);
    s.pipeline.rule_cache = true;
    s.pipeline.cluster.min_replicas = 16;
    s.pipeline.cluster.max_replicas = 16;
}

/// The variants, Eco²'s own design first.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "staged",
        answers: "Eco² at test time: a Celery chain, one API pod when the test began",
        vus: None,
        apply: |_| {},
    },
    Variant {
        name: "staged-2-pods",
        answers: "startupProbe / more initial replicas: two API pods from the start",
        vus: None,
        apply: two_pods,
    },
    Variant {
        name: "staged-2-pods-rule-cache",
        answers: "cache the rule lookup",
        vus: None,
        apply: |s| {
            two_pods(s);
            s.pipeline.rule_cache = true;
        },
    },
    Variant {
        name: "threadpool-6-2-pods",
        answers: "back to v1.0.0: asyncio.to_thread on a pool of 6",
        vus: None,
        apply: |s| {
            two_pods(s);
            s.pipeline.mode = Mode::Threadpool { workers: 6 };
        },
    },
    Variant {
        name: "async-2-pods",
        answers: "an in-process graph instead of a queue hop per stage",
        vus: None,
        apply: in_process,
    },
    Variant {
        name: "async-2-pods-rule-cache",
        answers: "the in-process graph with the rule cache",
        vus: None,
        apply: |s| {
            in_process(s);
            s.pipeline.rule_cache = true;
        },
    },
    Variant {
        name: "async-250-vus-one-key",
        answers: "the 500 RPM limit at 250 VUs (16 API pods), one key",
        vus: Some(250),
        apply: rate_limited,
    },
    Variant {
        name: "async-250-vus-two-keys",
        answers: "beat the 500 RPM limit with several keys: two",
        vus: Some(250),
        apply: |s| {
            rate_limited(s);
            two_keys(s);
        },
    },
];

/// One row of the table, every duration in real-time seconds.
#[derive(Debug, Clone, Serialize)]
pub struct ArchitectureRow {
    /// The variant's name.
    pub variant: &'static str,
    /// What it answers.
    pub answers: &'static str,
    /// Peak VUs.
    pub vus: u32,
    /// Requests started.
    pub attempted: u64,
    /// Completed / attempted (k6's view).
    pub client_success: Option<f64>,
    /// The success panel.
    pub server_success: Option<f64>,
    /// 503 "no healthy upstream".
    pub no_healthy_upstream: Option<f64>,
    /// Liveness restarts.
    pub restarts: Option<f64>,
    /// OpenAI calls answered 429.
    pub openai_429: Option<f64>,
    /// Client chain mean.
    pub chain_avg_s: Option<f64>,
    /// Client chain p95.
    pub chain_p95_s: Option<f64>,
    /// Server TTFB p50.
    pub ttfb_p50_s: Option<f64>,
    /// Completed chains per second.
    pub throughput: Option<f64>,
}

impl ArchitectureRow {
    /// The row of a variant's run.
    pub fn new(variant: &Variant, report: &RunReport) -> Self {
        let scale = report.environment.time_scale;
        let server = report.server.as_ref();
        let totals = &report.totals;
        let duration = report.environment.duration_s;
        Self {
            variant: variant.name,
            answers: variant.answers,
            vus: report.scenario.load.peak_vus(),
            attempted: totals.attempted,
            client_success: totals.completed_share(),
            server_success: server.and_then(|s| s.success_rate),
            no_healthy_upstream: server.and_then(|s| s.upstream_unavailable),
            restarts: server.and_then(|s| s.replica_restarts),
            openai_429: server.and_then(|s| s.openai_rate_limited),
            chain_avg_s: client_chain_s(report, |s| s.mean),
            chain_p95_s: client_chain_s(report, |s| s.p95),
            ttfb_p50_s: server.and_then(|s| s.ttfb_p50_s).map(|s| s / scale),
            throughput: (duration > 0.0).then(|| totals.completed as f64 / duration * scale),
        }
    }
}
