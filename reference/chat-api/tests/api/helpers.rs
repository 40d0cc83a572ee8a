use std::path::PathBuf;
use std::sync::OnceLock;

use chat_api::store::{Message, Messages, MongoStore, SqliteStore};
use chat_api::{Application, Config};
use reference_shared::{Claims, Issue, SigningKey};
use reference_stores::{Cuttable, MongoDatabase};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Store {
    Sqlite,
    Mongo,
    /// MongoDB reached through a [`Cuttable`] hop (`Chat::outage`); the
    /// test's view of the store goes around it.
    MongoBehindCut,
}

/// Runs each named `async fn(Store)` once on each store.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::helpers::Store::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mongo() {
                    super::$name(crate::helpers::Store::Mongo).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;

pub const CLIENT_ID: &str = "chat-api-service";
pub const CLIENT_SECRET: &str = "chat-api-test-secret";

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

pub fn dev_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_file(&fixture("keys/dev-ed25519.pem")).unwrap())
}

/// A user token signed with the development key, as an auth-api at
/// `issuer` would issue it.
pub fn user_token(key: &SigningKey, issuer: &str, user: Uuid) -> String {
    let issue = Issue {
        issuer,
        audience: "conformance-apis",
        now: chrono::Utc::now().timestamp(),
        lifetime: 900,
    };
    key.sign(&Claims::user(user, "alice@example.com", &issue))
        .unwrap()
}

/// A running chat-api and a view of its store.
pub struct Chat {
    pub url: String,
    pub http: reqwest::Client,
    /// The hop between the service and MongoDB, on `MongoBehindCut`.
    pub outage: Option<Cuttable>,
    store: Box<dyn Messages>,
    _mongo: Option<MongoDatabase>,
    _sqlite: Option<TempFile>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Shows the services' logs when `TEST_LOG` is set.
fn init_test_log() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            reference_shared::http::init_tracing();
        }
    });
}

/// Starts a chat-api against the auth-api at `auth_url`, on `store`.
pub async fn spawn_chat(auth_url: &str, store: Store, adjust: impl FnOnce(&mut Config)) -> Chat {
    init_test_log();
    let mut config = Config::local(auth_url, CLIENT_ID, CLIENT_SECRET);
    // The fakes' tokens carry the fake's URL as their issuer; a test of
    // the issuer the metadata publishes sets this back to `None`.
    config.issuer = Some(auth_url.to_owned());
    adjust(&mut config);
    // The view opens first: it creates the SQLite file and applies the
    // migrations, which the service then finds applied.
    let (view, mongo, sqlite): (Box<dyn Messages>, _, _) = match store {
        Store::Sqlite => {
            let file =
                TempFile(std::env::temp_dir().join(format!("chat-{}.db", Uuid::new_v4().simple())));
            config.sqlite_url = format!("sqlite:{}", file.0.display());
            let view = SqliteStore::connect(&config.sqlite_url).await.unwrap();
            (Box::new(view), None, Some(file))
        }
        Store::Mongo | Store::MongoBehindCut => {
            let database = MongoDatabase::create().await.expect("a MongoDB database");
            config.mongo_uri = Some(database.uri().to_owned());
            config.mongo_database = database.name().to_owned();
            let view = MongoStore::connect(database.uri(), database.name())
                .await
                .unwrap();
            (Box::new(view), Some(database), None)
        }
    };
    let outage = match (store, &config.mongo_uri) {
        (Store::MongoBehindCut, Some(uri)) => {
            let hop = Cuttable::in_front_of(uri).await.unwrap();
            config.mongo_uri = Some(hop.url(uri));
            Some(hop)
        }
        _ => None,
    };
    let app = Application::build(config)
        .await
        .expect("the chat-api starts");
    let mut chat = finish(app, view, mongo, sqlite);
    chat.outage = outage;
    chat
}

fn finish(
    app: Application,
    store: Box<dyn Messages>,
    mongo: Option<MongoDatabase>,
    sqlite: Option<TempFile>,
) -> Chat {
    let url = app.url();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    Chat {
        url,
        http: reqwest::Client::new(),
        outage: None,
        store,
        _mongo: mongo,
        _sqlite: sqlite,
        _stop: stop,
    }
}

impl Chat {
    pub fn messages_path(group: Uuid) -> String {
        format!("/api/chat/groups/{group}/messages")
    }

    pub async fn send(
        &self,
        token: &str,
        group: Uuid,
        body: &Value,
        key: Option<&str>,
    ) -> Response {
        let mut request = self
            .http
            .post(format!("{}{}", self.url, Self::messages_path(group)))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }

    /// Every message the store holds for a group, read behind the API's back.
    pub async fn stored(&self, group: Uuid) -> Vec<Message> {
        self.store.page(group, 10_000, None).await.unwrap()
    }
}

/// Asserts the status and a JSON body, and returns the body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?}, body {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts a contract error and returns its body.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}
