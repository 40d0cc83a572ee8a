//! Bugs re-created as layers around the reference services.

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use conformance::{AuthFault, ChatFault};
use reference_shared::{Claims, SigningKey};
use serde_json::{Value, json};

/// The request's bearer token.
pub fn bearer(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn claims(token: &str) -> Option<Claims> {
    serde_json::from_value(conformance::jwt::claims(token)?).ok()
}

/// Whether the request carries a service token.
pub fn is_service(request: &Request) -> bool {
    bearer(request)
        .and_then(|t| claims(&t))
        .is_some_and(|c| c.client_id.is_some())
}

/// An answer's parts and JSON body (`null` when it is not JSON).
pub async fn json_of(response: Response) -> (axum::http::response::Parts, Value) {
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    (parts, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The answer rebuilt around another JSON body.
pub fn with_json(mut parts: axum::http::response::Parts, value: &Value) -> Response {
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// THE SEED'S BUG: the members endpoint parses every `sub` as a user UUID
/// and answers a service token 401 "Invalid subject in token".
pub fn seed_bug() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.method() == Method::GET && request.uri().path().ends_with("/members") && is_service(&request) {
                let body = json!({ "error": "invalid_token", "error_description": "Invalid subject in token" });
                return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
            }
            next.run(request).await
        }))
    })
}

/// The group endpoints do not check a service's scope: a service token
/// without `groups:read` is treated as if it had it.
pub fn no_scope_check() -> AuthFault {
    let key = SigningKey::from_file(&conformance::dev_key_path()).expect("the development key");
    Box::new(move |router, _| {
        router.layer(from_fn(move |mut request: Request, next: Next| {
            let key = key.clone();
            async move {
                let token = bearer(&request)
                    .filter(|_| request.uri().path().starts_with("/api/auth/groups/"));
                if let Some(mut claims) = token
                    .as_deref()
                    .and_then(claims)
                    .filter(|c| c.client_id.is_some())
                {
                    claims.scope = Some("groups:read".to_owned());
                    let forged = key.sign(&claims).expect("signing");
                    request.headers_mut().insert(
                        header::AUTHORIZATION,
                        format!("Bearer {forged}").parse().expect("a header"),
                    );
                }
                next.run(request).await
            }
        }))
    })
}

/// The members endpoint lists everyone who ever logged in, so the chat-api
/// lets a non-member post.
pub fn members_list_everyone() -> AuthFault {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let seen = seen.clone();
            async move {
                let path = request.uri().path().to_owned();
                let members_for_service = path.ends_with("/members") && is_service(&request);
                let response = next.run(request).await;
                if path == "/auth/login" && response.status() == StatusCode::OK {
                    let (parts, body) = json_of(response).await;
                    if let Some(sub) = body["access_token"].as_str().and_then(claims).and_then(|c| c.sub) {
                        seen.lock().unwrap().push(sub);
                    }
                    return with_json(parts, &body);
                }
                if members_for_service && response.status() == StatusCode::OK {
                    let (parts, mut body) = json_of(response).await;
                    if let Some(list) = body["members"].as_array_mut() {
                        for sub in seen.lock().unwrap().iter() {
                            list.push(json!({ "user_id": sub, "email": "x@example.com", "role": "member", "joined_at": "2026-01-01T00:00:00.000000Z" }));
                        }
                    }
                    return with_json(parts, &body);
                }
                response
            }
        }))
    })
}

/// The chat-api ignores `sender_id`.
pub fn sender_not_compared() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.method() != Method::POST {
                return next.run(request).await;
            }
            let (parts, body) = request.into_parts();
            let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
            let body = match serde_json::from_slice::<Value>(&bytes) {
                Ok(mut value) => {
                    if let Some(map) = value.as_object_mut() {
                        map.remove("sender_id");
                    }
                    Body::from(value.to_string())
                }
                Err(_) => Body::from(bytes),
            };
            let mut parts = parts;
            parts.headers.remove(header::CONTENT_LENGTH);
            next.run(Request::from_parts(parts, body)).await
        }))
    })
}

/// The chat-api turns an auth-api failure into a 500, as the seed's did.
pub fn upstream_failure_is_500() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let response = next.run(request).await;
            if (502..=504).contains(&response.status().as_u16()) {
                let body = json!({ "error": "server_error", "error_description": "Internal Server Error" });
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
            }
            response
        }))
    })
}

/// The chat-api fetches a service token for every message.
pub fn token_per_message() -> ChatFault {
    Box::new(|router, state| {
        let state = state.clone();
        router.layer(from_fn(move |request: Request, next: Next| {
            let state = state.clone();
            async move {
                state.forget_service_token().await;
                next.run(request).await
            }
        }))
    })
}

/// A layer that rewrites bearer tokens before the service sees them: when
/// `rewrite` changes a token's header or claims, the result is re-signed
/// with the development key, so the service accepts what a broken verifier
/// would have accepted.
fn rewriting_tokens(
    rewrite: impl Fn(&mut Value, &mut Value) -> bool + Send + Sync + 'static,
) -> impl Fn(axum::Router) -> axum::Router + Clone + Send {
    let rewrite = Arc::new(rewrite);
    move |router: axum::Router| {
        let rewrite = Arc::clone(&rewrite);
        let key = SigningKey::from_file(&conformance::dev_key_path()).expect("the development key");
        router.layer(from_fn(move |mut request: Request, next: Next| {
            let key = key.clone();
            let rewrite = Arc::clone(&rewrite);
            async move {
                let decoded = bearer(&request).and_then(|token| conformance::jwt::decode(&token));
                if let Some((mut header, mut claims)) = decoded
                    && rewrite(&mut header, &mut claims)
                {
                    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": key.kid() });
                    let forged = key.sign_raw(&header, &claims).expect("signing");
                    request.headers_mut().insert(
                        header::AUTHORIZATION,
                        format!("Bearer {forged}").parse().expect("a header"),
                    );
                }
                next.run(request).await
            }
        }))
    }
}

/// Both services wear the same broken verifier.
pub fn both(
    rewrite: impl Fn(&mut Value, &mut Value) -> bool + Send + Sync + 'static,
) -> (AuthFault, ChatFault) {
    let layer = rewriting_tokens(rewrite);
    let chat = layer.clone();
    (
        Box::new(move |router, _| layer(router)),
        Box::new(move |router, _| chat(router)),
    )
}

/// Verifiers that accept `alg: none` (in any spelling).
pub fn accept_alg_none() -> (AuthFault, ChatFault) {
    both(|header, _| {
        header["alg"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case("none"))
    })
}

/// Verifiers that do not check `aud`.
pub fn skip_audience() -> (AuthFault, ChatFault) {
    both(|_, claims| {
        if claims["aud"] == "conformance-apis" {
            return false;
        }
        claims["aud"] = json!("conformance-apis");
        true
    })
}

/// The auth-api classifies a principal by the shape of `sub`: a service
/// whose client id is a UUID becomes a user.
pub fn classify_by_uuid_shape() -> AuthFault {
    let layer = rewriting_tokens(|_, claims| {
        let uuid_sub = claims["sub"]
            .as_str()
            .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok());
        let Some(map) = claims.as_object_mut().filter(|_| uuid_sub) else {
            return false;
        };
        if map.remove("client_id").is_none() {
            return false;
        }
        map.remove("scope");
        map.insert("type".to_owned(), json!("access"));
        true
    });
    Box::new(move |router, _| layer(router))
}

/// The token endpoint does not form-urldecode HTTP Basic credentials (RFC
/// 6749 App. B): re-created by encoding the client id once more, so that
/// the reference's one decoding leaves it encoded. Ids made of unreserved
/// characters only still work.
pub fn basic_not_decoded() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|mut request: Request, next: Next| async move {
            let basic = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((id, secret)) = basic.as_deref().and_then(|p| p.split_once(':')) {
                let pair = format!("{}:{secret}", reference_shared::form::encode(id));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                request
                    .headers_mut()
                    .insert(header::AUTHORIZATION, value.parse().expect("a header"));
            }
            next.run(request).await
        }))
    })
}

/// Every 401 of the auth-api says `error="invalid_token"`, also to a
/// request that sent no credentials (RFC 6750 §3.1 says it must not).
pub fn challenge_always_names_an_error() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let mut response = next.run(request).await;
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    "Bearer error=\"invalid_token\"".parse().expect("a header"),
                );
            }
            response
        }))
    })
}

/// The auth-api answers malformed JSON the way axum does out of the box:
/// 400 in plain text, not the contract's body.
pub fn plain_text_rejections() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let response = next.run(request).await;
            if response.status() == StatusCode::BAD_REQUEST {
                return (
                    StatusCode::BAD_REQUEST,
                    "Failed to parse the request body as JSON",
                )
                    .into_response();
            }
            response
        }))
    })
}

/// The chat-api parses the body itself and fails with a 500 on anything
/// that is not UTF-8, as a handler that unwraps would.
pub fn chat_500_on_non_utf8() -> ChatFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            let (parts, body) = request.into_parts();
            let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
            if std::str::from_utf8(&bytes).is_err() {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }))
    })
}

/// The chat-api passes the user's own token on to the auth-api's members
/// endpoint before doing its job (a plausible shortcut: "she may read her
/// own group"), which the recorder sees.
pub fn user_token_upstream() -> ChatFault {
    Box::new(|router, state| {
        let base = state.auth().base().to_owned();
        router.layer(from_fn(move |request: Request, next: Next| {
            let base = base.clone();
            async move {
                let path = request.uri().path().to_owned();
                if request.method() == Method::POST && path.ends_with("/messages") {
                    let group = path.split('/').nth(4).unwrap_or_default().to_owned();
                    let mut call = reqwest::Client::new()
                        .get(format!("{base}/api/auth/groups/{group}/members"));
                    for name in [header::AUTHORIZATION.as_str(), "traceparent"] {
                        if let Some(value) = request.headers().get(name) {
                            call = call.header(name, value.as_bytes());
                        }
                    }
                    let _ = call.send().await;
                }
                next.run(request).await
            }
        }))
    })
}

/// An auth-api whose answers drift from the contract's shapes while every
/// targeted assertion still holds: members lose `role`, rename `joined_at`
/// and gain a `password_hash`; login answers `expires_in` as a string and
/// issues tokens with an extra `admin` claim and no `nbf`.
pub fn reshaped_answers() -> AuthFault {
    let key = SigningKey::from_file(&conformance::dev_key_path()).expect("the development key");
    Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let key = key.clone();
            async move {
                let path = request.uri().path().to_owned();
                let response = next.run(request).await;
                if response.status() != StatusCode::OK {
                    return response;
                }
                if path.ends_with("/members") {
                    let (parts, mut body) = json_of(response).await;
                    for member in body["members"].as_array_mut().into_iter().flatten() {
                        if let Some(member) = member.as_object_mut() {
                            member.remove("role");
                            if let Some(joined) = member.remove("joined_at") {
                                member.insert("joinedAt".to_owned(), joined);
                            }
                            member.insert("password_hash".to_owned(), json!("$argon2id$v=19$..."));
                        }
                    }
                    return with_json(parts, &body);
                }
                if path == "/.well-known/oauth-authorization-server" {
                    let (parts, mut body) = json_of(response).await;
                    body["scopes_supported"] = json!([]);
                    return with_json(parts, &body);
                }
                if path == "/auth/login" {
                    let (parts, mut body) = json_of(response).await;
                    body["expires_in"] = json!(body["expires_in"].to_string());
                    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
                    let (header, mut claims) = conformance::jwt::decode(&token).unwrap_or_default();
                    if let Some(map) = claims.as_object_mut() {
                        map.remove("nbf");
                        map.insert("admin".to_owned(), json!(true));
                    }
                    body["access_token"] = json!(key.sign_raw(&header, &claims).expect("signing"));
                    return with_json(parts, &body);
                }
                response
            }
        }))
    })
}

/// Verifiers that do not check the signature against the pinned key (so
/// whatever the header says about keys, or no signature at all, passes).
pub fn skip_signature() -> (AuthFault, ChatFault) {
    both(|_, _| true)
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Verifiers that do not check `exp` and `nbf`.
pub fn skip_times() -> (AuthFault, ChatFault) {
    both(|_, claims| {
        let (exp, nbf) = (claims["exp"].as_i64(), claims["nbf"].as_i64());
        let expired = exp.is_some_and(|e| e < now());
        let early = nbf.is_some_and(|n| n > now() + 60);
        if expired {
            claims["exp"] = json!(now() + 300);
        }
        if early {
            claims["nbf"] = json!(now() - 1);
        }
        expired || early
    })
}

/// Verifiers that do not check `iss`: the issuer they should have
/// required is the one of the first token they see (the harness's own).
pub fn skip_issuer() -> (AuthFault, ChatFault) {
    let issuer: Arc<Mutex<Option<Value>>> = Arc::default();
    both(move |_, claims| {
        let mut known = issuer.lock().unwrap();
        let Some(expected) = known.clone() else {
            *known = Some(claims["iss"].clone());
            return false;
        };
        if claims["iss"] == expected {
            return false;
        }
        claims["iss"] = expected;
        true
    })
}

/// Verifiers that do not require `exp`, `iss`, `aud`, `iat`, `jti` or
/// `sub` (a user without `sub` is looked up by the token's `email`, the
/// others get defaults), as issuers and subjects seen earlier suggest.
pub fn skip_required_claims() -> (AuthFault, ChatFault) {
    let issuer: Arc<Mutex<Option<Value>>> = Arc::default();
    let users: Arc<Mutex<std::collections::HashMap<String, Value>>> = Arc::default();
    both(move |_, claims| {
        let Some(map) = claims.as_object_mut() else {
            return false;
        };
        let mut known = issuer.lock().unwrap();
        if known.is_none() {
            *known = map.get("iss").cloned();
        }
        let mut users = users.lock().unwrap();
        let email = map.get("email").and_then(Value::as_str).map(str::to_owned);
        let mut changed = false;
        match (map.get("sub").cloned(), email) {
            (Some(sub), Some(email)) => {
                users.insert(email, sub);
            }
            (None, Some(email)) => {
                if let Some(sub) = users.get(&email) {
                    map.insert("sub".to_owned(), sub.clone());
                    changed = true;
                }
            }
            _ => {}
        }
        for (claim, value) in [
            ("exp", json!(now() + 300)),
            ("iat", json!(now())),
            ("jti", json!(uuid::Uuid::new_v4().to_string())),
            ("aud", json!("conformance-apis")),
            ("iss", known.clone().unwrap_or_default()),
        ] {
            if !map.contains_key(claim) {
                map.insert(claim.to_owned(), value);
                changed = true;
            }
        }
        changed
    })
}

/// Verifiers that classify by `type` first: a user token that also
/// carries `client_id = sub` stays the user (the contract's rule makes it a
/// service, or the token is refused).
pub fn users_by_type_first() -> (AuthFault, ChatFault) {
    both(|_, claims| {
        let Some(map) = claims
            .as_object_mut()
            .filter(|m| m.get("type") == Some(&json!("access")))
        else {
            return false;
        };
        map.remove("client_id").is_some()
    })
}

/// Verifiers that refuse a user token carrying a `scope` claim, which the
/// contract's Principal rule says is still a user.
pub fn refuse_scope_on_users() -> (AuthFault, ChatFault) {
    let refuse = || {
        from_fn(|request: Request, next: Next| async move {
            let scoped_user = bearer(&request)
                .and_then(|t| conformance::jwt::claims(&t))
                .is_some_and(|c| {
                    c.get("type") == Some(&json!("access")) && c.get("scope").is_some()
                });
            if scoped_user {
                let body = json!({ "error": "invalid_token", "error_description": "a user token with a scope" });
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
                    axum::Json(body),
                )
                    .into_response();
            }
            next.run(request).await
        })
    };
    let chat = refuse();
    let auth = refuse();
    (
        Box::new(move |router, _| router.layer(auth)),
        Box::new(move |router, _| router.layer(chat)),
    )
}

/// A layer on both services that takes any token `accept` says a broken
/// verifier would take, re-signed properly with the key at `key_path` so
/// that the service behind it accepts it too.
fn accepting(
    key_path: &std::path::Path,
    accept: impl Fn(&str, &SigningKey) -> bool + Send + Sync + 'static,
) -> (AuthFault, ChatFault) {
    let key = SigningKey::from_file(key_path).expect("the signing key");
    let accept = Arc::new(accept);
    let layer = move |router: axum::Router| {
        let key = key.clone();
        let accept = Arc::clone(&accept);
        router.layer(from_fn(move |mut request: Request, next: Next| {
            let key = key.clone();
            let accept = Arc::clone(&accept);
            async move {
                if let Some(token) = bearer(&request)
                    && accept(&token, &key)
                    && let Some(claims) = conformance::jwt::claims(&token)
                {
                    let header =
                        json!({ "alg": key.algorithm_name(), "typ": "at+jwt", "kid": key.kid() });
                    let forged = key.sign_raw(&header, &claims).expect("signing");
                    request.headers_mut().insert(
                        header::AUTHORIZATION,
                        format!("Bearer {forged}").parse().expect("a header"),
                    );
                }
                next.run(request).await
            }
        }))
    };
    let chat = layer.clone();
    (
        Box::new(move |router, _| layer(router)),
        Box::new(move |router, _| chat(router)),
    )
}

/// Whether a token's signature verifies with this key, whatever its `kid`.
fn signed_by(token: &str, key: &SigningKey) -> bool {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let jwk = &key.jwks().keys[0];
    jsonwebtoken::DecodingKey::from_jwk(jwk).is_ok_and(|decoding| {
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &decoding, key.algorithm())
            .unwrap_or(false)
    })
}

/// Verifiers that do not look the `kid` up: any token their one key
/// signed passes, whatever `kid` it names.
pub fn ignore_kid() -> (AuthFault, ChatFault) {
    accepting(&conformance::dev_key_path(), |token, key| {
        let kid =
            conformance::jwt::header(token).and_then(|h| h["kid"].as_str().map(str::to_owned));
        kid.as_deref() != Some(key.kid()) && signed_by(token, key)
    })
}

/// Verifiers that take the algorithm from the token and, for HS256, use
/// their public key's PEM (as a key loader hands it over) as the secret.
pub fn hmac_with_public_pem(key_name: &str) -> (AuthFault, ChatFault) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/keys");
    let pem = std::fs::read(dir.join(format!("{key_name}.pub.pem"))).expect("the public key");
    accepting(&dir.join(format!("{key_name}.pem")), move |token, _| {
        let hs256 = conformance::jwt::header(token).is_some_and(|h| h["alg"] == "HS256");
        let Some((message, signature)) = token.rsplit_once('.') else {
            return false;
        };
        hs256
            && jsonwebtoken::DecodingKey::from_secret(&pem).is_ok_and(|secret| {
                jsonwebtoken::crypto::verify(
                    signature,
                    message.as_bytes(),
                    &secret,
                    jsonwebtoken::Algorithm::HS256,
                )
                .unwrap_or(false)
            })
    })
}

/// A chat-api that fetches the key set again for every token whose `kid`
/// it does not know, with no rate limit.
pub fn jwks_per_unknown_kid() -> ChatFault {
    Box::new(|router, state| {
        let base = state.auth().base().to_owned();
        router.layer(from_fn(move |request: Request, next: Next| {
            let base = base.clone();
            async move {
                let kid = bearer(&request)
                    .and_then(|t| conformance::jwt::header(&t))
                    .and_then(|h| h["kid"].as_str().map(str::to_owned));
                if kid.is_some_and(|k| k.starts_with("conformance-")) {
                    let mut call =
                        reqwest::Client::new().get(format!("{base}/.well-known/jwks.json"));
                    if let Some(value) = request.headers().get("traceparent") {
                        call = call.header("traceparent", value.as_bytes());
                    }
                    let _ = call.send().await;
                }
                next.run(request).await
            }
        }))
    })
}

/// A chat-api that stores the message before it asks the auth-api, and
/// keeps it when the auth-api fails.
pub fn store_before_upstream() -> ChatFault {
    Box::new(|router, state| {
        let state = state.clone();
        router.layer(from_fn(move |request: Request, next: Next| {
            let state = state.clone();
            async move {
                let path = request.uri().path().to_owned();
                let sender = bearer(&request)
                    .and_then(|t| claims(&t))
                    .and_then(|c| c.sub)
                    .and_then(|s| uuid::Uuid::parse_str(&s).ok());
                let response = next.run(request).await;
                let group = path
                    .strip_prefix("/api/chat/groups/")
                    .and_then(|rest| rest.strip_suffix("/messages"))
                    .and_then(|g| uuid::Uuid::parse_str(g).ok());
                if let (Some(group_id), Some(sender_id)) = (group, sender)
                    && response.status().is_server_error()
                {
                    let message = chat_api::store::Message {
                        id: uuid::Uuid::now_v7(),
                        group_id,
                        sender_id,
                        org_id: uuid::Uuid::nil().to_string(),
                        content: "kept although the auth-api failed".to_owned(),
                        created_at: chrono::Utc::now(),
                        request_sha256: None,
                    };
                    let _ = state.store().insert(&message).await;
                }
                response
            }
        }))
    })
}

/// A chat-api that, when the auth-api fails a send, tries the whole send
/// once more: after a 401 it then calls the group endpoint four times, not
/// the two (first call, one retry) the contract allows.
pub fn retries_the_whole_send() -> ChatFault {
    Box::new(|router, _| {
        let inner = router.clone();
        router.layer(from_fn(move |request: Request, next: Next| {
            let inner = inner.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
                let mut again = Request::new(Body::from(bytes.clone()));
                *again.method_mut() = parts.method.clone();
                *again.uri_mut() = parts.uri.clone();
                *again.headers_mut() = parts.headers.clone();
                let sends = parts.method == Method::POST && parts.uri.path().ends_with("/messages");
                let response = next
                    .run(Request::from_parts(parts, Body::from(bytes)))
                    .await;
                if sends && response.status() == StatusCode::BAD_GATEWAY {
                    use tower::ServiceExt as _;
                    return inner.oneshot(again).await.unwrap_or_else(|e| match e {});
                }
                response
            }
        }))
    })
}

/// A hop between the chat-api and the auth-api (or the recorder in front of
/// it): `before` may change a call or answer it itself; `after` sees each
/// call's path and the auth-api's status. What a faulty chat-api's calls
/// would look like from the auth-api's side.
pub fn hop(
    before: impl Fn(&mut axum::http::request::Parts) -> Option<Response> + Send + Sync + 'static,
    after: impl Fn(&str, StatusCode) + Send + Sync + 'static,
) -> conformance::ConfigureChat {
    let (before, after) = (Arc::new(before), Arc::new(after));
    Box::new(move |config| {
        let upstream = config.auth_url.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        config.auth_url = format!("http://{}", listener.local_addr().unwrap());
        let http = reqwest::Client::new();
        let hop = axum::Router::new().fallback(move |request: Request| {
            let (before, after) = (before.clone(), after.clone());
            let (http, upstream) = (http.clone(), upstream.clone());
            async move {
                let (mut parts, body) = request.into_parts();
                if let Some(answer) = before(&mut parts) {
                    return answer;
                }
                let path = parts.uri.path().to_owned();
                let query = parts
                    .uri
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                let mut headers = parts.headers.clone();
                for hop_by_hop in [
                    header::HOST,
                    header::CONTENT_LENGTH,
                    header::TRANSFER_ENCODING,
                ] {
                    headers.remove(hop_by_hop);
                }
                let answer = http
                    .request(parts.method, format!("{upstream}{path}{query}"))
                    .headers(headers)
                    .body(to_bytes(body, 1 << 20).await.unwrap_or_default())
                    .send()
                    .await;
                let Ok(answer) = answer else {
                    return StatusCode::BAD_GATEWAY.into_response();
                };
                after(&path, answer.status());
                let mut response = Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                        response = response.header(name, value);
                    }
                }
                response
                    .body(Body::from(answer.bytes().await.unwrap_or_default()))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        tokio::spawn(async move { axum::serve(listener, hop).await });
    })
}

/// A chat-api that, after a 401 from the group endpoints, never retries:
/// a hop between the chat-api and the recorder answers the call that
/// follows a 401 on the same path with a 401 of its own, so the recorder
/// sees one call where the contract wants two (the chat-api itself still
/// fetches a new token, as the faulty one would).
pub fn never_retries_after_a_401() -> conformance::ConfigureChat {
    let refused: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
    let seen = refused.clone();
    hop(
        move |parts| {
            refused.lock().unwrap().remove(parts.uri.path()).then(|| {
                let body =
                    json!({ "error": "invalid_token", "error_description": "swallowed retry" });
                (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
            })
        },
        move |path, status| {
            if status == StatusCode::UNAUTHORIZED {
                seen.lock().unwrap().insert(path.to_owned());
            }
        },
    )
}
