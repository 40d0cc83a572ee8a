//! An answer held against its snapshot: the differences, whether the
//! contract names each, and the snapshot checks' verdicts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::checking::verdict::{Spec, Verdict};
use crate::sources::scenario::Level;

use super::CONTRACT_FIELDS;
use super::files::Snapshot;

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
