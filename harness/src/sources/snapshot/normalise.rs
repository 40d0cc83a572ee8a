//! An answer normalised: what the harness knows becomes its name, secrets
//! and run-specific values become placeholders, JWTs are decoded.

use serde_json::{Map, Value, json};

use crate::sources::scenario::Vars;

use super::OPEN_FIELDS;

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
