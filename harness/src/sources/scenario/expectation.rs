//! A step's expectations as the scenario states them: statuses, error
//! codes, headers, challenges, JSON and JWT assertions.

use std::collections::BTreeMap;

use super::model::{ChallengeExpect, Expect, JsonAssert, JsonOp, JsonType, JwtAssert, JwtPart};
use super::raw::{RawExpect, RawJsonAssert, RawJwt, to_json};

pub(super) fn expect(raw: RawExpect) -> Result<Expect, String> {
    let json = raw
        .json
        .into_iter()
        .map(json_assert)
        .collect::<Result<_, _>>()?;
    let (jwt, jwt_verified, jwt_lifetime) = jwts(raw.jwt)?;
    Ok(Expect {
        status: statuses(raw.status)?,
        error: error_codes(raw.error)?,
        headers: lower_keys(raw.headers),
        header_contains: lower_keys(raw.header_contains),
        header_lacks: lower_keys(raw.header_lacks),
        header_absent: raw.header_absent.iter().map(|h| h.to_lowercase()).collect(),
        challenge: raw.challenge.map(|c| ChallengeExpect {
            scheme: c.scheme,
            params: lower_keys(c.params),
            without: c.without.iter().map(|p| p.to_lowercase()).collect(),
        }),
        json,
        jwt,
        jwt_verified,
        jwt_lifetime,
        within_ms: raw.within_ms,
    })
}

/// `expect.status`: one status or a list.
fn statuses(raw: Option<toml::Value>) -> Result<Vec<u16>, String> {
    Ok(match raw {
        None => Vec::new(),
        Some(toml::Value::Integer(n)) => {
            vec![u16::try_from(n).map_err(|_| format!("{n} is no status"))?]
        }
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_integer()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or("statuses are numbers")
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "expect.status is a number or a list, not {}",
                other.type_str()
            ));
        }
    })
}

/// `expect.error`: one code or a list.
fn error_codes(raw: Option<toml::Value>) -> Result<Vec<String>, String> {
    Ok(match raw {
        None => Vec::new(),
        Some(toml::Value::String(code)) => vec![code],
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or("error codes are strings")
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "expect.error is a code or a list of codes, not {}",
                other.type_str()
            ));
        }
    })
}

/// The JWTs an answer carries: assertions on their parts, which must be
/// verified, and which must live as long as the answer says.
type Jwts = (Vec<JwtAssert>, Vec<String>, Vec<(String, String)>);

fn jwts(raw: Vec<RawJwt>) -> Result<Jwts, String> {
    let mut jwt = Vec::new();
    let mut jwt_verified = Vec::new();
    let mut jwt_lifetime = Vec::new();
    for raw_jwt in raw {
        if raw_jwt.verified {
            jwt_verified.push(raw_jwt.at.clone());
        }
        if let Some(expires_in) = raw_jwt.lifetime {
            jwt_lifetime.push((raw_jwt.at.clone(), expires_in));
        }
        for (part, checks) in [
            (JwtPart::Header, raw_jwt.header),
            (JwtPart::Claims, raw_jwt.claims),
        ] {
            if !checks.is_empty() {
                jwt.push(JwtAssert {
                    at: raw_jwt.at.clone(),
                    part,
                    checks: checks
                        .into_iter()
                        .map(json_assert)
                        .collect::<Result<_, _>>()?,
                });
            }
        }
    }
    Ok((jwt, jwt_verified, jwt_lifetime))
}

fn lower_keys(map: BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect()
}

pub(super) fn json_assert(raw: RawJsonAssert) -> Result<JsonAssert, String> {
    let mut ops = Vec::new();
    if let Some(v) = raw.equals {
        ops.push(JsonOp::Equals(to_json(v)));
    }
    if let Some(text) = raw.equals_ignoring_case {
        ops.push(JsonOp::EqualsIgnoringCase(text));
    }
    if let Some(v) = raw.not_equals {
        ops.push(JsonOp::NotEquals(to_json(v)));
    }
    if let Some(kind) = raw.kind {
        ops.push(JsonOp::Type(
            JsonType::parse(&kind).ok_or_else(|| format!("unknown type {kind:?}"))?,
        ));
    }
    if raw.absent == Some(true) {
        ops.push(JsonOp::Absent);
    }
    if raw.present == Some(true) {
        ops.push(JsonOp::Present);
    }
    if let Some(text) = raw.contains {
        ops.push(JsonOp::Contains(text));
    }
    if let Some(item) = raw.item {
        match to_json(toml::Value::Table(item)) {
            serde_json::Value::Object(map) => ops.push(JsonOp::Item(map)),
            _ => return Err("item is a table".to_owned()),
        }
    }
    if let Some(n) = raw.length {
        ops.push(JsonOp::Length(n));
    }
    if let Some(pointer) = raw.distinct {
        ops.push(JsonOp::Distinct(pointer));
    }
    if let Some(values) = raw.one_of {
        ops.push(JsonOp::OneOf(values.into_iter().map(to_json).collect()));
    }
    if let Some(members) = raw.items_lack {
        ops.push(JsonOp::ItemsLack(members));
    }
    if ops.len() != 1 {
        return Err(format!(
            "the assertion on {:?} needs exactly one of equals, equals_ignoring_case, not_equals, type, absent, present, contains, item, length, distinct, one_of, items_lack",
            raw.path
        ));
    }
    Ok(JsonAssert {
        path: raw.path,
        op: ops.remove(0),
    })
}
