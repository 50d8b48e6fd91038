//! `GET/PUT /admin/config` and the in-process equivalent.

mod common;

use common::{chat_as, chat_body, client, expect_error, post, url};
use mock_openai::{
    ADMIN_MAX_BODY_BYTES, AdminToken, MockConfig, MockServer, ModelConfig, ServerOptions,
};
use serde_json::{Value, json};

#[tokio::test]
async fn config_swap_takes_effect_and_invalid_configs_are_refused() {
    let server = common::start(common::instant(30)).await;
    let http = client();
    let admin = url(&server, "/admin/config");

    let current: MockConfig = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(current, common::instant(30));

    // Swap in a config with a single new model.
    let mut next = serde_json::to_value(&current).unwrap();
    next["models"] = json!({ "tiny-model": serde_json::to_value(ModelConfig::instant()).unwrap() });
    next["api_keys"] = json!(["sk-admin-test"]);
    let swapped = http.put(&admin).json(&next).send().await.unwrap();
    assert_eq!(swapped.status(), 200);
    let answer: Value = swapped.json().await.unwrap();
    let in_force: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(in_force["api_keys"], json!([mock_openai::REDACTED]));
    for shown in [&answer, &in_force] {
        assert!(
            !shown.to_string().contains("sk-admin-test"),
            "the admin API never shows a key: {shown}"
        );
    }
    // The config as shown, sent back, keeps the key in force.
    let resent = http.put(&admin).json(&in_force).send().await.unwrap();
    assert_eq!(resent.status(), 200);
    let ok = chat_as(&server, "sk-admin-test", &chat_body("tiny-model", "x")).await;
    assert_eq!(ok.status(), 200);
    let gone = chat_as(&server, "sk-admin-test", &chat_body("gpt-4o", "x")).await;
    expect_error(gone, 404).await;

    // Invalid values, unknown fields and broken JSON are refused; the config stays.
    let mut bad = next.clone();
    bad["faults"]["p429"] = json!(2.0);
    let refused = expect_error(http.put(&admin).json(&bad).send().await.unwrap(), 400).await;
    assert_eq!(refused["error"]["param"], "faults.p429");
    let mut unknown = next.clone();
    unknown["load"]["capacityy"] = json!(3);
    let refused = expect_error(http.put(&admin).json(&unknown).send().await.unwrap(), 400).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("capacityy"),
        "{refused}"
    );
    expect_error(
        http.put(&admin).body("{ not json").send().await.unwrap(),
        400,
    )
    .await;
    let still: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(still, in_force);

    // TOML works too, with a located error when invalid.
    let toml_put = |text: &'static str| {
        http.put(&admin)
            .header("content-type", "application/toml")
            .body(text)
            .send()
    };
    let refused = expect_error(toml_put("time_scale = -1\n").await.unwrap(), 400).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("request body:1:1"),
        "{refused}"
    );
    assert_eq!(
        toml_put("seed = 5\ntime_scale = 0.0\n")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(
            &server,
            "/v1/chat/completions",
            &chat_body("gpt-4o-mini", "x")
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn handle_swaps_config_in_process() {
    let server = common::start(common::instant(31)).await;
    let mut config = server.config();
    config.api_keys = vec!["sk-handle".into()];
    server.set_config(config.clone()).unwrap();
    assert_eq!(server.config(), config);
    expect_error(
        post(&server, "/v1/chat/completions", &chat_body("gpt-4o", "x")).await,
        401,
    )
    .await;
    config.time_scale = f64::NAN;
    let err = server.set_config(config).unwrap_err();
    assert_eq!(err.field().unwrap().to_string(), "time_scale");
}

#[tokio::test]
async fn the_admin_token_guards_get_and_put_and_is_never_shown() {
    const TOKEN: &str = "adm-7f3c9e1b2d";
    let options = ServerOptions::default().with_admin_token(AdminToken::new(TOKEN).unwrap());
    let server =
        MockServer::start_with(common::instant(32), "127.0.0.1:0".parse().unwrap(), options)
            .await
            .unwrap();
    let http = client();
    let admin = url(&server, "/admin/config");

    let missing = http.get(&admin).send().await.unwrap();
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"mock-openai admin\""
    );
    let missing = expect_error(missing, 401).await;
    assert_eq!(missing["error"]["code"], Value::Null);
    for wrong in [
        "adm-7f3c9e1b2e",
        "adm-7f3c9e1b2",
        "",
        TOKEN.to_uppercase().as_str(),
    ] {
        let refused = http.get(&admin).bearer_auth(wrong).send().await.unwrap();
        let refused = expect_error(refused, 401).await;
        assert_eq!(refused["error"]["code"], "invalid_admin_token", "{wrong:?}");
    }
    // The token as a bare header value, without the Bearer scheme, is refused too.
    let bare = http
        .get(&admin)
        .header("authorization", TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(bare, 401).await;

    let shown = http.get(&admin).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    let shown: Value = shown.json().await.unwrap();
    assert!(!shown.to_string().contains(TOKEN), "{shown}");
    // The scheme is case-insensitive.
    let lower = http
        .get(&admin)
        .header("authorization", format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200);

    let mut next = shown.clone();
    next["seed"] = json!(99);
    let refused = http.put(&admin).json(&next).send().await.unwrap();
    expect_error(refused, 401).await;
    let refused = http
        .put(&admin)
        .bearer_auth("guess")
        .json(&next)
        .send()
        .await
        .unwrap();
    expect_error(refused, 401).await;
    assert_eq!(server.config().seed, 32, "a refused PUT changes nothing");
    let swapped = http
        .put(&admin)
        .bearer_auth(TOKEN)
        .json(&next)
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), 200);
    let swapped: Value = swapped.json().await.unwrap();
    assert!(!swapped.to_string().contains(TOKEN), "{swapped}");
    assert_eq!(server.config().seed, 99);

    // Model requests do not need it.
    let chat = post(
        &server,
        "/v1/chat/completions",
        &chat_body("gpt-4o-mini", "x"),
    )
    .await;
    assert_eq!(chat.status(), 200);
}

#[tokio::test]
async fn a_tiny_max_body_bytes_does_not_lock_out_the_admin_api() {
    let tiny = MockConfig {
        max_body_bytes: 16,
        ..common::instant(33)
    };
    let server = common::start(tiny).await;
    let http = client();
    let admin = url(&server, "/admin/config");
    expect_error(
        post(&server, "/v1/chat/completions", &chat_body("gpt-4o", "x")).await,
        413,
    )
    .await;

    // The whole config, far over 16 bytes, is taken, and raises the limit again.
    let mut config: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert!(config.to_string().len() > 16);
    config["max_body_bytes"] = json!(1024 * 1024);
    let swapped = http.put(&admin).json(&config).send().await.unwrap();
    assert_eq!(swapped.status(), 200);
    assert_eq!(server.config().max_body_bytes, 1024 * 1024);
    assert_eq!(
        post(&server, "/v1/chat/completions", &chat_body("gpt-4o", "x"))
            .await
            .status(),
        200
    );

    // The admin API's own limit holds whatever the config says.
    let mut huge = config.clone();
    huge["max_body_bytes"] = json!(usize::MAX);
    huge["content"]["padding"] = json!("x".repeat(ADMIN_MAX_BODY_BYTES));
    let refused = http.put(&admin).json(&huge).send().await.unwrap();
    expect_error(refused, 413).await;
}
