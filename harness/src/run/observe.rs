//! Observation of the calls between the services: a recording proxy put
//! between the chat-api and the auth-api (by the reference stack, or by an
//! operator with `conformance proxy`), and the hops of each step, so that
//! a failure can be drawn as the sequence of calls that led to it.
//!
//! Each request the harness sends carries a W3C `traceparent` with a trace
//! id of its own; a chat-api that passes it on to the auth-api (the
//! reference does) lets the recorder attribute each upstream call to the
//! request that caused it, even with scenarios running concurrently.
//! Calls without a trace id are attributed by time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::run::hop::{Hop, credential_kind, error_code, now_ms, trace_id};

/// The path under which a recorder answers with what it saw.
pub const HOPS_PATH: &str = "/.conformance/hops";
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

/// The most hops a recorder keeps: a proxy that runs for days stays
/// bounded, and a run reads the newest.
pub const MAX_HOPS: usize = 20_000;

/// The hops a recorder has seen, the newest [`MAX_HOPS`].
#[derive(Debug, Default)]
pub struct Recorder {
    hops: Mutex<std::collections::VecDeque<Hop>>,
}

impl Recorder {
    fn record(&self, hop: Hop) {
        let mut hops = self
            .hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if hops.len() == MAX_HOPS {
            hops.pop_front();
        }
        hops.push_back(hop);
    }

    /// Every call so far, in order.
    pub fn hops(&self) -> Vec<Hop> {
        self.hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Where the harness reads the calls between the services from.
#[derive(Debug, Clone)]
pub enum Observer {
    /// A recorder in this process (the reference stack).
    Local(Arc<Recorder>),
    /// A `conformance proxy` elsewhere, at this URL.
    Remote(String),
}

impl Observer {
    /// Every call recorded so far, or why the recorder could not say: a
    /// recorder that does not answer has not seen "nothing".
    pub async fn hops(&self, http: &reqwest::Client) -> Result<Vec<Hop>, String> {
        match self {
            Self::Local(recorder) => Ok(recorder.hops()),
            Self::Remote(url) => {
                let at = format!("{url}{HOPS_PATH}");
                let response = http
                    .get(&at)
                    .send()
                    .await
                    .map_err(|e| format!("the recorder at {at} does not answer: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!(
                        "the recorder at {at} answered {}",
                        response.status()
                    ));
                }
                response
                    .json()
                    .await
                    .map_err(|e| format!("the recorder at {at} answered no list of calls: {e}"))
            }
        }
    }
}

/// How long the proxy waits for the auth-api: longer than any timeout the
/// contract lets the chat-api use, so the chat-api's own timeout decides.
const UPSTREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    recorder: Arc<Recorder>,
    /// Faults ordered, by group id.
    faults: Mutex<std::collections::HashMap<String, Fault>>,
}

impl Proxy {
    /// The fault ordered for the group a call names, if any.
    fn fault_for(&self, path: &str) -> Option<Fault> {
        let group = path.strip_prefix("/api/auth/groups/")?.split('/').next()?;
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(group)
            .copied()
    }
}

/// Starts a recorder on `listener` in front of `upstream` (trusting the
/// platform's roots and the CA certificates in `ca_pem`). Calls about a
/// group with a fault ordered (`PUT /.conformance/faults/{group}`) get the
/// fault without reaching the auth-api.
pub fn serve_proxy(
    listener: TcpListener,
    upstream: &str,
    recorder: Arc<Recorder>,
    ca_pem: Option<&[u8]>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let state = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        http: crate::run::client::http_client(ca_pem, UPSTREAM_TIMEOUT, true)?,
        recorder,
        faults: Mutex::default(),
    });
    let app = axum::Router::new()
        .route(HOPS_PATH, axum::routing::get(hops))
        .route(
            &format!("{FAULTS_PATH}/{{group}}"),
            axum::routing::put(order_fault).delete(clear_fault),
        )
        .fallback(forward)
        .with_state(state);
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// Starts a recorder on a free local port; returns its URL (the reference
/// stack's own).
#[cfg(feature = "reference")]
pub async fn start_proxy(
    upstream: &str,
    recorder: Arc<Recorder>,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = serve_proxy(listener, upstream, recorder, None).map_err(std::io::Error::other)?;
    Ok((url, task))
}

#[derive(Deserialize)]
struct Order {
    fault: Fault,
}

async fn order_fault(
    State(proxy): State<Arc<Proxy>>,
    axum::extract::Path(group): axum::extract::Path<String>,
    axum::Json(order): axum::Json<Order>,
) -> StatusCode {
    proxy
        .faults
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(group, order.fault);
    StatusCode::NO_CONTENT
}

async fn clear_fault(
    State(proxy): State<Arc<Proxy>>,
    axum::extract::Path(group): axum::extract::Path<String>,
) -> StatusCode {
    proxy
        .faults
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&group);
    StatusCode::NO_CONTENT
}

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
async fn faulted(fault: Fault) -> (StatusCode, HeaderMap, Body, Option<String>) {
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

async fn hops(State(proxy): State<Arc<Proxy>>) -> axum::Json<Vec<Hop>> {
    axum::Json(proxy.recorder.hops())
}

/// Forwards a call and records it. The chat-api may give up on a call (its
/// deadline ran out) and close the connection, which drops this handler:
/// the call was made all the same, so the forwarding and the recording run
/// in a task of their own, to the end.
async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    tokio::spawn(forward_and_record(proxy, request))
        .await
        .unwrap_or_else(|e| {
            let mut response = Response::new(Body::from(format!("the recorder failed: {e}")));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        })
}

async fn forward_and_record(proxy: Arc<Proxy>, request: Request) -> Response {
    let at = Instant::now();
    let started_ms = now_ms();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let target = format!(
        "{}{}",
        proxy.upstream,
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let headers = request.headers().clone();
    let credential = credential_kind(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    // A token request is read whole for the scope it asks for (a form of
    // a few hundred bytes); any other body streams through unchanged,
    // whatever its size.
    let (body, scope) = if path == "/oauth/token" {
        let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let scope = String::from_utf8_lossy(&bytes)
            .split('&')
            .find_map(|pair| pair.strip_prefix("scope="))
            .and_then(reference_shared::form::decode);
        (reqwest::Body::from(bytes), scope)
    } else {
        let stream = request.into_body().into_data_stream();
        (reqwest::Body::wrap_stream(stream), None)
    };
    let (status, response_headers, answer, error) = match proxy.fault_for(&path) {
        Some(fault) => faulted(fault).await,
        None => relay(&proxy, method.clone(), &target, &headers, body).await,
    };
    proxy.recorder.record(Hop {
        from: "chat-api".to_owned(),
        to: "auth-api".to_owned(),
        method: method.to_string(),
        path,
        status: status.as_u16(),
        error,
        credential,
        scope,
        duration_ms: u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX),
        started_ms,
        trace: trace_id(&headers),
    });
    let mut response = Response::new(answer);
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response
}

/// Sends the call on; the answer's status, headers and body, and its
/// `error` code. An error answer (small) is read whole for its code; any
/// other body streams back unchanged.
async fn relay(
    proxy: &Proxy,
    method: axum::http::Method,
    target: &str,
    headers: &HeaderMap,
    body: reqwest::Body,
) -> (StatusCode, HeaderMap, Body, Option<String>) {
    let mut outgoing = proxy.http.request(method, target).body(body);
    for (name, value) in headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = answer.headers().clone();
            headers.remove(header::TRANSFER_ENCODING);
            headers.remove(header::CONNECTION);
            headers.remove(header::CONTENT_LENGTH);
            if status.is_client_error() || status.is_server_error() {
                let body = answer.bytes().await.unwrap_or_default();
                let error = error_code(&body);
                (status, headers, Body::from(body), error)
            } else {
                (
                    status,
                    headers,
                    Body::from_stream(answer.bytes_stream()),
                    None,
                )
            }
        }
        Err(_) => (
            StatusCode::BAD_GATEWAY,
            HeaderMap::new(),
            Body::empty(),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(n: u64) -> Hop {
        Hop {
            from: "chat-api".to_owned(),
            to: "auth-api".to_owned(),
            method: "GET".to_owned(),
            path: "/".to_owned(),
            status: 200,
            error: None,
            credential: None,
            scope: None,
            duration_ms: 0,
            started_ms: n,
            trace: None,
        }
    }

    #[test]
    fn a_recorder_keeps_the_newest_hops_only() {
        let recorder = Recorder::default();
        for n in 0..(MAX_HOPS as u64 + 5) {
            recorder.record(hop(n));
        }
        let hops = recorder.hops();
        assert_eq!(hops.len(), MAX_HOPS);
        assert_eq!(hops[0].started_ms, 5);
    }

    /// Bodies of any size pass through the proxy unchanged, both ways.
    #[tokio::test]
    async fn the_proxy_passes_large_bodies_through_unchanged() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
        let echo = axum::Router::new()
            .fallback(|body: axum::body::Bytes| async move { body })
            .layer(axum::extract::DefaultBodyLimit::disable());
        tokio::spawn(async move { axum::serve(upstream, echo).await });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("http://{}", listener.local_addr().unwrap());
        let recorder = Arc::new(Recorder::default());
        let _task = serve_proxy(listener, &upstream_url, recorder.clone(), None).unwrap();
        let body: Vec<u8> = (0..3 * 1024 * 1024_u32)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let answer = reqwest::Client::new()
            .post(format!("{proxy_url}/api/auth/anything"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.bytes().await.unwrap().as_ref(), body.as_slice());
        assert_eq!(recorder.hops().len(), 1);
    }
}
