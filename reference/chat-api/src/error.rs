//! The chat-api's one error type, rendered as the contract's JSON body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reference_shared::ErrorBody;
use reference_shared::http::{BearerError, Rejected, quoted};

use crate::store::StoreError;
use crate::upstream::UpstreamError;

const REALM: &str = "chat-api";

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`: malformed JSON, a bad id, failed validation.
    #[error("{0}")]
    InvalidRequest(String),
    /// 413 `invalid_request`: the body is too large.
    #[error("the request body is too large")]
    TooLarge,
    /// 415 `invalid_request`: the body is not JSON.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// 401 `invalid_token` without an `error` attribute: no bearer token.
    #[error("this endpoint needs a bearer token")]
    MissingToken,
    /// 401 `invalid_token`: the token is not valid.
    #[error("{0}")]
    InvalidToken(String),
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 405 `invalid_request`.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// 422 `idempotency_key_reused`: the key came with another body before.
    #[error("this Idempotency-Key was used with another request")]
    IdempotencyKeyReused,
    /// 502, 503 or 504 `upstream_unavailable`: the auth-api failed; nothing was stored.
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    /// 503 `upstream_unavailable` with `Retry-After`: the database cannot be
    /// reached; the client may repeat the request (with its
    /// `Idempotency-Key`, a send is stored once however often it is repeated).
    #[error("the database is unavailable: try again shortly")]
    StoreUnavailable,
    /// 500: a bug or a database failure. Logged; the client learns nothing more.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request"),
            Self::MissingToken | Self::InvalidToken(_) => {
                (StatusCode::UNAUTHORIZED, "invalid_token")
            }
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            Self::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            Self::Upstream(UpstreamError::Unreachable) => {
                (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable")
            }
            Self::Upstream(UpstreamError::Timeout) => {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_unavailable")
            }
            Self::Upstream(UpstreamError::BadAnswer(_)) => {
                (StatusCode::BAD_GATEWAY, "upstream_unavailable")
            }
            Self::StoreUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let description = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "the server failed to handle the request".to_owned()
            }
            Self::Upstream(e) => {
                tracing::warn!(error = %e, "the auth-api failed");
                e.to_string()
            }
            other => other.to_string(),
        };
        let challenge = match &self {
            Self::MissingToken => Some(format!(r#"Bearer realm="{REALM}""#)),
            Self::InvalidToken(d) => Some(format!(
                r#"Bearer realm="{REALM}", error="invalid_token", error_description="{}""#,
                quoted(d)
            )),
            _ => None,
        };
        let mut response = (status, axum::Json(ErrorBody::new(code, description))).into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if matches!(self, Self::StoreUnavailable) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<BearerError> for ApiError {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Several => Self::InvalidRequest(error.to_string()),
            BearerError::Malformed(_) => Self::InvalidToken(error.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "the database is unavailable");
                Self::StoreUnavailable
            }
            StoreError::Database(detail) => Self::Internal(detail),
        }
    }
}

reference_shared::rejections_through!(ApiError);

impl From<Rejected> for ApiError {
    fn from(rejected: Rejected) -> Self {
        match rejected {
            Rejected::TooLarge => Self::TooLarge,
            Rejected::UnsupportedMediaType => Self::UnsupportedMediaType,
            Rejected::Invalid(why) => Self::InvalidRequest(why),
        }
    }
}

reference_shared::extractors!(ApiError: Json, Path, Query);
