//! One service at a time: the reference chat-api started beside a team's
//! auth-api, for a team that owns only the auth-api. The chat scenarios
//! (the seed's own flow) then exercise that auth-api as a chat-api would:
//! a service token by `client_credentials`, the group and its members read
//! with it. The chat-api reaches the auth-api through a recorder of its
//! own, so the observation checks and the upstream faults run too.

use std::sync::Arc;
use std::time::Duration;

use reference_shared::Secret;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::HarnessError;
use crate::run::client::http_client;
use crate::run::observe::{Observer, Recorder, serve_proxy};
use crate::run::target::Target;

/// The reference chat-api running beside a deployment's auth-api.
/// Dropping it stops the chat-api.
pub struct ReferenceChat {
    /// The target: the team's auth-api, the reference chat-api, and the
    /// recorder between them.
    pub target: Target,
    /// The OAuth client the chat-api was registered as, on the team's
    /// auth-api: delete it with the run's accounts.
    pub client_id: String,
    _stop: oneshot::Sender<()>,
}

fn failed(what: &str, why: impl std::fmt::Display) -> HarnessError {
    HarnessError::Stack(format!(
        "the reference chat-api beside the auth-api: {what}: {why}"
    ))
}

impl ReferenceChat {
    /// Starts the reference chat-api in front of `auth`'s auth-api, which
    /// must have its admin endpoints (`auth.admin_token`): the chat-api is
    /// registered there as a client with `groups:read`, and takes the
    /// audience of the auth-api's user tokens (read from a user made and
    /// deleted for it) and the issuer its metadata publishes.
    pub async fn start(auth: &Target) -> Result<Self, HarnessError> {
        let admin = auth.admin_token.as_ref().ok_or_else(|| {
            HarnessError::Config(
                "an auth-api alone needs its admin token (--admin-token): the reference chat-api is registered there".to_owned(),
            )
        })?;
        let http = http_client(auth.ca_pem.as_deref(), Duration::from_secs(30), true)
            .map_err(|e| failed("an HTTP client", e))?;
        let audience = audience(&http, &auth.auth_url, admin).await?;
        let (client_id, client_secret) =
            crate::run::provision::register_chat_api(&http, &auth.auth_url, admin).await?;
        let (recorder, proxy_url) =
            recorder_in_front(&auth.auth_url, auth.ca_pem.as_deref()).await?;
        let mut config = chat_api::Config::local(&proxy_url, &client_id, &client_secret);
        config.audience = audience;
        // As in the reference stack: a hanging auth-api is a 504 soon.
        config.upstream_timeout_ms = 2000;
        let (chat_url, stop) = crate::run::stack::start_chat(config, None).await?;
        let target = Target {
            chat_url,
            observer: Some(Observer::Local(recorder)),
            faults: Some(proxy_url),
            reference: false,
            ..auth.clone()
        };
        Ok(Self {
            target,
            client_id,
            _stop: stop,
        })
    }
}

/// A recorder on a free local port in front of the auth-api at
/// `auth_url` (trusting `ca_pem` besides the platform's roots): what it
/// saw, and its URL.
async fn recorder_in_front(
    auth_url: &str,
    ca_pem: Option<&[u8]>,
) -> Result<(Arc<Recorder>, String), HarnessError> {
    let recorder = Arc::new(Recorder::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| failed("a port for the recorder", e))?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| failed("the recorder's address", e))?
    );
    serve_proxy(listener, auth_url, recorder.clone(), ca_pem)
        .map_err(|e| failed("the recorder", e))?;
    Ok((recorder, url))
}

/// The `aud` of the auth-api's user tokens: a user is made, logs in once
/// and is deleted.
async fn audience(
    http: &reqwest::Client,
    auth_url: &str,
    admin: &Secret,
) -> Result<String, HarnessError> {
    let email = format!("audience-{}@conformance.test", Uuid::new_v4().simple());
    let password = format!("pw-{}", Uuid::new_v4().simple());
    let made: serde_json::Value = json_of(
        http.post(format!("{auth_url}/admin/users"))
            .bearer_auth(admin.expose())
            .json(&serde_json::json!({ "email": email, "password": password })),
        "making a user to read the tokens' audience",
    )
    .await?;
    let login = json_of(
        http.post(format!("{auth_url}/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password })),
        "logging that user in",
    )
    .await;
    if let Some(id) = made["id"].as_str() {
        let _ = http
            .delete(format!("{auth_url}/admin/users/{id}"))
            .bearer_auth(admin.expose())
            .send()
            .await;
    }
    let claims = login?["access_token"]
        .as_str()
        .and_then(crate::jwt::claims)
        .ok_or_else(|| failed("reading the audience", "the login answered no JWT"))?;
    match &claims["aud"] {
        serde_json::Value::String(aud) => Ok(aud.clone()),
        serde_json::Value::Array(auds) => auds
            .first()
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| failed("reading the audience", "an empty aud")),
        _ => Err(failed("reading the audience", "the user token has no aud")),
    }
}

/// A request's JSON answer, when it is a success.
async fn json_of(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<serde_json::Value, HarnessError> {
    let response = request.send().await.map_err(|e| failed(what, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(what, format!("answered {status}")));
    }
    response.json().await.map_err(|e| failed(what, e))
}

/// The reference auth-api started for a team that owns only the chat-api,
/// with a recorder in front of it: the chat-api calls the recorder, the
/// harness the auth-api. [`ReferenceAuth::settings`] is what the chat-api
/// needs; [`ReferenceAuth::target`] the harness's target once it runs.
pub struct ReferenceAuth {
    /// The auth-api itself, for the harness.
    pub auth_url: String,
    /// The recorder in front of it, for the chat-api.
    pub recorder_url: String,
    /// Its admin token.
    pub admin_token: Secret,
    /// The OAuth client (`groups:read`) registered for the chat-api.
    pub client_id: String,
    /// That client's secret.
    pub client_secret: Secret,
    /// The `iss` of its tokens.
    pub issuer: String,
    /// The `aud` of its user tokens.
    pub audience: String,
    recorder: Arc<Recorder>,
    signing_key: reference_shared::SigningKey,
    _stop: oneshot::Sender<()>,
}

impl ReferenceAuth {
    /// Starts the reference auth-api (embedded store, the development
    /// key), its recorder, and registers a client for the chat-api.
    pub async fn start() -> Result<Self, HarnessError> {
        let key = reference_shared::SigningKey::from_pem(crate::run::stack::DEV_KEY_PEM)
            .map_err(|e| failed("the development key", e))?;
        let admin_token = Secret::new(format!("admin-{}", Uuid::new_v4().simple()));
        let mut config = auth_api::Config::local(crate::run::stack::dev_key_path());
        config.admin_token = Some(admin_token.clone());
        let audience = config.audience.clone();
        let (auth_url, stop) = crate::run::stack::start_auth(config, key.clone(), None).await?;
        let http = http_client(None, Duration::from_secs(30), true)
            .map_err(|e| failed("an HTTP client", e))?;
        let (client_id, client_secret) =
            crate::run::provision::register_chat_api(&http, &auth_url, &admin_token).await?;
        let (recorder, recorder_url) = recorder_in_front(&auth_url, None).await?;
        Ok(Self {
            issuer: auth_url.clone(),
            auth_url,
            recorder_url,
            admin_token,
            client_id,
            client_secret: Secret::new(client_secret),
            audience,
            recorder,
            signing_key: key,
            _stop: stop,
        })
    }

    /// What a chat-api needs to run against it, one setting a line.
    pub fn settings(&self) -> String {
        format!(
            "auth-api URL (the recorder in front of it): {}\nclient id: {}\nclient secret: {}\nissuer: {}\naudience: {}\n",
            self.recorder_url,
            self.client_id,
            self.client_secret.expose(),
            self.issuer,
            self.audience
        )
    }

    /// The harness's target: this auth-api and the team's chat-api at
    /// `chat_url`, observed through the recorder, with the auth-api's key
    /// (so the forged-token attacks run too).
    pub fn target(&self, chat_url: &str) -> Target {
        Target {
            admin_token: Some(self.admin_token.clone()),
            observer: Some(Observer::Local(self.recorder.clone())),
            faults: Some(self.recorder_url.clone()),
            signing_key: Some(self.signing_key.clone()),
            ..Target::at(&self.auth_url, chat_url)
        }
    }
}
