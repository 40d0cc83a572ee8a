use crate::faults;
use crate::helpers::{assert_caught, run_with_faults};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_bug_fails_the_members_checks_and_the_chat_send() {
    let report = run_with_faults(Some(faults::seed_bug()), None).await;
    assert_caught(
        &report,
        &[
            "core.seed.members-with-service-token",
            "core.members.service-token",
            "core.seed.send",
            "core.chat.send.member",
        ],
    );
    let members = report
        .checks
        .iter()
        .find(|c| c.id == "core.seed.members-with-service-token")
        .unwrap();
    assert!(
        members.request.as_deref().unwrap().contains("/members"),
        "{members:?}"
    );
    assert!(
        members.actual.as_deref().unwrap().contains("401"),
        "{members:?}"
    );
    assert!(
        members.curl.as_deref().unwrap().starts_with("curl "),
        "{members:?}"
    );
    let send = report
        .checks
        .iter()
        .find(|c| c.id == "core.seed.send")
        .unwrap();
    assert!(
        send.request
            .as_deref()
            .unwrap()
            .contains("/api/chat/groups/"),
        "{send:?}"
    );
    // What still works is not blamed.
    assert!(!crate::helpers::failed(&report).contains("core.group.service-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_scope_check_for_services_is_caught() {
    let report = run_with_faults(Some(faults::no_scope_check()), None).await;
    assert_caught(
        &report,
        &["core.members.missing-scope", "core.group.missing-scope"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_allowed_to_post_is_caught() {
    let report = run_with_faults(Some(faults::members_list_everyone()), None).await;
    assert_caught(&report, &["core.chat.send.non-member"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_id_not_compared_is_caught() {
    let report = run_with_faults(None, Some(faults::sender_not_compared())).await;
    assert_caught(&report, &["core.chat.send.sender-mismatch"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_an_auth_api_failure_is_caught() {
    let report = run_with_faults(None, Some(faults::upstream_failure_is_500())).await;
    assert_caught(&report, &["core.chat.upstream.failure"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_token_fetched_for_every_message_is_caught() {
    let report = run_with_faults(None, Some(faults::token_per_message())).await;
    assert_caught(&report, &["core.chat.token-reuse.three-messages"]);
}
