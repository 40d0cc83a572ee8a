use std::net::SocketAddr;
use std::time::Duration;

use reference_shared::Secret;

/// The chat-api's configuration, from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "chat-api",
    version,
    about = "The reference chat-api of the conformance contract"
)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "CHAT_API_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    /// MongoDB connection string; unset, the embedded SQLite store
    /// (`--sqlite-url`) is used.
    #[arg(long, env = "CHAT_API_MONGO_URI", hide_env_values = true)]
    pub mongo_uri: Option<String>,

    /// MongoDB database name.
    #[arg(long, env = "CHAT_API_MONGO_DATABASE", default_value = "chat")]
    pub mongo_database: String,

    /// SQLite database when no MongoDB URI is given: `sqlite::memory:` (gone
    /// when the process stops) or `sqlite:PATH`.
    #[arg(long, env = "CHAT_API_SQLITE_URL", default_value = "sqlite::memory:")]
    pub sqlite_url: String,

    /// The auth-api's base URL.
    #[arg(long, env = "CHAT_API_AUTH_URL")]
    pub auth_url: String,

    /// The chat-api's OAuth client id at the auth-api.
    #[arg(long, env = "CHAT_API_CLIENT_ID", default_value = "chat-api-service")]
    pub client_id: String,

    /// The chat-api's OAuth client secret.
    #[arg(long, env = "CHAT_API_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Secret,

    /// The issuer user tokens must carry; unset, the `issuer` the
    /// auth-api's RFC 8414 metadata publishes (so that a proxy or an
    /// internal address between the two changes nothing).
    #[arg(long, env = "CHAT_API_ISSUER")]
    pub issuer: Option<String>,

    /// The audience user tokens must carry.
    #[arg(long, env = "CHAT_API_AUDIENCE", default_value = "conformance-apis")]
    pub audience: String,

    /// A PEM file of CA certificates to trust for the auth-api besides the
    /// platform's (a private CA).
    #[arg(long, env = "CHAT_API_AUTH_CA_CERT")]
    pub auth_ca_cert: Option<std::path::PathBuf>,

    /// Leeway on `exp` and `nbf` when verifying user tokens, in seconds
    /// (the contract allows at most 60).
    #[arg(long, env = "CHAT_API_TOKEN_LEEWAY", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub token_leeway: u64,

    /// How long a call to the auth-api may take, in milliseconds (the
    /// contract allows at most 5000).
    #[arg(long, env = "CHAT_API_UPSTREAM_TIMEOUT_MS", default_value_t = 5000)]
    pub upstream_timeout_ms: u64,

    /// The scope its service token is asked for (the contract's is
    /// `groups:read`; another is a misconfiguration the harness catches).
    #[arg(long, env = "CHAT_API_TOKEN_SCOPE", default_value = "groups:read")]
    pub token_scope: String,
}

impl Config {
    /// A configuration for tests and the harness: port 0 on loopback, the
    /// in-memory store.
    pub fn local(auth_url: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mongo_uri: None,
            mongo_database: "chat".to_owned(),
            sqlite_url: "sqlite::memory:".to_owned(),
            auth_url: auth_url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: Secret::new(client_secret),
            issuer: None,
            audience: "conformance-apis".to_owned(),
            upstream_timeout_ms: 5000,
            token_leeway: 30,
            auth_ca_cert: None,
            token_scope: reference_shared::GROUPS_READ.to_owned(),
        }
    }

    /// The upstream timeout.
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }
}
