//! The open model's arrival times: k6's `ramping-arrival-rate` (a constant rate is one flat
//! stage), evenly spaced or as a Poisson process.
//!
//! The rate ramps linearly between stage ends, so the expected number of arrivals by time `t`
//! is the integral of the rate; arrival `k` is due when that integral reaches `k` (or, for
//! Poisson arrivals, a running sum of exponential draws). A time-scaled run compresses time:
//! durations are multiplied by `time_scale` and rates divided by it, so the same arrivals happen
//! faster against latencies that are just as much faster.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scenarios::ArrivalRate;

/// Arrival times from a rate profile.
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// `(seconds from start, requests per second)`; the first point is at 0.
    points: Vec<(f64, f64)>,
    poisson: Option<StdRng>,
    /// The running target of the integral for the next arrival.
    next_mass: f64,
}

impl Arrivals {
    /// The arrivals of `profile`, with durations multiplied and rates divided by `time_scale`
    /// and rates multiplied by `share` (a shard's part of the load).
    pub fn new(profile: &ArrivalRate, time_scale: f64, share: f64, seed: u64) -> Self {
        let rate = |r: f64| r * share / time_scale;
        let mut points = vec![(0.0, rate(profile.start_rate))];
        let mut t = 0.0;
        for stage in &profile.stages {
            t += stage.duration.as_secs_f64() * time_scale;
            points.push((t, rate(stage.target)));
        }
        let mut poisson = profile
            .poisson
            .then(|| StdRng::seed_from_u64(seed ^ 0xA441_7A15));
        let next_mass = match &mut poisson {
            Some(rng) => exponential(rng),
            None => 1.0,
        };
        Self {
            points,
            poisson,
            next_mass,
        }
    }

    /// When the profile ends.
    pub fn end(&self) -> Duration {
        Duration::from_secs_f64(self.points.last().map_or(0.0, |p| p.0))
    }

    /// The target rate (requests per second) at `t`.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        for pair in self.points.windows(2) {
            let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
            if t < t1 {
                return if t1 > t0 {
                    r0 + (r1 - r0) * (t - t0) / (t1 - t0)
                } else {
                    r1
                };
            }
        }
        0.0
    }

    /// The due time of the next arrival, or `None` when the profile has no more.
    pub fn next_due(&mut self) -> Option<Duration> {
        let due = self.time_of_mass(self.next_mass)?;
        self.next_mass += match &mut self.poisson {
            Some(rng) => exponential(rng),
            None => 1.0,
        };
        Some(Duration::from_secs_f64(due))
    }

    /// The time at which the integral of the rate reaches `mass`.
    fn time_of_mass(&self, mass: f64) -> Option<f64> {
        let mut before = 0.0;
        for pair in self.points.windows(2) {
            let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
            let span = t1 - t0;
            let area = (r0 + r1) / 2.0 * span;
            if before + area >= mass && area > 0.0 {
                // Solve r0*x + (r1-r0)/(2*span)*x^2 = need for x in [0, span].
                let need = mass - before;
                let a = (r1 - r0) / (2.0 * span);
                let x = if a.abs() < 1e-12 {
                    need / r0
                } else {
                    (-r0 + (r0 * r0 + 4.0 * a * need).max(0.0).sqrt()) / (2.0 * a)
                };
                return Some(t0 + x.clamp(0.0, span));
            }
            before += area;
        }
        None
    }
}

fn exponential(rng: &mut StdRng) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    -(1.0 - rng.random::<f64>()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenarios::RateStage;

    fn profile(start: f64, stages: &[(u64, f64)], poisson: bool) -> ArrivalRate {
        ArrivalRate {
            stages: stages
                .iter()
                .map(|&(ms, target)| RateStage {
                    duration: Duration::from_millis(ms),
                    target,
                })
                .collect(),
            start_rate: start,
            pre_allocated_vus: 10,
            max_vus: 100,
            poisson,
        }
    }

    fn all(mut a: Arrivals) -> Vec<f64> {
        std::iter::from_fn(|| a.next_due())
            .map(|d| d.as_secs_f64())
            .collect()
    }

    #[test]
    fn a_constant_rate_is_evenly_spaced() {
        let times = all(Arrivals::new(
            &profile(10.0, &[(1000, 10.0)], false),
            1.0,
            1.0,
            1,
        ));
        assert_eq!(times.len(), 10);
        for (k, t) in times.iter().enumerate() {
            assert!((t - (k as f64 + 1.0) / 10.0).abs() < 1e-9, "{k}: {t}");
        }
    }

    #[test]
    fn a_ramp_delivers_its_area() {
        // 0 -> 20/s over 2 s: 20 arrivals, denser at the end.
        let times = all(Arrivals::new(
            &profile(0.0, &[(2000, 20.0)], false),
            1.0,
            1.0,
            1,
        ));
        assert_eq!(times.len(), 20);
        assert!(times.windows(2).all(|w| w[1] > w[0]));
        assert!(
            (times[4] - (5.0f64 / 5.0).sqrt()).abs() < 1e-9,
            "{}",
            times[4]
        );
    }

    #[test]
    fn time_scale_compresses_and_shards_share() {
        let a = Arrivals::new(&profile(100.0, &[(10_000, 100.0)], false), 0.1, 0.25, 1);
        assert_eq!(a.end(), Duration::from_secs(1));
        assert!((a.rate_at(Duration::from_millis(500)) - 250.0).abs() < 1e-9);
        assert_eq!(all(a).len(), 250, "a quarter of 1,000 arrivals");
    }

    #[test]
    fn poisson_arrivals_keep_the_mean_rate() {
        let times = all(Arrivals::new(
            &profile(1000.0, &[(20_000, 1000.0)], true),
            1.0,
            1.0,
            7,
        ));
        let n = times.len() as f64;
        assert!((n - 20_000.0).abs() < 5.0 * 20_000f64.sqrt(), "{n}");
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.05,
            "exponential gaps: cv {}",
            var.sqrt() / mean
        );
    }
}
