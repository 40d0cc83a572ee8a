//! A variant of the reference that chooses differently wherever the
//! contract and the RFCs allow it: another audience, token lifetimes and
//! leeways (none at the auth-api, the most allowed at the chat-api), a
//! P-256 or RSA signing key, client ids beyond `VSCHAR` refused with 400,
//! 401 for a service token at the chat-api, 401 `invalid_client` for
//! credentials in the query string, a JSON body without `Content-Type`
//! processed, an `Idempotency-Key` with a space accepted, 503 rather than
//! 502 when the auth-api fails. It must pass core
//! and strict with nothing failed and nothing skipped that the reference
//! runs: the harness raises no false alarm on a correct implementation.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use conformance::scenario::Level;
use conformance::{AuthFault, ChatFault, RunOptions, StackOptions, Status, StoreChoice};
use serde_json::json;

fn refuse(status: StatusCode, error: &str, challenge: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(challenge).expect("a header value"),
    );
    response
}

/// A JSON body that declares no type is processed as JSON.
fn untyped_json_processed(request: &mut Request) {
    if request.method() == Method::POST
        && !request.uri().path().starts_with("/oauth/")
        && !request.headers().contains_key(header::CONTENT_TYPE)
    {
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
}

/// The auth-api's other choices: ids beyond `VSCHAR` refused, credentials
/// in the query answered 401 `invalid_client`.
fn auth_choices() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|mut request: Request, next: Next| async move {
            untyped_json_processed(&mut request);
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or("").to_owned();
            if path == "/oauth/token"
                && query
                    .split('&')
                    .any(|p| p.starts_with("client_id=") || p.starts_with("client_secret="))
            {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Basic realm=\"variant\"",
                    "client credentials go in the Authorization header",
                );
            }
            if request.method() == Method::POST && path == "/admin/clients" {
                let (parts, body) = request.into_parts();
                let bytes = to_bytes(body, 4 << 20).await.unwrap_or_default();
                let id = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["client_id"].as_str().map(str::to_owned));
                if let Some(id) = id
                    && !id.bytes().all(|b| (0x20..=0x7e).contains(&b))
                {
                    let body = json!({ "error": "invalid_request", "error_description": "client ids are printable ASCII" });
                    return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
                }
                return next.run(Request::from_parts(parts, Body::from(bytes))).await;
            }
            next.run(request).await
        }))
    })
}

/// The chat-api's other choices: a service token is 401, an
/// `Idempotency-Key` with spaces is taken, an auth-api failure is 503.
fn chat_choices() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|mut request: Request, next: Next| async move {
            untyped_json_processed(&mut request);
            let service = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(conformance::jwt::claims)
                .is_some_and(|c| c.get("client_id").is_some());
            if service && request.uri().path().starts_with("/api/chat/") {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "Bearer realm=\"variant\", error=\"invalid_token\"",
                    "the chat-api is for users",
                );
            }
            let key = request
                .headers()
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .filter(|k| k.contains(' '))
                .map(|k| k.replace(' ', "_"));
            if let Some(key) = key
                && let Ok(value) = HeaderValue::from_str(&key)
            {
                request.headers_mut().insert("idempotency-key", value);
            }
            // An auth-api failure answered 503 where the reference says 502.
            let mut response = next.run(request).await;
            if response.status() == StatusCode::BAD_GATEWAY {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            response
        }))
    })
}

fn variant(key: &str) -> StackOptions {
    StackOptions {
        store: Some(StoreChoice::Embedded),
        auth_fault: Some(auth_choices()),
        chat_fault: Some(chat_choices()),
        signing_key: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../fixtures/keys/{key}")),
        ),
        configure_auth: Some(Box::new(|config| {
            "https://api.variant.example".clone_into(&mut config.audience);
            config.user_token_ttl = 600;
            config.service_token_ttl = 120;
            config.token_leeway = 0;
        })),
        configure_chat: Some(Box::new(|config| config.token_leeway = 60)),
        ..StackOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variant_that_chooses_differently_passes_core_and_strict() {
    for key in ["dev-p256.pem", "dev-rsa.pem"] {
        let report = crate::helpers::run_selected(
            variant(key),
            RunOptions {
                gate: Level::Strict,
                ..RunOptions::default()
            },
        )
        .await;
        let wrong: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.level <= Level::Strict && c.status != Status::Passed)
            .map(|c| {
                format!(
                    "{} {}: {}\n{}",
                    c.id,
                    c.status.as_str(),
                    c.message,
                    c.actual.as_deref().unwrap_or("")
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{key}: {wrong:#?}");
        assert_eq!(report.exit_code(), 0, "{key}");
        // The variant differs from the reference where it chose otherwise:
        // the reference level says so, and only it.
        let failed = crate::helpers::failed(&report);
        for id in [
            "reference.chat.service-token-forbidden",
            "reference.oauth.secret-in-query",
            "reference.chat.idempotency-key-visible-ascii",
            "reference.chat.no-content-type",
        ] {
            assert!(failed.contains(id), "{key}: {id} passed: {failed:?}");
        }
        assert!(
            failed.iter().all(|id| id.starts_with("reference.")),
            "{failed:?}"
        );
    }
}

/// A TCP front for a service that closes the connection, without an
/// answer, on any request announcing a body over 1 MiB (RFC 9110 §15.5.14
/// allows it), and forwards everything else. With `then_dead`, it stops
/// answering at all after the first such close, as a crashed server would.
/// Returns its URL and how many connections it closed that way.
async fn closing_front(
    upstream: &str,
    then_dead: bool,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt as _;
    use tokio::io::AsyncWriteExt as _;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let closed = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&closed);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            if then_dead && counter.load(Ordering::SeqCst) > 0 {
                continue; // dropped: the connection closes unanswered
            }
            let upstream = upstream.clone();
            let counter = std::sync::Arc::clone(&counter);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 8192];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match client.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if length > 1024 * 1024 {
                    counter.fetch_add(1, Ordering::SeqCst);
                    return; // closed with the body unread: the client's send fails
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                if server.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (url, closed)
}

/// An auth-api that closes the connection on an oversized body instead of
/// answering 413 passes the oversized-body checks; one that then stops
/// answering (as after a crash) fails them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_connection_on_an_oversized_body_passes_unless_the_service_dies() {
    let ids = [
        "strict.fuzz.auth.post-auth-login.oversized-body",
        "strict.fuzz.auth.post-oauth-token.oversized-body",
    ];
    for then_dead in [false, true] {
        let stack = conformance::ReferenceStack::start(StackOptions::default())
            .await
            .unwrap();
        let (url, closed) = closing_front(&stack.target.auth_url, then_dead).await;
        let target = conformance::Target {
            auth_url: url,
            ..stack.target.clone()
        };
        let scenarios = conformance::scenario::load_dir(&conformance::bundled_scenarios()).unwrap();
        let options = RunOptions {
            only: ids.iter().map(|&id| id.to_owned()).collect(),
            jobs: 1,
            ..RunOptions::default()
        };
        let report = conformance::run(&scenarios, &target, &options, &|_| {})
            .await
            .unwrap();
        assert!(
            closed.load(std::sync::atomic::Ordering::SeqCst) > 0,
            "the front closed no connection"
        );
        let first = crate::helpers::outcome(&report, ids[0]);
        if then_dead {
            assert_eq!(first.status, Status::Failed, "{}", first.message);
            assert!(first.message.contains("no answer"), "{}", first.message);
        } else {
            for id in ids {
                let outcome = crate::helpers::outcome(&report, id);
                assert_eq!(outcome.status, Status::Passed, "{id}: {}", outcome.message);
            }
        }
    }
}
