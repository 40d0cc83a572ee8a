//! Forged and malformed tokens, built from a real user token of the target,
//! for the JWT attack scenarios (`scenarios/strict/jwt-attacks.toml`). Each
//! becomes a scenario value `{{attack.NAME}}`; a correct service answers
//! every one of them 401 `invalid_token`.
//!
//! The attacks that need the target's own signing key (an expired token, a
//! wrong issuer, a missing claim) are built only when the harness holds it:
//! always for the reference, with `--signing-key` for a deployment.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use reference_shared::SigningKey;
use serde_json::{Value, json};

use crate::scenario::Vars;

/// The attacker's own key pair (not the target's).
const ATTACKER_KEY: &[u8] = include_bytes!("../../fixtures/keys/other-ed25519.pem");

/// Every attack name; the signing-key ones last.
pub const ATTACKS: &[&str] = &[
    "alg_none",
    "alg_none_capitalised",
    "alg_none_upper",
    "signature_removed",
    "signature_altered",
    "hmac_with_public_key",
    "unknown_kid",
    "kid_path_traversal",
    "kid_injection",
    "embedded_jwk",
    "jku_elsewhere",
    "other_key_same_kid",
];

/// The attacks that need the target's signing key.
pub const SIGNED_ATTACKS: &[&str] = &[
    "expired",
    "expired_beyond_leeway",
    "client_id_mismatch",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "no_exp",
    "no_iss",
    "no_aud",
    "no_sub",
    "no_iat",
    "no_jti",
    "user_with_client_id",
    "user_with_scope",
];

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn decode_part(part: &str) -> Option<Value> {
    crate::jwt::segment(part)
}

/// The attack tokens, as scenario values, from a user token and the
/// target's key set; `forger` is the target's own key, when known.
pub fn attack_vars(
    user_token: &str,
    jwks: &Value,
    forger: Option<&SigningKey>,
) -> Result<Vars, String> {
    let mut parts = user_token.split('.');
    let (Some(h), Some(c), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("the user token is not a JWS".to_owned());
    };
    let header = decode_part(h).ok_or("the user token's header is not JSON")?;
    let claims = decode_part(c).ok_or("the user token's claims are not JSON")?;
    let key = &jwks["keys"][0];
    let kid = key["kid"].as_str().unwrap_or_default().to_owned();
    let attacker = SigningKey::from_pem(ATTACKER_KEY).map_err(|e| e.to_string())?;
    let attacker_jwk = serde_json::to_value(&attacker.jwks().keys[0]).map_err(|e| e.to_string())?;
    let sign_attacker = |header: &Value| {
        attacker
            .sign_raw(header, &claims)
            .map_err(|e| e.to_string())
    };
    let with = |changes: Value| {
        let mut h = header.clone();
        if let (Some(h), Some(changes)) = (h.as_object_mut(), changes.as_object()) {
            for (k, v) in changes {
                h.insert(k.clone(), v.clone());
            }
        }
        h
    };
    let unsigned = |h: &Value| format!("{}.{}.", b64(h), c);
    let resigned_header = |h: &Value| format!("{}.{}.{signature}", b64(h), c);

    let mut tokens: Vec<(&str, String)> = vec![
        ("alg_none", unsigned(&with(json!({ "alg": "none" })))),
        (
            "alg_none_capitalised",
            unsigned(&with(json!({ "alg": "None" }))),
        ),
        ("alg_none_upper", unsigned(&with(json!({ "alg": "NONE" })))),
        ("signature_removed", format!("{h}.{c}.")),
        ("signature_altered", format!("{h}.{c}.{}", alter(signature))),
        (
            "unknown_kid",
            resigned_header(&with(json!({ "kid": "conformance-unknown-kid" }))),
        ),
        (
            "kid_path_traversal",
            resigned_header(&with(json!({ "kid": "../../../../../../dev/null" }))),
        ),
        (
            "kid_injection",
            resigned_header(&with(json!({ "kid": "x' OR '1'='1" }))),
        ),
        (
            "embedded_jwk",
            sign_attacker(&with(json!({ "kid": attacker.kid(), "jwk": attacker_jwk })))?,
        ),
        (
            "jku_elsewhere",
            sign_attacker(&with(
                json!({ "kid": attacker.kid(), "jku": "http://127.0.0.1:9/jwks.json" }),
            ))?,
        ),
        (
            "other_key_same_kid",
            sign_attacker(&with(json!({ "kid": kid })))?,
        ),
    ];
    // The public key used as an HMAC secret: a verifier that takes the
    // algorithm from the token checks this with the key it publishes.
    let public = key["x"]
        .as_str()
        .and_then(|x| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(x)
                .ok()
        })
        .unwrap_or_default();
    let hs_header = with(json!({ "alg": "HS256" }));
    let message = format!("{}.{c}", b64(&hs_header));
    let secret = EncodingKey::from_secret(&public).map_err(|e| e.to_string())?;
    let mac = jsonwebtoken::crypto::sign(message.as_bytes(), &secret, Algorithm::HS256)
        .map_err(|e| e.to_string())?;
    tokens.push(("hmac_with_public_key", format!("{message}.{mac}")));

    if let Some(forger) = forger {
        let now = chrono::Utc::now().timestamp();
        let change = |changes: Value, remove: &[&str]| {
            let mut claims = claims.clone();
            if let Some(map) = claims.as_object_mut() {
                for key in remove {
                    map.remove(*key);
                }
                if let Some(changes) = changes.as_object() {
                    for (k, v) in changes {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
            forger.sign_raw(&header, &claims).map_err(|e| e.to_string())
        };
        let sub = claims["sub"].clone();
        tokens.extend([
            (
                "expired",
                change(
                    json!({ "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600 }),
                    &[],
                )?,
            ),
            (
                "expired_beyond_leeway",
                change(
                    json!({ "iat": now - 1020, "nbf": now - 1020, "exp": now - 120 }),
                    &[],
                )?,
            ),
            (
                "client_id_mismatch",
                change(json!({ "client_id": "conformance-another-client" }), &[])?,
            ),
            (
                "not_yet_valid",
                change(json!({ "nbf": now + 3600, "exp": now + 7200 }), &[])?,
            ),
            (
                "wrong_issuer",
                change(json!({ "iss": "https://issuer.invalid" }), &[])?,
            ),
            (
                "wrong_audience",
                change(json!({ "aud": "some-other-api" }), &[])?,
            ),
            ("no_exp", change(json!({}), &["exp"])?),
            ("no_iss", change(json!({}), &["iss"])?),
            ("no_aud", change(json!({}), &["aud"])?),
            ("no_sub", change(json!({}), &["sub"])?),
            ("no_iat", change(json!({}), &["iat"])?),
            ("no_jti", change(json!({}), &["jti"])?),
            (
                "user_with_client_id",
                change(json!({ "client_id": sub }), &[])?,
            ),
            (
                "user_with_scope",
                change(json!({ "scope": "groups:read" }), &[])?,
            ),
        ]);
    }
    Ok(tokens
        .into_iter()
        .map(|(name, token)| (format!("attack.{name}"), token))
        .collect())
}

/// The signature with its first character changed.
fn alter(signature: &str) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}
