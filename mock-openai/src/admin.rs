//! `GET` and `PUT /admin/config`: the config in force, and swapping it while running; the
//! optional admin token that guards both, and the admin API's own body limit.

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

/// The environment variable holding the admin token; set and non-empty, it makes `GET` and
/// `PUT /admin/config` require `Authorization: Bearer <token>`. Read by
/// [`ServerOptions::from_env`], and so by [`crate::serve_until_signal`]: the `mock-openai`
/// binary and `scan-bench serve`.
pub const ADMIN_TOKEN_ENV: &str = "MOCK_OPENAI_ADMIN_TOKEN";

/// The secret the admin API asks for. It is kept beside the config, never in it, so that no
/// view of the config (`GET /admin/config`, reports, logs) can show it; its `Debug` shows
/// [`crate::REDACTED`].
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

/// Why a string cannot be an admin token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdminTokenError {
    /// The token is empty.
    #[error("an admin token must not be empty")]
    Empty,
    /// The token holds a character a client cannot send after `Bearer ` in a header.
    #[error(
        "an admin token may hold only visible ASCII characters (it is sent as \
         `Authorization: Bearer <token>`)"
    )]
    NotVisibleAscii,
}

impl AdminToken {
    /// A token of visible ASCII characters (`!` to `~`): what fits in an `Authorization`
    /// header as sent, so that the server cannot start with a token no client can present.
    pub fn new(token: impl Into<String>) -> Result<Self, AdminTokenError> {
        let token = token.into();
        if token.is_empty() {
            return Err(AdminTokenError::Empty);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminTokenError::NotVisibleAscii);
        }
        Ok(Self(token))
    }

    /// Whether `presented` is this token, in time that does not depend on where the two first
    /// differ: a client timing its guesses learns nothing byte by byte. (A length mismatch
    /// returns at once; a length is not worth hiding.) A plain fold over the bytes does this
    /// without a dependency; `black_box` keeps the compiler from turning it back into an
    /// early-exit comparison.
    fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        if expected.len() != presented.len() {
            return false;
        }
        let difference = expected
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AdminToken").field(&crate::REDACTED).finish()
    }
}

/// How a server runs, beside its [`MockConfig`]: what an admin swap of the config cannot
/// change. `Default` is no admin token (the admin API open, as on loopback by default).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerOptions {
    /// When set, `GET` and `PUT /admin/config` require `Authorization: Bearer <token>`.
    pub admin_token: Option<AdminToken>,
}

impl ServerOptions {
    /// The options with `token` as the admin token.
    pub fn with_admin_token(mut self, token: AdminToken) -> Self {
        self.admin_token = Some(token);
        self
    }

    /// The options the environment asks for: the admin token from [`ADMIN_TOKEN_ENV`] when it
    /// is set and non-empty. A value that cannot be a token is an error, not an open admin API.
    pub fn from_env() -> Result<Self, AdminTokenError> {
        let admin_token = match std::env::var_os(ADMIN_TOKEN_ENV) {
            None => None,
            Some(value) if value.is_empty() => None,
            Some(value) => Some(AdminToken::new(
                value
                    .into_string()
                    .map_err(|_| AdminTokenError::NotVisibleAscii)?,
            )?),
        };
        Ok(Self { admin_token })
    }
}

/// Lets the request through when no admin token is set or when it presents the token as
/// `Authorization: Bearer <token>`; 401 otherwise. Checked before the body is read.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = shared.admin_token() else {
        return Ok(());
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::admin_unauthorized(false));
    };
    // The scheme is case-insensitive (RFC 9110); the token is compared as bytes.
    let value = value.as_bytes();
    let presented = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| value[7..].trim_ascii());
    match presented {
        Some(presented) if token.matches(presented) => Ok(()),
        _ => Err(ApiError::admin_unauthorized(true)),
    }
}

/// `GET /admin/config`: the config in force, API keys redacted.
pub(crate) async fn get_config(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&shared, &headers) {
        return e.into_response();
    }
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
        authorize(&shared, &headers)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_visible_ascii_and_never_shown() {
        assert_eq!(AdminToken::new(""), Err(AdminTokenError::Empty));
        assert_eq!(
            AdminToken::new("two words"),
            Err(AdminTokenError::NotVisibleAscii)
        );
        assert_eq!(
            AdminToken::new("tök"),
            Err(AdminTokenError::NotVisibleAscii)
        );
        let token = AdminToken::new("s3cr3t-token").unwrap();
        assert!(!format!("{token:?}").contains("s3cr3t"));
        assert!(
            !format!("{:?}", ServerOptions::default().with_admin_token(token)).contains("s3cr3t")
        );
    }

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new("abc123").unwrap();
        assert!(token.matches(b"abc123"));
        for other in [&b"abc124"[..], b"abc12", b"abc1234", b"", b"ABC123"] {
            assert!(!token.matches(other), "{other:?}");
        }
    }
}
