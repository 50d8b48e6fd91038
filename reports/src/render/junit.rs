//! JUnit XML, the test-report format CI systems read: one testsuite for the run's thresholds
//! and one for the gate, one testcase per threshold and per gate check. The run's suite
//! carries the load generator's health as properties (`loadgen.overloaded`, ...) and, when the
//! scenario has SLOs, the good requests (`goodput.good`, ...).

use std::fmt::Write;

use super::{Renderer, escape_html, interval, ms, observed, pct, signed_ms, signed_pct};
use crate::compare::Comparison;
use crate::gate::{Check, GateVerdict};
use crate::report::{Goodput, LoadgenHealth, RunReport, ThresholdResult};

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
                properties: Vec::new(),
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
    /// `<property name value>` pairs.
    properties: Vec<(&'static str, String)>,
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
        properties: report
            .health
            .as_ref()
            .map(health_properties)
            .unwrap_or_default()
            .into_iter()
            .chain(
                report
                    .goodput
                    .as_ref()
                    .map_or_else(Vec::new, goodput_properties),
            )
            .collect(),
    }
}

/// `goodput.good`, `goodput.good_fraction`, `goodput.per_second` (modelled time).
fn goodput_properties(g: &Goodput) -> Vec<(&'static str, String)> {
    let mut properties = vec![("goodput.good", g.good.to_string())];
    for (name, value) in [
        ("goodput.good_fraction", g.good_fraction),
        ("goodput.per_second", g.per_second),
    ] {
        if let Some(v) = value {
            properties.push((name, format!("{v:.3}")));
        }
    }
    properties
}

fn health_properties(h: &LoadgenHealth) -> Vec<(&'static str, String)> {
    let mut properties = vec![
        ("loadgen.overloaded", h.overloaded.to_string()),
        (
            "loadgen.max_timer_lag_ms",
            format!("{:.3}", h.max_timer_lag_ms),
        ),
        ("loadgen.lag_bound_ms", format!("{:.3}", h.lag_bound_ms)),
    ];
    let optional = [
        ("loadgen.scheduling_lag_p99_ms", h.scheduling_lag_p99_ms),
        ("loadgen.cpu_seconds", h.cpu_seconds),
        ("loadgen.cpu_per_completed_us", h.cpu_per_completed_us),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            properties.push((name, format!("{v:.3}")));
        }
    }
    if h.cpu_seconds.is_some() {
        properties.push((
            "loadgen.cpu_includes_embedded_stack",
            h.cpu_includes_embedded_stack.to_string(),
        ));
    }
    properties
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
        properties: Vec::new(),
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
            escape_html(&suite.name),
            suite.cases.len()
        );
        if let Some(time) = suite.time {
            let _ = write!(out, " time=\"{time:.3}\"");
        }
        if let Some(timestamp) = &suite.timestamp {
            let _ = write!(out, " timestamp=\"{}\"", escape_html(timestamp));
        }
        out.push_str(">\n");
        if !suite.properties.is_empty() {
            out.push_str("    <properties>\n");
            for (name, value) in &suite.properties {
                let _ = writeln!(
                    out,
                    "      <property name=\"{name}\" value=\"{}\"/>",
                    escape_html(value)
                );
            }
            out.push_str("    </properties>\n");
        }
        for case in &suite.cases {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
                escape_html(&case.class),
                escape_html(&case.name)
            );
            if let Some(message) = &case.failure {
                let _ = writeln!(
                    out,
                    "      <failure message=\"{0}\" type=\"{1}\">{0}</failure>",
                    escape_html(message),
                    case.kind
                );
            }
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                escape_html(&case.output)
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
