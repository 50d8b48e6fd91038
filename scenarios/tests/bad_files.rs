//! Bad scenario files: each error names the line, column and field, and what was expected.

use scenarios::{Overrides, ScenarioError, ScenarioSource};

const HEAD: &str = "name = \"bad\"\n";

fn stages(body: &str) -> String {
    format!("{HEAD}[load]\nstages = [{body}]\n")
}

fn error_of(text: &str) -> ScenarioError {
    match ScenarioSource::parse(text, "bad.toml").and_then(|s| s.resolve(&Overrides::default())) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn each_bad_file_points_at_line_and_field() {
    let with_thresholds = |t: &str| {
        format!(
            "{}[thresholds]\n{t}\n",
            stages("{ duration = \"1s\", target = 1 }")
        )
    };
    let with_slo = |t: &str| {
        format!(
            "{}[slo]\n{t}\n",
            stages("{ duration = \"1s\", target = 1 }")
        )
    };
    let cases: Vec<(&str, String, usize, &str, &str)> = vec![
        (
            "unknown slo metric",
            with_slo("latency = \"1s\""),
            5,
            "slo.latency",
            "unknown metric",
        ),
        (
            "slo on a rate",
            with_slo("scan_failed = \"1s\""),
            5,
            "slo.scan_failed",
            "`scan_failed` is no latency",
        ),
        (
            "slo on connect",
            with_slo("chain = \"30s\"\nconnect = \"1s\""),
            6,
            "slo.connect",
            "not measured per request",
        ),
        (
            "slo on an unknown stage",
            with_slo("\"stage_duration{stage:upload}\" = \"1s\""),
            5,
            "slo.\"stage_duration{stage:upload}\"",
            "a stage of stream.stages",
        ),
        (
            "slo of no duration",
            with_slo("chain = \"fast\""),
            5,
            "slo.chain",
            "\"1m30s\"",
        ),
        (
            "slo of zero",
            with_slo("sse_ttfb = \"0s\""),
            5,
            "slo.sse_ttfb",
            "above 0",
        ),
        (
            "goodput without slo",
            format!(
                "{}[thresholds]\ngood_fraction = [\"rate>0.9\"]\n",
                stages("{ duration = \"1s\", target = 1 }")
            ),
            5,
            "thresholds.good_fraction",
            "an [slo] table",
        ),
        (
            "unknown field",
            format!("{HEAD}colour = 1\n[load]\nstages = [{{ duration = \"1s\", target = 1 }}]\n"),
            2,
            "colour",
            "unknown field",
        ),
        (
            "unknown nested field",
            format!("{HEAD}[load]\nstages = [{{ duration = \"1s\", target = 1 }}]\nramp = 3\n"),
            4,
            "load.ramp",
            "unknown field",
        ),
        (
            "bad duration",
            stages("{ duration = \"60x\", target = 1 }"),
            3,
            "load.stages[0].duration",
            "\"1m30s\"",
        ),
        (
            "negative target",
            stages("{ duration = \"1s\", target = -5 }"),
            3,
            "load.stages[0].target",
            "whole number",
        ),
        (
            "empty stages",
            stages(""),
            3,
            "load.stages",
            "at least one stage",
        ),
        (
            "percentile over 100",
            with_thresholds("sse_ttfb = [\"p(101)<5\"]"),
            5,
            "thresholds.sse_ttfb[0]",
            "expected 0 to 100",
        ),
        (
            "unknown metric",
            with_thresholds("latency = [\"p(95)<5\"]"),
            5,
            "thresholds.latency",
            "unknown metric",
        ),
        (
            "rate on a trend",
            with_thresholds("sse_ttfb = [\"rate<5\"]"),
            5,
            "thresholds.sse_ttfb[0]",
            "does not apply",
        ),
        (
            "unknown stage",
            with_thresholds("\"stage_duration{stage:upload}\" = [\"avg<5\"]"),
            5,
            "stage_duration{stage:upload}",
            "a stage of stream.stages",
        ),
        (
            "closed and open model",
            format!(
                "{}\n[load.arrival]\nstages = [{{ duration = \"1s\", target = 5.0 }}]\n",
                stages("{ duration = \"1s\", target = 1 }")
            ),
            5,
            "load.arrival",
            "not both",
        ),
        ("not toml", format!("{HEAD}[load\n"), 2, "", "invalid TOML"),
        (
            "missing load",
            HEAD.to_owned(),
            1,
            "",
            "missing field `load`",
        ),
        (
            "bad target",
            format!(
                "target = \"ftp://x\"\n{}",
                stages("{ duration = \"1s\", target = 1 }")
            ),
            1,
            "target",
            "http(s) URL",
        ),
        (
            "unknown placeholder",
            format!(
                "{}[request.headers]\nx-user-id = \"{{{{who}}}}\"\n",
                stages("{ duration = \"1s\", target = 1 }")
            ),
            5,
            "request.headers.x-user-id",
            "`{{who}}` is none",
        ),
    ];
    for (what, text, line, field, expected) in cases {
        let err = error_of(&text);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("bad.toml:{line}:")),
            "{what}: wrong line in `{message}`\n{text}"
        );
        assert!(
            message.contains(field),
            "{what}: no field `{field}` in `{message}`"
        );
        assert!(
            message.contains(expected),
            "{what}: no `{expected}` in `{message}`"
        );
    }
}

#[test]
fn slos_parse_as_thresholds_name_latencies() {
    let text = format!(
        "{}[slo]\nttfb = \"500ms\"\nchain = \"30s\"\n\"stage_duration{{stage:vision}}\" = \"6s\"\n\
         [thresholds]\ngood_fraction = [\"rate>=0.9\"]\ngoodput = [\"rate>1\", \"count>0\"]\n",
        stages("{ duration = \"1s\", target = 1 }")
    );
    let scenario = ScenarioSource::parse(text, "good.toml")
        .and_then(|s| s.resolve(&Overrides::default()))
        .unwrap();
    let slo: Vec<(String, u128)> = scenario
        .slo
        .iter()
        .map(|(k, d)| (k.to_string(), d.as_millis()))
        .collect();
    assert_eq!(
        slo,
        [
            ("sse_ttfb".to_owned(), 500),
            ("sse_total_duration".to_owned(), 30_000),
            ("stage_duration{stage:vision}".to_owned(), 6_000),
        ]
    );
    // `show` prints it, and what it prints reads back the same.
    let again = ScenarioSource::parse(scenario.to_toml(), "again.toml")
        .and_then(|s| s.resolve(&Overrides::default()))
        .unwrap();
    assert_eq!(again, scenario);
}

#[test]
fn an_unknown_name_lists_the_catalog() {
    let err = scenarios::open("eco2-vu99").unwrap_err().to_string();
    assert!(
        err.contains("eco2-vu34") && err.contains("ci-smoke"),
        "{err}"
    );
}

#[test]
fn embedded_stack_errors_point_into_their_tables() {
    let base = stages("{ duration = \"1s\", target = 1 }");
    let cases = [
        (
            format!("{base}[mock.faults]\np429 = 1.5\n"),
            5,
            "mock.faults.p429",
        ),
        (
            format!("{base}[mock.models.\"gpt-4.1\"]\nttft = \"-3s\"\n"),
            5,
            "mock.models",
        ),
        (
            format!("{base}[pipeline]\nmode = {{ kind = \"threadpool\", workers = 0 }}\n"),
            5,
            "pipeline.mode",
        ),
        (
            format!("{base}[pipeline]\ncolour = 1\n"),
            5,
            "pipeline.colour",
        ),
    ];
    for (text, line, field) in cases {
        let message = error_of(&text).to_string();
        assert!(
            message.starts_with(&format!("bad.toml:{line}:")),
            "wrong line in `{message}`\n{text}"
        );
        assert!(message.contains(field), "no `{field}` in `{message}`");
    }
}

#[test]
fn an_embedded_stack_error_names_its_field_once() {
    let text = format!(
        "{}[mock.faults]\np429 = 1.5\n",
        stages("{ duration = \"1s\", target = 1 }")
    );
    let message = error_of(&text).to_string();
    assert_eq!(
        message,
        "bad.toml:5:1: field `mock.faults.p429`: expected a probability from 0 to 1, found 1.5"
    );
    let text = format!(
        "{}[pipeline.cluster]\nliveness = {{ max_streams = 0, failure_after = \"1s\" }}\n",
        stages("{ duration = \"1s\", target = 1 }")
    );
    let message = error_of(&text).to_string();
    assert_eq!(
        message.matches("max_streams").count(),
        1,
        "the field is named once: {message}"
    );
    assert!(
        message.starts_with("bad.toml:5:14: field `pipeline.cluster.liveness.max_streams`: "),
        "{message}"
    );
}
