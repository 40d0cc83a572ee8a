use anyhow::Context as _;
use reference_shared::SigningKey;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::routes::router;
use crate::seed::Seed;
use crate::state::{AppState, TokenSettings};
use crate::store;

/// A built auth-api, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Loads the key, opens the store (applying migrations), seeds it and
    /// binds the listener. Every failure says what to fix.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let key = SigningKey::from_file(&config.signing_key)?;
        Self::build_with_key(config, key).await
    }

    /// As [`Self::build`], with the signing key given rather than read from
    /// `config.signing_key` (the harness's embedded reference, whose
    /// development key is inside its binary).
    pub async fn build_with_key(config: Config, key: SigningKey) -> anyhow::Result<Self> {
        let store = match &config.database_url {
            Some(url) => store::connect(url).await,
            None => store::connect("sqlite::memory:").await,
        }
        .context("opening the database")?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let address = listener.local_addr()?;
        let issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{address}"))
            .trim_end_matches('/')
            .to_owned();
        let state = AppState::new(
            store,
            key,
            TokenSettings {
                issuer,
                audience: config.audience.clone(),
                user_ttl: config.user_token_ttl,
                service_ttl: config.service_token_ttl,
                leeway: config.token_leeway,
            },
            config.admin_token.clone(),
            crate::password::HashingPool::new(
                config.password_hashes.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
                }),
                config.password_queue,
            ),
            std::time::Duration::from_secs(config.client_cache_seconds),
        );
        if let Some(path) = &config.seed {
            Seed::load(path)?.apply(&state).await?;
        }
        Ok(Self { listener, state })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address().port()
    }

    /// The shared state, e.g. to wrap the router in a test.
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

reference_shared::serving!(Application, AppState, router);
