use auth_api::{Application, Config};
use reference_stores::PostgresDatabase;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{basic, expect_json, fixture};

#[tokio::test]
async fn a_missing_or_bad_signing_key_is_a_clear_start_up_error() {
    let missing = Application::build(Config::local("/nonexistent/signing-key.pem".into())).await;
    let message = format!("{:#}", missing.err().expect("no start without a key"));
    assert!(
        message.contains("/nonexistent/signing-key.pem"),
        "{message}"
    );

    let not_a_key = Application::build(Config::local(fixture("seed.json"))).await;
    let message = format!("{:#}", not_a_key.err().expect("no start with a bad key"));
    assert!(message.contains("Ed25519"), "{message}");
}

#[tokio::test]
async fn a_bad_seed_file_is_a_clear_start_up_error() {
    let mut config = Config::local(fixture("keys/dev-ed25519.pem"));
    config.seed = Some(fixture("keys/dev-ed25519.pem"));
    let message = format!(
        "{:#}",
        Application::build(config).await.err().expect("no start")
    );
    assert!(message.contains("seed file"), "{message}");
}

/// The demo stack: the seed fixture gives the seed document's cast, and
/// applying it again to the same database changes nothing.
#[tokio::test]
async fn the_seed_fixture_makes_the_seed_documents_cast_once() {
    let database = PostgresDatabase::create().await.expect("a database");
    let mut config = Config::local(fixture("keys/dev-ed25519.pem"));
    config.database_url = Some(database.url().to_owned());
    config.seed = Some(fixture("seed.json"));
    drop(
        Application::build(config.clone())
            .await
            .expect("first start"),
    );
    let app = Application::build(config).await.expect("second start");
    let url = app.url();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();

    let token = http
        .post(format!("{url}/oauth/token"))
        .header(
            "authorization",
            basic("chat-api-service", "dev-chat-api-secret"),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "groups:read"),
        ])
        .send()
        .await
        .unwrap();
    let token = expect_json(token, StatusCode::OK).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = http
        .get(format!(
            "{url}/api/auth/groups/0193a1c0-0000-7000-8000-000000000001/members"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let members = expect_json(members, StatusCode::OK).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");
    assert_eq!(members["members"][0]["email"], "alice.admin@example.com");

    let bob = http
        .post(format!("{url}/auth/login"))
        .json(&json!({ "email": "bob@example.com", "password": "bob-dev-password" }))
        .send()
        .await
        .unwrap();
    expect_json(bob, StatusCode::OK).await;
}
