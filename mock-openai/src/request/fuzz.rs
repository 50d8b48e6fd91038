//! Property tests of the request parsers: whatever the body, a parsed request or a 4xx in
//! OpenAI's shape, never a panic. `PROPTEST_CASES=100000 cargo test -p mock-openai fuzz`
//! runs them longer.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{parse_chat, parse_json, parse_responses};
use crate::error::ApiError;
use crate::params::{CHAT, RESPONSES};

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(key(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly the names the parsers know (so that bodies get past the unknown-parameter check),
/// sometimes any name.
fn key() -> impl Strategy<Value = String> {
    let known: Vec<&'static str> = CHAT
        .iter()
        .chain(RESPONSES)
        .map(|p| p.name)
        .chain([
            "role",
            "content",
            "type",
            "text",
            "image_url",
            "url",
            "format",
            "schema",
        ])
        .collect();
    prop_oneof![
        4 => proptest::sample::select(known).prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

fn assert_client_error(result: &Result<impl Sized, ApiError>) {
    if let Err(e) = result {
        assert!(e.status.is_client_error(), "{} for {e:?}", e.status);
        assert!(!e.message.is_empty());
    }
}

fn parse_both(body: &Map<String, Value>) {
    assert_client_error(&parse_chat(body));
    assert_client_error(&parse_responses(body));
}

proptest! {
    #[test]
    fn any_bytes_are_a_request_or_a_4xx(bytes in vec(any::<u8>(), 0..512)) {
        match parse_json(&bytes) {
            Ok(body) => parse_both(&body),
            Err(e) => prop_assert!(e.status.is_client_error()),
        }
    }

    #[test]
    fn any_json_object_is_a_request_or_a_4xx(
        body in btree_map(key(), json(), 0..8),
        model in prop_oneof![Just("gpt-4o".to_owned()), "\\PC{0,8}"],
    ) {
        let mut body: Map<String, Value> = body.into_iter().collect();
        body.insert("model".into(), Value::String(model));
        parse_both(&body);
        // The same through the bytes, as the server reads it.
        let bytes = serde_json::to_vec(&body).unwrap();
        parse_both(&parse_json(&bytes).unwrap());
    }
}
