//! The `[connections]` table reaches the server: a connection beyond the cap is refused in
//! OpenAI's error shape while the one held is still served. (The timeouts themselves are
//! scan-serve's tests.)

mod common;

use common::{chat_body, client, expect_error, instant, start, url};
use mock_openai::MockConfig;

#[tokio::test]
async fn a_connection_beyond_the_cap_is_refused_and_the_held_one_still_served() {
    let config = MockConfig::from_toml_str("[connections]\nmax_connections = 1\n", "t").unwrap();
    assert_eq!(config.connections.max_connections, Some(1));
    let server = start(MockConfig {
        connections: config.connections,
        ..instant(1)
    })
    .await;
    // This client keeps its connection alive in its pool: it holds the one place.
    let holder = client();
    let first = holder
        .post(url(&server, "/v1/chat/completions"))
        .json(&chat_body("gpt-4o", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    first.bytes().await.unwrap();
    let refused = client()
        .get(url(&server, "/healthz"))
        .send()
        .await
        .expect("an answer, not a hang or a reset");
    let error = expect_error(refused, 503).await;
    assert_eq!(error["error"]["code"], "too_many_connections");
    let again = holder.get(url(&server, "/healthz")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    server.shutdown().await;
}
