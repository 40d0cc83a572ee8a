use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use reference_stores::{MongoDatabase, is_duplicate_key};

async fn notes(database: &MongoDatabase) -> Collection<Document> {
    database
        .client()
        .await
        .expect("a client")
        .database(database.name())
        .collection("notes")
}

#[tokio::test]
async fn writes_and_reads_back() {
    let database = MongoDatabase::create().await.expect("a database");
    let notes = notes(&database).await;

    notes
        .insert_one(doc! { "author": "alice", "body": "hello" })
        .await
        .expect("insert");
    let found = notes
        .find_one(doc! { "author": "alice" })
        .await
        .expect("find")
        .expect("the note");

    assert_eq!(found.get_str("body").expect("a body"), "hello");
}

#[tokio::test]
async fn a_unique_index_turns_a_duplicate_into_a_typed_error() {
    let database = MongoDatabase::create().await.expect("a database");
    let notes = notes(&database).await;
    notes
        .create_index(
            IndexModel::builder()
                .keys(doc! { "author": 1, "key": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .expect("create the index");

    notes
        .insert_one(doc! { "author": "bob", "key": "k1" })
        .await
        .expect("first insert");
    let error = notes
        .insert_one(doc! { "author": "bob", "key": "k1" })
        .await
        .expect_err("the duplicate is refused");
    assert!(is_duplicate_key(&error), "{error}");

    let other = notes
        .insert_one(doc! { "author": "bob", "key": "k2" })
        .await;
    assert!(other.is_ok(), "a different key is accepted: {other:?}");
    let batch = notes
        .insert_many([
            doc! { "author": "bob", "key": "k3" },
            doc! { "author": "bob", "key": "k1" },
        ])
        .await
        .expect_err("a batch with a duplicate is refused");
    assert!(is_duplicate_key(&batch), "{batch}");
}

#[tokio::test]
async fn each_database_sees_only_its_own_documents() {
    let first = MongoDatabase::create().await.expect("a database");
    let second = MongoDatabase::create().await.expect("another database");
    assert_ne!(first.name(), second.name());

    notes(&first)
        .await
        .insert_one(doc! { "body": "only in the first" })
        .await
        .expect("insert");

    let all = |database| async move {
        notes(database)
            .await
            .find(doc! {})
            .await
            .expect("find")
            .try_collect::<Vec<_>>()
            .await
            .expect("read")
            .len()
    };
    assert_eq!(all(&first).await, 1);
    assert_eq!(all(&second).await, 0);
}

#[tokio::test]
async fn the_uri_turns_retryable_writes_off() {
    let database = MongoDatabase::create().await.expect("a database");
    assert!(
        database.uri().contains("retryWrites=false"),
        "{}",
        database.uri()
    );
}
