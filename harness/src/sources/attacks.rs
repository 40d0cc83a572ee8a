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

use crate::sources::scenario::Vars;

/// The attacker's own key pair (not the target's).
const ATTACKER_KEY: &[u8] = include_bytes!("../../../fixtures/keys/other-ed25519.pem");

/// Every attack name; the signing-key ones last.
pub const ATTACKS: &[&str] = &[
    "alg_none",
    "alg_none_capitalised",
    "alg_none_upper",
    "signature_removed",
    "signature_altered",
    "hmac_with_public_key",
    "hmac_with_public_key_pem",
    "hmac_with_public_key_der",
    "embedded_jwk",
    "jku_elsewhere",
    "other_key_same_kid",
    "fresh_kid",
];

/// The attacks that need the target's signing key.
pub const SIGNED_ATTACKS: &[&str] = &[
    "unknown_kid",
    "kid_path_traversal",
    "kid_injection",
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
    "service_client_id_mismatch",
    "user_without_type",
    "user_non_uuid_sub",
];

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn decode_part(part: &str) -> Option<Value> {
    crate::jwt::segment(part)
}

/// The user token the attacks are cut from: its header and claims,
/// decoded, and its three parts as sent.
struct Victim<'a> {
    header: Value,
    claims: Value,
    h: &'a str,
    c: &'a str,
    signature: &'a str,
}

impl Victim<'_> {
    /// The header with these members changed.
    fn with(&self, changes: &Value) -> Value {
        let mut h = self.header.clone();
        if let (Some(h), Some(changes)) = (h.as_object_mut(), changes.as_object()) {
            for (k, v) in changes {
                h.insert(k.clone(), v.clone());
            }
        }
        h
    }
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
    let victim = Victim {
        header: decode_part(h).ok_or("the user token's header is not JSON")?,
        claims: decode_part(c).ok_or("the user token's claims are not JSON")?,
        h,
        c,
        signature,
    };
    let mut tokens = unforged(&victim, jwks)?;
    if let Some(forger) = forger {
        tokens.extend(forged(&victim, forger)?);
    }
    Ok(tokens
        .into_iter()
        .map(|(name, token)| (format!("attack.{name}"), token))
        .collect())
}

/// The attacks anyone can make without the target's key: no algorithm,
/// no or an altered signature, keys of the attacker's, the public key as
/// an HMAC secret.
fn unforged(victim: &Victim<'_>, jwks: &Value) -> Result<Vec<(&'static str, String)>, String> {
    let (h, c, signature) = (victim.h, victim.c, victim.signature);
    let key = &jwks["keys"][0];
    let kid = key["kid"].as_str().unwrap_or_default().to_owned();
    let attacker = SigningKey::from_pem(ATTACKER_KEY).map_err(|e| e.to_string())?;
    let attacker_jwk = serde_json::to_value(&attacker.jwks().keys[0]).map_err(|e| e.to_string())?;
    let sign_attacker = |header: &Value| {
        attacker
            .sign_raw(header, &victim.claims)
            .map_err(|e| e.to_string())
    };
    let with = |changes: Value| victim.with(&changes);
    let unsigned = |h: &Value| format!("{}.{}.", b64(h), c);

    let mut tokens: Vec<(&str, String)> = vec![
        ("alg_none", unsigned(&with(json!({ "alg": "none" })))),
        (
            "alg_none_capitalised",
            unsigned(&with(json!({ "alg": "None" }))),
        ),
        ("alg_none_upper", unsigned(&with(json!({ "alg": "NONE" })))),
        ("signature_removed", format!("{h}.{c}.")),
        ("signature_altered", format!("{h}.{c}.{}", alter(signature))),
        // A kid the key set has never had, fresh per run: a verifier
        // refreshes its keys for it (at most once a minute).
        (
            "fresh_kid",
            format!(
                "{}.{c}.{signature}",
                b64(&with(
                    json!({ "kid": format!("conformance-{}", uuid::Uuid::new_v4().simple()) })
                ))
            ),
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
    // The public key used as an HMAC secret, in each encoding a verifier
    // that takes the algorithm from the token might hand its HMAC: the raw
    // key material, the SubjectPublicKeyInfo DER and its PEM.
    let encodings = public_key_encodings(key);
    for (name, secret) in [
        ("hmac_with_public_key", encodings.raw),
        ("hmac_with_public_key_der", encodings.der.clone()),
        ("hmac_with_public_key_pem", encodings.pem.into_bytes()),
    ] {
        tokens.push((
            name,
            hmac_token(&with(json!({ "alg": "HS256" })), c, &secret)?,
        ));
    }

    Ok(tokens)
}

/// The attacks signed with the target's own key: only a claim, or the
/// `kid`, tells them from a valid token.
fn forged(victim: &Victim<'_>, forger: &SigningKey) -> Result<Vec<(&'static str, String)>, String> {
    let claims = &victim.claims;
    let with = |changes: Value| victim.with(&changes);
    let mut tokens = Vec::new();
    // Validly signed with the target's key, so that only the `kid`
    // tells them apart: a verifier that ignores it, or tries every key,
    // takes them.
    let rekeyed = |kid: &str| {
        let mut h = with(json!({ "kid": kid }));
        h["alg"] = json!(forger.algorithm_name());
        forger.sign_raw(&h, claims).map_err(|e| e.to_string())
    };
    tokens.extend([
        ("unknown_kid", rekeyed("conformance-unknown-kid")?),
        ("kid_path_traversal", rekeyed("../../../../../../dev/null")?),
        ("kid_injection", rekeyed("x' OR '1'='1")?),
    ]);
    tokens.extend(forged_claims(victim, forger)?);
    Ok(tokens)
}

/// Tokens with one claim changed or taken out, signed with the target's
/// key.
fn forged_claims(
    victim: &Victim<'_>,
    forger: &SigningKey,
) -> Result<Vec<(&'static str, String)>, String> {
    let (header, claims) = (&victim.header, &victim.claims);
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
        forger.sign_raw(header, &claims).map_err(|e| e.to_string())
    };
    let sub = claims["sub"].clone();
    Ok(vec![
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
        (
            "service_client_id_mismatch",
            change(
                json!({
                    "sub": "conformance-forged-service",
                    "client_id": "conformance-another-client",
                    "scope": "groups:read",
                }),
                &["email", "type"],
            )?,
        ),
        ("user_without_type", change(json!({}), &["type"])?),
        (
            "user_non_uuid_sub",
            change(json!({ "sub": "alice-not-a-uuid" }), &[])?,
        ),
    ])
}

/// An HS256 token over this header and claims part, keyed with `secret`.
fn hmac_token(header: &Value, claims_part: &str, secret: &[u8]) -> Result<String, String> {
    let message = format!("{}.{claims_part}", b64(header));
    let key = EncodingKey::from_secret(secret).map_err(|e| e.to_string())?;
    let mac = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256)
        .map_err(|e| e.to_string())?;
    Ok(format!("{message}.{mac}"))
}

/// A published public key in the encodings a careless verifier might use
/// as an HMAC secret.
pub struct PublicKeyEncodings {
    /// The key material: Ed25519's `x`, an EC point `04 || x || y`, an RSA
    /// modulus.
    pub raw: Vec<u8>,
    /// The `SubjectPublicKeyInfo`, DER.
    pub der: Vec<u8>,
    /// The `SubjectPublicKeyInfo`, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub pem: String,
}

/// The encodings of a JWK (OKP Ed25519, EC P-256 or RSA); empty for others.
pub fn public_key_encodings(jwk: &Value) -> PublicKeyEncodings {
    let field = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|v| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v)
                    .ok()
            })
            .unwrap_or_default()
    };
    let (raw, der) = match jwk["kty"].as_str() {
        Some("OKP") => {
            let x = field("x");
            let der = [
                &[
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ][..],
                &x,
            ]
            .concat();
            (x, der)
        }
        Some("EC") => {
            let point = [&[0x04][..], &field("x"), &field("y")].concat();
            let algorithm = der_tlv(
                0x30,
                &[
                    &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..],
                    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
                ]
                .concat(),
            );
            let key = der_tlv(0x03, &[&[0x00][..], &point].concat());
            (point.clone(), der_tlv(0x30, &[algorithm, key].concat()))
        }
        Some("RSA") => {
            let (n, e) = (field("n"), field("e"));
            let integer = |bytes: &[u8]| {
                let mut value = bytes.to_vec();
                if value.first().is_some_and(|b| b & 0x80 != 0) {
                    value.insert(0, 0);
                }
                der_tlv(0x02, &value)
            };
            let public = der_tlv(0x30, &[integer(&n), integer(&e)].concat());
            let algorithm = der_tlv(
                0x30,
                &[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
                ],
            );
            let key = der_tlv(0x03, &[&[0x00][..], &public].concat());
            (n, der_tlv(0x30, &[algorithm, key].concat()))
        }
        _ => (Vec::new(), Vec::new()),
    };
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    PublicKeyEncodings { raw, der, pem }
}

/// A DER tag, length and value.
fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// The signature with its first character changed.
fn alter(signature: &str) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PEM built from each published JWK is the one OpenSSL derives
    /// from the private key (`openssl pkey -pubout`).
    #[test]
    fn public_key_encodings_match_openssl() {
        for name in ["dev-ed25519", "dev-p256", "dev-rsa"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/keys");
            let key = SigningKey::from_file(&dir.join(format!("{name}.pem"))).unwrap();
            let jwk = serde_json::to_value(&key.jwks().keys[0]).unwrap();
            let expected = std::fs::read_to_string(dir.join(format!("{name}.pub.pem"))).unwrap();
            assert_eq!(public_key_encodings(&jwk).pem, expected, "{name}");
        }
    }
}
