//! JUnit XML, the test-report format CI systems read: one testsuite for the run's thresholds
//! and one for the gate, one testcase per threshold and per gate check.

use std::fmt::Write;

use super::{Renderer, interval, ms, observed, pct, signed_ms, signed_pct};
use crate::compare::Comparison;
use crate::gate::{Check, GateVerdict};
use crate::report::{RunReport, ThresholdResult};

/// The JUnit renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Junit;

impl Renderer for Junit {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        let name = &report.scenario.name;
        let mut suites = vec![threshold_suite(name, &report.thresholds, report)];
        if let Some(verdict) = gate {
            suites.push(gate_suite(name, verdict));
        }
        document(&suites)
    }

    /// A comparison judges nothing, so it has no testcases: use the gate for a verdict.
    fn comparison(&self, _comparison: &Comparison) -> Option<String> {
        None
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        let mut suites = vec![gate_suite(&verdict.candidate, verdict)];
        if !verdict.thresholds.is_empty() {
            suites.push(Suite {
                name: format!("{} thresholds", verdict.candidate),
                cases: verdict
                    .thresholds
                    .iter()
                    .map(|t| threshold_case(&verdict.candidate, t))
                    .collect(),
                time: None,
                timestamp: None,
            });
        }
        document(&suites)
    }
}

struct Suite {
    name: String,
    cases: Vec<Case>,
    time: Option<f64>,
    timestamp: Option<String>,
}

struct Case {
    /// `threshold` or `gate`: the failure's type.
    kind: &'static str,
    class: String,
    name: String,
    failure: Option<String>,
    output: String,
}

fn threshold_suite(scenario: &str, results: &[ThresholdResult], report: &RunReport) -> Suite {
    Suite {
        name: format!("{scenario} thresholds"),
        cases: results
            .iter()
            .map(|t| threshold_case(scenario, t))
            .collect(),
        time: Some(report.environment.duration_s),
        timestamp: Some(report.environment.started_at.clone()),
    }
}

fn threshold_case(scenario: &str, t: &ThresholdResult) -> Case {
    let detail = format!(
        "{} {}: observed {}",
        t.metric,
        t.expression,
        observed(t.observed)
    );
    Case {
        kind: "threshold",
        class: format!("scan-bench.{scenario}.thresholds"),
        name: format!("{} {}", t.metric, t.expression),
        failure: (!t.passed).then(|| detail.clone()),
        output: detail,
    }
}

fn gate_suite(scenario: &str, verdict: &GateVerdict) -> Suite {
    Suite {
        name: format!("{scenario} gate against {}", verdict.baseline),
        cases: verdict
            .checks
            .iter()
            .map(|c| gate_case(scenario, c, verdict.confidence))
            .collect(),
        time: None,
        timestamp: None,
    }
}

fn gate_case(scenario: &str, c: &Check, confidence: f64) -> Case {
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".into(), f);
    let detail = format!(
        "{}: baseline {}, candidate {}, delta {} ({}), {:.0}% interval {}, tolerance {}: {}",
        c.figure,
        opt(c.baseline_ms, ms),
        opt(c.candidate_ms, ms),
        opt(c.delta_ms, signed_ms),
        opt(c.relative, signed_pct),
        confidence * 100.0,
        interval(c),
        pct(c.tolerance),
        c.outcome
    );
    Case {
        kind: "gate",
        class: format!("scan-bench.{scenario}.gate"),
        name: format!("{} within {}", c.figure, pct(c.tolerance)),
        failure: (!c.passed()).then(|| detail.clone()),
        output: detail,
    }
}

fn document(suites: &[Suite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.cases.iter().filter(|c| c.failure.is_some()).count())
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"scan-bench\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for suite in suites {
        let failures = suite.cases.iter().filter(|c| c.failure.is_some()).count();
        let _ = write!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\"",
            escape(&suite.name),
            suite.cases.len()
        );
        if let Some(time) = suite.time {
            let _ = write!(out, " time=\"{time:.3}\"");
        }
        if let Some(timestamp) = &suite.timestamp {
            let _ = write!(out, " timestamp=\"{}\"", escape(timestamp));
        }
        out.push_str(">\n");
        for case in &suite.cases {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
                escape(&case.class),
                escape(&case.name)
            );
            if let Some(message) = &case.failure {
                let _ = writeln!(
                    out,
                    "      <failure message=\"{0}\" type=\"{1}\">{0}</failure>",
                    escape(message),
                    case.kind
                );
            }
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                escape(&case.output)
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text as XML character data or attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("p(95)<8000 & \"x\""),
            "p(95)&lt;8000 &amp; &quot;x&quot;"
        );
        assert_eq!(escape("a\u{1}b"), "a\u{fffd}b");
    }
}
