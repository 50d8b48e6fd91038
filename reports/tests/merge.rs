//! Merging shard reports: two halves of a run give the report of the whole.

mod common;

use common::{report, requests, run};
use reports::histogram::new_latency;
use reports::merge::{MergeError, merge};
use reports::{LatencyMetric, LoadgenHealth};
use scenarios::Timing;

const START: &str = "2025-12-01T10:00:00.000Z";

#[test]
fn merged_halves_equal_the_whole() {
    let all = requests(1001, 6.0, 7, 1.0);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, r) in all.iter().enumerate() {
        if i % 2 == 0 {
            a.push(r.clone())
        } else {
            b.push(r.clone())
        }
    }
    let whole = report(&all, START);
    let merged = merge(&[("a", &report(&a, START)), ("b", &report(&b, START))]).unwrap();

    for (m, w) in merged
        .latencies
        .iter()
        .chain(&merged.stages)
        .zip(whole.latencies.iter().chain(&whole.stages))
    {
        assert_eq!(m.name, w.name);
        assert_eq!(m.decode().unwrap(), w.decode().unwrap(), "{}", m.name);
        assert_eq!(m.summary, w.summary, "{}", m.name);
    }
    assert_eq!(merged.totals, whole.totals);
    assert_eq!(merged.nulls, whole.nulls);
    assert_eq!(merged.thresholds, whole.thresholds);
    assert_eq!(merged.environment.duration_s, whole.environment.duration_s);
    let counts = |r: &reports::RunReport| -> Vec<(u32, u64, u64, u32)> {
        r.timeseries
            .iter()
            .map(|s| (s.t, s.started, s.completed, s.active_vus))
            .collect()
    };
    let doubled_vus: Vec<_> = counts(&whole)
        .into_iter()
        .map(|(t, s, c, v)| (t, s, c, v * 2))
        .collect();
    assert_eq!(
        counts(&merged),
        doubled_vus,
        "two shards of 8 VUs each run 16"
    );
}

#[test]
fn merged_good_counts_add_up_exactly() {
    let mut all = requests(400, 4.0, 11, 1.0);
    for r in all.iter_mut().step_by(7) {
        r.failed = Some("timeout");
    }
    // Around the median chain (about 140 ms measured, 7 s modelled at scale 0.02): some of
    // the completed requests are good, some are not.
    let slo_ms = 7_000;
    let (a, b): (Vec<_>, Vec<_>) = all.iter().cloned().partition(|r| r.start_s < 2.5);
    let whole = common::with_chain_slo(&all, START, slo_ms);
    let merged = merge(&[
        ("a", &common::with_chain_slo(&a, START, slo_ms)),
        ("b", &common::with_chain_slo(&b, START, slo_ms)),
    ])
    .unwrap();
    let good = whole.goodput.as_ref().unwrap().good;
    assert!(0 < good && good < whole.totals.completed, "{good}");
    assert_eq!(merged.goodput, whole.goodput);
    let g = merged.goodput.unwrap();
    assert_eq!(g.good_fraction, Some(good as f64 / 400.0));
    let modelled_s = whole.environment.duration_s / 0.02;
    assert!((g.per_second.unwrap() - good as f64 / modelled_s).abs() < 1e-9);
}

#[test]
fn a_shard_that_started_later_is_shifted_by_its_offset() {
    let all = requests(600, 6.0, 3, 1.0);
    let (early, late): (Vec<_>, Vec<_>) = all.iter().cloned().partition(|r| r.start_s < 2.0);
    let late_own_clock: Vec<_> = late
        .iter()
        .map(|r| common::Request {
            start_s: r.start_s - 2.0,
            ..r.clone()
        })
        .collect();
    let merged = merge(&[
        ("early", &report(&early, START)),
        ("late", &report(&late_own_clock, "2025-12-01T10:00:02.000Z")),
    ])
    .unwrap();
    let whole = report(&all, START);
    let started =
        |r: &reports::RunReport| r.timeseries.iter().map(|s| s.started).collect::<Vec<_>>();
    assert_eq!(started(&merged), started(&whole));
    assert_eq!(merged.environment.started_at, START);
    assert!((merged.environment.duration_s - whole.environment.duration_s).abs() < 1e-9);
    assert_eq!(merged.latencies[1].summary, whole.latencies[1].summary);
}

#[test]
fn thresholds_are_judged_on_the_merged_figures() {
    let ok = run(200, 1, 1.0);
    let mut failing = requests(200, 4.0, 2, 1.0);
    for r in failing.iter_mut().take(3) {
        r.failed = Some("http_503");
    }
    let bad = report(&failing, START);
    assert!(
        !reports::thresholds::all_passed(&bad.thresholds),
        "1.5 % failed > 1 %"
    );
    let merged = merge(&[("ok", &ok), ("bad", &bad)]).unwrap();
    let failed = merged
        .thresholds
        .iter()
        .find(|t| t.metric == "http_req_failed")
        .unwrap();
    assert_eq!(failed.observed, Some(3.0 / 400.0));
    assert!(failed.passed, "0.75 % over both shards holds");
}

#[test]
fn shards_of_other_scenarios_are_refused() {
    let a = run(50, 1, 1.0);
    let mut renamed = run(50, 2, 1.0);
    renamed.scenario.name = "eco2-vu10".into();
    let err = merge(&[("a.json", &a), ("b.json", &renamed)]).unwrap_err();
    assert!(matches!(err, MergeError::Scenario { .. }));
    assert_eq!(
        err.to_string(),
        "b.json ran scenario `eco2-vu10` but a.json ran `ci-smoke`: only shards of one scenario merge"
    );

    let mut other_load = run(50, 2, 1.0);
    other_load.scenario.load.stages[0].target = 9;
    let err = merge(&[("a.json", &a), ("c.json", &other_load)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("c.json ran scenario `ci-smoke` with a different `load.stages.target`"),
        "{err}"
    );

    let mut newer = run(50, 2, 1.0);
    newer.schema_version = 2;
    let err = merge(&[("a.json", &a), ("d.json", &newer)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("d.json has report schema version 2"), "{err}");
    assert!(matches!(merge(&[]), Err(MergeError::Empty)));
}

#[test]
fn health_merges_as_the_worst_shard_with_the_cpu_of_all() {
    let all = requests(400, 4.0, 5, 1.0);
    let (first, second) = all.split_at(200);
    let (mut a, mut b) = (report(first, START), report(second, START));
    // Scheduling lag: shard a alone has a p99 of 50 ms, the whole run one of 1 ms.
    for (shard, late) in [(&mut a, 2), (&mut b, 0)] {
        let mut lag = new_latency();
        lag.record_n(1_000, 100 - late).unwrap();
        if late > 0 {
            lag.record_n(50_000, late).unwrap();
        }
        shard
            .latencies
            .push(LatencyMetric::new("scheduling_lag", None, &lag));
        for s in &mut shard.timeseries {
            s.started_actual = s.started;
        }
    }
    a.health = Some(LoadgenHealth::new(3.0, 10.0, Some(1.0), &a));
    b.health = Some(LoadgenHealth::new(25.0, 10.0, Some(2.0), &b));
    let shard_p99 = a.health.as_ref().unwrap().scheduling_lag_p99_ms.unwrap();
    assert!((50.0..50.1).contains(&shard_p99), "{shard_p99}");

    let merged = merge(&[("a", &a), ("b", &b)]).unwrap();
    let h = merged.health.clone().unwrap();
    assert_eq!(
        (
            h.max_timer_lag_ms,
            h.lag_bound_ms,
            h.cpu_seconds,
            h.overloaded
        ),
        (25.0, 10.0, Some(3.0), true)
    );
    assert!(h.cpu_includes_embedded_stack);
    assert_eq!(merged.totals.completed, 400);
    assert_eq!(h.cpu_per_completed_us, Some(3.0e6 / 400.0));
    let p99 = merged.latency(Timing::SchedulingLag).unwrap().summary.p99;
    assert_eq!(h.scheduling_lag_p99_ms, Some(p99));
    assert!(
        p99 < 2.0,
        "from the merged histogram, not the worst shard: {p99}"
    );
    let started: u64 = merged.timeseries.iter().map(|s| s.started).sum();
    let actual: u64 = merged.timeseries.iter().map(|s| s.started_actual).sum();
    assert_eq!((started, actual), (400, 400));

    // A shard that could not read its CPU leaves the sum unknown, not short.
    b.health.as_mut().unwrap().cpu_seconds = None;
    let h = merge(&[("a", &a), ("b", &b)]).unwrap().health.unwrap();
    assert_eq!((h.cpu_seconds, h.cpu_per_completed_us), (None, None));
    assert!(h.overloaded, "still overloaded: shard b was");

    // Shards written before the health section was kept have none to merge.
    a.health = None;
    b.health = None;
    assert_eq!(merge(&[("a", &a), ("b", &b)]).unwrap().health, None);
}
