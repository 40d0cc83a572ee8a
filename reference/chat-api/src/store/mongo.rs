use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use uuid::Uuid;

use super::{Cursor, Inserted, Message, Messages, StoreError};

/// The MongoDB store: the one a deployment runs on. Message ids are the
/// documents' `_id`, so the always-unique `_id` index is what makes an
/// `Idempotency-Key` hold under concurrent retries.
#[derive(Debug, Clone)]
pub struct MongoStore {
    messages: Collection<Document>,
    database: mongodb::Database,
}

impl MongoStore {
    /// Connects and creates the index the listing needs.
    pub async fn connect(uri: &str, database: &str) -> Result<Self, StoreError> {
        let mut options = mongodb::options::ClientOptions::parse(uri).await?;
        options.server_selection_timeout = Some(std::time::Duration::from_secs(5));
        options.app_name = Some("chat-api".to_owned());
        let database = mongodb::Client::with_options(options)?.database(database);
        let messages = database.collection::<Document>("messages");
        messages
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "group_id": 1, "created_at": -1, "_id": -1 })
                    .options(
                        IndexOptions::builder()
                            .name("newest_first".to_owned())
                            .build(),
                    )
                    .build(),
            )
            .await?;
        Ok(Self { messages, database })
    }
}

fn to_document(message: &Message) -> Document {
    let mut document = doc! {
        "_id": message.id.to_string(),
        "group_id": message.group_id.to_string(),
        "sender_id": message.sender_id.to_string(),
        "org_id": &message.org_id,
        "content": &message.content,
        "created_at": bson::DateTime::from_millis(message.created_at.timestamp_millis()),
    };
    if let Some(hash) = &message.request_sha256 {
        document.insert("request_sha256", hash);
    }
    document
}

fn from_document(document: &Document) -> Result<Message, StoreError> {
    let bad = |field: &str| StoreError::Database(format!("a stored message has no valid {field}"));
    let uuid = |field: &str| {
        document
            .get_str(field)
            .ok()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| bad(field))
    };
    let created_at = document
        .get_datetime("created_at")
        .map_err(|_| bad("created_at"))?;
    Ok(Message {
        id: uuid("_id")?,
        group_id: uuid("group_id")?,
        sender_id: uuid("sender_id")?,
        org_id: document
            .get_str("org_id")
            .map_err(|_| bad("org_id"))?
            .to_owned(),
        content: document
            .get_str("content")
            .map_err(|_| bad("content"))?
            .to_owned(),
        created_at: chrono::DateTime::from_timestamp_millis(created_at.timestamp_millis())
            .ok_or_else(|| bad("created_at"))?,
        request_sha256: document.get_str("request_sha256").ok().map(str::to_owned),
    })
}

#[async_trait]
impl Messages for MongoStore {
    async fn insert(&self, message: &Message) -> Result<Inserted, StoreError> {
        match self.messages.insert_one(to_document(message)).await {
            Ok(_) => Ok(Inserted::New),
            Err(e) if is_duplicate_key(&e) => {
                let existing = self
                    .get(message.id)
                    .await?
                    .ok_or_else(|| StoreError::Database("a duplicate id vanished".to_owned()))?;
                Ok(Inserted::Exists(Box::new(existing)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        self.messages
            .find_one(doc! { "_id": id.to_string() })
            .await?
            .as_ref()
            .map(from_document)
            .transpose()
    }

    async fn page(
        &self,
        group: Uuid,
        limit: u32,
        before: Option<Cursor>,
    ) -> Result<Vec<Message>, StoreError> {
        let mut filter = doc! { "group_id": group.to_string() };
        if let Some(cursor) = before {
            let at = bson::DateTime::from_millis(cursor.created_at_ms);
            filter.insert(
                "$or",
                vec![
                    doc! { "created_at": { "$lt": at } },
                    doc! { "created_at": at, "_id": { "$lt": cursor.id.to_string() } },
                ],
            );
        }
        let documents: Vec<Document> = self
            .messages
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        documents.iter().map(from_document).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.database.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }
}

/// A unique index violation, however the server reports it.
fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        _ => false,
    }
}
