//! The one way the harness talks to a target: every request of every kind
//! of check (scenario steps, properties, fuzzing) goes through
//! [`Client::send`], which gives it a fresh W3C `traceparent`, and answers
//! with the [`Answer`] and the [`Hop`] it made (its path redacted), so that
//! observation and reports see every request alike.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::HarnessError;
use crate::run::hop::{self, Hop};
use crate::run::redact::Secrets;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer as the harness keeps it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub text: String,
    /// Body as JSON, if it is.
    pub json: Option<Value>,
    /// Why the body stopped short, when the connection cut it (the status
    /// and headers had come).
    pub cut: Option<String>,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or `null`.
    pub fn body(&self) -> Value {
        self.json.clone().unwrap_or(Value::Null)
    }

    /// Status and body, cut to `max` characters, for reports.
    pub fn shown(&self, max: usize) -> String {
        format!("{}\n{}", self.status, truncate(&self.text, max))
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The service it goes to, for the hop: `auth-api` or `chat-api`.
    pub service: &'static str,
    /// Method.
    pub method: reqwest::Method,
    /// The whole URL.
    pub url: String,
    /// Headers; values as bytes, since fuzzing sends some that are no text.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body and its content type (`""`: no `Content-Type` header).
    pub body: Option<(String, Vec<u8>)>,
    /// On a connection of its own: a server may close one after refusing
    /// a body it did not read, which must not fail the next request.
    pub fresh_connection: bool,
}

impl Outgoing {
    /// A request without headers or body.
    pub fn new(service: &'static str, method: reqwest::Method, url: impl Into<String>) -> Self {
        Self {
            service,
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            fresh_connection: false,
        }
    }

    /// With one more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// With a bearer token.
    #[must_use]
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// With a JSON body.
    #[must_use]
    pub fn json(self, value: &Value) -> Self {
        self.body("application/json", value.to_string())
    }

    /// With a body of this content type.
    #[must_use]
    pub fn body(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.to_owned(), bytes.into()));
        self
    }

    /// The header's value as text, if it is set and is text.
    pub fn header_text(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The harness's HTTP client.
#[derive(Clone)]
pub struct Client {
    pooled: reqwest::Client,
    fresh: reqwest::Client,
    secrets: Arc<Secrets>,
}

/// The certificates in a PEM bundle, or an error that says why not.
pub fn ca_certificates(pem: Option<&[u8]>) -> Result<Vec<reqwest::Certificate>, String> {
    let Some(pem) = pem else {
        return Ok(Vec::new());
    };
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".to_owned());
    }
    Ok(certs)
}

/// A reqwest client that trusts the platform's roots and these, with this
/// timeout: every HTTP client of the harness is made here.
pub fn http_client(
    ca_pem: Option<&[u8]>,
    timeout: Duration,
    pool: bool,
) -> Result<reqwest::Client, String> {
    // Idle connections go before the 5 s after which uvicorn and Node
    // close theirs; a close that still races a request is retried
    // ([`Client::send`]).
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(4));
    if !pool {
        builder = builder.pool_max_idle_per_host(0);
    }
    for cert in ca_certificates(ca_pem)? {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| root_cause(&e))
}

impl Client {
    /// A client whose hops keep these secrets out of their paths, trusting
    /// the platform's roots and the CA certificates in `ca_pem`.
    pub fn new(secrets: Arc<Secrets>, ca_pem: Option<&[u8]>) -> Result<Self, HarnessError> {
        let build =
            |pool: bool| http_client(ca_pem, REQUEST_TIMEOUT, pool).map_err(HarnessError::Config);
        Ok(Self {
            pooled: build(true)?,
            fresh: build(false)?,
            secrets,
        })
    }

    /// The underlying client, for what is not a check (preflight,
    /// provisioning, observation).
    pub fn http(&self) -> &reqwest::Client {
        &self.pooled
    }

    /// The secrets every report keeps out.
    pub fn secrets(&self) -> &Arc<Secrets> {
        &self.secrets
    }

    /// Sends a request with a fresh `traceparent`; the answer and the hop
    /// it made, or why there was no answer.
    ///
    /// How a server manages its connections never makes a request fail:
    /// a pooled connection the server closed as the request went out (an
    /// idle keep-alive timeout, as uvicorn's and Node's 5 s; a server that
    /// closes after every answer without saying so) is retried once on a
    /// fresh connection, which the server cannot have seen the request on;
    /// and an answer whose body the connection cut short keeps its status,
    /// headers and what came of the body ([`Answer::cut`]).
    pub async fn send(&self, outgoing: &Outgoing) -> Result<(Answer, Hop), String> {
        let (traceparent, trace) = hop::new_traceparent();
        let watch = hop::Stopwatch::start();
        let response = match self
            .attempt(outgoing, &traceparent, outgoing.fresh_connection)
            .await
        {
            Err(e) if !outgoing.fresh_connection && closed_under_request(&e) => {
                self.attempt(outgoing, &traceparent, true).await
            }
            other => other,
        }
        .map_err(|e| root_cause(&e))?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let (body, cut) = read_body(response).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        let json: Option<Value> = serde_json::from_str(&text).ok();
        let path = outgoing
            .url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/");
        let hop = Hop {
            from: "harness".to_owned(),
            to: outgoing.service.to_owned(),
            method: outgoing.method.to_string(),
            path: self.secrets.redact(path),
            status,
            error: json
                .as_ref()
                .and_then(|j| j["error"].as_str())
                .map(str::to_owned),
            credential: hop::credential_kind(outgoing.header_text("authorization")),
            scope: None,
            duration_ms: watch.duration_ms(),
            started_ms: watch.started_ms(),
            trace: Some(trace),
        };
        Ok((
            Answer {
                status,
                headers,
                text,
                json,
                cut,
            },
            hop,
        ))
    }

    /// One try of a request, on a pooled or a fresh connection.
    async fn attempt(
        &self,
        outgoing: &Outgoing,
        traceparent: &str,
        fresh: bool,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let http = if fresh { &self.fresh } else { &self.pooled };
        let mut request = http
            .request(outgoing.method.clone(), &outgoing.url)
            .header("traceparent", traceparent);
        for (name, value) in &outgoing.headers {
            // A header value reqwest cannot carry (a newline) is left out,
            // as no client could send it either.
            if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
                request = request.header(name.as_str(), value);
            }
        }
        if let Some((content_type, bytes)) = &outgoing.body {
            if !content_type.is_empty() && outgoing.header_text("content-type").is_none() {
                request = request.header("content-type", content_type.as_str());
            }
            request = request.body(bytes.clone());
        }
        request.send().await
    }
}

/// Sends a request built on a pooled client (what is not a check:
/// preflight, provisioning, the harness's own tokens). A pooled connection
/// the server closed as the request went out (as in [`Client::send`]) is
/// no failure: the request goes again, up to twice, each failed try having
/// taken a dead connection out of the pool.
pub async fn send_retrying(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut request = request;
    for _ in 0..2 {
        let again = request.try_clone();
        match (request.send().await, again) {
            (Err(e), Some(again)) if closed_under_request(&e) => request = again,
            (answer, _) => return answer,
        }
    }
    request.send().await
}

/// Whether a request failed because the connection closed under it before
/// any answer. Not a timeout, a refusal or a TLS failure.
fn closed_under_request(error: &reqwest::Error) -> bool {
    !error.is_timeout() && !error.is_connect() && connection_closed(&root_cause(error))
}

/// Whether an error's account says the server closed the connection:
/// hyper's "connection closed before message completed" (and any other
/// "connection closed"), a reset, a broken pipe. The one list of these
/// signs, for the client's retry and for the fuzzing's oversized requests
/// a server may refuse by closing.
pub(crate) fn connection_closed(cause: &str) -> bool {
    let cause = cause.to_ascii_lowercase();
    [
        "connection closed",
        "connection reset",
        "broken pipe",
        "os error 32",
        "os error 104",
    ]
    .iter()
    .any(|sign| cause.contains(sign))
}

/// The body as it came, and why it stopped short if it did.
async fn read_body(mut response: reqwest::Response) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return (body, None),
            Err(e) => return (body, Some(root_cause(&e))),
        }
    }
}

/// Milliseconds, saturated.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The innermost cause of an error: "Connection refused (os error 111)"
/// rather than "error sending request".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The text cut to `max` characters, saying how long it was.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!(
            "{}… ({} bytes)",
            text.chars().take(max).collect::<String>(),
            text.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A server that answers one request per connection, without saying
    /// it will close, then closes a moment later with whatever came next
    /// unread: the next request on that pooled connection meets the close.
    async fn answers_once_then_closes() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    let _ = socket.write_all(answer.as_bytes()).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_under_a_request_does_not_fail_it() {
        let url = answers_once_then_closes().await;
        let client = Client::new(Arc::new(Secrets::default()), None).unwrap();
        for n in 0..10 {
            let outgoing = Outgoing::new("auth-api", reqwest::Method::GET, url.clone());
            let answer = client.send(&outgoing).await;
            assert_eq!(answer.map(|(a, _)| a.status), Ok(200), "request {n}");
        }
    }
}
