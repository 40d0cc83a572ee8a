//! Storage behind one small trait per aggregate. Handlers see `dyn Store`
//! and never which database answers.

mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the text says which, for the client.
    #[error("{0}")]
    Conflict(&'static str),
    /// The database failed; details are logged, never shown to a client.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the database could not be reached (down, cut off, out of
    /// connections) rather than refusing what was asked: the request may
    /// succeed later, and nothing was done.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception), 53300 (too many
            // connections), 57P01-57P03 (shutting down, cannot connect now).
            sqlx::Error::Database(e) => e.code().is_some_and(|code| {
                code.starts_with("08") || code == "53300" || code.starts_with("57P0")
            }),
            _ => false,
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Server-chosen id.
    pub id: Uuid,
    /// Lower-cased email.
    pub email: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// An OAuth client as stored: its secret only as a SHA-256 digest.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// The client's id.
    pub client_id: String,
    /// SHA-256 of the secret.
    pub secret_sha256: Vec<u8>,
    /// Space-separated scopes the client may ask for.
    pub scopes: String,
    /// When the client was registered.
    pub created_at: DateTime<Utc>,
}

/// A group, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Server-chosen id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The organisation it belongs to; the chat-api stamps it on messages.
    pub org_id: Uuid,
    /// When it was made.
    #[serde(serialize_with = "reference_shared::time::micros")]
    pub created_at: DateTime<Utc>,
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Made the group; may add and remove members.
    Owner,
    /// Belongs to the group.
    Member,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
        }
    }

    fn from_db(value: &str) -> Self {
        if value == "owner" {
            Self::Owner
        } else {
            Self::Member
        }
    }
}

/// A group member, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's email.
    pub email: String,
    /// Owner or member.
    pub role: Role,
    /// When the user joined.
    #[serde(serialize_with = "reference_shared::time::micros")]
    pub joined_at: DateTime<Utc>,
}

/// A verified token as revocation knows it: its id, subject and issue time
/// (seconds).
#[derive(Debug, Clone, Copy)]
pub struct TokenRef<'a> {
    /// `jti`.
    pub jti: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `iat`.
    pub iat: i64,
}

/// Which members a group read brings back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRows {
    /// Every member.
    All,
    /// This user's membership only; none for `None` (a service).
    Of(Option<Uuid>),
}

/// What reading a group takes, from one query: whether the reader's token
/// is refused, the group, and its members by `joined_at`, then `user_id`.
#[derive(Debug, Clone, Default)]
pub struct GroupRead {
    /// The token was revoked, or its subject deleted since it was issued.
    pub refused: bool,
    /// The group, if there is one.
    pub group: Option<Group>,
    /// Its members, as many as asked (none when there is no group).
    pub members: Vec<Member>,
}

/// Whether adding a member made a new membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// The user was not a member before.
    New(Member),
    /// The user already was a member; nothing changed.
    Existing(Member),
}

/// The current time at the precision both databases keep, so that a value
/// returned on creation equals the value read back later.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// User accounts.
#[async_trait]
pub trait Users {
    /// Stores a new user; a taken email is a [`StoreError::Conflict`].
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// The user with this (lower-cased) email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The user with this id.
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError>;
    /// Deletes a user, the memberships and the groups (with their members)
    /// the user owns, and refuses every token issued to the user until now;
    /// `false` when there is no such user.
    async fn delete_user(&self, id: Uuid) -> Result<bool, StoreError>;
}

/// OAuth clients.
#[async_trait]
pub trait Clients {
    /// Stores a new client; an id that is taken by a client, or equal to a
    /// user's id, is a [`StoreError::Conflict`].
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// The client with this id.
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Deletes a client and refuses every token issued to it until now;
    /// `false` when there is no such client.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
}

/// Groups and their members.
#[async_trait]
pub trait Groups {
    /// Stores a new group with its creator as owner.
    async fn insert_group(&self, group: &Group, owner: Uuid) -> Result<(), StoreError>;
    /// The group with this id.
    async fn group(&self, id: Uuid) -> Result<Option<Group>, StoreError>;
    /// The group, its members (or one membership), and whether `token` is
    /// refused, in one round trip: what reading a group costs.
    async fn read_group(
        &self,
        group: Uuid,
        token: TokenRef<'_>,
        members: MemberRows,
    ) -> Result<GroupRead, StoreError>;
    /// One member of a group.
    async fn member(&self, group: Uuid, user: Uuid) -> Result<Option<Member>, StoreError>;
    /// Adds a member (idempotent).
    async fn add_member(&self, group: Uuid, user: Uuid, role: Role) -> Result<Added, StoreError>;
    /// Removes a member; false when the user was not one.
    async fn remove_member(&self, group: Uuid, user: Uuid) -> Result<bool, StoreError>;
}

/// Revoked token ids.
#[async_trait]
pub trait Revocations {
    /// Records a revoked `jti` until the token would have expired anyway.
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Whether a token is refused: revoked itself, or issued (`iat`, in
    /// seconds) before its subject was deleted. One query.
    async fn is_refused(&self, token: TokenRef<'_>) -> Result<bool, StoreError>;
}

/// Everything the auth-api stores.
#[async_trait]
pub trait Store: Users + Clients + Groups + Revocations + Send + Sync {
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store a URL names: `postgres://…` or `sqlite:…` (a file, or
/// `sqlite::memory:`). Applies migrations.
pub async fn connect(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(PostgresStore::connect(url).await?))
    } else {
        Ok(Box::new(SqliteStore::connect(url).await?))
    }
}
