use conformance::Status;

use crate::faults;
use crate::helpers;
use crate::helpers::{Layers, assert_caught, run_with_faults};

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
    // The diagram marks the members call, as the seed's does, and the
    // status the chat-api answered.
    let diagram = send.diagram.as_deref().expect("a diagram of the send");
    let lines: Vec<&str> = diagram.lines().collect();
    let broke = lines
        .iter()
        .position(|l| l.contains("✗ broke here"))
        .expect("a broken hop");
    assert!(lines[broke].contains("401 invalid_token"), "{diagram}");
    assert!(
        lines[broke - 2].contains("GET /api/auth/groups/") && lines[broke - 2].contains("/members"),
        "{diagram}"
    );
    assert!(
        diagram.contains("502 upstream_unavailable   ✗"),
        "{diagram}"
    );
    let terminal = conformance::report::summary_line(&report);
    assert!(
        terminal.contains("    │ 502 upstream_unavailable   ✗"),
        "{terminal}"
    );
    // What still works is not blamed.
    assert!(!crate::helpers::failed(&report).contains("core.group.service-token"));
}

pub fn no_scope_check_for_services() -> Layers {
    (Some(faults::no_scope_check()), None)
}

pub fn a_non_member_allowed_to_post() -> Layers {
    (Some(faults::members_list_everyone()), None)
}

pub fn a_sender_id_not_compared() -> Layers {
    (None, Some(faults::sender_not_compared()))
}

pub fn a_500_on_an_auth_api_failure() -> Layers {
    (None, Some(faults::upstream_failure_is_500()))
}

pub fn a_service_token_fetched_for_every_message() -> Layers {
    (None, Some(faults::token_per_message()))
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
    // Only the alg-none attacks succeed against this bug (and so the
    // attack scenario's answers differ from its snapshot).
    let failed = crate::helpers::failed(&report);
    assert!(
        failed.iter().all(
            |id| id.starts_with("strict.jwt.alg-none") || id.ends_with(".snapshot.jwt.attacks")
        ),
        "{failed:?}"
    );
}

pub fn skipping_the_audience_check() -> Layers {
    let (auth, chat) = faults::skip_audience();
    (Some(auth), Some(chat))
}

pub fn classifying_principals_by_the_shape_of_sub() -> Layers {
    (Some(faults::classify_by_uuid_shape()), None)
}

/// The shrunk input a failed property printed: `Text(" ")` in
/// "fails for the client id shape Text(\" \") (shrunk; …".
fn shrunk_input(message: &str) -> &str {
    let start = message
        .find("shape ")
        .map(|i| i + "shape ".len())
        .expect("the message names the shape");
    let end = message
        .find(" (shrunk")
        .expect("the message says it shrank");
    &message[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_credentials_not_form_decoded_fail_a_property_shrunk_to_one_character() {
    let seed = 0x5eed_0001;
    let report = helpers::run_properties(faults::basic_not_decoded(), seed).await;
    let reads = helpers::outcome(&report, "strict.subjects.reads-group");
    assert_eq!(reads.status, Status::Failed, "{reads:?}");
    let shrunk = shrunk_input(&reads.message);
    // Shrinking leaves one character that form-urlencoding changes.
    let text = shrunk
        .strip_prefix("Text(\"")
        .and_then(|t| t.strip_suffix("\")"))
        .unwrap_or_else(|| panic!("shrunk to free text: {}", reads.message));
    assert_eq!(text.chars().count(), 1, "{}", reads.message);
    assert_ne!(
        reference_shared::form::encode(text),
        text,
        "{}",
        reads.message
    );
    assert!(
        reads.message.contains("seed 0x5eed0001"),
        "{}",
        reads.message
    );
    assert_eq!(
        reads.curl.as_deref(),
        Some("conformance run --only strict.subjects.reads-group --seed 0x5eed0001 --cases 32")
    );
    assert!(
        reads.message.contains("POST /oauth/token"),
        "{}",
        reads.message
    );
    assert!(
        reads.actual.as_deref().unwrap().contains("401"),
        "{reads:?}"
    );

    // The printed seed, passed back, fails the same way.
    let again = helpers::run_properties(faults::basic_not_decoded(), seed).await;
    let again = helpers::outcome(&again, "strict.subjects.reads-group");
    assert_eq!(again.status, Status::Failed);
    assert_eq!(shrunk_input(&again.message), shrunk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_properties_catch_the_seeds_bug_a_missing_scope_check_and_classification_by_shape() {
    let seed = rand_seed();
    let report = helpers::run_properties(faults::seed_bug(), seed).await;
    let reads = helpers::outcome(&report, "strict.subjects.reads-group");
    assert_eq!(reads.status, Status::Failed, "{reads:?}");
    assert!(reads.message.contains("GET members"), "{}", reads.message);

    let report = helpers::run_properties(faults::no_scope_check(), seed).await;
    let scope = helpers::outcome(&report, "strict.subjects.scope-enforced");
    assert_eq!(scope.status, Status::Failed, "{scope:?}");
    assert_eq!(scope.expected.as_deref(), Some("403 insufficient_scope"));

    let report = helpers::run_properties(faults::classify_by_uuid_shape(), seed).await;
    let user = helpers::outcome(&report, "strict.subjects.not-a-user");
    assert_eq!(user.status, Status::Failed, "{user:?}");
    // Only a UUID-shaped id shows the bug, so shrinking stops at one.
    assert!(
        shrunk_input(&user.message).starts_with("Uuid(")
            || shrunk_input(&user.message).starts_with("UserLookAlike("),
        "{}",
        user.message
    );
}

fn rand_seed() -> u64 {
    u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_attribute_in_the_challenge_to_a_request_without_credentials_is_caught() {
    let report = run_with_faults(Some(faults::challenge_always_names_an_error()), None).await;
    assert_caught(
        &report,
        &[
            "strict.www-authenticate.no-credentials.auth-me",
            "strict.www-authenticate.other-scheme.members",
        ],
    );
    // The chat-api's challenges are untouched, and so are its checks.
    assert!(
        !crate::helpers::failed(&report)
            .contains("strict.www-authenticate.no-credentials.chat-send")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzing_catches_plain_text_errors_a_500_and_an_ignored_property() {
    let report = run_with_faults(
        Some(faults::plain_text_rejections()),
        Some(faults::chat_500_on_non_utf8()),
    )
    .await;
    assert_caught(
        &report,
        &[
            "strict.fuzz.auth.post-auth-login.malformed-json",
            "strict.fuzz.auth.post-api-auth-groups.wrong-types",
            "strict.fuzz.chat.post-api-chat-groups-group_id-messages.non-utf8-body",
        ],
    );
    let login = helpers::outcome(&report, "strict.fuzz.auth.post-auth-login.malformed-json");
    assert!(
        login.actual.as_deref().unwrap().contains("Failed to parse"),
        "{login:?}"
    );
    let chat = helpers::outcome(
        &report,
        "strict.fuzz.chat.post-api-chat-groups-group_id-messages.non-utf8-body",
    );
    assert!(
        chat.expected.as_deref().unwrap().starts_with("no 5xx"),
        "{chat:?}"
    );

    // A sender_id the chat-api drops: a wrong type for it is stored, not refused.
    let report = run_with_faults(None, Some(faults::sender_not_compared())).await;
    assert_caught(
        &report,
        &["strict.fuzz.chat.post-api-chat-groups-group_id-messages.wrong-types"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_token_passed_on_to_the_auth_api_is_seen_by_the_recorder() {
    let report = run_with_faults(None, Some(faults::user_token_upstream())).await;
    assert_caught(&report, &["core.observed.service-token-for-groups"]);
    let check = helpers::outcome(&report, "core.observed.service-token-for-groups");
    assert!(
        check
            .actual
            .as_deref()
            .unwrap()
            .contains("made with user token"),
        "{check:?}"
    );
    // The diagram's data: the harness's request, then the chat-api's calls.
    assert_eq!(check.hops[0].from, "harness");
    assert!(
        check.hops[1..]
            .iter()
            .any(|h| h.credential.as_deref() == Some("user token") && h.path.ends_with("/members")),
        "{:?}",
        check.hops
    );
}

/// Each JWT attack class fails against a verifier that skips the check it
/// targets, at every endpoint it is sent to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_jwt_attack_class_catches_the_verifier_that_skips_its_check() {
    let endpoints = ["auth-me", "group", "members", "chat-send", "chat-list"];
    let cases: Vec<((conformance::AuthFault, conformance::ChatFault), &[&str])> = vec![
        (
            faults::skip_signature(),
            &[
                "signature-removed",
                "signature-altered",
                "hmac-with-public-key",
                "unknown-kid",
                "kid-path-traversal",
                "kid-injection",
                "embedded-jwk",
                "jku-elsewhere",
                "other-key-same-kid",
            ],
        ),
        (faults::skip_times(), &["expired", "not-yet-valid"]),
        (faults::skip_issuer(), &["wrong-issuer"]),
        (
            faults::skip_required_claims(),
            &["no-exp", "no-iss", "no-aud", "no-sub"],
        ),
        (faults::users_by_type_first(), &["user-with-client-id"]),
        (faults::refuse_scope_on_users(), &["user-with-scope"]),
    ];
    for ((auth, chat), classes) in cases {
        let report = run_with_faults(Some(auth), Some(chat)).await;
        let expected: Vec<String> = classes
            .iter()
            .flat_map(|class| {
                endpoints
                    .iter()
                    .map(move |e| format!("strict.jwt.{class}.{e}"))
            })
            .collect();
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_caught(&report, &expected);
    }
}

/// The kid attacks are signed with the target's key: only a verifier that
/// looks the `kid` up refuses them, so one that ignores it is caught (a
/// token whose header alone was changed would fail its signature anyway).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifier_that_ignores_the_kid_is_caught() {
    let (auth, chat) = faults::ignore_kid();
    let report = run_with_faults(Some(auth), Some(chat)).await;
    let failed = crate::helpers::failed(&report);
    for class in ["unknown-kid", "kid-path-traversal", "kid-injection"] {
        for endpoint in ["auth-me", "group", "members", "chat-send", "chat-list"] {
            let id = format!("strict.jwt.{class}.{endpoint}");
            assert!(failed.contains(&id), "{id} passed: {failed:?}");
        }
    }
}

/// HS256 keyed with the published key's PEM, for Ed25519, P-256 and RSA
/// keys alike: the raw key material alone would miss this verifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_keyed_with_the_public_pem_is_caught_for_every_key_type() {
    for key in ["dev-ed25519", "dev-p256", "dev-rsa"] {
        let (auth, chat) = faults::hmac_with_public_pem(key);
        let report = crate::helpers::run_against(conformance::StackOptions {
            store: Some(conformance::StoreChoice::Embedded),
            auth_fault: Some(auth),
            chat_fault: Some(chat),
            signing_key: Some(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../fixtures/keys/{key}.pem")),
            ),
            ..conformance::StackOptions::default()
        })
        .await;
        let failed = crate::helpers::failed(&report);
        assert!(
            failed.contains("strict.jwt.hmac-with-public-key-pem.auth-me")
                && failed.contains("strict.jwt.hmac-with-public-key-pem.chat-list"),
            "{key}: {failed:?}"
        );
        assert!(
            !failed.contains("strict.jwt.hmac-with-public-key.auth-me"),
            "{key}: the raw-key attack should not be what catches this: {failed:?}"
        );
    }
}

pub fn a_key_set_fetch_for_every_unknown_kid() -> Layers {
    (None, Some(faults::jwks_per_unknown_kid()))
}

pub fn a_message_kept_when_the_auth_api_fails() -> Layers {
    (None, Some(faults::store_before_upstream()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_after_a_401_is_caught() {
    let report = helpers::run_against(conformance::StackOptions {
        store: Some(conformance::StoreChoice::Embedded),
        configure_chat: Some(faults::never_retries_after_a_401()),
        ..conformance::StackOptions::default()
    })
    .await;
    assert_caught(&report, &["core.chat.upstream.unauthorized-retry"]);
    let retry = helpers::outcome(&report, "core.chat.upstream.unauthorized-retry");
    assert_eq!(retry.actual.as_deref(), Some("1 calls"), "{retry:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_one_retry_after_a_401_is_caught() {
    let report = run_with_faults(None, Some(faults::retries_the_whole_send())).await;
    assert_caught(&report, &["core.chat.upstream.unauthorized-retry"]);
    let retry = crate::helpers::outcome(&report, "core.chat.upstream.unauthorized-retry");
    assert_eq!(retry.actual.as_deref(), Some("4 calls"), "{retry:?}");
}
