//! The auth-api's keys, cached: fetched on first use, and again when a token
//! names a `kid` the cache does not hold, at most once a minute. One fetch
//! at a time, its outcome for every waiter; while the cache is empty, a
//! failed fetch is remembered for [`FAILURE_MEMORY`] before the next try.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reference_shared::{Claims, TokenError, Verifier};
use tokio::sync::{Mutex, RwLock};

use crate::upstream::{AuthClient, FAILURE_MEMORY, UpstreamError, within};

/// How often an unknown `kid` may trigger a refresh.
const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Why a user token could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is invalid.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The keys could not be fetched.
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
}

/// The cached verifier.
#[derive(Debug)]
pub struct KeyCache {
    /// The issuer configured; `None`: the one the auth-api's metadata
    /// publishes, learnt with the first keys.
    issuer: Option<String>,
    published: tokio::sync::OnceCell<String>,
    audience: String,
    leeway: u64,
    verifier: RwLock<Option<Arc<Verifier>>>,
    /// When the keys were last fetched, and how that went.
    last_fetch: Mutex<Option<(Instant, Option<UpstreamError>)>>,
}

impl KeyCache {
    /// An empty cache for tokens of this issuer (`None`: the one the
    /// auth-api's metadata publishes) and audience.
    pub fn new(issuer: Option<&str>, audience: &str, leeway: u64) -> Self {
        Self {
            issuer: issuer.map(str::to_owned),
            published: tokio::sync::OnceCell::new(),
            audience: audience.to_owned(),
            leeway,
            verifier: RwLock::new(None),
            last_fetch: Mutex::new(None),
        }
    }

    /// Verifies a token, fetching keys first when the cache is empty or the
    /// token's `kid` is unknown and the last fetch is a minute old.
    pub async fn verify(&self, auth: &AuthClient, token: &str) -> Result<Claims, VerifyError> {
        let kid = Verifier::kid_of(token);
        let current = self.verifier.read().await.clone();
        let verifier = match current {
            Some(v) if kid.as_deref().is_none_or(|k| v.knows(k)) => v,
            stale => within(self.refresh(auth, stale)).await?,
        };
        Ok(verifier.verify(token)?)
    }

    /// The issuer tokens must carry: the configured one, else the one the
    /// auth-api's metadata publishes (asked once, then kept).
    async fn issuer(&self, auth: &AuthClient) -> Result<String, UpstreamError> {
        if let Some(issuer) = &self.issuer {
            return Ok(issuer.clone());
        }
        self.published
            .get_or_try_init(|| auth.published_issuer())
            .await
            .cloned()
    }

    async fn refresh(
        &self,
        auth: &AuthClient,
        stale: Option<Arc<Verifier>>,
    ) -> Result<Arc<Verifier>, UpstreamError> {
        let mut last_fetch = self.last_fetch.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(current) = self.verifier.read().await.clone()
            && !stale.as_ref().is_some_and(|s| Arc::ptr_eq(s, &current))
        {
            return Ok(current);
        }
        match (&stale, &*last_fetch) {
            (Some(stale), Some((at, _))) if at.elapsed() < REFRESH_INTERVAL => {
                return Ok(stale.clone());
            }
            (None, Some((at, Some(failure)))) if at.elapsed() < FAILURE_MEMORY => {
                return Err(failure.clone());
            }
            _ => {}
        }
        let fetched = match self.issuer(auth).await {
            Ok(issuer) => auth.jwks().await.map(|jwks| (issuer, jwks)),
            Err(failure) => Err(failure),
        };
        let (issuer, jwks) = match fetched {
            Ok(fetched) => fetched,
            Err(failure) => {
                *last_fetch = Some((Instant::now(), Some(failure.clone())));
                return Err(failure);
            }
        };
        *last_fetch = Some((Instant::now(), None));
        let verifier =
            Arc::new(Verifier::new(&jwks, &issuer, &self.audience).with_leeway(self.leeway));
        *self.verifier.write().await = Some(verifier.clone());
        tracing::info!("fetched the auth-api's keys");
        Ok(verifier)
    }
}
