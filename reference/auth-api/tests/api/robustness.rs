//! No request, however malformed, gets a 500 or an error body that is not
//! the contract's JSON.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::helpers::{ADMIN_TOKEN, TestApp, expect_error, on_both_stores};

on_both_stores!(malformed_requests_get_the_contracts_errors);

async fn malformed_requests_get_the_contracts_errors(app: TestApp) {
    let world = app.world().await;
    let json = "application/json";
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "truncated JSON",
            app.post("/auth/login")
                .header(CONTENT_TYPE, json)
                .body("{\"email\":"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "not JSON at all",
            app.post("/auth/login")
                .header(CONTENT_TYPE, json)
                .body("hello"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "non-UTF-8",
            app.post("/auth/login")
                .header(CONTENT_TYPE, json)
                .body(vec![0xff, 0xfe, b'{']),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "missing fields",
            app.post("/auth/login")
                .header(CONTENT_TYPE, json)
                .body("{}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "wrong types",
            app.post("/auth/login")
                .header(CONTENT_TYPE, json)
                .body("{\"email\":1,\"password\":[]}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a 64 KiB header",
            app.get("/auth/me")
                .bearer_auth(&world.alice.token)
                .header("x-padding", "a".repeat(64 * 1024)),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request",
        ),
        (
            "an array",
            app.post("/admin/users")
                .bearer_auth(ADMIN_TOKEN)
                .header(CONTENT_TYPE, json)
                .body("[]"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "no content type",
            app.post("/auth/login").body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (
            "text/plain",
            app.post("/auth/login")
                .header(CONTENT_TYPE, "text/plain")
                .body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (
            "a huge body",
            app.post("/auth/login")
                .header(CONTENT_TYPE, json)
                .body(format!("{{\"email\":\"{}\"}}", "a".repeat(200_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
        ),
        (
            "a huge form",
            app.post("/oauth/token")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("grant_type={}", "a".repeat(200_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
        ),
        (
            "a non-UTF-8 form",
            app.post("/oauth/token")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(vec![b'a', b'=', 0xff]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an unknown path",
            app.get("/nope"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "a wrong method",
            app.delete("/auth/login"),
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
        ),
        (
            "a non-UTF-8 path",
            app.get("/api/auth/groups/%FF%FE/members")
                .bearer_auth(&world.alice.token),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a non-ASCII Authorization header",
            app.get("/auth/me").header(
                AUTHORIZATION,
                HeaderValue::from_bytes(b"Bearer \xe9t\xe9").unwrap(),
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "two Authorization headers",
            app.get("/auth/me")
                .header(AUTHORIZATION, format!("Bearer {}", world.alice.token))
                .header("authorization", "Bearer x"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an empty bearer token",
            app.get("/auth/me").header(AUTHORIZATION, "Bearer "),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "a group id too long",
            app.get(&format!("/api/auth/groups/{}/members", "9".repeat(5000)))
                .bearer_auth(&world.alice.token),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (what, request, status, code) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            response.status().as_u16() < 500,
            "{what}: {}",
            response.status()
        );
        let body = expect_error(response, status, code).await;
        assert!(
            !body["error_description"].as_str().unwrap().is_empty(),
            "{what}"
        );
    }
}

/// The process's resident memory, in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A thousand logins, two hundred at a time: each is served (200) or turned
/// away at once (503 with `Retry-After` and the contract's body), none is a
/// 500; `/health` answers all along; and memory stays bounded, where
/// unbounded argon2id hashes (19 MiB each) would take gigabytes.
#[tokio::test]
async fn a_flood_of_logins_is_served_or_turned_away_and_health_still_answers() {
    use futures::StreamExt as _;

    let app = crate::helpers::spawn_app(crate::helpers::Store::Sqlite).await;
    let alice = app.create_user("flood@example.com").await;
    let before = resident_kib();
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let health = {
        let (http, url, flooding) = (app.http.clone(), app.url.clone(), flooding.clone());
        tokio::spawn(async move {
            let (mut statuses, mut peak) = (Vec::new(), 0);
            while flooding.load(std::sync::atomic::Ordering::Acquire) {
                let answer = http
                    .get(format!("{url}/health"))
                    .timeout(std::time::Duration::from_secs(5))
                    .send()
                    .await;
                statuses.push(answer.map_or(0, |r| r.status().as_u16()));
                peak = peak.max(resident_kib());
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            (statuses, peak)
        })
    };
    let logins = futures::stream::iter(0..1000)
        .map(|_| {
            let request = app
                .post("/auth/login")
                .json(&serde_json::json!({ "email": alice.email, "password": alice.password }));
            async move {
                let response = request.send().await.unwrap();
                let status = response.status();
                let retry_after = response.headers().contains_key("retry-after");
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                (status, retry_after, body)
            }
        })
        .buffer_unordered(200)
        .collect::<Vec<_>>()
        .await;
    flooding.store(false, std::sync::atomic::Ordering::Release);
    let (health, peak) = health.await.unwrap();

    let served = logins
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::OK)
        .count();
    let turned_away: Vec<_> = logins
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(served + turned_away.len(), 1000, "only 200 or 503");
    assert!(served > 0 && !turned_away.is_empty(), "{served} served");
    for (_, retry_after, body) in turned_away {
        assert!(retry_after, "a 503 says when to retry");
        assert_eq!(body["error"], "upstream_unavailable", "{body}");
        assert!(body["error_description"].is_string(), "{body}");
    }
    assert!(
        !health.is_empty() && health.iter().all(|s| *s == 200),
        "{health:?}"
    );
    // A few hashes at a time: tens of MiB, where two hundred at once would
    // take nearly 4 GiB.
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(grown_mib < 256, "resident memory grew {grown_mib} MiB");
}
