//! The HTTP server: routes, the life of one model request, shutdown (the admin API is in
//! `admin`).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scan_config::{Delay, FaultKind, FaultTable};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminToken, ServerOptions};
use crate::config::MockConfig;
use crate::content::{Answer, ContentModel, Prompt};
use crate::error::ApiError;
use crate::faults::Fault;
use crate::latency::ModelConfig;
use crate::metrics::{FaultLabel, LimitLabel, Metrics, ModelLabel, RouteModel};
use crate::ratelimit::{RateLimiter, retry_headers};
use crate::request::{self, Api, ModelRequest};
use crate::response::{self, Meta};
use crate::stream::{Schedule, TokenStream};
use crate::{ConfigError, StartError};

/// Entry point: [`MockServer::start`].
#[derive(Debug)]
pub struct MockServer;

impl MockServer {
    /// Validates `config`, binds `listen` (port 0 picks a free port) and serves on the current
    /// tokio runtime until [`MockHandle::shutdown`] or until the handle is dropped. The admin
    /// API is open (see [`MockServer::start_with`]).
    pub async fn start(config: MockConfig, listen: SocketAddr) -> Result<MockHandle, StartError> {
        Self::start_with(config, listen, ServerOptions::default()).await
    }

    /// [`MockServer::start`] with options, such as an admin token.
    pub async fn start_with(
        config: MockConfig,
        listen: SocketAddr,
        options: ServerOptions,
    ) -> Result<MockHandle, StartError> {
        config.validate().map_err(ConfigError::from)?;
        let limits = config.connections;
        let shutdown = CancellationToken::new();
        let admin_token = options.admin_token.is_some();
        let shared = Arc::new(Shared {
            live: RwLock::new(Arc::new(Runtime::new(config))),
            metrics: Metrics::new(),
            shutdown: shutdown.clone(),
            admin_token: options.admin_token,
        });
        let server = scan_serve::Server::bind(listen, router(shared.clone()), &limits)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let addr = server.addr();
        // Whether a token guards the admin API, never the token.
        tracing::info!(%addr, admin_token, "mock-openai listening");
        Ok(MockHandle {
            addr,
            shared,
            server: Some(server),
        })
    }
}

/// A running server. Dropping it stops the server in the background (without waiting);
/// [`MockHandle::shutdown`] stops it and waits.
pub struct MockHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<scan_serve::Server>,
}

impl MockHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What an OpenAI client takes as base URL: `http://{addr}/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The Prometheus endpoint: `http://{addr}/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// The configuration in force.
    pub fn config(&self) -> MockConfig {
        self.shared.runtime().config.clone()
    }

    /// Replaces the configuration (as `PUT /admin/config` does): requests already running
    /// finish under the old one; rate-limit buckets and the request sequence start afresh.
    pub fn set_config(&self, config: MockConfig) -> Result<(), ConfigError> {
        config.validate().map_err(ConfigError::from)?;
        self.shared.replace(config);
        Ok(())
    }

    /// Stops accepting, cuts open streams and waits for the server to finish.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(server) = self.server.take()
            && let Err(e) = server.shutdown().await
        {
            tracing::warn!("mock-openai server ended with an error: {e}");
        }
    }
}

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// State shared by all requests.
pub(crate) struct Shared {
    live: RwLock<Arc<Runtime>>,
    metrics: Metrics,
    shutdown: CancellationToken,
    /// Set for the server's life: a config swap cannot change it.
    admin_token: Option<AdminToken>,
}

impl Shared {
    /// The config in force and what is built from it.
    pub(crate) fn runtime(&self) -> Arc<Runtime> {
        self.live.read().expect("config lock poisoned").clone()
    }

    /// The token `/admin/config` asks for, if any.
    pub(crate) fn admin_token(&self) -> Option<&AdminToken> {
        self.admin_token.as_ref()
    }

    /// Swaps in a new config (already validated).
    pub(crate) fn replace(&self, config: MockConfig) {
        let runtime = Arc::new(Runtime::new(config));
        *self.live.write().expect("config lock poisoned") = runtime;
    }
}

/// A config and everything built from it; replaced whole by an admin swap.
pub(crate) struct Runtime {
    pub(crate) config: MockConfig,
    content: ContentModel,
    /// The random sequence: request `n` draws from stream `n` of this generator.
    rng: ChaCha8Rng,
    /// Model requests seen so far (the index of the next one).
    requests: AtomicU64,
    limiter: Option<RateLimiter>,
    slots: Option<Arc<Semaphore>>,
}

/// Independent parts of one request's random stream, so that e.g. a longer answer does not
/// shift which faults later requests get.
#[derive(Clone, Copy)]
enum Draw {
    Fault = 0,
    Latency = 1,
    Content = 2,
}

impl Runtime {
    fn new(config: MockConfig) -> Self {
        let limiter = RateLimiter::new(&config.rate_limit, config.time_scale);
        let slots = (config.load.max_concurrent > 0)
            .then(|| Arc::new(Semaphore::new(config.load.max_concurrent as usize)));
        Self {
            content: ContentModel::new(&config.content),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            requests: AtomicU64::new(0),
            limiter,
            slots,
            config,
        }
    }

    /// The generator for one part of request `index`'s draws.
    fn rng(&self, index: u64, draw: Draw) -> ChaCha8Rng {
        let mut rng = self.rng.clone();
        rng.set_stream(index);
        rng.set_word_pos((draw as u128) << 64);
        rng
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/responses", post(responses))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{model}", get(get_model))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/admin/config",
            get(admin::get_config).put(admin::put_config),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

/// One model request being served: keeps the in-flight gauge and the concurrency slot, and
/// records the duration when dropped (end of body, or client gone).
pub(crate) struct InFlight {
    shared: Arc<Shared>,
    labels: RouteModel,
    start: Instant,
    first_token_seen: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    /// Records the time to first token (once).
    pub fn first_token(&mut self) {
        if !self.first_token_seen {
            self.first_token_seen = true;
            let ttft = self.start.elapsed().as_secs_f64();
            self.shared
                .metrics
                .ttft
                .get_or_create(&self.labels)
                .observe(ttft);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let m = &self.shared.metrics;
        m.in_flight.dec();
        m.duration
            .get_or_create(&self.labels)
            .observe(self.start.elapsed().as_secs_f64());
    }
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    model_call(shared, Api::Chat, headers, body).await
}

async fn responses(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    model_call(shared, Api::Responses, headers, body).await
}

async fn model_call(shared: Arc<Shared>, api: Api, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let mut model = String::new();
    let response = match serve(&shared, api, &headers, body, start, &mut model).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    shared
        .metrics
        .count_request(api.route(), &model, response.status().as_u16());
    response
}

/// The life of a model request: admit it, take a place among the requests in flight, answer.
/// `model_label` is set once the model is known to exist.
async fn serve(
    shared: &Arc<Shared>,
    api: Api,
    headers: &HeaderMap,
    body: Body,
    start: Instant,
    model_label: &mut String,
) -> Result<Response, ApiError> {
    let runtime = shared.runtime();
    let admitted = admit(shared, &runtime, api, headers, body, model_label).await?;
    match admitted.fault {
        Some(Fault::TooManyRequests) => {
            let wait = scaled(Duration::from_secs(1), runtime.config.time_scale);
            let message = format!(
                "Rate limit reached for {} in organization org-mock on requests per min (RPM). \
                 Please try again in {}.",
                admitted.request.model,
                crate::ratelimit::format_reset(wait)
            );
            return Err(ApiError::rate_limited(message)
                .with_headers(admitted.headers)
                .with_headers(retry_headers(wait)));
        }
        Some(Fault::ServerError) => {
            return Err(ApiError::server_error().with_headers(admitted.headers));
        }
        Some(Fault::Unavailable) => {
            return Err(ApiError::overloaded().with_headers(admitted.headers));
        }
        _ => {}
    }
    let (guard, others) = enter(shared, &runtime, api, &admitted.request.model, start).await?;
    answer(shared, &runtime, api, admitted, guard, others).await
}

/// A request that passed authentication, parsing and the rate limits.
struct Admitted {
    request: ModelRequest,
    model: ModelConfig,
    /// Position in the request sequence: selects the random streams.
    index: u64,
    fault: Option<Fault>,
    /// Rate-limit headers for the response.
    headers: HeaderMap,
}

async fn admit(
    shared: &Shared,
    runtime: &Runtime,
    api: Api,
    headers: &HeaderMap,
    body: Body,
    model_label: &mut String,
) -> Result<Admitted, ApiError> {
    let config = &runtime.config;
    let key = api_key(headers);
    if !config.api_keys.is_empty() && !key.is_some_and(|k| config.api_keys.iter().any(|c| c == k)) {
        return Err(ApiError::unauthorized(key.is_some()));
    }
    let forced = match headers.get(Fault::HEADER) {
        None => None,
        Some(value) => {
            let value = value.to_str().unwrap_or("(not text)");
            Some(Fault::from_header(value).map_err(|m| ApiError::invalid_value(Fault::HEADER, m))?)
        }
    };
    let bytes = read_body(body, config.max_body_bytes).await?;
    let json = request::parse_json(&bytes)?;
    let request = match api {
        Api::Chat => request::parse_chat(&json)?,
        Api::Responses => request::parse_responses(&json)?,
    };
    let Some(model) = config.models.get(&request.model) else {
        return Err(ApiError::model_not_found(&request.model));
    };
    model_label.clone_from(&request.model);
    let index = runtime.requests.fetch_add(1, Ordering::Relaxed);

    let mut limit_headers = HeaderMap::new();
    if let Some(limiter) = &runtime.limiter {
        let cost = request
            .prompt_tokens
            .max(request.max_output_tokens.unwrap_or(0));
        let now = std::time::Instant::now();
        let (headers, refusal) = limiter.check(key.unwrap_or(""), &request.model, cost, now);
        limit_headers = headers;
        if let Some(refusal) = refusal {
            let label = LimitLabel {
                limit: refusal.limit,
            };
            shared.metrics.rate_limited.get_or_create(&label).inc();
            return Err(ApiError::rate_limited(refusal.message)
                .with_headers(limit_headers)
                .with_headers(retry_headers(refusal.retry_after)));
        }
    }

    let fault = forced.unwrap_or_else(|| config.faults.draw(&mut runtime.rng(index, Draw::Fault)));
    if let Some(fault) = fault {
        let label = FaultLabel { kind: fault.name() };
        shared.metrics.faults.get_or_create(&label).inc();
    }
    Ok(Admitted {
        request,
        model: model.clone(),
        index,
        fault,
        headers: limit_headers,
    })
}

/// Counts the request in flight and, if concurrency is capped, waits for a slot. Returns the
/// guard and how many requests were in flight before this one.
async fn enter(
    shared: &Arc<Shared>,
    runtime: &Runtime,
    api: Api,
    model: &str,
    start: Instant,
) -> Result<(InFlight, i64), ApiError> {
    let others = shared.metrics.in_flight.inc();
    let mut guard = InFlight {
        shared: shared.clone(),
        labels: RouteModel {
            route: api.route(),
            model: model.to_owned(),
        },
        start,
        first_token_seen: false,
        _permit: None,
    };
    if let Some(slots) = &runtime.slots {
        shared.metrics.queued.inc();
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.ok(),
            () = shared.shutdown.cancelled() => None,
        };
        shared.metrics.queued.dec();
        guard._permit = Some(permit.ok_or_else(ApiError::overloaded)?);
    }
    Ok((guard, others))
}

/// Draws the delays and the content, then answers: a paced stream, or the whole answer once
/// its last token would have been generated.
async fn answer(
    shared: &Arc<Shared>,
    runtime: &Runtime,
    api: Api,
    admitted: Admitted,
    guard: InFlight,
    others: i64,
) -> Result<Response, ApiError> {
    let Admitted {
        request,
        model,
        index,
        fault,
        headers: mut response_headers,
    } = admitted;
    let config = &runtime.config;
    let scale = config.time_scale * config.load.factor(others);
    let mut latency = runtime.rng(index, Draw::Latency);
    let ttft = scaled(model.ttft.sample(&mut latency), scale);
    let inter_token = scaled(model.inter_token.sample(&mut latency), scale);
    let text_tokens = model.output_tokens.sample(&mut latency);
    let mut content_rng = runtime.rng(index, Draw::Content);
    let prompt = Prompt {
        format: &request.format,
        user_input: &request.user_input,
        prompt_text: &request.prompt_text,
        max_output_tokens: request.max_output_tokens,
        text_tokens,
    };
    let answer = runtime.content.answer(&prompt, &mut content_rng);
    let label = ModelLabel {
        model: request.model.clone(),
    };
    shared
        .metrics
        .output_tokens
        .get_or_create(&label)
        .inc_by(u64::from(answer.tokens));
    let (stream, include_usage) = (request.stream, request.include_usage);
    let meta = meta(request, &mut content_rng);
    response_headers.insert(
        HeaderName::from_static("x-request-id"),
        request_id(&mut content_rng),
    );

    if fault == Some(Fault::SlowFirstByte) {
        let delay = scaled(config.faults.slow_first_byte_by, config.time_scale);
        pause_until(Instant::now() + delay, &shared.shutdown).await?;
    }
    let stall = match fault {
        Some(Fault::Stall) => scaled(config.faults.stall_for, config.time_scale),
        _ => Duration::ZERO,
    };
    let schedule = Schedule {
        start: Instant::now(),
        stall,
        ttft,
        inter_token,
        burst: fault == Some(Fault::Burst),
        // Mid-way: at least one token out, and one held back when there are two or more.
        drop_after: (fault == Some(Fault::Drop))
            .then(|| content_rng.random_range(1..answer.tokens.max(2))),
    };

    let (content_type, body) = if stream {
        let shutdown = shared.shutdown.clone();
        let tokens = TokenStream::new(api, meta, include_usage, answer, schedule, shutdown, guard);
        ("text/event-stream; charset=utf-8", tokens.into_body())
    } else {
        let body = json_body(shared, api, &meta, &answer, &schedule, fault, guard).await?;
        ("application/json", body)
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if stream {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    h.extend(response_headers);
    Ok(response)
}

/// A non-streaming answer: the whole JSON when its last token would have come.
async fn json_body(
    shared: &Shared,
    api: Api,
    meta: &Meta,
    answer: &Answer,
    schedule: &Schedule,
    fault: Option<Fault>,
    mut guard: InFlight,
) -> Result<Body, ApiError> {
    let json = match api {
        Api::Chat => response::chat_completion(meta, &answer.text, answer.tokens, answer.truncated),
        Api::Responses => response::response(meta, &answer.text, answer.tokens, answer.truncated),
    };
    let ready = schedule.start
        + schedule.stall
        + schedule.ttft
        + schedule
            .inter_token
            .saturating_mul(answer.tokens.saturating_sub(1));
    Ok(match fault {
        Some(Fault::Stall) => delayed_body(json, ready, guard, shared.shutdown.clone()),
        Some(Fault::Drop) => {
            pause_until(ready, &shared.shutdown).await?;
            guard.first_token();
            truncated_body(json, guard)
        }
        _ => {
            pause_until(ready, &shared.shutdown).await?;
            guard.first_token();
            Body::from(json)
        }
    })
}

/// Headers now, the answer at `ready` (a stall: the client sees a response head, then silence).
fn delayed_body(
    json: Vec<u8>,
    ready: Instant,
    mut guard: InFlight,
    shutdown: CancellationToken,
) -> Body {
    let once = futures_util::stream::once(async move {
        tokio::select! {
            () = tokio::time::sleep_until(ready) => {
                guard.first_token();
                Ok(Bytes::from(json))
            }
            () = shutdown.cancelled() => Err(io::Error::other("server shutting down")),
        }
    });
    Body::from_stream(once)
}

/// The first half of the answer, then a cut connection.
fn truncated_body(json: Vec<u8>, guard: InFlight) -> Body {
    let json = Bytes::from(json);
    let half = json.slice(..json.len() / 2);
    let cut = async move {
        // Pending once, so the server flushes the first half before the cut.
        tokio::task::yield_now().await;
        drop(guard);
        Err(io::Error::other("fault injected: connection dropped"))
    };
    let stream =
        futures_util::stream::once(async move { Ok(half) }).chain(futures_util::stream::once(cut));
    Body::from_stream(stream)
}

/// Scales a delay, saturating instead of overflowing.
fn scaled(d: Duration, factor: f64) -> Duration {
    if factor == 0.0 || d.is_zero() {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor)
        .unwrap_or(Delay::CEILING)
        .min(Delay::CEILING)
}

async fn pause_until(deadline: Instant, shutdown: &CancellationToken) -> Result<(), ApiError> {
    if deadline <= Instant::now() {
        return Ok(());
    }
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => Ok(()),
        () = shutdown.cancelled() => Err(ApiError::overloaded()),
    }
}

/// The body if it has at most `limit` bytes, or OpenAI's 413 (after draining, see
/// [`scan_serve::read_limited`]) or 400.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    scan_serve::read_limited(body, limit)
        .await
        .map_err(|e| match e {
            scan_serve::BodyError::TooLarge { limit } => ApiError::too_large(limit),
            scan_serve::BodyError::Read(e) => {
                ApiError::bad_request(format!("Could not read the request body: {e}"), None)
            }
        })
}

/// The presented API key: `Authorization: Bearer KEY` (OpenAI) or `api-key: KEY` (Azure).
fn api_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        return (!key.is_empty()).then_some(key);
    }
    headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// What the response bodies need from the request (moved, not copied: the schema may be big).
fn meta(request: ModelRequest, rng: &mut ChaCha8Rng) -> Meta {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (id, item_id) = match request.api {
        Api::Chat => (format!("chatcmpl-{}", alphanumeric(rng, 29)), String::new()),
        Api::Responses => (
            format!("resp_{}", hex(rng, 48)),
            format!("msg_{}", hex(rng, 48)),
        ),
    };
    Meta {
        id,
        item_id,
        created,
        model: request.model,
        prompt_tokens: request.prompt_tokens,
        instructions: request.instructions,
        format: request.format,
        max_output_tokens: request.max_output_tokens,
    }
}

fn request_id(rng: &mut ChaCha8Rng) -> HeaderValue {
    HeaderValue::from_str(&format!("req_{}", hex(rng, 32))).expect("hex is a valid header value")
}

fn alphanumeric(rng: &mut ChaCha8Rng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

fn hex(rng: &mut ChaCha8Rng, len: usize) -> String {
    const CHARS: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|_| CHARS[rng.random_range(0..16)] as char)
        .collect()
}

async fn list_models(State(shared): State<Arc<Shared>>) -> Response {
    let runtime = shared.runtime();
    let data: Vec<_> = runtime
        .config
        .models
        .keys()
        .map(|id| model_object(id))
        .collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "object": "list", "data": data }),
    )
}

async fn get_model(State(shared): State<Arc<Shared>>, Path(model): Path<String>) -> Response {
    if shared.runtime().config.models.contains_key(&model) {
        json_response(StatusCode::OK, &model_object(&model))
    } else {
        ApiError::model_not_found(&model).into_response()
    }
}

fn model_object(id: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "object": "model", "created": 1_715_367_049, "owned_by": "system" })
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut response = shared.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    ApiError::unknown_route(method.as_str(), uri.path()).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(method.as_str(), uri.path()).into_response()
}

pub(crate) fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).expect("response serializes");
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_saturates() {
        assert_eq!(scaled(Duration::from_secs(2), 0.5), Duration::from_secs(1));
        assert_eq!(scaled(Duration::from_secs(2), 0.0), Duration::ZERO);
        assert_eq!(scaled(Duration::MAX, 10.0), Delay::CEILING);
    }

    #[test]
    fn request_streams_are_independent_and_repeatable() {
        let runtime = Runtime::new(MockConfig::instant());
        let draw = |index, part| runtime.rng(index, part).random::<u64>();
        assert_eq!(draw(5, Draw::Fault), draw(5, Draw::Fault));
        assert_ne!(draw(5, Draw::Fault), draw(6, Draw::Fault));
        assert_ne!(draw(5, Draw::Fault), draw(5, Draw::Latency));
    }
}
