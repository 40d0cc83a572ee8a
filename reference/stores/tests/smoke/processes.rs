//! What holds across processes: two test processes at once keep their data
//! apart, and a machine with neither Docker nor URLs fails fast and says what
//! to do. Each runs this test binary again as a child, with a helper test
//! that refuses to run unless its parent set it up.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use reference_stores::{MongoDatabase, PostgresDatabase};
use sqlx::PgPool;

const CHILD_ROLE: &str = "SMOKE_CHILD_ROLE";
const CHILD_MARKER: &str = "SMOKE_CHILD_MARKER";
const CHILD_RENDEZVOUS: &str = "SMOKE_CHILD_RENDEZVOUS";
/// Generous: a child that needs more than this is hung, not slow.
const CHILD_DEADLINE: Duration = Duration::from_secs(180);

fn child(test: &str, role: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([test, "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ROLE, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn wait(mut child: std::process::Child) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if started.elapsed() > CHILD_DEADLINE {
            child.kill().ok();
            panic!("the child process hung for {CHILD_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("the child's output")
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn role(expected: &str) {
    assert_eq!(
        std::env::var(CHILD_ROLE).as_deref(),
        Ok(expected),
        "this helper runs only as a child of the `processes` tests"
    );
}

#[test]
fn two_processes_at_once_do_not_see_each_others_data() {
    let rendezvous = tempfile_dir();
    let children: Vec<_> = ["first", "second"]
        .into_iter()
        .map(|marker| {
            child("processes::child_writes_then_reads_its_own_data", "writer")
                .env(CHILD_MARKER, marker)
                .env(CHILD_RENDEZVOUS, &rendezvous)
                .spawn()
                .expect("spawn a child")
        })
        .collect();
    for output in children.into_iter().map(wait) {
        assert!(output.status.success(), "{}", describe(&output));
    }
    std::fs::remove_dir_all(&rendezvous).ok();
}

#[tokio::test]
#[ignore = "a child of two_processes_at_once_do_not_see_each_others_data"]
async fn child_writes_then_reads_its_own_data() {
    role("writer");
    let marker = std::env::var(CHILD_MARKER).expect("a marker");
    let rendezvous = std::env::var(CHILD_RENDEZVOUS).expect("a rendezvous folder");

    let postgres = PostgresDatabase::create()
        .await
        .expect("a PostgreSQL database");
    let pool = PgPool::connect(postgres.url()).await.expect("connect");
    sqlx::query("CREATE TABLE marks (process TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("create");
    let mongo = MongoDatabase::create().await.expect("a MongoDB database");
    let marks = mongo
        .client()
        .await
        .expect("a client")
        .database(mongo.name())
        .collection::<Document>("marks");
    for _ in 0..20 {
        sqlx::query("INSERT INTO marks (process) VALUES ($1)")
            .bind(&marker)
            .execute(&pool)
            .await
            .expect("insert");
        marks
            .insert_one(doc! { "process": &marker })
            .await
            .expect("insert");
    }

    // Read only once both processes have written.
    let dir = Path::new(&rendezvous);
    std::fs::write(dir.join(&marker), b"written").expect("mark as written");
    let started = Instant::now();
    while std::fs::read_dir(dir)
        .expect("the rendezvous folder")
        .count()
        < 2
    {
        assert!(
            started.elapsed() < CHILD_DEADLINE,
            "the other process never wrote"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let seen: Vec<String> = sqlx::query_scalar("SELECT process FROM marks")
        .fetch_all(&pool)
        .await
        .expect("select");
    assert_eq!(seen, vec![marker.clone(); 20], "PostgreSQL rows");
    let seen: Vec<Document> = marks
        .find(doc! {})
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("read");
    assert_eq!(seen.len(), 20, "MongoDB documents");
    assert!(
        seen.iter()
            .all(|d| d.get_str("process") == Ok(marker.as_str()))
    );
}

#[test]
fn without_docker_or_urls_it_fails_fast_and_says_what_to_do() {
    let output = wait(
        child(
            "processes::child_asks_for_databases_with_nothing_there",
            "stranded",
        )
        .env_remove("CONFORMANCE_POSTGRES_URL")
        .env_remove("CONFORMANCE_MONGO_URL")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .spawn()
        .expect("spawn a child"),
    );
    assert!(output.status.success(), "{}", describe(&output));
}

#[tokio::test]
#[ignore = "a child of without_docker_or_urls_it_fails_fast_and_says_what_to_do"]
async fn child_asks_for_databases_with_nothing_there() {
    role("stranded");
    let postgres = PostgresDatabase::create()
        .await
        .expect_err("no PostgreSQL without Docker or a URL")
        .to_string();
    let mongo = MongoDatabase::create()
        .await
        .expect_err("no MongoDB without Docker or a URL")
        .to_string();

    for (message, var, image_var) in [
        (
            &postgres,
            "CONFORMANCE_POSTGRES_URL",
            "CONFORMANCE_POSTGRES_IMAGE",
        ),
        (&mongo, "CONFORMANCE_MONGO_URL", "CONFORMANCE_MONGO_IMAGE"),
    ] {
        assert!(message.contains(var), "{message}");
        assert!(message.contains(image_var), "{message}");
        assert!(message.contains("scripts/build-local-images"), "{message}");
        assert!(
            message.contains("unix:///nonexistent/docker.sock"),
            "{message}"
        );
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smoke-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a rendezvous folder");
    dir
}
