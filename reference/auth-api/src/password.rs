//! Passwords (argon2id, slow on purpose) and client secrets (random, 256
//! bits, stored as SHA-256: a slow hash buys nothing for a random secret and
//! would cost the token endpoint its throughput).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An argon2id PHC string for a password.
pub fn hash(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

/// Whether a password matches a PHC string. A malformed hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new client secret: 32 random bytes, base64url without padding.
pub fn new_client_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest a client secret is stored as.
pub fn secret_digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares a presented secret with a stored digest in constant time.
pub fn secret_matches(secret: &str, digest: &[u8]) -> bool {
    secret_digest(secret).ct_eq(digest).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let phc = hash("correct horse battery staple");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &phc));
        assert!(!verify("Correct horse battery staple", &phc));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn client_secrets_are_long_random_and_compared_by_digest() {
        let (a, b) = (new_client_secret(), new_client_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in base64url");
        let digest = secret_digest(&a);
        assert!(secret_matches(&a, &digest));
        assert!(!secret_matches(&b, &digest));
    }
}
