use std::collections::BTreeSet;
use std::io::BufRead as _;

use conformance::scenario::Level;
use conformance::{
    Harness, ReferenceStack, RunOptions, RunReport, StackOptions, Status, StoreChoice,
};

/// Runs every bundled scenario against a reference stack started with these options.
/// The reference must pass all three levels, so every level gates.
pub async fn run_against(options: StackOptions) -> RunReport {
    let run = RunOptions {
        gate: Level::Reference,
        ..RunOptions::default()
    };
    run_selected(options, run).await
}

/// Runs the bundled scenarios `run` selects against a reference stack.
pub async fn run_selected(options: StackOptions, run: RunOptions) -> RunReport {
    let stack = ReferenceStack::start(options)
        .await
        .expect("the reference stack starts");
    Harness::new(stack.target.clone())
        .with_options(run)
        .run()
        .await
        .expect("the run completes")
}

/// Runs only the generated property checks, with this seed, against the
/// embedded reference with an auth-api fault.
pub async fn run_properties(fault: conformance::AuthFault, seed: u64) -> RunReport {
    let options = StackOptions {
        store: Some(StoreChoice::Embedded),
        auth_fault: Some(fault),
        ..StackOptions::default()
    };
    let run = RunOptions {
        only: vec!["strict.subjects".to_owned()],
        properties: conformance::PropertyOptions { cases: 32, seed },
        ..RunOptions::default()
    };
    run_selected(options, run).await
}

/// The outcome of one check.
pub fn outcome<'a>(report: &'a RunReport, id: &str) -> &'a conformance::CheckOutcome {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in the report"))
}

/// The layers that make a fault: over the auth-api, over the chat-api.
pub type Layers = (
    Option<conformance::AuthFault>,
    Option<conformance::ChatFault>,
);

/// Runs against the embedded reference with one fault layered on.
pub async fn run_with_faults(
    auth: Option<conformance::AuthFault>,
    chat: Option<conformance::ChatFault>,
) -> RunReport {
    run_with(auth, chat, None).await
}

/// As [`run_with_faults`], with a setting of the chat-api changed too.
pub async fn run_with(
    auth: Option<conformance::AuthFault>,
    chat: Option<conformance::ChatFault>,
    configure_chat: Option<conformance::ConfigureChat>,
) -> RunReport {
    run_against(StackOptions {
        store: Some(StoreChoice::Embedded),
        auth_fault: auth,
        chat_fault: chat,
        configure_chat,
        ..StackOptions::default()
    })
    .await
}

/// The ids of the failed checks.
pub fn failed(report: &RunReport) -> BTreeSet<String> {
    report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| c.id.clone())
        .collect()
}

/// The checks at `level` or below that did not pass, but those in
/// `excused`, each with its status, message and what was observed.
pub fn not_passed(report: &RunReport, level: Level, excused: &[&str]) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.level <= level && c.status != Status::Passed)
        .filter(|c| !excused.contains(&c.id.as_str()))
        .map(|c| {
            format!(
                "{} {}: {}\n{}",
                c.id,
                c.status.as_str(),
                c.message,
                c.actual.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// Asserts the run fails and that these checks are among its failures.
pub fn assert_caught(report: &RunReport, expected: &[&str]) {
    let failed = failed(report);
    assert_eq!(
        report.exit_code(),
        1,
        "the run must fail; failures: {failed:?}"
    );
    for id in expected {
        assert!(
            failed.contains(*id),
            "{id} did not fail; failures: {failed:?}"
        );
    }
}

/// Kills a process the test started when the test ends, however it ends.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `conformance proxy` on a free port, with `extra` arguments; its URL.
pub fn start_proxy(upstream: &str, extra: &[&std::ffi::OsStr]) -> (Killed, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_conformance"));
    command
        .args(["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream])
        .args(extra);
    start_process(command)
}

/// Starts `command`, a `conformance` subcommand that prints its URL on its
/// first line of stdout and serves; the process and that URL.
pub fn start_process(mut command: std::process::Command) -> (Killed, String) {
    let mut child = Killed(
        command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    (child, url)
}

/// Registers a `groups:read` client named `client_id` at the auth-api (as
/// `admin`, through `http`) and starts a reference chat-api as that client,
/// calling the auth-api at `upstream`, with `configure` applied; the
/// chat-api's URL.
pub async fn start_chat(
    http: &reqwest::Client,
    auth_url: &str,
    admin: &str,
    client_id: &str,
    upstream: &str,
    configure: impl FnOnce(&mut chat_api::Config),
) -> String {
    let secret = register_chat_client(http, auth_url, admin, client_id).await;
    let mut config = chat_api::Config::local(upstream, client_id, &secret);
    configure(&mut config);
    let chat = chat_api::Application::build(config).await.unwrap();
    let url = chat.url();
    tokio::spawn(chat.run_until_stopped());
    url
}

/// Registers a `groups:read` client named `client_id` at the auth-api (as
/// `admin`, through `http`), as a chat-api's operator would; its secret.
pub async fn register_chat_client(
    http: &reqwest::Client,
    auth_url: &str,
    admin: &str,
    client_id: &str,
) -> String {
    let client: serde_json::Value = http
        .post(format!("{auth_url}/admin/clients"))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "client_id": client_id, "scopes": ["groups:read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client["client_secret"].as_str().unwrap().to_owned()
}

/// Asserts the run fails, these checks among its failures, and nothing
/// failing outside `families` (check id prefixes) and the snapshot checks,
/// which see any change in the answers: the fault is caught by the checks
/// named for its rule, not by accident elsewhere.
pub fn assert_caught_only(report: &RunReport, expected: &[&str], families: &[&str]) {
    assert_caught(report, expected);
    let stray: Vec<String> = failed(report)
        .into_iter()
        .filter(|id| {
            !id.contains(".snapshot.")
                && !expected.contains(&id.as_str())
                && !families.iter().any(|f| id.starts_with(f))
        })
        .collect();
    let why: Vec<String> = stray
        .iter()
        .map(|id| conformance::report::failure_details(outcome(report, id)))
        .collect();
    assert!(
        stray.is_empty(),
        "caught outside {families:?} too:\n{}",
        why.join("\n")
    );
}
