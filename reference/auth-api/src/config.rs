use std::net::SocketAddr;
use std::path::PathBuf;

use reference_shared::Secret;

/// The auth-api's configuration, from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "auth-api",
    version,
    about = "The reference auth-api of the conformance contract"
)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "AUTH_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// `postgres://…` for PostgreSQL, `sqlite:PATH` for a file; unset, an
    /// in-memory SQLite database that is gone when the process stops.
    #[arg(long, env = "AUTH_API_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Token issuer (`iss`) and the base of the metadata's URLs; unset,
    /// `http://` and the address listened on.
    #[arg(long, env = "AUTH_API_ISSUER")]
    pub issuer: Option<String>,

    /// Token audience (`aud`).
    #[arg(long, env = "AUTH_API_AUDIENCE", default_value = "conformance-apis")]
    pub audience: String,

    /// User token lifetime, in seconds.
    #[arg(long, env = "AUTH_API_USER_TOKEN_TTL", default_value_t = 900)]
    pub user_token_ttl: i64,

    /// Service token lifetime, in seconds.
    #[arg(long, env = "AUTH_API_SERVICE_TOKEN_TTL", default_value_t = 300)]
    pub service_token_ttl: i64,

    /// Leeway on `exp` and `nbf` when verifying tokens, in seconds (the
    /// contract allows at most 60).
    #[arg(long, env = "AUTH_API_TOKEN_LEEWAY", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub token_leeway: u64,

    /// PEM private key (Ed25519, P-256 or RSA) that signs tokens
    /// (`fixtures/keys/dev-ed25519.pem` for local runs).
    #[arg(long, env = "AUTH_API_SIGNING_KEY")]
    pub signing_key: PathBuf,

    /// Bearer token for the admin endpoints; unset, they answer 404.
    #[arg(long, env = "AUTH_API_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// Password hashes (argon2id, ~19 MiB each) run at once; unset, one per
    /// core.
    #[arg(long, env = "AUTH_API_PASSWORD_HASHES")]
    pub password_hashes: Option<usize>,

    /// Logins and user creations that may wait for a hash; beyond them the
    /// answer is 503 with `Retry-After` at once.
    #[arg(long, env = "AUTH_API_PASSWORD_QUEUE", default_value_t = 64)]
    pub password_queue: usize,

    /// How long a registered client is kept in memory after it is read, in
    /// seconds; 0 reads the database at every token request. A client
    /// deleted through this process is forgotten at once; through another
    /// replica, within this time.
    #[arg(long, env = "AUTH_API_CLIENT_CACHE_SECONDS", default_value_t = 5)]
    pub client_cache_seconds: u64,

    /// A seed file of users, clients and groups to create at start-up
    /// (`fixtures/seed.json`); what exists already is left alone.
    #[arg(long, env = "AUTH_API_SEED")]
    pub seed: Option<PathBuf>,
}

impl Config {
    /// A configuration for tests and the harness: port 0 on loopback, the
    /// in-memory store, the development key.
    pub fn local(signing_key: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            issuer: None,
            audience: "conformance-apis".to_owned(),
            user_token_ttl: 900,
            service_token_ttl: 300,
            token_leeway: 30,
            signing_key,
            admin_token: None,
            password_hashes: None,
            password_queue: 64,
            client_cache_seconds: 5,
            seed: None,
        }
    }
}
