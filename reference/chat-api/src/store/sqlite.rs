use async_trait::async_trait;
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use uuid::Uuid;

use super::{Cursor, Inserted, Message, Messages, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The embedded SQLite store, so that the service runs with nothing
/// installed: in memory (`sqlite::memory:`) or in a file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = reference_shared::sqlite::open(url, |options| options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

fn message(row: &SqliteRow) -> Result<Message, StoreError> {
    let uuid = |column: &str| -> Result<Uuid, StoreError> {
        let text: String = row.try_get(column)?;
        Uuid::parse_str(&text).map_err(|e| StoreError::Database(e.to_string()))
    };
    let ms: i64 = row.try_get("created_at_ms")?;
    Ok(Message {
        id: uuid("id")?,
        group_id: uuid("group_id")?,
        sender_id: uuid("sender_id")?,
        org_id: row.try_get("org_id")?,
        content: row.try_get("content")?,
        created_at: chrono::DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| StoreError::Database("a stored time is out of range".to_owned()))?,
        request_sha256: row.try_get("request_sha256")?,
    })
}

const COLUMNS: &str =
    "SELECT id, group_id, sender_id, org_id, content, created_at_ms, request_sha256 FROM messages";

#[async_trait]
impl Messages for SqliteStore {
    async fn insert(&self, m: &Message) -> Result<Inserted, StoreError> {
        let stored = sqlx::query(
            "INSERT INTO messages (id, group_id, sender_id, org_id, content, created_at_ms, request_sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(m.id.to_string())
        .bind(m.group_id.to_string())
        .bind(m.sender_id.to_string())
        .bind(&m.org_id)
        .bind(&m.content)
        .bind(m.created_at.timestamp_millis())
        .bind(&m.request_sha256)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if stored == 1 {
            return Ok(Inserted::New);
        }
        let existing = self
            .get(m.id)
            .await?
            .ok_or_else(|| StoreError::Database("a duplicate id vanished".to_owned()))?;
        Ok(Inserted::Exists(Box::new(existing)))
    }

    async fn get(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(message).transpose()
    }

    async fn page(
        &self,
        group: Uuid,
        limit: u32,
        before: Option<Cursor>,
    ) -> Result<Vec<Message>, StoreError> {
        let order = "ORDER BY created_at_ms DESC, id DESC LIMIT $4";
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE group_id = $1 AND ($2 IS NULL OR created_at_ms < $2 OR (created_at_ms = $2 AND id < $3)) {order}"
        )))
        .bind(group.to_string())
        .bind(before.map(|c| c.created_at_ms))
        .bind(before.map(|c| c.id.to_string()))
        .bind(i64::from(limit));
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(message).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
