//! Property tests of the stream reader: whatever the server sends, one outcome (completed,
//! partial or a failure class), never a panic, and the same outcome however the bytes are
//! cut into chunks. `PROPTEST_CASES=100000 cargo test -p loadgen --lib fuzz` runs them longer.

use proptest::prelude::*;
use scenarios::StreamSpec;

use super::tests::read_in_chunks;
use super::*;

/// A body close to what the reference pipeline sends: lines of SSE fields, with Eco²'s
/// events among them, at any line ending.
fn sse_body() -> impl Strategy<Value = Vec<u8>> {
    let field = proptest::sample::select(vec!["data", "data", "event", "id", "retry", "", ":"]);
    let value = prop_oneof![
        proptest::sample::select(vec![
            r#"{"status":"started","task_id":"t"}"#,
            r#"{"step":"vision","status":"completed","progress":25}"#,
            r#"{"step":"reward","status":"completed","progress":100,"result":{"reward":null}}"#,
            r#"{"status":"error","error":"SERVER_SHUTTING_DOWN"}"#,
            r#"{"step":"#,
            "keepalive",
            "[DONE]",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,24}",
    ];
    let ending = proptest::sample::select(vec!["\n", "\r\n", "\r", "\n\n", "\r\n\r\n"]);
    proptest::collection::vec((field, value, ending), 0..24).prop_map(|lines| {
        let mut body = String::new();
        for (field, value, ending) in lines {
            body.push_str(&format!("{field}: {value}{ending}"));
        }
        body.into_bytes()
    })
}

/// Rules with a small event bound, so that the oversized-event path is taken too.
fn rules() -> StreamRules {
    StreamRules::new(StreamSpec {
        max_event_bytes: 128,
        ..StreamSpec::default()
    })
}

/// Reads `body` whole and in chunks of `size`; the two readings agree.
fn same_reading_in_chunks(body: &[u8], size: usize) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let rules = rules();
    let whole = runtime.block_on(read_in_chunks(&rules, body, body.len().max(1)));
    let chunked = runtime.block_on(read_in_chunks(&rules, body, size));
    // Nothing stopped the reading: it ended on what the body held.
    prop_assert_ne!(whole.outcome, Outcome::Interrupted);
    prop_assert_eq!(whole.outcome, chunked.outcome, "chunks of {}", size);
    prop_assert_eq!(whole.nulls, chunked.nulls);
    let completed = |r: &RequestRecord| {
        r.stages
            .iter()
            .map(|s| s.completed.is_some())
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(completed(&whole), completed(&chunked));
    Ok(())
}

proptest! {
    #[test]
    fn any_bytes_read_the_same_in_any_chunks(
        body in proptest::collection::vec(any::<u8>(), 0..1024),
        size in 1..64usize,
    ) {
        same_reading_in_chunks(&body, size)?;
    }

    #[test]
    fn any_event_stream_reads_the_same_in_any_chunks(body in sse_body(), size in 1..64usize) {
        same_reading_in_chunks(&body, size)?;
    }
}
