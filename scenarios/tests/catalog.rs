//! Every bundled scenario parses, validates and round-trips through TOML.

use reference_pipeline::Protocol;
use scenarios::{EmbeddedTarget, Overrides, ScenarioSource, StageName, catalog, published};

#[test]
fn every_entry_resolves_and_round_trips() {
    assert!(!catalog::ENTRIES.is_empty());
    for entry in catalog::ENTRIES {
        let scenario = entry
            .source()
            .and_then(|s| s.resolve(&Overrides::default()))
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        assert_eq!(
            scenario.name, entry.name,
            "the file name is the scenario name"
        );
        assert!(
            !scenario.description.is_empty(),
            "{} has no description",
            entry.name
        );

        let text = scenario.to_toml();
        let again = ScenarioSource::parse(text.clone(), "round-trip")
            .and_then(|s| s.resolve(&Overrides::default()))
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", entry.name));
        assert_eq!(
            again, scenario,
            "{} changes through TOML:\n{text}",
            entry.name
        );
    }
}

#[test]
fn the_eco2_tests_have_their_profile_and_thresholds() {
    for test in published::ECO2_TESTS {
        let s = scenarios::open(test.scenario)
            .unwrap()
            .resolve(&Overrides::default())
            .unwrap();
        let stages: Vec<_> = s
            .load
            .stages
            .iter()
            .map(|st| (st.duration.as_secs(), st.target))
            .collect();
        assert_eq!(
            stages,
            [(60, test.vus), (90, test.vus), (30, 0)],
            "{}",
            test.scenario
        );
        for (metric, threshold) in published::ECO2_THRESHOLDS {
            let key = metric.parse().unwrap();
            let set = s
                .thresholds
                .get(&key)
                .unwrap_or_else(|| panic!("{}: no {metric}", s.name));
            assert!(
                set.iter().any(|t| t.source == threshold),
                "{}: {metric} {threshold}",
                s.name
            );
        }
    }
}

#[test]
fn the_default_smoke_and_protocol_scenarios_are_short() {
    for (name, limit_s) in [
        (catalog::DEFAULT_SCENARIO, 30.0),
        ("ci-smoke", 10.0),
        ("openai-chat", 10.0),
        ("eco2-named-events", 10.0),
    ] {
        let s = scenarios::open(name)
            .unwrap()
            .resolve(&Overrides::default())
            .unwrap();
        let wall = s.load.duration().as_secs_f64() * s.time_scale;
        assert!(wall < limit_s, "{name} lasts {wall} s");
    }
}

#[test]
fn published_figures_hang_together() {
    let shares: f64 = published::ECO2_STAGES.iter().map(|s| s.share).sum();
    assert!(
        (shares - 1.0).abs() < 1e-9,
        "stage shares add up to {shares}"
    );
    for run in published::V1_THREADPOOL {
        assert!(
            catalog::find(run.scenario).is_some(),
            "{} is not in the catalog",
            run.scenario
        );
    }
}

#[test]
fn the_protocol_scenarios_read_what_their_servers_speak() {
    let open = |name: &str| {
        scenarios::open(name)
            .unwrap()
            .resolve(&Overrides::default())
            .unwrap()
    };
    let chat = open("openai-chat");
    assert_eq!(chat.embedded_target, EmbeddedTarget::MockOpenai);
    assert!(chat.stream.stages.is_empty());
    assert_eq!(chat.request.path, "/v1/chat/completions");
    let named = open("eco2-named-events");
    assert_eq!(named.embedded_target, EmbeddedTarget::Pipeline);
    assert_eq!(named.pipeline.protocol, Protocol::StageEvents);
    assert_eq!(named.stream.stage_name, StageName::Event);
    assert_eq!(named.stream.stages, ["vision", "rule", "answer", "reward"]);
}
