//! The harness leaves nothing behind on a shared deployment: what it made
//! is deleted at the end of a run, on Ctrl-C too, unless it is asked to
//! keep it.

use std::process::{Command, Stdio};
use std::time::Duration;

use conformance::{Harness, ReferenceStack, RunOptions, StackOptions};

async fn admin_delete(stack: &ReferenceStack, path: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .delete(format!("{}{path}", stack.target.auth_url))
        .bearer_auth(stack.target.admin_token.as_ref().unwrap().expose())
        .send()
        .await
        .unwrap()
        .status()
}

fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// After a run, every user and client it made is gone: deleting it again
/// is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_a_run_made_is_deleted_afterwards() {
    let stack = ReferenceStack::start(StackOptions::default())
        .await
        .unwrap();
    let options = RunOptions {
        only: vec!["core.members.".to_owned(), "strict.subjects.".to_owned()],
        properties: conformance::PropertyOptions { cases: 8, seed: 7 },
        ..RunOptions::default()
    };
    let harness = Harness::new(stack.target.clone()).with_options(options);
    let report = harness.run().await.unwrap();
    assert_eq!(report.exit_code(), 0);
    let (users, clients) = harness.options().created.list();
    assert!(
        users.len() >= 2 && clients.len() >= 3,
        "{users:?} {clients:?}"
    );
    for id in &users {
        let status = admin_delete(&stack, &format!("/admin/users/{id}")).await;
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "user {id}");
    }
    for id in &clients {
        let status = admin_delete(&stack, &format!("/admin/clients/{}", encode(id))).await;
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "client {id}");
    }
}

fn command(stack: &ReferenceStack, extra: &[&str]) -> Command {
    let target = &stack.target;
    let mut command = Command::new(env!("CARGO_BIN_EXE_conformance"));
    command
        .args([
            "run",
            "--auth-url",
            &target.auth_url,
            "--chat-url",
            &target.chat_url,
        ])
        .arg("--admin-token")
        .arg(target.admin_token.as_ref().unwrap().expose())
        .args(extra);
    command
}

/// `--keep-accounts` keeps them and names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_accounts_keeps_and_lists_them() {
    let stack = ReferenceStack::start(StackOptions::default())
        .await
        .unwrap();
    let mut cmd = command(&stack, &["--only", "core.members.", "--keep-accounts"]);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let users = stderr
        .split_once("users ")
        .and_then(|(_, rest)| rest.split_once(';'))
        .map_or_else(|| panic!("{stderr}"), |(users, _)| users.to_owned());
    for id in users.split(", ") {
        let status = admin_delete(&stack, &format!("/admin/users/{id}")).await;
        assert_eq!(
            status,
            reqwest::StatusCode::NO_CONTENT,
            "{id} was kept: {stderr}"
        );
    }
}

/// Ctrl-C in the middle of a run: the accounts made so far are deleted,
/// and the harness exits 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_cleans_up_too() {
    // Every members read takes two seconds: the run is still going when
    // the interrupt comes. The first comes from a step, so the accounts are
    // all made by then: the interrupt waits for it, not for a fixed time a
    // loaded machine may not have provisioned in.
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = reached.clone();
    let slow: conformance::AuthFault = Box::new(move |router, _| {
        router.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let seen = seen.clone();
                async move {
                    if request.uri().path().ends_with("/members") {
                        seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    next.run(request).await
                }
            },
        ))
    });
    let stack = ReferenceStack::start(StackOptions {
        auth_fault: Some(slow),
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let mut cmd = command(&stack, &["--only", "core.members."]);
    let output = tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A run that ends before any step reached the auth-api (it failed
        // to start) is not waited on for ever: its output says why.
        while !reached.load(std::sync::atomic::Ordering::SeqCst) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("deleted the 2 users (with their groups) and 3 clients"),
        "{stderr}"
    );
}
