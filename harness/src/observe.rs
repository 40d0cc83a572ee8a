//! The recorder the harness puts between the chat-api and the auth-api of
//! the reference stack: it forwards every call, remembers method, path and
//! status of each, and fails every call about one chosen group, so that
//! scenarios can count the chat-api's token requests and see how it takes
//! an auth-api failure.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// One call from the chat-api to the auth-api.
#[derive(Debug, Clone)]
pub struct Hop {
    /// When it was made.
    pub at: Instant,
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The status the chat-api got.
    pub status: u16,
}

/// The hops seen so far.
#[derive(Debug, Default)]
pub struct Observer {
    hops: Mutex<Vec<Hop>>,
}

impl Observer {
    fn record(&self, hop: Hop) {
        self.hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hop);
    }

    /// Every call so far, in order.
    pub fn hops(&self) -> Vec<Hop> {
        self.hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How many calls with this method and path were made since `since`.
    pub fn count_since(&self, since: Instant, method: &str, path: &str) -> usize {
        self.hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|h| h.at >= since && h.method == method && h.path == path)
            .count()
    }
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    observer: Arc<Observer>,
    faulty: String,
}

/// Starts the recorder in front of `upstream`; returns its URL. Calls whose
/// path names `faulty_group` get 503 without reaching the auth-api.
pub async fn start_proxy(
    upstream: &str,
    observer: Arc<Observer>,
    faulty_group: uuid::Uuid,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let state = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
        observer,
        faulty: faulty_group.to_string(),
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, task))
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let at = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let target = format!(
        "{}{}",
        proxy.upstream,
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let response = if path.contains(&proxy.faulty) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "error": "temporarily_unavailable", "error_description": "injected by the conformance harness" })),
        )
            .into_response()
    } else {
        let headers = request.headers().clone();
        match axum::body::to_bytes(request.into_body(), 1 << 20).await {
            Ok(body) => relay(&proxy, method.clone(), &target, headers, body).await,
            Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        }
    };
    proxy.observer.record(Hop {
        at,
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
    });
    response
}

async fn relay(
    proxy: &Proxy,
    method: axum::http::Method,
    target: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut outgoing = proxy.http.request(method, target).body(body);
    for (name, value) in &headers {
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
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
