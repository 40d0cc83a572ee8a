//! A run longer than a token's life: the harness renews the tokens it
//! holds, and builds the attack tokens from one still valid.

use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{Next, from_fn};
use conformance::scenario::Level;
use conformance::{AuthFault, RunOptions, StackOptions, Status};

/// The authorization server's metadata takes three seconds: with one job,
/// the scenarios after `core.discovery` run after the tokens the harness
/// fetched for the `core.chat` ones have expired.
fn slow_metadata() -> AuthFault {
    Box::new(|router, _| {
        router.layer(from_fn(|request: Request, next: Next| async move {
            if request.method() == Method::GET
                && request.uri().path() == "/.well-known/oauth-authorization-server"
            {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            next.run(request).await
        }))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_longer_than_a_tokens_life_passes() {
    let options = StackOptions {
        auth_fault: Some(slow_metadata()),
        configure_auth: Some(Box::new(|config| {
            config.user_token_ttl = 2;
            config.service_token_ttl = 2;
            config.token_leeway = 0;
        })),
        configure_chat: Some(Box::new(|config| config.token_leeway = 0)),
        ..StackOptions::default()
    };
    let report = crate::helpers::run_selected(
        options,
        RunOptions {
            gate: Level::Reference,
            jobs: 1,
            // The chat-api's own service token lives two seconds too: the
            // token-reuse checks would count its renewals.
            only: vec![
                "core.".to_owned(),
                "strict.jwt.".to_owned(),
                "strict.fuzz.".to_owned(),
            ],
            ..RunOptions::default()
        },
    )
    .await;
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed && !c.id.starts_with("core.chat.token-reuse"))
        .map(|c| format!("{}: {}", c.id, c.message))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(report.duration_ms > 3000, "the run outlasted the tokens");
}
