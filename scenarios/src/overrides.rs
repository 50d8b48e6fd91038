//! Command-line overrides of scenario fields (`--vus`, `--duration`, `--time-scale`, ...).

use std::time::Duration;

use crate::error::ScenarioError;
use crate::scenario::{LoadModel, Scenario};

/// Values given on the command line that replace the scenario's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Run against this base URL instead of the scenario's target (or the embedded stack).
    pub target: Option<String>,
    /// Scrape the target's metrics here instead of `{target}/metrics`.
    pub target_metrics: Option<String>,
    /// Rescale the closed model's stage targets so the peak is this many virtual users,
    /// keeping the profile's shape (`eco2-vu34 --vus 10` ramps to 10, holds, ramps down).
    pub vus: Option<u32>,
    /// Rescale the stage durations so the profile lasts this long in modelled time (as the
    /// stage durations are written, before `time_scale`), keeping their proportions.
    pub duration: Option<Duration>,
    /// Replace the scenario's time scale.
    pub time_scale: Option<f64>,
    /// Replace the scenario's seed.
    pub seed: Option<u64>,
}

impl Overrides {
    /// Applies every override, checking each value against what its flag accepts.
    pub fn apply(&self, scenario: &mut Scenario) -> Result<(), ScenarioError> {
        if let Some(target) = &self.target {
            scenario.target = Some(target.clone());
        }
        if let Some(metrics) = &self.target_metrics {
            scenario.target_metrics = Some(metrics.clone());
        }
        if let Some(seed) = self.seed {
            scenario.seed = seed;
        }
        if let Some(scale) = self.time_scale {
            if !(scale.is_finite() && scale > 0.0) {
                return Err(ScenarioError::Override {
                    flag: "--time-scale",
                    expected: format!("a number greater than 0, not {scale}"),
                });
            }
            scenario.time_scale = scale;
        }
        if let Some(vus) = self.vus {
            let LoadModel::Closed { .. } = scenario.load.model() else {
                return Err(ScenarioError::Override {
                    flag: "--vus",
                    expected: "a closed-model scenario; this one has an arrival rate \
                               (set load.arrival.max_vus in a scenario file instead)"
                        .into(),
                });
            };
            if vus == 0 {
                return Err(ScenarioError::Override {
                    flag: "--vus",
                    expected: "at least 1".into(),
                });
            }
            scenario.load.scale_peak_vus(vus);
        }
        if let Some(duration) = self.duration {
            let total = scenario.load.duration();
            if duration.is_zero() || total.is_zero() {
                return Err(ScenarioError::Override {
                    flag: "--duration",
                    expected: "a duration above 0, e.g. 30s".into(),
                });
            }
            let rescale = |d: &mut Duration| {
                let nanos = d.as_nanos() * duration.as_nanos() / total.as_nanos();
                *d = Duration::from_nanos(nanos as u64);
            };
            scenario
                .load
                .stages
                .iter_mut()
                .for_each(|s| rescale(&mut s.duration));
            if let Some(arrival) = &mut scenario.load.arrival {
                arrival
                    .stages
                    .iter_mut()
                    .for_each(|s| rescale(&mut s.duration));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn eco2() -> Scenario {
        catalog::find("eco2-vu34")
            .unwrap()
            .source()
            .unwrap()
            .scenario()
            .clone()
    }

    #[test]
    fn vus_keeps_the_shape() {
        let mut s = eco2();
        Overrides {
            vus: Some(10),
            ..Default::default()
        }
        .apply(&mut s)
        .unwrap();
        let targets: Vec<_> = s.load.stages.iter().map(|s| s.target).collect();
        assert_eq!(targets, [10, 10, 0]);
        assert_eq!(s.load.peak_vus(), 10);
    }

    #[test]
    fn duration_keeps_the_proportions() {
        let mut s = eco2();
        Overrides {
            duration: Some(Duration::from_secs(18)),
            ..Default::default()
        }
        .apply(&mut s)
        .unwrap();
        let secs: Vec<_> = s.load.stages.iter().map(|s| s.duration.as_secs()).collect();
        assert_eq!(secs, [6, 9, 3]);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let mut s = eco2();
        let err = Overrides {
            time_scale: Some(0.0),
            ..Default::default()
        }
        .apply(&mut s);
        assert!(err.unwrap_err().to_string().starts_with("--time-scale"));
        let err = Overrides {
            vus: Some(0),
            ..Default::default()
        }
        .apply(&mut s);
        assert!(err.unwrap_err().to_string().starts_with("--vus"));
    }
}
