//! Consumer-side contract tests: wiremock plays the auth-api.

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, Chat, Store, dev_key, expect_error, expect_json, spawn_chat,
    user_token,
};

/// A fake auth-api: keys, a token endpoint handing out `service-1`, and one
/// group whose only member is `alice`.
struct FakeAuth {
    server: MockServer,
    group: Uuid,
    org: Uuid,
    alice: Uuid,
}

const SERVICE_TOKEN: &str = "service-1";

impl FakeAuth {
    async fn start() -> Self {
        let server = MockServer::start().await;
        let fake = Self {
            server,
            group: Uuid::new_v4(),
            org: Uuid::new_v4(),
            alice: Uuid::new_v4(),
        };
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(dev_key().jwks()))
            .mount(&fake.server)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth/introspect"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "active": true })))
            .mount(&fake.server)
            .await;
        fake
    }

    async fn token_endpoint(&self, token: &str, delay: Duration) {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": "groups:read" }))
                    .set_delay(delay),
            )
            .mount(&self.server)
            .await;
    }

    fn group_path(&self) -> String {
        format!("/api/auth/groups/{}", self.group)
    }

    fn members_path(&self) -> String {
        format!("/api/auth/groups/{}/members", self.group)
    }

    async fn healthy_group(&self, token: &str) {
        Mock::given(method("GET"))
            .and(path(self.group_path()))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": self.group, "name": "Engineering", "org_id": self.org, "created_at": "2026-01-01T00:00:00Z"
            })))
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(self.members_path()))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "members": [
                { "user_id": self.alice, "email": "alice@example.com", "role": "owner", "joined_at": "2026-01-01T00:00:00Z" }
            ]})))
            .mount(&self.server)
            .await;
    }

    /// Everything healthy: the token endpoint and the group.
    async fn healthy() -> Self {
        let fake = Self::start().await;
        fake.token_endpoint(SERVICE_TOKEN, Duration::ZERO).await;
        fake.healthy_group(SERVICE_TOKEN).await;
        fake
    }

    fn alice_token(&self) -> String {
        user_token(dev_key(), &self.server.uri(), self.alice)
    }

    async fn requests_to(&self, wanted: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == wanted)
            .collect()
    }

    async fn chat(&self) -> Chat {
        spawn_chat(&self.server.uri(), Store::Sqlite, |_| {}).await
    }
}

fn hello() -> Value {
    json!({ "content": "Hello via OAuth!" })
}

/// Given no issuer, the chat-api takes the one the auth-api's RFC 8414
/// metadata publishes, not the address it reaches the auth-api at (a
/// proxy, an internal service name): tokens of that issuer are taken,
/// tokens naming the address are not.
#[tokio::test]
async fn without_an_issuer_the_metadata_names_it() {
    let auth = FakeAuth::healthy().await;
    let published = "https://auth.example";
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "issuer": published })))
        .mount(&auth.server)
        .await;
    let chat = spawn_chat(&auth.server.uri(), Store::Sqlite, |config| {
        config.issuer = None;
    })
    .await;
    let token = user_token(dev_key(), published, auth.alice);
    let sent = chat.send(&token, auth.group, &hello(), None).await;
    expect_json(sent, StatusCode::CREATED).await;
    let sent = chat
        .send(&auth.alice_token(), auth.group, &hello(), None)
        .await;
    assert_eq!(sent.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.requests_to("/.well-known/oauth-authorization-server")
            .await
            .len(),
        1,
        "the metadata is asked once"
    );
}

#[tokio::test]
async fn the_token_request_is_client_credentials_with_basic_and_groups_read() {
    let auth = FakeAuth::healthy().await;
    let chat = auth.chat().await;
    let sent = chat
        .send(&auth.alice_token(), auth.group, &hello(), None)
        .await;
    let message = expect_json(sent, StatusCode::CREATED).await;
    assert_eq!(message["org_id"], auth.org.to_string());

    let token_requests = auth.requests_to("/oauth/token").await;
    assert_eq!(token_requests.len(), 1);
    let request = &token_requests[0];
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("application/x-www-form-urlencoded"),
        "{content_type}"
    );
    let mut form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    form.sort();
    assert_eq!(
        form,
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("scope".to_owned(), "groups:read".to_owned())
        ],
        "no credentials in the body, exactly these parameters"
    );
    let basic = request
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").expect("HTTP Basic"))
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{CLIENT_ID}:{CLIENT_SECRET}")
    );

    // The group and its members were read with the service token, never the user's.
    for path in [auth.group_path(), auth.members_path()] {
        let requests = auth.requests_to(&path).await;
        assert_eq!(requests.len(), 1, "{path}");
        assert_eq!(
            requests[0].headers.get("authorization").unwrap(),
            &format!("Bearer {SERVICE_TOKEN}")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_sends_make_one_token_request() {
    let auth = FakeAuth::start().await;
    // A slow token endpoint: every send arrives while the first fetch is in flight.
    auth.token_endpoint(SERVICE_TOKEN, Duration::from_millis(300))
        .await;
    auth.healthy_group(SERVICE_TOKEN).await;
    let chat = auth.chat().await;
    let token = auth.alice_token();

    let sends = (0..100).map(|i| {
        let (chat, token) = (&chat, &token);
        async move {
            chat.send(
                token,
                auth.group,
                &json!({ "content": format!("message {i}") }),
                None,
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(sends).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    assert_eq!(auth.requests_to("/oauth/token").await.len(), 1);

    // And it is reused afterwards.
    expect_json(
        chat.send(&token, auth.group, &hello(), None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(auth.requests_to("/oauth/token").await.len(), 1);
    assert_eq!(chat.stored(auth.group).await.len(), 101);
}

/// `n` sends from alice at once; each one's status and how long it took.
async fn concurrent_sends(
    chat: &Chat,
    token: &str,
    group: Uuid,
    n: usize,
) -> Vec<(StatusCode, Duration)> {
    let sends = (0..n).map(|i| async move {
        let started = std::time::Instant::now();
        let status = chat
            .send(
                token,
                group,
                &json!({ "content": format!("message {i}") }),
                None,
            )
            .await
            .status();
        (status, started.elapsed())
    });
    futures::future::join_all(sends).await
}

#[tokio::test]
async fn a_hundred_sends_while_the_token_endpoint_hangs_all_end_504_within_one_timeout() {
    let auth = FakeAuth::start().await;
    auth.token_endpoint(SERVICE_TOKEN, Duration::from_secs(30))
        .await;
    auth.healthy_group(SERVICE_TOKEN).await;
    let timeout = Duration::from_secs(1);
    let chat = spawn_chat(&auth.server.uri(), Store::Sqlite, |config| {
        config.upstream_timeout_ms = 1000;
    })
    .await;
    let answers = concurrent_sends(&chat, &auth.alice_token(), auth.group, 100).await;
    // Each waits for the one fetch in flight, and no longer than its own
    // deadline: not a timeout per waiter in the queue (the sixth waiter in
    // such a queue would answer after 6 s). The 3 s past the deadline are
    // for a loaded machine serving 100 answers on one test thread.
    let bound = timeout + Duration::from_secs(3);
    for (status, took) in &answers {
        assert_eq!(*status, StatusCode::GATEWAY_TIMEOUT, "{answers:?}");
        assert!(*took < bound, "an answer after {took:?}, over {bound:?}");
    }
    assert!(chat.stored(auth.group).await.is_empty());
}

#[tokio::test]
async fn a_hundred_sends_while_the_auth_api_refuses_connections_all_end_503_at_once() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let auth_url = format!("http://{closed}");
    let chat = spawn_chat(&auth_url, Store::Sqlite, |_| {}).await;
    let token = user_token(dev_key(), &auth_url, Uuid::new_v4());
    let group = Uuid::new_v4();
    let answers = concurrent_sends(&chat, &token, group, 100).await;
    // "At once": before the 5 s upstream timeout, which a chat-api that
    // waited it out would reach; the rest is a loaded machine's slack.
    for (status, took) in &answers {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{answers:?}");
        assert!(*took < Duration::from_secs(4), "an answer after {took:?}");
    }
    assert!(chat.stored(group).await.is_empty());
}

#[tokio::test]
async fn keys_that_fail_to_load_are_not_fetched_again_by_every_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let chat = spawn_chat(&server.uri(), Store::Sqlite, |_| {}).await;
    let token = user_token(dev_key(), &server.uri(), Uuid::new_v4());
    let answers = concurrent_sends(&chat, &token, Uuid::new_v4(), 50).await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::BAD_GATEWAY),
        "{answers:?}"
    );
    let fetches = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/.well-known/jwks.json")
        .count();
    // One fetch, its failure shared; a second only if the burst outlasted
    // the failure's memory (a second).
    assert!(
        (1..=2).contains(&fetches),
        "{fetches} key fetches for 50 sends"
    );
}

#[tokio::test]
async fn a_token_lifetime_of_u64_max_is_taken_without_a_panic() {
    let auth = FakeAuth::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SERVICE_TOKEN, "token_type": "Bearer",
            "expires_in": u64::MAX, "scope": "groups:read"
        })))
        .mount(&auth.server)
        .await;
    auth.healthy_group(SERVICE_TOKEN).await;
    let chat = auth.chat().await;
    let token = auth.alice_token();
    for _ in 0..2 {
        expect_json(
            chat.send(&token, auth.group, &hello(), None).await,
            StatusCode::CREATED,
        )
        .await;
    }
    assert_eq!(auth.requests_to("/oauth/token").await.len(), 1);
}

#[tokio::test]
async fn a_401_drops_the_token_and_retries_once_with_a_new_one() {
    let auth = FakeAuth::start().await;
    // The first token is refused (say the auth-api rotated its keys)...
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "access_token": "stale", "token_type": "Bearer", "expires_in": 300 }),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&auth.server)
        .await;
    auth.token_endpoint("fresh", Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer stale"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "error": "invalid_token", "error_description": "no" })),
        )
        .mount(&auth.server)
        .await;
    auth.healthy_group("fresh").await;
    let chat = auth.chat().await;

    let sent = chat
        .send(&auth.alice_token(), auth.group, &hello(), None)
        .await;
    expect_json(sent, StatusCode::CREATED).await;
    assert_eq!(auth.requests_to("/oauth/token").await.len(), 2);
}

#[tokio::test]
async fn a_second_401_is_a_502_and_stores_nothing() {
    let auth = FakeAuth::start().await;
    auth.token_endpoint(SERVICE_TOKEN, Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path(auth.group_path()))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({ "error": "invalid_token", "error_description": "Invalid subject in token" }),
        ))
        .mount(&auth.server)
        .await;
    let chat = auth.chat().await;
    let sent = chat
        .send(&auth.alice_token(), auth.group, &hello(), None)
        .await;
    expect_error(sent, StatusCode::BAD_GATEWAY, "upstream_unavailable").await;
    assert_eq!(
        auth.requests_to("/oauth/token").await.len(),
        2,
        "one retry, no more"
    );
    assert!(chat.stored(auth.group).await.is_empty());
}

/// The members endpoint fails in the given way; the send gets `status` and
/// nothing is stored.
async fn members_failure_gives(
    response: ResponseTemplate,
    status: StatusCode,
    timeout_ms: Option<u64>,
) {
    let auth = FakeAuth::start().await;
    auth.token_endpoint(SERVICE_TOKEN, Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path(auth.members_path()))
        .respond_with(response)
        .with_priority(1)
        .mount(&auth.server)
        .await;
    auth.healthy_group(SERVICE_TOKEN).await;
    let chat = spawn_chat(&auth.server.uri(), Store::Sqlite, |config| {
        if let Some(ms) = timeout_ms {
            config.upstream_timeout_ms = ms;
        }
    })
    .await;
    let sent = chat
        .send(&auth.alice_token(), auth.group, &hello(), None)
        .await;
    expect_error(sent, status, "upstream_unavailable").await;
    assert!(chat.stored(auth.group).await.is_empty());
}

#[tokio::test]
async fn a_5xx_from_the_auth_api_is_a_502_and_stores_nothing() {
    members_failure_gives(ResponseTemplate::new(500), StatusCode::BAD_GATEWAY, None).await;
    members_failure_gives(ResponseTemplate::new(503), StatusCode::BAD_GATEWAY, None).await;
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_502_and_stores_nothing() {
    members_failure_gives(
        ResponseTemplate::new(200).set_body_string("<html>members</html>"),
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await;
    members_failure_gives(
        ResponseTemplate::new(200).set_body_json(json!({ "members": "alice" })),
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await;
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_a_504_and_stores_nothing() {
    members_failure_gives(
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
        StatusCode::GATEWAY_TIMEOUT,
        Some(300),
    )
    .await;
}

#[tokio::test]
async fn a_refused_connection_is_a_503_and_stores_nothing() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let auth_url = format!("http://{closed}");
    let chat = spawn_chat(&auth_url, Store::Sqlite, |_| {}).await;
    let group = Uuid::new_v4();
    let token = user_token(dev_key(), &auth_url, Uuid::new_v4());
    let sent = chat.send(&token, group, &hello(), None).await;
    expect_error(
        sent,
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_unavailable",
    )
    .await;
    assert!(chat.stored(group).await.is_empty());
    let ready = chat.get("/ready").send().await.unwrap();
    expect_error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_unavailable",
    )
    .await;
    // What needs no auth-api still answers.
    expect_json(chat.get("/health").send().await.unwrap(), StatusCode::OK).await;
    let openapi = expect_json(
        chat.get("/openapi.json").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        openapi["paths"]["/api/chat/groups/{group_id}/messages"]["post"].is_object(),
        "{openapi}"
    );
}

#[tokio::test]
async fn an_unknown_group_is_404_and_a_non_member_403() {
    let auth = FakeAuth::healthy().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({ "error": "not_found", "error_description": "no such group" }),
            ),
        )
        .with_priority(10)
        .mount(&auth.server)
        .await;
    let chat = auth.chat().await;
    let unknown = Uuid::new_v4();
    expect_error(
        chat.send(&auth.alice_token(), unknown, &hello(), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let bob = user_token(dev_key(), &auth.server.uri(), Uuid::new_v4());
    expect_error(
        chat.send(&bob, auth.group, &hello(), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(chat.stored(auth.group).await.is_empty());
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_at_most_once_a_minute() {
    let auth = FakeAuth::healthy().await;
    let chat = auth.chat().await;
    expect_json(
        chat.send(&auth.alice_token(), auth.group, &hello(), None)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(auth.requests_to("/.well-known/jwks.json").await.len(), 1);

    let other =
        reference_shared::SigningKey::from_file(&crate::helpers::fixture("keys/other-ed25519.pem"))
            .unwrap();
    let forged = user_token(&other, &auth.server.uri(), auth.alice);
    for _ in 0..5 {
        expect_error(
            chat.send(&forged, auth.group, &hello(), None).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    assert_eq!(
        auth.requests_to("/.well-known/jwks.json").await.len(),
        1,
        "no refresh within the minute"
    );
}

#[tokio::test]
async fn a_token_the_auth_api_calls_inactive_is_refused() {
    let auth = FakeAuth::healthy().await;
    Mock::given(method("POST"))
        .and(path("/oauth/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "active": false })))
        .with_priority(1)
        .mount(&auth.server)
        .await;
    let chat = auth.chat().await;
    let sent = chat
        .send(&auth.alice_token(), auth.group, &hello(), None)
        .await;
    expect_error(sent, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(chat.stored(auth.group).await.is_empty());
    let introspected = auth.requests_to("/oauth/introspect").await;
    let basic = introspected[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        basic.starts_with("Basic "),
        "the chat-api authenticates as its client"
    );
}

#[tokio::test]
async fn a_service_token_is_refused() {
    let auth = FakeAuth::healthy().await;
    let chat = auth.chat().await;
    let issue = reference_shared::Issue {
        issuer: &auth.server.uri(),
        audience: "conformance-apis",
        now: chrono::Utc::now().timestamp(),
        lifetime: 300,
    };
    let client = reference_shared::ClientId::parse("chat-api-service").unwrap();
    let scopes = reference_shared::Scopes::parse("groups:read").unwrap();
    let service = dev_key()
        .sign(&reference_shared::Claims::service(&client, &scopes, &issue))
        .unwrap();
    expect_error(
        chat.send(&service, auth.group, &hello(), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn every_call_a_request_causes_carries_its_trace_id() {
    let auth = FakeAuth::healthy().await;
    let chat = auth.chat().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let sent = chat
        .http
        .post(format!(
            "{}/api/chat/groups/{}/messages",
            chat.url, auth.group
        ))
        .bearer_auth(auth.alice_token())
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&hello())
        .send()
        .await
        .unwrap();
    expect_json(sent, StatusCode::CREATED).await;
    let upstream = auth.server.received_requests().await.unwrap();
    assert!(
        upstream.len() >= 4,
        "keys, introspection, token, group, members"
    );
    for request in &upstream {
        let parent = request
            .headers
            .get("traceparent")
            .unwrap_or_else(|| panic!("{} without traceparent", request.url.path()))
            .to_str()
            .unwrap();
        assert_eq!(
            parent.split('-').nth(1),
            Some(trace),
            "{}",
            request.url.path()
        );
        assert!(!parent.contains("00f067aa0ba902b7"), "a span of its own");
    }
}
