//! Each request judged against the scenario's `[slo]`: good when it completed and met every
//! objective. The collector judges each record as it folds it in, so a good request is one
//! request, never a figure derived from the histograms afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use scenarios::MetricKey;

use crate::record::{LatencyOf, Outcome, RequestRecord};

/// The objectives of a run, resolved to what each reads of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Slos {
    objectives: Vec<(LatencyOf, Duration)>,
    time_scale: f64,
}

impl Slos {
    /// The objectives of a validated scenario's `[slo]`, over a stream of `stages`, for a run
    /// at `time_scale`; `None` when there are none (nothing is judged).
    pub fn new(
        slo: &BTreeMap<MetricKey, Duration>,
        stages: &[String],
        time_scale: f64,
    ) -> Option<Self> {
        if slo.is_empty() {
            return None;
        }
        let objectives = slo
            .iter()
            .map(|(key, objective)| {
                let of = match (key.metric.timing(), &key.stage) {
                    (Some(timing), _) => LatencyOf::Timing(timing),
                    (None, Some(stage)) => LatencyOf::Stage(
                        stages
                            .iter()
                            .position(|s| s == stage)
                            .expect("validation checks an SLO's stage is a stream stage"),
                    ),
                    (None, None) => unreachable!("validation refuses an SLO on `{key}`"),
                };
                (of, *objective)
            })
            .collect();
        Some(Self {
            objectives,
            time_scale,
        })
    }

    /// Whether a request is good: it completed, and each latency an objective names was
    /// measured and, divided back by the time scale to modelled time (as thresholds compare
    /// latencies), is at most the objective. A request without the value (no first stage, a
    /// stage never completed) is not good: nothing shows it met the objective.
    pub fn is_good(&self, record: &RequestRecord) -> bool {
        record.outcome == Outcome::Completed
            && self.objectives.iter().all(|(of, objective)| {
                record.latency(*of).is_some_and(|measured| {
                    measured.as_secs_f64() / self.time_scale <= objective.as_secs_f64()
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FailureClass, StageTiming};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn slos(pairs: &[(&str, u64)], time_scale: f64) -> Slos {
        let slo = pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), ms(*v)))
            .collect();
        let stages = ["vision".to_owned(), "answer".to_owned()];
        Slos::new(&slo, &stages, time_scale).unwrap()
    }

    /// A completed request: ttfb 10 ms, vision 12..40 ms, answer 40..90 ms, chain 90 ms.
    fn completed() -> RequestRecord {
        let mut r = RequestRecord::new(2);
        r.headers = Some(ms(5));
        r.ttfb = Some(ms(10));
        r.first_stage = Some(ms(12));
        r.stages = vec![
            StageTiming {
                started: Some(ms(12)),
                completed: Some(ms(40)),
            },
            StageTiming {
                started: Some(ms(40)),
                completed: Some(ms(90)),
            },
        ];
        r.chain = Some(ms(90));
        r.outcome = Outcome::Completed;
        r
    }

    #[test]
    fn good_means_completed_and_every_objective_met() {
        let all = slos(
            &[
                ("ttfb", 10),
                ("chain", 100),
                ("stage_duration{stage:answer}", 50),
            ],
            1.0,
        );
        assert!(all.is_good(&completed()), "at the objective counts as met");
        let slow_answer = slos(&[("chain", 100), ("stage_duration{stage:answer}", 49)], 1.0);
        assert!(!slow_answer.is_good(&completed()), "one objective missed");
        assert!(slos(&[("stage_duration{stage:vision}", 28)], 1.0).is_good(&completed()));
    }

    #[test]
    fn errors_partial_and_interrupted_requests_are_not_good() {
        let lenient = slos(&[("chain", 60_000)], 1.0);
        for outcome in [
            Outcome::Partial,
            Outcome::Interrupted,
            Outcome::Failed(FailureClass::Timeout),
            Outcome::Failed(FailureClass::HttpStatus(503)),
        ] {
            let r = RequestRecord {
                outcome,
                ..completed()
            };
            assert!(!lenient.is_good(&r), "{outcome:?}");
        }
    }

    #[test]
    fn a_request_without_the_value_is_not_good() {
        let mut no_first_stage = completed();
        no_first_stage.first_stage = None;
        assert!(!slos(&[("first_stage", 60_000)], 1.0).is_good(&no_first_stage));
        let mut unfinished = completed();
        unfinished.stages[1].completed = None;
        assert!(!slos(&[("stage_duration{stage:answer}", 60_000)], 1.0).is_good(&unfinished));
    }

    #[test]
    fn latencies_are_judged_in_modelled_time() {
        // At time scale 0.01 the 90 ms chain models 9 s.
        assert!(slos(&[("chain", 9_500)], 0.01).is_good(&completed()));
        assert!(!slos(&[("chain", 8_500)], 0.01).is_good(&completed()));
        assert!(
            !slos(&[("chain", 100)], 0.01).is_good(&completed()),
            "met in wall-clock time, missed in modelled time"
        );
    }

    #[test]
    fn no_objectives_judge_nothing() {
        assert_eq!(Slos::new(&BTreeMap::new(), &[], 1.0), None);
    }
}
