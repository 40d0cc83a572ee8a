use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    TestApp, claims, expect_error, expect_json, header, header_value, on_both_stores,
};

on_both_stores!(
    login_gives_a_user_token_with_the_contracts_claims,
    wrong_password_and_unknown_email_get_the_same_answer,
    me_shows_the_user_and_refuses_a_service,
    a_missing_or_garbage_token_is_401_with_its_challenge,
);

async fn login_gives_a_user_token_with_the_contracts_claims(app: TestApp) {
    let alice = app.create_user("Alice.Admin@Example.com").await;
    let response = app
        .post("/auth/login")
        .json(&json!({ "email": "alice.admin@example.com", "password": alice.password }))
        .send()
        .await
        .unwrap();
    assert_eq!(header_value(&response, "cache-control"), "no-store");
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("refresh_token").is_none());

    let token = body["access_token"].as_str().unwrap();
    let claims = claims(token);
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(
        claims["email"], "alice.admin@example.com",
        "emails are stored lower-cased"
    );
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["aud"], "conformance-apis");
    assert_eq!(claims["iss"], app.url.as_str());
    assert!(claims.get("client_id").is_none());
    assert!(claims.get("scope").is_none());
    assert!(claims["jti"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let uuid = uuid::Uuid::parse_str(claims["sub"].as_str().unwrap()).unwrap();
    assert_eq!(uuid.hyphenated().to_string(), claims["sub"]);

    let header = header(token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let jwks = expect_json(
        app.get("/.well-known/jwks.json").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
}

async fn wrong_password_and_unknown_email_get_the_same_answer(app: TestApp) {
    let bob = app.create_user("bob@example.com").await;
    let wrong_password = app
        .post("/auth/login")
        .json(&json!({ "email": bob.email, "password": "not-the-password" }))
        .send()
        .await
        .unwrap();
    let unknown_email = app
        .post("/auth/login")
        .json(&json!({ "email": "nobody@example.com", "password": bob.password }))
        .send()
        .await
        .unwrap();
    let a = expect_error(
        wrong_password,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let b = expect_error(
        unknown_email,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(a, b);
}

async fn me_shows_the_user_and_refuses_a_service(app: TestApp) {
    let world = app.world().await;
    let me = app
        .get("/auth/me")
        .bearer_auth(&world.alice.token)
        .send()
        .await
        .unwrap();
    let body = expect_json(me, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({ "id": world.alice.id, "email": world.alice.email })
    );

    let service = app.service_token(&world.reader, None).await;
    let me = app
        .get("/auth/me")
        .bearer_auth(service)
        .send()
        .await
        .unwrap();
    expect_error(me, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn a_missing_or_garbage_token_is_401_with_its_challenge(app: TestApp) {
    let anonymous = app.get("/auth/me").send().await.unwrap();
    let challenge = header_value(&anonymous, "www-authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error attribute without credentials: {challenge}"
    );
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let garbage = app
        .get("/auth/me")
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    let challenge = header_value(&garbage, "www-authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    expect_error(garbage, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
