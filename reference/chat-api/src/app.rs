use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::keys::KeyCache;
use crate::routes::router;
use crate::state::AppState;
use crate::store::{Messages, MongoStore, SqliteStore};
use crate::upstream::AuthClient;

/// A built chat-api, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens the store and binds the listener. The auth-api is not called
    /// until the first request: the chat-api starts while it is down and
    /// answers 503 until it is up.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store: Box<dyn Messages> = match &config.mongo_uri {
            Some(uri) => Box::new(
                MongoStore::connect(uri, &config.mongo_database)
                    .await
                    .context("opening MongoDB")?,
            ),
            None => Box::new(
                SqliteStore::connect(&config.sqlite_url)
                    .await
                    .context("opening SQLite")?,
            ),
        };
        let extra_roots = match &config.auth_ca_cert {
            Some(path) => {
                let pem =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .with_context(|| format!("{}: not PEM certificates", path.display()))?
            }
            None => Vec::new(),
        };
        let auth = AuthClient::new(
            &config.auth_url,
            &config.client_id,
            config.client_secret.clone(),
            config.upstream_timeout(),
            extra_roots,
        )
        .with_scope(&config.token_scope);
        let keys = KeyCache::new(
            config.issuer.as_deref(),
            &config.audience,
            config.token_leeway,
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        Ok(Self {
            listener,
            state: AppState::new(store, auth, keys),
        })
    }
}

reference_shared::serving!(Application, AppState, router);
