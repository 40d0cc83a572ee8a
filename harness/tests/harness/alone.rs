//! One service at a time: an auth-api given alone, with the reference
//! chat-api started beside it, registered there through the admin
//! endpoint. Every scenario runs, the chat ones included, so the seed's
//! flow exercises that auth-api as a chat-api would.

use std::process::Command;

use conformance::scenario::Level;
use conformance::{Harness, ReferenceChat, ReferenceStack, StackOptions, Status, Target};

/// The auth-api of `stack` alone, as a team that owns only it gives it.
fn auth_alone(stack: &ReferenceStack) -> Target {
    Target {
        chat_url: String::new(),
        observer: None,
        faults: None,
        ..stack.target.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_api_alone_that_chooses_differently_passes_core_and_strict() {
    let stack = ReferenceStack::start(crate::variant::variant("dev-p256.pem"))
        .await
        .expect("the variant stack starts");
    let chat = ReferenceChat::start(&auth_alone(&stack))
        .await
        .expect("the reference chat-api starts beside it");
    assert_eq!(chat.target.auth_url, stack.target.auth_url);
    assert_ne!(chat.target.chat_url, stack.target.chat_url);
    let harness = Harness::new(chat.target.clone()).level(Level::Strict);
    harness.options().created.client(&chat.client_id);
    let report = harness.run().await.expect("the run completes");
    let declined = [
        "core.token.form-body",
        "strict.tokens.two-client-auth-methods",
    ];
    let wrong = crate::helpers::not_passed(&report, Level::Strict, &declined);
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The chat scenarios ran against this auth-api, and the calls between
    // the two were seen.
    for id in [
        "core.seed.send",
        "core.seed.members-with-service-token",
        "core.observed.service-token-for-groups",
        "strict.observed.token-scope",
    ] {
        let outcome = crate::helpers::outcome(&report, id);
        assert_eq!(outcome.status, Status::Passed, "{id}: {}", outcome.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_bug_in_an_auth_api_alone_fails_the_chat_flow() {
    let stack = ReferenceStack::start(StackOptions {
        auth_fault: Some(crate::faults::seed_bug()),
        ..StackOptions::default()
    })
    .await
    .expect("the stack starts");
    let chat = ReferenceChat::start(&auth_alone(&stack))
        .await
        .expect("the reference chat-api starts beside it");
    let report = Harness::new(chat.target.clone())
        .run()
        .await
        .expect("the run completes");
    // The members endpoint refuses the service token, and the message the
    // reference chat-api cannot store says where the chain broke.
    crate::helpers::assert_caught(
        &report,
        &[
            "core.members.service-token",
            "core.seed.members-with-service-token",
            "core.seed.send",
        ],
    );
}

/// `conformance run --auth-url … --admin-token …`, no `--chat-url`: the
/// reference chat-api starts beside it, and the client registered for it
/// is deleted with the run's accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_checks_an_auth_api_alone() {
    let stack = ReferenceStack::start(StackOptions::default())
        .await
        .expect("the stack starts");
    let target = stack.target.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_conformance"))
            .args([
                "run",
                "--auth-url",
                &target.auth_url,
                "--only",
                "core.seed.",
            ])
            .arg("--admin-token")
            .arg(target.admin_token.as_ref().unwrap().expose())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("starting the reference chat-api beside the auth-api"),
        "{stderr}"
    );
    // alice, bob; the reader, blind and UUID clients, and the chat-api's.
    assert!(
        stderr.contains("deleted the 2 users (with their groups) and 4 clients"),
        "{stderr}"
    );
}

/// The variant's chat-api (other legitimate choices: `ObjectId` message
/// ids, numeric cursors, 503 for an auth-api failure…) on these settings.
async fn variant_chat(
    auth_url: &str,
    client_id: &str,
    client_secret: &str,
    issuer: &str,
    audience: &str,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut config = chat_api::Config::local(auth_url, client_id, client_secret);
    config.issuer = Some(issuer.to_owned());
    audience.clone_into(&mut config.audience);
    config.upstream_timeout_ms = 2000;
    config.token_leeway = 60;
    let chat = chat_api::Application::build(config)
        .await
        .expect("the chat-api starts");
    let url = chat.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let layer = crate::variant::chat_choices();
    tokio::spawn(
        chat.run_wrapped(move |router, state| layer(router, state), async {
            let _ = stopped.await;
        }),
    );
    (url, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_api_alone_that_chooses_differently_passes_core_and_strict() {
    let auth = conformance::ReferenceAuth::start()
        .await
        .expect("the reference auth-api starts");
    let (chat_url, _stop) = variant_chat(
        &auth.recorder_url,
        &auth.client_id,
        auth.client_secret.expose(),
        &auth.issuer,
        &auth.audience,
    )
    .await;
    let report = Harness::new(auth.target(&chat_url))
        .level(Level::Strict)
        .run()
        .await
        .expect("the run completes");
    let wrong = crate::helpers::not_passed(&report, Level::Strict, &[]);
    assert!(wrong.is_empty(), "{wrong:#?}");
    let observed = crate::helpers::outcome(&report, "core.observed.service-token-for-groups");
    assert_eq!(observed.status, Status::Passed, "{}", observed.message);
}

/// A child process stopped when the test ends, passed or not.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `conformance serve-auth` prints what a chat-api needs and the `run`
/// command that follows; a chat-api started on those settings passes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_auth_prints_the_settings_and_the_next_command() {
    use std::io::BufRead as _;

    let mut server = Stopped(
        Command::new(env!("CARGO_BIN_EXE_conformance"))
            .arg("serve-auth")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = std::io::BufReader::new(server.0.stdout.take().unwrap()).lines();
    let mut printed = std::collections::BTreeMap::new();
    let mut run_line = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(command) = line.trim().strip_prefix("conformance run ") {
            run_line = Some(command.to_owned());
            break;
        }
        if let Some((name, value)) = line.split_once(": ") {
            printed.insert(name.to_owned(), value.to_owned());
        }
    }
    let setting = |name: &str| {
        printed
            .iter()
            .find(|(n, _)| n.starts_with(name))
            .map_or_else(|| panic!("no {name} in {printed:?}"), |(_, v)| v.clone())
    };
    let (chat_url, _stop) = variant_chat(
        &setting("auth-api URL"),
        &setting("client id"),
        &setting("client secret"),
        &setting("issuer"),
        &setting("audience"),
    )
    .await;
    let command = run_line
        .expect("the run command")
        .replace("YOUR_CHAT_API", &chat_url);
    let args: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_conformance"))
            .arg("run")
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
