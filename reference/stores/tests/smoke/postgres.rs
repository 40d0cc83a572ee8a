use reference_stores::PostgresDatabase;
use sqlx::PgPool;
use sqlx::Row;
use uuid::Uuid;

async fn migrated_pool(database: &PostgresDatabase) -> PgPool {
    let pool = PgPool::connect(database.url()).await.expect("connect");
    sqlx::migrate!("tests/smoke/migrations")
        .run(&pool)
        .await
        .expect("migrations apply to a fresh database");
    pool
}

#[tokio::test]
async fn writes_and_reads_back_through_a_migrated_schema() {
    let database = PostgresDatabase::create().await.expect("a database");
    let pool = migrated_pool(&database).await;
    let id = Uuid::new_v4();

    sqlx::query("INSERT INTO notes (id, author, body) VALUES ($1, $2, $3)")
        .bind(id)
        .bind("alice")
        .bind("hello")
        .execute(&pool)
        .await
        .expect("insert");
    let row = sqlx::query("SELECT author, body FROM notes WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("select");

    assert_eq!(row.get::<String, _>("author"), "alice");
    assert_eq!(row.get::<String, _>("body"), "hello");
}

#[tokio::test]
async fn a_unique_violation_is_a_typed_error() {
    let database = PostgresDatabase::create().await.expect("a database");
    let pool = migrated_pool(&database).await;
    let insert = |id: Uuid| {
        sqlx::query("INSERT INTO notes (id, author, body) VALUES ($1, 'bob', 'same')")
            .bind(id)
            .execute(&pool)
    };

    insert(Uuid::new_v4()).await.expect("first insert");
    let error = insert(Uuid::new_v4()).await.expect_err("duplicate insert");

    let database_error = error.as_database_error().expect("a database error");
    assert!(database_error.is_unique_violation(), "{database_error}");
}

#[tokio::test]
async fn each_database_starts_empty_and_sees_only_its_own_rows() {
    let first = PostgresDatabase::create().await.expect("a database");
    let second = PostgresDatabase::create().await.expect("another database");
    assert_ne!(first.name(), second.name());
    let (a, b) = (migrated_pool(&first).await, migrated_pool(&second).await);

    sqlx::query("INSERT INTO notes (id, author, body) VALUES ($1, 'carol', 'only in the first')")
        .bind(Uuid::new_v4())
        .execute(&a)
        .await
        .expect("insert");

    let count = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM notes")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    assert_eq!(count(a).await, 1);
    assert_eq!(count(b).await, 0);
}

#[tokio::test]
async fn a_dropped_database_is_gone_from_the_server() {
    let database = PostgresDatabase::create().await.expect("a database");
    let name = database.name().to_owned();
    let keeper = PostgresDatabase::create().await.expect("another database");
    drop(database);

    let pool = PgPool::connect(keeper.url()).await.expect("connect");
    let still_there: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&pool)
            .await
            .expect("query the catalogue");
    assert!(!still_there, "database {name} was not dropped");
}

#[tokio::test]
async fn the_debug_form_never_shows_the_password() {
    let database = PostgresDatabase::create().await.expect("a database");
    let password = url::Url::parse(database.url())
        .expect("a URL")
        .password()
        .map(str::to_owned)
        .expect("the URL carries a password");

    assert!(!format!("{database:?}").contains(&password));
}
