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

/// Whether a token's signature verifies with the key of the JWKS its
/// `kid` names, by the algorithm that key is for; why not, if it does not.
/// Only the signature: what the claims say is for other checks.
pub fn verify_with(token: &str, jwks: &Value) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
    let kid = header.kid.ok_or("no kid in its header")?;
    let jwk = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| format!("no key {kid:?} in the JWKS"))?;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone())
        .map_err(|e| format!("the JWKS's key {kid:?} is not a JWK: {e}"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
        .map_err(|e| format!("the JWKS's key {kid:?} is unusable: {e}"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|_| ())
        .map_err(|e| format!("its signature does not verify with key {kid:?}: {e}"))
}
