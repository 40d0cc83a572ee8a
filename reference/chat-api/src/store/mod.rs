//! Message storage behind one trait; handlers never know which database
//! answers.

mod mongo;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use mongo::MongoStore;
pub use sqlite::SqliteStore;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed; details are logged, never shown to a client.
    #[error("database: {0}")]
    Database(String),
    /// The database could not be reached (down, cut off, out of
    /// connections): the request may succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Self::Unavailable(e.to_string())
            }
            other => Self::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        // Shutdown in progress, interrupted at shutdown, not primary: the
        // server is going away or changing, not refusing the request.
        const GOING_AWAY: [i32; 4] = [91, 11600, 10107, 189];
        let unavailable = match e.kind.as_ref() {
            ErrorKind::Io(_)
            | ErrorKind::ServerSelection { .. }
            | ErrorKind::ConnectionPoolCleared { .. } => true,
            ErrorKind::Command(command) => GOING_AWAY.contains(&command.code),
            _ => false,
        };
        if unavailable {
            Self::Unavailable(e.to_string())
        } else {
            Self::Database(e.to_string())
        }
    }
}

/// A stored message, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Its id.
    pub id: Uuid,
    /// The group it was sent to.
    pub group_id: Uuid,
    /// The user who sent it (the token's `sub`).
    pub sender_id: Uuid,
    /// The group's organisation, from the auth-api.
    pub org_id: String,
    /// The trimmed text.
    pub content: String,
    /// When it was stored, at millisecond precision.
    #[serde(serialize_with = "reference_shared::time::millis")]
    pub created_at: DateTime<Utc>,
    /// SHA-256 (hex) of what the first request with this message's
    /// `Idempotency-Key` asked for.
    #[serde(skip)]
    pub request_sha256: Option<String>,
}

/// Whether an insert stored something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored.
    New,
    /// A message with this id exists (an `Idempotency-Key` seen before); here it is.
    Exists(Box<Message>),
}

/// Where a page of messages starts: strictly older than this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last message's time, in milliseconds.
    pub created_at_ms: i64,
    /// The last message's id, breaking ties between messages of one millisecond.
    pub id: Uuid,
}

impl Cursor {
    /// The cursor after this message.
    pub fn after(message: &Message) -> Self {
        Self {
            created_at_ms: message.created_at.timestamp_millis(),
            id: message.id,
        }
    }

    /// The text clients pass back: `{milliseconds}-{id as 32 hex digits}`,
    /// a form an OpenAPI pattern can state (clients still treat it as
    /// opaque).
    pub fn encode(&self) -> String {
        format!("{}-{}", self.created_at_ms, self.id.simple())
    }

    /// Parses a cursor a client passed back: exactly the form `encode`
    /// writes (1 to 15 digits, `-`, 32 lower-case hex digits), nothing
    /// looser, so that the document's pattern and this agree.
    pub fn decode(text: &str) -> Option<Self> {
        let (ms, id) = text.split_once('-')?;
        let ms_ok = (1..=15).contains(&ms.len()) && ms.bytes().all(|b| b.is_ascii_digit());
        let id_ok = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !(ms_ok && id_ok) {
            return None;
        }
        Some(Self {
            created_at_ms: ms.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// Messages.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Stores a message unless one with its id exists (atomic: two racing
    /// inserts of one id store one message).
    async fn insert(&self, message: &Message) -> Result<Inserted, StoreError>;
    /// One message by id.
    async fn get(&self, id: Uuid) -> Result<Option<Message>, StoreError>;
    /// A group's messages, newest first, older than `before`, at most `limit`.
    async fn page(
        &self,
        group: Uuid,
        limit: u32,
        before: Option<Cursor>,
    ) -> Result<Vec<Message>, StoreError>;
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The current time at the precision every backend keeps (MongoDB's
/// milliseconds), so that what a 201 shows is what a later read shows.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at_ms: 1_795_981_783_123,
            id: uuid::Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        let id = cursor.id.simple().to_string();
        for bad in [
            String::new(),
            "!!".to_owned(),
            format!("-{id}"),
            format!("1234567890123456-{id}"),
            format!("12-{}", id.to_uppercase()),
            format!("12-{}", cursor.id.hyphenated()),
            format!("+12-{id}"),
            "12-".to_owned(),
        ] {
            assert_eq!(Cursor::decode(&bad), None, "{bad}");
        }
    }
}
