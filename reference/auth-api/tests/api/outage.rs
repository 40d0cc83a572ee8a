//! PostgreSQL going away under traffic, through a hop the test cuts: the
//! auth-api answers 503 `upstream_unavailable` with `Retry-After` (never a
//! 500, never a hang past its pool's timeout), `/ready` says 503 and
//! `/health` 200, it serves again once the database is back without a
//! restart, and every group it acknowledged is still there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Store, TestApp, spawn_app};

/// The longest a request may take while the database is away: the pool's
/// acquire timeout (5 s) and a margin for a loaded two-core machine.
const BOUND: Duration = Duration::from_secs(12);

/// One answer seen by the traffic.
#[derive(Debug)]
struct Answer {
    what: &'static str,
    status: StatusCode,
    error: String,
    retry_after: bool,
    took: Duration,
}

async fn answer(
    what: &'static str,
    request: reqwest::RequestBuilder,
) -> (Answer, serde_json::Value) {
    let started = Instant::now();
    let response = request.send().await.expect("the auth-api answers");
    let status = response.status();
    let retry_after = response.headers().contains_key("retry-after");
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    let seen = Answer {
        what,
        status,
        error,
        retry_after,
        took: started.elapsed(),
    };
    (seen, body)
}

/// Polls `path` until it answers `status`; how long that took.
async fn until(app: &TestApp, path: &str, status: StatusCode, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        let answer = app.get(path).timeout(BOUND).send().await;
        if answer.is_ok_and(|a| a.status() == status) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} did not answer {status} within {limit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_503_then_served_again_without_a_restart() {
    let app = Arc::new(spawn_app(Store::PostgresBehindCut).await);
    let alice = app.create_user("outage@example.com").await;
    let running = Arc::new(AtomicBool::new(true));
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let made: Arc<Mutex<Vec<String>>> = Arc::default();

    // Two writers create groups and read each back; one user logs in.
    let mut traffic = Vec::new();
    for _ in 0..2 {
        let (app, running, answers, made) =
            (app.clone(), running.clone(), answers.clone(), made.clone());
        let token = alice.token.clone();
        traffic.push(tokio::spawn(async move {
            while running.load(Ordering::Acquire) {
                let create = app
                    .post("/api/auth/groups")
                    .bearer_auth(&token)
                    .json(&json!({ "name": "Outage", "org_id": uuid::Uuid::new_v4() }));
                let (seen, body) = answer("create a group", create).await;
                let created = seen.status == StatusCode::CREATED;
                answers.lock().unwrap().push(seen);
                if let Some(id) = body["id"].as_str().filter(|_| created) {
                    made.lock().unwrap().push(id.to_owned());
                    let read = app
                        .get(&format!("/api/auth/groups/{id}"))
                        .bearer_auth(&token);
                    let (seen, _) = answer("read a group", read).await;
                    answers.lock().unwrap().push(seen);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    {
        let (app, running, answers) = (app.clone(), running.clone(), answers.clone());
        let (email, password) = (alice.email.clone(), alice.password.clone());
        traffic.push(tokio::spawn(async move {
            while running.load(Ordering::Acquire) {
                let login = app
                    .post("/auth/login")
                    .json(&json!({ "email": email, "password": password }));
                let (seen, _) = answer("log in", login).await;
                answers.lock().unwrap().push(seen);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let hop = app.outage.as_ref().unwrap();
    hop.cut();
    until(&app, "/ready", StatusCode::SERVICE_UNAVAILABLE, BOUND * 2).await;
    let health = app.get("/health").send().await.unwrap().status();
    // Longer than the pool waits for a connection: requests made meanwhile fail.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during = answers.lock().unwrap().len();
    hop.restore();
    let back = until(&app, "/ready", StatusCode::OK, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.store(false, Ordering::Release);
    for worker in traffic {
        worker.await.unwrap();
    }

    assert_eq!(health, StatusCode::OK, "/health answers during the outage");
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let refused: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !refused.is_empty(),
        "the outage was never seen: {answers:?}"
    );
    for seen in &answers {
        assert!(
            [
                StatusCode::OK,
                StatusCode::CREATED,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(&seen.status),
            "only 200, 201 or 503 ({}): {seen:?}",
            seen.what
        );
        assert!(seen.took < BOUND, "no hang past the timeout: {seen:?}");
    }
    for seen in &refused {
        assert_eq!(seen.error, "upstream_unavailable", "{seen:?}");
        assert!(seen.retry_after, "a 503 says when to retry: {seen:?}");
    }
    // Served again, by the same process.
    assert!(back < Duration::from_secs(30));
    let served_after = answers[during..]
        .iter()
        .any(|a| a.status == StatusCode::CREATED);
    assert!(served_after, "no group made after the database came back");

    // Nothing acknowledged was lost.
    let made = made.lock().unwrap().clone();
    assert!(!made.is_empty());
    for id in made {
        let read = app
            .get(&format!("/api/auth/groups/{id}"))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::OK, "group {id} was acknowledged");
    }
}
