use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::claims::Claims;

/// The `typ` header of an access token (RFC 9068 §2.1).
pub const AT_JWT: &str = "at+jwt";

/// Leeway for `exp` and `nbf`, in seconds (the contract allows at most 60).
const LEEWAY_SECONDS: u64 = 30;

/// Why a key could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read the signing key {path}: {source}")]
    Unreadable {
        /// The file's path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a PEM Ed25519, P-256 or RSA private key.
    #[error(
        "the signing key {path} is not a PEM Ed25519, P-256 or RSA private key ({reason}); \
         make one with `openssl genpkey -algorithm ed25519 -out key.pem`"
    )]
    Invalid {
        /// The file's path, or `<memory>`.
        path: String,
        /// What the parser said.
        reason: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Base64url without padding, as JWS parts are encoded (RFC 7515 §2).
fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The auth-api's signing key (Ed25519 by default; P-256 and RSA keys are
/// taken too, as other implementations use them), with its algorithm, its
/// public JWK and its `kid` (the RFC 7638 thumbprint, so the same key
/// always has the same id).
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    public: Jwk,
    /// An Ed25519 key parsed once, with its tokens' encoded header: what
    /// `jsonwebtoken` would redo (parsing the key, deriving its public
    /// half) for every signature.
    ed25519: Option<(ed25519_dalek::SigningKey, String)>,
}

impl SigningKey {
    /// Loads a PEM private key (Ed25519, P-256 or RSA) from a file.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem).map_err(|e| match e {
            KeyError::Invalid { reason, .. } => KeyError::Invalid {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Parses a PEM private key: PKCS#8 Ed25519 (`EdDSA`), P-256
    /// (`ES256`) or RSA (`RS256`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Invalid {
            path: "<memory>".to_owned(),
            reason,
        };
        let (encoding, algorithm) = EncodingKey::from_ed_pem(pem)
            .map(|k| (k, Algorithm::EdDSA))
            .or_else(|_| EncodingKey::from_ec_pem(pem).map(|k| (k, Algorithm::ES256)))
            .or_else(|_| EncodingKey::from_rsa_pem(pem).map(|k| (k, Algorithm::RS256)))
            .map_err(|e| invalid(e.to_string()))?;
        let mut public =
            Jwk::from_encoding_key(&encoding, algorithm).map_err(|e| invalid(e.to_string()))?;
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| invalid(e.to_string()))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = Some(match algorithm {
            Algorithm::ES256 => KeyAlgorithm::ES256,
            Algorithm::RS256 => KeyAlgorithm::RS256,
            _ => KeyAlgorithm::EdDSA,
        });
        let ed25519 = if algorithm == Algorithm::EdDSA {
            use ed25519_dalek::pkcs8::DecodePrivateKey as _;
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(encoding.as_bytes())
                .map_err(|e| invalid(e.to_string()))?;
            let header = serde_json::json!({ "typ": AT_JWT, "alg": "EdDSA", "kid": kid });
            Some((key, b64(header.to_string().as_bytes())))
        } else {
            None
        };
        Ok(Self {
            kid,
            algorithm,
            encoding,
            public,
            ed25519,
        })
    }

    /// The algorithm it signs with (`EdDSA`, `ES256` or `RS256`).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The algorithm's name as a JOSE header spells it.
    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            _ => "EdDSA",
        }
    }

    /// The key's id, as published in the JWKS and in every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs a claim set as an `at+jwt` access token with this key's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        if let Some((key, header)) = &self.ed25519 {
            use ed25519_dalek::Signer as _;
            let claims = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
            let message = format!("{header}.{}", b64(&claims));
            let signature = key.sign(message.as_bytes());
            return Ok(format!("{message}.{}", b64(&signature.to_bytes())));
        }
        let mut header = Header::new(self.algorithm);
        header.typ = Some(AT_JWT.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Signs any header and claims as given, `alg` included: for building
    /// malformed and forged tokens in conformance tests, never for issuing.
    pub fn sign_raw(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, KeyError> {
        let message = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, self.algorithm)
                .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(format!("{message}.{signature}"))
    }

    /// The public key set to publish: this key only, no private members.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.public.clone()],
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a token was refused. Every variant means `invalid_token`; the
/// description tells which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header and claim set.
    #[error("the token is malformed")]
    Malformed,
    /// An algorithm other than the pinned EdDSA, `none` included.
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    /// A `typ` other than `at+jwt`.
    #[error("the token's typ is not at+jwt")]
    Type,
    /// A header parameter that points at other keys (`jku`, `jwk`, `x5u`, `x5c`).
    #[error("the token's header names a key source that is not trusted")]
    KeySource,
    /// No `kid`.
    #[error("the token has no kid")]
    MissingKid,
    /// A `kid` that is not in the key set.
    #[error("the token's kid is unknown")]
    UnknownKid,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// Past `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Another issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// Another audience.
    #[error("the token's audience is not accepted")]
    Audience,
    /// A required claim is missing.
    #[error("the token lacks the {0} claim")]
    MissingClaim(&'static str),
}

/// Verifies access tokens: the algorithm pinned by the key its `kid`
/// names (never taken from the token), `typ` `at+jwt`, the expected issuer
/// and audience, `exp` and `nbf` with a small leeway, and the claims every
/// token must carry.
#[derive(Clone)]
pub struct Verifier {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    validation: Validation,
}

impl Verifier {
    /// A verifier for the Ed25519, P-256 and RSA keys with a `kid` in this
    /// set; others are ignored. Each key's algorithm is pinned by its type.
    pub fn new(jwks: &Jwks, issuer: &str, audience: &str) -> Self {
        use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
        let keys = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let algorithm = match &jwk.algorithm {
                    AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                        Algorithm::EdDSA
                    }
                    AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                        Algorithm::ES256
                    }
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    _ => return None,
                };
                DecodingKey::from_jwk(jwk)
                    .ok()
                    .map(|key| (kid, (key, algorithm)))
            })
            .collect();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self { keys, validation }
    }

    /// With this leeway on `exp` and `nbf`, in seconds (30 by default; the
    /// contract allows at most 60).
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds;
        self
    }

    /// Whether the set holds this `kid`.
    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The `kid` a token names, if its header can be read: lets a caller
    /// refresh its key set before verifying.
    pub fn kid_of(token: &str) -> Option<String> {
        jsonwebtoken::decode_header(token).ok()?.kid
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| unreadable_header(token))?;
        if !matches!(
            header.alg,
            Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256
        ) {
            return Err(TokenError::Algorithm);
        }
        if !header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(AT_JWT) || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(TokenError::Type);
        }
        if header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(TokenError::KeySource);
        }
        let kid = header.kid.ok_or(TokenError::MissingKid)?;
        let (key, algorithm) = self.keys.get(&kid).ok_or(TokenError::UnknownKid)?;
        if header.alg != *algorithm {
            return Err(TokenError::Algorithm);
        }
        let mut validation = self.validation.clone();
        validation.algorithms = vec![*algorithm];
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::InvalidSignature => TokenError::Signature,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::MissingRequiredClaim(claim) => {
                TokenError::MissingClaim(match claim.as_str() {
                    "exp" => "exp",
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "sub",
                })
            }
            ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
            _ => TokenError::Malformed,
        })?;
        let claims = data.claims;
        if claims.iat.is_none() {
            return Err(TokenError::MissingClaim("iat"));
        }
        if claims.jti.is_none() {
            return Err(TokenError::MissingClaim("jti"));
        }
        Ok(claims)
    }
}

/// Tells an algorithm the parser does not know (`none`, `None`, `HS256` in a
/// strange spelling) from a header that is not JSON at all.
fn unreadable_header(token: &str) -> TokenError {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|header| header.get("alg").cloned());
    match alg {
        Some(alg) if !["EdDSA", "ES256", "RS256"].contains(&alg.as_str().unwrap_or("")) => {
            TokenError::Algorithm
        }
        _ => TokenError::Malformed,
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Issue;
    use uuid::Uuid;

    const DEV_KEY: &[u8] = include_bytes!("../../../fixtures/keys/dev-ed25519.pem");
    const OTHER_KEY: &[u8] = include_bytes!("../../../fixtures/keys/other-ed25519.pem");

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    fn issue(now: i64) -> Issue<'static> {
        Issue {
            issuer: "http://auth.test",
            audience: "conformance-apis",
            now,
            lifetime: 300,
        }
    }

    fn verifier(key: &SigningKey) -> Verifier {
        Verifier::new(&key.jwks(), "http://auth.test", "conformance-apis")
    }

    #[test]
    fn an_ed25519_token_carries_the_signature_jsonwebtoken_makes() {
        let key = SigningKey::from_pem(DEV_KEY).unwrap();
        let token = key
            .sign(&Claims::user(
                Uuid::new_v4(),
                "a@example.com",
                &issue(now()),
            ))
            .unwrap();
        let (message, signature) = token.rsplit_once('.').unwrap();
        let expected =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, Algorithm::EdDSA);
        assert_eq!(expected.unwrap(), signature);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.typ.as_deref(), header.kid.as_deref()),
            (Algorithm::EdDSA, Some(AT_JWT), Some(key.kid()))
        );
    }

    #[test]
    fn a_signed_token_verifies_and_keeps_its_claims() {
        let key = SigningKey::from_pem(DEV_KEY).unwrap();
        let claims = Claims::user(Uuid::new_v4(), "a@example.com", &issue(now()));
        let token = key.sign(&claims).unwrap();
        assert_eq!(verifier(&key).verify(&token), Ok(claims));
        assert_eq!(Verifier::kid_of(&token).as_deref(), Some(key.kid()));
    }

    #[test]
    fn p256_and_rsa_keys_sign_and_verify_with_their_pinned_algorithm() {
        let ec =
            SigningKey::from_pem(include_bytes!("../../../fixtures/keys/dev-p256.pem")).unwrap();
        let rsa =
            SigningKey::from_pem(include_bytes!("../../../fixtures/keys/dev-rsa.pem")).unwrap();
        assert_eq!(ec.algorithm(), Algorithm::ES256);
        assert_eq!(rsa.algorithm(), Algorithm::RS256);
        for key in [&ec, &rsa] {
            let claims = Claims::user(Uuid::new_v4(), "a@example.com", &issue(now()));
            let token = key.sign(&claims).unwrap();
            assert_eq!(verifier(key).verify(&token), Ok(claims.clone()));
            let json = serde_json::to_value(key.jwks()).unwrap();
            assert!(json["keys"][0].get("d").is_none(), "{json}");
            // The algorithm comes from the key, never from the token.
            let mut header: serde_json::Value = serde_json::from_slice(
                &base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    token.split('.').next().unwrap(),
                )
                .unwrap(),
            )
            .unwrap();
            header["alg"] = serde_json::json!(if key.algorithm() == Algorithm::ES256 {
                "RS256"
            } else {
                "ES256"
            });
            let relabelled = format!(
                "{}.{}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    header.to_string()
                ),
                token.split_once('.').unwrap().1
            );
            assert_eq!(
                verifier(key).verify(&relabelled),
                Err(TokenError::Algorithm)
            );
        }
    }

    #[test]
    fn the_jwks_holds_no_private_member() {
        let key = SigningKey::from_pem(DEV_KEY).unwrap();
        let json = serde_json::to_value(key.jwks()).unwrap();
        let jwk = &json["keys"][0];
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["kid"], key.kid());
        assert!(jwk.get("d").is_none(), "{jwk}");
    }

    #[test]
    fn refuses_what_it_must() {
        let key = SigningKey::from_pem(DEV_KEY).unwrap();
        let other = SigningKey::from_pem(OTHER_KEY).unwrap();
        let verifier = verifier(&key);
        let t = now();
        let sign = |claims: &Claims| key.sign(claims).unwrap();
        let user = Claims::user(Uuid::new_v4(), "a@example.com", &issue(t));

        let expired = Claims::user(Uuid::new_v4(), "a@example.com", &issue(t - 1000));
        assert_eq!(verifier.verify(&sign(&expired)), Err(TokenError::Expired));
        let future = Claims {
            nbf: Some(t + 600),
            ..user.clone()
        };
        assert_eq!(
            verifier.verify(&sign(&future)),
            Err(TokenError::NotYetValid)
        );
        let wrong_iss = Claims {
            iss: Some("http://evil.test".to_owned()),
            ..user.clone()
        };
        assert_eq!(verifier.verify(&sign(&wrong_iss)), Err(TokenError::Issuer));
        let no_jti = Claims {
            jti: None,
            ..user.clone()
        };
        assert_eq!(
            verifier.verify(&sign(&no_jti)),
            Err(TokenError::MissingClaim("jti"))
        );
        assert_eq!(
            verifier.verify(&other.sign(&user).unwrap()),
            Err(TokenError::UnknownKid)
        );

        let token = sign(&user);
        let (head, rest) = token.split_once('.').unwrap();
        let (body, _sig) = rest.split_once('.').unwrap();
        assert_eq!(
            verifier.verify(&format!("{head}.{body}.")),
            Err(TokenError::Signature)
        );
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0"; // {"alg":"none","typ":"at+jwt"}
        assert_eq!(
            verifier.verify(&format!("{none_header}.{body}.")),
            Err(TokenError::Algorithm)
        );
        assert_eq!(verifier.verify("garbage"), Err(TokenError::Malformed));
    }

    #[test]
    fn a_missing_key_file_is_a_clear_error() {
        let error = SigningKey::from_file(Path::new("/nonexistent/key.pem")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/key.pem"),
            "{error}"
        );
        let error = SigningKey::from_pem(b"not a key").unwrap_err();
        assert!(error.to_string().contains("openssl genpkey"), "{error}");
    }
}
