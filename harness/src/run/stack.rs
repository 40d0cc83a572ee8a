//! The reference stack, started in-process: the auth-api, the recorder, and
//! the chat-api behind it, on the embedded SQLite stores or on real
//! PostgreSQL and MongoDB.

use std::path::PathBuf;
use std::sync::Arc;

use reference_shared::Secret;
use reference_stores::{MongoDatabase, PostgresDatabase};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::HarnessError;
use crate::run::observe::{Observer, Recorder, start_proxy};
use crate::run::target::Target;

/// Where the reference stack keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// SQLite in memory: nothing to install.
    Embedded,
    /// PostgreSQL and MongoDB from testcontainers (or the URL variables).
    Containers,
    /// PostgreSQL and MongoDB at `CONFORMANCE_POSTGRES_URL` / `CONFORMANCE_MONGO_URL`.
    Urls,
}

/// Turns the auth-api's router into a broken one (the harness's own tests
/// re-create bugs this way).
pub type AuthFault = Box<dyn FnOnce(axum::Router, &auth_api::AppState) -> axum::Router + Send>;
/// Turns the chat-api's router into a broken one.
pub type ChatFault = Box<dyn FnOnce(axum::Router, &chat_api::AppState) -> axum::Router + Send>;

/// Changes the auth-api's settings before it starts.
pub type ConfigureAuth = Box<dyn FnOnce(&mut auth_api::Config) + Send>;
/// Changes the chat-api's settings before it starts.
pub type ConfigureChat = Box<dyn FnOnce(&mut chat_api::Config) + Send>;

/// How to start the stack.
#[derive(Default)]
pub struct StackOptions {
    /// The stores.
    pub store: Option<StoreChoice>,
    /// A fault layered over the auth-api.
    pub auth_fault: Option<AuthFault>,
    /// A fault layered over the chat-api.
    pub chat_fault: Option<ChatFault>,
    /// A seed file for the auth-api (`conformance serve`).
    pub seed: Option<PathBuf>,
    /// The chat-api's client, when the seed makes it: id and secret.
    pub chat_client: Option<(String, String)>,
    /// The auth-api's signing key (default: the development Ed25519 key).
    pub signing_key: Option<PathBuf>,
    /// Settings of the auth-api beyond the defaults (another audience,
    /// other lifetimes), as another implementation would choose them.
    pub configure_auth: Option<ConfigureAuth>,
    /// Settings of the chat-api beyond the defaults.
    pub configure_chat: Option<ConfigureChat>,
}

/// A running reference stack. Dropping it stops both services.
pub struct ReferenceStack {
    /// The target it is, with its admin token, recorder and fault orders.
    pub target: Target,
    _stops: Vec<oneshot::Sender<()>>,
    _postgres: Option<PostgresDatabase>,
    _mongo: Option<MongoDatabase>,
}

/// The development signing key in `fixtures/`.
pub fn dev_key_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/keys/dev-ed25519.pem")
}

/// The development key itself, inside the binary: the embedded reference
/// needs no source tree (an installed `conformance run` works anywhere).
pub(crate) const DEV_KEY_PEM: &[u8] = include_bytes!("../../../fixtures/keys/dev-ed25519.pem");

fn stack_error(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Stack(format!("{e:#}"))
}

impl ReferenceStack {
    /// Starts the auth-api, then registers the chat-api's client with it,
    /// then starts the recorder and the chat-api.
    pub async fn start(options: StackOptions) -> Result<Self, HarnessError> {
        let (postgres, mongo) = databases(options.store.unwrap_or(StoreChoice::Embedded)).await?;
        let admin_token = Secret::new(format!("admin-{}", Uuid::new_v4().simple()));
        let key = match &options.signing_key {
            Some(path) => reference_shared::SigningKey::from_file(path),
            None => reference_shared::SigningKey::from_pem(DEV_KEY_PEM),
        }
        .map_err(stack_error)?;
        let key_path = options.signing_key.unwrap_or_else(dev_key_path);
        let mut auth_config = auth_api::Config::local(key_path);
        auth_config.database_url = postgres.as_ref().map(|p| p.url().to_owned());
        auth_config.admin_token = Some(admin_token.clone());
        auth_config.seed = options.seed;
        if let Some(configure) = options.configure_auth {
            configure(&mut auth_config);
        }
        let audience = auth_config.audience.clone();
        let (auth_url, auth_stop) =
            start_auth(auth_config, key.clone(), options.auth_fault).await?;
        let (client_id, client_secret) = if let Some(client) = options.chat_client {
            client
        } else {
            let http =
                crate::run::client::http_client(None, std::time::Duration::from_secs(30), true)
                    .map_err(stack_error)?;
            crate::run::provision::register_chat_api(&http, &auth_url, &admin_token).await?
        };
        let recorder = Arc::new(Recorder::default());
        let (proxy_url, _proxy) = start_proxy(&auth_url, recorder.clone())
            .await
            .map_err(stack_error)?;
        let mut chat_config = chat_api::Config::local(&proxy_url, &client_id, &client_secret);
        chat_config.issuer = Some(auth_url.clone());
        chat_config.audience = audience;
        // The contract allows any timeout up to 5 s; 1.5 s keeps the run's
        // hanging-auth-api check, the longest wait of the run, short. It
        // bounds all of a request's calls to the auth-api together
        // (introspection, token, group, members). Measured on a 2-core
        // machine (docs/performance.md): 1 s got 504s under load before
        // the scheduling and caching work of issues 18-29; 1.5 s, six and
        // ten full runs at once, release and debug builds, got none in 66.
        chat_config.upstream_timeout_ms = 1500;
        if let Some(configure) = options.configure_chat {
            configure(&mut chat_config);
        }
        if let Some(mongo) = &mongo {
            chat_config.mongo_uri = Some(mongo.uri().to_owned());
            chat_config.mongo_database = mongo.name().to_owned();
        }
        let (chat_url, chat_stop) = start_chat(chat_config, options.chat_fault).await?;
        Ok(Self {
            target: Target {
                auth_url,
                chat_url,
                admin_token: Some(admin_token),
                accounts: None,
                observer: Some(Observer::Local(recorder)),
                faults: Some(proxy_url.clone()),
                signing_key: Some(key),
                ca_pem: None,
                reference: true,
            },
            _stops: vec![auth_stop, chat_stop],
            _postgres: postgres,
            _mongo: mongo,
        })
    }
}

/// The databases a store choice needs: none for the embedded one; a
/// PostgreSQL and a MongoDB-protocol database otherwise (from containers,
/// or the URLs the environment gives).
async fn databases(
    store: StoreChoice,
) -> Result<(Option<PostgresDatabase>, Option<MongoDatabase>), HarnessError> {
    if store == StoreChoice::Urls
        && ["CONFORMANCE_POSTGRES_URL", "CONFORMANCE_MONGO_URL"]
            .iter()
            .any(|v| std::env::var(v).map_or(true, |s| s.is_empty()))
    {
        return Err(HarnessError::Config(
            "--store urls needs CONFORMANCE_POSTGRES_URL and CONFORMANCE_MONGO_URL".to_owned(),
        ));
    }
    if store == StoreChoice::Embedded {
        return Ok((None, None));
    }
    Ok((
        Some(PostgresDatabase::create().await.map_err(stack_error)?),
        Some(MongoDatabase::create().await.map_err(stack_error)?),
    ))
}

/// The auth-api started with its fault layer, if any: its URL and what
/// stops it.
pub(crate) async fn start_auth(
    config: auth_api::Config,
    key: reference_shared::SigningKey,
    fault: Option<AuthFault>,
) -> Result<(String, oneshot::Sender<()>), HarnessError> {
    let auth = auth_api::Application::build_with_key(config, key)
        .await
        .map_err(stack_error)?;
    let auth_url = auth.url();
    let (auth_stop, auth_stopped) = oneshot::channel();
    tokio::spawn(auth.run_wrapped(
        move |router, state| match fault {
            Some(fault) => fault(router, state),
            None => router,
        },
        async {
            let _ = auth_stopped.await;
        },
    ));
    Ok((auth_url, auth_stop))
}

/// The chat-api started with its fault layer, if any: its URL and what
/// stops it.
pub(crate) async fn start_chat(
    config: chat_api::Config,
    fault: Option<ChatFault>,
) -> Result<(String, oneshot::Sender<()>), HarnessError> {
    let chat = chat_api::Application::build(config)
        .await
        .map_err(stack_error)?;
    let chat_url = chat.url();
    let (chat_stop, chat_stopped) = oneshot::channel();
    tokio::spawn(chat.run_wrapped(
        move |router, state| match fault {
            Some(fault) => fault(router, state),
            None => router,
        },
        async {
            let _ = chat_stopped.await;
        },
    ));
    Ok((chat_url, chat_stop))
}
