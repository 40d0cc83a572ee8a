use conformance::scenario::load_dir;
use conformance::{StackOptions, Status, StoreChoice};

use crate::helpers::{failed, run_against};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_every_check_on_the_embedded_store() {
    let report = run_against(StackOptions::default()).await;
    assert!(
        failed(&report).is_empty(),
        "{:#?}",
        report
            .checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        report.summary.skipped, 0,
        "the reference offers every capability"
    );
    let scenarios = load_dir(&conformance::bundled_scenarios()).unwrap();
    assert_eq!(
        report.checks.len(),
        conformance::check_ids(&scenarios).len()
    );
    assert_eq!(report.exit_code(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_every_check_on_postgres_and_mongo() {
    let report = run_against(StackOptions {
        store: Some(StoreChoice::Containers),
        ..StackOptions::default()
    })
    .await;
    assert!(failed(&report).is_empty(), "{:?}", failed(&report));
    assert_eq!(report.exit_code(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_keep_secrets_out() {
    let report = run_against(StackOptions {
        auth_fault: Some(crate::faults::seed_bug()),
        ..StackOptions::default()
    })
    .await;
    let json = serde_json::to_string(&report).unwrap();
    let junit = conformance::report::junit_xml(&report);
    let terminal = conformance::report::summary_line(&report);
    let markdown = conformance::report::markdown(&report);
    for text in [&json, &junit, &terminal, &markdown] {
        assert!(!text.contains("eyJ"), "a JWT leaked");
        assert!(
            !text.contains("\"pw-") && !text.contains(" pw-"),
            "a password leaked"
        );
        assert!(!holds_admin_token(text), "the admin token leaked");
    }
    assert!(
        terminal.contains("$READER_TOKEN") || terminal.contains("$ALICE_TOKEN"),
        "{terminal}"
    );
}

/// Whether the text holds a reference stack's admin token (`admin-` and 32
/// hex digits; check ids such as `post-admin-users` do not count).
fn holds_admin_token(text: &str) -> bool {
    text.match_indices("admin-").any(|(i, _)| {
        let rest = &text[i + "admin-".len()..];
        rest.len() >= 32 && rest[..32].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The chat-api reaches its auth-api through the recorder (another address
/// than the issuer's) and is given no issuer: it takes the one the
/// auth-api's metadata publishes, and the pair passes every check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_api_behind_a_proxy_learns_its_issuer_from_the_metadata() {
    let report = run_against(StackOptions {
        store: Some(StoreChoice::Embedded),
        configure_chat: Some(Box::new(|config| config.issuer = None)),
        ..StackOptions::default()
    })
    .await;
    assert!(failed(&report).is_empty(), "{:?}", failed(&report));
    assert_eq!(report.summary.skipped, 0);
}
