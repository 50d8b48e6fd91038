//! Sweeps: one scenario run at several loads. A sweep point is the resolved scenario with its
//! profile rescaled so that its peak is the point's load, in the unit of the scenario's load
//! model: virtual users for the closed model, requests per second for the open one. Every
//! stage keeps its share of the peak, so the profile keeps its shape (a ramp to 34 VUs, a
//! hold and a ramp down becomes a ramp to 10, a hold and a ramp down).

use std::fmt;

use crate::error::ScenarioError;
use crate::scenario::{Load, LoadModel, Scenario};

/// The load of one sweep point: the peak of the scenario's profile.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum LoadPoint {
    /// Closed model: the peak of virtual users.
    Vus(u32),
    /// Open model: the peak arrival rate, requests per second of modelled time.
    Rate(f64),
}

/// The load models a sweep can vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadUnit {
    /// Virtual users (`--vus`).
    Vus,
    /// Requests per second (`--rates`).
    Rate,
}

impl LoadUnit {
    /// The flag that lists loads of this unit.
    pub fn flag(self) -> &'static str {
        match self {
            LoadUnit::Vus => "--vus",
            LoadUnit::Rate => "--rates",
        }
    }

    /// How the unit reads after a number (`34 VUs`, `0.5 req/s`).
    pub fn symbol(self) -> &'static str {
        match self {
            LoadUnit::Vus => "VUs",
            LoadUnit::Rate => "req/s",
        }
    }

    /// The unit the scenario's load model varies.
    pub fn of(scenario: &Scenario) -> Self {
        match scenario.load.model() {
            LoadModel::Closed { .. } => LoadUnit::Vus,
            LoadModel::Open(_) => LoadUnit::Rate,
        }
    }

    /// Parses a list of loads given to this unit's flag: comma-separated, each above 0 (whole
    /// numbers for VUs), strictly increasing, so that every point is run once and the table
    /// reads from low to high load.
    ///
    /// ```
    /// use scenarios::{LoadPoint, LoadUnit};
    /// assert_eq!(LoadUnit::Vus.parse_list("10, 20,34").unwrap(),
    ///            [LoadPoint::Vus(10), LoadPoint::Vus(20), LoadPoint::Vus(34)]);
    /// let err = LoadUnit::Rate.parse_list("1,0.5").unwrap_err().to_string();
    /// assert!(err.starts_with("--rates: "), "{err}");
    /// ```
    pub fn parse_list(self, text: &str) -> Result<Vec<LoadPoint>, ScenarioError> {
        let bad = |expected: String| ScenarioError::Override {
            flag: self.flag(),
            expected,
        };
        let mut loads: Vec<LoadPoint> = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(bad(format!(
                    "a comma-separated list of loads, e.g. {}; `{text}` has an empty item",
                    self.example()
                )));
            }
            let load = self.parse_one(item).map_err(|e| ScenarioError::Override {
                flag: self.flag(),
                expected: e,
            })?;
            if let Some(previous) = loads.last()
                && load.value() <= previous.value()
            {
                return Err(bad(format!(
                    "loads in increasing order, each once; {item} follows {}",
                    previous.value()
                )));
            }
            loads.push(load);
        }
        Ok(loads)
    }

    /// Parses one load of this unit (`--start`): above 0, a whole number for VUs.
    pub fn parse_one(self, text: &str) -> Result<LoadPoint, String> {
        match self {
            LoadUnit::Vus => match text.trim().parse::<u32>() {
                Ok(0) | Err(_) => Err(format!(
                    "whole numbers of virtual users of at least 1, not `{text}`"
                )),
                Ok(n) => Ok(LoadPoint::Vus(n)),
            },
            LoadUnit::Rate => match text.trim().parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 => Ok(LoadPoint::Rate(r)),
                _ => Err(format!(
                    "rates in requests per second above 0, not `{text}`"
                )),
            },
        }
    }

    fn example(self) -> &'static str {
        match self {
            LoadUnit::Vus => "10,20,34,50",
            LoadUnit::Rate => "0.5,1,2,4",
        }
    }
}

impl LoadPoint {
    /// The load as a number in its unit.
    pub fn value(self) -> f64 {
        match self {
            LoadPoint::Vus(n) => f64::from(n),
            LoadPoint::Rate(r) => r,
        }
    }

    /// Its unit.
    pub fn unit(self) -> LoadUnit {
        match self {
            LoadPoint::Vus(_) => LoadUnit::Vus,
            LoadPoint::Rate(_) => LoadUnit::Rate,
        }
    }

    /// The name of the point's report directory: `vus-34`, `rate-0.5`.
    pub fn label(self) -> String {
        match self {
            LoadPoint::Vus(n) => format!("vus-{n}"),
            LoadPoint::Rate(r) => format!("rate-{r}"),
        }
    }

    /// The load `factor` times this one; virtual users round to the nearest whole user, at
    /// least 1.
    pub fn times(self, factor: f64) -> LoadPoint {
        match self {
            LoadPoint::Vus(n) => LoadPoint::Vus((f64::from(n) * factor).round().max(1.0) as u32),
            LoadPoint::Rate(r) => LoadPoint::Rate(r * factor),
        }
    }

    /// The load halfway between this one and `other`; `None` when no load of the unit lies
    /// strictly between them (adjacent numbers of VUs).
    pub fn midpoint(self, other: LoadPoint) -> Option<LoadPoint> {
        let mid = match (self, other) {
            (LoadPoint::Vus(a), LoadPoint::Vus(b)) => LoadPoint::Vus(a.midpoint(b)),
            _ => LoadPoint::Rate((self.value() + other.value()) / 2.0),
        };
        (mid != self && mid != other).then_some(mid)
    }
}

impl fmt::Display for LoadPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadPoint::Vus(1) => write!(f, "1 VU"),
            LoadPoint::Vus(n) => write!(f, "{n} VUs"),
            LoadPoint::Rate(r) => write!(f, "{r} req/s"),
        }
    }
}

impl Load {
    /// Rescales the closed model's targets (and `start_vus`) so that the peak is `vus`,
    /// keeping the profile's shape: each target keeps its share of the peak, rounded to the
    /// nearest user, and a stage with users keeps at least one.
    pub(crate) fn scale_peak_vus(&mut self, vus: u32) {
        let peak = u64::from(self.peak_vus().max(1));
        let rescale = |t: u32| {
            let scaled = (u64::from(t) * u64::from(vus) + peak / 2) / peak;
            if t > 0 { scaled.max(1) as u32 } else { 0 }
        };
        self.start_vus = rescale(self.start_vus);
        for stage in &mut self.stages {
            stage.target = rescale(stage.target);
        }
    }

    /// The open model's highest rate (start or stage target), requests per second.
    pub fn peak_rate(&self) -> Option<f64> {
        let LoadModel::Open(arrival) = self.model() else {
            return None;
        };
        Some(
            arrival
                .stages
                .iter()
                .map(|s| s.target)
                .fold(arrival.start_rate, f64::max),
        )
    }
}

impl Scenario {
    /// The peak load of the scenario's profile, in its model's unit.
    pub fn peak_load(&self) -> LoadPoint {
        match self.load.peak_rate() {
            Some(rate) => LoadPoint::Rate(rate),
            None => LoadPoint::Vus(self.load.peak_vus()),
        }
    }

    /// Checks that loads of `unit` can be swept on this scenario: the unit of its load model,
    /// and a profile with a peak above 0 to scale from.
    pub fn check_sweepable(&self, unit: LoadUnit) -> Result<(), ScenarioError> {
        let mismatch = |expected: &str| ScenarioError::Override {
            flag: unit.flag(),
            expected: expected.into(),
        };
        match (unit, LoadUnit::of(self)) {
            (LoadUnit::Vus, LoadUnit::Rate) => Err(mismatch(
                "a closed-model scenario (virtual users); this one has an arrival rate \
                 ([load.arrival]): sweep it with --rates",
            )),
            (LoadUnit::Rate, LoadUnit::Vus) => Err(mismatch(
                "an open-model scenario ([load.arrival]); this one has virtual users: sweep \
                 it with --vus",
            )),
            _ if self.peak_load().value() <= 0.0 => Err(mismatch(
                "a profile whose peak load is above 0, to scale the points from",
            )),
            _ => Ok(()),
        }
    }

    /// The scenario at a sweep point: its profile rescaled so that the peak is `load` (every
    /// stage target, and the start, times load / peak), validated again.
    pub fn at_load(&self, load: LoadPoint) -> Result<Scenario, ScenarioError> {
        self.check_sweepable(load.unit())?;
        let mut scenario = self.clone();
        match load {
            LoadPoint::Vus(vus) => scenario.load.scale_peak_vus(vus),
            LoadPoint::Rate(rate) => {
                let peak = self.load.peak_rate().unwrap_or(1.0);
                if let Some(arrival) = &mut scenario.load.arrival {
                    let factor = rate / peak;
                    arrival.start_rate *= factor;
                    for stage in &mut arrival.stages {
                        stage.target *= factor;
                    }
                }
            }
        }
        scenario
            .validate()
            .map_err(|invalid| ScenarioError::Override {
                flag: load.unit().flag(),
                expected: format!(
                    "a load the scenario can run at {load}: {}",
                    invalid.message()
                ),
            })?;
        Ok(scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Overrides, catalog};

    fn resolved(name: &str) -> Scenario {
        crate::open(name)
            .unwrap()
            .resolve(&Overrides::default())
            .unwrap()
    }

    fn open_model() -> Scenario {
        let text = r#"
name = "open"
[load.arrival]
start_rate = 1.0
stages = [{ duration = "10s", target = 4.0 }, { duration = "10s", target = 2.0 }]
"#;
        crate::ScenarioSource::parse(text, "open.toml")
            .unwrap()
            .resolve(&Overrides::default())
            .unwrap()
    }

    #[test]
    fn lists_parse_in_increasing_order() {
        assert_eq!(
            LoadUnit::Rate.parse_list("0.5,1,2,4").unwrap(),
            [0.5, 1.0, 2.0, 4.0].map(LoadPoint::Rate)
        );
        for (unit, text, says) in [
            (LoadUnit::Vus, "", "empty item"),
            (LoadUnit::Vus, "10,,20", "empty item"),
            (LoadUnit::Vus, "0,10", "at least 1"),
            (LoadUnit::Vus, "ten", "not `ten`"),
            (LoadUnit::Vus, "2.5", "whole numbers"),
            (LoadUnit::Vus, "20,10", "increasing"),
            (LoadUnit::Vus, "10,10", "each once"),
            (LoadUnit::Rate, "0", "above 0"),
            (LoadUnit::Rate, "1,NaN", "above 0"),
        ] {
            let err = unit.parse_list(text).unwrap_err().to_string();
            assert!(err.starts_with(unit.flag()), "{text}: {err}");
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn a_vus_point_keeps_the_profile_shape() {
        let s = resolved("eco2-vu34").at_load(LoadPoint::Vus(10)).unwrap();
        let targets: Vec<_> = s.load.stages.iter().map(|s| s.target).collect();
        assert_eq!(targets, [10, 10, 0]);
        assert_eq!(s.peak_load(), LoadPoint::Vus(10));
    }

    #[test]
    fn a_rate_point_scales_every_stage() {
        let s = open_model().at_load(LoadPoint::Rate(8.0)).unwrap();
        let arrival = s.load.arrival.as_ref().unwrap();
        assert_eq!(arrival.start_rate, 2.0);
        let targets: Vec<_> = arrival.stages.iter().map(|s| s.target).collect();
        assert_eq!(targets, [8.0, 4.0]);
        assert_eq!(s.peak_load(), LoadPoint::Rate(8.0));
    }

    #[test]
    fn the_unit_must_be_the_models() {
        let err = open_model().at_load(LoadPoint::Vus(3)).unwrap_err();
        assert!(
            err.to_string().starts_with("--vus: a closed-model"),
            "{err}"
        );
        let closed = catalog::find("ci-smoke").unwrap().source().unwrap();
        let err = closed
            .scenario()
            .check_sweepable(LoadUnit::Rate)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("--rates: an open-model"),
            "{err}"
        );
    }

    #[test]
    fn steps_and_midpoints_stay_on_the_units_grain() {
        assert_eq!(LoadPoint::Vus(34).times(2.0), LoadPoint::Vus(68));
        assert_eq!(LoadPoint::Vus(1).times(0.5), LoadPoint::Vus(1));
        assert_eq!(
            LoadPoint::Vus(17).midpoint(LoadPoint::Vus(34)),
            Some(LoadPoint::Vus(25))
        );
        assert_eq!(LoadPoint::Vus(17).midpoint(LoadPoint::Vus(18)), None);
        assert_eq!(
            LoadPoint::Rate(1.0).midpoint(LoadPoint::Rate(2.0)),
            Some(LoadPoint::Rate(1.5))
        );
        assert_eq!(LoadPoint::Vus(34).label(), "vus-34");
        assert_eq!(LoadPoint::Rate(0.5).to_string(), "0.5 req/s");
    }
}
