//! The pool of the embedded SQLite store both services run on when nothing
//! is installed: in memory (`sqlite::memory:`) or in a file.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// Opens the database at `url`, creating it if needed, with a service's own
/// connection settings (`tune`) over the shared ones. An in-memory database
/// lives in one connection: every pool connection would otherwise see a
/// database of its own.
pub async fn open(
    url: &str,
    tune: impl FnOnce(SqliteConnectOptions) -> SqliteConnectOptions,
) -> Result<SqlitePool, sqlx::Error> {
    let options = tune(
        SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5)),
    );
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    SqlitePoolOptions::new()
        .max_connections(if in_memory { 1 } else { 8 })
        .min_connections(u32::from(in_memory))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
}
