use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, TestApp, claims, expect_error, expect_json, on_both_stores};

on_both_stores!(
    users_are_unique_by_email_in_any_case,
    clients_get_a_secret_once_and_unique_ids,
    a_client_id_equal_to_a_user_id_is_refused_but_a_look_alike_is_a_service,
    the_admin_endpoints_need_the_admin_token,
    a_deleted_user_loses_groups_memberships_and_tokens,
    a_deleted_client_loses_its_tokens_and_its_credentials,
);

async fn introspect(
    app: &TestApp,
    client: &crate::helpers::TestClient,
    token: &str,
) -> serde_json::Value {
    let response = app
        .post("/oauth/introspect")
        .header(
            "authorization",
            crate::helpers::basic(&client.id, &client.secret),
        )
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await
}

async fn a_deleted_user_loses_groups_memberships_and_tokens(app: TestApp) {
    let world = app.world().await;
    let member = app
        .post(&format!("/api/auth/groups/{}/members", world.group))
        .bearer_auth(&world.alice.token)
        .json(&json!({ "user_id": world.bob.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), StatusCode::CREATED);
    assert_eq!(
        introspect(&app, &world.reader, &world.alice.token).await["active"],
        true
    );

    let unauthorised = app
        .delete(&format!("/admin/users/{}", world.alice.id))
        .bearer_auth(&world.alice.token)
        .send()
        .await
        .unwrap();
    expect_error(unauthorised, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let deleted = app
        .delete(&format!("/admin/users/{}", world.alice.id))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Her token is refused everywhere, and introspection says so alone.
    let me = app
        .get("/auth/me")
        .bearer_auth(&world.alice.token)
        .send()
        .await
        .unwrap();
    expect_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(
        introspect(&app, &world.reader, &world.alice.token).await,
        json!({ "active": false })
    );
    // The group she owned went, with its members.
    let service = app.service_token(&world.reader, Some("groups:read")).await;
    let group = app
        .get(&format!("/api/auth/groups/{}", world.group))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    expect_error(group, StatusCode::NOT_FOUND, "not_found").await;
    // Bob's token still works; he is simply in no group now.
    let bob = app
        .get("/auth/me")
        .bearer_auth(&world.bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), StatusCode::OK);

    let again = app
        .delete(&format!("/admin/users/{}", world.alice.id))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    let malformed = app
        .delete("/admin/users/not-a-uuid")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(malformed, StatusCode::BAD_REQUEST, "invalid_request").await;
}

async fn a_deleted_client_loses_its_tokens_and_its_credentials(app: TestApp) {
    let world = app.world().await;
    let client = app.create_client("going/away 1", &["groups:read"]).await;
    let token = app.service_token(&client, Some("groups:read")).await;
    let members = format!("/api/auth/groups/{}/members", world.group);
    let before = app.get(&members).bearer_auth(&token).send().await.unwrap();
    assert_eq!(before.status(), StatusCode::OK);

    let deleted = app
        .delete("/admin/clients/going%2Faway%201")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = app.get(&members).bearer_auth(&token).send().await.unwrap();
    expect_error(after, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(
        introspect(&app, &world.reader, &token).await,
        json!({ "active": false })
    );
    let refused = app
        .post("/oauth/token")
        .header(
            "authorization",
            crate::helpers::basic(&client.id, &client.secret),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect_error(refused, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let again = app
        .delete("/admin/clients/going%2Faway%201")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
}

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
