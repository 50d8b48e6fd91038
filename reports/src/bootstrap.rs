//! Bootstrap confidence intervals of the difference of a statistic between two runs,
//! resampled from their serialized histograms.
//!
//! Each resample draws as many values as the run recorded from the run's own distribution (a
//! multinomial draw over the histogram's buckets, done as one binomial draw per bucket, so the
//! cost depends on the buckets, not on the number of requests), computes the statistic on
//! both runs and keeps the difference. The interval is the percentile interval of those
//! differences. The random draws are seeded: the same two reports always get the same
//! interval, so a gate's verdict is reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use serde::Serialize;

use crate::figure::Stat;
use crate::histogram::Latency;

/// An interval of a difference, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// How to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Coverage of the interval, e.g. 0.95.
    pub confidence: f64,
    /// Number of resamples.
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            confidence: 0.95,
            resamples: 2000,
            seed: 0x5ca4_be4c,
        }
    }
}

impl Bootstrap {
    /// The interval of `stat(candidate) * scale - stat(baseline)`, in milliseconds; `None`
    /// when either histogram is empty. `scale` brings the candidate to the baseline's time
    /// scale (1 when both ran at the same one).
    pub fn difference(
        &self,
        baseline: &Latency,
        candidate: &Latency,
        stat: Stat,
        scale: f64,
    ) -> Option<Interval> {
        self.differences(baseline, candidate, &[stat], scale)
            .map(|intervals| intervals[0])
    }

    /// The intervals of several statistics of the same two histograms, one per statistic,
    /// all from the same resamples (the resampling is the costly part).
    pub fn differences(
        &self,
        baseline: &Latency,
        candidate: &Latency,
        stats: &[Stat],
        scale: f64,
    ) -> Option<Vec<Interval>> {
        if baseline.is_empty() || candidate.is_empty() || self.resamples == 0 {
            return None;
        }
        let (base, cand) = (Buckets::of(baseline), Buckets::of(candidate));
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let (mut base_counts, mut cand_counts) = (vec![0; base.len()], vec![0; cand.len()]);
        let mut differences = vec![Vec::with_capacity(self.resamples); stats.len()];
        for _ in 0..self.resamples {
            base.resample(&mut rng, &mut base_counts);
            cand.resample(&mut rng, &mut cand_counts);
            for (stat, out) in stats.iter().zip(&mut differences) {
                out.push(cand.stat(&cand_counts, *stat) * scale - base.stat(&base_counts, *stat));
            }
        }
        let tail = (1.0 - self.confidence) / 2.0;
        Some(
            differences
                .into_iter()
                .map(|mut d| {
                    d.sort_by(f64::total_cmp);
                    let at =
                        |q: f64| d[((q * (d.len() - 1) as f64).round() as usize).min(d.len() - 1)];
                    Interval {
                        low: at(tail),
                        high: at(1.0 - tail),
                    }
                })
                .collect(),
        )
    }
}

/// A histogram's non-empty buckets: their values (as hdrhistogram reports them) and counts.
struct Buckets {
    /// Lowest equivalent value of each bucket, ms (what the minimum reads).
    low: Vec<f64>,
    /// Median equivalent value, ms (what the mean weighs).
    mid: Vec<f64>,
    /// Highest equivalent value, ms (what a percentile reads).
    high: Vec<f64>,
    counts: Vec<u64>,
    /// The bucket of each recorded value, when there are few enough to draw them one by one.
    owners: Vec<u32>,
    total: u64,
}

/// Up to this many values per bucket, drawing values one by one beats a binomial per bucket.
const DIRECT_DRAWS_PER_BUCKET: u64 = 8;

impl Buckets {
    fn of(h: &Latency) -> Self {
        let mut b = Buckets {
            low: Vec::new(),
            mid: Vec::new(),
            high: Vec::new(),
            counts: Vec::new(),
            owners: Vec::new(),
            total: h.len(),
        };
        for v in h.iter_recorded() {
            let value = v.value_iterated_to();
            b.low.push(h.lowest_equivalent(value) as f64 / 1000.0);
            b.mid.push(h.median_equivalent(value) as f64 / 1000.0);
            b.high.push(h.highest_equivalent(value) as f64 / 1000.0);
            b.counts.push(v.count_at_value());
        }
        if b.total <= DIRECT_DRAWS_PER_BUCKET * b.counts.len() as u64 {
            for (i, &c) in b.counts.iter().enumerate() {
                b.owners.extend(std::iter::repeat_n(i as u32, c as usize));
            }
        }
        b
    }

    fn len(&self) -> usize {
        self.counts.len()
    }

    /// A multinomial draw of `total` values over the buckets: `total` uniform draws among the
    /// recorded values when they are few, else one binomial draw per bucket (conditional on
    /// the buckets before it), which costs the same however many values there are.
    fn resample(&self, rng: &mut ChaCha8Rng, out: &mut [u64]) {
        if !self.owners.is_empty() {
            out.fill(0);
            for _ in 0..self.total {
                out[self.owners[rng.random_range(0..self.owners.len())] as usize] += 1;
            }
            return;
        }
        let (mut values_left, mut mass_left) = (self.total, self.total);
        for (slot, &count) in out.iter_mut().zip(&self.counts) {
            let drawn = if values_left == 0 {
                0
            } else if count >= mass_left {
                values_left
            } else {
                let p = count as f64 / mass_left as f64;
                Binomial::new(values_left, p)
                    .expect("0 <= p <= 1")
                    .sample(rng)
            };
            *slot = drawn;
            values_left -= drawn;
            mass_left -= count;
        }
    }

    /// The statistic of the buckets with these counts, as `Stat::of` reads a histogram.
    fn stat(&self, counts: &[u64], stat: Stat) -> f64 {
        let n: u64 = counts.iter().sum();
        match stat {
            Stat::Mean => {
                counts
                    .iter()
                    .zip(&self.mid)
                    .map(|(&c, &v)| c as f64 * v)
                    .sum::<f64>()
                    / n as f64
            }
            Stat::Percentile(p) => {
                let q = p / 100.0;
                let rank = ((q * n as f64).ceil() as u64).max(1);
                let mut seen = 0;
                for (i, &c) in counts.iter().enumerate() {
                    seen += c;
                    if seen >= rank {
                        return if q == 0.0 { self.low[i] } else { self.high[i] };
                    }
                }
                *self
                    .high
                    .last()
                    .expect("a non-empty histogram has a bucket")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_latency;

    fn histogram(values: impl IntoIterator<Item = u64>) -> Latency {
        let mut h = new_latency();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    /// A deterministic spread of values around `center` microseconds.
    fn spread(center: u64, n: u64) -> Latency {
        histogram((0..n).map(|i| center / 2 + (i * 7919 % n) * center / n))
    }

    #[test]
    fn bucket_statistics_match_the_histogram() {
        let h = spread(100_000, 1000);
        let b = Buckets::of(&h);
        for stat in [
            Stat::Mean,
            Stat::Percentile(0.0),
            Stat::Percentile(50.0),
            Stat::Percentile(99.9),
            Stat::Percentile(100.0),
        ] {
            let expected = stat.of(&h).unwrap();
            assert!(
                (b.stat(&b.counts, stat) - expected).abs() < 1e-9,
                "{stat}: {} vs {expected}",
                b.stat(&b.counts, stat)
            );
        }
    }

    #[test]
    fn a_resample_keeps_the_count() {
        let h = spread(50_000, 777);
        let b = Buckets::of(&h);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = vec![0; b.len()];
        for _ in 0..10 {
            b.resample(&mut rng, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 777);
        }
    }

    #[test]
    fn both_ways_of_resampling_agree() {
        // Many values per bucket: the binomial way; the same spread thinly: one by one.
        let coarse = histogram((0..20_000u64).map(|i| 1_000 + (i * 7919 % 50) * 1_000));
        let (a, mut b) = (Buckets::of(&coarse), Buckets::of(&coarse));
        assert!(a.owners.is_empty());
        b.owners = (0..b.len())
            .flat_map(|i| std::iter::repeat_n(i as u32, b.counts[i] as usize))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut out = vec![0; a.len()];
        let mut spread = |buckets: &Buckets| {
            let means: Vec<f64> = (0..400)
                .map(|_| {
                    buckets.resample(&mut rng, &mut out);
                    buckets.stat(&out, Stat::Mean)
                })
                .collect();
            let mean = means.iter().sum::<f64>() / means.len() as f64;
            let sd =
                (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / means.len() as f64).sqrt();
            (mean, sd)
        };
        let ((mean_a, sd_a), (mean_b, sd_b)) = (spread(&a), spread(&b));
        let truth = Stat::Mean.of(&coarse).unwrap();
        assert!(
            (mean_a - truth).abs() < 0.05 && (mean_b - truth).abs() < 0.05,
            "{mean_a} {mean_b} {truth}"
        );
        assert!((sd_a / sd_b - 1.0).abs() < 0.25, "{sd_a} vs {sd_b}");
    }

    #[test]
    fn several_statistics_share_the_resamples() {
        let (a, b) = (spread(100_000, 400), spread(104_000, 400));
        let boot = Bootstrap::default();
        let stats = [Stat::Mean, Stat::Percentile(50.0), Stat::Percentile(95.0)];
        let together = boot.differences(&a, &b, &stats, 1.0).unwrap();
        for (stat, interval) in stats.iter().zip(together) {
            assert_eq!(
                boot.difference(&a, &b, *stat, 1.0),
                Some(interval),
                "{stat}"
            );
        }
    }

    #[test]
    fn identical_runs_give_an_interval_around_zero() {
        let h = spread(100_000, 500);
        let i = Bootstrap::default()
            .difference(&h, &h, Stat::Percentile(95.0), 1.0)
            .unwrap();
        assert!(i.low < 0.0 && i.high > 0.0, "{i:?}");
    }

    #[test]
    fn a_clear_shift_gives_an_interval_above_zero_around_the_shift() {
        let (base, slow) = (spread(100_000, 2000), spread(120_000, 2000));
        let i = Bootstrap::default()
            .difference(&base, &slow, Stat::Mean, 1.0)
            .unwrap();
        let shift = Stat::Mean.of(&slow).unwrap() - Stat::Mean.of(&base).unwrap();
        assert!(
            i.low > 0.0 && i.low < shift && shift < i.high,
            "{i:?} around {shift}"
        );
    }

    #[test]
    fn few_samples_give_a_wide_interval() {
        let (base, slow) = (spread(100_000, 20), spread(110_000, 20));
        let i = Bootstrap::default()
            .difference(&base, &slow, Stat::Percentile(95.0), 1.0)
            .unwrap();
        assert!(
            i.low < 0.0,
            "20 samples cannot show a 10 % shift of p95: {i:?}"
        );
    }

    #[test]
    fn same_inputs_same_interval_and_empty_gives_none() {
        let (a, b) = (spread(100_000, 300), spread(105_000, 300));
        let boot = Bootstrap::default();
        assert_eq!(
            boot.difference(&a, &b, Stat::Percentile(50.0), 1.0),
            boot.difference(&a, &b, Stat::Percentile(50.0), 1.0)
        );
        assert_eq!(boot.difference(&a, &new_latency(), Stat::Mean, 1.0), None);
    }
}
