//! Reports built from synthetic requests, the way loadgen's collector builds them, so tests
//! know every value that went in.

#![allow(dead_code)]

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use reports::histogram::{Latency, new_latency};
use reports::{
    Environment, LatencyMetric, NullCount, RunReport, SCHEMA_VERSION, SecondSample, Totals,
};
use scenarios::{Overrides, Scenario};

/// One synthetic request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Seconds from the start of its run.
    pub start_s: f64,
    pub ttfb_ms: f64,
    /// Stage durations: vision, rule, answer, reward.
    pub stages_ms: [f64; 4],
    /// The failure class, or `None` for a completed request.
    pub failed: Option<&'static str>,
    pub reward_null: bool,
}

impl Request {
    pub fn chain_ms(&self) -> f64 {
        self.ttfb_ms + self.stages_ms.iter().sum::<f64>()
    }
}

/// The ci-smoke scenario, as the reports' runs resolve it.
pub fn scenario() -> Scenario {
    scenarios::open("ci-smoke")
        .unwrap()
        .resolve(&Overrides::default())
        .unwrap()
}

/// `n` requests over `seconds`, chain stages lognormal around the given medians (ms).
pub fn requests(n: usize, seconds: f64, seed: u64, slowdown: f64) -> Vec<Request> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let draw = |median: f64, sigma: f64, rng: &mut ChaCha8Rng| {
        LogNormal::new(median.ln(), sigma).unwrap().sample(rng)
    };
    (0..n)
        .map(|i| Request {
            start_s: seconds * i as f64 / n as f64,
            ttfb_ms: draw(2.0, 0.3, &mut rng),
            stages_ms: [
                draw(74.0, 0.35, &mut rng) * slowdown,
                draw(0.05, 0.5, &mut rng),
                draw(60.0, 0.4, &mut rng) * slowdown,
                draw(0.1, 0.5, &mut rng),
            ],
            failed: None,
            reward_null: i % 3 == 0,
        })
        .collect()
}

/// The report of those requests, started at `started_at` (RFC 3339).
pub fn report(requests: &[Request], started_at: &str) -> RunReport {
    let us = |ms: f64| (ms * 1000.0).round() as u64;
    let record = |h: &mut Latency, ms: f64| h.record(us(ms)).unwrap();
    let (mut ttfb, mut chain) = (new_latency(), new_latency());
    let mut stages: Vec<Latency> = (0..4).map(|_| new_latency()).collect();
    let mut totals = Totals::default();
    let mut nulls = 0;
    let mut seconds: BTreeMap<u32, (SecondSample, Latency, Latency)> = BTreeMap::new();
    let mut end_s: f64 = 0.0;
    for r in requests {
        totals.attempted += 1;
        record(&mut ttfb, r.ttfb_ms);
        let end = r.start_s + r.chain_ms() / 1000.0;
        end_s = end_s.max(end);
        let second = |t: f64, seconds: &mut BTreeMap<u32, (SecondSample, Latency, Latency)>| {
            let t = t as u32;
            seconds
                .entry(t)
                .or_insert_with(|| {
                    (
                        SecondSample {
                            t,
                            ..SecondSample::default()
                        },
                        new_latency(),
                        new_latency(),
                    )
                })
                .0
                .t
        };
        let start = second(r.start_s, &mut seconds);
        seconds.get_mut(&start).unwrap().0.started += 1;
        let ended = second(end, &mut seconds);
        let (sample, ttfb_h, chain_h) = seconds.get_mut(&ended).unwrap();
        record(ttfb_h, r.ttfb_ms);
        match r.failed {
            None => {
                totals.completed += 1;
                sample.completed += 1;
                record(&mut chain, r.chain_ms());
                record(chain_h, r.chain_ms());
                for (h, v) in stages.iter_mut().zip(r.stages_ms) {
                    record(h, v);
                }
                nulls += u64::from(r.reward_null);
            }
            Some(class) => {
                sample.failed += 1;
                *totals.failed.entry(class.to_owned()).or_default() += 1;
                if class.starts_with("http_")
                    || ["connect", "closed_before_response", "bad_response"].contains(&class)
                {
                    totals.http_failed += 1;
                }
            }
        }
    }
    let last = seconds.keys().next_back().copied().unwrap_or(0);
    let q = |h: &Latency, q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0);
    let timeseries = (0..=last)
        .map(|t| match seconds.get(&t) {
            Some((s, ttfb_h, chain_h)) => SecondSample {
                active_vus: 8,
                ttfb_p50: q(ttfb_h, 0.5),
                ttfb_p95: q(ttfb_h, 0.95),
                chain_p50: q(chain_h, 0.5),
                chain_p95: q(chain_h, 0.95),
                ..s.clone()
            },
            None => SecondSample {
                t,
                ..SecondSample::default()
            },
        })
        .collect();
    let names = ["vision", "rule", "answer", "reward"];
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        scenario: scenario(),
        environment: Environment {
            scan_bench_version: "0.1.0".into(),
            git_commit: Some("abc1234".into()),
            os: "linux x86_64".into(),
            kernel: Some("6.1.0".into()),
            cpu_model: Some("Test CPU".into()),
            cores: 2,
            started_at: started_at.into(),
            ended_at: started_at.into(),
            duration_s: end_s,
            time_scale: 0.02,
            target: "http://127.0.0.1:9".into(),
            embedded: true,
        },
        partial: false,
        totals,
        latencies: vec![
            LatencyMetric::new("ttfb", Some("sse_ttfb"), &ttfb),
            LatencyMetric::new("chain", Some("sse_total_duration"), &chain),
        ],
        stages: names
            .iter()
            .zip(&stages)
            .map(|(n, h)| LatencyMetric::new(n, None, h))
            .collect(),
        nulls: vec![NullCount {
            pointer: "/result/reward".into(),
            nulls,
            of: requests.iter().filter(|r| r.failed.is_none()).count() as u64,
        }],
        timeseries,
        server: None,
        thresholds: Vec::new(),
        health: None,
        goodput: None,
        tokens: None,
    };
    report.thresholds = reports::thresholds::evaluate(&report);
    report
}

/// The report of `requests` with a chain SLO of `slo_ms` (modelled): the good requests
/// counted by hand, as the collector judges them (completed, chain divided back by the time
/// scale at most the SLO), and thresholds judged again.
pub fn with_chain_slo(requests: &[Request], started_at: &str, slo_ms: u64) -> RunReport {
    let mut report = report(requests, started_at);
    let key: scenarios::MetricKey = "chain".parse().unwrap();
    report
        .scenario
        .slo
        .insert(key, std::time::Duration::from_millis(slo_ms));
    let scale = report.environment.time_scale;
    let good = requests
        .iter()
        .filter(|r| r.failed.is_none() && r.chain_ms() / scale <= slo_ms as f64)
        .count() as u64;
    report.goodput = Some(reports::Goodput::new(
        good,
        &report.totals,
        &report.environment,
    ));
    report.thresholds = reports::thresholds::evaluate(&report);
    report
}

/// A run of `n` requests with every stage latency multiplied by `slowdown`.
pub fn run(n: usize, seed: u64, slowdown: f64) -> RunReport {
    report(
        &requests(n, 4.0, seed, slowdown),
        "2025-12-01T10:00:00.000Z",
    )
}
