//! Holding an answer against a step's expectations.

use std::fmt::Write as _;

use serde_json::Value;

use crate::checking::challenge;
use crate::run::client::Answer;
use crate::sources::scenario::{
    ChallengeExpect, Expect, JsonAssert, JsonOp, JsonType, JwtPart, Vars, render, render_value,
};

/// Why an answer does not meet its expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was expected.
    pub expected: String,
    /// What came back.
    pub actual: String,
}

fn mismatch(expected: impl Into<String>, actual: impl Into<String>) -> Mismatch {
    Mismatch {
        expected: expected.into(),
        actual: actual.into(),
    }
}

/// How far a token's `exp - iat` may be from the `expires_in` answered with
/// it: the two are computed a moment apart, and rounded.
const LIFETIME_SLACK_SECS: i64 = 2;

/// Checks an answer; the first mismatch found, if any. `jwks` is the
/// auth-api's key set, for the tokens that must verify with it.
pub fn check(
    expect: &Expect,
    answer: &Answer,
    vars: &Vars,
    jwks: Option<&Value>,
) -> Result<(), Mismatch> {
    check_status(expect, answer)?;
    check_error(expect, answer)?;
    check_headers(expect, answer, vars)?;
    check_body(expect, answer, vars)?;
    check_signatures(expect, answer, jwks)?;
    check_lifetimes(expect, answer)
}

fn render_str(text: &str, vars: &Vars) -> Result<String, Mismatch> {
    render(text, vars).map_err(|e| mismatch("a renderable expectation", e))
}

fn check_status(expect: &Expect, answer: &Answer) -> Result<(), Mismatch> {
    if !expect.status.is_empty() && !expect.status.contains(&answer.status) {
        let wanted: Vec<String> = expect.status.iter().map(u16::to_string).collect();
        return Err(mismatch(
            format!("status {}", wanted.join(" or ")),
            format!("status {}", answer.status),
        ));
    }
    Ok(())
}

/// The contract's error body with one of the codes the step names.
fn check_error(expect: &Expect, answer: &Answer) -> Result<(), Mismatch> {
    if expect.error.is_empty() {
        return Ok(());
    }
    let codes = expect
        .error
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let body = answer.json.as_ref().ok_or_else(|| {
        mismatch(
            format!("the error body {{\"error\": {codes}, …}}"),
            "a body that is not JSON",
        )
    })?;
    let code_ok = body["error"]
        .as_str()
        .is_some_and(|code| expect.error.iter().any(|c| c == code));
    if !code_ok || !body["error_description"].is_string() {
        return Err(mismatch(
            format!("the error body {{\"error\": {codes}, \"error_description\": \"…\"}}"),
            body.to_string(),
        ));
    }
    Ok(())
}

/// Header values: equal to, containing, lacking; the challenge; headers
/// that must be absent.
fn check_headers(expect: &Expect, answer: &Answer, vars: &Vars) -> Result<(), Mismatch> {
    type Holds = fn(&str, &str) -> bool;
    let kinds: [(&_, &str, Holds); 3] = [
        (&expect.headers, ":", |actual, value| actual == value),
        (&expect.header_contains, " containing", |actual, text| {
            actual.contains(text)
        }),
        (&expect.header_lacks, " without", |actual, text| {
            !actual.contains(text)
        }),
    ];
    for (wanted, how, holds) in kinds {
        for (name, value) in wanted {
            let value = render_str(value, vars)?;
            match answer.header(name) {
                Some(actual) if holds(actual, &value) => {}
                other => {
                    return Err(mismatch(
                        format!("header {name}{how} {value}"),
                        format!("header {name}: {}", other.unwrap_or("(absent)")),
                    ));
                }
            }
        }
    }
    if let Some(wanted) = &expect.challenge {
        check_challenge(answer, wanted)?;
    }
    for name in &expect.header_absent {
        if let Some(value) = answer.header(name) {
            return Err(mismatch(
                format!("no {name} header"),
                format!("{name}: {value}"),
            ));
        }
    }
    Ok(())
}

/// The JSON body's assertions, and those on the JWTs inside it.
fn check_body(expect: &Expect, answer: &Answer, vars: &Vars) -> Result<(), Mismatch> {
    if expect.json.is_empty() && expect.jwt.is_empty() {
        return Ok(());
    }
    let body = answer
        .json
        .as_ref()
        .ok_or_else(|| mismatch("a JSON body", "a body that is not JSON"))?;
    for assertion in &expect.json {
        json_check(body, assertion, vars, "")?;
    }
    for jwt in &expect.jwt {
        let at = render_str(&jwt.at, vars)?;
        let token = body
            .pointer(&at)
            .and_then(Value::as_str)
            .ok_or_else(|| mismatch(format!("a JWT at {at}"), "nothing there"))?;
        let part = decode_jwt_part(token, jwt.part)
            .ok_or_else(|| mismatch(format!("a JWT at {at}"), "not a JWT"))?;
        let label = match jwt.part {
            JwtPart::Header => format!("JWT header at {at}"),
            JwtPart::Claims => format!("JWT claims at {at}"),
        };
        for assertion in &jwt.checks {
            json_check(&part, assertion, vars, &label)?;
        }
    }
    Ok(())
}

/// The JWTs that must verify with the auth-api's key set.
fn check_signatures(
    expect: &Expect,
    answer: &Answer,
    jwks: Option<&Value>,
) -> Result<(), Mismatch> {
    for at in &expect.jwt_verified {
        let token = jwt_at(answer, at)?;
        let jwks = jwks
            .ok_or_else(|| mismatch("the auth-api's JWKS", "no JWKS at /.well-known/jwks.json"))?;
        crate::jwt::verify_with(token, jwks).map_err(|why| {
            mismatch(
                format!("the JWT at {at} signed with the JWKS key its kid names"),
                why,
            )
        })?;
    }
    Ok(())
}

/// The JWTs whose `exp - iat` must be the `expires_in` answered with them.
fn check_lifetimes(expect: &Expect, answer: &Answer) -> Result<(), Mismatch> {
    for (at, expires_in) in &expect.jwt_lifetime {
        let claims = crate::jwt::claims(jwt_at(answer, at)?).unwrap_or_default();
        let told = answer.json.as_ref().and_then(|j| j.pointer(expires_in));
        let lived = claims["exp"]
            .as_i64()
            .zip(claims["iat"].as_i64())
            .map(|(e, i)| e - i);
        match (lived, told.and_then(Value::as_i64)) {
            (Some(lived), Some(told)) if (lived - told).abs() <= LIFETIME_SLACK_SECS => {}
            _ => {
                return Err(mismatch(
                    format!("the JWT at {at} living (exp - iat) the {expires_in} answered"),
                    format!(
                        "exp - iat = {}, {expires_in} = {}",
                        lived.map_or_else(|| "(no exp or iat)".to_owned(), |l| l.to_string()),
                        show(told)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A value found, or `(absent)`.
fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

/// The JWT at a pointer of the answer.
fn jwt_at<'a>(answer: &'a Answer, at: &str) -> Result<&'a str, Mismatch> {
    answer
        .json
        .as_ref()
        .and_then(|j| j.pointer(at))
        .and_then(Value::as_str)
        .ok_or_else(|| mismatch(format!("a JWT at {at}"), "nothing there"))
}

/// A JWT's header or claims, decoded without verification.
pub fn decode_jwt_part(token: &str, part: JwtPart) -> Option<Value> {
    match part {
        JwtPart::Header => crate::jwt::header(token),
        JwtPart::Claims => crate::jwt::claims(token),
    }
}

/// The answer's `WWW-Authenticate` fields carry a challenge of the wanted
/// scheme with the wanted auth-params and without the unwanted ones.
fn check_challenge(answer: &Answer, wanted: &ChallengeExpect) -> Result<(), Mismatch> {
    let fields: Vec<&str> = answer
        .headers
        .iter()
        .filter(|(name, _)| name == "www-authenticate")
        .map(|(_, value)| value.as_str())
        .collect();
    let mut expected = format!("a {} challenge", wanted.scheme);
    for (name, value) in &wanted.params {
        let _ = write!(expected, ", {name}={value:?}");
    }
    for name in &wanted.without {
        let _ = write!(expected, ", no {name}");
    }
    let holds = |c: &challenge::Challenge| {
        c.scheme.eq_ignore_ascii_case(&wanted.scheme)
            && wanted.params.iter().all(|(name, value)| {
                c.params.get(name).is_some_and(|got| {
                    if name == "scope" {
                        let got: Vec<&str> = got.split(' ').collect();
                        value.split(' ').all(|s| got.contains(&s))
                    } else {
                        got == value
                    }
                })
            })
            && wanted
                .without
                .iter()
                .all(|name| !c.params.contains_key(name))
    };
    if challenge::parse(fields.iter().copied()).iter().any(holds) {
        Ok(())
    } else {
        let actual = if fields.is_empty() {
            "no WWW-Authenticate".to_owned()
        } else {
            format!("WWW-Authenticate: {}", fields.join(" | "))
        };
        Err(mismatch(expected, actual))
    }
}

fn json_check(
    doc: &Value,
    assertion: &JsonAssert,
    vars: &Vars,
    within: &str,
) -> Result<(), Mismatch> {
    let path = render(&assertion.path, vars).map_err(|e| mismatch("a renderable path", e))?;
    let place = if within.is_empty() {
        format!("{path:?}")
    } else {
        format!("{path:?} of the {within}")
    };
    let found = doc.pointer(&path);
    match &assertion.op {
        op @ (JsonOp::Item(_) | JsonOp::Length(_) | JsonOp::Distinct(_) | JsonOp::ItemsLack(_)) => {
            collection_check(op, found, &place, vars)
        }
        op => value_check(op, found, &place, vars),
    }
}

/// An assertion on one value: equal, not equal, of a type, absent,
/// present, containing, one of.
fn value_check(
    op: &JsonOp,
    found: Option<&Value>,
    place: &str,
    vars: &Vars,
) -> Result<(), Mismatch> {
    let rendered = |text: &str| render(text, vars).map_err(|e| mismatch("a renderable value", e));
    let unlike = |expected: String| Err(mismatch(expected, format!("{place} = {}", show(found))));
    match op {
        JsonOp::Equals(expected) => {
            let expected =
                render_value(expected, vars).map_err(|e| mismatch("a renderable value", e))?;
            if found != Some(&expected) {
                return unlike(format!("{place} = {expected}"));
            }
        }
        JsonOp::NotEquals(unexpected) => {
            let unexpected =
                render_value(unexpected, vars).map_err(|e| mismatch("a renderable value", e))?;
            // An absent field is not "another value": it shows nothing.
            match found {
                None => {
                    return Err(mismatch(
                        format!("{place} present and ≠ {unexpected}"),
                        format!("{place} absent"),
                    ));
                }
                Some(value) if *value == unexpected => {
                    return Err(mismatch(
                        format!("{place} ≠ {unexpected}"),
                        format!("{place} = {unexpected}"),
                    ));
                }
                Some(_) => {}
            }
        }
        JsonOp::Type(kind) if !found.is_some_and(|v| has_type(v, *kind)) => {
            return unlike(format!("{place} of type {kind:?}"));
        }
        JsonOp::Absent => {
            if let Some(v) = found {
                return Err(mismatch(format!("no {place}"), format!("{place} = {v}")));
            }
        }
        JsonOp::Present if found.is_none() => {
            return Err(mismatch(format!("{place} present"), "(absent)"));
        }
        JsonOp::EqualsIgnoringCase(text) => {
            let text = rendered(text)?;
            let str_found = found.and_then(Value::as_str);
            if !str_found.is_some_and(|s| s.eq_ignore_ascii_case(&text)) {
                return unlike(format!("{place} = {text:?}, in any case"));
            }
        }
        JsonOp::Contains(text) => {
            let text = rendered(text)?;
            if !found
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains(&text))
            {
                return unlike(format!("{place} containing {text:?}"));
            }
        }
        JsonOp::OneOf(allowed) if !found.is_some_and(|v| allowed.contains(v)) => {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return unlike(format!("{place} one of {}", list.join(", ")));
        }
        _ => {}
    }
    Ok(())
}

/// An assertion on an array (or a string's length): an item, a length,
/// distinct members, members no item has.
fn collection_check(
    op: &JsonOp,
    found: Option<&Value>,
    place: &str,
    vars: &Vars,
) -> Result<(), Mismatch> {
    match op {
        JsonOp::Item(fields) => {
            let fields = render_value(&Value::Object(fields.clone()), vars)
                .map_err(|e| mismatch("a renderable value", e))?;
            let wanted = fields.as_object().cloned().unwrap_or_default();
            let has = found.and_then(Value::as_array).is_some_and(|items| {
                items
                    .iter()
                    .any(|item| wanted.iter().all(|(k, v)| item.get(k) == Some(v)))
            });
            if !has {
                return Err(mismatch(
                    format!("{place} holding an item with {fields}"),
                    format!("{place} = {}", show(found)),
                ));
            }
        }
        JsonOp::Length(n) => {
            let len = found.and_then(|v| {
                v.as_array()
                    .map(Vec::len)
                    .or_else(|| v.as_str().map(|s| s.chars().count()))
            });
            if len != Some(*n) {
                return Err(mismatch(
                    format!("{place} of length {n}"),
                    format!("{place} = {}", show(found)),
                ));
            }
        }
        JsonOp::Distinct(pointer) => {
            let Some(items) = found.and_then(Value::as_array) else {
                return Err(mismatch(
                    format!("{place}: an array"),
                    format!("{place} = {}", show(found)),
                ));
            };
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = items
                .iter()
                .map(|item| item.pointer(pointer).unwrap_or(&Value::Null))
                .find(|value| !seen.insert(value.to_string()))
            {
                return Err(mismatch(
                    format!("{place}: every item's {pointer} once"),
                    format!("{twice} more than once among {} items", items.len()),
                ));
            }
        }
        JsonOp::ItemsLack(members) => {
            let items = found.and_then(Value::as_array).filter(|i| !i.is_empty());
            let Some(items) = items else {
                return Err(mismatch(
                    format!("{place}: a non-empty array"),
                    format!("{place} = {}", show(found)),
                ));
            };
            for (index, item) in items.iter().enumerate() {
                if let Some(member) = members.iter().find(|m| item.get(m.as_str()).is_some()) {
                    return Err(mismatch(
                        format!("no item of {place} with {member}"),
                        format!("{place}/{index} has {member}"),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn has_type(value: &Value, kind: JsonType) -> bool {
    match kind {
        JsonType::String => value.is_string(),
        JsonType::Number => value.is_number(),
        JsonType::Integer => value.is_i64() || value.is_u64(),
        JsonType::Boolean => value.is_boolean(),
        JsonType::Array => value.is_array(),
        JsonType::Object => value.is_object(),
        JsonType::Null => value.is_null(),
        JsonType::Uuid => value
            .as_str()
            .and_then(|s| {
                uuid::Uuid::parse_str(s)
                    .ok()
                    .filter(|u| u.hyphenated().to_string() == s)
            })
            .is_some(),
        JsonType::Timestamp => value
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .is_some_and(|t| t.offset().local_minus_utc() == 0),
        JsonType::Id => value.as_str().is_some_and(|s| !s.is_empty()),
        JsonType::Cursor => value.is_number() || value.as_str().is_some_and(|s| !s.is_empty()),
    }
}
