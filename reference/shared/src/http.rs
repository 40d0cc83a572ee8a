//! HTTP pieces both services use the same way (feature `http`): the bearer
//! credentials of a request, logging and the request log line, and the
//! safety net that turns any error response that is not JSON into the
//! contract's body.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::ErrorBody;

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The layers every service of the contract wears, outermost first: a
/// panic becomes a logged 500 with the contract's body; one log line per
/// request; any error response that is not JSON (an unknown path's 404, a
/// wrong method's 405, an extractor's rejection) becomes the contract's
/// body; bodies over `body_limit` bytes are refused with 413, header
/// sections over [`HEADER_LIMIT`] with 431.
pub fn contract_layers(router: axum::Router, body_limit: usize) -> axum::Router {
    router
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(limit_headers))
        .layer(axum::middleware::map_response(json_errors_only))
        .layer(axum::middleware::from_fn(log_requests))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            let body = ErrorBody::new("server_error", "the server failed to handle the request");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
        }))
}

/// The largest header section a request may have: far more than any
/// request of the contract needs (a token is under 1 KiB). hyper itself
/// refuses a request head over about 400 KiB before any layer runs, with a
/// bare 431; between the two, this limit answers in the contract's body.
pub const HEADER_LIMIT: usize = 32 * 1024;

/// Refuses requests whose headers add up to more than [`HEADER_LIMIT`].
pub async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > HEADER_LIMIT {
        let body = ErrorBody::new(
            "invalid_request",
            format!("the request's headers exceed {} KiB", HEADER_LIMIT / 1024),
        );
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            axum::Json(body),
        )
            .into_response();
    }
    next.run(request).await
}

/// What is wrong with a request's `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// More than one `Authorization` header (RFC 6750 §3.1: `invalid_request`).
    #[error("send one Authorization header, not several")]
    Several,
    /// A header that is not ASCII, or `Bearer` with nothing after it
    /// (`invalid_token`).
    #[error("{0}")]
    Malformed(&'static str),
}

/// The bearer token of a request, `None` when it sent no bearer credentials
/// (no header, or credentials of another scheme).
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BearerError::Several);
    }
    let value = value
        .to_str()
        .map_err(|_| BearerError::Malformed("the Authorization header is not ASCII"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(BearerError::Malformed("the bearer token is empty"))
            } else {
                Ok(Some(token))
            }
        }
        _ => Ok(None),
    }
}

/// Makes a text safe inside a quoted-string of a challenge (RFC 9110 §5.6.4).
pub fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
        .collect()
}

/// One log line per request: method, path without the query (which may
/// hold what a client should not have sent), status and time. Never headers
/// or bodies, which hold credentials.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis(),
        "request"
    );
    response
}

/// The safety net under every route: an error response that is not JSON (a
/// rejection from an extractor the service does not wrap) becomes the
/// contract's error body, with the same status and headers.
#[allow(clippy::unused_async)] // `middleware::map_response` takes an async fn.
pub async fn json_errors_only(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => "invalid_token",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::CONFLICT => "conflict",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request",
    };
    let description = status
        .canonical_reason()
        .unwrap_or("the request failed")
        .to_lowercase();
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&ErrorBody::new(code, description)).unwrap_or_default();
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        map
    }

    #[test]
    fn reads_bearer_credentials_and_nothing_else() {
        assert_eq!(bearer(&headers(&[b"Bearer abc"])), Ok(Some("abc")));
        assert_eq!(bearer(&headers(&[b"bearer  abc "])), Ok(Some("abc")));
        assert_eq!(bearer(&headers(&[b"Basic abc"])), Ok(None));
        assert_eq!(bearer(&headers(&[])), Ok(None));
        assert_eq!(
            bearer(&headers(&[b"Bearer a", b"Bearer b"])),
            Err(BearerError::Several)
        );
        assert!(matches!(
            bearer(&headers(&[b"Bearer "])),
            Err(BearerError::Malformed(_))
        ));
        assert!(matches!(
            bearer(&headers(&[b"Bearer \xe9"])),
            Err(BearerError::Malformed(_))
        ));
    }

    #[test]
    fn quoting_drops_what_would_break_the_header() {
        assert_eq!(quoted("a \"b\" \\c\n"), "a b c");
    }
}

/// What an extractor's rejection means under the contract: a body over
/// the limit (413), a body in another media type (415), or bad input
/// (400 `invalid_request`, with axum's account of what was wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// 413: over the body limit.
    TooLarge,
    /// 415: not the media type the endpoint takes.
    UnsupportedMediaType,
    /// 400 `invalid_request`.
    Invalid(String),
}

impl From<axum::extract::rejection::JsonRejection> for Rejected {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            _ => Self::Invalid(rejection.body_text()),
        }
    }
}

impl From<axum::extract::rejection::PathRejection> for Rejected {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        Self::Invalid(rejection.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for Rejected {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::Invalid(rejection.body_text())
    }
}

/// `From` the JSON, path and query rejections for a service's error type,
/// through [`Rejected`] (which the error type converts from): one
/// account of what a rejection means, for both services.
#[macro_export]
macro_rules! rejections_through {
    ($error:ty) => {
        impl From<::axum::extract::rejection::JsonRejection> for $error {
            fn from(rejection: ::axum::extract::rejection::JsonRejection) -> Self {
                $crate::http::Rejected::from(rejection).into()
            }
        }
        impl From<::axum::extract::rejection::PathRejection> for $error {
            fn from(rejection: ::axum::extract::rejection::PathRejection) -> Self {
                $crate::http::Rejected::from(rejection).into()
            }
        }
        impl From<::axum::extract::rejection::QueryRejection> for $error {
            fn from(rejection: ::axum::extract::rejection::QueryRejection) -> Self {
                $crate::http::Rejected::from(rejection).into()
            }
        }
    };
}

/// The contract's extractors for a service's error type, those the service
/// names of `Json`, `Path` and `Query`: each rejects with that error (through
/// [`rejections_through!`]), and `Json` also answers as `axum::Json`.
#[macro_export]
macro_rules! extractors {
    ($error:ident: $($name:ident),+ $(,)?) => {
        $($crate::extractors!(@one $error $name);)+
    };
    (@one $error:ident Json) => {
        /// `Json` whose rejections are the contract's errors.
        #[derive(Debug, axum::extract::FromRequest)]
        #[from_request(via(axum::Json), rejection($error))]
        pub struct Json<T>(pub T);

        impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
            fn into_response(self) -> axum::response::Response {
                axum::response::IntoResponse::into_response(axum::Json(self.0))
            }
        }
    };
    (@one $error:ident Path) => {
        /// `Path` whose rejections are the contract's errors.
        #[derive(Debug, axum::extract::FromRequestParts)]
        #[from_request(via(axum::extract::Path), rejection($error))]
        pub struct Path<T>(pub T);
    };
    (@one $error:ident Query) => {
        /// `Query` whose rejections are the contract's errors.
        #[derive(Debug, axum::extract::FromRequestParts)]
        #[from_request(via(axum::extract::Query), rejection($error))]
        pub struct Query<T>(pub T);
    };
}

/// The serving half of a service's `Application` (a struct with a bound
/// `listener` and its `state`, served by `router(state)`): its address and
/// URL, and serving until a future completes, with or without a layer
/// wrapped around the router. Both services' are this one.
#[macro_export]
macro_rules! serving {
    ($application:ty, $state:ty, $router:path) => {
        impl $application {
            /// The address it listens on.
            pub fn address(&self) -> ::std::net::SocketAddr {
                self.listener
                    .local_addr()
                    .expect("a bound listener has an address")
            }

            /// Its base URL, `http://host:port`.
            pub fn url(&self) -> String {
                format!("http://{}", self.address())
            }

            /// Serves until the future `shutdown` completes.
            pub async fn run_until(
                self,
                shutdown: impl Future<Output = ()> + Send + 'static,
            ) -> ::std::io::Result<()> {
                self.run_wrapped(|router, _| router, shutdown).await
            }

            /// Serves the router as `wrap` changes it (a test or the
            /// harness adding a layer around the service) until `shutdown`
            /// completes.
            pub async fn run_wrapped(
                self,
                wrap: impl FnOnce(::axum::Router, &$state) -> ::axum::Router,
                shutdown: impl Future<Output = ()> + Send + 'static,
            ) -> ::std::io::Result<()> {
                let app = wrap($router(self.state.clone()), &self.state);
                ::axum::serve(self.listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }

            /// Serves until the process is stopped.
            pub async fn run_until_stopped(self) -> ::std::io::Result<()> {
                self.run_until(::std::future::pending()).await
            }
        }
    };
}
