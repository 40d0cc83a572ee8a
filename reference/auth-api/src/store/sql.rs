//! The SQL both backends run. The statements are the same; what differs is
//! the database type and how a UUID is stored (PostgreSQL's `uuid`, SQLite's
//! hyphenated text), so one macro writes both implementations.

/// Implements every store trait for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>`), storing UUIDs as `$id` (a type with
/// `From<Uuid>` and `Into<Uuid>`).
macro_rules! sql_store {
    ($store:ty, $db:ty, $id:ty) => {
        mod rows {
            use sqlx::Row as _;

            use super::super::{Member, Role, UserRecord};

            pub(super) type DbRow = <$db as sqlx::Database>::Row;

            pub(super) fn uuid(row: &DbRow, column: &str) -> Result<uuid::Uuid, sqlx::Error> {
                row.try_get::<$id, _>(column).map(Into::into)
            }

            pub(super) fn user(row: &DbRow) -> Result<UserRecord, sqlx::Error> {
                Ok(UserRecord {
                    id: uuid(row, "id")?,
                    email: row.try_get("email")?,
                    password_hash: row.try_get("password_hash")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            pub(super) fn member(row: &DbRow) -> Result<Member, sqlx::Error> {
                Ok(Member {
                    user_id: uuid(row, "user_id")?,
                    email: row.try_get("email")?,
                    role: Role::from_db(row.try_get("role")?),
                    joined_at: row.try_get("joined_at")?,
                })
            }
        }

        const MEMBERS: &str = "SELECT m.user_id, u.email, m.role, m.joined_at \
             FROM members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1";

        /// Whether the token of `$1` (jti), `$2` (sub), `$3` (iat) is refused.
        const REFUSED: &str = "(EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1) \
             OR EXISTS (SELECT 1 FROM revoked_subjects WHERE subject = $2 AND revoked_at >= $3))";

        /// The refusal of the token `$1`-`$3`, the group `$4` and the
        /// members `members` selects: one row per member, or one row of NULLs
        /// beside the refusal when there is none.
        fn read_group_sql(members: &str) -> String {
            format!(
                "SELECT r.refused, g.id AS group_id, g.name, g.org_id, g.created_at, \
                     mm.user_id, mm.email, mm.role, mm.joined_at \
                 FROM (SELECT {REFUSED} AS refused) r \
                 LEFT JOIN groups g ON g.id = $4 \
                 LEFT JOIN ({members}) mm ON g.id IS NOT NULL \
                 ORDER BY mm.joined_at, mm.user_id"
            )
        }

        /// With every member.
        static READ_GROUP: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| read_group_sql(&MEMBERS.replace("$1", "$4")));

        /// With the membership of `$5` only (none for NULL).
        static READ_GROUP_OF: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            read_group_sql(&format!("{} AND m.user_id = $5", MEMBERS.replace("$1", "$4")))
        });

        static IS_REFUSED: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!("SELECT {REFUSED}"));

        fn id(value: uuid::Uuid) -> $id {
            <$id>::from(value)
        }

        fn conflict_on_unique(message: &'static str) -> impl Fn(sqlx::Error) -> super::StoreError {
            move |e| {
                if e.as_database_error()
                    .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
                {
                    super::StoreError::Conflict(message)
                } else {
                    e.into()
                }
            }
        }

        #[async_trait::async_trait]
        impl super::Users for $store {
            async fn insert_user(&self, user: &super::UserRecord) -> Result<(), super::StoreError> {
                sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(id(user.id))
                    .bind(&user.email)
                    .bind(&user.password_hash)
                    .bind(user.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_on_unique("a user with this email exists"))?;
                Ok(())
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<super::UserRecord>, super::StoreError> {
                let row = sqlx::query("SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(rows::user).transpose()?)
            }

            async fn delete_user(&self, user: uuid::Uuid) -> Result<bool, super::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM groups WHERE id IN \
                     (SELECT group_id FROM members WHERE user_id = $1 AND role = 'owner')")
                    .bind(id(user))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM members WHERE user_id = $1")
                    .bind(id(user))
                    .execute(&mut *tx)
                    .await?;
                let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id(user))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if deleted {
                    revoke_subject(&mut tx, &user.hyphenated().to_string()).await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn user_by_id(&self, user: uuid::Uuid) -> Result<Option<super::UserRecord>, super::StoreError> {
                let row = sqlx::query("SELECT id, email, password_hash, created_at FROM users WHERE id = $1")
                    .bind(id(user))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(rows::user).transpose()?)
            }
        }

        /// Refuses the subject's tokens issued until now, in `tx`.
        async fn revoke_subject(
            tx: &mut sqlx::Transaction<'_, $db>,
            subject: &str,
        ) -> Result<(), super::StoreError> {
            sqlx::query("INSERT INTO revoked_subjects (subject, revoked_at) VALUES ($1, $2) \
                 ON CONFLICT (subject) DO UPDATE SET revoked_at = excluded.revoked_at")
                .bind(subject)
                .bind(super::now())
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl super::Clients for $store {
            async fn insert_client(&self, client: &super::ClientRecord) -> Result<(), super::StoreError> {
                let mut tx = self.pool.begin().await?;
                // Only the exact spelling of a user id collides: a look-alike
                // (upper case, braces) is just another client id.
                if let Some(user) = uuid::Uuid::parse_str(&client.client_id)
                    .ok()
                    .filter(|u| u.hyphenated().to_string() == client.client_id)
                {
                    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
                        .bind(id(user))
                        .fetch_one(&mut *tx)
                        .await?;
                    if taken {
                        return Err(super::StoreError::Conflict("this client_id is a user's id"));
                    }
                }
                sqlx::query("INSERT INTO clients (client_id, secret_sha256, scopes, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&client.client_id)
                    .bind(&client.secret_sha256)
                    .bind(&client.scopes)
                    .bind(client.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_on_unique("a client with this client_id exists"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_client(&self, client_id: &str) -> Result<bool, super::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if deleted {
                    revoke_subject(&mut tx, client_id).await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn client(&self, client_id: &str) -> Result<Option<super::ClientRecord>, super::StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query("SELECT client_id, secret_sha256, scopes, created_at FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let record = |row: rows::DbRow| -> Result<_, sqlx::Error> {
                    Ok(super::ClientRecord {
                        client_id: row.try_get("client_id")?,
                        secret_sha256: row.try_get("secret_sha256")?,
                        scopes: row.try_get("scopes")?,
                        created_at: row.try_get("created_at")?,
                    })
                };
                Ok(row.map(record).transpose()?)
            }
        }

        #[async_trait::async_trait]
        impl super::Groups for $store {
            async fn insert_group(&self, group: &super::Group, owner: uuid::Uuid) -> Result<(), super::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO groups (id, name, org_id, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(id(group.id))
                    .bind(&group.name)
                    .bind(id(group.org_id))
                    .bind(group.created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO members (group_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)")
                    .bind(id(group.id))
                    .bind(id(owner))
                    .bind(group.created_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn group(&self, group: uuid::Uuid) -> Result<Option<super::Group>, super::StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query("SELECT id, name, org_id, created_at FROM groups WHERE id = $1")
                    .bind(id(group))
                    .fetch_optional(&self.pool)
                    .await?;
                let record = |row: rows::DbRow| -> Result<_, sqlx::Error> {
                    Ok(super::Group {
                        id: rows::uuid(&row, "id")?,
                        name: row.try_get("name")?,
                        org_id: rows::uuid(&row, "org_id")?,
                        created_at: row.try_get("created_at")?,
                    })
                };
                Ok(row.map(record).transpose()?)
            }

            async fn read_group(&self, group: uuid::Uuid, token: super::TokenRef<'_>, members: super::MemberRows) -> Result<super::GroupRead, super::StoreError> {
                use sqlx::Row as _;
                let issued = chrono::DateTime::from_timestamp(token.iat, 0).unwrap_or_default();
                let sql = match members {
                    super::MemberRows::All => READ_GROUP.as_str(),
                    super::MemberRows::Of(_) => READ_GROUP_OF.as_str(),
                };
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(token.jti)
                    .bind(token.subject)
                    .bind(issued)
                    .bind(id(group));
                if let super::MemberRows::Of(user) = members {
                    query = query.bind(user.map(id));
                }
                let rows = query.fetch_all(&self.pool).await?;
                let mut read = super::GroupRead::default();
                for row in &rows {
                    read.refused = row.try_get("refused")?;
                    if read.group.is_none() && row.try_get::<Option<$id>, _>("group_id")?.is_some() {
                        read.group = Some(super::Group {
                            id: rows::uuid(row, "group_id")?,
                            name: row.try_get("name")?,
                            org_id: rows::uuid(row, "org_id")?,
                            created_at: row.try_get("created_at")?,
                        });
                    }
                    if row.try_get::<Option<$id>, _>("user_id")?.is_some() {
                        read.members.push(rows::member(row)?);
                    }
                }
                Ok(read)
            }

            async fn member(&self, group: uuid::Uuid, user: uuid::Uuid) -> Result<Option<super::Member>, super::StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("{MEMBERS} AND m.user_id = $2")))
                    .bind(id(group))
                    .bind(id(user))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(rows::member).transpose()?)
            }

            async fn add_member(&self, group: uuid::Uuid, user: uuid::Uuid, role: super::Role) -> Result<super::Added, super::StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO members (group_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (group_id, user_id) DO NOTHING",
                )
                .bind(id(group))
                .bind(id(user))
                .bind(role.as_str())
                .bind(super::now())
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1;
                let member = self
                    .member(group, user)
                    .await?
                    .ok_or(super::StoreError::Database(sqlx::Error::RowNotFound))?;
                Ok(if inserted { super::Added::New(member) } else { super::Added::Existing(member) })
            }

            async fn remove_member(&self, group: uuid::Uuid, user: uuid::Uuid) -> Result<bool, super::StoreError> {
                let removed = sqlx::query("DELETE FROM members WHERE group_id = $1 AND user_id = $2")
                    .bind(id(group))
                    .bind(id(user))
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(removed == 1)
            }
        }

        #[async_trait::async_trait]
        impl super::Revocations for $store {
            async fn revoke(&self, jti: &str, expires_at: chrono::DateTime<chrono::Utc>) -> Result<(), super::StoreError> {
                sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                // A revocation outlives its token by the verifiers' leeway, no more.
                sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
                    .bind(super::now() - chrono::Duration::minutes(5))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn is_refused(&self, token: super::TokenRef<'_>) -> Result<bool, super::StoreError> {
                let issued = chrono::DateTime::from_timestamp(token.iat, 0).unwrap_or_default();
                Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(IS_REFUSED.as_str()))
                    .bind(token.jti)
                    .bind(token.subject)
                    .bind(issued)
                    .fetch_one(&self.pool)
                    .await?)
            }
        }

        #[async_trait::async_trait]
        impl super::Store for $store {
            async fn ping(&self) -> Result<(), super::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_store;
