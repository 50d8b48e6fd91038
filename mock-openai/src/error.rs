//! Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer, rendered as OpenAI renders it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Extra response headers (retry-after, rate-limit headers); boxed to keep errors small.
    pub headers: Option<Box<HeaderMap>>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            headers: None,
        }
    }

    fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// 400: a request field is missing.
    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("Missing required parameter: '{param}'."),
        )
        .param(param)
        .code("missing_required_parameter")
    }

    /// 400: a request field has the wrong type.
    pub fn invalid_type(param: &str, expected: &str, got: &serde_json::Value) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                describe(got)
            ),
        )
        .param(param)
        .code("invalid_type")
    }

    /// 400: a request field has a value outside its allowed set.
    pub fn invalid_value(param: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            .param(param)
            .code("invalid_value")
    }

    /// 400: a request field is a string that is not one of `supported`.
    pub fn unsupported_choice(param: &str, value: &str, supported: &[&str]) -> Self {
        Self::invalid_value(
            param,
            format!(
                "Invalid value: '{value}'. Supported values are: {}.",
                quoted_list(supported)
            ),
        )
    }

    /// 400: a number beyond one of its bounds, in OpenAI's words (`Invalid 'temperature':
    /// decimal above maximum value. Expected a value <= 2, but got 5 instead.`).
    pub fn out_of_range(
        param: &str,
        crossed: Crossed,
        bound: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        let (code, what, relation) = match crossed {
            Crossed::DecimalMin => (
                "decimal_below_min_value",
                "decimal below minimum value",
                ">=",
            ),
            Crossed::DecimalMax => (
                "decimal_above_max_value",
                "decimal above maximum value",
                "<=",
            ),
            Crossed::IntegerMin => (
                "integer_below_min_value",
                "integer below minimum value",
                ">=",
            ),
            Crossed::IntegerMax => (
                "integer_above_max_value",
                "integer above maximum value",
                "<=",
            ),
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "Invalid '{param}': {what}. Expected a value {relation} {bound}, but got {got} instead."
            ),
        )
        .param(param)
        .code(code)
    }

    /// 400: an empty array where at least one item is needed.
    pub fn empty_array(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
            ),
        )
        .param(param)
        .code("empty_array")
    }

    /// 400: an array with more items than allowed.
    pub fn array_too_long(param: &str, max: usize, len: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "Invalid '{param}': array too long. Expected an array with maximum length {max}, but got an array with length {len} instead."
            ),
        )
        .param(param)
        .code("array_above_max_length")
    }

    /// 400: a string longer than allowed (lengths in characters).
    pub fn string_too_long(param: &str, max: usize, len: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "Invalid '{param}': string too long. Expected a string with maximum length {max}, but got a string with length {len} instead."
            ),
        )
        .param(param)
        .code("string_above_max_length")
    }

    /// 400: an object key (a `metadata` key) longer than allowed; `object` names the object,
    /// `param` the key's path.
    pub fn key_too_long(object: &str, param: &str, key: &str, max: usize, len: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "Invalid property name in '{object}': '{key}' is too long. Expected a string with maximum length {max}, but got a string with length {len} instead."
            ),
        )
        .param(param)
        .code("string_above_max_length")
    }

    /// 400: an object with more keys than allowed.
    pub fn too_many_properties(param: &str, max: usize, len: usize) -> Self {
        Self::invalid_value(
            param,
            format!(
                "Invalid '{param}': too many properties. Expected an object with at most {max} properties, but got an object with {len} properties instead."
            ),
        )
    }

    /// 400: a value OpenAI would take that this server does not serve, with the reason.
    pub fn unsupported_value(param: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            .param(param)
            .code("unsupported_value")
    }

    /// 400: a top-level chat-completions parameter that does not exist. Chat Completions names
    /// it in the message only, with neither `param` nor `code`.
    pub fn unrecognized_argument(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("Unrecognized request argument supplied: {name}"),
        )
    }

    /// 400: a Responses API parameter that does not exist (or a nested one of either API).
    pub fn unknown_parameter(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("Unknown parameter: '{param}'."),
        )
        .param(param)
        .code("unknown_parameter")
    }

    /// 400: the body is not JSON.
    pub fn malformed_json(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using \
                 your HTTP library correctly. The OpenAI API expects a JSON payload.) Detail: {detail}"
            ),
        )
    }

    /// 400: something else is wrong with the request (e.g. an admin config that fails validation).
    pub fn bad_request(message: impl Into<String>, param: Option<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.param = param;
        e
    }

    /// 401: missing or unknown API key.
    pub fn unauthorized(presented: bool) -> Self {
        let message = if presented {
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        } else {
            "You didn't provide an API key. You need to provide your API key in an Authorization header using \
             Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        };
        let e = Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message);
        if presented {
            e.code("invalid_api_key")
        } else {
            e
        }
    }

    /// 401: `/admin/config` without the admin token the server was started with, or with
    /// another one. Never echoes what was presented.
    pub fn admin_unauthorized(presented: bool) -> Self {
        let message = if presented {
            "Incorrect admin token provided."
        } else {
            "This server's admin API requires its admin token in an Authorization header using \
             Bearer auth (i.e. Authorization: Bearer YOUR_ADMIN_TOKEN)."
        };
        let e = Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message).with_headers(
            HeaderMap::from_iter([(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mock-openai admin\""),
            )]),
        );
        if presented {
            e.code("invalid_admin_token")
        } else {
            e
        }
    }

    /// 404: unknown model.
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .param("model")
        .code("model_not_found")
    }

    /// 404: unknown route (OpenAI's wording).
    pub fn unknown_route(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Invalid URL ({method} {path})"),
        )
    }

    /// 405: known route, wrong method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            format!("Method {method} is not allowed for {path}"),
        )
    }

    /// 413: body over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("Request body too large: the limit is {limit} bytes."),
        )
        .code("request_too_large")
    }

    /// 429: over a rate limit.
    pub fn rate_limited(message: String) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "requests", message).code("rate_limit_exceeded")
    }

    /// 500: injected server error.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        )
    }

    /// 503: injected overload, or the server is shutting down.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "The server is overloaded or not ready yet.",
        )
    }

    /// Adds response headers.
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers.get_or_insert_default().extend(headers);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        let body = Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        };
        serde_json::to_vec(&body).expect("error body serializes")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(extra) = self.headers {
            headers.extend(*extra);
        }
        response
    }
}

/// Which bound of its range a number crossed; decides OpenAI's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Crossed {
    /// `decimal_below_min_value`.
    DecimalMin,
    /// `decimal_above_max_value`.
    DecimalMax,
    /// `integer_below_min_value`.
    IntegerMin,
    /// `integer_above_max_value`.
    IntegerMax,
}

/// `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`: OpenAI's lists of supported values.
fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

/// OpenAI's wording for a JSON value's type in error messages.
fn describe(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
