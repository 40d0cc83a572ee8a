//! Snapshots: every step's response normalised so that two runs, or two
//! implementations, can be compared field by field. The reference's are
//! committed in `scenarios/snapshots/` (insta's `.snap` format, reviewed
//! with `cargo insta review`); any other target is held against them, and
//! `conformance snapshot` writes a deployment's for comparing two
//! deployments.
//!
//! # Normalisation (the one documented place)
//! - Values the harness knows (ids, emails and names of its accounts, the
//!   group, captured values, the target's URLs) become `<name>`
//!   (`<alice.id>`), so a `sub` that is bob's instead of alice's shows.
//! - Secrets become `<secret>`; any other UUID `<uuid>`; RFC 3339 times
//!   `<rfc3339>`.
//! - A JWT becomes `{"<jwt>": {"header": …, "claims": …}}`, decoded; its
//!   `iat`, `exp`, `nbf` and `jti` become `<redacted>` and `exp - iat` is
//!   kept as `"lifetime"`. `exp`, `iat` and `nbf` numbers elsewhere
//!   (introspection) become `<time>`.
//! - OPEN fields are compared by type only: free text, and what the
//!   contract leaves to each deployment ([`OPEN_FIELDS`]).
//! - Arrays of scalars are sorted (no array of scalars in the contract has
//!   an order); arrays of objects keep one element, reduced to its types
//!   (lists change with what other scenarios wrote).
//! - Headers kept: `content-type` (without parameters), `cache-control`,
//!   `pragma`, `www-authenticate` (error descriptions cut), `location`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::checking::verdict::{Spec, Verdict};
use crate::sources::scenario::{Level, Vars};

/// Fields compared by type only, wherever they appear: free text, and
/// values each deployment chooses (its keys, issuer, audience, cursors).
pub const OPEN_FIELDS: &[&str] = &[
    "error_description",
    "next_cursor",
    "kid",
    "x",
    "y",
    "n",
    "e",
    "iss",
    "aud",
    "issuer",
    "name",
];

/// Fields the contract names in its tables: a difference in their
/// presence or type (or in a status or error code) is a core failure; any
/// other difference is strict.
pub const CONTRACT_FIELDS: &[&str] = &[
    "access_token",
    "token_type",
    "expires_in",
    "scope",
    "id",
    "email",
    "name",
    "org_id",
    "created_at",
    "members",
    "user_id",
    "role",
    "joined_at",
    "client_id",
    "client_secret",
    "scopes",
    "active",
    "sub",
    "exp",
    "iat",
    "messages",
    "next_cursor",
    "group_id",
    "sender_id",
    "content",
    "error",
    "error_description",
    "keys",
    "issuer",
    "token_endpoint",
    "jwks_uri",
    "introspection_endpoint",
    "revocation_endpoint",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
    "scopes_supported",
    "type",
    "jti",
    "iss",
    "aud",
];

const HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "pragma",
    "www-authenticate",
    "location",
];

/// The names of variables whose values are secret, so never written.
fn is_secret_var(name: &str) -> bool {
    name.ends_with(".password") || name.starts_with("admin.") || name.starts_with("attack.")
}

/// What a step's answer looked like, normalised.
pub fn normalise(
    status: u16,
    headers: &[(String, String)],
    body: &str,
    known: &[(String, String)],
    secrets: &crate::run::redact::Secrets,
) -> Value {
    let mut kept = Map::new();
    for name in HEADERS {
        if let Some((_, value)) = headers.iter().find(|(n, _)| n == name) {
            let value = match *name {
                "content-type" => value.split(';').next().unwrap_or("").trim().to_owned(),
                "www-authenticate" => value
                    .split(", error_description")
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                _ => value.clone(),
            };
            kept.insert((*name).to_owned(), text(&secrets.redact(&value), known));
        }
    }
    let body = match serde_json::from_str::<Value>(body) {
        Ok(json) => value(&json, known, secrets, None, false),
        Err(_) if body.is_empty() => Value::Null,
        Err(_) => json!("<not JSON>"),
    };
    json!({ "status": status, "headers": kept, "body": body })
}

/// The values the harness knows (its variables, and `extra` such as the
/// target's URLs), longest first, with their placeholders; secrets left out.
pub fn known_values(vars: &Vars, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut known: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(extra.iter().copied())
        .filter(|(name, value)| {
            !is_secret_var(name) && !name.starts_with("text.") && value.len() >= 6
        })
        .map(|(name, value)| (value.to_owned(), format!("<{name}>")))
        .collect();
    known.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    known
}

fn text(value: &str, known: &[(String, String)]) -> Value {
    let mut out = value.to_owned();
    for (value, placeholder) in known {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), placeholder);
        }
    }
    // Any other id.
    let out: String = out
        .split('/')
        .map(|part| {
            if uuid::Uuid::parse_str(part).is_ok() && part.len() >= 32 {
                "<uuid>"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    Value::String(out)
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "<null>",
        Value::Bool(_) => "<bool>",
        Value::Number(_) => "<number>",
        Value::String(_) => "<string>",
        Value::Array(_) => "<array>",
        Value::Object(_) => "<object>",
    }
}

fn value(
    json: &Value,
    known: &[(String, String)],
    secrets: &crate::run::redact::Secrets,
    field: Option<&str>,
    types_only: bool,
) -> Value {
    if field.is_some_and(|f| OPEN_FIELDS.contains(&f)) {
        // `next_cursor` is null on the last page and a string before it.
        return if field == Some("next_cursor") {
            json!("<cursor>")
        } else {
            json!(type_of(json))
        };
    }
    match json {
        Value::String(s) => {
            if let Some((header, mut claims)) = crate::jwt::decode(s) {
                let lifetime = claims["exp"]
                    .as_i64()
                    .zip(claims["iat"].as_i64())
                    .map(|(e, i)| e - i);
                if let Some(map) = claims.as_object_mut() {
                    for time in ["iat", "exp", "nbf", "jti"] {
                        if map.contains_key(time) {
                            map.insert(time.to_owned(), json!("<redacted>"));
                        }
                    }
                    if let Some(lifetime) = lifetime {
                        map.insert("lifetime".to_owned(), json!(lifetime));
                    }
                }
                return json!({ "<jwt>": {
                    "header": value(&header, known, secrets, None, false),
                    "claims": value(&claims, known, secrets, None, false),
                }});
            }
            let redacted = secrets.redact(s);
            if redacted.contains('$') && redacted != *s {
                return json!("<secret>");
            }
            if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                return json!("<rfc3339>");
            }
            if field == Some("client_secret") {
                return json!("<secret>");
            }
            let normalised = text(s, known);
            if types_only && normalised.as_str() == Some(s) {
                return json!("<string>");
            }
            normalised
        }
        Value::Number(_) if matches!(field, Some("exp" | "iat" | "nbf")) => json!("<time>"),
        Value::Number(_) | Value::Bool(_) if types_only => json!(type_of(json)),
        Value::Array(items) => {
            if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                let mut items: Vec<Value> = items
                    .iter()
                    .map(|i| value(i, known, secrets, field, types_only))
                    .collect();
                items.sort_by_key(Value::to_string);
                items.dedup();
                Value::Array(items)
            } else {
                Value::Array(
                    items
                        .first()
                        .map(|first| value(first, known, secrets, field, true))
                        .into_iter()
                        .collect(),
                )
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), value(v, known, secrets, Some(k), types_only)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One difference between a snapshot and an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where: the step, then a JSON pointer.
    pub path: String,
    /// The snapshot's value.
    pub expected: String,
    /// The answer's.
    pub actual: String,
    /// Whether the contract names this (a status or error code outside
    /// those the step allows, a documented field missing or of another
    /// type, a documented list emptied): a difference at the scenario's
    /// own level, not only at the reference level.
    pub contract: bool,
}

/// What a step allows, by the contract: answers within it differ from the
/// reference's only at the reference level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    /// The statuses the step accepts (empty: the snapshot's only).
    pub statuses: Vec<u16>,
    /// The error codes the step accepts (empty: any, the step names none).
    pub errors: Vec<String>,
    /// Members the answer may leave out ([`optional_members`]).
    pub optional: &'static [&'static str],
}

/// The members an answer of this endpoint may leave out though the
/// reference sends them: RFC 7662's optional members of an active
/// introspection answer (the contract owes `active`, `sub`, `exp`, `iat`,
/// `token_type`, and `client_id` and `scope` where they apply).
pub fn optional_members(path: &str) -> &'static [&'static str] {
    if path.starts_with("/oauth/introspect") {
        &["iss", "aud", "jti", "username", "nbf", "client_id", "scope"]
    } else {
        &[]
    }
}

/// Whether the contract lets a field take either of two JSON types: a
/// cursor is a string or a number, or null on the last page.
/// A value of the JSON type a snapshot value stands for: a type
/// placeholder (`"<number>"`, written for a value only its type matters
/// of) stands for its type, any other value for itself. Without it a name
/// answered as a number (`"<number>"`) would pass for the `"<string>"` the
/// snapshot holds: both are strings in the snapshot.
fn stands_for(value: &Value) -> Value {
    match value.as_str() {
        Some("<null>") => Value::Null,
        Some("<bool>") => Value::Bool(false),
        Some("<number>" | "<time>") => json!(0),
        Some("<array>") => json!([]),
        Some("<object>") => json!({}),
        _ => value.clone(),
    }
}

fn either_type(field: &str, a: &Value, b: &Value) -> bool {
    let cursor = |v: &Value| v.is_string() || v.is_number() || v.is_null();
    field == "next_cursor" && cursor(a) && cursor(b)
}

/// A step's normalised answer and what its step allows.
#[derive(Debug, Clone)]
pub struct Taken {
    /// The answer, normalised.
    pub answer: Value,
    /// The step's allowed statuses and error codes.
    pub allowed: Allowed,
}

/// Differences for people: each path, then expected and actual.
pub fn render(differences: &[&Difference]) -> String {
    let mut out = String::new();
    for d in differences {
        let _ = writeln!(
            out,
            "{}\n    expected: {}\n    actual:   {}",
            d.path, d.expected, d.actual
        );
    }
    out
}

/// The differences between a snapshot's step and an answer's; a status
/// or error code the step allows is a difference at the reference level
/// only.
///
/// Another status the step allows is another answer: its body and headers
/// are not the snapshot's to judge, so they too differ at the reference
/// level only. A step that names no error code allows any.
pub fn compare(step: &str, expected: &Value, actual: &Value, allowed: &Allowed) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(
        &format!("{step}: "),
        "",
        expected,
        actual,
        allowed.optional,
        &mut out,
    );
    let other_answer = expected["status"] != actual["status"]
        && actual["status"]
            .as_u64()
            .is_some_and(|s| allowed.statuses.iter().any(|a| u64::from(*a) == s));
    for d in &mut out {
        let at = d.path.rsplit_once(": ").map_or("", |(_, p)| p);
        let permitted = other_answer
            || (at == "/body/error"
                && actual["body"]["error"].as_str().is_some_and(|e| {
                    allowed.errors.is_empty() || allowed.errors.iter().any(|a| a == e)
                }));
        if permitted {
            d.contract = false;
        }
    }
    out
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

fn walk(
    step: &str,
    path: &str,
    expected: &Value,
    actual: &Value,
    optional: &[&str],
    out: &mut Vec<Difference>,
) {
    let field = path.rsplit('/').next().unwrap_or("");
    let documented = CONTRACT_FIELDS.contains(&field) || path == "/status" || path == "/body/error";
    let push = |out: &mut Vec<Difference>, contract: bool, e: Option<&Value>, a: Option<&Value>| {
        out.push(Difference {
            path: format!("{step}{}", if path.is_empty() { "/" } else { path }),
            expected: show(e),
            actual: show(a),
            contract,
        });
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                match a.get(key) {
                    Some(other) => walk(step, &child, value, other, optional, out),
                    None => out.push(Difference {
                        path: format!("{step}{child}"),
                        expected: value.to_string(),
                        actual: "(absent)".to_owned(),
                        contract: CONTRACT_FIELDS.contains(&key.as_str())
                            && !optional.contains(&key.as_str()),
                    }),
                }
            }
            for (key, value) in a {
                if !e.contains_key(key) {
                    out.push(Difference {
                        path: format!("{step}{path}/{key}"),
                        expected: "(absent)".to_owned(),
                        actual: value.to_string(),
                        contract: false,
                    });
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            // Arrays of objects keep one element: compare shapes when both
            // have one. A list the snapshot has items in and the answer
            // has none of is a difference (an emptied member list).
            if !e.is_empty() && a.is_empty() {
                push(out, documented, Some(expected), Some(actual));
            } else if let (Some(Value::Object(_)), Some(Value::Object(_))) = (e.first(), a.first())
            {
                walk(step, &format!("{path}/0"), &e[0], &a[0], optional, out);
            } else if e.iter().all(|i| !i.is_object()) && a.iter().all(|i| !i.is_object()) && e != a
            {
                push(out, false, Some(expected), Some(actual));
            }
        }
        (e, a) if e == a => {}
        (e, a) => {
            let same_type = std::mem::discriminant(&stands_for(e))
                == std::mem::discriminant(&stands_for(a))
                || either_type(field, e, a);
            push(
                out,
                documented && (!same_type || path == "/status" || path == "/body/error"),
                Some(e),
                Some(a),
            );
        }
    }
}

/// The snapshot checks of a scenario (`checks`: id, level, rule), its
/// answers held against `expected` (read from `path`, `None` when there is
/// none). A check at the
/// reference level sees every difference; one at core or strict those the
/// contract names.
pub fn verdicts(
    scenario_id: &str,
    checks: &[(String, Level, &str)],
    taken: &BTreeMap<String, Taken>,
    expected: Option<Snapshot>,
    path: &str,
) -> Vec<(Spec, Verdict)> {
    let spec = |id: &str, level: Level, rule: &str| {
        let mut spec = Spec::generated(
            id,
            level,
            rule,
            path,
            "the answers, field by field, against the snapshot",
        );
        scenario_id.clone_into(&mut spec.scenario_id);
        spec
    };
    let Some(expected) = expected else {
        return checks
            .iter()
            .map(|(id, level, rule)| {
                (
                    spec(id, *level, rule),
                    Verdict::skipped("no snapshot for this scenario"),
                )
            })
            .collect();
    };
    let mut differences = Vec::new();
    for (key, taken) in taken {
        match expected.get(key) {
            Some(snap) => differences.extend(compare(key, snap, &taken.answer, &taken.allowed)),
            None => differences.push(Difference {
                path: format!("{key}: /"),
                expected: "(no such step in the snapshot)".to_owned(),
                actual: taken.answer.to_string(),
                contract: false,
            }),
        }
    }
    checks
        .iter()
        .map(|(id, level, rule)| {
            let mine: Vec<&Difference> = differences
                .iter()
                .filter(|d| *level == Level::Reference || d.contract)
                .collect();
            let verdict = if mine.is_empty() {
                Verdict::passed(format!("{} answer(s) match the snapshot", taken.len()))
            } else {
                Verdict::failed(
                    format!("{} difference(s) from the snapshot", mine.len()),
                    "the snapshot's fields and types",
                    render(&mine),
                )
            };
            (spec(id, *level, rule), verdict)
        })
        .collect()
}

/// A scenario's snapshot: step key to normalised answer.
pub type Snapshot = BTreeMap<String, Value>;

/// The key of a step in its scenario's snapshot.
pub fn step_key(index: usize, check: Option<&str>, name: &str) -> String {
    match check {
        Some(id) => format!("{index:02} {id}"),
        None => format!("{index:02} set-up: {name}"),
    }
}

/// The committed snapshots of the reference, in the source tree (what
/// `--update-snapshots` rewrites).
pub fn bundled_dir() -> PathBuf {
    crate::bundled_scenarios().join("snapshots")
}

/// The file of a scenario's snapshot in `dir`.
pub fn file(dir: &Path, scenario_id: &str) -> PathBuf {
    dir.join(format!("{scenario_id}.snap"))
}

/// The snapshot's text as insta writes it, so that `cargo insta review`
/// and `conformance run --update-snapshots` write the same files.
pub fn contents(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_default()
}

/// A whole `.snap` file: insta's header, then the contents.
pub fn file_text(snapshot: &Snapshot) -> String {
    format!(
        "---\nsource: harness/tests/harness/snapshots.rs\nexpression: \"snapshot::contents(&snapshot)\"\n---\n{}\n",
        contents(snapshot)
    )
}

/// Reads a `.snap` file; `None` when there is none.
pub fn read(path: &Path) -> Option<Snapshot> {
    parse_text(&std::fs::read_to_string(path).ok()?)
}

/// A snapshot file's text, parsed.
pub fn parse_text(text: &str) -> Option<Snapshot> {
    let body = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(text, |(_, body)| body);
    serde_json::from_str(body).ok()
}

/// Where a run's snapshots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The reference's, embedded in the binary.
    Bundled,
    /// A folder of `.snap` files (`conformance snapshot --out`).
    Dir(PathBuf),
}

impl Source {
    /// A scenario's snapshot and where it was looked for.
    pub fn load(&self, scenario_id: &str) -> (Option<Snapshot>, String) {
        match self {
            Self::Bundled => (
                crate::sources::scenario::bundled_snapshot(scenario_id).and_then(parse_text),
                format!("scenarios/snapshots/{scenario_id}.snap"),
            ),
            Self::Dir(dir) => {
                let path = file(dir, scenario_id);
                (read(&path), path.display().to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::redact::Secrets;

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
}
