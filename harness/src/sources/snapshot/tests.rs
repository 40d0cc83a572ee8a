//! Normalising and comparing, on answers made up for each case.

use serde_json::{Value, json};

use super::*;
use crate::run::redact::Secrets;
use crate::sources::scenario::Vars;

fn jwt(claims: &Value) -> String {
    use base64::Engine as _;
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        e(&json!({"alg": "EdDSA", "kid": "k1"})),
        e(claims)
    )
}

#[test]
fn a_type_placeholder_differs_from_a_string_by_type() {
    let expected = json!({"status": 201, "body": {"name": "<string>"}});
    let actual = json!({"status": 201, "body": {"name": "<number>"}});
    let differences = compare("s", &expected, &actual, &Allowed::default());
    assert!(
        differences
            .iter()
            .any(|d| d.contract && d.path.ends_with("/body/name")),
        "{differences:?}"
    );
    let same = json!({"status": 201, "body": {"name": "<string>"}});
    assert!(compare("s", &expected, &same, &Allowed::default()).is_empty());
}

#[test]
fn run_specific_values_become_placeholders() {
    let vars = Vars::from([(
        "alice.id".to_owned(),
        "0193a1c0-0000-7000-8000-0000000000aa".to_owned(),
    )]);
    let token = jwt(
        &json!({"sub": "0193a1c0-0000-7000-8000-0000000000aa", "iat": 100, "exp": 1000, "jti": "x", "iss": "http://127.0.0.1:5"}),
    );
    let body = json!({"access_token": token, "created_at": "2026-11-29T10:00:00.123Z", "other": "0193a1c0-0000-7000-8000-0000000000bb", "error_description": "anything"});
    let n = normalise(
        200,
        &[(
            "content-type".to_owned(),
            "application/json; charset=utf-8".to_owned(),
        )],
        &body.to_string(),
        &known_values(&vars, &[]),
        &Secrets::default(),
    );
    assert_eq!(n["headers"]["content-type"], "application/json");
    let claims = &n["body"]["access_token"]["<jwt>"]["claims"];
    assert_eq!(claims["sub"], "<alice.id>");
    assert_eq!(claims["lifetime"], 900);
    assert_eq!(claims["exp"], "<redacted>");
    assert_eq!(claims["iss"], "<string>");
    assert_eq!(
        n["body"]["access_token"]["<jwt>"]["header"]["kid"],
        "<string>"
    );
    assert_eq!(n["body"]["created_at"], "<rfc3339>");
    assert_eq!(n["body"]["other"], "<uuid>");
    assert_eq!(n["body"]["error_description"], "<string>");
}

#[test]
fn lists_keep_one_element_reduced_to_types() {
    let body = json!({"messages": [{"content": "one", "n": 1}, {"content": "two", "n": 2}], "scopes": ["b", "a"]});
    let n = normalise(
        200,
        &[],
        &body.to_string(),
        &known_values(&Vars::new(), &[]),
        &Secrets::default(),
    );
    assert_eq!(
        n["body"]["messages"],
        json!([{"content": "<string>", "n": "<number>"}])
    );
    assert_eq!(n["body"]["scopes"], json!(["a", "b"]));
}

#[test]
fn differences_name_the_path_and_tell_the_contract_from_the_reference() {
    let expected = json!({"status": 200, "body": {"members": [{"user_id": "<uuid>", "role": "<string>"}], "extra": 1}});
    let actual = json!({"status": 200, "body": {"members": [{"user_id": 5, "rank": "<string>"}], "leak": "hash"}});
    let none = Allowed::default();
    let diffs = compare("01 core.members.user", &expected, &actual, &none);
    let find = |p: &str| {
        diffs
            .iter()
            .find(|d| d.path.ends_with(p))
            .unwrap_or_else(|| panic!("{p} in {diffs:?}"))
    };
    assert!(find("/body/members/0/user_id").contract);
    assert!(find("/body/members/0/role").contract);
    assert_eq!(find("/body/members/0/role").actual, "(absent)");
    assert!(!find("/body/members/0/rank").contract);
    assert!(!find("/body/leak").contract);
    assert_eq!(find("/body/extra").actual, "(absent)");
    assert!(compare("s", &expected, &expected, &none).is_empty());
    let status = compare("s", &json!({"status": 200}), &json!({"status": 401}), &none);
    assert!(status[0].contract);
}

#[test]
fn an_allowed_answer_differs_at_the_reference_level_only() {
    let expected = json!({"status": 403, "body": {"error": "forbidden"}});
    let actual = json!({"status": 401, "body": {"error": "invalid_token"}});
    let allowed = Allowed {
        statuses: vec![401, 403],
        errors: vec!["invalid_token".to_owned(), "forbidden".to_owned()],
        ..Allowed::default()
    };
    let diffs = compare("s", &expected, &actual, &allowed);
    assert_eq!(diffs.len(), 2);
    assert!(diffs.iter().all(|d| !d.contract), "{diffs:?}");
    let outside = json!({"status": 500, "body": {"error": "server_error"}});
    let diffs = compare("s", &expected, &outside, &allowed);
    assert!(diffs.iter().all(|d| d.contract), "{diffs:?}");
}

/// What the contract leaves open passes core and strict: RFC 7662's
/// optional members left out, a numeric cursor, another status the
/// step allows (with its own body), any error code where the step
/// names none.
#[test]
fn what_the_contract_leaves_open_differs_at_the_reference_level_only() {
    let active = json!({"status": 200, "body": {"active": true, "sub": "<alice.id>", "iss": "<issuer>", "jti": "<uuid>"}});
    let owed_only = json!({"status": 200, "body": {"active": true, "sub": "<alice.id>"}});
    let introspection = Allowed {
        statuses: vec![200],
        optional: optional_members("/oauth/introspect"),
        ..Allowed::default()
    };
    let diffs = compare("s", &active, &owed_only, &introspection);
    assert_eq!(diffs.len(), 2);
    assert!(diffs.iter().all(|d| !d.contract), "{diffs:?}");
    let no_sub = json!({"status": 200, "body": {"active": true}});
    let diffs = compare("s", &active, &no_sub, &introspection);
    assert!(diffs.iter().any(|d| d.contract), "{diffs:?}");

    let page = json!({"status": 200, "body": {"next_cursor": "1733-ab"}});
    let numeric = json!({"status": 200, "body": {"next_cursor": 17}});
    let diffs = compare("s", &page, &numeric, &Allowed::default());
    assert!(diffs.iter().all(|d| !d.contract), "{diffs:?}");
    let object = json!({"status": 200, "body": {"next_cursor": {"at": 17}}});
    assert!(compare("s", &page, &object, &Allowed::default())[0].contract);

    let token = json!({"status": 200, "body": {"access_token": "<jwt>"}});
    let declined = json!({"status": 401, "body": {"error": "invalid_client"}});
    let may = Allowed {
        statuses: vec![200, 401],
        ..Allowed::default()
    };
    let diffs = compare("s", &token, &declined, &may);
    assert!(
        !diffs.is_empty() && diffs.iter().all(|d| !d.contract),
        "{diffs:?}"
    );

    let refused = json!({"status": 405, "body": {"error": "invalid_request"}});
    let other_code = json!({"status": 405, "body": {"error": "method_not_allowed"}});
    let any_code = Allowed {
        statuses: vec![400, 405],
        ..Allowed::default()
    };
    let diffs = compare("s", &refused, &other_code, &any_code);
    assert!(diffs.iter().all(|d| !d.contract), "{diffs:?}");
}

#[test]
fn an_emptied_list_is_a_contract_difference() {
    let expected = json!({"body": {"members": [{"user_id": "<uuid>"}]}});
    let actual = json!({"body": {"members": []}});
    let diffs = compare("s", &expected, &actual, &Allowed::default());
    assert_eq!(diffs.len(), 1);
    assert!(diffs[0].contract);
}

#[test]
fn snapshot_files_round_trip() {
    let snapshot = Snapshot::from([("00 x".to_owned(), json!({"status": 200}))]);
    let dir = std::env::temp_dir().join(format!("snap-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = file(&dir, "core.x");
    std::fs::write(&path, file_text(&snapshot)).unwrap();
    assert_eq!(read(&path), Some(snapshot));
    std::fs::remove_dir_all(dir).ok();
}
