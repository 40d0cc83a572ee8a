use std::sync::Arc;

use reference_shared::{Secret, SigningKey, Verifier};

use crate::store::Store;

/// What every handler shares, built once at start-up.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn Store>,
    key: SigningKey,
    verifier: Verifier,
    tokens: TokenSettings,
    admin_token: Option<Secret>,
    dummy_password_hash: String,
    hashing: crate::password::HashingPool,
    clients: crate::clients::ClientCache,
}

/// Issuer, audience and lifetimes of the tokens this service issues.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss`, and the base of the metadata's URLs.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// User token lifetime in seconds.
    pub user_ttl: i64,
    /// Service token lifetime in seconds.
    pub service_ttl: i64,
    /// Leeway on `exp` and `nbf` when verifying, in seconds.
    pub leeway: u64,
}

impl AppState {
    /// The state for a store, a key and token settings.
    pub fn new(
        store: Box<dyn Store>,
        key: SigningKey,
        tokens: TokenSettings,
        admin_token: Option<Secret>,
        hashing: crate::password::HashingPool,
        client_cache: std::time::Duration,
    ) -> Self {
        let verifier =
            Verifier::new(&key.jwks(), &tokens.issuer, &tokens.audience).with_leeway(tokens.leeway);
        let dummy_password_hash = crate::password::hash(&uuid::Uuid::new_v4().to_string());
        Self {
            inner: Arc::new(Inner {
                store,
                key,
                verifier,
                tokens,
                admin_token,
                dummy_password_hash,
                hashing,
                clients: crate::clients::ClientCache::new(client_cache),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// Where passwords are hashed and verified, a few at a time.
    pub fn hashing(&self) -> &crate::password::HashingPool {
        &self.inner.hashing
    }

    /// Registered clients, read through a short-lived cache.
    pub fn clients(&self) -> &crate::clients::ClientCache {
        &self.inner.clients
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// The verifier for this service's own tokens.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// Token settings.
    pub fn tokens(&self) -> &TokenSettings {
        &self.inner.tokens
    }

    /// The admin token, when one is configured.
    pub fn admin_token(&self) -> Option<&Secret> {
        self.inner.admin_token.as_ref()
    }

    /// A hash to verify against when the email is unknown, so that a wrong
    /// email costs as long as a wrong password.
    pub fn dummy_password_hash(&self) -> &str {
        &self.inner.dummy_password_hash
    }
}
