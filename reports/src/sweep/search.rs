//! The knee search of `scan-bench sweep --auto`: the highest load at which the scenario's
//! thresholds still hold, found in a bounded number of runs.
//!
//! The rule, exactly:
//!
//! 1. Run the start load (the scenario's own peak, or `--start`).
//! 2. If it held, multiply the load by [`AutoSettings::factor`] and run again, as long as the
//!    thresholds hold. The first load whose thresholds fail is the upper bound; go to 3. A load
//!    that holds but is saturated ends the search there, without bisection: its throughput
//!    (completed per second of modelled time) is at most [`SATURATED_GAIN`] times the
//!    previous load's, or its success rate is below [`COLLAPSED_SHARE`] of the previous
//!    one's. The knee is then the previous load.
//! 3. If the start failed, divide the load by the factor and run again while it fails (down to
//!    1 VU); the first load that holds is the lower bound. Failing at 1 VU ends the search.
//! 4. Bisect between the highest load that held and the lowest that failed (their midpoint,
//!    whole VUs for the closed model) until the failing load is within
//!    [`AutoSettings::resolution`] of the holding one (or no whole VU lies between them).
//!
//! Every run counts against [`AutoSettings::max_runs`]; reaching it ends the search with the
//! bounds found so far. The search is a pure function of the runs' outcomes: the same outcomes
//! give the same loads and the same knee.

use scenarios::LoadPoint;
use serde::{Deserialize, Serialize};

/// A load counts as saturated when its throughput is at most this times the previous load's.
pub const SATURATED_GAIN: f64 = 1.05;

/// A load counts as collapsed when its success rate is below this share of the previous one's.
pub const COLLAPSED_SHARE: f64 = 0.5;

/// How the search steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoSettings {
    /// The first load run.
    pub start: LoadPoint,
    /// The geometric step, up and down.
    pub factor: f64,
    /// Bisection stops when the failing load is at most (1 + resolution) times the holding one.
    pub resolution: f64,
    /// At most this many runs.
    pub max_runs: u32,
}

impl AutoSettings {
    /// The geometric step of `--auto`.
    pub const FACTOR: f64 = 2.0;
    /// The bisection's resolution: 10 % of the load.
    pub const RESOLUTION: f64 = 0.10;
    /// The default bound on runs.
    pub const MAX_RUNS: u32 = 8;

    /// The defaults, from `start`.
    pub fn from(start: LoadPoint) -> Self {
        Self {
            start,
            factor: Self::FACTOR,
            resolution: Self::RESOLUTION,
            max_runs: Self::MAX_RUNS,
        }
    }
}

/// What the search needs to know of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whether every threshold held.
    pub held: bool,
    /// The thresholds that failed, as text, when some did.
    pub why: String,
    /// Completed requests per second of modelled time.
    pub throughput: Option<f64>,
    /// Completed / attempted.
    pub success_rate: Option<f64>,
}

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The bounds are within the resolution.
    Resolved,
    /// Throughput stopped rising while the load grew.
    Saturated,
    /// The success rate fell below half of the previous load's.
    Collapsed,
    /// Even the smallest load failed.
    FailsAtMinimum,
    /// The bound on runs was reached.
    MaxRuns,
    /// A stop signal ended the sweep.
    Stopped,
}

/// Where the scenario stops holding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// The highest load that held (and, stepping up, still scaled).
    pub holds_up_to: Option<f64>,
    /// The lowest load above it that failed, or the saturated one.
    pub fails_at: Option<f64>,
    /// Why that load failed: the thresholds, or the saturation.
    pub why: Option<String>,
    /// Why the search ended.
    pub stop: StopReason,
    /// Runs made.
    pub runs: u32,
}

/// Runs the search; `run` runs one load and says how it went, or `None` when the sweep must
/// stop (a stop signal, an error it keeps for its caller).
pub fn search(settings: &AutoSettings, run: impl FnMut(LoadPoint) -> Option<Outcome>) -> Knee {
    let mut s = Search {
        settings,
        run,
        runs: 0,
        good: None,
        bad: None,
    };
    let stop = s.go();
    Knee {
        holds_up_to: s.good.map(|(load, _)| load.value()),
        fails_at: s.bad.as_ref().map(|(load, _)| load.value()),
        why: s.bad.map(|(_, why)| why),
        stop,
        runs: s.runs,
    }
}

struct Search<'a, F> {
    settings: &'a AutoSettings,
    run: F,
    runs: u32,
    /// The highest load that held, with its outcome.
    good: Option<(LoadPoint, Outcome)>,
    /// The lowest load that failed, with why.
    bad: Option<(LoadPoint, String)>,
}

impl<F: FnMut(LoadPoint) -> Option<Outcome>> Search<'_, F> {
    /// One run within the bound; `Err` ends the search.
    fn try_load(&mut self, load: LoadPoint) -> Result<Outcome, StopReason> {
        if self.runs >= self.settings.max_runs {
            return Err(StopReason::MaxRuns);
        }
        self.runs += 1;
        (self.run)(load).ok_or(StopReason::Stopped)
    }

    fn go(&mut self) -> StopReason {
        match self.steps() {
            Ok(()) => self.bisect().err().unwrap_or(StopReason::Resolved),
            Err(stop) => stop,
        }
    }

    /// Steps 1 to 3: a holding and a failing bound, or why there are none.
    fn steps(&mut self) -> Result<(), StopReason> {
        let factor = self.settings.factor;
        let start = self.settings.start;
        let first = self.try_load(start)?;
        if first.held {
            self.good = Some((start, first));
            loop {
                let (load, previous) = self.good.clone().expect("the last load that held");
                let next = load.times(factor);
                let outcome = self.try_load(next)?;
                if !outcome.held {
                    self.bad = Some((next, outcome.why));
                    return Ok(());
                }
                if let Some((stop, why)) = saturation(next, &outcome, load, &previous) {
                    self.bad = Some((next, why));
                    return Err(stop);
                }
                self.good = Some((next, outcome));
            }
        }
        let mut load = start;
        self.bad = Some((start, first.why));
        loop {
            let lower = load.times(1.0 / factor);
            if lower == load {
                return Err(StopReason::FailsAtMinimum);
            }
            let outcome = self.try_load(lower)?;
            if outcome.held {
                self.good = Some((lower, outcome));
                return Ok(());
            }
            self.bad = Some((lower, outcome.why));
            load = lower;
        }
    }

    /// Step 4.
    fn bisect(&mut self) -> Result<(), StopReason> {
        loop {
            let (Some((good, _)), Some((bad, _))) = (&self.good, &self.bad) else {
                return Ok(());
            };
            let (good, bad) = (*good, *bad);
            if bad.value() <= good.value() * (1.0 + self.settings.resolution) {
                return Ok(());
            }
            let Some(mid) = good.midpoint(bad) else {
                return Ok(());
            };
            let outcome = self.try_load(mid)?;
            if outcome.held {
                self.good = Some((mid, outcome));
            } else {
                self.bad = Some((mid, outcome.why));
            }
        }
    }
}

/// Whether `next`, which held, is saturated or collapsed against `previous` (the load below
/// it), and why.
fn saturation(
    next: LoadPoint,
    outcome: &Outcome,
    load: LoadPoint,
    previous: &Outcome,
) -> Option<(StopReason, String)> {
    if let (Some(now), Some(before)) = (outcome.throughput, previous.throughput)
        && now <= before * SATURATED_GAIN
    {
        return Some((
            StopReason::Saturated,
            format!(
                "saturated: throughput {now:.2}/s at {next}, at most {SATURATED_GAIN} x \
                 {before:.2}/s at {load}"
            ),
        ));
    }
    if let (Some(now), Some(before)) = (outcome.success_rate, previous.success_rate)
        && now < before * COLLAPSED_SHARE
    {
        return Some((
            StopReason::Collapsed,
            format!(
                "success collapsed: {:.1}% at {next}, under half of {:.1}% at {load}",
                now * 100.0,
                before * 100.0
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system that holds up to `capacity` VUs and whose throughput rises with load up to
    /// `flat_from` VUs and stays flat above; the loads it was asked to run, in order.
    fn system(capacity: u32, flat_from: u32) -> impl FnMut(LoadPoint) -> Option<Outcome> {
        move |load| {
            let LoadPoint::Vus(n) = load else {
                panic!("a VU search")
            };
            Some(Outcome {
                held: n <= capacity,
                why: format!("chain p95 at {n}"),
                throughput: Some(f64::from(n.min(flat_from))),
                success_rate: Some(1.0),
            })
        }
    }

    fn traced(
        settings: AutoSettings,
        mut f: impl FnMut(LoadPoint) -> Option<Outcome>,
    ) -> (Knee, Vec<u32>) {
        let mut loads = Vec::new();
        let knee = search(&settings, |load| {
            if let LoadPoint::Vus(n) = load {
                loads.push(n);
            }
            f(load)
        });
        (knee, loads)
    }

    #[test]
    fn steps_up_then_bisects_to_the_resolution() {
        let (knee, loads) = traced(AutoSettings::from(LoadPoint::Vus(10)), system(45, 1000));
        assert_eq!(loads, [10, 20, 40, 80, 60, 50, 45, 47]);
        assert_eq!(knee.holds_up_to, Some(45.0));
        assert_eq!(knee.fails_at, Some(47.0));
        assert_eq!(knee.why.as_deref(), Some("chain p95 at 47"));
        assert_eq!(knee.stop, StopReason::Resolved);
        assert_eq!(knee.runs, 8);
    }

    #[test]
    fn a_failing_start_steps_down_first() {
        let (knee, loads) = traced(AutoSettings::from(LoadPoint::Vus(34)), system(21, 1000));
        assert_eq!(loads, [34, 17, 25, 21, 23]);
        assert_eq!((knee.holds_up_to, knee.fails_at), (Some(21.0), Some(23.0)));
        assert_eq!(knee.stop, StopReason::Resolved);
    }

    #[test]
    fn saturation_ends_the_search_at_once() {
        let (knee, loads) = traced(AutoSettings::from(LoadPoint::Vus(10)), system(1000, 20));
        assert_eq!(loads, [10, 20, 40]);
        assert_eq!((knee.holds_up_to, knee.fails_at), (Some(20.0), Some(40.0)));
        assert_eq!(knee.stop, StopReason::Saturated);
        assert!(
            knee.why
                .unwrap()
                .starts_with("saturated: throughput 20.00/s at 40 VUs")
        );
    }

    #[test]
    fn a_collapse_of_success_ends_the_search() {
        let (knee, _) = traced(AutoSettings::from(LoadPoint::Vus(4)), |load| {
            let n = load.value();
            Some(Outcome {
                held: true,
                why: String::new(),
                throughput: Some(n),
                success_rate: Some(if n > 8.0 { 0.3 } else { 1.0 }),
            })
        });
        assert_eq!((knee.holds_up_to, knee.fails_at), (Some(8.0), Some(16.0)));
        assert_eq!(knee.stop, StopReason::Collapsed);
    }

    #[test]
    fn the_bound_on_runs_holds() {
        let settings = AutoSettings {
            max_runs: 3,
            ..AutoSettings::from(LoadPoint::Vus(1))
        };
        let (knee, loads) = traced(settings, system(10_000, 100_000));
        assert_eq!(loads, [1, 2, 4]);
        assert_eq!((knee.holds_up_to, knee.fails_at), (Some(4.0), None));
        assert_eq!((knee.stop, knee.runs), (StopReason::MaxRuns, 3));
    }

    #[test]
    fn failing_at_one_vu_is_said() {
        let (knee, loads) = traced(AutoSettings::from(LoadPoint::Vus(4)), system(0, 10));
        assert_eq!(loads, [4, 2, 1]);
        assert_eq!((knee.holds_up_to, knee.fails_at), (None, Some(1.0)));
        assert_eq!(knee.stop, StopReason::FailsAtMinimum);
    }

    #[test]
    fn a_stop_keeps_the_bounds_so_far() {
        let mut inner = system(45, 1000);
        let (knee, loads) = traced(AutoSettings::from(LoadPoint::Vus(10)), move |load| {
            (load.value() < 40.0).then(|| inner(load)).flatten()
        });
        assert_eq!(loads, [10, 20, 40]);
        assert_eq!((knee.holds_up_to, knee.fails_at), (Some(20.0), None));
        assert_eq!(knee.stop, StopReason::Stopped);
    }

    #[test]
    fn rates_bisect_to_ten_percent() {
        let settings = AutoSettings::from(LoadPoint::Rate(1.0));
        let knee = search(&settings, |load| {
            Some(Outcome {
                held: load.value() <= 3.0,
                why: "ttfb".into(),
                throughput: Some(load.value()),
                success_rate: Some(1.0),
            })
        });
        let (good, bad) = (knee.holds_up_to.unwrap(), knee.fails_at.unwrap());
        assert!(good <= 3.0 && bad > 3.0 && bad <= good * 1.1, "{knee:?}");
        assert_eq!(knee.stop, StopReason::Resolved);
    }

    #[test]
    fn the_same_outcomes_give_the_same_search() {
        let a = traced(AutoSettings::from(LoadPoint::Vus(7)), system(33, 50));
        let b = traced(AutoSettings::from(LoadPoint::Vus(7)), system(33, 50));
        assert_eq!(a, b);
    }
}
