//! The auth-api's one error type: every failure a handler can meet, each
//! rendered as the contract's JSON body with its status and headers.

use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reference_shared::ErrorBody;
use reference_shared::http::{BearerError, Rejected, quoted};

use crate::store::StoreError;

/// Realm named in `WWW-Authenticate` challenges.
const REALM: &str = "auth-api";

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`: malformed JSON, a bad id in the path, failed validation.
    #[error("{0}")]
    InvalidRequest(String),
    /// 413 `invalid_request`: the body is larger than the service accepts.
    #[error("the request body is too large")]
    TooLarge,
    /// 415 `invalid_request`: a body in a content type the endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 401 `invalid_token` without an `error` attribute in the challenge: no
    /// bearer credentials were sent (RFC 6750 §3.1).
    #[error("this endpoint needs a bearer token")]
    MissingToken,
    /// 401 `invalid_token`: the token is malformed, forged, expired, revoked
    /// or speaks for nobody.
    #[error("{0}")]
    InvalidToken(String),
    /// 401 `invalid_credentials`: wrong email or password, one answer for both.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// 403 `insufficient_scope`: a service token without the scope named.
    #[error("this endpoint needs the {0} scope")]
    InsufficientScope(&'static str),
    /// 403 `forbidden`: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 405 `invalid_request`: the path exists, the method does not.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// An RFC 6749 §5.2 error from an OAuth endpoint.
    #[error("{description}")]
    OAuth {
        /// The RFC 6749 error code.
        code: &'static str,
        /// What went wrong.
        description: String,
        /// 400 or 401.
        status: StatusCode,
        /// Whether to challenge with `WWW-Authenticate: Basic` (client authentication failed).
        basic_challenge: bool,
    },
    /// 503 `upstream_unavailable` with `Retry-After`: the service cannot
    /// take the request now (password hashing is full, the database cannot
    /// be reached); the client may repeat it.
    #[error("{0}")]
    Unavailable(&'static str),
    /// 500: a bug or a database failure. Logged; the client learns nothing more.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// An OAuth `invalid_request`.
    pub fn oauth_request(description: impl Into<String>) -> Self {
        Self::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// An OAuth error with this status and code.
    pub fn oauth(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            code,
            description: description.into(),
            status,
            basic_challenge: false,
        }
    }

    /// An OAuth `invalid_client`, 401 with a Basic challenge.
    pub fn invalid_client() -> Self {
        Self::OAuth {
            code: "invalid_client",
            description: "client authentication failed".to_owned(),
            status: StatusCode::UNAUTHORIZED,
            basic_challenge: true,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request")
            }
            Self::MissingToken | Self::InvalidToken(_) => {
                (StatusCode::UNAUTHORIZED, "invalid_token")
            }
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::OAuth { status, code, .. } => (*status, code),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }

    fn challenge(&self) -> Option<String> {
        match self {
            // A 401 always challenges (RFC 9110 §15.5.2); without credentials
            // the challenge has no error attribute (RFC 6750 §3.1).
            Self::MissingToken | Self::InvalidCredentials => {
                Some(format!(r#"Bearer realm="{REALM}""#))
            }
            Self::InvalidToken(description) => Some(format!(
                r#"Bearer realm="{REALM}", error="invalid_token", error_description="{}""#,
                quoted(description)
            )),
            Self::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}""#
            )),
            Self::OAuth {
                basic_challenge: true,
                ..
            } => Some(format!(r#"Basic realm="{REALM}", charset="UTF-8""#)),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let description = if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
            "the server failed to handle the request".to_owned()
        } else {
            self.to_string()
        };
        let challenge = self.challenge();
        let mut response = (status, axum::Json(ErrorBody::new(code, description))).into_response();
        let headers = response.headers_mut();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if matches!(self, Self::Unavailable(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, Self::OAuth { .. }) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
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

impl From<crate::password::Busy> for ApiError {
    fn from(_: crate::password::Busy) -> Self {
        Self::Unavailable("too many logins at once: try again in a second")
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::Conflict(message.to_owned()),
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "the database is unavailable");
                Self::Unavailable("the database is unavailable: try again shortly")
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

reference_shared::rejections_through!(ApiError);

impl From<Rejected> for ApiError {
    fn from(rejected: Rejected) -> Self {
        match rejected {
            Rejected::TooLarge => Self::TooLarge,
            Rejected::UnsupportedMediaType => {
                Self::UnsupportedMediaType("the body must be application/json".to_owned())
            }
            Rejected::Invalid(why) => Self::InvalidRequest(why),
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge,
            _ => Self::oauth_request(rejection.body_text()),
        }
    }
}

reference_shared::extractors!(ApiError: Json, Path);
