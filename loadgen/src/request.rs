//! The scenario's request template, rendered per request with its variables.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use scenarios::{Request, Var, template};
use serde_json::Value;

/// A request template bound to a target, ready to render.
#[derive(Debug)]
pub struct RequestTemplate {
    method: Method,
    url: String,
    headers: Vec<(HeaderName, String)>,
    body: Option<Value>,
    vars: Vec<(String, Var)>,
    cycles: Vec<AtomicUsize>,
    seed: u64,
}

/// One rendered request.
#[derive(Debug)]
pub struct Rendered {
    /// HTTP method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Headers.
    pub headers: HeaderMap,
    /// JSON body.
    pub body: Option<Vec<u8>>,
}

/// The per-virtual-user state of the template's variables.
#[derive(Debug, Clone)]
pub struct VuVars {
    vu: u32,
    iteration: u64,
    user_uuid: String,
    rng: StdRng,
}

/// A template that cannot become a request.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The method is not an HTTP method.
    #[error("request.method: `{0}` is not an HTTP method")]
    Method(String),
    /// goose has no name for the method, so it fails every such request.
    #[error("request.method: `{0}` cannot be sent; use DELETE, GET, HEAD, PATCH, POST or PUT")]
    UnsupportedMethod(String),
    /// A header name is not valid.
    #[error("request.headers: `{0}` is not a header name")]
    HeaderName(String),
}

impl RequestTemplate {
    /// Binds a validated request to `base_url` (no trailing path), drawing with `seed`.
    pub fn new(request: &Request, base_url: &str, seed: u64) -> Result<Self, TemplateError> {
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| TemplateError::Method(request.method.clone()))?;
        goose::goose::goose_method_from_method(method.clone())
            .map_err(|_| TemplateError::UnsupportedMethod(request.method.clone()))?;
        // `{{env:NAME}}` is read once, here; the scenario (and so the report) keeps the
        // placeholder. Validation made sure each variable is set.
        let env = |name: &str| template::env_var(name).and_then(|var| std::env::var(var).ok());
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| {
                HeaderName::from_bytes(name.as_bytes())
                    .map(|n| (n, fill(value, &env)))
                    .map_err(|_| TemplateError::HeaderName(name.clone()))
            })
            .collect::<Result<_, _>>()?;
        let body = request.body.clone().map(|mut body| {
            fill_json(&mut body, &env);
            body
        });
        let vars: Vec<_> = request
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Self {
            method,
            url: format!("{}{}", base_url.trim_end_matches('/'), request.path),
            headers,
            body,
            cycles: vars.iter().map(|_| AtomicUsize::new(0)).collect(),
            vars,
            seed,
        })
    }

    /// The variable state of virtual user `vu` (1-based), derived from the scenario's `seed` alone so a
    /// run is repeatable.
    pub fn vu_vars(&self, vu: u32) -> VuVars {
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ (u64::from(vu)).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let user_uuid = uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string();
        VuVars {
            vu,
            iteration: 0,
            user_uuid,
            rng,
        }
    }

    /// Renders the next request of a virtual user.
    pub fn render(&self, state: &mut VuVars) -> Rendered {
        let values: Vec<(&str, String)> = self
            .vars
            .iter()
            .zip(&self.cycles)
            .map(|((name, var), cycle)| {
                let value = match var {
                    Var::OneOf { values } => {
                        values[state.rng.random_range(0..values.len())].clone()
                    }
                    Var::Cycle { values } => {
                        values[cycle.fetch_add(1, Ordering::Relaxed) % values.len()].clone()
                    }
                    Var::VuUuid => state.user_uuid.clone(),
                    Var::Uuid => uuid::Builder::from_random_bytes(state.rng.random())
                        .into_uuid()
                        .to_string(),
                };
                (name.as_str(), value)
            })
            .collect();
        let lookup = |name: &str| -> Option<String> {
            match name {
                "vu" => Some(state.vu.to_string()),
                "iteration" => Some(state.iteration.to_string()),
                _ => values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone()),
            }
        };
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(&fill(value, &lookup)) {
                headers.insert(name.clone(), value);
            }
        }
        let body = self.body.as_ref().map(|template| {
            let mut body = template.clone();
            fill_json(&mut body, &lookup);
            serde_json::to_vec(&body).expect("a JSON value serializes")
        });
        state.iteration += 1;
        Rendered {
            method: self.method.clone(),
            url: self.url.clone(),
            headers,
            body,
        }
    }
}

/// Replaces each `{{name}}` in `text` with its value (validated scenarios name only known
/// variables; an unknown one is left as written).
fn fill(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + 2 + len].trim();
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + len + 4]),
        }
        rest = &rest[start + len + 4..];
    }
    out.push_str(rest);
    out
}

fn fill_json(value: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::String(s) if s.contains("{{") => *s = fill(s, lookup),
        Value::Array(items) => items.iter_mut().for_each(|v| fill_json(v, lookup)),
        Value::Object(map) => map.values_mut().for_each(|v| fill_json(v, lookup)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_default_scan_request() {
        let template = RequestTemplate::new(&Request::default(), "http://127.0.0.1:9/", 7).unwrap();
        let mut vu1 = template.vu_vars(1);
        let first = template.render(&mut vu1);
        assert_eq!(
            first.url,
            "http://127.0.0.1:9/api/v1/scan/classify/completion"
        );
        assert_eq!(first.method, Method::POST);
        let user = first.headers["x-user-id"].to_str().unwrap().to_owned();
        assert_eq!(user.len(), 36, "a UUID: {user}");
        let body: Value = serde_json::from_slice(first.body.as_deref().unwrap()).unwrap();
        assert!(
            body["image_url"]
                .as_str()
                .unwrap()
                .starts_with("https://images.scan-bench.test/")
        );

        let second = template.render(&mut vu1);
        assert_eq!(
            second.headers["x-user-id"],
            user.as_str(),
            "the user id is fixed per VU"
        );
        let other = template.render(&mut template.vu_vars(2));
        assert_ne!(other.headers["x-user-id"], user.as_str());
        let again = RequestTemplate::new(&Request::default(), "http://x", 7).unwrap();
        assert_eq!(
            again.render(&mut again.vu_vars(1)).headers["x-user-id"],
            user.as_str(),
            "seeded"
        );
    }

    #[test]
    fn environment_placeholders_are_read_once() {
        // SAFETY: this test alone in the crate touches this variable.
        unsafe { std::env::set_var("SCAN_BENCH_TEST_REQUEST_KEY", "sk-from-env") };
        let request = Request {
            headers: [(
                "authorization".to_owned(),
                "Bearer {{env:SCAN_BENCH_TEST_REQUEST_KEY}}".to_owned(),
            )]
            .into(),
            body: Some(
                serde_json::json!({"key": "{{ env:SCAN_BENCH_TEST_REQUEST_KEY }}", "vu": "{{vu}}"}),
            ),
            vars: Default::default(),
            ..Request::default()
        };
        let template = RequestTemplate::new(&request, "http://x", 1).unwrap();
        let rendered = template.render(&mut template.vu_vars(2));
        assert_eq!(rendered.headers["authorization"], "Bearer sk-from-env");
        assert_eq!(rendered.body.unwrap(), br#"{"key":"sk-from-env","vu":"2"}"#);
    }

    #[test]
    fn fills_builtins_and_cycles() {
        let request = Request {
            headers: [("x-vu".to_owned(), "{{vu}}/{{ iteration }}".to_owned())].into(),
            body: Some(serde_json::json!({"n": ["{{pick}}"]})),
            vars: [(
                "pick".to_owned(),
                Var::Cycle {
                    values: vec!["a".into(), "b".into()],
                },
            )]
            .into(),
            ..Request::default()
        };
        let template = RequestTemplate::new(&request, "http://x", 1).unwrap();
        let mut vu = template.vu_vars(3);
        let a = template.render(&mut vu);
        let b = template.render(&mut vu);
        assert_eq!(a.headers["x-vu"], "3/0");
        assert_eq!(b.headers["x-vu"], "3/1");
        assert_eq!(a.body.unwrap(), br#"{"n":["a"]}"#);
        assert_eq!(b.body.unwrap(), br#"{"n":["b"]}"#);
    }
}
