//! The `[stream]` table: every protocol shape it describes parses, resolves and round-trips,
//! the older `stage_field` spelling still reads, and each bad combination names its field.

use scenarios::{
    DEFAULT_MAX_EVENT_BYTES, EmbeddedTarget, Overrides, Scenario, ScenarioSource, StageName,
    StageTimingRule, TokenSpec,
};

const HEAD: &str = "name = \"s\"\n[load]\nstages = [{ duration = \"1s\", target = 1 }]\n";

fn resolve(text: &str) -> Result<Scenario, String> {
    ScenarioSource::parse(text, "s.toml")
        .and_then(|s| s.resolve(&Overrides::default()))
        .map_err(|e| e.to_string())
}

fn with_stream(stream: &str) -> String {
    format!("{HEAD}[stream]\n{stream}\n")
}

/// Resolves, and checks the scenario reads back the same from its own TOML and JSON.
fn round_trip(text: &str) -> Scenario {
    let scenario = resolve(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let toml = scenario.to_toml();
    assert_eq!(resolve(&toml).unwrap(), scenario, "through TOML:\n{toml}");
    let json = serde_json::to_string(&scenario).unwrap();
    let again: Scenario = serde_json::from_str(&json).unwrap();
    assert_eq!(again, scenario, "through JSON:\n{json}");
    scenario
}

#[test]
fn every_protocol_shape_resolves_and_round_trips() {
    let default = round_trip(HEAD);
    assert_eq!(
        default.stream.stage_name,
        StageName::Pointer("/step".into())
    );
    assert_eq!(default.stream.stage_timing, StageTimingRule::Status);
    assert_eq!(default.stream.max_event_bytes, DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(default.embedded_target, EmbeddedTarget::Pipeline);
    assert!(
        default.to_toml().contains("stage_name = \"/step\""),
        "`show` spells the stage name out:\n{}",
        default.to_toml()
    );

    let named = round_trip(&with_stream(
        "stage_name = \"event\"\nterminal = [{ event = \"done\" }]",
    ));
    assert_eq!(named.stream.stage_name, StageName::Event);
    assert!(named.to_toml().contains("stage_name = \"event\""));

    let one_event = round_trip(&with_stream(
        "stage_name = \"event\"\nstage_timing = \"since-previous\"\nstarted = []\ncompleted = []\n\
         terminal = [{ data = \"[DONE]\" }]",
    ));
    assert_eq!(
        one_event.stream.stage_timing,
        StageTimingRule::SincePrevious
    );

    let no_stages = round_trip(&format!(
        "embedded_target = \"mock-openai\"\n{}",
        with_stream("stages = []\nterminal = [{ data = \"[DONE]\" }]\nmax_event_bytes = 4096")
    ));
    assert!(no_stages.stream.stages.is_empty());
    assert_eq!(no_stages.stream.max_event_bytes, 4096);
    assert_eq!(no_stages.embedded_target, EmbeddedTarget::MockOpenai);
}

#[test]
fn the_older_stage_field_spelling_still_reads() {
    let old = resolve(&with_stream("stage_field = \"/object\"")).unwrap();
    assert_eq!(old.stream.stage_name, StageName::Pointer("/object".into()));
    // A report of schema v1 embeds the scenario as JSON with `stage_field`.
    let mut json = serde_json::to_value(&old).unwrap();
    let stream = json["stream"].as_object_mut().unwrap();
    let name = stream.remove("stage_name").unwrap();
    stream.insert("stage_field".into(), name);
    stream.remove("stage_timing");
    stream.remove("max_event_bytes");
    json.as_object_mut().unwrap().remove("embedded_target");
    let read: Scenario = serde_json::from_value(json).unwrap();
    assert_eq!(read, old);
}

#[test]
fn each_bad_stream_names_its_field() {
    let cases = [
        ("stage_name = \"step\"", "stream.stage_name", "\"event\""),
        (
            "stage_name = 3",
            "stream.stage_name",
            "\"event\" or a JSON pointer",
        ),
        (
            "stage_name = \"event\"\nstage_event = \"stage\"",
            "stream.stage_event",
            "no stage_event with stage_name = \"event\"",
        ),
        ("started = []", "stream.started", "since-previous"),
        (
            "stage_timing = \"later\"",
            "stream.stage_timing",
            "since-previous",
        ),
        ("stages = [\"a\", \"a\"]", "stream.stages", "distinct"),
        ("stages = [\"\"]", "stream.stages", "not empty"),
        ("max_event_bytes = 0", "stream.max_event_bytes", "above 0"),
        ("terminal = []", "stream.terminal", "at least one event"),
    ];
    for (stream, field, expected) in cases {
        let text = with_stream(stream);
        let err = resolve(&text).expect_err(stream);
        // The field's own line, below the four of HEAD and `[stream]`.
        let key = field.trim_start_matches("stream.");
        let line = 5 + stream.lines().position(|l| l.starts_with(key)).unwrap();
        assert!(
            err.starts_with(&format!("s.toml:{line}:"))
                && err.contains(field)
                && err.contains(expected),
            "{stream}: {err}"
        );
    }
    let err = resolve(&format!(
        "{}[thresholds]\n\"stage_duration{{stage:vision}}\" = [\"avg<5\"]\n",
        with_stream("stages = []\nterminal = [{ data = \"[DONE]\" }]")
    ))
    .unwrap_err();
    assert!(err.contains("the stream has no stages"), "{err}");
    let err = resolve(&format!("embedded_target = \"mock\"\n{HEAD}")).unwrap_err();
    assert!(
        err.starts_with("s.toml:1:")
            && err.contains("embedded_target")
            && err.contains("mock-openai"),
        "{err}"
    );
}

#[test]
fn a_token_stream_reads_with_defaults_and_round_trips() {
    let chat = round_trip(&with_stream(
        "stages = []\nterminal = [{ data = \"[DONE]\" }]\n[stream.tokens]",
    ));
    assert_eq!(chat.stream.tokens, Some(TokenSpec::default()));
    let tokens = TokenSpec::default();
    assert_eq!(
        (tokens.content.as_str(), tokens.usage.as_str()),
        ("/choices/0/delta/content", "/usage/completion_tokens")
    );
    let responses = round_trip(&with_stream(
        "stages = []\nterminal = [{ event = \"response.completed\" }]\n[stream.tokens]\n\
         event = \"response.output_text.delta\"\ncontent = \"/delta\"\n\
         usage = \"/response/usage/output_tokens\"\nbuffered_within = \"2ms\"",
    ));
    let tokens = responses.stream.tokens.unwrap();
    assert_eq!(tokens.event.as_deref(), Some("response.output_text.delta"));
    assert_eq!(tokens.buffered_within, std::time::Duration::from_millis(2));
    assert_eq!(round_trip(HEAD).stream.tokens, None, "no tokens by default");
}

#[test]
fn each_bad_token_field_is_named() {
    let cases = [
        (
            "content = \"delta\"",
            "stream.tokens.content",
            "JSON pointer",
        ),
        ("usage = \"\"", "stream.tokens.usage", "JSON pointer"),
        ("event = \"\"", "stream.tokens.event", "SSE event name"),
        (
            "buffered_min_chunks = 1",
            "stream.tokens.buffered_min_chunks",
            "at least 2",
        ),
        (
            "buffered_after = \"1ms\"",
            "stream.tokens.buffered_after",
            "longer than `buffered_within`",
        ),
        ("ttft = 1", "stream.tokens", "ttft"),
    ];
    for (tokens, field, expected) in cases {
        let text = with_stream(&format!("[stream.tokens]\n{tokens}"));
        let err = resolve(&text).expect_err(tokens);
        assert!(
            err.contains(field) && err.contains(expected),
            "{tokens}: {err}"
        );
    }
}
