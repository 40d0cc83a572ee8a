//! Every clause of the contract shown caught: one row per fault, layered
//! over the embedded reference, naming the clauses it breaks, the checks
//! that must catch it and the families allowed to fail with them (besides
//! the snapshots, which see any change). Adding a fault is adding a row;
//! `every_clause_is_shown_caught_by_a_fault` keeps every clause of
//! `conformance::clauses::all()` broken by at least one row whose
//! expected checks are that clause's.

use conformance::clauses::all;

use crate::helpers::{Layers, assert_caught_only, run_with};
use crate::{breaks, catches, coverage, faults};

/// A fault and what must catch it.
pub struct Fault {
    /// The clauses of the contract it breaks (their ids).
    pub breaks: &'static [&'static str],
    /// The layers over the reference services that make it.
    pub layers: fn() -> Layers,
    /// The checks that must fail.
    pub caught_by: &'static [&'static str],
    /// Check id prefixes allowed to fail too.
    pub family: &'static [&'static str],
    /// A setting of the reference chat-api it changes, besides the layers.
    pub chat_setting: Option<fn(&mut chat_api::Config)>,
}

/// A row's defaults: no setting changed.
const LAYERS_ONLY: Fault = Fault {
    breaks: &[],
    layers: || (None, None),
    caught_by: &[],
    family: &[],
    chat_setting: None,
};

impl Fault {
    async fn shown(&self, name: &str) {
        let (auth, chat) = (self.layers)();
        let configure = self
            .chat_setting
            .map(|setting| Box::new(setting) as conformance::ConfigureChat);
        let report = run_with(auth, chat, configure).await;
        if std::env::var_os("CONFORMANCE_FAULT_DISCOVERY").is_some() {
            // What a new row's family should be: every failed check.
            println!("failed {name}: {:?}", crate::helpers::failed(&report));
            if let Ok(id) = std::env::var("CONFORMANCE_FAULT_SHOW") {
                println!(
                    "{}",
                    conformance::report::failure_details(crate::helpers::outcome(&report, &id))
                );
            }
        }
        assert_caught_only(&report, self.caught_by, self.family);
    }
}

/// The table: a test per row, and `FAULTS` to read them all.
macro_rules! faults {
    ($($name:ident: $row:expr;)*) => {
        const FAULTS: &[(&str, Fault)] = &[$((stringify!($name), $row)),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $row.shown(stringify!($name)).await;
            }
        )*
    };
}

faults! {
    sending_as_another_member_is_caught: Fault {
        breaks: &["step-2-sender"],
        layers: coverage::sending_as_another_member,
        caught_by: &[
            "core.own-group.sender-another-member",
            "core.own-group.refused-not-stored",
        ],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    counting_before_trimming_is_caught: Fault {
        breaks: &["step-3-content"],
        layers: coverage::counting_before_trimming,
        caught_by: &["core.own-group.length-after-trimming"],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    a_location_without_the_message_is_caught: Fault {
        breaks: &["step-7-location"],
        layers: coverage::a_location_without_the_message,
        caught_by: &["core.own-group.location"],
        family: // The reference also serves the message at its Location.
        &["core.own-group.", "reference.chat."],
        ..LAYERS_ONLY
    };
    a_replay_that_stores_again_is_caught: Fault {
        breaks: &["step-8-replay-stores-nothing"],
        layers: coverage::a_replay_that_stores_again,
        caught_by: &["core.own-group.replay-stores-nothing"],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    keys_shared_across_senders_are_caught: Fault {
        breaks: &["step-8-per-sender"],
        layers: coverage::keys_shared_across_senders,
        caught_by: &["core.own-group.key-per-sender"],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    timestamps_outside_utc_are_caught: Fault {
        breaks: &["ids-timestamps"],
        layers: coverage::timestamps_outside_utc,
        caught_by: &["core.ids-and-times.message"],
        family: // Every check of a send's created_at.
        &[
            "core.ids-and-times.",
            "core.own-group.",
            "core.chat.send.member",
            "core.chat.idempotency.first",
            "core.seed.send",
        ],
        ..LAYERS_ONLY
    };
    a_listing_oldest_first_is_caught: Fault {
        breaks: &["listing-newest-first"],
        layers: coverage::a_listing_oldest_first,
        caught_by: &["core.own-group.newest-first"],
        family: &["core.own-group.", "core.chat.list."],
        ..LAYERS_ONLY
    };
    a_default_page_other_than_50_is_caught: Fault {
        breaks: &["listing-limit-default"],
        layers: coverage::a_default_page_other_than_50,
        caught_by: &["core.own-group.default-limit"],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    a_cursor_walk_that_skips_messages_is_caught: Fault {
        breaks: &["listing-walk"],
        layers: coverage::a_cursor_walk_that_skips_messages,
        caught_by: &["core.own-group.cursor-walk"],
        family: &["core.own-group.", "core.chat.list."],
        ..LAYERS_ONLY
    };
    a_bad_path_uuid_answered_404_is_caught: Fault {
        breaks: &["bad-input-path-ids"],
        layers: coverage::a_bad_path_uuid_answered_404,
        caught_by: &["core.bad-input.send-path", "core.bad-input.list-path"],
        family: &["core.bad-input.", "strict.fuzz."],
        ..LAYERS_ONLY
    };
    members_in_another_order_are_caught: Fault {
        breaks: &["members-order"],
        layers: coverage::members_in_another_order,
        caught_by: &["core.own-group.members-order"],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    a_non_member_adding_himself_is_caught: Fault {
        breaks: &["add-member-others"],
        layers: coverage::a_non_member_adding_himself,
        caught_by: &["core.own-group.add-by-non-member"],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    services_managing_members_are_caught: Fault {
        breaks: &["add-member-others", "remove-member"],
        layers: coverage::services_managing_members,
        caught_by: &[
            "core.own-group.add-by-service",
            "core.own-group.remove-by-service",
        ],
        family: &["core.own-group."],
        ..LAYERS_ONLY
    };
    validation_answered_422_is_caught: Fault {
        breaks: &["bad-input-validation", "error-body-codes"],
        layers: coverage::validation_answered_422,
        caught_by: &[
            "core.bad-input.create-group-malformed",
            "core.bad-input.create-group-invalid",
            "core.bad-input.add-member-invalid",
        ],
        family: &["core.bad-input.", "strict.fuzz."],
        ..LAYERS_ONLY
    };
    a_login_that_tells_unknown_emails_apart_is_caught: Fault {
        breaks: &["login-refused-same-body"],
        layers: coverage::a_login_that_tells_unknown_emails_apart,
        caught_by: &["core.login.same-answer"],
        family: &["core.login."],
        ..LAYERS_ONLY
    };
    emails_compared_with_their_case_are_caught: Fault {
        breaks: &["admin-users-duplicate"],
        layers: coverage::emails_compared_with_their_case,
        caught_by: &["core.admin.duplicate-email-other-case"],
        family: &["core.admin."],
        ..LAYERS_ONLY
    };
    a_user_delete_that_keeps_the_user_is_caught: Fault {
        breaks: &["delete-user", "delete-user-data", "delete-user-tokens"],
        layers: coverage::a_user_delete_that_keeps_the_user,
        caught_by: &[
            "core.admin.deleted-user-token-auth",
            "core.admin.deleted-user-token-chat",
            "core.admin.deleted-user-token-inactive",
            "core.admin.deleted-user-groups-gone",
            "core.admin.deleted-user-memberships-gone",
            "core.admin.delete-user-unknown",
        ],
        family: // The fuzzing of the same endpoint sees bad input answered 204.
        &["core.admin.", "strict.fuzz.auth.delete-admin-users-id."],
        ..LAYERS_ONLY
    };
    a_client_delete_that_keeps_the_client_is_caught: Fault {
        breaks: &["delete-client"],
        layers: coverage::a_client_delete_that_keeps_the_client,
        caught_by: &[
            "core.admin.deleted-client-token-refused",
            "core.admin.deleted-client-no-token",
            "core.admin.delete-client-unknown",
        ],
        family: &[
            "core.admin.",
            "strict.fuzz.auth.delete-admin-clients-client_id.",
        ],
        ..LAYERS_ONLY
    };
    introspection_and_revocation_without_client_auth_are_caught: Fault {
        breaks: &["introspection-client-auth", "revocation"],
        layers: coverage::introspection_and_revocation_without_client_auth,
        caught_by: &[
            "strict.introspection.needs-client-auth",
            "strict.revocation.needs-client-auth",
        ],
        family: &[
            "strict.introspection.",
            "strict.revocation.",
            "strict.fuzz.",
        ],
        ..LAYERS_ONLY
    };
    introspection_without_client_id_and_scope_is_caught: Fault {
        breaks: &["introspection-active"],
        layers: coverage::introspection_without_client_id_and_scope,
        caught_by: &["core.introspection.service-token"],
        family: &["core.introspection."],
        ..LAYERS_ONLY
    };
    revocation_honoured_only_at_me_is_caught: Fault {
        breaks: &["revocation-everywhere"],
        layers: coverage::revocation_honoured_only_at_me,
        caught_by: &[
            "core.revocation.group-refuses",
            "core.revocation.members-refuses",
        ],
        family: &["core.revocation."],
        ..LAYERS_ONLY
    };
    an_expires_in_that_lies_is_caught: Fault {
        breaks: &["tokens-expires-in", "lifetimes"],
        layers: coverage::an_expires_in_that_lies,
        caught_by: &[
            "core.issued-tokens.user-lifetime",
            "core.issued-tokens.service-lifetime",
        ],
        family: &["core.issued-tokens."],
        ..LAYERS_ONLY
    };
    a_jwks_that_does_not_verify_the_tokens_is_caught: Fault {
        breaks: &["tokens-jwks-verifies"],
        layers: coverage::a_jwks_that_does_not_verify_the_tokens,
        caught_by: &[
            "core.issued-tokens.user-signed",
            "core.issued-tokens.service-signed",
        ],
        family: &[
            "core.issued-tokens.",
            "strict.jwt.",
            "strict.jwks",
            "strict.attacks.",
        ],
        ..LAYERS_ONLY
    };
    metadata_missing_a_field_is_caught: Fault {
        breaks: &["metadata-fields"],
        layers: coverage::metadata_missing_a_field,
        caught_by: &["core.discovery.metadata"],
        family: &["core.discovery."],
        ..LAYERS_ONLY
    };
    an_issuer_other_than_the_tokens_is_caught: Fault {
        breaks: &["metadata-issuer"],
        layers: coverage::an_issuer_other_than_the_tokens,
        caught_by: &[
            "core.issued-tokens.user-subject-and-issuer",
            "core.issued-tokens.service-issuer",
        ],
        family: &["core.issued-tokens.", "strict.tokens."],
        ..LAYERS_ONLY
    };
    answers_in_another_media_type_are_caught: Fault {
        breaks: &["media-types-json-answers"],
        layers: coverage::answers_in_another_media_type,
        caught_by: &[
            "core.issued-tokens.login-json",
            "core.issued-tokens.token-json",
            "core.errors.auth-not-found",
            "core.errors.oauth",
        ],
        family: // RFC 6749 §5.2's errors are JSON too, and a wrong method's.
        &[
            "core.issued-tokens.",
            "core.errors.",
            "core.bad-input.auth-wrong-method",
            "strict.oauth-errors.",
            "strict.fuzz.",
        ],
        ..LAYERS_ONLY
    };
    a_non_uuid_user_sub_taken_for_a_service_is_caught: Fault {
        breaks: &["principal-user"],
        layers: coverage::a_non_uuid_user_sub_taken_for_a_service,
        caught_by: &[
            "strict.jwt.user-non-uuid-sub.group",
            "strict.jwt.user-non-uuid-sub.members",
        ],
        family: &["strict.jwt.user-non-uuid-sub.", "strict.jwt.no-sub."],
        ..LAYERS_ONLY
    };
    a_client_id_trusted_over_the_sub_is_caught: Fault {
        breaks: &["principal-service"],
        layers: coverage::a_client_id_trusted_over_the_sub,
        caught_by: &[
            "strict.jwt.service-client-id-mismatch.group",
            "strict.jwt.service-client-id-mismatch.members",
        ],
        family: &[
            "strict.jwt.service-client-id-mismatch.",
            "strict.jwt.client-id-mismatch.",
        ],
        ..LAYERS_ONLY
    };
    bad_bodies_answered_422_at_login_members_and_admin_are_caught: Fault {
        breaks: &["bad-input-malformed-json"],
        layers: coverage::bad_bodies_answered_422_at_login_members_and_admin,
        caught_by: &[
            "core.bad-input.login-malformed",
            "core.bad-input.login-invalid",
            "core.bad-input.add-member-malformed",
            "core.admin.create-user-malformed",
            "core.admin.create-user-invalid",
            "core.admin.create-client-malformed",
        ],
        family: &["core.bad-input.", "core.admin.", "strict.fuzz."],
        ..LAYERS_ONLY
    };
    bad_path_uuids_answered_404_at_the_auth_api_are_caught: Fault {
        breaks: &["bad-input-path-ids"],
        layers: coverage::bad_path_uuids_answered_404_at_the_auth_api,
        caught_by: &[
            "core.bad-input.add-member-path",
            "core.bad-input.remove-member-group-path",
            "core.bad-input.remove-member-user-path",
            "core.admin.delete-user-path",
            "core.group.malformed-id",
            "core.members.malformed-id",
        ],
        family: &[
            "core.bad-input.",
            "core.admin.",
            "core.group.",
            "core.members.",
            "strict.fuzz.",
        ],
        ..LAYERS_ONLY
    };
    bad_messages_answered_422_are_caught: Fault {
        breaks: &["bad-input-validation"],
        layers: coverage::bad_messages_answered_422,
        caught_by: &[
            "core.bad-input.send-invalid",
            "core.bad-input.send-wrong-type",
        ],
        family: &[
            "core.bad-input.",
            "core.chat.send.",
            "core.own-group.",
            "strict.fuzz.",
            // The reference's own refusal of a malformed key is a 400 too.
            "reference.chat.idempotency-key-visible-ascii",
        ],
        ..LAYERS_ONLY
    };
    a_chat_api_refusing_in_plain_text_is_caught: Fault {
        breaks: &["error-body-shape"],
        layers: coverage::a_chat_api_refusing_in_plain_text,
        caught_by: &["core.errors.chat-unauthenticated"],
        family: &[
            "core.errors.",
            "core.chat.",
            "strict.www-authenticate.",
            "strict.fuzz.",
        ],
        ..LAYERS_ONLY
    };
    auth_api_ids_and_times_in_other_forms_are_caught: Fault {
        breaks: &["ids-uuids", "ids-timestamps"],
        layers: coverage::auth_api_ids_and_times_in_other_forms,
        caught_by: &[
            "core.ids-and-times.me",
            "core.ids-and-times.group",
            "core.ids-and-times.members",
        ],
        family: &[
            "core.ids-and-times.",
            "core.me.",
            "core.group.",
            "core.members.",
            "core.own-group.",
            "core.issued-tokens.",
            // A user token with a scope is still its user: the id compared.
            "strict.jwt.user-with-scope.",
        ],
        ..LAYERS_ONLY
    };
    listings_outside_utc_are_caught: Fault {
        breaks: &["ids-timestamps"],
        layers: coverage::listings_outside_utc,
        caught_by: &["core.ids-and-times.listing"],
        family: &["core.ids-and-times.", "core.chat.list.", "core.own-group."],
        ..LAYERS_ONLY
    };
    a_revocation_that_revokes_nothing_is_caught: Fault {
        breaks: &["revocation-everywhere"],
        layers: coverage::a_revocation_that_revokes_nothing,
        caught_by: &[
            "core.revocation.auth-refuses",
            "core.revocation.chat-refuses",
            "core.revocation.inactive",
            "core.revocation.group-refuses",
            "core.revocation.members-refuses",
            "core.revocation.send-refuses",
            "core.revocation.list-refuses",
        ],
        family: // Its fuzzing sees malformed revocations answered 200 too.
        &["core.revocation.", "strict.fuzz.auth.post-oauth-revoke."],
        ..LAYERS_ONLY
    };
    a_chat_api_that_ignores_revocation_is_caught: Fault {
        breaks: &["revocation-everywhere"],
        layers: coverage::a_chat_api_that_ignores_revocation,
        caught_by: &[
            "core.revocation.chat-refuses",
            "core.revocation.send-refuses",
            "core.revocation.list-refuses",
            "core.admin.deleted-user-token-chat",
        ],
        family: &["core.revocation.", "core.admin."],
        ..LAYERS_ONLY
    };
    an_expired_token_introspected_active_is_caught: Fault {
        breaks: &["introspection-inactive"],
        layers: coverage::an_expired_token_introspected_active,
        caught_by: &["strict.jwt.expired.introspection"],
        family: &["strict.jwt.expired.", "strict.introspection."],
        ..LAYERS_ONLY
    };
    a_token_answer_without_its_scope_is_caught: Fault {
        breaks: &["harness-accounts-as-given"],
        layers: coverage::a_token_answer_without_its_scope,
        caught_by: &["core.issued-tokens.reader-scope"],
        family: &[
            "core.issued-tokens.",
            "core.token.",
            "core.seed.",
            "core.introspection.",
            "strict.tokens.",
        ],
        ..LAYERS_ONLY
    };
    members_that_leave_out_the_caller_are_caught: Fault {
        breaks: &["members-read"],
        layers: coverage::members_that_leave_out_the_caller,
        caught_by: &["core.issued-tokens.group-has-alice"],
        family: &[
            "core.issued-tokens.",
            "core.members.",
            "core.own-group.",
            "core.groups.",
            "core.ids-and-times.",
            "core.admin.",
        ],
        ..LAYERS_ONLY
    };
    user_tokens_with_an_upper_case_subject_are_caught: Fault {
        breaks: &["tokens-user-claims"],
        layers: coverage::user_tokens_with_an_upper_case_subject,
        caught_by: &["core.issued-tokens.user-subject-and-issuer"],
        family: // The harness's scoped copy of alice's token keeps the upper-case
        // sub, which the services refuse.
        &[
            "core.issued-tokens.",
            "core.introspection.",
            "reference.jwt.",
            "core.seed.",
            "core.introspection.",
            "strict.jwt.user-with-scope.",
        ],
        ..LAYERS_ONLY
    };
    a_replay_answered_with_another_id_is_caught: Fault {
        breaks: &["step-8-replay"],
        layers: coverage::a_replay_answered_with_another_id,
        caught_by: &["core.own-group.replay"],
        family: &["core.own-group.", "core.chat.idempotency."],
        ..LAYERS_ONLY
    };
    a_user_token_that_names_a_symmetric_algorithm_is_caught: Fault {
        breaks: &["tokens-asymmetric"],
        layers: coverage::a_user_token_that_names_a_symmetric_algorithm,
        caught_by: &["strict.tokens.user-token-header"],
        family: // The steps that log in and use or verify their token.
        &[
            "core.login.",
            "core.issued-tokens.",
            "core.admin.",
            "core.seed.",
            "core.introspection.",
            "strict.tokens.",
            "strict.jwt.",
            "strict.introspection.",
        ],
        ..LAYERS_ONLY
    };
    a_private_member_in_any_key_of_the_set_is_caught: Fault {
        breaks: &["tokens-public-keys-only"],
        layers: coverage::a_private_member_in_any_key_of_the_set,
        caught_by: &["strict.tokens.jwks-public-only"],
        family: &["strict.tokens."],
        ..LAYERS_ONLY
    };
    a_timeout_longer_than_five_seconds_is_caught: Fault {
        breaks: &["step-6-timeout"],
        layers: coverage::a_timeout_longer_than_five_seconds,
        caught_by: &["core.chat.upstream.hang"],
        family: &["core.chat.upstream."],
        ..LAYERS_ONLY
    };
    a_401_to_bad_input_with_a_valid_token_is_caught: Fault {
        breaks: &["bad-input-malformed-json"],
        layers: coverage::a_401_to_bad_input_with_a_valid_token,
        caught_by: &["strict.fuzz.chat.post-api-chat-groups-group_id-messages.malformed-json"],
        family: &[
            "core.bad-input.",
            "core.chat.send.",
            "strict.fuzz.",
            "strict.www-authenticate.",
        ],
        ..LAYERS_ONLY
    };

    admin_endpoints_answering_403_to_other_credentials_are_caught: Fault {
        breaks: &["admin-token"],
        layers: coverage::admin_endpoints_answering_403_to_other_credentials,
        caught_by: &[
            "core.admin.create-user.user-token",
            "core.admin.create-user.service-token",
            "core.admin.create-user.no-token",
            "core.admin.create-client.user-token",
            "core.admin.create-client.service-token",
            "core.admin.create-client.no-token",
            "core.admin.delete-user.user-token",
            "core.admin.delete-user.service-token",
            "core.admin.delete-user.no-token",
            "core.admin.delete-client.user-token",
            "core.admin.delete-client.service-token",
            "core.admin.delete-client.no-token",
        ],
        family: &["core.admin.", "strict.fuzz."],
        ..LAYERS_ONLY
    };
    a_token_asked_without_its_scope_is_caught: Fault {
        breaks: &["step-4-scope"],
        caught_by: &["strict.observed.token-scope"],
        chat_setting: Some(|config| config.token_scope = String::new()),
        ..LAYERS_ONLY
    };
    // ---- from catches.rs ----
    no_scope_check_for_services_is_caught: Fault {
        breaks: &["group-refusals", "members-refusals"],
        layers: catches::no_scope_check_for_services,
        caught_by: &["core.members.missing-scope", "core.group.missing-scope"],
        family: &["core.group.", "core.members.", "strict.jwt.user-with-client-id.", "strict.subjects.", "strict.www-authenticate.insufficient-scope.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    a_non_member_allowed_to_post_is_caught: Fault {
        breaks: &["step-5-membership"],
        layers: catches::a_non_member_allowed_to_post,
        caught_by: &["core.chat.send.non-member"],
        family: &["core.chat.", "core.groups.", "core.admin.deleted-user-memberships-gone", "core.own-group.members-order"],
        ..LAYERS_ONLY
    };
    a_sender_id_not_compared_is_caught: Fault {
        breaks: &["step-2-sender"],
        layers: catches::a_sender_id_not_compared,
        caught_by: &["core.chat.send.sender-mismatch"],
        family: &["core.chat.send.", "core.own-group.", "strict.fuzz.chat."],
        ..LAYERS_ONLY
    };
    a_500_on_an_auth_api_failure_is_caught: Fault {
        breaks: &["step-6-upstream"],
        layers: catches::a_500_on_an_auth_api_failure,
        caught_by: &["core.chat.upstream.failure"],
        family: &["core.chat.upstream."],
        ..LAYERS_ONLY
    };
    a_service_token_fetched_for_every_message_is_caught: Fault {
        breaks: &["step-4-reuse"],
        layers: catches::a_service_token_fetched_for_every_message,
        caught_by: &["core.chat.token-reuse.three-messages"],
        family: &[],
        ..LAYERS_ONLY
    };
    skipping_the_audience_check_is_caught: Fault {
        breaks: &["tokens-validation-aud"],
        layers: catches::skipping_the_audience_check,
        caught_by: &[
            "strict.jwt.wrong-audience.group",
            "strict.jwt.wrong-audience.chat-list",
        ],
        family: &["strict.jwt."],
        ..LAYERS_ONLY
    };
    classifying_principals_by_the_shape_of_sub_is_caught: Fault {
        breaks: &["principal-uuid-client"],
        layers: catches::classifying_principals_by_the_shape_of_sub,
        caught_by: &["strict.uuid-client.not-a-user"],
        family: &["strict.jwt.", "strict.subjects.", "strict.uuid-client.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    a_key_set_fetch_for_every_unknown_kid_is_caught: Fault {
        breaks: &["step-1-jwks-refresh"],
        layers: catches::a_key_set_fetch_for_every_unknown_kid,
        caught_by: &["strict.jwks-refresh.unknown-kid-at-most-once"],
        family: &[],
        ..LAYERS_ONLY
    };
    a_message_kept_when_the_auth_api_fails_is_caught: Fault {
        breaks: &["step-6-nothing-stored"],
        layers: catches::a_message_kept_when_the_auth_api_fails,
        caught_by: &["core.chat.upstream.nothing-stored"],
        family: &[],
        ..LAYERS_ONLY
    };
    // ---- faults of breaks.rs ----
    a_form_refused_at_revocation_is_caught: Fault {
        breaks: &["media-types-oauth-forms"],
        layers: breaks::revocation_refusing_forms,
        caught_by: &["core.revocation.revoke"],
        family: &["core.revocation.", "strict.revocation."],
        ..LAYERS_ONLY
    };
    oauth_errors_under_another_code_are_caught: Fault {
        breaks: &["error-body-oauth-codes"],
        layers: breaks::oauth_errors_renamed,
        caught_by: &["core.errors.oauth", "core.token.invalid-client"],
        family: &["core.token.", "core.errors.", "core.admin.deleted-client-no-token", "strict.oauth-errors.", "strict.tokens.", "reference.oauth."],
        ..LAYERS_ONLY
    };
    a_401_without_a_challenge_is_caught: Fault {
        breaks: &["www-authenticate-bearer"],
        layers: breaks::unauthorized_without_a_challenge,
        caught_by: &["core.me.anonymous", "core.group.anonymous"],
        family: &["core.me.", "core.group.", "core.members.", "strict.www-authenticate.", "reference.www-authenticate."],
        ..LAYERS_ONLY
    };
    a_refused_token_challenge_without_error_is_caught: Fault {
        breaks: &["www-authenticate-invalid-token"],
        layers: breaks::refused_token_challenge_without_error,
        caught_by: &["strict.www-authenticate.bad-token.auth-me"],
        family: &["core.me.garbage-token", "strict.www-authenticate.bad-token."],
        ..LAYERS_ONLY
    };
    a_scope_challenge_without_the_scope_is_caught: Fault {
        breaks: &["www-authenticate-insufficient-scope"],
        layers: breaks::scope_challenge_without_the_scope,
        caught_by: &["strict.www-authenticate.insufficient-scope.group"],
        family: &["strict.www-authenticate.insufficient-scope."],
        ..LAYERS_ONLY
    };
    a_chat_api_unhealthy_is_caught: Fault {
        breaks: &["health"],
        layers: breaks::chat_health_unavailable,
        caught_by: &["core.discovery.chat-health"],
        family: &["core.discovery.", "strict.fuzz.chat.get-health."],
        ..LAYERS_ONLY
    };
    an_auth_api_never_ready_is_caught: Fault {
        breaks: &["ready"],
        layers: breaks::auth_never_ready,
        caught_by: &["core.discovery.auth-ready"],
        family: &["core.discovery.", "strict.fuzz.auth.get-ready."],
        ..LAYERS_ONLY
    };
    empty_message_ids_are_caught: Fault {
        breaks: &["ids-message-ids"],
        layers: breaks::empty_message_ids,
        caught_by: &["core.ids-and-times.message"],
        family: &["core.ids-and-times.", "core.own-group.location", "reference.chat."],
        ..LAYERS_ONLY
    };
    cursors_of_another_type_are_caught: Fault {
        breaks: &["ids-cursors"],
        layers: breaks::cursors_as_booleans,
        caught_by: &["core.chat.list.member"],
        family: &["core.chat.list.", "core.own-group.cursor-walk"],
        ..LAYERS_ONLY
    };
    a_wrong_method_answered_in_plain_text_is_caught: Fault {
        breaks: &["wrong-methods"],
        layers: breaks::wrong_methods_in_plain_text,
        caught_by: &["core.bad-input.auth-wrong-method"],
        family: &["core.bad-input.", "strict.oauth-errors.get"],
        ..LAYERS_ONLY
    };
    a_new_group_named_by_a_number_is_caught: Fault {
        breaks: &["response-shapes-owed", "create-group-name"],
        layers: breaks::new_groups_named_by_a_number,
        caught_by: &["core.snapshot.groups.manage", "core.groups.create"],
        family: &[],
        ..LAYERS_ONLY
    };
    user_tokens_without_kid_are_caught: Fault {
        breaks: &["tokens-kid"],
        layers: breaks::user_tokens_without_kid,
        caught_by: &["core.issued-tokens.user-signed"],
        family: &["core.issued-tokens.", "strict.tokens.", "strict.jwt.user-with-scope.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    user_tokens_typed_jwt_are_caught: Fault {
        breaks: &["tokens-typ"],
        layers: breaks::user_tokens_typed_jwt,
        caught_by: &["strict.tokens.user-token-header"],
        family: &["strict.tokens.", "strict.jwt.user-with-scope.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    a_verifier_that_skips_the_signature_is_caught: Fault {
        breaks: &["tokens-validation-signature"],
        layers: breaks::skip_signature,
        caught_by: &["strict.jwt.signature-removed.auth-me", "strict.jwt.signature-altered.chat-send"],
        family: &["strict.jwt.", "strict.jwks-refresh."],
        ..LAYERS_ONLY
    };
    a_verifier_that_ignores_the_kid_is_caught: Fault {
        breaks: &["tokens-validation-unknown-kid"],
        layers: breaks::ignore_kid,
        caught_by: &["strict.jwt.unknown-kid.auth-me"],
        family: &["strict.jwt."],
        ..LAYERS_ONLY
    };
    hmac_over_the_public_key_is_caught: Fault {
        breaks: &["tokens-validation-pinned-alg"],
        layers: breaks::hmac_with_the_public_key,
        caught_by: &["strict.jwt.hmac-with-public-key-pem.auth-me"],
        family: &["strict.jwt."],
        ..LAYERS_ONLY
    };
    a_verifier_that_skips_the_issuer_is_caught: Fault {
        breaks: &["tokens-validation-iss"],
        layers: breaks::skip_issuer,
        caught_by: &["strict.jwt.wrong-issuer.auth-me"],
        family: &["strict.jwt."],
        ..LAYERS_ONLY
    };
    a_verifier_that_skips_the_times_is_caught: Fault {
        breaks: &["tokens-validation-exp", "tokens-validation-nbf"],
        layers: breaks::skip_times,
        caught_by: &["strict.jwt.expired-beyond-leeway.auth-me", "strict.jwt.not-yet-valid.auth-me"],
        family: &["strict.jwt."],
        ..LAYERS_ONLY
    };
    service_tokens_with_an_email_are_caught: Fault {
        breaks: &["tokens-service-claims"],
        layers: breaks::service_tokens_with_an_email,
        caught_by: &["core.seed.service-token"],
        family: &[],
        ..LAYERS_ONLY
    };
    basic_credentials_not_form_decoded_are_caught: Fault {
        breaks: &["client-ids-vschar"],
        layers: || (Some(faults::basic_not_decoded()), None),
        caught_by: &["strict.subjects.reads-group"],
        family: &["strict.subjects."],
        ..LAYERS_ONLY
    };
    client_ids_cut_short_of_255_are_caught: Fault {
        breaks: &["client-ids-255"],
        layers: breaks::long_client_ids_refused,
        caught_by: &["strict.subjects.reads-group"],
        family: &["strict.subjects."],
        ..LAYERS_ONLY
    };
    uuid_spellings_refused_are_caught: Fault {
        breaks: &["client-ids-uuid-shaped"],
        layers: breaks::uuid_spellings_refused,
        caught_by: &["strict.subjects.reads-group"],
        family: &["strict.subjects."],
        ..LAYERS_ONLY
    };
    other_ids_refused_with_another_status_are_caught: Fault {
        breaks: &["client-ids-refused"],
        layers: breaks::non_ascii_client_ids_unprocessable,
        caught_by: &["strict.subjects.reads-group"],
        family: &["strict.subjects."],
        ..LAYERS_ONLY
    };
    a_login_expires_in_as_text_is_caught: Fault {
        breaks: &["login-ok"],
        layers: breaks::login_expires_in_as_text,
        caught_by: &["core.seed.login"],
        family: &["core.seed.", "core.issued-tokens."],
        ..LAYERS_ONLY
    };
    me_without_the_email_is_caught: Fault {
        breaks: &["me-user"],
        layers: breaks::me_without_email,
        caught_by: &["core.me.user"],
        family: &[],
        ..LAYERS_ONLY
    };
    me_answering_services_is_caught: Fault {
        breaks: &["me-service"],
        layers: breaks::me_for_services,
        caught_by: &["core.me.service-forbidden"],
        family: &["core.me.", "strict.jwt.", "strict.subjects.", "strict.uuid-client.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    cacheable_tokens_are_caught: Fault {
        breaks: &["token-issued-no-store"],
        layers: breaks::tokens_cacheable,
        caught_by: &["core.token.basic", "strict.tokens.pragma"],
        family: &[],
        ..LAYERS_ONLY
    };
    a_token_answer_with_a_refresh_token_is_caught: Fault {
        breaks: &["token-issued-no-refresh-token"],
        layers: breaks::tokens_with_a_refresh_token,
        caught_by: &["core.token.basic"],
        family: &[],
        ..LAYERS_ONLY
    };
    a_token_issued_as_created_is_caught: Fault {
        breaks: &["token-issued"],
        layers: breaks::tokens_issued_as_created,
        caught_by: &["core.token.basic", "core.seed.service-token"],
        // Every step that takes a service token wants it with 200.
        family: &[
            "core.admin.",
            "core.introspection.",
            "core.issued-tokens.",
            "core.revocation.",
            "core.token.",
            "strict.subjects.",
            "strict.tokens.",
            "reference.oauth.",
        ],
        ..LAYERS_ONLY
    };
    form_credentials_without_a_token_are_caught: Fault {
        breaks: &["token-form-body"],
        layers: breaks::form_credentials_without_a_token,
        caught_by: &["core.token.form-body"],
        family: &[],
        ..LAYERS_ONLY
    };
    an_unsupported_grant_answered_invalid_request_is_caught: Fault {
        breaks: &["token-errors"],
        layers: breaks::unsupported_grant_as_invalid_request,
        caught_by: &["core.token.unsupported-grant"],
        family: &["core.errors.oauth", "strict.oauth-errors."],
        ..LAYERS_ONLY
    };
    invalid_client_without_the_basic_challenge_is_caught: Fault {
        breaks: &["token-basic-challenge"],
        layers: breaks::invalid_client_without_basic_challenge,
        caught_by: &["strict.oauth-errors.basic-wrong-secret"],
        family: &[],
        ..LAYERS_ONLY
    };
    groups_without_a_name_are_caught: Fault {
        breaks: &["group-read"],
        layers: breaks::groups_without_a_name,
        caught_by: &["core.group.member"],
        family: &["core.group."],
        ..LAYERS_ONLY
    };
    the_seeds_bug_is_caught: Fault {
        breaks: &["members-service-token"],
        layers: || (Some(faults::seed_bug()), None),
        caught_by: &["core.members.service-token", "core.seed.members-with-service-token"],
        family: &[
            // The seed's chain: every send, listing and member read with a
            // service token fails with it.
            "core.chat.",
            "core.seed.",
            "core.members.",
            "core.groups.",
            "core.ids-and-times.",
            "core.observed.",
            "core.own-group.",
            "core.admin.deleted-user-memberships-gone",
            "strict.fuzz.chat.",
            "strict.jwt.user-with-scope.",
            "strict.observed.",
            "strict.subjects.",
            "strict.uuid-client.members",
            "strict.www-authenticate.insufficient-scope.",
            "reference.chat.",
            "reference.jwt.user-with-client-id.members",
        ],
        ..LAYERS_ONLY
    };
    groups_created_with_200_are_caught: Fault {
        breaks: &["create-group"],
        layers: breaks::groups_created_with_200,
        caught_by: &["core.groups.create"],
        family: &["core.groups.", "core.own-group.", "core.admin.", "core.chat.upstream."],
        ..LAYERS_ONLY
    };
    members_added_with_200_are_caught: Fault {
        breaks: &["add-member"],
        layers: breaks::members_added_with_200,
        caught_by: &["core.groups.add-member"],
        family: &["core.groups.", "core.own-group.", "core.admin."],
        ..LAYERS_ONLY
    };
    users_created_without_their_email_are_caught: Fault {
        breaks: &["admin-users"],
        layers: breaks::users_created_without_email,
        caught_by: &["core.admin.create-user"],
        family: &[],
        ..LAYERS_ONLY
    };
    clients_created_without_their_scopes_are_caught: Fault {
        breaks: &["admin-clients"],
        layers: breaks::clients_created_without_scopes,
        caught_by: &["core.admin.create-client"],
        family: &[],
        ..LAYERS_ONLY
    };
    client_conflicts_registered_are_caught: Fault {
        breaks: &["admin-clients-conflicts"],
        layers: breaks::client_conflicts_registered,
        caught_by: &["core.admin.client-id-is-user-id"],
        family: &["strict.subjects."],
        ..LAYERS_ONLY
    };
    a_key_without_kid_is_caught: Fault {
        breaks: &["jwks"],
        layers: breaks::a_first_key_without_kid,
        caught_by: &["core.discovery.jwks"],
        family: &[],
        ..LAYERS_ONLY
    };
    secrets_in_the_query_honoured_are_caught: Fault {
        breaks: &["alternatives-secret-in-query"],
        layers: breaks::secrets_in_the_query_honoured,
        caught_by: &["strict.oauth-errors.secret-in-query"],
        family: &["reference.oauth."],
        ..LAYERS_ONLY
    };
    content_counted_in_bytes_is_caught: Fault {
        breaks: &["step-3-characters"],
        layers: breaks::content_counted_in_bytes,
        caught_by: &["core.chat.send.longest-wide"],
        ..LAYERS_ONLY
    };
    other_content_types_answered_422_are_caught: Fault {
        breaks: &["alternatives-other-content-type"],
        layers: breaks::other_content_types_answered_422,
        caught_by: &["strict.fuzz.chat.post-api-chat-groups-group_id-messages.wrong-content-type"],
        family: &["strict.fuzz.chat."],
        ..LAYERS_ONLY
    };
    untyped_messages_failing_are_caught: Fault {
        breaks: &["alternatives-untyped-json"],
        layers: breaks::untyped_messages_failing,
        caught_by: &["strict.fuzz.chat.post-api-chat-groups-group_id-messages.wrong-content-type"],
        family: &["strict.fuzz.chat.", "reference.chat."],
        ..LAYERS_ONLY
    };
    json_token_requests_answered_are_caught: Fault {
        breaks: &["alternatives-other-content-type"],
        layers: breaks::json_token_requests_answered,
        caught_by: &["strict.oauth-errors.json-body"],
        family: &["strict.fuzz.auth."],
        ..LAYERS_ONLY
    };
    principals_classified_by_shape_are_caught: Fault {
        breaks: &["alternatives-uuid-spellings", "principal-uuid-client"],
        layers: || (Some(faults::classify_by_uuid_shape()), None),
        caught_by: &["strict.uuid-client.not-a-user", "strict.subjects.not-a-user"],
        family: &["strict.jwt.", "strict.subjects.", "strict.uuid-client.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    a_chat_api_taking_service_tokens_is_caught: Fault {
        breaks: &["chat-users-only"],
        layers: breaks::chat_takes_service_tokens,
        caught_by: &["strict.uuid-client.no-chat"],
        family: &["strict.jwt.", "strict.subjects.", "reference.jwt."],
        ..LAYERS_ONLY
    };
    an_anonymous_send_answered_403_is_caught: Fault {
        breaks: &["step-1-validated"],
        layers: breaks::anonymous_sends_forbidden,
        caught_by: &["core.chat.send.anonymous"],
        family: &["strict.www-authenticate.no-credentials."],
        ..LAYERS_ONLY
    };
    more_than_one_retry_is_caught: Fault {
        breaks: &["step-4-retry"],
        layers: || (None, Some(faults::retries_the_whole_send())),
        caught_by: &["core.chat.upstream.unauthorized-retry"],
        family: &[],
        ..LAYERS_ONLY
    };
    a_user_token_passed_upstream_is_caught: Fault {
        breaks: &["step-5-service-token"],
        layers: || (None, Some(faults::user_token_upstream())),
        caught_by: &["core.observed.service-token-for-groups"],
        family: &["core.chat.", "core.observed."],
        ..LAYERS_ONLY
    };
    a_message_answered_with_another_org_is_caught: Fault {
        breaks: &["step-7-answer"],
        layers: breaks::messages_answered_with_another_org,
        caught_by: &["core.chat.send.member", "core.seed.send"],
        family: &["core.groups.new-member-sends"],
        ..LAYERS_ONLY
    };
    a_reused_key_answered_201_is_caught: Fault {
        breaks: &["step-8-reused"],
        layers: breaks::reused_keys_answered_201,
        caught_by: &["core.chat.idempotency.reused"],
        family: &[],
        ..LAYERS_ONLY
    };
    a_500_on_a_non_utf8_body_is_caught: Fault {
        breaks: &["no-500"],
        layers: || (None, Some(faults::chat_500_on_non_utf8())),
        caught_by: &["strict.fuzz.chat.post-api-chat-groups-group_id-messages.non-utf8-body"],
        family: &[],
        ..LAYERS_ONLY
    };
    a_challenge_naming_an_error_without_credentials_is_caught: Fault {
        breaks: &["www-authenticate-no-credentials"],
        layers: || (Some(faults::challenge_always_names_an_error()), None),
        caught_by: &["strict.www-authenticate.no-credentials.auth-me"],
        family: &["strict.www-authenticate.", "strict.oauth-errors.basic-wrong-secret"],
        ..LAYERS_ONLY
    };

}

/// Every clause is broken by a row, and every row's expected checks
/// include checks of each clause it names: the fault is caught where the
/// contract states what it breaks.
#[test]
fn every_clause_is_shown_caught_by_a_fault() {
    for (name, fault) in FAULTS {
        for id in fault.breaks {
            let clause = all()
                .iter()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("{name}: no clause {id}"));
            assert!(
                fault
                    .caught_by
                    .iter()
                    .any(|check| clause.enforced_by(check)),
                "{name}: none of {:?} enforces {id}",
                fault.caught_by
            );
        }
    }
    let bare: Vec<&str> = all()
        .iter()
        // A clause whose line makes its fault is shown by `made_faults_are_caught`.
        .filter(|c| c.member.is_none() && c.refusal.is_none())
        .filter(|c| {
            !FAULTS
                .iter()
                .any(|(_, f)| f.breaks.contains(&c.id.as_str()))
        })
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        bare.is_empty(),
        "clauses no fault shows caught: {}",
        bare.join(", ")
    );
}

/// The families a clause's checks belong to: each check id without its
/// last part (`core.login.ok` → `core.login.`).
fn families_of(clause: &conformance::clauses::Clause) -> Vec<String> {
    clause
        .checks
        .iter()
        .map(|check| {
            let check = check.split('*').next().unwrap_or_default();
            check
                .rsplit_once('.')
                .map_or_else(|| check.to_owned(), |(family, _)| format!("{family}."))
        })
        .collect()
}

/// The fault a clause's own line makes, and the families that rest on
/// what it breaks: its member left out of its answer (or its claim out of
/// its token), or its refusal answered as another.
fn made_fault(clause: &conformance::clauses::Clause) -> Option<(Layers, Vec<String>)> {
    if let Some(member) = &clause.member {
        return Some((breaks::member_left_out(member.clone()), member.also.clone()));
    }
    let refusal = clause.refusal.as_ref()?;
    Some((
        breaks::refusal_changed(refusal.clone()),
        refusal.also.clone(),
    ))
}

/// Every clause about one member of one answer or one refusal, shown
/// caught by the fault its own line makes: a check of the clause fails,
/// and nothing outside the clause's families, the families that rest on
/// what the fault breaks, and the snapshots. The clauses are dealt to
/// several tests, so that the suite runs them side by side.
async fn made_faults_are_caught(shard: usize) {
    let discovery = std::env::var_os("CONFORMANCE_FAULT_DISCOVERY").is_some();
    let clauses = all()
        .iter()
        .filter(|c| c.member.is_some() || c.refusal.is_some());
    let mut shown = 0;
    for clause in clauses.skip(shard).step_by(MADE_SHARDS) {
        let ((auth, chat), also) = made_fault(clause).expect("a fault");
        let report = run_with(auth, chat, None).await;
        let failed = crate::helpers::failed(&report);
        if discovery {
            println!("failed {}: {failed:?}", clause.id);
            continue;
        }
        let caught: Vec<&String> = failed.iter().filter(|id| clause.enforced_by(id)).collect();
        assert!(
            !caught.is_empty(),
            "{}: no check of the clause failed; failures: {failed:?}",
            clause.id
        );
        let mut families = families_of(clause);
        families.extend(also);
        let stray: Vec<&String> = failed
            .iter()
            .filter(|id| !id.contains(".snapshot.") && !id.starts_with("reference."))
            .filter(|id| !families.iter().any(|f| id.starts_with(f.as_str())))
            .collect();
        assert!(
            stray.is_empty(),
            "{}: caught elsewhere too: {stray:?}",
            clause.id
        );
        shown += 1;
    }
    assert!(discovery || shown > 0, "no clause in shard {shard}");
}

const MADE_SHARDS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_faults_are_caught_0() {
    made_faults_are_caught(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_faults_are_caught_1() {
    made_faults_are_caught(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_faults_are_caught_2() {
    made_faults_are_caught(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_faults_are_caught_3() {
    made_faults_are_caught(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_faults_are_caught_4() {
    made_faults_are_caught(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_faults_are_caught_5() {
    made_faults_are_caught(5).await;
}
