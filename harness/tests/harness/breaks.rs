//! Faults that each break one clause of the contract, for the rows of
//! `clauses.rs` that no older test made: small rewrites of what a
//! reference service answers (or of the tokens it issues).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use conformance::{AuthFault, ChatFault};
use serde_json::{Value, json};

use crate::coverage::{
    auth_answers, chat_answers, is_listing, is_send, rebuilt, request_json, tokens_rewritten,
};
use crate::faults::{is_service, json_of, with_json};
use crate::helpers::Layers;

fn auth(fault: AuthFault) -> Layers {
    (Some(fault), None)
}

fn chat(fault: ChatFault) -> Layers {
    (None, Some(fault))
}

/// A router layer over the chat-api's routes or the auth-api's.
fn on_service(
    at_chat: bool,
    layer: impl FnOnce(axum::Router) -> axum::Router + Send + 'static,
) -> Layers {
    if at_chat {
        chat(Box::new(move |router, _| layer(router)))
    } else {
        auth(Box::new(move |router, _| layer(router)))
    }
}

/// A layer that rewrites the headers of the answers `applies` picks (by
/// the request's method, path and headers, and the answer's status).
fn headers(
    applies: fn(&Method, &str, &HeaderMap, StatusCode) -> bool,
    change: fn(&mut HeaderMap),
) -> impl Fn(axum::Router) -> axum::Router + Send + 'static {
    move |router: axum::Router| {
        router.layer(from_fn(move |request: Request, next: Next| async move {
            let (method, path, sent) = (
                request.method().clone(),
                request.uri().path().to_owned(),
                request.headers().clone(),
            );
            let mut response = next.run(request).await;
            if applies(&method, &path, &sent, response.status()) {
                change(response.headers_mut());
            }
            response
        }))
    }
}

fn auth_headers(
    applies: fn(&Method, &str, &HeaderMap, StatusCode) -> bool,
    change: fn(&mut HeaderMap),
) -> Layers {
    let layer = headers(applies, change);
    auth(Box::new(move |router, _| layer(router)))
}

/// A layer that answers the requests `applies` picks itself.
fn answering(
    applies: fn(&Method, &str, &HeaderMap) -> bool,
    answer: fn() -> Response,
) -> impl Fn(axum::Router) -> axum::Router + Send + 'static {
    move |router: axum::Router| {
        router.layer(from_fn(move |request: Request, next: Next| async move {
            if applies(request.method(), request.uri().path(), request.headers()) {
                return answer();
            }
            next.run(request).await
        }))
    }
}

fn auth_answering(
    applies: fn(&Method, &str, &HeaderMap) -> bool,
    answer: fn() -> Response,
) -> Layers {
    let layer = answering(applies, answer);
    auth(Box::new(move |router, _| layer(router)))
}

fn chat_answering(
    applies: fn(&Method, &str, &HeaderMap) -> bool,
    answer: fn() -> Response,
) -> Layers {
    let layer = answering(applies, answer);
    chat(Box::new(move |router, _| layer(router)))
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

fn sent_credentials(sent: &HeaderMap) -> bool {
    sent.contains_key(header::AUTHORIZATION)
}

fn is_oauth(path: &str) -> bool {
    path.starts_with("/oauth/")
}

// ---- Common rules ----------------------------------------------------------

/// Revocation refuses the form the OAuth endpoints take.
pub fn revocation_refusing_forms() -> Layers {
    auth_answering(
        |m, p, _| m == Method::POST && p == "/oauth/revoke",
        || {
            json_answer(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &json!({"error": "invalid_request", "error_description": "JSON only"}),
            )
        },
    )
}

/// The token endpoint's errors under a code of its own.
pub fn oauth_errors_renamed() -> Layers {
    auth(auth_answers(
        |_, p| p == "/oauth/token",
        |status, body| {
            if status.is_client_error() {
                body["error"] = json!("token_error");
            }
        },
    ))
}

/// The auth-api's 401s (but the token endpoint's) without a challenge.
pub fn unauthorized_without_a_challenge() -> Layers {
    auth_headers(
        |_, p, _, status| status == StatusCode::UNAUTHORIZED && !is_oauth(p),
        |h| {
            h.remove(header::WWW_AUTHENTICATE);
        },
    )
}

/// A refused token's challenge without `error="invalid_token"`.
pub fn refused_token_challenge_without_error() -> Layers {
    auth_headers(
        |_, p, sent, status| {
            status == StatusCode::UNAUTHORIZED && !is_oauth(p) && sent_credentials(sent)
        },
        |h| {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        },
    )
}

/// A missing scope's challenge that does not name the scope.
pub fn scope_challenge_without_the_scope() -> Layers {
    auth_headers(
        |_, _, _, status| status == StatusCode::FORBIDDEN,
        |h| {
            if h.contains_key(header::WWW_AUTHENTICATE) {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"insufficient_scope\""),
                );
            }
        },
    )
}

/// A chat-api whose /health is 503.
pub fn chat_health_unavailable() -> Layers {
    chat_answering(
        |_, p, _| p == "/health",
        || StatusCode::SERVICE_UNAVAILABLE.into_response(),
    )
}

/// An auth-api never ready.
pub fn auth_never_ready() -> Layers {
    auth_answering(
        |_, p, _| p == "/ready",
        || StatusCode::SERVICE_UNAVAILABLE.into_response(),
    )
}

/// Sent messages answered with an empty id.
pub fn empty_message_ids() -> Layers {
    chat(chat_answers(is_send, |status, body| {
        if *status == StatusCode::CREATED {
            body["id"] = json!("");
        }
    }))
}

/// A next page's cursor answered as a boolean.
pub fn cursors_as_booleans() -> Layers {
    chat(chat_answers(is_listing, |_, body| {
        if !body["next_cursor"].is_null() {
            body["next_cursor"] = json!(true);
        }
    }))
}

/// A method the auth-api does not take answered 405 in plain text.
pub fn wrong_methods_in_plain_text() -> Layers {
    auth(Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let response = next.run(request).await;
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                return (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response();
            }
            response
        }))
    }))
}

/// A new group answered with a number for its name: no check but the
/// shape of the answer (the snapshot) looks at the name.
pub fn new_groups_named_by_a_number() -> Layers {
    auth(auth_answers(
        |m, p| m == Method::POST && p == "/api/auth/groups",
        |status, body| {
            if *status == StatusCode::CREATED {
                body["name"] = json!(7);
            }
        },
    ))
}

// ---- Tokens ----------------------------------------------------------------

/// User tokens without a `kid`.
pub fn user_tokens_without_kid() -> Layers {
    tokens_rewritten("/auth/login", |header, _| {
        header.as_object_mut().map(|h| h.remove("kid"));
    })
}

/// User tokens typed `JWT`, not `at+jwt`.
pub fn user_tokens_typed_jwt() -> Layers {
    tokens_rewritten("/auth/login", |header, _| header["typ"] = json!("JWT"))
}

/// Service tokens that carry an email.
pub fn service_tokens_with_an_email() -> Layers {
    tokens_rewritten("/oauth/token", |_, claims| {
        claims["email"] = json!("service@example.com");
    })
}

fn pair((auth, chat): (AuthFault, ChatFault)) -> Layers {
    (Some(auth), Some(chat))
}

pub fn skip_signature() -> Layers {
    pair(crate::faults::skip_signature())
}

pub fn skip_times() -> Layers {
    pair(crate::faults::skip_times())
}

pub fn skip_issuer() -> Layers {
    pair(crate::faults::skip_issuer())
}

pub fn ignore_kid() -> Layers {
    pair(crate::faults::ignore_kid())
}

pub fn hmac_with_the_public_key() -> Layers {
    pair(crate::faults::hmac_with_public_pem("dev-ed25519"))
}

// ---- Auth-API --------------------------------------------------------------

/// A login answer whose `expires_in` is a string.
pub fn login_expires_in_as_text() -> Layers {
    auth(auth_answers(
        |_, p| p == "/auth/login",
        |status, body| {
            if *status == StatusCode::OK {
                body["expires_in"] = json!(body["expires_in"].to_string());
            }
        },
    ))
}

/// /auth/me without the email.
pub fn me_without_email() -> Layers {
    auth(auth_answers(
        |_, p| p == "/auth/me",
        |_, body| {
            body.as_object_mut().map(|b| b.remove("email"));
        },
    ))
}

/// /auth/me answering a service token as if it were a user.
pub fn me_for_services() -> Layers {
    auth(Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.uri().path() == "/auth/me" && is_service(&request) {
                let sub = crate::coverage::claims_of(&request)["sub"].clone();
                return json_answer(StatusCode::OK, &json!({"id": sub, "email": null}));
            }
            next.run(request).await
        }))
    }))
}

/// Client registration (`POST /admin/clients`) that refuses the ids
/// `refused` picks with `status` and `code`, as a server's own id rule
/// would.
fn clients_refused(refused: fn(&str) -> bool, status: StatusCode, code: &'static str) -> Layers {
    auth(Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| async move {
            if request.method() != Method::POST || request.uri().path() != "/admin/clients" {
                return next.run(request).await;
            }
            let (parts, body) = request_json(request).await;
            if body["client_id"].as_str().is_some_and(refused) {
                return crate::coverage::error(status, code);
            }
            next.run(rebuilt(parts, &body)).await
        }))
    }))
}

/// UUID-shaped client ids refused unless spelled as the contract spells
/// user ids (a strict pattern where any UUID spelling must be taken).
pub fn uuid_spellings_refused() -> Layers {
    clients_refused(
        |id| {
            let canonical =
                uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id);
            uuid::Uuid::parse_str(id).is_ok() && !canonical
        },
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
}

/// Client ids over 250 characters refused (a column five short of the
/// contract's 255).
pub fn long_client_ids_refused() -> Layers {
    clients_refused(
        |id| id.chars().count() > 250,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
}

/// Client ids beyond printable ASCII refused with 422, where the contract
/// allows only 400 `invalid_request`.
pub fn non_ascii_client_ids_unprocessable() -> Layers {
    clients_refused(
        |id| !id.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
    )
}

/// Token answers that may be cached.
pub fn tokens_cacheable() -> Layers {
    auth_headers(
        |_, p, _, _| p == "/oauth/token",
        |h| {
            h.remove(header::CACHE_CONTROL);
        },
    )
}

/// A token answer that also hands out a refresh token.
pub fn tokens_with_a_refresh_token() -> Layers {
    auth(auth_answers(
        |_, p| p == "/oauth/token",
        |status, body| {
            if *status == StatusCode::OK {
                body["refresh_token"] = json!("faulty-refresh-token");
            }
        },
    ))
}

/// A token issued with 201 Created, where the token endpoint answers 200.
pub fn tokens_issued_as_created() -> Layers {
    auth(auth_answers(
        |_, p| p == "/oauth/token",
        |status, _| {
            if *status == StatusCode::OK {
                *status = StatusCode::CREATED;
            }
        },
    ))
}

/// Credentials in the form body accepted without issuing a token.
pub fn form_credentials_without_a_token() -> Layers {
    auth(Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let basic = request.headers().contains_key(header::AUTHORIZATION);
            if request.uri().path() != "/oauth/token" || basic {
                return next.run(request).await;
            }
            let response = next.run(request).await;
            if response.status() != StatusCode::OK {
                return response;
            }
            let (parts, mut body) = json_of(response).await;
            body.as_object_mut().map(|b| b.remove("access_token"));
            with_json(parts, &body)
        }))
    }))
}

/// An unsupported grant type answered `invalid_request`.
pub fn unsupported_grant_as_invalid_request() -> Layers {
    auth(auth_answers(
        |_, p| p == "/oauth/token",
        |_, body| {
            if body["error"] == "unsupported_grant_type" {
                body["error"] = json!("invalid_request");
            }
        },
    ))
}

/// `invalid_client` after HTTP Basic without the Basic challenge.
pub fn invalid_client_without_basic_challenge() -> Layers {
    auth_headers(
        |_, p, _, status| p == "/oauth/token" && status == StatusCode::UNAUTHORIZED,
        |h| {
            h.remove(header::WWW_AUTHENTICATE);
        },
    )
}

/// A group answered without its name.
pub fn groups_without_a_name() -> Layers {
    auth(auth_answers(
        |m, p| m == Method::GET && p.starts_with("/api/auth/groups/") && !p.ends_with("/members"),
        |_, body| {
            body.as_object_mut().map(|b| b.remove("name"));
        },
    ))
}

/// Creations at the requests `applies` picks answered 200, not 201.
fn created_as_200(applies: fn(&Method, &str) -> bool) -> Layers {
    auth(auth_answers(applies, |status, _| {
        if *status == StatusCode::CREATED {
            *status = StatusCode::OK;
        }
    }))
}

/// A new group answered 200.
pub fn groups_created_with_200() -> Layers {
    created_as_200(|m, p| m == Method::POST && p == "/api/auth/groups")
}

/// A new member answered 200, as if already one.
pub fn members_added_with_200() -> Layers {
    created_as_200(|m, p| m == Method::POST && p.ends_with("/members"))
}

/// A new user answered without the email.
pub fn users_created_without_email() -> Layers {
    auth(auth_answers(
        |m, p| m == Method::POST && p == "/admin/users",
        |_, body| {
            body.as_object_mut().map(|b| b.remove("email"));
        },
    ))
}

/// A new client answered without its scopes.
pub fn clients_created_without_scopes() -> Layers {
    auth(auth_answers(
        |m, p| m == Method::POST && p == "/admin/clients",
        |_, body| {
            body.as_object_mut().map(|b| b.remove("scopes"));
        },
    ))
}

/// A client id already taken answered as if registered.
pub fn client_conflicts_registered() -> Layers {
    auth(auth_answers(
        |m, p| m == Method::POST && p == "/admin/clients",
        |status, body| {
            if *status == StatusCode::CONFLICT {
                *status = StatusCode::CREATED;
                *body = json!({"client_id": "taken", "client_secret": "s", "scopes": []});
            }
        },
    ))
}

/// A key set whose first key has no `kid` (a key no token can name; the
/// services' own keys stay usable).
pub fn a_first_key_without_kid() -> Layers {
    auth(auth_answers(
        |_, p| p == "/.well-known/jwks.json",
        |_, body| {
            if let Some(keys) = body["keys"].as_array_mut()
                && let Some(mut decoy) = keys.first().cloned()
            {
                decoy.as_object_mut().map(|k| k.remove("kid"));
                keys.insert(0, decoy);
            }
        },
    ))
}

/// Client credentials in the query string honoured.
pub fn secrets_in_the_query_honoured() -> Layers {
    auth(Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let query = request.uri().query().unwrap_or_default();
            if request.uri().path() == "/oauth/token" && query.contains("client_secret=") {
                return json_answer(
                    StatusCode::OK,
                    &json!({"access_token": "t", "token_type": "Bearer", "expires_in": 300}),
                );
            }
            next.run(request).await
        }))
    }))
}

/// A JSON body at the token endpoint answered 200.
pub fn json_token_requests_answered() -> Layers {
    auth_answering(
        |m, p, sent| {
            m == Method::POST
                && p == "/oauth/token"
                && sent
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
        },
        || json_answer(StatusCode::OK, &json!({})),
    )
}

/// A message declared as `text/plain` refused with 422 `unprocessable`,
/// where the contract allows 415 or 400.
pub fn other_content_types_answered_422() -> Layers {
    chat_answering(
        |m, p, sent| {
            is_send(m, p)
                && sent
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"))
        },
        || {
            let body = json!({ "error": "unprocessable", "error_description": "faulty" });
            json_answer(StatusCode::UNPROCESSABLE_ENTITY, &body)
        },
    )
}

/// A message that declares no content type answered 500, where the
/// contract allows processing it or 415.
pub fn untyped_messages_failing() -> Layers {
    chat_answering(
        |m, p, sent| is_send(m, p) && !sent.contains_key(header::CONTENT_TYPE),
        || {
            let body = json!({ "error": "internal", "error_description": "faulty" });
            json_answer(StatusCode::INTERNAL_SERVER_ERROR, &body)
        },
    )
}

// ---- Chat-API --------------------------------------------------------------

/// Sends with a service token accepted.
pub fn chat_takes_service_tokens() -> Layers {
    chat(Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if is_send(request.method(), request.uri().path()) && is_service(&request) {
                return json_answer(StatusCode::CREATED, &json!({"id": "x"}));
            }
            next.run(request).await
        }))
    }))
}

/// Content limited to 4000 bytes rather than characters.
pub fn content_counted_in_bytes() -> Layers {
    chat(Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if !is_send(request.method(), request.uri().path()) {
                return next.run(request).await;
            }
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let sent: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if sent["content"]
                .as_str()
                .is_some_and(|c| c.trim().len() > 4000)
            {
                let body = json!({ "error": "invalid_request", "error_description": "too long" });
                return json_answer(StatusCode::BAD_REQUEST, &body);
            }
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }))
    }))
}

/// A send without a token answered 403.
pub fn anonymous_sends_forbidden() -> Layers {
    chat_answering(
        |m, p, sent| is_send(m, p) && !sent_credentials(sent),
        || {
            json_answer(
                StatusCode::FORBIDDEN,
                &json!({"error": "forbidden", "error_description": "log in"}),
            )
        },
    )
}

/// A stored message answered with another organisation.
pub fn messages_answered_with_another_org() -> Layers {
    chat(chat_answers(is_send, |status, body| {
        if *status == StatusCode::CREATED {
            body["org_id"] = json!("00000000-0000-4000-8000-000000000000");
        }
    }))
}

/// A key reused with another body answered as a new message.
pub fn reused_keys_answered_201() -> Layers {
    chat(chat_answers(is_send, |status, body| {
        if *status == StatusCode::UNPROCESSABLE_ENTITY {
            *status = StatusCode::CREATED;
            *body = json!({"id": "again"});
        }
    }))
}

/// The member a clause is about left out of its answer (a 2xx of the
/// request it names), or the claim out of the token that answer carries
/// (signed again, and taken by both services as the token it was).
pub fn member_left_out(member: conformance::clauses::Member) -> Layers {
    if let Some(claim) = member.claim.clone() {
        let path = member.answer.split_once(' ').map_or("", |(_, p)| p);
        return tokens_rewritten(path, move |header, claims| {
            if let Some(claims) = claims.as_object_mut() {
                claims.remove(&claim);
            }
            // Two logins within a second would otherwise make one token
            // without a `jti`: each stands for its own original.
            header["x-fault"] = json!(uuid::Uuid::new_v4().to_string());
        });
    }
    let at_chat = member.at_chat();
    let layer = move |router: axum::Router| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let member = member.clone();
            async move {
                let picked = member.answers(request.method().as_str(), request.uri().path());
                let response = next.run(request).await;
                if !picked || !response.status().is_success() {
                    return response;
                }
                let (parts, mut body) = json_of(response).await;
                member.take_out(&mut body);
                with_json(parts, &body)
            }
        }))
    };
    on_service(at_chat, layer)
}

/// The refusal a clause is about answered as another refusal (a 401
/// `invalid_token`, or for a 401 a 403 `forbidden`): the seed's class of
/// bug.
pub fn refusal_changed(refusal: conformance::clauses::Refusal) -> Layers {
    let at_chat = refusal.at_chat();
    let layer = move |router: axum::Router| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let refusal = refusal.clone();
            async move {
                let (method, path) = (
                    request.method().to_string(),
                    request.uri().path().to_owned(),
                );
                let response = next.run(request).await;
                if response.status().as_u16() != refusal.status {
                    return response;
                }
                let (mut parts, mut body) = json_of(response).await;
                if !refusal.is(
                    &method,
                    &path,
                    parts.status.as_u16(),
                    body["error"].as_str(),
                ) {
                    return with_json(parts, &body);
                }
                let (status, code) = refusal.instead();
                parts.status = StatusCode::from_u16(status).expect("a status");
                body["error"] = json!(code);
                with_json(parts, &body)
            }
        }))
    };
    on_service(at_chat, layer)
}
