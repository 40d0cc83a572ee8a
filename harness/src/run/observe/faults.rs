//! The upstream failures the recorder answers in the auth-api's place,
//! ordered per group: what a chat-api must turn into 502/503/504.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};

/// The path under which a recorder takes fault orders:
/// `PUT {FAULTS_PATH}/{group_id}` with `{"fault": "<kind>"}`, and
/// `DELETE {FAULTS_PATH}/{group_id}` to lift it.
pub const FAULTS_PATH: &str = "/.conformance/faults";

/// How the recorder answers, in the auth-api's place, every call about one
/// group: the upstream failures a chat-api must turn into 502/503/504.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// 503 with a JSON error body.
    Unavailable,
    /// 500 with an HTML page.
    ServerError,
    /// 200 with a body that is not JSON.
    NotJson,
    /// No answer for longer than the contract lets the chat-api wait.
    Hang,
    /// 401 `invalid_token`, as to a token the auth-api no longer takes.
    Unauthorized,
    /// The connection closed without an answer, as when the auth-api's
    /// process dies mid-call (a proxy cannot refuse a connection it has
    /// accepted; this is the nearest it can do).
    Dropped,
}

impl Fault {
    /// Every fault, for the scenario values `fault.<name>.group`.
    pub const ALL: [Self; 6] = [
        Self::Unavailable,
        Self::ServerError,
        Self::NotJson,
        Self::Hang,
        Self::Unauthorized,
        Self::Dropped,
    ];

    /// The name in orders and scenario values.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::ServerError => "server-error",
            Self::NotJson => "not-json",
            Self::Hang => "hang",
            Self::Unauthorized => "unauthorized",
            Self::Dropped => "dropped",
        }
    }
}

/// How long a hanging fault holds the call: past the contract's 5 s.
const HANG: std::time::Duration = std::time::Duration::from_secs(8);

/// Orders `fault` for every call about `group` from the recorder at `url`.
pub async fn order(
    http: &reqwest::Client,
    url: &str,
    group: &str,
    fault: Fault,
) -> Result<(), String> {
    let response = http
        .put(format!("{url}{FAULTS_PATH}/{group}"))
        .json(&serde_json::json!({ "fault": fault }))
        .send()
        .await
        .map_err(|e| crate::run::client::root_cause(&e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the recorder at {url} answered a fault order {}: is it `conformance proxy`?",
            response.status()
        ))
    }
}

/// The answer a fault gives in the auth-api's place.
pub(super) async fn faulted(fault: Fault) -> (StatusCode, HeaderMap, Body, Option<String>) {
    let with_type = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(value),
        );
        headers
    };
    let json = |status, error: &str| {
        let body = serde_json::json!({ "error": error, "error_description": "injected by the conformance harness" });
        (
            status,
            with_type("application/json"),
            Body::from(body.to_string()),
            Some(error.to_owned()),
        )
    };
    match fault {
        Fault::Unavailable => json(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        Fault::Unauthorized => {
            let (status, mut headers, body, error) =
                json(StatusCode::UNAUTHORIZED, "invalid_token");
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            (status, headers, body, error)
        }
        Fault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            with_type("text/html"),
            Body::from("<html><body>upstream exploded</body></html>"),
            None,
        ),
        Fault::NotJson => (
            StatusCode::OK,
            with_type("text/plain"),
            Body::from("this is not the JSON you expected"),
            None,
        ),
        Fault::Hang => {
            tokio::time::sleep(HANG).await;
            (
                StatusCode::GATEWAY_TIMEOUT,
                HeaderMap::new(),
                Body::empty(),
                None,
            )
        }
        Fault::Dropped => (
            StatusCode::OK,
            with_type("application/json"),
            // A body that fails as it is sent: the connection is cut with
            // no answer complete.
            Body::from_stream(futures::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other(
                    "dropped by the conformance harness",
                ))
            })),
            None,
        ),
    }
}
