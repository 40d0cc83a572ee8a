use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    TestApp, basic, claims, expect_error, expect_json, header_value, on_both_stores,
};

on_both_stores!(
    client_credentials_by_basic_gives_a_service_token,
    client_credentials_in_the_body_work_too,
    token_errors_follow_rfc_6749,
    introspection_describes_valid_tokens_and_nothing_else,
    a_revoked_token_is_refused,
    metadata_and_keys_describe_the_issuer,
);

async fn client_credentials_by_basic_gives_a_service_token(app: TestApp) {
    let world = app.world().await;
    let response = app
        .token_request(
            &world.reader,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "groups:read"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(header_value(&response, "cache-control"), "no-store");
    assert_eq!(header_value(&response, "pragma"), "no-cache");
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "groups:read");
    assert!(body.get("refresh_token").is_none());

    let claims = claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "chat-api-service");
    assert_eq!(claims["client_id"], "chat-api-service");
    assert_eq!(claims["scope"], "groups:read");
    assert!(claims.get("email").is_none());
    assert!(claims.get("type").is_none());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );

    // No scope asked: every scope the client is registered for.
    let default = app
        .token_request(&world.reader, &[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(default, StatusCode::OK).await["scope"],
        "groups:read"
    );
}

async fn client_credentials_in_the_body_work_too(app: TestApp) {
    let world = app.world().await;
    // A secret with ':' and '%' survives both methods.
    let odd = app.create_client("odd:client%id é", &["groups:read"]).await;
    let body = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &odd.id),
            ("client_secret", &odd.secret),
        ])
        .send()
        .await
        .unwrap();
    let token = expect_json(body, StatusCode::OK).await;
    assert_eq!(
        claims(token["access_token"].as_str().unwrap())["sub"],
        "odd:client%id é"
    );
    let basic = app.service_token(&odd, None).await;
    assert_eq!(claims(&basic)["client_id"], "odd:client%id é");
    let _ = world;
}

async fn token_errors_follow_rfc_6749(app: TestApp) {
    let world = app.world().await;
    let grant = ("grant_type", "client_credentials");

    let both = app
        .token_request(
            &world.reader,
            &[
                grant,
                ("client_id", &world.reader.id),
                ("client_secret", &world.reader.secret),
            ],
        )
        .send()
        .await
        .unwrap();
    expect_error(both, StatusCode::BAD_REQUEST, "invalid_request").await;

    let wrong = app
        .post("/oauth/token")
        .header("authorization", basic(&world.reader.id, "wrong"))
        .form(&[grant])
        .send()
        .await
        .unwrap();
    assert!(header_value(&wrong, "www-authenticate").starts_with("Basic"));
    assert_eq!(header_value(&wrong, "cache-control"), "no-store");
    expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let unknown = app
        .post("/oauth/token")
        .header("authorization", basic("nobody", "x"))
        .form(&[grant])
        .send()
        .await
        .unwrap();
    expect_error(unknown, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let anonymous = app
        .post("/oauth/token")
        .form(&[grant])
        .send()
        .await
        .unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let password = app
        .token_request(&world.reader, &[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    expect_error(password, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let no_grant = app
        .token_request(&world.reader, &[("scope", "groups:read")])
        .send()
        .await
        .unwrap();
    expect_error(no_grant, StatusCode::BAD_REQUEST, "invalid_request").await;

    let beyond = app
        .token_request(&world.blind, &[grant, ("scope", "groups:read")])
        .send()
        .await
        .unwrap();
    expect_error(beyond, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let malformed = app
        .token_request(&world.reader, &[grant, ("scope", "groups:read  x")])
        .send()
        .await
        .unwrap();
    expect_error(malformed, StatusCode::BAD_REQUEST, "invalid_scope").await;

    let repeated = app
        .post("/oauth/token")
        .header(
            "authorization",
            basic(&world.reader.id, &world.reader.secret),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    expect_error(repeated, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Parameters the endpoint does not define are ignored, even repeated
    // (RFC 6749 §3.1).
    let unknown = app
        .post("/oauth/token")
        .header(
            "authorization",
            basic(&world.reader.id, &world.reader.secret),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&extension=1&extension=2")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::OK);

    let in_query = app
        .post(&format!(
            "/oauth/token?client_id={}&client_secret={}",
            world.reader.id, world.reader.secret
        ))
        .form(&[grant])
        .send()
        .await
        .unwrap();
    expect_error(in_query, StatusCode::BAD_REQUEST, "invalid_request").await;

    let json_body = app
        .post("/oauth/token")
        .header(
            "authorization",
            basic(&world.reader.id, &world.reader.secret),
        )
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    expect_error(json_body, StatusCode::BAD_REQUEST, "invalid_request").await;
}

async fn introspection_describes_valid_tokens_and_nothing_else(app: TestApp) {
    let world = app.world().await;
    let service = app.service_token(&world.reader, None).await;
    let introspect = |token: &str| {
        app.post("/oauth/introspect")
            .header("authorization", basic(&world.blind.id, &world.blind.secret))
            .form(&[("token", token)])
            .send()
    };

    let active = expect_json(introspect(&service).await.unwrap(), StatusCode::OK).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "chat-api-service");
    assert_eq!(active["client_id"], "chat-api-service");
    assert_eq!(active["scope"], "groups:read");
    assert_eq!(active["token_type"], "Bearer");
    assert!(active["exp"].is_i64() && active["iat"].is_i64());

    let user = expect_json(
        introspect(&world.alice.token).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(user["active"], true);
    assert_eq!(user["sub"], world.alice.id.as_str());
    assert!(user.get("client_id").is_none());

    for bad in ["garbage", &format!("{}x", &service[..service.len() - 1])] {
        let inactive = expect_json(introspect(bad).await.unwrap(), StatusCode::OK).await;
        assert_eq!(inactive, json!({ "active": false }));
    }

    let unauthenticated = app
        .post("/oauth/introspect")
        .form(&[("token", service.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(unauthenticated, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

async fn a_revoked_token_is_refused(app: TestApp) {
    let world = app.world().await;
    let revoke = |client: &crate::helpers::TestClient, token: &str| {
        app.post("/oauth/revoke")
            .header("authorization", basic(&client.id, &client.secret))
            .form(&[("token", token)])
            .send()
    };
    assert_eq!(
        revoke(&world.reader, "not-a-token").await.unwrap().status(),
        StatusCode::OK
    );

    let me = app
        .get("/auth/me")
        .bearer_auth(&world.alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        revoke(&world.reader, &world.alice.token)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let me = app
        .get("/auth/me")
        .bearer_auth(&world.alice.token)
        .send()
        .await
        .unwrap();
    let body = expect_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );

    // A client revokes its own service tokens, not another client's.
    let service = app.service_token(&world.reader, None).await;
    let members = format!("/api/auth/groups/{}/members", world.group);
    assert_eq!(
        revoke(&world.blind, &service).await.unwrap().status(),
        StatusCode::OK
    );
    let still = app
        .get(&members)
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    assert_eq!(
        revoke(&world.reader, &service).await.unwrap().status(),
        StatusCode::OK
    );
    let gone = app
        .get(&members)
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    expect_error(gone, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn metadata_and_keys_describe_the_issuer(app: TestApp) {
    let world = app.world().await;
    let metadata = expect_json(
        app.get("/.well-known/oauth-authorization-server")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let issuer = metadata["issuer"].as_str().unwrap();
    assert_eq!(issuer, claims(&world.alice.token)["iss"]);
    assert_eq!(
        issuer,
        claims(&app.service_token(&world.reader, None).await)["iss"]
    );
    for (field, path) in [
        ("token_endpoint", "/oauth/token"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
    ] {
        assert_eq!(metadata[field], format!("{issuer}{path}"));
    }
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["client_credentials"])
    );
    assert_eq!(metadata["scopes_supported"], json!(["groups:read"]));
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );

    let jwks = expect_json(
        app.get("/.well-known/jwks.json").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(key.get(private).is_none(), "the JWKS publishes {private}");
    }

    let openapi = expect_json(
        app.get("/openapi.json").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        openapi["paths"]["/api/auth/groups/{id}/members"].is_object(),
        "{openapi}"
    );
    expect_json(app.get("/health").send().await.unwrap(), StatusCode::OK).await;
    expect_json(app.get("/ready").send().await.unwrap(), StatusCode::OK).await;
}
