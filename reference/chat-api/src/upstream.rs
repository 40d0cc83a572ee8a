//! The auth-api as the chat-api sees it: a service token by
//! `client_credentials`, reused and fetched by one request at a time; the
//! group and its members read with it; the key set that verifies users.
//!
//! Every call a request makes to the auth-api shares one deadline, the
//! upstream timeout from the moment the request came in ([`bounded`]),
//! however many calls it takes. A fetch many requests wait for (the service
//! token, the keys) is made once, and its outcome, a failure too, is what
//! every waiter gets; a failure is remembered for [`FAILURE_MEMORY`], so a
//! dead auth-api is not asked again by every request.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use reference_shared::{GROUPS_READ, Jwks, Secret};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use uuid::Uuid;

/// How long a failed fetch of the service token or the keys is remembered:
/// requests in that window get the same failure without asking again.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(1);

/// The longest token lifetime taken at its word: an `expires_in` from the
/// auth-api beyond it is read as this (a day), so no arithmetic overflows.
const LONGEST_LIFETIME: Duration = Duration::from_secs(24 * 3600);

tokio::task_local! {
    /// When the request being handled must be done with the auth-api.
    static DEADLINE: tokio::time::Instant;
}

/// Gives the request one deadline, the upstream timeout from now, for all
/// the calls to the auth-api it will make.
pub async fn bounded(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let deadline = tokio::time::Instant::now() + timeout;
    DEADLINE.scope(deadline, next.run(request)).await
}

/// Runs calls to the auth-api within the current request's deadline: past
/// it, a timeout (504). Outside a request, as they are.
pub async fn within<T>(
    calls: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    match DEADLINE.try_with(|d| *d) {
        Ok(deadline) => tokio::time::timeout_at(deadline, calls)
            .await
            .unwrap_or(Err(UpstreamError::Timeout)),
        Err(_) => calls.await,
    }
}

/// Why the auth-api could not help. Each maps to the contract's
/// `upstream_unavailable` with its own status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No connection (503).
    #[error("the auth-api cannot be reached")]
    Unreachable,
    /// No answer within the timeout (504).
    #[error("the auth-api did not answer in time")]
    Timeout,
    /// An answer the chat-api cannot use: a 5xx, not JSON, or a refusal of
    /// the chat-api's own credentials (502).
    #[error("the auth-api gave an unusable answer: {0}")]
    BadAnswer(String),
}

impl From<reqwest::Error> for UpstreamError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Unreachable
        } else if e.is_decode() {
            Self::BadAnswer("the body is not the JSON expected".to_owned())
        } else {
            Self::BadAnswer(e.without_url().to_string())
        }
    }
}

/// A group, as the auth-api shows it. Only what the chat-api uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    /// Its id.
    pub id: Uuid,
    /// Its organisation; any JSON string or number the auth-api uses.
    pub org_id: OrgId,
}

/// An organisation id as text, whatever JSON type the auth-api uses for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OrgId {
    /// A string (the reference uses UUIDs).
    Text(String),
    /// A number.
    Number(serde_json::Number),
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

/// One member of a group.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    /// The user's id.
    pub user_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct MemberList {
    members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// A cached service token and when to stop using it.
#[derive(Debug, Clone)]
struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// The service token, or the failure of the last try to get one.
#[derive(Debug, Default)]
struct TokenSlot {
    token: Option<CachedToken>,
    failed: Option<(Instant, UpstreamError)>,
}

/// The chat-api's client of the auth-api.
#[derive(Debug)]
pub struct AuthClient {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: Secret,
    token: Mutex<TokenSlot>,
    timeout: Duration,
    /// The scope its service token is asked for.
    scope: String,
}

impl AuthClient {
    /// A client of the auth-api at `base`, every call bounded by `timeout`,
    /// trusting the platform's roots and `extra_roots`.
    pub fn new(
        base: &str,
        client_id: &str,
        client_secret: Secret,
        timeout: Duration,
        extra_roots: Vec<reqwest::Certificate>,
    ) -> Self {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout);
        for root in extra_roots {
            builder = builder.add_root_certificate(root);
        }
        let http = builder.build().expect("a reqwest client with timeouts");
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            token: Mutex::new(TokenSlot::default()),
            timeout,
            scope: GROUPS_READ.to_owned(),
        }
    }

    /// This client, asking for `scope` with its service token.
    #[must_use]
    pub fn with_scope(mut self, scope: &str) -> Self {
        scope.clone_into(&mut self.scope);
        self
    }

    /// The auth-api's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// How long a request may spend on the auth-api, all its calls together.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The current service token, fetched when there is none or it is about
    /// to expire. The lock is held across the fetch, so any number of
    /// concurrent callers make one token request (single flight), and those
    /// who waited for a fetch that failed get its failure.
    async fn service_token(&self) -> Result<String, UpstreamError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot
            .token
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
        {
            return Ok(token.value.clone());
        }
        if let Some((at, failure)) = &slot.failed
            && at.elapsed() < FAILURE_MEMORY
        {
            return Err(failure.clone());
        }
        match self.fetch_token().await {
            Ok(token) => {
                let value = token.value.clone();
                *slot = TokenSlot {
                    token: Some(token),
                    failed: None,
                };
                Ok(value)
            }
            Err(failure) => {
                slot.failed = Some((Instant::now(), failure.clone()));
                Err(failure)
            }
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, UpstreamError> {
        let response = crate::trace::traced(self.http.post(format!("{}/oauth/token", self.base)))
            .header(
                reqwest::header::AUTHORIZATION,
                reference_shared::form::basic_authorization(
                    &self.client_id,
                    self.client_secret.expose(),
                ),
            )
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", self.scope.as_str()),
            ])
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::BadAnswer(format!(
                "the token endpoint answered {status}"
            )));
        }
        let answer: TokenAnswer = response.json().await?;
        tracing::info!(expires_in = answer.expires_in, "fetched a service token");
        Ok(CachedToken {
            value: answer.access_token,
            refresh_at: refresh_at(Instant::now(), answer.expires_in),
        })
    }

    /// Forgets the cached token, whatever it is.
    pub async fn forget_token(&self) {
        self.token.lock().await.token = None;
    }

    /// Forgets a token the auth-api refused, unless another caller already
    /// replaced it.
    async fn forget(&self, refused: &str) {
        let mut slot = self.token.lock().await;
        if slot.token.as_ref().is_some_and(|t| t.value == refused) {
            slot.token = None;
        }
    }

    /// GETs a path with the service token. A 401 drops the token and tries
    /// once more with a new one. `None` for a 404.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, UpstreamError> {
        let mut retried = false;
        loop {
            let token = self.service_token().await?;
            let response = crate::trace::traced(self.http.get(format!("{}{path}", self.base)))
                .bearer_auth(&token)
                .send()
                .await?;
            match response.status() {
                StatusCode::UNAUTHORIZED if !retried => {
                    tracing::warn!(
                        path,
                        "the auth-api refused the service token; fetching a new one"
                    );
                    self.forget(&token).await;
                    retried = true;
                }
                StatusCode::NOT_FOUND => return Ok(None),
                status if status.is_success() => return Ok(Some(response.json().await?)),
                status => {
                    return Err(UpstreamError::BadAnswer(format!(
                        "GET {path} answered {status}"
                    )));
                }
            }
        }
    }

    /// The group, `None` when the auth-api does not know it.
    pub async fn group(&self, id: Uuid) -> Result<Option<Group>, UpstreamError> {
        within(self.get(&format!("/api/auth/groups/{id}"))).await
    }

    /// The group's members, `None` when the auth-api does not know the group.
    pub async fn members(&self, id: Uuid) -> Result<Option<Vec<Member>>, UpstreamError> {
        Ok(
            within(self.get::<MemberList>(&format!("/api/auth/groups/{id}/members")))
                .await?
                .map(|list| list.members),
        )
    }

    /// Whether the auth-api still considers a token active (RFC 7662), so
    /// that a revoked token is refused here too, not only at the auth-api.
    pub async fn is_active(&self, token: &str) -> Result<bool, UpstreamError> {
        within(self.introspect(token)).await
    }

    async fn introspect(&self, token: &str) -> Result<bool, UpstreamError> {
        #[derive(Deserialize)]
        struct Introspection {
            active: bool,
        }
        let response =
            crate::trace::traced(self.http.post(format!("{}/oauth/introspect", self.base)))
                .header(
                    reqwest::header::AUTHORIZATION,
                    reference_shared::form::basic_authorization(
                        &self.client_id,
                        self.client_secret.expose(),
                    ),
                )
                .form(&[("token", token)])
                .send()
                .await?;
        if !response.status().is_success() {
            return Err(UpstreamError::BadAnswer(format!(
                "introspection answered {}",
                response.status()
            )));
        }
        Ok(response.json::<Introspection>().await?.active)
    }

    /// The auth-api's key set.
    pub async fn jwks(&self) -> Result<Jwks, UpstreamError> {
        self.well_known("jwks.json", "the key set").await
    }

    /// A document of the auth-api's `/.well-known/`, as JSON; `what` names
    /// it in the error when it is not there.
    async fn well_known<T: DeserializeOwned>(
        &self,
        name: &str,
        what: &str,
    ) -> Result<T, UpstreamError> {
        let response =
            crate::trace::traced(self.http.get(format!("{}/.well-known/{name}", self.base)))
                .send()
                .await?;
        if !response.status().is_success() {
            return Err(UpstreamError::BadAnswer(format!(
                "{what} answered {}",
                response.status()
            )));
        }
        Ok(response.json().await?)
    }

    /// The issuer the auth-api's RFC 8414 metadata publishes: what its
    /// tokens carry in `iss`, whatever address this service reaches it at.
    pub async fn published_issuer(&self) -> Result<String, UpstreamError> {
        let metadata: serde_json::Value = self
            .well_known(
                "oauth-authorization-server",
                "the authorization server metadata",
            )
            .await?;
        metadata["issuer"]
            .as_str()
            .filter(|issuer| !issuer.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                UpstreamError::BadAnswer("the authorization server metadata names no issuer".into())
            })
    }

    /// Whether the auth-api answers its health check.
    pub async fn healthy(&self) -> bool {
        self.http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

/// When to stop using a token that lives `expires_in` seconds from `now`:
/// a tenth of its life early, at least a second and at most 30 seconds. A
/// lifetime from the auth-api is taken up to a day, so that no value it
/// sends can overflow the clock.
fn refresh_at(now: Instant, expires_in: u64) -> Instant {
    let lifetime = Duration::from_secs(expires_in).min(LONGEST_LIFETIME);
    let margin = (lifetime / 10).clamp(Duration::from_secs(1), Duration::from_secs(30));
    now + lifetime.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_lifetime_the_auth_api_sends_gives_a_refresh_time() {
        let now = Instant::now();
        assert_eq!(refresh_at(now, 300), now + Duration::from_secs(270));
        assert_eq!(refresh_at(now, 0), now);
        assert_eq!(
            refresh_at(now, u64::MAX),
            now + Duration::from_secs(24 * 3600 - 30)
        );
    }
}
