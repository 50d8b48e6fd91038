//! The closed model's virtual-user schedule: k6 `stages` as a piecewise-linear target.
//!
//! goose's own test plan counts whole seconds, which a time-scaled profile (60 s x 0.02 =
//! 1.2 s) cannot use; so goose keeps a pool of the peak number of users and this schedule
//! decides, to the millisecond, which of them may start an iteration.

use std::time::Duration;

use scenarios::VuStage;

/// Virtual users over time: straight lines between stage ends, as k6's `ramping-vus`.
#[derive(Debug, Clone, PartialEq)]
pub struct VuSchedule {
    /// `(seconds from start, target)`; the first point is at 0.
    points: Vec<(f64, f64)>,
}

impl VuSchedule {
    /// The schedule of `stages` from `start_vus`, every duration multiplied by `time_scale`.
    pub fn closed(start_vus: u32, stages: &[VuStage], time_scale: f64) -> Self {
        let mut points = vec![(0.0, f64::from(start_vus))];
        let mut t = 0.0;
        for stage in stages {
            t += stage.duration.as_secs_f64() * time_scale;
            points.push((t, f64::from(stage.target)));
        }
        Self { points }
    }

    /// When the last stage ends.
    pub fn end(&self) -> Duration {
        Duration::from_secs_f64(self.points.last().map_or(0.0, |p| p.0))
    }

    /// Most virtual users at any time.
    pub fn peak(&self) -> u32 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max) as u32
    }

    fn target_at(&self, t: f64) -> f64 {
        let mut previous = self.points[0];
        for &(pt, pv) in &self.points[1..] {
            if t < pt {
                let span = pt - previous.0;
                return if span <= 0.0 {
                    pv
                } else {
                    previous.1 + (pv - previous.1) * (t - previous.0) / span
                };
            }
            previous = (pt, pv);
        }
        // After the end the profile is over: no virtual user is active.
        if t >= previous.0 { 0.0 } else { previous.1 }
    }

    /// Virtual users that should be active `elapsed` after the start.
    pub fn active_at(&self, elapsed: Duration) -> u32 {
        // A small epsilon so that exact stage ends (34.0 - 1e-12) count in full.
        (self.target_at(elapsed.as_secs_f64()) + 1e-9).floor() as u32
    }

    /// The first time at or after `from` when at least `level` users are active, if ever
    /// before the end.
    pub fn next_reaching(&self, level: u32, from: Duration) -> Option<Duration> {
        let level = f64::from(level);
        let from = from.as_secs_f64();
        for pair in self.points.windows(2) {
            let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
            if t1 <= from {
                continue;
            }
            let a = t0.max(from);
            let va = if t1 > t0 {
                v0 + (v1 - v0) * (a - t0) / (t1 - t0)
            } else {
                v1
            };
            if va + 1e-9 >= level {
                return Some(Duration::from_secs_f64(a));
            }
            if v1 + 1e-9 >= level && v1 > va {
                let t = a + (level - va) / (v1 - va) * (t1 - a);
                return Some(Duration::from_secs_f64(t.min(t1)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_profile(scale: f64) -> VuSchedule {
        let stage = |secs, target| VuStage {
            duration: Duration::from_secs(secs),
            target,
        };
        VuSchedule::closed(0, &[stage(60, 34), stage(90, 34), stage(30, 0)], scale)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn follows_the_stages() {
        let s = seed_profile(1.0);
        assert_eq!(s.end(), secs(180.0));
        assert_eq!(s.peak(), 34);
        assert_eq!(s.active_at(secs(0.0)), 0);
        assert_eq!(s.active_at(secs(30.0)), 17);
        assert_eq!(s.active_at(secs(60.0)), 34);
        assert_eq!(s.active_at(secs(120.0)), 34);
        assert_eq!(s.active_at(secs(165.0)), 17);
        assert_eq!(s.active_at(secs(180.0)), 0);
        assert_eq!(s.active_at(secs(999.0)), 0);
    }

    #[test]
    fn time_scale_shrinks_every_stage() {
        let s = seed_profile(0.02);
        assert_eq!(s.end(), secs(3.6));
        assert_eq!(s.active_at(secs(0.6)), 17);
    }

    #[test]
    fn next_reaching_inverts_the_ramp() {
        let s = seed_profile(1.0);
        let t = s.next_reaching(17, Duration::ZERO).unwrap();
        assert!((t.as_secs_f64() - 30.0).abs() < 1e-6, "{t:?}");
        assert_eq!(
            s.next_reaching(10, secs(100.0)),
            Some(secs(100.0)),
            "already there"
        );
        assert_eq!(s.next_reaching(35, Duration::ZERO), None, "never that many");
        assert_eq!(s.next_reaching(20, secs(170.0)), None, "ramping down");
        for level in 1..=34 {
            let t = s.next_reaching(level, Duration::ZERO).unwrap();
            assert_eq!(s.active_at(t), level, "level {level} at {t:?}");
        }
    }

    #[test]
    fn an_instant_jump_is_a_step() {
        let stage = |ms, target| VuStage {
            duration: Duration::from_millis(ms),
            target,
        };
        let s = VuSchedule::closed(0, &[stage(0, 5), stage(1000, 5)], 1.0);
        assert_eq!(s.active_at(Duration::ZERO), 5);
        assert_eq!(s.next_reaching(5, Duration::ZERO), Some(Duration::ZERO));
    }
}
