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
