//! How long the gate's bootstrap takes on histograms of growing runs:
//! `cargo bench -p reports --bench bootstrap`.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use reports::bootstrap::Bootstrap;
use reports::figure::Stat;
use reports::histogram::{Latency, new_latency};

/// `n` chain durations in µs, lognormal around 160 ms.
fn run(n: u64, seed: u64, factor: f64) -> Latency {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let chain = LogNormal::new((160_000.0f64).ln(), 0.3).unwrap();
    let mut h = new_latency();
    for _ in 0..n {
        h.record((chain.sample(&mut rng) * factor) as u64).unwrap();
    }
    h
}

fn main() {
    let boot = Bootstrap::default();
    println!(
        "{:>10} {:>8} {:>10} {:>10}  interval of a 5 % slowdown (p95)",
        "requests", "buckets", "mean", "p95"
    );
    for n in [100, 1_000, 10_000, 100_000, 1_000_000] {
        let (base, slow) = (run(n, 1, 1.0), run(n, 2, 1.05));
        let buckets = base.iter_recorded().count();
        let time = |stat| {
            let start = Instant::now();
            let interval = boot.difference(&base, &slow, stat, 1.0).unwrap();
            (start.elapsed(), interval)
        };
        let (mean, _) = time(Stat::Mean);
        let (p95, interval) = time(Stat::Percentile(95.0));
        println!(
            "{n:>10} {buckets:>8} {:>8.1}ms {:>8.1}ms  {:+.1}..{:+.1} ms",
            mean.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            interval.low,
            interval.high
        );
    }
}
