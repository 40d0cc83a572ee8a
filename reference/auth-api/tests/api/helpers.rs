use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use auth_api::{Application, Config, Secret};
use base64::Engine as _;
use reference_stores::{Cuttable, PostgresDatabase};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Store {
    Sqlite,
    Postgres,
    /// PostgreSQL reached through a [`Cuttable`] hop (`TestApp::outage`).
    PostgresBehindCut,
}

/// Runs each named `async fn(TestApp)` once on each store.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(crate::helpers::spawn_app(crate::helpers::Store::Sqlite).await).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name(crate::helpers::spawn_app(crate::helpers::Store::Postgres).await).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;

pub const ADMIN_TOKEN: &str = "admin-token-for-tests-5f1c";

/// Everything the logs of this test process held.
pub static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[derive(Clone, Copy)]
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Captures every log line of the process at the most verbose level, so
/// that the secrets test can read what a careless log line would leak.
fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("trace,hyper=debug,h2=debug,tower=debug"))
            .with_writer(Capture)
            .with_ansi(false)
            .init();
    });
}

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

pub struct TestApp {
    pub url: String,
    pub http: Client,
    /// The hop between the service and PostgreSQL, on `PostgresBehindCut`.
    pub outage: Option<Cuttable>,
    // Dropped after the server: the database goes last.
    _database: Option<PostgresDatabase>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app(store: Store) -> TestApp {
    capture_logs();
    let database = match store {
        Store::Sqlite => None,
        Store::Postgres | Store::PostgresBehindCut => Some(
            PostgresDatabase::create()
                .await
                .expect("a PostgreSQL database"),
        ),
    };
    let outage = match (store, &database) {
        (Store::PostgresBehindCut, Some(database)) => {
            Some(Cuttable::in_front_of(database.url()).await.unwrap())
        }
        _ => None,
    };
    let mut config = Config::local(fixture("keys/dev-ed25519.pem"));
    config.database_url = database.as_ref().map(|d| match &outage {
        Some(hop) => hop.url(d.url()),
        None => d.url().to_owned(),
    });
    config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    let app = Application::build(config)
        .await
        .expect("the auth-api starts");
    let url = app.url();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        http: Client::new(),
        outage,
        _database: database,
        _stop: stop,
    }
}

/// A user's id, email and token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// An OAuth client's credentials.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

/// The contract's cast: alice owns a group, bob is in none, a reader client
/// holds `groups:read`, a blind client holds nothing.
pub struct World {
    pub alice: TestUser,
    pub bob: TestUser,
    pub group: String,
    pub org: String,
    pub reader: TestClient,
    pub blind: TestClient,
}

impl TestApp {
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.http.delete(format!("{}{path}", self.url))
    }

    pub async fn create_user(&self, email: &str) -> TestUser {
        let password = format!("password-of-{email}");
        let response = self
            .post("/admin/users")
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        let body = expect_json(response, StatusCode::CREATED).await;
        let token = self.login(email, &password).await;
        TestUser {
            id: body["id"].as_str().unwrap().to_owned(),
            email: body["email"].as_str().unwrap().to_owned(),
            password,
            token,
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self
            .post("/auth/login")
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn create_client(&self, id: &str, scopes: &[&str]) -> TestClient {
        let response = self
            .post("/admin/clients")
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "client_id": id, "scopes": scopes }))
            .send()
            .await
            .unwrap();
        let body = expect_json(response, StatusCode::CREATED).await;
        TestClient {
            id: body["client_id"].as_str().unwrap().to_owned(),
            secret: body["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// Asks `/oauth/token` with HTTP Basic.
    pub fn token_request(&self, client: &TestClient, form: &[(&str, &str)]) -> RequestBuilder {
        self.post("/oauth/token")
            .header("authorization", basic(&client.id, &client.secret))
            .form(form)
    }

    pub async fn service_token(&self, client: &TestClient, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.token_request(client, &form).send().await.unwrap();
        expect_json(response, StatusCode::OK).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn create_group(&self, owner: &TestUser, org: &str) -> String {
        let response = self
            .post("/api/auth/groups")
            .bearer_auth(&owner.token)
            .json(&json!({ "name": "Engineering", "org_id": org }))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::CREATED).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn world(&self) -> World {
        let alice = self.create_user("alice.admin@example.com").await;
        let bob = self.create_user("bob@example.com").await;
        let org = uuid::Uuid::new_v4().to_string();
        let group = self.create_group(&alice, &org).await;
        let reader = self
            .create_client("chat-api-service", &["groups:read"])
            .await;
        let blind = self.create_client("reporting-service", &[]).await;
        World {
            alice,
            bob,
            group,
            org,
            reader,
            blind,
        }
    }
}

/// An HTTP Basic header, id and secret form-urlencoded first (RFC 6749 App. B).
pub fn basic(id: &str, secret: &str) -> String {
    reference_shared::form::basic_authorization(id, secret)
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

/// Asserts a contract error: status, `error` code, a description.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

/// The claims of a JWT, decoded without verification (the tests check what
/// a client would see).
pub fn claims(token: &str) -> Value {
    part(token, 1)
}

/// The header of a JWT.
pub fn header(token: &str) -> Value {
    part(token, 0)
}

fn part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The value of a response header, or "".
pub fn header_value(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
