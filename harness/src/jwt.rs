//! JWTs read without verifying them: what the harness inspects in answers,
//! in the calls it observes, and in the tokens it forges.

use base64::Engine as _;
use serde_json::Value;

/// One base64url-encoded JSON segment of a token.
pub fn segment(part: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The header.
pub fn header(token: &str) -> Option<Value> {
    segment(token.split('.').next()?)
}

/// The claims.
pub fn claims(token: &str) -> Option<Value> {
    segment(token.split('.').nth(1)?)
}

/// Header and claims of something shaped like a JWT: three parts, the
/// first two JSON objects.
pub fn decode(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let header = segment(parts.next()?)?;
    let claims = segment(parts.next()?)?;
    (parts.next().is_some() && header.is_object() && claims.is_object()).then_some((header, claims))
}
