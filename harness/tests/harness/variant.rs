//! A variant of the reference that chooses differently wherever the
//! contract and the RFCs allow it: another audience, token lifetimes and
//! leeways (none at the auth-api, the most allowed at the chat-api), a
//! P-256 or RSA signing key, client ids beyond `VSCHAR` refused with 400,
//! 401 for a service token at the chat-api, 401 `invalid_client` for
//! credentials in the query string, a JSON body without `Content-Type`
//! processed, an `Idempotency-Key` with a space accepted, 503 rather than
//! 502 when the auth-api fails, 404 for a
//! method the chat-api does not take; and (contract v1.2) client credentials by
//! HTTP Basic only (the form body is a MAY), introspection answers with
//! only the members owed, `method_not_allowed` as the 405 code, times
//! written with `+00:00`, message ids that are MongoDB `ObjectId`s and
//! cursors that are numbers; challenges spelled as RFC 9110 also allows
//! (`bearer realm=auth-api,error=invalid_token`) and `bearer` as the token
//! endpoint's token type (RFC 6749 §5.1: case-insensitive); both served as
//! uvicorn serves, closing connections idle between requests. It must pass core and strict with nothing
//! failed and nothing skipped that the reference runs, but the checks of
//! the MAYs it declines: the harness raises no false alarm on a correct
//! implementation.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use conformance::scenario::Level;
use conformance::{AuthFault, ChatFault, StackOptions, Status, StoreChoice};
use serde_json::{Value, json};

fn refuse(status: StatusCode, error: &str, challenge: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&respelled(challenge)).expect("a header value"),
    );
    response
}

/// A challenge spelled as RFC 9110 §11 also allows: the scheme in lower
/// case, each auth-param whose value is a token unquoted, no space after
/// the commas (`bearer realm=auth-api,error=invalid_token`).
fn respelled(challenge: &str) -> String {
    let is_token = |v: &str| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
    let params: Vec<String> = rest
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|param| match param.split_once('=') {
            Some((name, value)) if value.len() > 1 && is_token(value.trim_matches('"')) => {
                format!("{name}={}", value.trim_matches('"'))
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{} {}", scheme.to_ascii_lowercase(), params.join(","))
        .trim_end()
        .to_owned()
}

/// Every RFC 3339 time in UTC written with `+00:00` rather than `Z`.
fn offset_times(value: &mut Value) {
    match value {
        Value::String(text)
            if text.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(text).is_ok() =>
        {
            text.pop();
            text.push_str("+00:00");
        }
        Value::Array(items) => items.iter_mut().for_each(offset_times),
        Value::Object(map) => map.values_mut().for_each(offset_times),
        _ => {}
    }
}

/// A JSON answer rewritten by `change` (with the request's path); any
/// other answer as it was.
async fn rewrite_json(response: Response, path: &str, change: fn(&str, &mut Value)) -> Response {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, 4 << 20).await.unwrap_or_default();
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if parts.status == StatusCode::METHOD_NOT_ALLOWED {
        value["error"] = json!("method_not_allowed");
    }
    let challenges: Vec<String> = parts
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(respelled)
        .collect();
    parts.headers.remove(header::WWW_AUTHENTICATE);
    for challenge in challenges {
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            parts.headers.append(header::WWW_AUTHENTICATE, value);
        }
    }
    offset_times(&mut value);
    change(path, &mut value);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// The form's pairs, raw.
fn form_pairs(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Client authentication by HTTP Basic only (RFC 6749 §2.3.1 makes the
/// form body a MAY): credentials in the body alone are no client
/// authentication (401 `invalid_client`); beside Basic they are
/// parameters this server does not know, ignored (RFC 6749 §3.2).
async fn basic_only(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 4 << 20).await.unwrap_or_default();
    let is_credential = |p: &String| p.starts_with("client_id=") || p.starts_with("client_secret=");
    let pairs = form_pairs(&bytes);
    if !parts.headers.contains_key(header::AUTHORIZATION) && pairs.iter().any(is_credential) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Basic realm=\"variant\"",
            "client authentication is by HTTP Basic",
        );
    }
    let kept: Vec<String> = pairs.into_iter().filter(|p| !is_credential(p)).collect();
    next.run(Request::from_parts(parts, Body::from(kept.join("&"))))
        .await
}

/// The OAuth endpoints' answers: the token type in lower case (RFC 6749
/// §5.1: case-insensitive), an active introspection answer with only the
/// members the contract owes (RFC 7662's `iss`, `aud`, `jti`, `username`
/// and `nbf` are optional).
fn oauth_answers(path: &str, value: &mut Value) {
    if path == "/oauth/token" && value["token_type"] == "Bearer" {
        value["token_type"] = json!("bearer");
    }
    if path == "/oauth/introspect"
        && let Some(answer) = value.as_object_mut()
    {
        for member in ["iss", "aud", "jti", "username", "nbf"] {
            answer.remove(member);
        }
    }
}

/// Message ids as MongoDB `ObjectId`s (24 hex characters), each standing
/// for the reference's UUID: UUID → `ObjectId`, and back.
static OBJECT_IDS: LazyLock<Mutex<(Ids, Ids)>> = LazyLock::new(Mutex::default);

type Ids = HashMap<String, String>;

fn object_id(uuid: &str) -> String {
    let mut ids = OBJECT_IDS.lock().unwrap();
    if let Some(id) = ids.0.get(uuid) {
        return id.clone();
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..24].to_owned();
    ids.0.insert(uuid.to_owned(), id.clone());
    ids.1.insert(id.clone(), uuid.to_owned());
    id
}

/// The reference's id for an `ObjectId`; an id this variant never gave out
/// is a message it does not have (a fresh UUID: 404).
fn uuid_of(id: &str) -> String {
    OBJECT_IDS
        .lock()
        .unwrap()
        .1
        .get(id)
        .cloned()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Cursors as numbers: the n-th cursor handed out is `n`.
static CURSORS: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Mutex::default);

fn numeric_cursor(cursor: &str) -> u64 {
    let mut cursors = CURSORS.lock().unwrap();
    let n = cursors.iter().position(|c| c == cursor).unwrap_or_else(|| {
        cursors.push(cursor.to_owned());
        cursors.len() - 1
    });
    u64::try_from(n).unwrap() + 1
}

/// The chat-api's request with the variant's ids and cursors turned back
/// into the reference's.
fn to_reference(request: &mut Request) {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').collect();
    let mut new_path = path.clone();
    if segments.len() == 7 && segments[5] == "messages" {
        new_path = format!("{}/{}", segments[..6].join("/"), uuid_of(segments[6]));
    }
    let query: Vec<String> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.strip_prefix("before=") {
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n >= 1 => CURSORS
                    .lock()
                    .unwrap()
                    .get(n - 1)
                    .map_or_else(|| pair.to_owned(), |c| format!("before={c}")),
                _ => pair.to_owned(),
            },
            None => pair.to_owned(),
        })
        .collect();
    let uri = if query.is_empty() {
        new_path
    } else {
        format!("{new_path}?{}", query.join("&"))
    };
    *request.uri_mut() = uri.parse().expect("a path and query");
}

/// The chat-api's answer with `ObjectId`s for message ids and numbers for
/// cursors.
fn from_reference(_: &str, value: &mut Value) {
    let rename = |message: &mut Value| {
        if let Some(id) = message["id"].as_str().map(object_id) {
            message["id"] = json!(id);
        }
    };
    if let Some(messages) = value.get_mut("messages").and_then(Value::as_array_mut) {
        messages.iter_mut().for_each(rename);
    } else if value.get("group_id").is_some() {
        rename(value);
    }
    if let Some(cursor) = value.get("next_cursor").and_then(Value::as_str) {
        value["next_cursor"] = json!(numeric_cursor(cursor));
    }
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
/// in the query answered 401 `invalid_client`, client authentication by
/// HTTP Basic only, introspection with the owed members only, times
/// `+00:00`, `method_not_allowed` for a 405.
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
            if request.method() == Method::POST
                && ["/oauth/token", "/oauth/introspect", "/oauth/revoke"].contains(&path.as_str())
            {
                let response = basic_only(request, next).await;
                return rewrite_json(response, &path, oauth_answers).await;
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
                let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
                return rewrite_json(response, &path, |_, _| {}).await;
            }
            let response = next.run(request).await;
            rewrite_json(response, &path, |_, _| {}).await
        }))
    })
}

/// The chat-api's other choices: a service token is 401, an
/// `Idempotency-Key` with spaces is taken, an auth-api failure is 503, a
/// wrong method 404, message ids are `ObjectId`s, cursors numbers, times
/// `+00:00`.
pub fn chat_choices() -> ChatFault {
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
            to_reference(&mut request);
            let path = request.uri().path().to_owned();
            // An auth-api failure answered 503 where the reference says 502.
            let mut response = next.run(request).await;
            if response.status() == StatusCode::BAD_GATEWAY {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            // A method the endpoint does not take answered 404, the
            // contract's "(or 404)".
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                *response.status_mut() = StatusCode::NOT_FOUND;
                response.headers_mut().remove(header::ALLOW);
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.rsplit_once('/'))
                .map(|(base, id)| format!("{base}/{}", object_id(id)));
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            rewrite_json(response, &path, from_reference).await
        }))
    })
}

pub fn variant(key: &str) -> StackOptions {
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
        let stack = conformance::ReferenceStack::start(variant(key))
            .await
            .expect("the variant stack starts");
        // Served as uvicorn serves, closing idle connections, here after
        // 50 ms so that a run meets many closes.
        let idle = std::time::Duration::from_millis(50);
        let target = conformance::Target {
            auth_url: crate::fronts::idle_closing(&stack.target.auth_url, idle).await,
            chat_url: crate::fronts::idle_closing(&stack.target.chat_url, idle).await,
            ..stack.target.clone()
        };
        let report = conformance::Harness::new(target)
            .level(Level::Strict)
            .run()
            .await
            .expect("the run completes");
        // Skipped, with the reason, only where it declines a MAY.
        let declined = [
            "core.token.form-body",
            "strict.tokens.two-client-auth-methods",
        ];
        for id in declined {
            let outcome = crate::helpers::outcome(&report, id);
            assert_eq!(outcome.status, Status::Skipped, "{key}: {id}");
            assert!(
                outcome.message.contains("declined a MAY"),
                "{key}: {id}: {}",
                outcome.message
            );
        }
        let wrong = crate::helpers::not_passed(&report, Level::Strict, &declined);
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
