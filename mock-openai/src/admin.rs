//! `GET` and `PUT /admin/config`: the config in force, and swapping it while running, with
//! the admin API's own body limit.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scan_config::FieldPath;

use crate::ConfigError;
use crate::config::MockConfig;
use crate::error::ApiError;
use crate::server::{Shared, json_response, read_body};

/// Largest `PUT /admin/config` body, in bytes. Fixed, and apart from the config's
/// `max_body_bytes` (which bounds model requests): a config whose limit is too small for a
/// config must not lock out the one API that can raise it again. 1 MiB holds any config
/// many times over.
pub const ADMIN_MAX_BODY_BYTES: usize = 1024 * 1024;

/// `GET /admin/config`: the config in force, API keys redacted.
pub(crate) async fn get_config(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &shared.runtime().config.redacted())
}

/// `PUT /admin/config`: a whole config as JSON (or TOML with a `toml` content type). An invalid
/// one is refused with 400 and the old one stays. The answer is the new config, keys redacted;
/// a config sent back with the redacted keys `GET` gave keeps the keys in force.
pub(crate) async fn put_config(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(body, ADMIN_MAX_BODY_BYTES).await?;
        let is_toml = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("toml"));
        let mut config = if is_toml {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::bad_request("The body is not UTF-8.", None))?;
            MockConfig::from_toml_str(text, "request body").map_err(config_error)?
        } else {
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            let config: MockConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = FieldPath::from_serde(e.path()).to_string();
                ApiError::bad_request(
                    format!("Invalid config at '{path}': {}", e.inner()),
                    Some(path),
                )
            })?;
            config.validate().map_err(|e| config_error(e.into()))?;
            config
        };
        config.keep_redacted_keys(&shared.runtime().config);
        shared.replace(config);
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => json_response(StatusCode::OK, &shared.runtime().config.redacted()),
        Err(e) => e.into_response(),
    }
}

fn config_error(e: ConfigError) -> ApiError {
    let field = e.field().map(ToString::to_string);
    ApiError::bad_request(format!("Invalid config: {e}"), field)
}
