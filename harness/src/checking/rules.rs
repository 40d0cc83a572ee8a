//! The rules checks enforce. Every check names one: a rule of the
//! contract (`CONTRACT …`, listed here one by one so that `conformance
//! rules` can say which have no check yet), a section of an RFC the
//! contract builds on (`RFC 6750 §3.1`), or, at the `reference` level
//! only, an entry of the reference's own decisions (`decisions: …`).
//!
//! core and strict checks may name only the first two kinds: they check
//! the contract and the RFCs, nothing else. A reference check names a
//! decision: where the contract and the RFCs leave a choice, the
//! reference's is never a reason to fail a deployment by default.

use std::collections::BTreeMap;

use crate::sources::scenario::Level;

/// A rule of the contract (v1.2): its name, as checks cite it, and
/// what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractRule {
    /// `CONTRACT <section>: <what>`, as checks name it.
    pub name: &'static str,
    /// The rule in a sentence.
    pub text: &'static str,
}

const fn rule(name: &'static str, text: &'static str) -> ContractRule {
    ContractRule { name, text }
}

/// Every rule of the contract, in the contract's order.
pub const CONTRACT: &[ContractRule] = &[
    rule(
        "CONTRACT Common rules: media types",
        "JSON in and out; the OAuth endpoints take application/x-www-form-urlencoded",
    ),
    rule(
        "CONTRACT Common rules: error body",
        "one error body everywhere, {error, error_description}, with the listed codes and statuses; OAuth endpoints use RFC 6749 §5.2 codes",
    ),
    rule(
        "CONTRACT Common rules: bad input",
        "malformed JSON, a bad UUID in a path and failed validation are 400 invalid_request",
    ),
    rule(
        "CONTRACT Common rules: no 500",
        "a client's input never produces a 500",
    ),
    rule(
        "CONTRACT Common rules: WWW-Authenticate",
        "401 carries WWW-Authenticate: Bearer (error=\"invalid_token\" when credentials were sent); 403 for a missing scope names error=\"insufficient_scope\" and the scope",
    ),
    rule(
        "CONTRACT Common rules: health and readiness",
        "/health answers 200 while the process runs; /ready 200 only when its dependencies answer, else 503",
    ),
    rule(
        "CONTRACT Common rules: ids and times",
        "user and group ids are lower-case hyphenated UUIDs; message ids are opaque non-empty strings, unique within their group; next_cursor is a string or a number, or null on the last page, passed back as given; timestamps are RFC 3339 with a zero UTC offset (Z or +00:00), any precision",
    ),
    rule(
        "CONTRACT Common rules: wrong methods",
        "a method an endpoint does not take: 405 (or 404) with the error body, its error code the implementation's choice",
    ),
    rule(
        "CONTRACT Response shapes",
        "every answer has a status its row allows, the error code it names, and the fields its tables name with their JSON types; a list the contract names is not emptied",
    ),
    rule(
        "CONTRACT Tokens: signed and keyed",
        "tokens are signed JWTs with a kid header; the keys are published at /.well-known/jwks.json",
    ),
    rule(
        "CONTRACT Tokens: strict form",
        "(strict) an asymmetric algorithm, no private members in the JWKS, typ at+jwt",
    ),
    rule(
        "CONTRACT Tokens: validation",
        "validators pin the algorithm, check iss, aud, exp and nbf (leeway at most 60 s), and reject alg none, unknown kid and bad signatures",
    ),
    rule(
        "CONTRACT Tokens: user token",
        "a user token carries sub (the user's lower-case hyphenated UUID), email, type \"access\", iss, aud, iat, exp, jti",
    ),
    rule(
        "CONTRACT Tokens: service token",
        "a service token carries sub = client_id, scope, iss, aud, iat, exp, jti; no email, no type \"access\"",
    ),
    rule(
        "CONTRACT Tokens: client ids",
        "client ids are 1 to 255 VSCHAR characters; others may be refused with 400 invalid_request; UUID-shaped ones must be accepted",
    ),
    rule(
        "CONTRACT Principal rule",
        "client_id present and equal to sub: a service; type \"access\", no client_id and a UUID sub: a user; anything else invalid_token",
    ),
    rule(
        "CONTRACT Principal rule: UUID client",
        "(strict) a client whose id is a UUID is still a service, never a user",
    ),
    rule(
        "CONTRACT Auth-API: login",
        "POST /auth/login answers 200 {access_token, token_type Bearer, expires_in}; a wrong email or password 401 invalid_credentials, the same body for both",
    ),
    rule(
        "CONTRACT Auth-API: me",
        "GET /auth/me answers a user 200 {id, email}; a service token 403 forbidden",
    ),
    rule(
        "CONTRACT Auth-API: token endpoint",
        "POST /oauth/token, client_credentials, Basic (MUST) or form body (MAY): 200 {access_token, token_type, expires_in, scope}, Cache-Control no-store, no refresh_token; RFC 6749 §5.2 errors",
    ),
    rule(
        "CONTRACT Auth-API: read group",
        "GET /api/auth/groups/{id}: a member or a service with groups:read gets {id, name, org_id, created_at}; a non-member 403 forbidden; no scope 403 insufficient_scope; unknown 404",
    ),
    rule(
        "CONTRACT Auth-API: read members",
        "GET /api/auth/groups/{id}/members: the same callers get {members: [{user_id, email, role, joined_at}]} ordered by joined_at then user_id; a service token never gets 401 there",
    ),
    rule(
        "CONTRACT Auth-API: create group",
        "POST /api/auth/groups by a user: 201 group, the creator its owner",
    ),
    rule(
        "CONTRACT Auth-API: add member",
        "POST /api/auth/groups/{id}/members by the owner: 201 member, 200 if already one; others 403",
    ),
    rule(
        "CONTRACT Auth-API: remove member",
        "DELETE /api/auth/groups/{id}/members/{user_id} by the owner: 204",
    ),
    rule(
        "CONTRACT Auth-API: admin users",
        "POST /admin/users: 201 {id, email}; a duplicate email (any case) 409",
    ),
    rule(
        "CONTRACT Auth-API: admin clients",
        "POST /admin/clients: 201 {client_id, client_secret, scopes}; a duplicate id, or one equal to a user's id, 409",
    ),
    rule(
        "CONTRACT Auth-API: delete user",
        "DELETE /admin/users/{id}: 204, unknown 404; memberships and owned groups go; the user's tokens are rejected everywhere",
    ),
    rule(
        "CONTRACT Auth-API: delete client",
        "DELETE /admin/clients/{client_id}: 204, unknown 404; the client's tokens are rejected everywhere",
    ),
    rule(
        "CONTRACT Auth-API: admin token",
        "the admin endpoints take only the admin token; any other credential gets 401 invalid_token",
    ),
    rule(
        "CONTRACT Auth-API: introspection",
        "POST /oauth/introspect (RFC 7662): an active token is described; anything invalid is {active: false} only",
    ),
    rule(
        "CONTRACT Auth-API: revocation",
        "POST /oauth/revoke (RFC 7009): 200, also for an unknown token; a revoked token is rejected everywhere",
    ),
    rule(
        "CONTRACT Auth-API: metadata",
        "RFC 8414 metadata with issuer (the tokens' iss), token, jwks, introspection and revocation endpoints, grants, auth methods and scopes",
    ),
    rule(
        "CONTRACT Auth-API: JWKS",
        "GET /.well-known/jwks.json is an RFC 7517 key set",
    ),
    rule(
        "CONTRACT Auth-API: allowed alternatives",
        "credentials in the query: 400 invalid_request or 401 invalid_client; a JSON body without Content-Type: processed or 415; another content type: 415 or 400; a client_id spelling a user's UUID otherwise: registered or 409",
    ),
    rule(
        "CONTRACT Chat-API: users only",
        "the chat-api's endpoints are for users: a service token gets 401 invalid_token or 403 forbidden",
    ),
    rule(
        "CONTRACT Chat-API step 1",
        "the user token is validated locally with the auth-api's JWKS, cached, refreshed on an unknown kid at most once a minute",
    ),
    rule(
        "CONTRACT Chat-API step 2",
        "sender_id, when given, must equal the token's sub: else 403 forbidden",
    ),
    rule(
        "CONTRACT Chat-API step 3",
        "content is 1 to 4000 characters after trimming: else 400 invalid_request",
    ),
    rule(
        "CONTRACT Chat-API step 4",
        "a service token by client_credentials with groups:read, reused until shortly before it expires (single flight); a 401 drops it and retries once",
    ),
    rule(
        "CONTRACT Chat-API step 5",
        "the group, then its members, with the service token; unknown group 404; a sender who is not a member 403 forbidden",
    ),
    rule(
        "CONTRACT Chat-API step 6",
        "the auth-api down, slow (timeout at most 5 s) or answering 5xx: 502/503/504 upstream_unavailable, never 500, nothing stored",
    ),
    rule(
        "CONTRACT Chat-API step 7",
        "the message is stored with the group's org_id; 201 {id, group_id, sender_id, org_id, content, created_at} and a Location header",
    ),
    rule(
        "CONTRACT Chat-API step 8",
        "the same Idempotency-Key from the same sender with the same body returns the first answer and stores nothing; another body 422 idempotency_key_reused",
    ),
    rule(
        "CONTRACT Chat-API: listing",
        "GET messages by a member: 200 {messages newest first, next_cursor}; limit 1..100, default 50; the cursors return every message exactly once",
    ),
    rule(
        "CONTRACT Harness accounts",
        "the harness makes or is given two users, a group, a client with groups:read, one without, and (strict) one whose id is a UUID",
    ),
    rule(
        "CONTRACT Notes: lifetimes",
        "expires_in tells the truth about the token's lifetime",
    ),
];

/// Where a contract rule is stated: its anchor in `docs/contract.md`
/// ("CONTRACT Common rules: error body" → `common-rules-error-body`);
/// `None` for a rule that is not the contract's.
pub fn anchor(rule: &str) -> Option<String> {
    let name = rule.strip_prefix("CONTRACT ")?;
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    Some(slug.trim_matches('-').to_owned())
}

/// RFCs the contract builds on: a strict check may cite a section of one.
pub const RFCS: &[u16] = &[6749, 6750, 7009, 7517, 7519, 7662, 8414, 8725, 9068];

/// Why a check's rule is not one it may name.
pub fn validate(rule: &str, level: Level) -> Result<(), String> {
    match level {
        Level::Core | Level::Strict => {
            if CONTRACT.iter().any(|r| r.name == rule) {
                return Ok(());
            }
            if let Some(rest) = rule.strip_prefix("RFC ") {
                let number = rest.split(' ').next().unwrap_or("");
                if number.parse().is_ok_and(|n: u16| RFCS.contains(&n)) && rest.contains('§') {
                    return Ok(());
                }
                return Err(format!(
                    "rule {rule:?}: an RFC rule names one of RFC {} and a section (\"RFC 6750 §3.1\")",
                    RFCS.iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if rule.starts_with("decisions:") {
                return Err(format!(
                    "rule {rule:?}: a decision of the reference is checked at the reference level only"
                ));
            }
            Err(format!(
                "rule {rule:?} is no rule of the contract (see `conformance rules`) nor an RFC section"
            ))
        }
        Level::Reference => {
            if rule
                .strip_prefix("decisions: ")
                .is_some_and(|d| !d.trim().is_empty())
            {
                Ok(())
            } else {
                Err(format!(
                    "rule {rule:?}: a reference check names a decision of the reference (\"decisions: <entry>\")"
                ))
            }
        }
    }
}

/// Each rule and the checks that name it: every contract rule (those
/// without a check too), then every RFC section and decision checked.
pub fn matrix<'a>(
    checks: impl IntoIterator<Item = (&'a str, Level, &'a str)>,
) -> Vec<(String, Vec<(String, Level)>)> {
    let mut by_rule: BTreeMap<String, Vec<(String, Level)>> = BTreeMap::new();
    for (id, level, rule) in checks {
        by_rule
            .entry(rule.to_owned())
            .or_default()
            .push((id.to_owned(), level));
    }
    let mut rows: Vec<(String, Vec<(String, Level)>)> = CONTRACT
        .iter()
        .map(|r| {
            (
                r.name.to_owned(),
                by_rule.remove(r.name).unwrap_or_default(),
            )
        })
        .collect();
    rows.extend(by_rule);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every contract rule a check may name is stated in the project's
    /// own docs/contract.md, at the anchor reports link to.
    #[test]
    fn every_contract_rule_has_its_place_in_docs_contract_md() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/contract.md"),
        )
        .expect("docs/contract.md");
        for rule in CONTRACT {
            let anchor = anchor(rule.name).expect("a contract rule");
            assert!(
                text.contains(&format!("<a id=\"{anchor}\"></a>")),
                "{} has no anchor #{anchor} in docs/contract.md",
                rule.name
            );
        }
        assert_eq!(
            anchor("CONTRACT Common rules: WWW-Authenticate").as_deref(),
            Some("common-rules-www-authenticate")
        );
        assert_eq!(anchor("RFC 6749 §5.2"), None);
    }

    #[test]
    fn core_and_strict_name_the_contract_or_an_rfc() {
        assert!(validate("CONTRACT Chat-API step 2", Level::Core).is_ok());
        assert!(validate("RFC 6750 §3.1", Level::Strict).is_ok());
        assert!(validate("RFC 1149 §3", Level::Strict).is_err());
        assert!(validate("RFC 6750", Level::Strict).is_err());
        assert!(validate("CONTRACT Chat-API step 99", Level::Core).is_err());
        assert!(validate("decisions: Chat-API", Level::Strict).is_err());
        assert!(validate("", Level::Core).is_err());
    }

    #[test]
    fn reference_checks_name_a_decision() {
        assert!(validate("decisions: Chat-API", Level::Reference).is_ok());
        assert!(validate("CONTRACT Chat-API step 2", Level::Reference).is_err());
        assert!(validate("decisions: ", Level::Reference).is_err());
    }

    #[test]
    fn the_matrix_lists_rules_without_checks() {
        let rows = matrix([
            ("core.a", Level::Core, "CONTRACT Chat-API step 2"),
            ("strict.b", Level::Strict, "RFC 6750 §3.1"),
        ]);
        let step2 = rows
            .iter()
            .find(|(r, _)| r == "CONTRACT Chat-API step 2")
            .unwrap();
        assert_eq!(step2.1, vec![("core.a".to_owned(), Level::Core)]);
        assert!(
            rows.iter()
                .any(|(r, checks)| r == "CONTRACT Chat-API step 3" && checks.is_empty())
        );
        assert!(rows.iter().any(|(r, _)| r == "RFC 6750 §3.1"));
    }
}
