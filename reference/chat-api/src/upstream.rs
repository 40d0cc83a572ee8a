//! The auth-api as the chat-api sees it: a service token by
//! `client_credentials`, reused and fetched by one request at a time; the
//! group and its members read with it; the key set that verifies users.

use std::time::{Duration, Instant};

use reference_shared::{GROUPS_READ, Jwks, Secret};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use uuid::Uuid;

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

/// The chat-api's client of the auth-api.
#[derive(Debug)]
pub struct AuthClient {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: Secret,
    token: Mutex<Option<CachedToken>>,
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
            token: Mutex::new(None),
        }
    }

    /// The auth-api's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The current service token, fetched when there is none or it is about
    /// to expire. The lock is held across the fetch, so any number of
    /// concurrent callers make one token request (single flight).
    async fn service_token(&self) -> Result<String, UpstreamError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let response = crate::trace::traced(self.http.post(format!("{}/oauth/token", self.base)))
            .header(
                reqwest::header::AUTHORIZATION,
                reference_shared::form::basic_authorization(
                    &self.client_id,
                    self.client_secret.expose(),
                ),
            )
            .form(&[("grant_type", "client_credentials"), ("scope", GROUPS_READ)])
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::BadAnswer(format!(
                "the token endpoint answered {status}"
            )));
        }
        let answer: TokenAnswer = response.json().await?;
        // Stop using a token well before it expires: a tenth of its life,
        // at least a second and at most 30 seconds early.
        let lifetime = Duration::from_secs(answer.expires_in);
        let margin = (lifetime / 10).clamp(Duration::from_secs(1), Duration::from_secs(30));
        let token = CachedToken {
            value: answer.access_token,
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        };
        tracing::info!(expires_in = answer.expires_in, "fetched a service token");
        *cached = Some(token.clone());
        Ok(token.value)
    }

    /// Forgets the cached token, whatever it is.
    pub async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Forgets a token the auth-api refused, unless another caller already
    /// replaced it.
    async fn forget(&self, refused: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == refused) {
            *cached = None;
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
        self.get(&format!("/api/auth/groups/{id}")).await
    }

    /// The group's members, `None` when the auth-api does not know the group.
    pub async fn members(&self, id: Uuid) -> Result<Option<Vec<Member>>, UpstreamError> {
        Ok(self
            .get::<MemberList>(&format!("/api/auth/groups/{id}/members"))
            .await?
            .map(|list| list.members))
    }

    /// Whether the auth-api still considers a token active (RFC 7662), so
    /// that a revoked token is refused here too, not only at the auth-api.
    pub async fn is_active(&self, token: &str) -> Result<bool, UpstreamError> {
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
        let response = crate::trace::traced(
            self.http
                .get(format!("{}/.well-known/jwks.json", self.base)),
        )
        .send()
        .await?;
        if !response.status().is_success() {
            return Err(UpstreamError::BadAnswer(format!(
                "the key set answered {}",
                response.status()
            )));
        }
        Ok(response.json().await?)
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
