//! The contract sentence by sentence. A rule of the contract
//! ([`crate::rules::CONTRACT`]) states several obligations; each is a
//! clause here, with its anchor in `docs/contract.md` and the checks that
//! enforce it. `conformance rules` prints them; tests keep every clause
//! enforced by a check that exists, every contract check under a clause of
//! its rule, and (in the harness's test suite) every clause shown caught
//! by a fault that breaks only it.

/// One obligation of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clause {
    /// Its anchor in `docs/contract.md`, unique.
    pub id: &'static str,
    /// The rule it belongs to, as checks name it (`CONTRACT …`).
    pub rule: &'static str,
    /// The obligation in a sentence.
    pub text: &'static str,
    /// The checks that enforce it: check ids, where `*` stands for any
    /// run of characters (`strict.jwt.*.chat-send`).
    pub checks: &'static [&'static str],
}

impl Clause {
    /// Whether the check `id` is one of this clause's.
    pub fn enforced_by(&self, id: &str) -> bool {
        self.checks.iter().any(|pattern| matches(pattern, id))
    }
}

/// Whether a check id matches a clause's pattern, where `*` stands for
/// any run of characters.
pub fn matches(pattern: &str, id: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = id.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

const fn clause(
    id: &'static str,
    rule: &'static str,
    text: &'static str,
    checks: &'static [&'static str],
) -> Clause {
    Clause {
        id,
        rule,
        text,
        checks,
    }
}

const MEDIA: &str = "CONTRACT Common rules: media types";
const ERRORS: &str = "CONTRACT Common rules: error body";
const BAD_INPUT: &str = "CONTRACT Common rules: bad input";
const NO_500: &str = "CONTRACT Common rules: no 500";
const CHALLENGE: &str = "CONTRACT Common rules: WWW-Authenticate";
const HEALTH: &str = "CONTRACT Common rules: health and readiness";
const IDS: &str = "CONTRACT Common rules: ids and times";
const METHODS: &str = "CONTRACT Common rules: wrong methods";
const SHAPES: &str = "CONTRACT Response shapes";
const SIGNED: &str = "CONTRACT Tokens: signed and keyed";
const STRICT_FORM: &str = "CONTRACT Tokens: strict form";
const VALIDATION: &str = "CONTRACT Tokens: validation";
const USER_TOKEN: &str = "CONTRACT Tokens: user token";
const SERVICE_TOKEN: &str = "CONTRACT Tokens: service token";
const CLIENT_IDS: &str = "CONTRACT Tokens: client ids";
const PRINCIPAL: &str = "CONTRACT Principal rule";
const UUID_CLIENT: &str = "CONTRACT Principal rule: UUID client";
const LOGIN: &str = "CONTRACT Auth-API: login";
const ME: &str = "CONTRACT Auth-API: me";
const TOKEN: &str = "CONTRACT Auth-API: token endpoint";
const GROUP: &str = "CONTRACT Auth-API: read group";
const MEMBERS: &str = "CONTRACT Auth-API: read members";
const CREATE_GROUP: &str = "CONTRACT Auth-API: create group";
const ADD_MEMBER: &str = "CONTRACT Auth-API: add member";
const REMOVE_MEMBER: &str = "CONTRACT Auth-API: remove member";
const ADMIN_USERS: &str = "CONTRACT Auth-API: admin users";
const ADMIN_CLIENTS: &str = "CONTRACT Auth-API: admin clients";
const DELETE_USER: &str = "CONTRACT Auth-API: delete user";
const DELETE_CLIENT: &str = "CONTRACT Auth-API: delete client";
const ADMIN_TOKEN: &str = "CONTRACT Auth-API: admin token";
const INTROSPECTION: &str = "CONTRACT Auth-API: introspection";
const REVOCATION: &str = "CONTRACT Auth-API: revocation";
const METADATA: &str = "CONTRACT Auth-API: metadata";
const JWKS: &str = "CONTRACT Auth-API: JWKS";
const ALTERNATIVES: &str = "CONTRACT Auth-API: allowed alternatives";
const USERS_ONLY: &str = "CONTRACT Chat-API: users only";
const STEP_1: &str = "CONTRACT Chat-API step 1";
const STEP_2: &str = "CONTRACT Chat-API step 2";
const STEP_3: &str = "CONTRACT Chat-API step 3";
const STEP_4: &str = "CONTRACT Chat-API step 4";
const STEP_5: &str = "CONTRACT Chat-API step 5";
const STEP_6: &str = "CONTRACT Chat-API step 6";
const STEP_7: &str = "CONTRACT Chat-API step 7";
const STEP_8: &str = "CONTRACT Chat-API step 8";
const LISTING: &str = "CONTRACT Chat-API: listing";
const ACCOUNTS: &str = "CONTRACT Harness accounts";
const LIFETIMES: &str = "CONTRACT Notes: lifetimes";

/// Every clause, in the contract's order.
pub const CLAUSES: &[Clause] = &[
    // ---- Common rules ----
    clause(
        "media-types-json-answers",
        MEDIA,
        "answers are JSON (application/json)",
        &[
            "core.issued-tokens.login-json",
            "core.issued-tokens.token-json",
        ],
    ),
    clause(
        "media-types-oauth-forms",
        MEDIA,
        "the OAuth endpoints take application/x-www-form-urlencoded",
        &[
            "core.token.basic",
            "core.introspection.*",
            "core.revocation.revoke",
        ],
    ),
    clause(
        "error-body-shape",
        ERRORS,
        "every error answer is {error, error_description}, as JSON",
        &[
            "core.errors.auth-not-found",
            "core.errors.chat-unauthenticated",
        ],
    ),
    clause(
        "error-body-codes",
        ERRORS,
        "each error code comes with its status: invalid_request 400, invalid_token 401, insufficient_scope and forbidden 403, not_found 404, conflict 409, idempotency_key_reused 422, upstream_unavailable 502/503/504",
        &[
            "core.errors.auth-not-found",
            "core.errors.chat-unauthenticated",
            "core.group.non-member",
            "core.group.missing-scope",
            "core.bad-input.*",
            "core.admin.duplicate-email",
            "core.chat.idempotency.reused",
            "core.chat.upstream.failure",
        ],
    ),
    clause(
        "error-body-oauth-codes",
        ERRORS,
        "the OAuth endpoints answer RFC 6749 §5.2's error body and codes",
        &["core.errors.oauth", "core.token.*", "strict.oauth-errors.*"],
    ),
    clause(
        "bad-input-malformed-json",
        BAD_INPUT,
        "malformed JSON is 400 invalid_request",
        &[
            "core.bad-input.*-malformed",
            "core.admin.*-malformed",
            "core.chat.send.malformed-json",
            "strict.fuzz.*.malformed-json",
        ],
    ),
    clause(
        "bad-input-path-ids",
        BAD_INPUT,
        "a user or group id in a path that is no UUID is 400 invalid_request",
        &[
            "core.bad-input.*-path",
            "core.admin.delete-user-path",
            "core.group.malformed-id",
            "core.members.malformed-id",
            "strict.fuzz.*.bad-path-params",
        ],
    ),
    clause(
        "bad-input-validation",
        BAD_INPUT,
        "a body that fails validation (a missing field, a wrong type) is 400 invalid_request",
        &[
            "core.bad-input.*-invalid",
            "core.bad-input.send-wrong-type",
            "core.admin.create-user-invalid",
            "strict.fuzz.*.wrong-types",
            "strict.fuzz.*.not-an-object",
            "strict.fuzz.*.non-utf8-body",
        ],
    ),
    clause(
        "no-500",
        NO_500,
        "no input of a client produces a 500",
        &["strict.fuzz.*"],
    ),
    clause(
        "www-authenticate-bearer",
        CHALLENGE,
        "a 401 carries WWW-Authenticate: Bearer",
        &[
            "core.group.anonymous",
            "core.me.anonymous",
            "core.members.anonymous",
            "strict.www-authenticate.no-credentials.*",
            "strict.www-authenticate.bad-token.*",
        ],
    ),
    clause(
        "www-authenticate-no-credentials",
        CHALLENGE,
        "without credentials the challenge has no error attribute",
        &["strict.www-authenticate.no-credentials.*"],
    ),
    clause(
        "www-authenticate-invalid-token",
        CHALLENGE,
        "with credentials that are refused the challenge names error=\"invalid_token\"",
        &["strict.www-authenticate.bad-token.*"],
    ),
    clause(
        "www-authenticate-insufficient-scope",
        CHALLENGE,
        "a 403 for a missing scope carries Bearer error=\"insufficient_scope\", scope=\"groups:read\"",
        &["strict.www-authenticate.insufficient-scope.*"],
    ),
    clause(
        "health",
        HEALTH,
        "GET /health answers 200 while the process runs",
        &["core.discovery.auth-health", "core.discovery.chat-health"],
    ),
    clause(
        "ready",
        HEALTH,
        "GET /ready answers 200 when its database (and the chat-api's auth-api) can be reached, else 503",
        &["core.discovery.auth-ready", "core.discovery.chat-ready"],
    ),
    clause(
        "ids-uuids",
        IDS,
        "user and group ids are UUIDs answered in the lower-case hyphenated form",
        &[
            "core.ids-and-times.me",
            "core.ids-and-times.group",
            "core.ids-and-times.members",
        ],
    ),
    clause(
        "ids-message-ids",
        IDS,
        "a message id is a non-empty string, unique within its group",
        &["core.ids-and-times.message", "core.ids-and-times.listing"],
    ),
    clause(
        "ids-cursors",
        IDS,
        "next_cursor is a string or a number, null on the last page, and works passed back as given",
        &["core.chat.list.*", "core.own-group.cursor-walk"],
    ),
    clause(
        "ids-timestamps",
        IDS,
        "timestamps are RFC 3339 with a zero UTC offset (Z or +00:00), any precision",
        &["core.ids-and-times.*"],
    ),
    clause(
        "wrong-methods",
        METHODS,
        "a method an endpoint does not take is 405 or 404 with the error body, any code",
        &[
            "core.bad-input.auth-wrong-method",
            "core.bad-input.chat-wrong-method",
            "strict.oauth-errors.get",
        ],
    ),
    clause(
        "response-shapes-owed",
        SHAPES,
        "an answer has a status its row allows, the error code it names, and the fields the tables name with their JSON types",
        &["core.snapshot.*", "strict.snapshot.*"],
    ),
    // ---- Tokens ----
    clause(
        "tokens-kid",
        SIGNED,
        "every token is a signed JWT with a kid header",
        &[
            "core.issued-tokens.user-signed",
            "core.issued-tokens.service-signed",
        ],
    ),
    clause(
        "tokens-jwks-verifies",
        SIGNED,
        "the key the kid names is published at /.well-known/jwks.json and verifies the token",
        &[
            "core.issued-tokens.user-signed",
            "core.issued-tokens.service-signed",
        ],
    ),
    clause(
        "tokens-asymmetric",
        STRICT_FORM,
        "(strict) tokens are signed with an asymmetric algorithm",
        &["strict.tokens.user-token-header"],
    ),
    clause(
        "tokens-typ",
        STRICT_FORM,
        "(strict) a token's typ header is at+jwt",
        &["strict.tokens.user-token-header"],
    ),
    clause(
        "tokens-public-keys-only",
        STRICT_FORM,
        "(strict) no key of the key set has a private member",
        &["strict.tokens.jwks-public-only"],
    ),
    clause(
        "tokens-validation-signature",
        VALIDATION,
        "validators refuse a removed or altered signature, an unsigned token (alg none in any case) and a key the kid does not name",
        &[
            "core.me.garbage-token",
            "strict.jwt.alg-none*",
            "strict.jwt.signature-*",
            "strict.jwt.other-key-same-kid.*",
        ],
    ),
    clause(
        "tokens-validation-unknown-kid",
        VALIDATION,
        "validators refuse a token whose kid names no published key",
        &["strict.jwt.unknown-kid.*"],
    ),
    clause(
        "tokens-validation-pinned-alg",
        VALIDATION,
        "validators pin the algorithm: a token signed with HMAC over the public key is refused",
        &["strict.jwt.hmac-with-public-key*"],
    ),
    clause(
        "tokens-validation-iss",
        VALIDATION,
        "validators refuse a token from another issuer",
        &["strict.jwt.wrong-issuer.*"],
    ),
    clause(
        "tokens-validation-aud",
        VALIDATION,
        "validators refuse a token for another audience",
        &["strict.jwt.wrong-audience.*"],
    ),
    clause(
        "tokens-validation-exp",
        VALIDATION,
        "validators refuse an expired token beyond a leeway of at most 60 s",
        &["strict.jwt.expired.*", "strict.jwt.expired-beyond-leeway.*"],
    ),
    clause(
        "tokens-validation-nbf",
        VALIDATION,
        "validators refuse a token not valid yet beyond a leeway of at most 60 s",
        &["strict.jwt.not-yet-valid.*"],
    ),
    clause(
        "tokens-expires-in",
        VALIDATION,
        "a token answer's expires_in is the token's exp - iat, give or take a few seconds",
        &[
            "core.issued-tokens.user-lifetime",
            "core.issued-tokens.service-lifetime",
        ],
    ),
    clause(
        "tokens-user-claims",
        USER_TOKEN,
        "a user token's sub is the user's lower-case hyphenated id, with email, type \"access\", iss, aud, iat, exp and jti",
        &[
            "core.issued-tokens.user-subject-and-issuer",
            "core.seed.login",
        ],
    ),
    clause(
        "tokens-service-claims",
        SERVICE_TOKEN,
        "a service token's sub and client_id are the client's id, with scope, iss, aud, iat, exp and jti, and no email",
        &[
            "core.seed.service-token",
            "core.issued-tokens.service-issuer",
        ],
    ),
    clause(
        "client-ids-vschar",
        CLIENT_IDS,
        "a client id of 1 to 255 VSCHAR characters is taken (or refused with 400 invalid_request), a UUID-shaped one always, and its token reads a group",
        &["strict.subjects.reads-group"],
    ),
    clause(
        "principal-service",
        PRINCIPAL,
        "a token with client_id (and sub == client_id) is a service: a client_id that differs from sub is refused",
        &[
            "strict.jwt.client-id-mismatch.*",
            "strict.jwt.service-client-id-mismatch.*",
            "strict.jwt.no-sub.*",
        ],
    ),
    clause(
        "principal-user",
        PRINCIPAL,
        "a user is a token with type \"access\", no client_id and a UUID sub: anything else is invalid_token",
        &[
            "strict.jwt.user-without-type.*",
            "strict.jwt.user-non-uuid-sub.*",
            "strict.jwt.user-with-client-id.*",
            "strict.jwt.user-with-scope.*",
        ],
    ),
    clause(
        "principal-uuid-client",
        UUID_CLIENT,
        "(strict) a client whose id is a UUID is a service, never a user",
        &["strict.uuid-client.*", "strict.subjects.not-a-user"],
    ),
    // ---- Auth-API ----
    clause(
        "login-ok",
        LOGIN,
        "POST /auth/login with the right email and password: 200 {access_token, token_type Bearer, expires_in}",
        &["core.seed.login", "core.issued-tokens.login-json"],
    ),
    clause(
        "login-refused",
        LOGIN,
        "a wrong email or password: 401 invalid_credentials, the same body for both",
        &[
            "core.login.wrong-password",
            "core.login.unknown-email",
            "core.login.same-answer",
        ],
    ),
    clause(
        "me-user",
        ME,
        "GET /auth/me with a user token: 200 {id, email}",
        &["core.me.user"],
    ),
    clause(
        "me-service",
        ME,
        "GET /auth/me with a service token: 403 forbidden",
        &["core.me.service-forbidden"],
    ),
    clause(
        "token-issued",
        TOKEN,
        "client_credentials by HTTP Basic: 200 {access_token, token_type Bearer, expires_in, scope} with Cache-Control: no-store and no refresh_token",
        &[
            "core.token.basic",
            "core.seed.service-token",
            "strict.tokens.pragma",
        ],
    ),
    clause(
        "token-form-body",
        TOKEN,
        "client credentials in the form body, when taken at all (a MAY), issue the token",
        &[
            "core.token.form-body",
            "strict.tokens.two-client-auth-methods",
        ],
    ),
    clause(
        "token-errors",
        TOKEN,
        "errors per RFC 6749 §5.2: invalid_request, invalid_client, unsupported_grant_type, invalid_scope, unauthorized_client",
        &[
            "core.token.invalid-client",
            "core.token.unsupported-grant",
            "core.token.missing-grant",
            "core.token.invalid-scope",
            "strict.oauth-errors.*",
        ],
    ),
    clause(
        "token-basic-challenge",
        TOKEN,
        "invalid_client is 401, with WWW-Authenticate: Basic when Basic was used",
        &[
            "core.token.invalid-client",
            "strict.oauth-errors.basic-wrong-secret",
        ],
    ),
    clause(
        "group-read",
        GROUP,
        "GET /api/auth/groups/{id} by a member or a service with groups:read: 200 {id, name, org_id, created_at}",
        &[
            "core.group.member",
            "core.group.service-token",
            "core.seed.group-with-service-token",
        ],
    ),
    clause(
        "group-refusals",
        GROUP,
        "a user who is not a member: 403 forbidden; a service without the scope: 403 insufficient_scope; an unknown group: 404",
        &[
            "core.group.non-member",
            "core.group.missing-scope",
            "core.group.unknown-group",
        ],
    ),
    clause(
        "members-read",
        MEMBERS,
        "GET /api/auth/groups/{id}/members by a member or a service with groups:read: 200 {members: [{user_id, email, role, joined_at}]}",
        &[
            "core.members.member",
            "core.members.service-token",
            "core.seed.members-with-service-token",
            "core.issued-tokens.group-has-alice",
        ],
    ),
    clause(
        "members-order",
        MEMBERS,
        "members are ordered by joined_at, then user_id",
        &["core.own-group.members-order"],
    ),
    clause(
        "members-refusals",
        MEMBERS,
        "the same refusals as the group: 403 forbidden, 403 insufficient_scope, 404",
        &[
            "core.members.non-member",
            "core.members.missing-scope",
            "core.members.unknown-group",
            "strict.subjects.scope-enforced",
        ],
    ),
    clause(
        "members-service-token",
        MEMBERS,
        "a service token is never answered 401 here (the seed's bug)",
        &[
            "core.members.service-token",
            "core.seed.members-with-service-token",
        ],
    ),
    clause(
        "create-group",
        CREATE_GROUP,
        "POST /api/auth/groups by a user: 201 with the group, its creator its owner; a service may not",
        &[
            "core.groups.create",
            "core.groups.creator-is-owner",
            "core.groups.create-by-service",
        ],
    ),
    clause(
        "add-member",
        ADD_MEMBER,
        "the owner adds a member: 201 with the member, 200 if already one",
        &["core.groups.add-member", "core.groups.add-member-again"],
    ),
    clause(
        "add-member-others",
        ADD_MEMBER,
        "anyone but the owner (a member, a non-member, a service) is refused with 403",
        &[
            "core.groups.add-by-non-owner",
            "core.own-group.add-by-non-member",
            "core.own-group.add-by-service",
        ],
    ),
    clause(
        "remove-member",
        REMOVE_MEMBER,
        "the owner removes a member: 204, and the removed member is refused from then on; others are refused",
        &[
            "core.groups.remove-member",
            "core.groups.remove-by-non-owner",
            "core.own-group.remove-by-service",
        ],
    ),
    clause(
        "admin-users",
        ADMIN_USERS,
        "POST /admin/users: 201 {id, email}",
        &["core.admin.create-user"],
    ),
    clause(
        "admin-users-duplicate",
        ADMIN_USERS,
        "an email already taken, compared without case: 409",
        &[
            "core.admin.duplicate-email",
            "core.admin.duplicate-email-other-case",
        ],
    ),
    clause(
        "admin-clients",
        ADMIN_CLIENTS,
        "POST /admin/clients: 201 {client_id, client_secret, scopes}",
        &["core.admin.create-client"],
    ),
    clause(
        "admin-clients-conflicts",
        ADMIN_CLIENTS,
        "a client id already taken, or equal to an existing user's id: 409",
        &["core.admin.client-id-is-user-id"],
    ),
    clause(
        "delete-user",
        DELETE_USER,
        "DELETE /admin/users/{id}: 204, an unknown user 404",
        &["core.admin.delete-user", "core.admin.delete-user-unknown"],
    ),
    clause(
        "delete-user-data",
        DELETE_USER,
        "a deleted user's memberships go, and the groups the user owned with their members",
        &[
            "core.admin.deleted-user-groups-gone",
            "core.admin.deleted-user-memberships-gone",
        ],
    ),
    clause(
        "delete-user-tokens",
        DELETE_USER,
        "a deleted user's tokens are refused everywhere and introspect as {active: false}",
        &[
            "core.admin.deleted-user-token-auth",
            "core.admin.deleted-user-token-chat",
            "core.admin.deleted-user-token-inactive",
        ],
    ),
    clause(
        "delete-client",
        DELETE_CLIENT,
        "DELETE /admin/clients/{id}: 204, an unknown client 404; its tokens are refused from then on and it gets no new one",
        &[
            "core.admin.delete-client",
            "core.admin.delete-client-unknown",
            "core.admin.deleted-client-token-refused",
            "core.admin.deleted-client-no-token",
        ],
    ),
    clause(
        "admin-token",
        ADMIN_TOKEN,
        "any credential but the admin token (none, a user's, a service's) gets 401 invalid_token at the admin endpoints",
        &[
            "core.admin.create-user.*",
            "core.admin.create-client.*",
            "core.admin.delete-user.*",
            "core.admin.delete-client.*",
        ],
    ),
    clause(
        "introspection-active",
        INTROSPECTION,
        "an active token: 200 {active: true, sub, client_id?, scope?, exp, iat, token_type} at least",
        &[
            "core.introspection.active",
            "core.introspection.service-token",
        ],
    ),
    clause(
        "introspection-inactive",
        INTROSPECTION,
        "anything invalid (garbage, expired, revoked): 200 {active: false} and nothing else",
        &[
            "strict.introspection.inactive",
            "strict.jwt.expired.introspection",
            "core.revocation.inactive",
        ],
    ),
    clause(
        "introspection-client-auth",
        INTROSPECTION,
        "introspection is for an authenticated OAuth client (RFC 7662 §2.1)",
        &["strict.introspection.needs-client-auth"],
    ),
    clause(
        "revocation",
        REVOCATION,
        "POST /oauth/revoke by an OAuth client: 200, also for an unknown token (RFC 7009)",
        &[
            "core.revocation.revoke",
            "strict.revocation.needs-client-auth",
        ],
    ),
    clause(
        "revocation-everywhere",
        REVOCATION,
        "a revoked token is then refused everywhere",
        &[
            "core.revocation.auth-refuses",
            "core.revocation.chat-refuses",
            "core.revocation.inactive",
            "core.revocation.group-refuses",
            "core.revocation.members-refuses",
            "core.revocation.send-refuses",
            "core.revocation.list-refuses",
        ],
    ),
    clause(
        "metadata-fields",
        METADATA,
        "RFC 8414 metadata with issuer, token_endpoint, jwks_uri, introspection_endpoint, revocation_endpoint, grant_types_supported, token_endpoint_auth_methods_supported, scopes_supported",
        &["core.discovery.metadata"],
    ),
    clause(
        "metadata-issuer",
        METADATA,
        "the metadata's issuer is the tokens' iss",
        &[
            "core.issued-tokens.user-subject-and-issuer",
            "core.issued-tokens.service-issuer",
        ],
    ),
    clause(
        "jwks",
        JWKS,
        "GET /.well-known/jwks.json: an RFC 7517 key set",
        &["core.discovery.jwks"],
    ),
    clause(
        "alternatives-secret-in-query",
        ALTERNATIVES,
        "client credentials in the query string: 400 invalid_request or 401 invalid_client",
        &["strict.oauth-errors.secret-in-query"],
    ),
    clause(
        "alternatives-content-type",
        ALTERNATIVES,
        "a JSON body without Content-Type is processed or refused with 415; a body in another content type is refused with 415 or 400",
        &[
            "strict.oauth-errors.json-body",
            "strict.fuzz.*.wrong-content-type",
        ],
    ),
    clause(
        "alternatives-uuid-spellings",
        ALTERNATIVES,
        "a client id that spells a user's UUID differently is registered as a service, or refused with 409",
        &["strict.subjects.not-a-user"],
    ),
    // ---- Chat-API ----
    clause(
        "chat-users-only",
        USERS_ONLY,
        "a service token at the chat-api gets 401 invalid_token or 403 forbidden",
        &["strict.uuid-client.no-chat"],
    ),
    clause(
        "step-1-validated",
        STEP_1,
        "the user token is validated: none, or a bad one, is refused",
        &["core.chat.send.anonymous", "strict.jwt.*.chat-send"],
    ),
    clause(
        "step-1-jwks-refresh",
        STEP_1,
        "the JWKS is cached and refetched on an unknown kid at most once a minute",
        &["strict.jwks-refresh.unknown-kid-at-most-once"],
    ),
    clause(
        "step-2-sender",
        STEP_2,
        "a sender_id other than the token's sub: 403 forbidden, nothing stored",
        &[
            "core.chat.send.sender-mismatch",
            "core.own-group.sender-another-member",
            "core.own-group.refused-not-stored",
        ],
    ),
    clause(
        "step-3-content",
        STEP_3,
        "content of 1 to 4000 characters after trimming, else 400 invalid_request",
        &[
            "core.chat.send.empty",
            "core.chat.send.too-long",
            "core.chat.send.longest",
            "core.own-group.length-after-trimming",
        ],
    ),
    clause(
        "step-4-reuse",
        STEP_4,
        "the service token is reused: at most one token request per token lifetime, under any load",
        &["core.chat.token-reuse.three-messages"],
    ),
    clause(
        "step-4-scope",
        STEP_4,
        "the service token is fetched by client_credentials with scope groups:read",
        &["strict.observed.token-scope"],
    ),
    clause(
        "step-4-retry",
        STEP_4,
        "a 401 from the auth-api drops the token and retries once with a new one",
        &[
            "core.chat.upstream.unauthorized-retry",
            "core.chat.upstream.unauthorized-new-token",
        ],
    ),
    clause(
        "step-5-service-token",
        STEP_5,
        "the group and its members are read with the service token, never the user's",
        &[
            "core.observed.service-token-for-groups",
            "core.observed.no-user-token-upstream",
        ],
    ),
    clause(
        "step-5-membership",
        STEP_5,
        "an unknown group: 404; a sender who is not a member: 403 forbidden",
        &[
            "core.chat.send.unknown-group",
            "core.chat.send.non-member",
            "core.chat.list.non-member",
            "core.groups.new-member-sends",
            "core.groups.removed-member-refused",
        ],
    ),
    clause(
        "step-6-upstream",
        STEP_6,
        "the auth-api down, slow or answering 5xx: 502/503/504 upstream_unavailable, never 500",
        &[
            "core.chat.upstream.failure",
            "core.chat.upstream.server-error",
            "core.chat.upstream.not-json",
            "core.chat.upstream.dropped",
            "core.chat.upstream.own-group-failure",
        ],
    ),
    clause(
        "step-6-timeout",
        STEP_6,
        "a slow auth-api is given up within at most 5 s",
        &["core.chat.upstream.hang"],
    ),
    clause(
        "step-6-nothing-stored",
        STEP_6,
        "a send refused upstream stores nothing",
        &["core.chat.upstream.nothing-stored"],
    ),
    clause(
        "step-7-answer",
        STEP_7,
        "201 with {id, group_id, sender_id, org_id (the group's), content, created_at}",
        &[
            "core.chat.send.member",
            "core.chat.idempotency.first",
            "core.seed.send",
        ],
    ),
    clause(
        "step-7-location",
        STEP_7,
        "the 201 carries a Location header naming the new message",
        &["core.own-group.location"],
    ),
    clause(
        "step-8-replay",
        STEP_8,
        "the same key, sender and body: the first answer again, nothing stored",
        &[
            "core.chat.idempotency.replay",
            "core.own-group.replay",
            "core.own-group.replay-stores-nothing",
        ],
    ),
    clause(
        "step-8-reused",
        STEP_8,
        "the same key and sender with another body: 422 idempotency_key_reused",
        &["core.chat.idempotency.reused"],
    ),
    clause(
        "step-8-per-sender",
        STEP_8,
        "a key is the sender's own: another sender's same key is a new message",
        &["core.own-group.key-per-sender"],
    ),
    clause(
        "listing-newest-first",
        LISTING,
        "a member's listing: 200 {messages newest first, next_cursor}",
        &["core.chat.list.member", "core.own-group.newest-first"],
    ),
    clause(
        "listing-limit",
        LISTING,
        "limit is 1 to 100 (else 400), 50 by default",
        &[
            "core.chat.list.bad-limit",
            "core.own-group.default-limit",
            "strict.fuzz.*.bad-query",
        ],
    ),
    clause(
        "listing-walk",
        LISTING,
        "walking the cursors returns every message exactly once",
        &["core.chat.list.cursor", "core.own-group.cursor-walk"],
    ),
    // ---- The harness's accounts, the reference's notes ----
    clause(
        "harness-accounts-as-given",
        ACCOUNTS,
        "the accounts the harness is given are what they claim: the reader has groups:read, the group has alice",
        &[
            "core.issued-tokens.reader-scope",
            "core.issued-tokens.group-has-alice",
        ],
    ),
    clause(
        "lifetimes",
        LIFETIMES,
        "expires_in tells the truth about the token's lifetime",
        &[
            "core.issued-tokens.user-lifetime",
            "core.issued-tokens.service-lifetime",
        ],
    ),
];

/// The clauses of a rule, in order.
pub fn of_rule(rule: &str) -> impl Iterator<Item = &'static Clause> + '_ {
    CLAUSES.iter().filter(move |c| c.rule == rule)
}

/// The clauses a check enforces: those that list it.
pub fn of_check(id: &str) -> impl Iterator<Item = &'static Clause> + '_ {
    CLAUSES.iter().filter(move |c| c.enforced_by(id))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::rules::CONTRACT;

    fn catalogue() -> BTreeSet<(String, crate::Level, String)> {
        crate::runner::checks(&crate::scenario::bundled().expect("the bundled scenarios"))
    }

    #[test]
    fn patterns_match_ids_and_globs() {
        assert!(matches("core.a", "core.a"));
        assert!(!matches("core.a", "core.ab"));
        assert!(matches("core.*", "core.ab"));
        assert!(matches(
            "strict.jwt.*.chat-send",
            "strict.jwt.alg-none.chat-send"
        ));
        assert!(!matches(
            "strict.jwt.*.chat-send",
            "strict.jwt.alg-none.chat-list"
        ));
        assert!(matches("core.bad-input.*-path", "core.bad-input.send-path"));
        assert!(!matches("a*a", "a"));
    }

    /// Every clause has an id of its own, belongs to a rule of the
    /// contract, and every rule has at least one clause.
    #[test]
    fn every_rule_is_stated_in_clauses() {
        let mut ids = BTreeSet::new();
        for clause in CLAUSES {
            assert!(ids.insert(clause.id), "{} twice", clause.id);
            assert!(
                CONTRACT
                    .iter()
                    .all(|r| crate::rules::anchor(r.name).as_deref() != Some(clause.id)),
                "{}: a rule's anchor already",
                clause.id
            );
            assert!(
                CONTRACT.iter().any(|r| r.name == clause.rule),
                "{}: {} is no rule of the contract",
                clause.id,
                clause.rule
            );
        }
        for rule in CONTRACT {
            assert!(
                of_rule(rule.name).next().is_some(),
                "{} has no clause",
                rule.name
            );
        }
    }

    /// Every clause is enforced by checks that exist, and every check
    /// that names a contract rule enforces a clause of that rule.
    #[test]
    fn every_clause_has_checks_and_every_contract_check_a_clause() {
        let checks = catalogue();
        for clause in CLAUSES {
            for pattern in clause.checks {
                assert!(
                    checks.iter().any(|(id, _, _)| matches(pattern, id)),
                    "{}: no check matches {pattern}",
                    clause.id
                );
            }
        }
        let orphans: Vec<String> = checks
            .iter()
            .filter(|(_, _, rule)| rule.starts_with("CONTRACT "))
            .filter(|(id, _, rule)| !of_rule(rule).any(|c| c.enforced_by(id)))
            .map(|(id, _, rule)| format!("{id} ({rule})"))
            .collect();
        assert!(
            orphans.is_empty(),
            "checks under no clause of their rule:\n{}",
            orphans.join("\n")
        );
    }

    /// Every clause has its anchor in docs/contract.md, under its rule.
    #[test]
    fn every_clause_has_its_place_in_docs_contract_md() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/contract.md"),
        )
        .expect("docs/contract.md");
        let at = |anchor: &str| text.find(&format!("<a id=\"{anchor}\"></a>"));
        for (index, clause) in CLAUSES.iter().enumerate() {
            let place = at(clause.id)
                .unwrap_or_else(|| panic!("{} has no anchor in docs/contract.md", clause.id));
            let rule = at(&crate::rules::anchor(clause.rule).expect("a contract rule"))
                .expect("the rule's anchor");
            let next_rule = CONTRACT
                .iter()
                .filter_map(|r| at(&crate::rules::anchor(r.name)?))
                .filter(|&other| other > rule)
                .min();
            assert!(
                place > rule && next_rule.is_none_or(|next| place < next),
                "{} (clause {index}) is not under {} in docs/contract.md",
                clause.id,
                clause.rule
            );
        }
    }
}
