//! The real reference auth-api in-process, the chat-api on both stores.

use std::collections::HashSet;

use auth_api::Secret;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Chat, Store, expect_error, expect_json, fixture, on_both_stores, spawn_chat};

const ADMIN: &str = "e2e-admin-token";

/// The reference auth-api with the contract's cast, and a chat-api on it.
struct Stack {
    chat: Chat,
    alice: (Uuid, String),
    bob: (Uuid, String),
    group: Uuid,
    org: Uuid,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn admin_post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http
        .post(url)
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await
}

async fn user(http: &reqwest::Client, auth: &str, email: &str) -> (Uuid, String) {
    let password = "a-long-enough-password";
    let created = admin_post(
        http,
        &format!("{auth}/admin/users"),
        json!({ "email": email, "password": password }),
    )
    .await;
    let login = http
        .post(format!("{auth}/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    let token = expect_json(login, StatusCode::OK).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (
        Uuid::parse_str(created["id"].as_str().unwrap()).unwrap(),
        token,
    )
}

/// The upstream timeout for the load tests. They check that every send is
/// stored once, not how fast: on a loaded two-core CI machine the contract's
/// 5 s budget says nothing about correctness.
const LOAD_TIMEOUT_MS: u64 = 60_000;

async fn stack(store: Store) -> Stack {
    stack_with(store, 5000).await
}

async fn stack_with(store: Store, upstream_timeout_ms: u64) -> Stack {
    let mut config = auth_api::Config::local(fixture("keys/dev-ed25519.pem"));
    config.admin_token = Some(Secret::new(ADMIN));
    let auth = auth_api::Application::build(config).await.unwrap();
    let auth_url = auth.url();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(auth.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let alice = user(&http, &auth_url, "alice@example.com").await;
    let bob = user(&http, &auth_url, "bob@example.com").await;
    let org = Uuid::new_v4();
    let group = http
        .post(format!("{auth_url}/api/auth/groups"))
        .bearer_auth(&alice.1)
        .json(&json!({ "name": "Engineering", "org_id": org }))
        .send()
        .await
        .unwrap();
    let group = expect_json(group, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let client = admin_post(
        &http,
        &format!("{auth_url}/admin/clients"),
        json!({ "client_id": "chat-api-service", "scopes": ["groups:read"] }),
    )
    .await;
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let chat = spawn_chat(&auth_url, store, |c| {
        c.client_secret = Secret::new(secret);
        c.upstream_timeout_ms = upstream_timeout_ms;
    })
    .await;
    Stack {
        chat,
        alice,
        bob,
        group,
        org,
        _stop: stop,
    }
}

on_both_stores!(
    alice_posts_and_the_stored_message_carries_the_groups_org_id,
    refusals_store_nothing,
    concurrent_sends_store_one_message_per_key,
    walking_the_cursors_returns_every_message_once_newest_first,
    malformed_requests_get_the_contracts_errors,
);

async fn alice_posts_and_the_stored_message_carries_the_groups_org_id(store: Store) {
    let s = stack(store).await;
    let body = json!({ "content": "  Hello via OAuth!  ", "sender_id": s.alice.0 });
    let sent = s.chat.send(&s.alice.1, s.group, &body, None).await;
    let location = sent.headers()["location"].to_str().unwrap().to_owned();
    let message = expect_json(sent, StatusCode::CREATED).await;
    assert_eq!(message["content"], "Hello via OAuth!");
    assert_eq!(message["sender_id"], s.alice.0.to_string());
    assert_eq!(message["group_id"], s.group.to_string());
    assert_eq!(message["org_id"], s.org.to_string());
    assert_eq!(
        location,
        format!(
            "{}/{}",
            Chat::messages_path(s.group),
            message["id"].as_str().unwrap()
        )
    );

    let stored = s.chat.stored(s.group).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].org_id, s.org.to_string());
    assert_eq!(stored[0].sender_id, s.alice.0);
    assert_eq!(
        serde_json::to_value(&stored[0]).unwrap(),
        message,
        "what was answered is what was stored"
    );

    let fetched = s
        .chat
        .get(&location)
        .bearer_auth(&s.alice.1)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(fetched, StatusCode::OK).await, message);
}

async fn refusals_store_nothing(store: Store) {
    let s = stack(store).await;
    let (alice, bob) = (&s.alice.1, &s.bob.1);
    let cases = [
        (
            bob,
            s.group,
            json!({ "content": "hi" }),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            alice,
            s.group,
            json!({ "content": "hi", "sender_id": s.bob.0 }),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            alice,
            s.group,
            json!({ "content": "" }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            alice,
            s.group,
            json!({ "content": " \n\t " }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            alice,
            s.group,
            json!({ "content": "x".repeat(4001) }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            alice,
            Uuid::new_v4(),
            json!({ "content": "hi" }),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (token, group, body, status, code) in cases {
        expect_error(s.chat.send(token, group, &body, None).await, status, code).await;
    }
    assert!(s.chat.stored(s.group).await.is_empty());

    // 4000 characters, multi-byte ones too, are fine.
    let longest = json!({ "content": "é".repeat(4000) });
    expect_json(
        s.chat.send(alice, s.group, &longest, None).await,
        StatusCode::CREATED,
    )
    .await;
}

async fn concurrent_sends_store_one_message_per_key(store: Store) {
    let s = stack_with(store, LOAD_TIMEOUT_MS).await;
    let distinct = (0..200).map(|i| {
        let s = &s;
        async move {
            let body = json!({ "content": format!("message {i}") });
            s.chat
                .send(&s.alice.1, s.group, &body, Some(&format!("key-{i}")))
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(distinct).await;
    assert!(
        statuses.iter().all(|st| *st == StatusCode::CREATED),
        "{statuses:?}"
    );
    assert_eq!(s.chat.stored(s.group).await.len(), 200);

    let shared = (0..200).map(|_| {
        let s = &s;
        async move {
            let sent = s
                .chat
                .send(
                    &s.alice.1,
                    s.group,
                    &json!({ "content": "once" }),
                    Some("shared-key"),
                )
                .await;
            expect_json(sent, StatusCode::CREATED).await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let ids: HashSet<String> = futures::future::join_all(shared)
        .await
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 1, "every retry got the first answer");
    assert_eq!(s.chat.stored(s.group).await.len(), 201);

    let reused = s
        .chat
        .send(
            &s.alice.1,
            s.group,
            &json!({ "content": "another body" }),
            Some("shared-key"),
        )
        .await;
    expect_error(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(s.chat.stored(s.group).await.len(), 201);
}

async fn walking_the_cursors_returns_every_message_once_newest_first(store: Store) {
    let s = stack_with(store, LOAD_TIMEOUT_MS).await;
    let mut sent = Vec::new();
    for batch in 0..25 {
        let sends = (0..10).map(|i| {
            let s = &s;
            async move {
                let body = json!({ "content": format!("message {}", batch * 10 + i) });
                expect_json(
                    s.chat.send(&s.alice.1, s.group, &body, None).await,
                    StatusCode::CREATED,
                )
                .await
            }
        });
        sent.extend(futures::future::join_all(sends).await);
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=7&before={c}", Chat::messages_path(s.group)),
            None => format!("{}?limit=7", Chat::messages_path(s.group)),
        };
        let page = expect_json(
            s.chat
                .get(&path)
                .bearer_auth(&s.alice.1)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        let messages = page["messages"].as_array().unwrap();
        assert!(messages.len() <= 7);
        seen.extend(messages.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 250, "the walk does not end");
    }
    assert_eq!(seen.len(), 250);
    let ids: HashSet<&str> = seen.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 250, "no message twice");
    let sent_ids: HashSet<&str> = sent.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, sent_ids);
    let order: Vec<(chrono::DateTime<chrono::Utc>, &str)> = seen
        .iter()
        .map(|m| {
            (
                m["created_at"].as_str().unwrap().parse().unwrap(),
                m["id"].as_str().unwrap(),
            )
        })
        .collect();
    let mut newest_first = order.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert!(order == newest_first, "the pages are not newest first");

    let default = expect_json(
        s.chat
            .get(&Chat::messages_path(s.group))
            .bearer_auth(&s.alice.1)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        default["messages"].as_array().unwrap().len(),
        50,
        "50 by default"
    );
    for bad in ["?limit=0", "?limit=101", "?limit=x", "?before=garbage"] {
        let response = s
            .chat
            .get(&format!("{}{bad}", Chat::messages_path(s.group)))
            .bearer_auth(&s.alice.1)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let bob = s
        .chat
        .get(&Chat::messages_path(s.group))
        .bearer_auth(&s.bob.1)
        .send()
        .await
        .unwrap();
    expect_error(bob, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn malformed_requests_get_the_contracts_errors(store: Store) {
    let s = stack(store).await;
    let path = Chat::messages_path(s.group);
    let alice = &s.alice.1;
    let json_type = "application/json";
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode)> = vec![
        (
            "truncated JSON",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header(CONTENT_TYPE, json_type)
                .body("{\"content\":"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "non-UTF-8",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header(CONTENT_TYPE, json_type)
                .body(vec![0xff, b'{']),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no content",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header(CONTENT_TYPE, json_type)
                .body("{}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "content a number",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header(CONTENT_TYPE, json_type)
                .body("{\"content\":5}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "text/plain",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header(CONTENT_TYPE, "text/plain")
                .body("hi"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "a huge body",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header(CONTENT_TYPE, json_type)
                .body(format!("{{\"content\":\"{}\"}}", "a".repeat(100_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a bad group id",
            s.chat
                .post("/api/chat/groups/nope/messages")
                .bearer_auth(alice)
                .json(&json!({ "content": "hi" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a bad Idempotency-Key",
            s.chat
                .post(&path)
                .bearer_auth(alice)
                .header("idempotency-key", "")
                .json(&json!({ "content": "hi" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no token",
            s.chat.post(&path).json(&json!({ "content": "hi" })),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a garbage token",
            s.chat
                .post(&path)
                .bearer_auth("garbage")
                .json(&json!({ "content": "hi" })),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an unknown path",
            s.chat.get("/nope"),
            StatusCode::NOT_FOUND,
        ),
        (
            "a wrong method",
            s.chat.http.delete(format!("{}{path}", s.chat.url)),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (what, request, status) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            response.status().as_u16() < 500,
            "{what}: {}",
            response.status()
        );
        let body = expect_json(response, status).await;
        assert!(
            body["error"].is_string() && body["error_description"].is_string(),
            "{what}: {body}"
        );
    }
    assert!(s.chat.stored(s.group).await.is_empty());
}

/// The longest a request may take while MongoDB is away: the driver's
/// server selection timeout (5 s) and a margin for a loaded two-core machine.
const OUTAGE_BOUND: std::time::Duration = std::time::Duration::from_secs(12);

/// One answer the outage traffic saw.
#[derive(Debug)]
struct Seen {
    status: StatusCode,
    error: String,
    retry_after: bool,
    took: std::time::Duration,
}

/// Sends `request`; what was seen, and the body.
async fn seen(request: reqwest::RequestBuilder) -> (Seen, Value) {
    let started = std::time::Instant::now();
    let answer = request.send().await.unwrap();
    let (status, retry_after) = (
        answer.status(),
        answer.headers().contains_key("retry-after"),
    );
    let body: Value = answer.json().await.unwrap_or_default();
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    let took = started.elapsed();
    let seen = Seen {
        status,
        error,
        retry_after,
        took,
    };
    (seen, body)
}

/// Polls the chat-api's `/ready` until it answers `status`.
async fn ready(chat: &Chat, status: StatusCode) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let answer = chat.get("/ready").timeout(OUTAGE_BOUND * 2).send().await;
        if answer.is_ok_and(|a| a.status() == status) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("/ready did not answer {status}");
}

/// MongoDB going away under traffic, through a hop the test cuts: sends and
/// listings get 503 `upstream_unavailable` with `Retry-After` (never a 500,
/// never a hang past the driver's timeout), `/ready` says 503, the chat-api
/// serves again once MongoDB is back without a restart, and every send
/// retried with its `Idempotency-Key` until acknowledged is stored exactly
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mongo_outage_is_503_and_retried_keys_store_one_message_each() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let s = Arc::new(stack_with(Store::MongoBehindCut, 5000).await);
    let running = Arc::new(AtomicBool::new(true));
    let answers: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut senders = Vec::new();
    for worker in 0..3 {
        let (s, running, answers) = (s.clone(), running.clone(), answers.clone());
        senders.push(tokio::spawn(async move {
            // Each key is sent until it is acknowledged: (key, message id).
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while running.load(Ordering::Acquire) {
                let key = format!("outage-{worker}-{n}");
                let body = json!({ "content": format!("message {key}") });
                loop {
                    let request = s
                        .chat
                        .post(&Chat::messages_path(s.group))
                        .bearer_auth(&s.alice.1)
                        .header("idempotency-key", &key)
                        .json(&body);
                    let (sent, answer) = seen(request).await;
                    let status = sent.status;
                    answers.lock().unwrap().push(sent);
                    if status == StatusCode::CREATED {
                        acknowledged.push((key, answer["id"].as_str().unwrap().to_owned()));
                        break;
                    }
                    if status != StatusCode::SERVICE_UNAVAILABLE {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                n += 1;
            }
            acknowledged
        }));
    }
    let listing = {
        let (s, running, answers) = (s.clone(), running.clone(), answers.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Acquire) {
                let list = s
                    .chat
                    .get(&Chat::messages_path(s.group))
                    .bearer_auth(&s.alice.1);
                let (listed, _) = seen(list).await;
                answers.lock().unwrap().push(listed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let hop = s.chat.outage.as_ref().unwrap();
    hop.cut();
    ready(&s.chat, StatusCode::SERVICE_UNAVAILABLE).await;
    let health = s.chat.get("/health").send().await.unwrap().status();
    // Longer than the driver waits for a server: requests made meanwhile fail.
    tokio::time::sleep(Duration::from_secs(6)).await;
    hop.restore();
    ready(&s.chat, StatusCode::OK).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.store(false, Ordering::Release);
    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    listing.await.unwrap();

    assert_eq!(health, StatusCode::OK, "/health answers during the outage");
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    assert!(
        answers
            .iter()
            .any(|a| a.status == StatusCode::SERVICE_UNAVAILABLE),
        "the outage was never seen: {answers:?}"
    );
    for answer in &answers {
        let expected = [
            StatusCode::OK,
            StatusCode::CREATED,
            StatusCode::SERVICE_UNAVAILABLE,
        ];
        assert!(
            expected.contains(&answer.status),
            "only 200, 201 or 503: {answer:?}"
        );
        assert!(
            answer.took < OUTAGE_BOUND,
            "no hang past the timeout: {answer:?}"
        );
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(answer.error, "upstream_unavailable", "{answer:?}");
            assert!(answer.retry_after, "a 503 says when to retry: {answer:?}");
        }
    }
    // Every acknowledged message is in the listing, walked page by page.
    let mut listed = HashSet::new();
    let mut path = format!("{}?limit=50", Chat::messages_path(s.group));
    loop {
        let page = s
            .chat
            .get(&path)
            .bearer_auth(&s.alice.1)
            .send()
            .await
            .unwrap();
        let page = expect_json(page, StatusCode::OK).await;
        for message in page["messages"].as_array().unwrap() {
            listed.insert(message["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["next_cursor"].as_str() else {
            break;
        };
        path = format!("{}?limit=50&before={next}", Chat::messages_path(s.group));
    }
    for (key, id) in &acknowledged {
        assert!(
            listed.contains(id),
            "{key} was acknowledged as {id} and is not listed"
        );
    }
    // Every acknowledged key is stored, once, under the id it was answered with.
    let stored = s.chat.stored(s.group).await;
    let stored_ids: HashSet<String> = stored.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(stored.len(), stored_ids.len());
    for (key, id) in &acknowledged {
        assert!(
            stored_ids.contains(id),
            "{key} was acknowledged as {id} and is not stored"
        );
    }
    let keys: HashSet<&String> = acknowledged.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), acknowledged.len());
    assert_eq!(
        stored.len(),
        acknowledged.len(),
        "one message per key, no more"
    );
}
