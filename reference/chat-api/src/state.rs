use std::sync::Arc;

use crate::keys::KeyCache;
use crate::store::Messages;
use crate::upstream::AuthClient;

/// What every handler shares, built once at start-up.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn Messages>,
    auth: AuthClient,
    keys: KeyCache,
}

impl AppState {
    /// The state for a store, an auth-api client and a key cache.
    pub fn new(store: Box<dyn Messages>, auth: AuthClient, keys: KeyCache) -> Self {
        Self {
            inner: Arc::new(Inner { store, auth, keys }),
        }
    }

    /// The message store.
    pub fn store(&self) -> &dyn Messages {
        self.inner.store.as_ref()
    }

    /// The auth-api client.
    pub fn auth(&self) -> &AuthClient {
        &self.inner.auth
    }

    /// Drops the cached service token, so that the next call to the auth-api
    /// fetches a new one: after rotating the chat-api's client secret, say.
    pub async fn forget_service_token(&self) {
        self.inner.auth.forget_token().await;
    }

    /// The auth-api's keys.
    pub fn keys(&self) -> &KeyCache {
        &self.inner.keys
    }
}
