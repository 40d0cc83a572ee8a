use std::fmt;
use std::time::Duration;

use mongodb::bson::doc;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;

use crate::containers::{self, Endpoint};
use crate::error::StoreError;
use crate::postgres::keep_databases;
use crate::source::{self, Source};

/// The server error code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

/// A MongoDB database of its own, on a shared server, dropped with the handle
/// (unless `CONFORMANCE_KEEP_DATABASES` is set).
pub struct MongoDatabase {
    uri: String,
    name: String,
}

impl MongoDatabase {
    /// Creates a fresh database name on the server the environment points at
    /// (see the crate's documentation). MongoDB creates it on first write.
    pub async fn create() -> Result<Self, StoreError> {
        let uri = match source::MONGO.source()? {
            Source::Url(uri) => with_retry_writes_off(&uri),
            Source::Container { image } => {
                container_uri(&containers::shared(source::MONGO, &image).await?)
            }
        };
        // A bad URI fails here, not in the middle of a test.
        ping(&uri).await?;
        Ok(Self {
            uri,
            name: format!("conformance_{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// The connection string, always with `retryWrites=false` (SecantusDB
    /// slows to a crawl with retryable writes; a single test server has no use
    /// for them).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for this server, with short timeouts.
    pub async fn client(&self) -> Result<mongodb::Client, StoreError> {
        client(&self.uri).await
    }
}

impl fmt::Debug for MongoDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for MongoDatabase {
    fn drop(&mut self) {
        if keep_databases() {
            eprintln!("kept MongoDB database {}", self.name);
            return;
        }
        let uri = self.uri.clone();
        let name = std::mem::take(&mut self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(async {
                    client(&uri)
                        .await?
                        .database(&name)
                        .drop()
                        .await
                        .map_err(StoreError::from)
                })
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
        if let Ok(Err(e)) = dropped {
            tracing::warn!(error = %e, "could not drop a test database");
        }
    }
}

/// Whether a driver error is a unique index violation, however the write was
/// made (single insert, `insert_many`, or a command).
pub fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .iter()
            .flatten()
            .any(|e| e.code == DUPLICATE_KEY),
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Adds `retryWrites=false` unless the URI already says something about it.
fn with_retry_writes_off(uri: &str) -> String {
    if uri.contains("retryWrites=") {
        return uri.to_owned();
    }
    let after_scheme = uri.find("://").map_or(0, |i| i + 3);
    if uri.contains('?') {
        format!("{uri}&retryWrites=false")
    } else if uri[after_scheme..].contains('/') {
        format!("{uri}?retryWrites=false")
    } else {
        format!("{uri}/?retryWrites=false")
    }
}

pub(crate) fn container_uri(endpoint: &Endpoint) -> String {
    format!(
        "mongodb://{}:{}/?retryWrites=false&directConnection=true",
        endpoint.host, endpoint.port
    )
}

async fn client(uri: &str) -> Result<mongodb::Client, StoreError> {
    let mut options = ClientOptions::parse(uri).await?;
    options.server_selection_timeout = Some(Duration::from_secs(5));
    options.connect_timeout = Some(Duration::from_secs(5));
    Ok(mongodb::Client::with_options(options)?)
}

pub(crate) async fn ping(uri: &str) -> Result<(), StoreError> {
    client(uri)
        .await?
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_retry_writes_off;

    #[test]
    fn retry_writes_is_turned_off_in_every_uri_shape() {
        assert_eq!(
            with_retry_writes_off("mongodb://h:1"),
            "mongodb://h:1/?retryWrites=false"
        );
        assert_eq!(
            with_retry_writes_off("mongodb://h:1/"),
            "mongodb://h:1/?retryWrites=false"
        );
        assert_eq!(
            with_retry_writes_off("mongodb://a:1,b:2/admin?tls=true"),
            "mongodb://a:1,b:2/admin?tls=true&retryWrites=false"
        );
        assert_eq!(
            with_retry_writes_off("mongodb://h/?retryWrites=true"),
            "mongodb://h/?retryWrites=true"
        );
    }
}
