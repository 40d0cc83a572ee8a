use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteJournalMode, SqlitePool};

use super::StoreError;
use super::sql::sql_store;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The embedded SQLite store, so that the service runs with nothing
/// installed: in memory (`sqlite::memory:`) or in a file (`sqlite:auth.db`).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = reference_shared::sqlite::open(url, |options| {
            options
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
        })
        .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

sql_store!(SqliteStore, sqlx::Sqlite, uuid::fmt::Hyphenated);
