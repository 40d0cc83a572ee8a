use std::fmt;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use url::Url;

use crate::containers::{self, Endpoint};
use crate::error::StoreError;
use crate::source::{self, Source};

/// A PostgreSQL database of its own, created for one test (or one harness
/// run) and dropped with the handle, unless `CONFORMANCE_KEEP_DATABASES` is
/// set, which keeps it for a look after a failure.
pub struct PostgresDatabase {
    url: Url,
    admin_url: Url,
    name: String,
}

impl PostgresDatabase {
    /// Creates a fresh database on the server the environment points at (see
    /// the crate's documentation).
    pub async fn create() -> Result<Self, StoreError> {
        let admin_url = match source::POSTGRES.source()? {
            Source::Url(url) => Url::parse(&url).map_err(|e| StoreError::BadVariable {
                var: source::POSTGRES.url_var,
                reason: e.to_string(),
            })?,
            Source::Container { image } => {
                let endpoint = containers::shared(source::POSTGRES, &image).await?;
                container_admin_url(&endpoint)
            }
        };
        let name = format!("conformance_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect(&admin_url).await?;
        // The name is ours and made of [a-z0-9_], so quoting it is enough.
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let mut url = admin_url.clone();
        url.set_path(&format!("/{name}"));
        tracing::debug!(database = %name, "created a PostgreSQL database");
        Ok(Self {
            url,
            admin_url,
            name,
        })
    }

    /// The connection URL of this database (it holds the password: do not log it).
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("host", &self.url.host_str())
            .field("port", &self.url.port())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        if keep_databases() {
            eprintln!("kept PostgreSQL database {}", self.name);
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = std::mem::take(&mut self.name);
        // Drop may run inside a runtime that cannot block; a thread of its own
        // with a runtime of its own can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(async {
                    let mut admin = connect(&admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    )))
                    .execute(&mut admin)
                    .await?;
                    admin.close().await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                })
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
        if let Ok(Err(e)) = dropped {
            tracing::warn!(error = %e, "could not drop a test database");
        }
    }
}

pub(crate) fn keep_databases() -> bool {
    std::env::var_os("CONFORMANCE_KEEP_DATABASES").is_some_and(|v| !v.is_empty())
}

pub(crate) fn container_admin_url(endpoint: &Endpoint) -> Url {
    Url::parse(&format!(
        "postgres://postgres:{}@{}:{}/postgres",
        containers::postgres_password(),
        endpoint.host,
        endpoint.port
    ))
    .expect("a well-formed URL")
}

async fn connect(url: &Url) -> Result<PgConnection, StoreError> {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url.as_str())).await {
        Ok(connection) => Ok(connection?),
        Err(_) => Err(StoreError::NotReady {
            kind: source::POSTGRES.name,
            waited: Duration::from_secs(10),
            last_error: "connecting timed out".to_owned(),
        }),
    }
}

pub(crate) async fn ping(url: &Url) -> Result<(), StoreError> {
    let mut connection = connect(url).await?;
    sqlx::query("SELECT 1").execute(&mut connection).await?;
    connection.close().await?;
    Ok(())
}
