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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_alg_none_is_caught_on_both_services() {
    let (auth, chat) = faults::accept_alg_none();
    let report = run_with_faults(Some(auth), Some(chat)).await;
    assert_caught(
        &report,
        &[
            "strict.jwt.alg-none.auth-me",
            "strict.jwt.alg-none-upper.members",
            "strict.jwt.alg-none-capitalised.chat-send",
        ],
    );
    // Only the alg-none attacks succeed against this bug.
    assert!(
        crate::helpers::failed(&report)
            .iter()
            .all(|id| id.starts_with("strict.jwt.alg-none"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_audience_check_is_caught() {
    let (auth, chat) = faults::skip_audience();
    let report = run_with_faults(Some(auth), Some(chat)).await;
    assert_caught(
        &report,
        &[
            "strict.jwt.wrong-audience.group",
            "strict.jwt.wrong-audience.chat-list",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifying_principals_by_the_shape_of_sub_is_caught() {
    let report = run_with_faults(Some(faults::classify_by_uuid_shape()), None).await;
    assert_caught(&report, &["strict.uuid-client.not-a-user"]);
}
