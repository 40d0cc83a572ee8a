//! A run longer than a token's life: the harness renews the tokens it
//! holds, and builds the attack tokens from one still valid.

use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{Next, from_fn};
use conformance::scenario::Level;
use conformance::{AuthFault, RunOptions, StackOptions, Status};

/// Tokens live 12 s: the harness renews a token a quarter of its life
/// before `exp` (3 s), more than a loaded machine takes between reading a
/// token and the service checking it (2 s lifetimes left it 1 s, and less
/// with whole-second `iat`: a failure under load, not of the harness).
const TOKEN_LIFE: i64 = 12;

/// The authorization server's metadata takes longer than a token's life:
/// with one job, the scenarios after `core.discovery` run after the
/// tokens the harness fetched for the `core.chat` ones have expired.
/// Only its first answer is slow: one wait outlasts the tokens.
fn slow_metadata() -> AuthFault {
    let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    Box::new(move |router, _| {
        router.layer(from_fn(move |request: Request, next: Next| {
            let waited = waited.clone();
            async move {
                if request.method() == Method::GET
                    && request.uri().path() == "/.well-known/oauth-authorization-server"
                    && !waited.swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    tokio::time::sleep(Duration::from_secs(TOKEN_LIFE.unsigned_abs() + 1)).await;
                }
                next.run(request).await
            }
        }))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_longer_than_a_tokens_life_passes() {
    let options = StackOptions {
        auth_fault: Some(slow_metadata()),
        configure_auth: Some(Box::new(|config| {
            config.user_token_ttl = TOKEN_LIFE;
            config.service_token_ttl = TOKEN_LIFE;
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
            // The chat-api's own service token is as short-lived: the
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
    assert!(
        report.duration_ms > (TOKEN_LIFE.unsigned_abs() + 1) * 1000,
        "the run outlasted the tokens"
    );
}
