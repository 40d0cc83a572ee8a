//! Each rule's checks shown failing: a fault that breaks one rule, layered
//! over the reference, is caught by the checks named for that rule (their
//! family) and by no other check but the snapshots, which see any change.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use conformance::{AuthFault, ChatFault};
use serde_json::{Value, json};

use crate::faults::{bearer, is_service, json_of, with_json};
use crate::helpers::{Layers, assert_caught_only, run_with_faults};

// ---- plumbing --------------------------------------------------------------

/// A request's JSON body (`Null` when it is not JSON) and the request
/// rebuilt around `body`.
pub async fn request_json(request: Request) -> (axum::http::request::Parts, Value) {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    (parts, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub fn rebuilt(mut parts: axum::http::request::Parts, body: &Value) -> Request {
    parts.headers.remove(header::CONTENT_LENGTH);
    Request::from_parts(parts, Body::from(body.to_string()))
}

pub fn claims_of(request: &Request) -> Value {
    bearer(request)
        .and_then(|t| conformance::jwt::claims(&t))
        .unwrap_or_default()
}

/// A layer over the answers of the requests `applies` picks: `change`
/// rewrites the JSON answer (and may change its status).
fn answers(
    applies: fn(&Method, &str) -> bool,
    change: fn(&mut StatusCode, &mut Value),
) -> impl Fn(axum::Router) -> axum::Router + Send + 'static {
    move |router: axum::Router| {
        router.layer(from_fn(move |request: Request, next: Next| async move {
            let picked = applies(request.method(), request.uri().path());
            let response = next.run(request).await;
            if !picked {
                return response;
            }
            let (mut parts, mut body) = json_of(response).await;
            change(&mut parts.status, &mut body);
            with_json(parts, &body)
        }))
    }
}

pub fn auth_answers(
    applies: fn(&Method, &str) -> bool,
    change: fn(&mut StatusCode, &mut Value),
) -> AuthFault {
    let layer = answers(applies, change);
    Box::new(move |router, _| layer(router))
}

pub fn chat_answers(
    applies: fn(&Method, &str) -> bool,
    change: fn(&mut StatusCode, &mut Value),
) -> ChatFault {
    let layer = answers(applies, change);
    Box::new(move |router, _| layer(router))
}

pub fn error(status: StatusCode, code: &str) -> Response {
    let body = json!({ "error": code, "error_description": "faulty" });
    (status, axum::Json(body)).into_response()
}

/// Bad input answered 422 `unprocessable_entity`, where the contract says
/// 400 `invalid_request`.
fn unprocessable(status: &mut StatusCode, body: &mut Value) {
    if *status == StatusCode::BAD_REQUEST {
        *status = StatusCode::UNPROCESSABLE_ENTITY;
        body["error"] = json!("unprocessable_entity");
    }
}

/// The `token` of an introspection or revocation form.
fn form_token(body: &[u8]) -> Option<String> {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .and_then(reference_shared::form::decode)
}

/// A send's sender (`sub`) and `Idempotency-Key`, when it has one.
fn keyed_send(request: &Request) -> Option<(String, String)> {
    if !is_send(request.method(), request.uri().path()) {
        return None;
    }
    let key = request.headers().get("idempotency-key")?.to_str().ok()?;
    let sub = claims_of(request)["sub"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Some((sub, key.to_owned()))
}

pub fn is_send(method: &Method, path: &str) -> bool {
    method == Method::POST && path.starts_with("/api/chat/groups/") && path.ends_with("/messages")
}

pub fn is_listing(method: &Method, path: &str) -> bool {
    method == Method::GET && path.starts_with("/api/chat/groups/") && path.ends_with("/messages")
}

// ---- Chat-API: sending -----------------------------------------------------

/// A chat-api that lets a member send as any other member of the group:
/// it checks that `sender_id` is a member, not that it is the token's `sub`.
fn sender_any_member() -> ChatFault {
    Box::new(|router, state| {
        let state = state.clone();
        router.layer(from_fn(move |request: Request, next: Next| {
            let state = state.clone();
            async move {
                if !is_send(request.method(), request.uri().path()) {
                    return next.run(request).await;
                }
                let sub = claims_of(&request)["sub"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let group = request
                    .uri()
                    .path()
                    .split('/')
                    .nth(4)
                    .and_then(|g| g.parse().ok());
                let (parts, mut body) = request_json(request).await;
                let sender = body["sender_id"].as_str().map(str::to_owned);
                if let (Some(sender), Some(group)) = (sender, group)
                    && sender != sub
                    && let Ok(Some(members)) = state.auth().members(group).await
                    && members.iter().any(|m| m.user_id.to_string() == sender)
                {
                    body.as_object_mut().unwrap().remove("sender_id");
                }
                next.run(rebuilt(parts, &body)).await
            }
        }))
    })
}

pub fn sending_as_another_member() -> Layers {
    (None, Some(sender_any_member()))
}

/// A chat-api that counts the length of `content` before trimming it.
fn length_before_trimming() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if !is_send(request.method(), request.uri().path()) {
                return next.run(request).await;
            }
            let (parts, body) = request_json(request).await;
            if body["content"]
                .as_str()
                .is_some_and(|c| c.chars().count() > 4000)
            {
                return error(StatusCode::BAD_REQUEST, "invalid_request");
            }
            next.run(rebuilt(parts, &body)).await
        }))
    })
}

pub fn counting_before_trimming() -> Layers {
    (None, Some(length_before_trimming()))
}

/// A chat-api whose `Location` names the group's messages, not the new one.
fn location_without_id() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let mut response = next.run(request).await;
            if let Some(location) = response.headers().get(header::LOCATION).cloned() {
                let text = location.to_str().unwrap_or_default();
                let group = text.rsplit_once('/').map_or(text, |(g, _)| g).to_owned();
                response
                    .headers_mut()
                    .insert(header::LOCATION, format!("{group}/latest").parse().unwrap());
            }
            response
        }))
    })
}

pub fn a_location_without_the_message() -> Layers {
    (None, Some(location_without_id()))
}

/// A chat-api whose idempotent replay answers the first message but stores
/// the body again.
fn replay_stores_again() -> ChatFault {
    let seen: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    Box::new(move |router, _| {
        let inner = router.clone();
        router.layer(from_fn(move |request: Request, next: Next| {
            let (seen, inner) = (seen.clone(), inner.clone());
            async move {
                let Some((sub, key)) = keyed_send(&request) else {
                    return next.run(request).await;
                };
                let replay = !seen.lock().unwrap().insert((sub, key));
                let (parts, body) = request_json(request).await;
                let mut again = Request::new(Body::from(body.to_string()));
                *again.method_mut() = parts.method.clone();
                *again.uri_mut() = parts.uri.clone();
                *again.headers_mut() = parts.headers.clone();
                again.headers_mut().remove("idempotency-key");
                let response = next.run(rebuilt(parts, &body)).await;
                if replay {
                    use tower::ServiceExt as _;
                    let _ = inner.oneshot(again).await;
                }
                response
            }
        }))
    })
}

pub fn a_replay_that_stores_again() -> Layers {
    (None, Some(replay_stores_again()))
}

/// A chat-api whose idempotency keys are global: the same key from another
/// sender replays the first sender's message.
fn keys_shared_by_senders() -> ChatFault {
    let first: Arc<Mutex<std::collections::HashMap<String, (String, Value)>>> = Arc::default();
    Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let first = first.clone();
            async move {
                let Some((sub, key)) = keyed_send(&request) else {
                    return next.run(request).await;
                };
                let earlier = first.lock().unwrap().get(&key).cloned();
                if let Some((owner, answer)) = earlier
                    && owner != sub
                {
                    return (StatusCode::CREATED, axum::Json(answer)).into_response();
                }
                let response = next.run(request).await;
                if response.status() != StatusCode::CREATED {
                    return response;
                }
                let (parts, body) = json_of(response).await;
                first
                    .lock()
                    .unwrap()
                    .entry(key)
                    .or_insert((sub, body.clone()));
                with_json(parts, &body)
            }
        }))
    })
}

pub fn keys_shared_across_senders() -> Layers {
    (None, Some(keys_shared_by_senders()))
}

/// A chat-api whose timestamps carry an offset other than UTC.
fn timestamps_not_utc() -> ChatFault {
    chat_answers(is_send, |_, body| {
        if let Some(time) = body["created_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            let offset = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
            body["created_at"] = json!(time.with_timezone(&offset).to_rfc3339());
        }
    })
}

pub fn timestamps_outside_utc() -> Layers {
    (None, Some(timestamps_not_utc()))
}

// ---- Chat-API: listing -----------------------------------------------------

pub fn a_listing_oldest_first() -> Layers {
    let oldest_first = chat_answers(is_listing, |_, body| {
        if let Some(list) = body["messages"].as_array_mut() {
            list.reverse();
        }
    });
    (None, Some(oldest_first))
}

/// A chat-api whose default page is 20 messages.
fn default_limit_20() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|mut request: Request, next: Next| async move {
            if is_listing(request.method(), request.uri().path())
                && request.uri().query().is_none_or(|q| !q.contains("limit="))
            {
                let query = request
                    .uri()
                    .query()
                    .map(|q| format!("{q}&"))
                    .unwrap_or_default();
                let uri = format!("{}?{query}limit=20", request.uri().path());
                *request.uri_mut() = uri.parse().unwrap();
            }
            next.run(request).await
        }))
    })
}

pub fn a_default_page_other_than_50() -> Layers {
    (None, Some(default_limit_20()))
}

/// A chat-api whose cursor skips the first message of the next page (as
/// one does that compares `created_at` alone, with several messages in the
/// same millisecond).
fn cursor_skips_one() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let paged = is_listing(request.method(), request.uri().path())
                && request.uri().query().is_some_and(|q| q.contains("before="));
            let response = next.run(request).await;
            if !paged {
                return response;
            }
            let (parts, mut body) = json_of(response).await;
            if let Some(list) = body["messages"].as_array_mut()
                && !list.is_empty()
            {
                list.remove(0);
            }
            with_json(parts, &body)
        }))
    })
}

pub fn a_cursor_walk_that_skips_messages() -> Layers {
    (None, Some(cursor_skips_one()))
}

pub fn a_bad_path_uuid_answered_404() -> Layers {
    let fault: ChatFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let group = request.uri().path().split('/').nth(4).unwrap_or_default();
            if request.uri().path().starts_with("/api/chat/groups/")
                && uuid::Uuid::parse_str(group).is_err()
            {
                return error(StatusCode::NOT_FOUND, "not_found");
            }
            next.run(request).await
        }))
    });
    (None, Some(fault))
}

// ---- Auth-API: groups and members --------------------------------------------

pub fn members_in_another_order() -> Layers {
    let newest_first = auth_answers(
        |method, path| method == Method::GET && path.ends_with("/members"),
        |_, body| {
            if let Some(list) = body["members"].as_array_mut() {
                list.reverse();
            }
        },
    );
    (Some(newest_first), None)
}

/// An auth-api that lets a user add himself to any group.
fn self_join() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let adds = request.method() == Method::POST && request.uri().path().ends_with("/members");
            if !adds {
                return next.run(request).await;
            }
            let sub = claims_of(&request)["sub"].as_str().unwrap_or_default().to_owned();
            let (parts, body) = request_json(request).await;
            if body["user_id"] == sub.as_str() {
                let member = json!({ "user_id": sub, "email": "x@example.com", "role": "member", "joined_at": "2026-01-01T00:00:00Z" });
                return (StatusCode::CREATED, axum::Json(member)).into_response();
            }
            next.run(rebuilt(parts, &body)).await
        }))
    })
}

pub fn a_non_member_adding_himself() -> Layers {
    (Some(self_join()), None)
}

/// An auth-api that lets any service token manage members.
fn services_manage_members() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let members = request.uri().path().contains("/members");
            if members && is_service(&request) && request.method() == Method::POST {
                let member = json!({ "user_id": uuid::Uuid::new_v4(), "email": "x@example.com", "role": "member", "joined_at": "2026-01-01T00:00:00Z" });
                return (StatusCode::CREATED, axum::Json(member)).into_response();
            }
            if members && is_service(&request) && request.method() == Method::DELETE {
                return StatusCode::NO_CONTENT.into_response();
            }
            next.run(request).await
        }))
    })
}

pub fn services_managing_members() -> Layers {
    (Some(services_manage_members()), None)
}

pub fn validation_answered_422() -> Layers {
    let fault = auth_answers(
        |method, path| method == Method::POST && path.starts_with("/api/auth/groups"),
        unprocessable,
    );
    (Some(fault), None)
}

pub fn a_login_that_tells_unknown_emails_apart() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.uri().path() != "/auth/login" {
                return next.run(request).await;
            }
            let (parts, body) = request_json(request).await;
            let unknown = body["email"]
                .as_str()
                .is_some_and(|e| e.starts_with("nobody-"));
            let response = next.run(rebuilt(parts, &body)).await;
            if !unknown {
                return response;
            }
            let (parts, mut answer) = json_of(response).await;
            answer["error_description"] = json!("no user has this email");
            with_json(parts, &answer)
        }))
    });
    (Some(fault), None)
}

// ---- Auth-API: admin ---------------------------------------------------------

pub fn admin_endpoints_answering_403_to_other_credentials() -> Layers {
    let fault: AuthFault = Box::new(|router, state| {
        let admin = state.admin_token().cloned();
        router.layer(from_fn(move |request: Request, next: Next| {
            let admin = admin.clone();
            async move {
                let is_admin = bearer(&request)
                    .is_some_and(|b| admin.as_ref().is_some_and(|a| a.expose() == b));
                if request.uri().path().starts_with("/admin/") && !is_admin {
                    return error(StatusCode::FORBIDDEN, "forbidden");
                }
                next.run(request).await
            }
        }))
    });
    (Some(fault), None)
}

pub fn emails_compared_with_their_case() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.method() != Method::POST || request.uri().path() != "/admin/users" {
                return next.run(request).await;
            }
            let (parts, body) = request_json(request).await;
            let email = body["email"].as_str().unwrap_or_default();
            if email.chars().any(char::is_uppercase) {
                let user = json!({ "id": uuid::Uuid::new_v4(), "email": email });
                return (StatusCode::CREATED, axum::Json(user)).into_response();
            }
            next.run(rebuilt(parts, &body)).await
        }))
    });
    (Some(fault), None)
}

/// An auth-api whose DELETE answers 204 and deletes nothing.
fn deletes_nothing(prefix: &'static str) -> AuthFault {
    Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| async move {
            if request.method() == Method::DELETE && request.uri().path().starts_with(prefix) {
                return StatusCode::NO_CONTENT.into_response();
            }
            next.run(request).await
        }))
    })
}

pub fn a_user_delete_that_keeps_the_user() -> Layers {
    (Some(deletes_nothing("/admin/users/")), None)
}

pub fn a_client_delete_that_keeps_the_client() -> Layers {
    (Some(deletes_nothing("/admin/clients/")), None)
}

// ---- Auth-API: introspection and revocation --------------------------------

pub fn introspection_and_revocation_without_client_auth() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let path = request.uri().path();
            let oauth = path == "/oauth/introspect" || path == "/oauth/revoke";
            if oauth && request.headers().get(header::AUTHORIZATION).is_none() {
                let body = if path == "/oauth/introspect" {
                    json!({ "active": false })
                } else {
                    json!({})
                };
                return (StatusCode::OK, axum::Json(body)).into_response();
            }
            next.run(request).await
        }))
    });
    (Some(fault), None)
}

pub fn introspection_without_client_id_and_scope() -> Layers {
    let fault = auth_answers(
        |_, path| path == "/oauth/introspect",
        |_, body| {
            if let Some(map) = body.as_object_mut() {
                map.remove("client_id");
                map.remove("scope");
            }
        },
    );
    (Some(fault), None)
}

/// An auth-api whose group endpoints do not ask whether a token was
/// revoked (`/auth/me` still does): a revoked token is re-signed with a
/// fresh `jti` on its way to them.
fn revocation_only_at_me() -> AuthFault {
    let key = reference_shared::SigningKey::from_file(&conformance::dev_key_path()).unwrap();
    let revoked: Arc<Mutex<HashSet<String>>> = Arc::default();
    Box::new(move |router, _| {
        router.layer(from_fn(move |mut request: Request, next: Next| {
            let (key, revoked) = (key.clone(), revoked.clone());
            async move {
                if request.uri().path() == "/oauth/revoke" {
                    let (parts, bytes) = request.into_parts();
                    let bytes = to_bytes(bytes, 1 << 20).await.unwrap_or_default();
                    if let Some(token) = form_token(&bytes) {
                        revoked.lock().unwrap().insert(token);
                    }
                    return next
                        .run(Request::from_parts(parts, Body::from(bytes)))
                        .await;
                }
                let token = bearer(&request);
                if request.uri().path().starts_with("/api/auth/groups/")
                    && let Some(token) = token.filter(|t| revoked.lock().unwrap().contains(t))
                    && let Some((_, mut claims)) = conformance::jwt::decode(&token)
                {
                    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
                    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": key.kid() });
                    let fresh = key.sign_raw(&header, &claims).unwrap();
                    request.headers_mut().insert(
                        header::AUTHORIZATION,
                        format!("Bearer {fresh}").parse().unwrap(),
                    );
                }
                next.run(request).await
            }
        }))
    })
}

pub fn revocation_honoured_only_at_me() -> Layers {
    (Some(revocation_only_at_me()), None)
}

// ---- Tokens and metadata -------------------------------------------------------

pub fn an_expires_in_that_lies() -> Layers {
    let fault = auth_answers(
        |_, path| path == "/auth/login" || path == "/oauth/token",
        |status, body| {
            if *status == StatusCode::OK {
                body["expires_in"] = json!(3600);
            }
        },
    );
    (Some(fault), None)
}

pub fn a_jwks_that_does_not_verify_the_tokens() -> Layers {
    let fixtures = conformance::dev_key_path().with_file_name("other-ed25519.pem");
    let other = reference_shared::SigningKey::from_file(&fixtures).unwrap();
    let other = serde_json::to_value(other.jwks()).unwrap()["keys"][0].clone();
    let fault: AuthFault = Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let other = other.clone();
            async move {
                // The harness's own fetch only: the chat-api keeps the
                // right keys, so only the checks of the JWKS see it.
                let harness = request.headers().get("traceparent").is_none();
                let jwks = request.uri().path() == "/.well-known/jwks.json";
                let response = next.run(request).await;
                if !(jwks && harness) {
                    return response;
                }
                let (parts, mut body) = json_of(response).await;
                if let Some(keys) = body["keys"].as_array_mut() {
                    for key in keys {
                        let kid = key["kid"].clone();
                        *key = other.clone();
                        key["kid"] = kid;
                    }
                }
                with_json(parts, &body)
            }
        }))
    });
    (Some(fault), None)
}

pub fn metadata_missing_a_field() -> Layers {
    let fault = auth_answers(
        |_, path| path == "/.well-known/oauth-authorization-server",
        |_, body| {
            body.as_object_mut().unwrap().remove("revocation_endpoint");
        },
    );
    (Some(fault), None)
}

pub fn an_issuer_other_than_the_tokens() -> Layers {
    let fault = auth_answers(
        |_, path| path == "/.well-known/oauth-authorization-server",
        |_, body| {
            let issuer = format!("{}/", body["issuer"].as_str().unwrap_or_default());
            body["issuer"] = json!(issuer);
        },
    );
    (Some(fault), None)
}

pub fn answers_in_another_media_type() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let path = request.uri().path().to_owned();
            let mut response = next.run(request).await;
            let relabel = path == "/auth/login"
                || path == "/oauth/token"
                || response.status().is_client_error();
            if relabel {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
            }
            response
        }))
    });
    (Some(fault), None)
}

// ---- The Principal rule ----------------------------------------------------------

fn both(rewrite: impl Fn(&mut Value) -> bool + Send + Sync + 'static) -> (AuthFault, ChatFault) {
    crate::faults::both(move |_, claims| rewrite(claims))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_token_without_type_accepted_is_caught() {
    let (auth, chat) = both(|claims| {
        let map = claims.as_object_mut().unwrap();
        if map.contains_key("type") || map.contains_key("client_id") {
            return false;
        }
        map.insert("type".to_owned(), json!("access"));
        true
    });
    let report = run_with_faults(Some(auth), Some(chat)).await;
    let expected: Vec<String> = ["auth-me", "group", "members", "chat-send", "chat-list"]
        .map(|e| format!("strict.jwt.user-without-type.{e}"))
        .to_vec();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_caught_only(&report, &expected, &["strict.jwt.user-without-type."]);
}

pub fn a_non_uuid_user_sub_taken_for_a_service() -> Layers {
    let (auth, chat) = both(|claims| {
        let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
        if claims.get("client_id").is_some()
            || uuid::Uuid::parse_str(&sub).is_ok()
            || sub.is_empty()
        {
            return false;
        }
        let map = claims.as_object_mut().unwrap();
        map.remove("type");
        map.remove("email");
        map.insert("client_id".to_owned(), json!(sub));
        map.insert("scope".to_owned(), json!("groups:read"));
        true
    });
    (Some(auth), Some(chat))
}

pub fn a_client_id_trusted_over_the_sub() -> Layers {
    let (auth, chat) = both(|claims| {
        let client = claims["client_id"].clone();
        if client.is_null() || claims["sub"] == client {
            return false;
        }
        claims["sub"] = client;
        let map = claims.as_object_mut().unwrap();
        map.remove("type");
        map.remove("email");
        map.insert("scope".to_owned(), json!("groups:read"));
        true
    });
    (Some(auth), Some(chat))
}

// ---- Bad input everywhere ----------------------------------------------------

pub fn bad_bodies_answered_422_at_login_members_and_admin() -> Layers {
    let fault = auth_answers(
        |method, path| {
            method == Method::POST
                && (path == "/auth/login"
                    || path.ends_with("/members")
                    || path.starts_with("/admin/"))
        },
        unprocessable,
    );
    (Some(fault), None)
}

pub fn bad_path_uuids_answered_404_at_the_auth_api() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let path = request.uri().path();
            let ids: Vec<&str> = if let Some(rest) = path.strip_prefix("/api/auth/groups/") {
                rest.split('/').step_by(2).collect()
            } else if let Some(rest) = path.strip_prefix("/admin/users/") {
                vec![rest]
            } else {
                Vec::new()
            };
            if ids.iter().any(|id| uuid::Uuid::parse_str(id).is_err()) {
                return error(StatusCode::NOT_FOUND, "not_found");
            }
            next.run(request).await
        }))
    });
    (Some(fault), None)
}

pub fn bad_messages_answered_422() -> Layers {
    let fault = chat_answers(is_send, unprocessable);
    (None, Some(fault))
}

pub fn a_chat_api_refusing_in_plain_text() -> Layers {
    let fault: ChatFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let api = request.uri().path().starts_with("/api/");
            if !api || request.headers().get(header::AUTHORIZATION).is_some() {
                return next.run(request).await;
            }
            Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(header::WWW_AUTHENTICATE, "Bearer")
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("Unauthorized"))
                .unwrap()
        }))
    });
    (None, Some(fault))
}

// ---- Ids and times -------------------------------------------------------------

/// `time` shown with a +02:00 offset: the same instant, not in UTC.
fn shifted(time: &Value) -> Option<Value> {
    let time = chrono::DateTime::parse_from_rfc3339(time.as_str()?).ok()?;
    let offset = chrono::FixedOffset::east_opt(2 * 3600)?;
    Some(json!(time.with_timezone(&offset).to_rfc3339()))
}

pub fn auth_api_ids_and_times_in_other_forms() -> Layers {
    let fault = auth_answers(
        |method, path| {
            method == Method::GET && (path == "/auth/me" || path.starts_with("/api/auth/groups/"))
        },
        |_, body| {
            if let Some(id) = body["id"].as_str().filter(|_| body.get("email").is_some()) {
                body["id"] = json!(id.to_uppercase());
            }
            if let Some(time) = shifted(&body["created_at"]) {
                body["created_at"] = time;
            }
            for member in body["members"].as_array_mut().into_iter().flatten() {
                if let Some(time) = shifted(&member["joined_at"]) {
                    member["joined_at"] = time;
                }
            }
        },
    );
    (Some(fault), None)
}

pub fn listings_outside_utc() -> Layers {
    let fault = chat_answers(is_listing, |_, body| {
        for message in body["messages"].as_array_mut().into_iter().flatten() {
            if let Some(time) = shifted(&message["created_at"]) {
                message["created_at"] = time;
            }
        }
    });
    (None, Some(fault))
}

// ---- Revocation and introspection ---------------------------------------------

pub fn a_revocation_that_revokes_nothing() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let authenticated = request.headers().get(header::AUTHORIZATION).is_some();
            if request.uri().path() == "/oauth/revoke" && authenticated {
                return (StatusCode::OK, axum::Json(json!({}))).into_response();
            }
            next.run(request).await
        }))
    });
    (Some(fault), None)
}

/// An auth-api that tells the chat-api (the client whose id names the
/// chat-api: the harness registers it as `conformance-chat-api-…`) every
/// token it introspects is active: a chat-api that trusts the signature
/// alone, as seen from the auth-api.
fn chat_trusts_signatures_alone() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let chat = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .is_some_and(|b| {
                    let credentials = String::from_utf8_lossy(&b);
                    let id = credentials.split(':').next().unwrap_or_default();
                    id.contains("chat-api-")
                });
            if request.uri().path() == "/oauth/introspect" && chat {
                return (StatusCode::OK, axum::Json(json!({ "active": true }))).into_response();
            }
            next.run(request).await
        }))
    })
}

pub fn a_chat_api_that_ignores_revocation() -> Layers {
    (Some(chat_trusts_signatures_alone()), None)
}

pub fn an_expired_token_introspected_active() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.uri().path() != "/oauth/introspect" {
                return next.run(request).await;
            }
            let (parts, bytes) = request.into_parts();
            let bytes = to_bytes(bytes, 1 << 20).await.unwrap_or_default();
            let claims = form_token(&bytes).and_then(|token| conformance::jwt::claims(&token));
            let now = chrono::Utc::now().timestamp();
            if let Some(mut claims) = claims.filter(|c| c["exp"].as_i64().is_some_and(|e| e < now))
            {
                claims["active"] = json!(true);
                return (StatusCode::OK, axum::Json(claims)).into_response();
            }
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }))
    });
    (Some(fault), None)
}

// ---- The harness's accounts and issued tokens ---------------------------------

pub fn a_token_answer_without_its_scope() -> Layers {
    let fault = auth_answers(
        |_, path| path == "/oauth/token",
        |status, body| {
            if *status == StatusCode::OK {
                body.as_object_mut().unwrap().remove("scope");
            }
        },
    );
    (Some(fault), None)
}

pub fn members_that_leave_out_the_caller() -> Layers {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let listing =
                request.method() == Method::GET && request.uri().path().ends_with("/members");
            let caller = claims_of(&request)["sub"].clone();
            let response = next.run(request).await;
            if !listing || response.status() != StatusCode::OK {
                return response;
            }
            let (parts, mut body) = json_of(response).await;
            if let Some(list) = body["members"].as_array_mut() {
                list.retain(|m| m["user_id"] != caller);
            }
            with_json(parts, &body)
        }))
    });
    (Some(fault), None)
}

/// A request with each token `issued` maps replaced by what it maps to:
/// bearer tokens, and the `token` of an introspection or revocation form.
pub async fn with_tokens_replaced(
    request: Request,
    issued: &Mutex<std::collections::HashMap<String, String>>,
) -> Request {
    let original = |token: &str| issued.lock().unwrap().get(token).cloned();
    let (mut parts, body) = request.into_parts();
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(original);
    if let Some(token) = bearer {
        parts.headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    let path = parts.uri.path();
    if path != "/oauth/introspect" && path != "/oauth/revoke" {
        return Request::from_parts(parts, body);
    }
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let form: Vec<String> = String::from_utf8_lossy(&bytes)
        .split('&')
        .map(
            |pair| match pair.strip_prefix("token=").and_then(original) {
                Some(token) => format!("token={token}"),
                None => pair.to_owned(),
            },
        )
        .collect();
    parts.headers.remove(header::CONTENT_LENGTH);
    Request::from_parts(parts, Body::from(form.join("&")))
}

pub fn user_tokens_with_an_upper_case_subject() -> Layers {
    tokens_rewritten("/auth/login", |_, claims| {
        let upper = claims["sub"].as_str().unwrap_or_default().to_uppercase();
        claims["sub"] = json!(upper);
    })
}

/// The tokens the auth-api answers at `path` rewritten by `rewrite` (their
/// header and claims) and signed again with its key; both services take
/// each as the token it was made from, so only what looks at the token
/// itself sees the change.
pub fn tokens_rewritten(
    path: impl Into<String>,
    rewrite: impl Fn(&mut Value, &mut Value) + Clone + Send + Sync + 'static,
) -> Layers {
    let path: Arc<str> = path.into().into();
    let issued: Arc<Mutex<std::collections::HashMap<String, String>>> = Arc::default();
    let key = reference_shared::SigningKey::from_file(&conformance::dev_key_path()).unwrap();
    let (at_auth, at_chat) = (issued.clone(), issued.clone());
    let auth: AuthFault = Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let (key, issued, path, rewrite) =
                (key.clone(), at_auth.clone(), path.clone(), rewrite.clone());
            async move {
                let picked = request.uri().path() == &*path;
                let response = next.run(with_tokens_replaced(request, &issued).await).await;
                if !picked || response.status() != StatusCode::OK {
                    return response;
                }
                let (parts, mut body) = json_of(response).await;
                let original = body["access_token"].as_str().unwrap_or_default().to_owned();
                if let Some((mut header, mut claims)) = conformance::jwt::decode(&original) {
                    rewrite(&mut header, &mut claims);
                    let token = key.sign_raw(&header, &claims).unwrap();
                    issued.lock().unwrap().insert(token.clone(), original);
                    body["access_token"] = json!(token);
                }
                with_json(parts, &body)
            }
        }))
    });
    let chat: ChatFault = Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let issued = at_chat.clone();
            async move { next.run(with_tokens_replaced(request, &issued).await).await }
        }))
    });
    (Some(auth), Some(chat))
}

/// The trace id of a request's `traceparent`.
fn trace_id(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    value.split('-').nth(1).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_api_that_sends_the_users_token_upstream_is_caught() {
    // The chat-api remembers each request's user token by its trace id; a
    // hop on its way to the auth-api puts that token on the group calls
    // made for the request, in place of the service token.
    let tokens: Arc<Mutex<std::collections::HashMap<String, String>>> = Arc::default();
    let kept = tokens.clone();
    let remember: ChatFault = Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let kept = kept.clone();
            async move {
                if let (Some(trace), Some(token)) = (trace_id(request.headers()), bearer(&request))
                {
                    kept.lock().unwrap().insert(trace, token);
                }
                next.run(request).await
            }
        }))
    });
    let forward = crate::faults::hop(
        move |parts| {
            let token =
                trace_id(&parts.headers).and_then(|t| tokens.lock().unwrap().get(&t).cloned());
            if let Some(token) = token.filter(|_| parts.uri.path().starts_with("/api/auth/groups/"))
            {
                let value = format!("Bearer {token}").parse().unwrap();
                parts.headers.insert(header::AUTHORIZATION, value);
            }
            None
        },
        |_, _| {},
    );
    let report = crate::helpers::run_against(conformance::StackOptions {
        store: Some(conformance::StoreChoice::Embedded),
        chat_fault: Some(remember),
        configure_chat: Some(forward),
        ..conformance::StackOptions::default()
    })
    .await;
    assert_caught_only(
        &report,
        &["core.observed.no-user-token-upstream"],
        // With a non-member's own token the auth-api refuses the group
        // calls: the chat-api then fails where it should answer 403.
        &[
            "core.observed.",
            "strict.observed.",
            "core.chat.",
            "core.groups.removed-member-refused",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_answers_with_other_statuses_are_caught() {
    // Each creation and the deletions apart: the steps after a failed
    // creation are skipped, naming it as the cause, not caught again.
    for (method, prefix, caught) in [
        (
            Method::POST,
            "/admin/users",
            &["core.admin.create-user"][..],
        ),
        (
            Method::POST,
            "/admin/clients",
            &["core.admin.create-client"][..],
        ),
        (
            Method::DELETE,
            "/admin/",
            &["core.admin.delete-user", "core.admin.delete-client"][..],
        ),
    ] {
        let fault: AuthFault = Box::new(move |router, _| {
            router.layer(from_fn(move |request: Request, next: Next| {
                let method = method.clone();
                async move {
                    let admin =
                        request.uri().path().starts_with(prefix) && request.method() == method;
                    let mut response = next.run(request).await;
                    if admin && response.status().is_success() {
                        *response.status_mut() = StatusCode::OK;
                    }
                    response
                }
            }))
        });
        let report = run_with_faults(Some(fault), None).await;
        assert_caught_only(
            &report,
            caught,
            // The subject properties register their clients and expect 201.
            &["core.admin.", "strict.fuzz.", "strict.subjects."],
        );
    }
}

pub fn a_replay_answered_with_another_id() -> Layers {
    let seen: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    let fault: ChatFault = Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let seen = seen.clone();
            async move {
                let Some(keyed) = keyed_send(&request) else {
                    return next.run(request).await;
                };
                let replay = !seen.lock().unwrap().insert(keyed);
                let response = next.run(request).await;
                if !replay || !response.status().is_success() {
                    return response;
                }
                let (parts, mut body) = json_of(response).await;
                body["id"] = json!(uuid::Uuid::new_v4());
                with_json(parts, &body)
            }
        }))
    });
    (None, Some(fault))
}

// ---- Checks as strong as their names (issue 27) ------------------------------

/// User tokens whose header names a symmetric algorithm (the signature is
/// the reference's still: only what the header says changes).
fn user_tokens_claim_hs256(_: &mut StatusCode, body: &mut Value) {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(token) = body["access_token"].as_str() else {
        return;
    };
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let Some(mut header) = engine
        .decode(&parts[0])
        .ok()
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
    else {
        return;
    };
    header["alg"] = json!("HS256");
    parts[0] = engine.encode(header.to_string());
    body["access_token"] = json!(parts.join("."));
}

/// A token's header names what its validators must refuse, so only the
/// logins that steps make (through the harness's one client, with a
/// `traceparent`) get the rewritten header; the harness's own logins,
/// whose tokens every other step uses, keep theirs.
fn step_logins_claim_hs256() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let step = request.method() == Method::POST
                && request.uri().path() == "/auth/login"
                && request.headers().contains_key("traceparent");
            let response = next.run(request).await;
            if !step {
                return response;
            }
            let (mut parts, mut answer) = json_of(response).await;
            user_tokens_claim_hs256(&mut parts.status, &mut answer);
            with_json(parts, &answer)
        }))
    })
}

pub fn a_user_token_that_names_a_symmetric_algorithm() -> Layers {
    (Some(step_logins_claim_hs256()), None)
}

/// A key set with a second key that carries its private member `d`.
fn jwks_with_a_private_second_key(_: &mut StatusCode, body: &mut Value) {
    if let Some(keys) = body["keys"].as_array_mut()
        && let Some(first) = keys.first().cloned()
    {
        let mut leaked = first;
        leaked["kid"] = json!("leaked");
        leaked["d"] = json!("c2VjcmV0");
        keys.push(leaked);
    }
}

pub fn a_private_member_in_any_key_of_the_set() -> Layers {
    let fault = auth_answers(
        |method, path| method == Method::GET && path == "/.well-known/jwks.json",
        jwks_with_a_private_second_key,
    );
    (Some(fault), None)
}

/// A chat-api that waits 6 s on a hanging auth-api (its timeout is past the
/// contract's 5 s): the hang check's bound, 5 s and a margin of 0.5 s for
/// the chat-api's own work and the network, catches it.
pub fn a_timeout_longer_than_five_seconds() -> Layers {
    let fault: ChatFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let started = tokio::time::Instant::now();
            let response = next.run(request).await;
            if response.status() == StatusCode::GATEWAY_TIMEOUT {
                tokio::time::sleep_until(started + std::time::Duration::from_secs(6)).await;
            }
            response
        }))
    });
    (None, Some(fault))
}

/// A chat-api that answers a send whose body is not JSON with 401, as if
/// the valid token were the trouble.
pub fn a_401_to_bad_input_with_a_valid_token() -> Layers {
    let fault: ChatFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if !is_send(request.method(), request.uri().path()) {
                return next.run(request).await;
            }
            let (parts, body) = request.into_parts();
            let bytes = to_bytes(body, 4 << 20).await.unwrap_or_default();
            if serde_json::from_slice::<Value>(&bytes).is_err() {
                return error(StatusCode::UNAUTHORIZED, "invalid_token");
            }
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }))
    });
    (None, Some(fault))
}
