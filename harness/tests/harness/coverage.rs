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
use conformance::{AuthFault, ChatFault};
use serde_json::{Value, json};

use crate::faults::{bearer, is_service, json_of, with_json};
use crate::helpers::{assert_caught_only, run_with_faults};

// ---- plumbing --------------------------------------------------------------

/// A request's JSON body (`Null` when it is not JSON) and the request
/// rebuilt around `body`.
async fn request_json(request: Request) -> (axum::http::request::Parts, Value) {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    (parts, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn rebuilt(mut parts: axum::http::request::Parts, body: &Value) -> Request {
    parts.headers.remove(header::CONTENT_LENGTH);
    Request::from_parts(parts, Body::from(body.to_string()))
}

fn claims_of(request: &Request) -> Value {
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

fn auth_answers(
    applies: fn(&Method, &str) -> bool,
    change: fn(&mut StatusCode, &mut Value),
) -> AuthFault {
    let layer = answers(applies, change);
    Box::new(move |router, _| layer(router))
}

fn chat_answers(
    applies: fn(&Method, &str) -> bool,
    change: fn(&mut StatusCode, &mut Value),
) -> ChatFault {
    let layer = answers(applies, change);
    Box::new(move |router, _| layer(router))
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = json!({ "error": code, "error_description": "faulty" });
    (status, axum::Json(body)).into_response()
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

fn is_send(method: &Method, path: &str) -> bool {
    method == Method::POST && path.starts_with("/api/chat/groups/") && path.ends_with("/messages")
}

fn is_listing(method: &Method, path: &str) -> bool {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_as_another_member_is_caught() {
    let report = run_with_faults(None, Some(sender_any_member())).await;
    assert_caught_only(
        &report,
        &[
            "core.own-group.sender-another-member",
            "core.own-group.refused-not-stored",
        ],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_before_trimming_is_caught() {
    let report = run_with_faults(None, Some(length_before_trimming())).await;
    assert_caught_only(
        &report,
        &["core.own-group.length-after-trimming"],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_without_the_message_is_caught() {
    let report = run_with_faults(None, Some(location_without_id())).await;
    assert_caught_only(
        &report,
        &["core.own-group.location"],
        // The reference also serves the message at its Location.
        &["core.own-group.", "reference.chat."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_stores_again_is_caught() {
    let report = run_with_faults(None, Some(replay_stores_again())).await;
    assert_caught_only(
        &report,
        &["core.own-group.replay-stores-nothing"],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_shared_across_senders_are_caught() {
    let report = run_with_faults(None, Some(keys_shared_by_senders())).await;
    assert_caught_only(
        &report,
        &["core.own-group.key-per-sender"],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_outside_utc_are_caught() {
    let report = run_with_faults(None, Some(timestamps_not_utc())).await;
    assert_caught_only(
        &report,
        &["core.ids-and-times.message"],
        // Every check of a send's created_at.
        &[
            "core.ids-and-times.",
            "core.own-group.",
            "core.chat.send.member",
            "core.chat.idempotency.first",
            "core.seed.send",
        ],
    );
}

// ---- Chat-API: listing -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_oldest_first_is_caught() {
    let oldest_first = chat_answers(is_listing, |_, body| {
        if let Some(list) = body["messages"].as_array_mut() {
            list.reverse();
        }
    });
    let report = run_with_faults(None, Some(oldest_first)).await;
    assert_caught_only(
        &report,
        &["core.own-group.newest-first"],
        &["core.own-group.", "core.chat.list."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_page_other_than_50_is_caught() {
    let report = run_with_faults(None, Some(default_limit_20())).await;
    assert_caught_only(
        &report,
        &["core.own-group.default-limit"],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_walk_that_skips_messages_is_caught() {
    let report = run_with_faults(None, Some(cursor_skips_one())).await;
    assert_caught_only(
        &report,
        &["core.own-group.cursor-walk"],
        &["core.own-group.", "core.chat.list."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_path_uuid_answered_404_is_caught() {
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
    let report = run_with_faults(None, Some(fault)).await;
    assert_caught_only(
        &report,
        &["core.bad-input.send-path", "core.bad-input.list-path"],
        &["core.bad-input.", "strict.fuzz."],
    );
}

// ---- Auth-API: groups and members --------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_in_another_order_are_caught() {
    let newest_first = auth_answers(
        |method, path| method == Method::GET && path.ends_with("/members"),
        |_, body| {
            if let Some(list) = body["members"].as_array_mut() {
                list.reverse();
            }
        },
    );
    let report = run_with_faults(Some(newest_first), None).await;
    assert_caught_only(
        &report,
        &["core.own-group.members-order"],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_adding_himself_is_caught() {
    let report = run_with_faults(Some(self_join()), None).await;
    assert_caught_only(
        &report,
        &["core.own-group.add-by-non-member"],
        &["core.own-group."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_managing_members_are_caught() {
    let report = run_with_faults(Some(services_manage_members()), None).await;
    assert_caught_only(
        &report,
        &[
            "core.own-group.add-by-service",
            "core.own-group.remove-by-service",
        ],
        &["core.own-group."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_answered_422_is_caught() {
    let unprocessable = auth_answers(
        |method, path| method == Method::POST && path.starts_with("/api/auth/groups"),
        |status, body| {
            if *status == StatusCode::BAD_REQUEST {
                *status = StatusCode::UNPROCESSABLE_ENTITY;
                body["error"] = json!("unprocessable_entity");
            }
        },
    );
    let report = run_with_faults(Some(unprocessable), None).await;
    assert_caught_only(
        &report,
        &[
            "core.bad-input.create-group-malformed",
            "core.bad-input.create-group-invalid",
            "core.bad-input.add-member-invalid",
        ],
        &["core.bad-input.", "strict.fuzz."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_tells_unknown_emails_apart_is_caught() {
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
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(&report, &["core.login.same-answer"], &["core.login."]);
}

// ---- Auth-API: admin ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_answering_403_to_other_credentials_are_caught() {
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
    let report = run_with_faults(Some(fault), None).await;
    let expected: Vec<String> = [
        "create-user",
        "create-client",
        "delete-user",
        "delete-client",
    ]
    .iter()
    .flat_map(|e| {
        ["user-token", "service-token", "no-token"].map(|w| format!("core.admin.{e}.{w}"))
    })
    .collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_caught_only(&report, &expected, &["core.admin.", "strict.fuzz."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_compared_with_their_case_are_caught() {
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
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &["core.admin.duplicate-email-other-case"],
        &["core.admin."],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_delete_that_keeps_the_user_is_caught() {
    let report = run_with_faults(Some(deletes_nothing("/admin/users/")), None).await;
    assert_caught_only(
        &report,
        &[
            "core.admin.deleted-user-token-auth",
            "core.admin.deleted-user-token-chat",
            "core.admin.deleted-user-token-inactive",
            "core.admin.deleted-user-groups-gone",
            "core.admin.deleted-user-memberships-gone",
            "core.admin.delete-user-unknown",
        ],
        // The fuzzing of the same endpoint sees bad input answered 204.
        &["core.admin.", "strict.fuzz.auth.delete-admin-users-id."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_delete_that_keeps_the_client_is_caught() {
    let report = run_with_faults(Some(deletes_nothing("/admin/clients/")), None).await;
    assert_caught_only(
        &report,
        &[
            "core.admin.deleted-client-token-refused",
            "core.admin.deleted-client-no-token",
            "core.admin.delete-client-unknown",
        ],
        &[
            "core.admin.",
            "strict.fuzz.auth.delete-admin-clients-client_id.",
        ],
    );
}

// ---- Auth-API: introspection and revocation --------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_and_revocation_without_client_auth_are_caught() {
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
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &[
            "strict.introspection.needs-client-auth",
            "strict.revocation.needs-client-auth",
        ],
        &[
            "strict.introspection.",
            "strict.revocation.",
            "strict.fuzz.",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_without_client_id_and_scope_is_caught() {
    let fault = auth_answers(
        |_, path| path == "/oauth/introspect",
        |_, body| {
            if let Some(map) = body.as_object_mut() {
                map.remove("client_id");
                map.remove("scope");
            }
        },
    );
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &["core.introspection.service-token"],
        &["core.introspection."],
    );
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
                    let text = String::from_utf8_lossy(&bytes);
                    for pair in text.split('&') {
                        if let Some(token) = pair
                            .strip_prefix("token=")
                            .and_then(reference_shared::form::decode)
                        {
                            revoked.lock().unwrap().insert(token);
                        }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_honoured_only_at_me_is_caught() {
    let report = run_with_faults(Some(revocation_only_at_me()), None).await;
    assert_caught_only(
        &report,
        &[
            "core.revocation.group-refuses",
            "core.revocation.members-refuses",
        ],
        &["core.revocation."],
    );
}

// ---- Tokens and metadata -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expires_in_that_lies_is_caught() {
    let fault = auth_answers(
        |_, path| path == "/auth/login" || path == "/oauth/token",
        |status, body| {
            if *status == StatusCode::OK {
                body["expires_in"] = json!(3600);
            }
        },
    );
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &[
            "core.issued-tokens.user-lifetime",
            "core.issued-tokens.service-lifetime",
        ],
        &["core.issued-tokens."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_that_does_not_verify_the_tokens_is_caught() {
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
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &[
            "core.issued-tokens.user-signed",
            "core.issued-tokens.service-signed",
        ],
        &[
            "core.issued-tokens.",
            "strict.jwt.",
            "strict.jwks",
            "strict.attacks.",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_missing_a_field_is_caught() {
    let fault = auth_answers(
        |_, path| path == "/.well-known/oauth-authorization-server",
        |_, body| {
            body.as_object_mut().unwrap().remove("revocation_endpoint");
        },
    );
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(&report, &["core.discovery.metadata"], &["core.discovery."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_other_than_the_tokens_is_caught() {
    let fault = auth_answers(
        |_, path| path == "/.well-known/oauth-authorization-server",
        |_, body| {
            let issuer = format!("{}/", body["issuer"].as_str().unwrap_or_default());
            body["issuer"] = json!(issuer);
        },
    );
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &[
            "core.issued-tokens.user-subject-and-issuer",
            "core.issued-tokens.service-issuer",
        ],
        &["core.issued-tokens.", "strict.tokens."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_in_another_media_type_are_caught() {
    let fault: AuthFault = Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let path = request.uri().path().to_owned();
            let mut response = next.run(request).await;
            let relabel = path == "/auth/login" || response.status().is_client_error();
            if relabel {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
            }
            response
        }))
    });
    let report = run_with_faults(Some(fault), None).await;
    assert_caught_only(
        &report,
        &[
            "core.issued-tokens.login-json",
            "core.errors.auth-not-found",
            "core.errors.oauth",
        ],
        // RFC 6749 §5.2's errors are JSON too.
        &[
            "core.issued-tokens.",
            "core.errors.",
            "strict.oauth-errors.",
            "strict.fuzz.",
        ],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_uuid_user_sub_taken_for_a_service_is_caught() {
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
    let report = run_with_faults(Some(auth), Some(chat)).await;
    assert_caught_only(
        &report,
        &[
            "strict.jwt.user-non-uuid-sub.group",
            "strict.jwt.user-non-uuid-sub.members",
        ],
        &["strict.jwt.user-non-uuid-sub.", "strict.jwt.no-sub."],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_trusted_over_the_sub_is_caught() {
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
    let report = run_with_faults(Some(auth), Some(chat)).await;
    assert_caught_only(
        &report,
        &[
            "strict.jwt.service-client-id-mismatch.group",
            "strict.jwt.service-client-id-mismatch.members",
        ],
        &[
            "strict.jwt.service-client-id-mismatch.",
            "strict.jwt.client-id-mismatch.",
        ],
    );
}
