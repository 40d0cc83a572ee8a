//! Passwords, client secrets, tokens and the admin token never reach a log
//! line or an error body.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, LOGS, TestApp, basic, expect_json, on_both_stores};

on_both_stores!(no_secret_reaches_the_logs_or_an_error_body);

async fn no_secret_reaches_the_logs_or_an_error_body(app: TestApp) {
    let world = app.world().await;
    let wrong_password = "wrong-password-9d1e7b";
    let misplaced_secret = "misplaced-secret-4a2c";
    let mut bodies = String::new();

    let failed = app
        .post("/auth/login")
        .json(&json!({ "email": world.alice.email, "password": wrong_password }))
        .send()
        .await
        .unwrap();
    bodies += &failed.text().await.unwrap();
    let in_query = app
        .post(&format!("/oauth/token?client_secret={misplaced_secret}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    bodies += &in_query.text().await.unwrap();
    let wrong_secret = app
        .post("/oauth/token")
        .header("authorization", basic(&world.reader.id, misplaced_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    bodies += &wrong_secret.text().await.unwrap();
    let service = app.service_token(&world.reader, None).await;
    let introspected = app
        .post("/oauth/introspect")
        .header(
            "authorization",
            basic(&world.reader.id, &world.reader.secret),
        )
        .form(&[("token", service.as_str())])
        .send()
        .await
        .unwrap();
    expect_json(introspected, StatusCode::OK).await;
    let bad_admin = app
        .post("/admin/users")
        .bearer_auth(&service)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    bodies += &bad_admin.text().await.unwrap();

    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    assert!(logs.contains("/oauth/token"), "the logs were captured");
    let secrets = [
        ("alice's password", world.alice.password.as_str()),
        ("a wrong password", wrong_password),
        ("a client secret", world.reader.secret.as_str()),
        ("a secret sent in the query", misplaced_secret),
        ("the admin token", ADMIN_TOKEN),
        ("a user token", world.alice.token.as_str()),
        ("a service token", service.as_str()),
    ];
    for (what, secret) in secrets {
        assert!(!logs.contains(secret), "{what} is in the logs");
        assert!(!bodies.contains(secret), "{what} is in an error body");
    }
}
