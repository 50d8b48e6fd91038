//! HTTP routes: the streaming and non-streaming scan endpoints, `/metrics`, `/healthz`,
//! `/readyz`, and JSON errors for everything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use scan_config::FaultKind;
use scan_serve::BodyError;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::chain::{Context, Run, ScanInput};
use crate::cluster::Cluster;
use crate::config::Protocol;
use crate::events::{Event, StageStatus};
use crate::exec::Executor;
use crate::faults::{Fault, Faults};
use crate::metrics::{self, Metrics};
use crate::relay::{Admitted, Kind, Limits, Next, Relay, sse_body};

/// State shared by every request.
pub(crate) struct Shared {
    pub protocol: Protocol,
    pub limits: Limits,
    pub faults: Faults,
    pub max_inflight: usize,
    pub ctx: Arc<Context>,
    pub executor: Executor,
    pub metrics: Arc<Metrics>,
    pub admission: Arc<Semaphore>,
    pub cluster: Arc<Cluster>,
    /// Requests admitted and not yet answered to the end.
    pub inflight: watch::Sender<usize>,
    pub draining: AtomicBool,
    /// Ends every relay with an error event (end of the shutdown grace).
    pub abort: CancellationToken,
}

/// The largest scan request body: 2 MiB, plenty for an image URL and a question. A larger
/// one is read on and thrown away up to a bound, so that the client still sending gets its
/// 413 rather than a broken pipe.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/scan/classify/completion", post(completion))
        .route("/api/v1/scan/classify", post(classify))
        .route("/metrics", get(metrics))
        .route(
            "/healthz",
            get(|| async { json(StatusCode::OK, json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "method not allowed on this route",
            )
        })
        .with_state(shared)
}

fn json(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

fn error(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Response {
    ApiError::new(status, code, detail).into_response()
}

/// A refused request: `{"error": CODE, "detail": "..."}` with its status.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    retry_after: bool,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json(
            self.status,
            json!({"error": self.code, "detail": self.detail}),
        );
        if self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        shared.metrics.encode(),
    )
        .into_response()
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.load(Ordering::Relaxed) {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "DRAINING",
            "the server is shutting down",
        )
    } else {
        json(StatusCode::OK, json!({"status": "ready"}))
    }
}

/// A request that passed the checks: either a chain to run or Eco²'s image error.
enum Scan {
    Run {
        input: Arc<ScanInput>,
        /// The `x-pipeline-fault` header: `Some(None)` forces no fault.
        forced: Option<Option<Fault>>,
    },
    ImageUrlRequired,
}

/// The checks shared by both endpoints: the balancer in front (503 with no replica ready), then
/// in Eco²'s order user (401), body (400), admission (503); the stream endpoint also reads
/// `x-pipeline-fault` (400 when unknown) before admission.
fn admit(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    body: Result<Bytes, BodyError>,
    kind: Kind,
) -> Result<(Scan, Admitted), ApiError> {
    let lease = shared.cluster.route().map_err(|_| ApiError {
        retry_after: true,
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NO_HEALTHY_UPSTREAM",
            "no healthy upstream",
        )
    })?;
    let user_id = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing x-user-id header",
            )
        })?;
    let (body, user_input) = scan_body(body)?;
    let forced = match headers.get(Fault::HEADER) {
        Some(value) if kind == Kind::Stream => {
            let value = value.to_str().unwrap_or("(not text)");
            Some(
                Fault::from_header(value)
                    .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_HEADER", m))?,
            )
        }
        _ => None,
    };
    if shared.draining.load(Ordering::Relaxed) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DRAINING",
            "the server is shutting down",
        ));
    }
    let Ok(permit) = shared.admission.clone().try_acquire_owned() else {
        shared.metrics.admission_rejected.inc();
        return Err(ApiError {
            retry_after: true,
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "OVERLOADED",
                format!("{} requests are already in flight", shared.max_inflight),
            )
        });
    };
    let admitted = Admitted::new(
        permit,
        lease,
        shared.inflight.clone(),
        kind,
        &shared.metrics,
    );
    let scan = match body.get("image_url").and_then(Value::as_str) {
        Some(url) if is_http_url(url) => Scan::Run {
            input: Arc::new(ScanInput {
                task_id: uuid::Uuid::new_v4().to_string(),
                user_id: user_id.to_string(),
                image_url: url.to_string(),
                user_input,
            }),
            forced,
        },
        _ => Scan::ImageUrlRequired,
    };
    Ok((scan, admitted))
}

/// The scan request's JSON object and its `user_input` (empty when absent).
fn scan_body(
    body: Result<Bytes, BodyError>,
) -> Result<(serde_json::Map<String, Value>, String), ApiError> {
    let body = body.map_err(|e| match e {
        BodyError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            e.to_string(),
        ),
        BodyError::Read(_) => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_BODY", e.to_string()),
    })?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Value::Object(body) = body else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body must be a JSON object with image_url and user_input",
        ));
    };
    let user_input = match body.get("user_input") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                "user_input must be a string",
            ));
        }
    };
    Ok((body, user_input))
}

fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Starts the run (or the image error) and returns the relay that reads it.
fn launch(shared: &Arc<Shared>, scan: Scan, admitted: Admitted, kind: Kind) -> Relay {
    let started_at = Instant::now();
    let (events, receiver) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let mut fault = None;
    let task_id = match scan {
        Scan::Run { input, forced } => {
            if kind == Kind::Stream {
                fault = shared.faults.plan(forced);
            }
            let task_id = input.task_id.clone();
            let run = Run {
                input,
                events,
                cancel: cancel.clone(),
            };
            shared.executor.submit(&shared.ctx, run);
            task_id
        }
        Scan::ImageUrlRequired => {
            let _ = events.try_send(Event::Error {
                error: "IMAGE_URL_REQUIRED".into(),
            });
            String::new()
        }
    };
    Relay::new(
        kind,
        task_id,
        receiver,
        started_at,
        shared.limits,
        cancel,
        shared.abort.clone(),
        shared.metrics.clone(),
        admitted,
        fault,
    )
}

async fn completion(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let body = scan_serve::read_limited(body, MAX_BODY_BYTES).await;
    let (scan, admitted) = match admit(&shared, &headers, body, Kind::Stream) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let relay = launch(&shared, scan, admitted, Kind::Stream);
    let mut response = Body::from_stream(sse_body(relay, shared.protocol)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Eco²'s non-streaming endpoint: the same chain, answered as one JSON document.
async fn classify(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let body = scan_serve::read_limited(body, MAX_BODY_BYTES).await;
    let (scan, admitted) = match admit(&shared, &headers, body, Kind::Classify) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let mut relay = launch(&shared, scan, admitted, Kind::Classify);
    while let Some(next) = relay.next().await {
        let event = match next {
            Next::Event(event) => event,
            Next::Cut => {
                return error(
                    StatusCode::BAD_GATEWAY,
                    "REPLICA_RESTARTED",
                    "the replica serving the request restarted",
                );
            }
            Next::Keepalive | Next::Malformed => continue,
        };
        if !event.is_terminal() {
            continue;
        }
        return match event {
            Event::Stage {
                status: StageStatus::Completed,
                result: Some(result),
                ..
            } => axum::Json(*result).into_response(),
            Event::Stage { stage, error, .. } => json(
                StatusCode::BAD_GATEWAY,
                json!({"error": "STAGE_FAILED", "step": stage.name(), "detail": error}),
            ),
            Event::Timeout { task_id } => json(
                StatusCode::GATEWAY_TIMEOUT,
                json!({"error": "TIMEOUT", "task_id": task_id}),
            ),
            Event::Error { error: code } if code == "IMAGE_URL_REQUIRED" => error(
                StatusCode::BAD_REQUEST,
                "IMAGE_URL_REQUIRED",
                "image_url must be an http(s) URL",
            ),
            Event::Error { error: detail } => {
                error(StatusCode::SERVICE_UNAVAILABLE, "ERROR", detail)
            }
            Event::Started { .. } => continue,
        };
    }
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ERROR",
        "the chain ended without a result",
    )
}
