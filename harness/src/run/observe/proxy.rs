//! The recording proxy: forwards the chat-api's calls to the auth-api,
//! records each as a hop, and answers faults ordered for a group.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use tokio::net::TcpListener;

use crate::run::hop::{Hop, credential_kind, error_code, now_ms, trace_id};

use super::faults::{FAULTS_PATH, Fault, faulted};
use super::{HOPS_PATH, Recorder};

/// How long the proxy waits for the auth-api: longer than any timeout the
/// contract lets the chat-api use, so the chat-api's own timeout decides.
const UPSTREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) struct Proxy {
    upstream: String,
    http: reqwest::Client,
    recorder: Arc<Recorder>,
    /// Faults ordered, by group id.
    pub(super) faults: Mutex<std::collections::HashMap<String, Fault>>,
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

/// `PUT /.conformance/faults/{group}`: what the recorder answers for the
/// group's calls from now on.
#[derive(serde::Deserialize)]
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
