use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, TestApp, claims, expect_error, expect_json, on_both_stores};

on_both_stores!(
    users_are_unique_by_email_in_any_case,
    clients_get_a_secret_once_and_unique_ids,
    a_client_id_equal_to_a_user_id_is_refused_but_a_look_alike_is_a_service,
    the_admin_endpoints_need_the_admin_token,
);

async fn users_are_unique_by_email_in_any_case(app: TestApp) {
    let user = app.create_user("dana@example.com").await;
    assert!(uuid::Uuid::parse_str(&user.id).is_ok());
    let again = app
        .post("/admin/users")
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "email": "DANA@Example.com", "password": "another-password" }))
        .send()
        .await
        .unwrap();
    expect_error(again, StatusCode::CONFLICT, "conflict").await;

    for bad in [
        json!({ "email": "not-an-email", "password": "long-enough" }),
        json!({ "email": "eve@example.com", "password": "short" }),
        json!({ "email": "eve@example.com" }),
        json!({ "email": 7, "password": "long-enough" }),
    ] {
        let response = app
            .post("/admin/users")
            .bearer_auth(ADMIN_TOKEN)
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

async fn clients_get_a_secret_once_and_unique_ids(app: TestApp) {
    let generated = app
        .post("/admin/clients")
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "scopes": ["groups:read"] }))
        .send()
        .await
        .unwrap();
    let generated = expect_json(generated, StatusCode::CREATED).await;
    assert!(!generated["client_id"].as_str().unwrap().is_empty());
    assert!(
        generated["client_secret"].as_str().unwrap().len() >= 43,
        "at least 256 bits"
    );
    assert_eq!(generated["scopes"], json!(["groups:read"]));

    app.create_client("billing", &[]).await;
    let duplicate = app
        .post("/admin/clients")
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "client_id": "billing", "scopes": [] }))
        .send()
        .await
        .unwrap();
    expect_error(duplicate, StatusCode::CONFLICT, "conflict").await;

    for bad in [
        json!({ "client_id": "x", "scopes": ["admin:everything"] }),
        json!({ "client_id": "", "scopes": [] }),
        json!({ "client_id": "tab\there", "scopes": [] }),
        json!({ "client_id": "x" }),
    ] {
        let response = app
            .post("/admin/clients")
            .bearer_auth(ADMIN_TOKEN)
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

async fn a_client_id_equal_to_a_user_id_is_refused_but_a_look_alike_is_a_service(app: TestApp) {
    let world = app.world().await;
    let same = app
        .post("/admin/clients")
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "client_id": world.alice.id, "scopes": ["groups:read"] }))
        .send()
        .await
        .unwrap();
    expect_error(same, StatusCode::CONFLICT, "conflict").await;

    // The same UUID in capitals is another client id, and a service.
    let look_alike = app
        .create_client(&world.alice.id.to_uppercase(), &["groups:read"])
        .await;
    let token = app.service_token(&look_alike, None).await;
    assert_eq!(claims(&token)["client_id"], world.alice.id.to_uppercase());
    let members = app
        .get(&format!("/api/auth/groups/{}/members", world.group))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_json(members, StatusCode::OK).await;
    let me = app
        .get("/auth/me")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(me, StatusCode::FORBIDDEN, "forbidden").await;

    // A random UUID is a fine client id too.
    let uuid_client = app
        .create_client(&uuid::Uuid::new_v4().to_string(), &["groups:read"])
        .await;
    let token = app.service_token(&uuid_client, None).await;
    let me = app
        .get("/auth/me")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(me, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn the_admin_endpoints_need_the_admin_token(app: TestApp) {
    let world = app.world().await;
    for token in [None, Some("wrong"), Some(world.alice.token.as_str())] {
        let mut request = app
            .post("/admin/users")
            .json(&json!({ "email": "x@example.com", "password": "long-enough" }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        expect_error(
            request.send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
}
