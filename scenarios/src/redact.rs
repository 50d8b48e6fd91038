//! Secrets kept out of reports and logs: which names hold one, and a scenario with every such
//! value replaced by [`REDACTED`].
//!
//! A run's report embeds the scenario it ran and is attached to pull requests and CI logs, so
//! it must not carry an API key the scenario file (or an `{{env:NAME}}` placeholder) gave
//! the request.
//!
//! ```
//! use scenarios::redact;
//!
//! assert!(redact::is_secret_name("Authorization"));
//! assert!(redact::is_secret_name("x-goog-api-key"));
//! assert!(!redact::is_secret_name("content-type"));
//! assert_eq!(
//!     redact::url("https://user:pw@staging.example/api?token=abc&page=2"),
//!     "https://staging.example/api?token=%3Credacted%3E&page=2"
//! );
//! ```

use serde_json::Value;

use crate::scenario::{Scenario, Var};

/// What a secret is replaced with.
pub use mock_openai::REDACTED;

/// Header names that carry credentials whatever they are called otherwise.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
];

/// Parts of a name that mark its value as a secret.
const SECRET_PARTS: [&str; 4] = ["key", "token", "secret", "password"];

/// Whether a header, variable or field of this name holds a secret: a credential header, or
/// any name containing `key`, `token`, `secret` or `password` (case-insensitive).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&name.as_str()) || SECRET_PARTS.iter().any(|p| name.contains(p))
}

/// `text` without the URL's userinfo (`user:password@`) and with the values of secret query
/// parameters redacted; text that is no URL comes back unchanged.
pub fn url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_owned();
    };
    if url.cannot_be_a_base() {
        return text.to_owned();
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_name(&k) {
                    REDACTED.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let mut out = url.to_string();
    // `Url` adds a `/` to a bare origin; keep the text as the user wrote it.
    if !text.ends_with('/') && url.path() == "/" && url.query().is_none() {
        out.pop();
    }
    out
}

impl Scenario {
    /// The scenario with every secret replaced by [`REDACTED`]: secret request headers,
    /// variables and body fields, the embedded mock's API keys and the pipeline's provider
    /// keys and secret headers, and the userinfo of every URL.
    pub fn redacted(&self) -> Scenario {
        let mut s = self.clone();
        for url_field in [&mut s.target, &mut s.target_metrics].into_iter().flatten() {
            *url_field = url(url_field);
        }
        redact_headers(&mut s.request.headers);
        for (name, var) in &mut s.request.vars {
            if let (true, Var::OneOf { values } | Var::Cycle { values }) =
                (is_secret_name(name), var)
            {
                values.iter_mut().for_each(|v| *v = REDACTED.to_owned());
            }
        }
        if let Some(body) = &mut s.request.body {
            redact_json(body);
        }
        s.mock
            .api_keys
            .iter_mut()
            .for_each(|k| *k = REDACTED.to_owned());
        for provider in &mut s.pipeline.openai.providers {
            provider.base_url = url(&provider.base_url);
            if let Some(key) = &mut provider.api_key {
                *key = REDACTED.to_owned();
            }
            redact_headers(&mut provider.headers);
        }
        s
    }
}

fn redact_headers(headers: &mut std::collections::BTreeMap<String, String>) {
    for (name, value) in headers {
        if is_secret_name(name) {
            *value = REDACTED.to_owned();
        }
    }
}

/// String values under secret keys, at any depth (numbers such as `max_tokens` stay).
fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(s) if is_secret_name(key) => *s = REDACTED.to_owned(),
                    _ => redact_json(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScenarioSource;

    const SECRET: &str = "sk-live-0123456789";

    #[test]
    fn a_redacted_scenario_holds_no_secret() {
        let text = format!(
            r#"name = "s"
target = "https://ci:{SECRET}@staging.example"
[load]
stages = [{{ duration = "1s", target = 1 }}]
[request.headers]
authorization = "Bearer {SECRET}"
x-goog-api-key = "{SECRET}"
accept = "text/event-stream"
[request.vars]
session_token = {{ kind = "one-of", values = ["{SECRET}"] }}
image = {{ kind = "one-of", values = ["a.jpg"] }}
[request.body]
max_tokens = 64
auth = {{ api_key = "{SECRET}" }}
[mock]
api_keys = ["{SECRET}"]
[[pipeline.openai.providers]]
base_url = "https://api.example/v1"
api_key = "{SECRET}"
headers = {{ "openai-organization" = "org-1", "x-secret" = "{SECRET}" }}
"#
        );
        let scenario = ScenarioSource::parse(text, "s.toml")
            .unwrap()
            .scenario()
            .clone();
        let redacted = scenario.redacted();
        let json = serde_json::to_string(&redacted).unwrap();
        assert!(!json.contains(SECRET), "{json}");
        assert!(!redacted.to_toml().contains(SECRET));
        assert_eq!(
            redacted.target.as_deref(),
            Some("https://staging.example"),
            "userinfo gone, the URL otherwise as written"
        );
        let headers = &redacted.request.headers;
        assert_eq!(headers["authorization"], REDACTED);
        assert_eq!(headers["accept"], "text/event-stream");
        assert_eq!(redacted.request.body.as_ref().unwrap()["max_tokens"], 64);
        assert_eq!(
            redacted.pipeline.openai.providers[0].headers["openai-organization"],
            "org-1"
        );
        assert_eq!(redacted.request.vars, {
            let mut vars = scenario.request.vars.clone();
            vars.insert(
                "session_token".into(),
                Var::OneOf {
                    values: vec![REDACTED.into()],
                },
            );
            vars
        });
    }

    #[test]
    fn urls_keep_what_is_no_secret() {
        assert_eq!(url("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(url("http://127.0.0.1:8000/"), "http://127.0.0.1:8000/");
        assert_eq!(
            url("http://h/metrics?job=x"),
            "http://h/metrics?job=x",
            "no secret parameter"
        );
        assert_eq!(url("not a url"), "not a url");
    }
}
