//! A small OpenAI-compatible client: JSON POSTs with a per-attempt timeout, bounded retries on
//! 429, 5xx, timeouts and connection errors (exponential back-off with full jitter, never
//! shorter than the server's `retry-after`), and several providers tried round-robin or in
//! failover order, a provider that answered 429 being skipped until its `retry-after` passed.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{OpenAiConfig, Routing};
use crate::metrics::{CallModelLabel, Metrics, OpenAiLabel, TokenLabel};

/// Which stage makes a call (the `call` label of the metrics).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call {
    Vision,
    Answer,
}

impl Call {
    const ALL: [Call; 2] = [Call::Vision, Call::Answer];

    fn name(self) -> &'static str {
        match self {
            Call::Vision => "vision",
            Call::Answer => "answer",
        }
    }
}

/// A call that did not produce a JSON answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("{provider} answered {status}: {body}")]
    Status {
        provider: String,
        status: u16,
        body: String,
    },
    #[error("{provider} did not answer within {timeout:?}")]
    Timeout { provider: String, timeout: Duration },
    #[error("cannot reach {provider}: {message}")]
    Transport { provider: String, message: String },
    #[error("{provider} answered with a body that is not JSON: {message}")]
    Body { provider: String, message: String },
}

impl CallError {
    /// The `status` labels of retried errors other than a 5xx: a 429, a timeout, a transport
    /// error.
    const RETRIED_LABELS: [&'static str; 3] = ["429", "timeout", "transport"];

    /// Whether another attempt may succeed.
    fn retryable(&self) -> bool {
        match self {
            CallError::Status { status, .. } => *status == 429 || *status >= 500,
            CallError::Timeout { .. } | CallError::Transport { .. } => true,
            CallError::Body { .. } => false,
        }
    }

    /// The `status` label of the metrics.
    fn label(&self) -> Cow<'static, str> {
        match self {
            CallError::Status { status: 429, .. } => "429".into(),
            CallError::Status { status, .. } => status.to_string().into(),
            CallError::Timeout { .. } => "timeout".into(),
            CallError::Transport { .. } => "transport".into(),
            CallError::Body { .. } => "malformed".into(),
        }
    }
}

/// `url` without `user:password@`.
fn without_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.has_authority() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        _ => url.to_owned(),
    }
}

struct Provider {
    /// Where calls go. Leaked once per provider and start, like `label`.
    base_url: &'static str,
    /// The base URL without its userinfo: the metrics label and the name in errors, which a
    /// credential in the URL must not reach. Leaked once per provider and start, so the label
    /// costs no allocation per call.
    label: &'static str,
    headers: HeaderMap,
    /// Not tried before this instant (set from `retry-after` on 429).
    limited_until: Mutex<Option<Instant>>,
    /// Requests in flight to this provider at most (`max_connections`).
    connections: Semaphore,
}

impl Provider {
    fn available_at(&self) -> Option<Instant> {
        *self.limited_until.lock().expect("provider lock")
    }
}

/// The shared client of the vision and answer stages.
pub(crate) struct OpenAi {
    http: reqwest::Client,
    providers: Vec<Provider>,
    next: AtomicUsize,
    routing: Routing,
    request_timeout: Duration,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    metrics: Arc<Metrics>,
}

/// A provider's key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("openai.providers[{index}].api_key_env: environment variable {name} is not set")]
pub struct MissingKey {
    index: usize,
    name: String,
}

impl OpenAi {
    /// `time_scale` shrinks the timeout and back-off; a server's `retry-after` is taken as given.
    pub fn new(
        config: &OpenAiConfig,
        time_scale: f64,
        metrics: Arc<Metrics>,
    ) -> Result<Self, MissingKey> {
        let mut providers = Vec::with_capacity(config.providers.len());
        for (index, p) in config.providers.iter().enumerate() {
            let key = match (&p.api_key, &p.api_key_env) {
                (Some(key), _) => Some(key.clone()),
                (None, Some(name)) => Some(std::env::var(name).map_err(|_| MissingKey {
                    index,
                    name: name.clone(),
                })?),
                (None, None) => None,
            };
            let mut headers = HeaderMap::new();
            if let Some(key) = key {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                    .expect("validated header value");
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            for (name, value) in &p.headers {
                headers.insert(
                    HeaderName::from_bytes(name.as_bytes()).expect("validated header name"),
                    HeaderValue::from_str(value).expect("validated header value"),
                );
            }
            providers.push(Provider {
                base_url: Box::leak(p.base_url.trim_end_matches('/').into()),
                label: Box::leak(without_userinfo(p.base_url.trim_end_matches('/')).into()),
                headers,
                limited_until: Mutex::new(None),
                connections: Semaphore::new(config.max_connections),
            });
        }
        // Retries exist from the start at zero, so a run without any shows 0 rather than no
        // series: for each call and provider, the retried statuses that are not an open-ended
        // number (a 5xx appears with its first retry).
        for provider in &providers {
            for call in Call::ALL {
                for status in CallError::RETRIED_LABELS {
                    let _ = metrics.openai_retries.get_or_create(&OpenAiLabel {
                        call: call.name(),
                        provider: provider.label,
                        status: Cow::Borrowed(status),
                    });
                }
            }
        }
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.max_connections)
            .build()
            .expect("building the HTTP client");
        Ok(Self {
            http,
            providers,
            next: AtomicUsize::new(0),
            routing: config.routing,
            request_timeout: config.request_timeout.mul_f64(time_scale),
            max_retries: config.max_retries,
            backoff_base: config.backoff_base.mul_f64(time_scale),
            backoff_max: config.backoff_max.mul_f64(time_scale),
            metrics,
        })
    }

    /// POSTs `body` (a request for `model`) as JSON to `path` (e.g. `/responses`) and reads
    /// the answer as `T`. The call's duration (retries and back-off included: what the stage
    /// waited) and the answer's tokens go to the metrics.
    pub async fn post<T: DeserializeOwned + Answer>(
        &self,
        call: Call,
        model: &str,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CallError> {
        let start = Instant::now();
        let result: Result<T, CallError> = self.post_with_retries(call, path, body).await;
        let label = CallModelLabel {
            call: call.name(),
            model: model.to_owned(),
        };
        self.metrics
            .openai_call_duration
            .get_or_create(&label)
            .observe(start.elapsed().as_secs_f64());
        if let Ok(answer) = &result
            && let Some(usage) = answer.usage()
        {
            for (kind, tokens) in [("input", usage.input), ("output", usage.output)] {
                self.metrics
                    .openai_tokens
                    .get_or_create(&TokenLabel {
                        call: call.name(),
                        model: model.to_owned(),
                        kind,
                    })
                    .inc_by(tokens);
            }
        }
        result
    }

    async fn post_with_retries<T: DeserializeOwned>(
        &self,
        call: Call,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CallError> {
        let first = match self.routing {
            Routing::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed),
            Routing::Failover => 0,
        };
        let mut attempt = 0u32;
        let mut provider_index = first;
        loop {
            let (index, wait) = self.pick(provider_index);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let provider = &self.providers[index];
            let result = {
                let _connection = provider.connections.acquire().await.expect("never closed");
                self.attempt(provider, path, body).await
            };
            let status = match &result {
                Ok(_) => Cow::Borrowed("200"),
                Err((e, _)) => e.label(),
            };
            self.metrics
                .openai_calls
                .get_or_create(&OpenAiLabel {
                    call: call.name(),
                    provider: provider.label,
                    status: status.clone(),
                })
                .inc();
            let (error, retry_after) = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            if !error.retryable() || attempt >= self.max_retries {
                return Err(error);
            }
            self.metrics
                .openai_retries
                .get_or_create(&OpenAiLabel {
                    call: call.name(),
                    provider: provider.label,
                    status,
                })
                .inc();
            let backoff = self.backoff(attempt);
            let limited = matches!(error, CallError::Status { status: 429, .. });
            if limited {
                // The provider is skipped until then; another one may be tried at once.
                let until = Instant::now() + retry_after.unwrap_or(backoff);
                *provider.limited_until.lock().expect("provider lock") = Some(until);
            } else if self.providers.len() == 1 || self.routing == Routing::RoundRobin {
                tokio::time::sleep(backoff.max(retry_after.unwrap_or_default())).await;
            }
            tracing::debug!(call = call.name(), attempt, %error, "retrying OpenAI call");
            attempt += 1;
            provider_index = index + 1;
        }
    }

    /// The first provider from `start` (in ring order) that is not rate limited, or else the
    /// one available soonest and how long to wait for it.
    fn pick(&self, start: usize) -> (usize, Duration) {
        let n = self.providers.len();
        let now = Instant::now();
        let mut soonest = (start % n, Duration::MAX);
        for offset in 0..n {
            let index = (start + offset) % n;
            match self.providers[index].available_at() {
                Some(at) if at > now => {
                    let wait = at - now;
                    if wait < soonest.1 {
                        soonest = (index, wait);
                    }
                }
                _ => return (index, Duration::ZERO),
            }
        }
        soonest
    }

    /// Full jitter: uniform from 0 to `min(max, base * 2^attempt)`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .backoff_base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.backoff_max);
        ceiling.mul_f64(rand::rng().random::<f64>())
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        provider: &Provider,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, (CallError, Option<Duration>)> {
        let name = || provider.label.to_string();
        let request = self
            .http
            .post(format!("{}{path}", provider.base_url))
            .headers(provider.headers.clone())
            .json(body)
            .timeout(self.request_timeout)
            .send();
        let response = request
            .await
            .map_err(|e| (self.transport(name(), e), None))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| (self.transport(name(), e), retry_after))?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            return Err((
                CallError::Status {
                    provider: name(),
                    status: status.as_u16(),
                    body,
                },
                retry_after,
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            (
                CallError::Body {
                    provider: name(),
                    message: e.to_string(),
                },
                None,
            )
        })
    }

    fn transport(&self, provider: String, e: reqwest::Error) -> CallError {
        if e.is_timeout() {
            CallError::Timeout {
                provider,
                timeout: self.request_timeout,
            }
        } else {
            CallError::Transport {
                provider,
                message: error_chain(&e),
            }
        }
    }
}

/// `retry-after-ms` (OpenAI's) or `retry-after` in seconds; HTTP dates are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    number("retry-after").map(Duration::from_secs_f64)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

// Request and answer bodies, typed so that a call builds no JSON tree: only the fields the
// stages send or read.

/// `POST /responses` with one user message and a JSON-schema output format.
#[derive(Serialize)]
pub(crate) struct ResponsesRequest<'a> {
    pub model: &'a str,
    pub instructions: &'static str,
    pub input: [InputMessage<'a>; 1],
    pub text: TextConfig,
}

#[derive(Serialize)]
pub(crate) struct InputMessage<'a> {
    pub role: &'static str,
    pub content: [InputPart<'a>; 2],
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum InputPart<'a> {
    InputText { text: &'a str },
    InputImage { image_url: &'a str },
}

#[derive(Serialize)]
pub(crate) struct TextConfig {
    pub format: JsonSchemaFormat,
}

/// A named JSON schema (`text.format` of the Responses API, `response_format.json_schema`
/// of chat completions).
#[derive(Serialize)]
pub(crate) struct JsonSchemaFormat {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    name: &'static str,
    schema: &'static Value,
    strict: bool,
}

impl JsonSchemaFormat {
    /// The Responses API form (with `"type": "json_schema"`).
    pub fn new(name: &'static str, schema: &'static Value, strict: bool) -> Self {
        Self {
            kind: Some("json_schema"),
            name,
            schema,
            strict,
        }
    }

    /// The chat completions form (the type sits one level up).
    pub fn nested(name: &'static str, schema: &'static Value, strict: bool) -> Self {
        Self {
            kind: None,
            ..Self::new(name, schema, strict)
        }
    }
}

/// `POST /chat/completions` with a JSON-schema response format.
#[derive(Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: [ChatMessage<'a>; 2],
    pub response_format: ResponseFormat,
}

#[derive(Serialize)]
pub(crate) struct ChatMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Serialize)]
pub(crate) struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub json_schema: JsonSchemaFormat,
}

/// The tokens an answer says it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub input: u64,
    pub output: u64,
}

/// An answer that may report its [`Usage`].
pub(crate) trait Answer {
    fn usage(&self) -> Option<Usage>;
}

/// The part of a Responses API answer the vision stage reads.
#[derive(Deserialize)]
pub(crate) struct ResponsesAnswer {
    #[serde(default)]
    output_text: Option<String>,
    #[serde(default)]
    output: Vec<OutputItem>,
    #[serde(default)]
    usage: Option<ResponsesUsage>,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    input_tokens: u64,
    output_tokens: u64,
}

impl Answer for ResponsesAnswer {
    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(|u| Usage {
            input: u.input_tokens,
            output: u.output_tokens,
        })
    }
}

#[derive(Deserialize)]
struct OutputItem {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    content: Vec<ContentPart>,
}

#[derive(Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

impl ResponsesAnswer {
    /// The text of the first `output_text` part (or the SDK-style `output_text` field).
    pub fn output_text(&self) -> Option<&str> {
        if let Some(text) = &self.output_text {
            return Some(text);
        }
        self.output
            .iter()
            .filter(|item| item.kind == "message")
            .flat_map(|item| &item.content)
            .find(|part| part.kind == "output_text")?
            .text
            .as_deref()
    }
}

/// The part of a chat completion the answer stage reads.
#[derive(Deserialize)]
pub(crate) struct ChatAnswer {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
struct ChatUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl Answer for ChatAnswer {
    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(|u| Usage {
            input: u.prompt_tokens,
            output: u.completion_tokens,
        })
    }
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

impl ChatAnswer {
    /// The message content of the first choice.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn provider_labels_carry_no_credential() {
        assert_eq!(
            super::without_userinfo("https://user:sk-secret@api.example/v1"),
            "https://api.example/v1"
        );
        assert_eq!(
            super::without_userinfo("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1"
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.clear();
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    fn client(urls: &[&str]) -> OpenAi {
        let config = OpenAiConfig {
            providers: urls
                .iter()
                .map(|u| crate::openai::Provider::new(*u))
                .collect(),
            ..OpenAiConfig::default()
        };
        OpenAi::new(&config, 1.0, Arc::new(Metrics::new(&[]))).unwrap()
    }

    #[tokio::test]
    async fn a_limited_provider_is_skipped_until_its_retry_after() {
        let openai = client(&["http://a/v1", "http://b/v1"]);
        assert_eq!(openai.pick(0), (0, Duration::ZERO));
        let later = Instant::now() + Duration::from_secs(30);
        *openai.providers[0].limited_until.lock().unwrap() = Some(later);
        assert_eq!(openai.pick(0), (1, Duration::ZERO));
        *openai.providers[1].limited_until.lock().unwrap() = Some(later + Duration::from_secs(5));
        // Both limited: wait for the one free soonest, no earlier than its retry-after.
        let (index, wait) = openai.pick(1);
        assert_eq!(index, 0);
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30));
    }

    #[test]
    fn retries_are_exported_at_zero_before_the_first() {
        let metrics = Arc::new(Metrics::new(&[]));
        let config = OpenAiConfig {
            providers: vec![crate::openai::Provider::new("http://a/v1")],
            ..OpenAiConfig::default()
        };
        OpenAi::new(&config, 1.0, metrics.clone()).unwrap();
        let text = metrics.encode();
        for call in ["vision", "answer"] {
            for status in ["429", "timeout", "transport"] {
                let line = format!(
                    "scan_pipeline_openai_retries_total{{call=\"{call}\",provider=\"http://a/v1\",status=\"{status}\"}} 0"
                );
                assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
            }
        }
        // The same labels as the retries themselves get.
        let provider = String::new;
        let errors = [
            CallError::Status {
                provider: provider(),
                status: 429,
                body: String::new(),
            },
            CallError::Timeout {
                provider: provider(),
                timeout: Duration::ZERO,
            },
            CallError::Transport {
                provider: provider(),
                message: String::new(),
            },
        ];
        for (error, label) in errors.iter().zip(CallError::RETRIED_LABELS) {
            assert!(error.retryable());
            assert_eq!(error.label(), label);
        }
    }

    #[test]
    fn backoff_is_full_jitter_under_a_growing_cap() {
        let openai = client(&["http://a/v1"]);
        for attempt in 0..8 {
            let cap = (openai.backoff_base * 2u32.pow(attempt)).min(openai.backoff_max);
            for _ in 0..50 {
                assert!(openai.backoff(attempt) <= cap);
            }
        }
    }

    #[test]
    fn extracts_structured_output_text() {
        let responses: ResponsesAnswer = serde_json::from_value(json!({"output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "output_text", "text": "{\"a\":1}"}]}
        ]}))
        .unwrap();
        assert_eq!(responses.output_text(), Some("{\"a\":1}"));
        let chat: ChatAnswer = serde_json::from_value(
            json!({"choices": [{"message": {"role": "assistant", "content": "{}"}}]}),
        )
        .unwrap();
        assert_eq!(chat.content(), Some("{}"));
        let empty: ChatAnswer = serde_json::from_value(json!({"choices": []})).unwrap();
        assert_eq!(empty.content(), None);
    }
}
