//! What the benchmarks share: the reference stack as processes of their
//! own on PostgreSQL + MongoDB (the stores the tests use:
//! `CONFORMANCE_*_URL`, else containers), with a group of users and a
//! client to load it with.
#![allow(dead_code, reason = "each benchmark uses part of it")]

use std::fs::File;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reference_stores::{MongoDatabase, PostgresDatabase};
use serde_json::{Value, json};

/// The chat-api's client id, by which its token requests are counted.
pub const CHAT_CLIENT: &str = "chat-api-bench";

/// A server process (`reference-bench <args>`), killed when dropped.
pub struct Service {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Service {
    /// Starts `reference-bench <args>`, its standard error to `log`, and
    /// reads its URL from the first line it prints.
    pub fn start(args: &[&str], env: &[(&str, &str)], log: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reference-bench"))
            .args(args)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the server starts");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("{args:?} printed no URL: {first:?}"))
            .to_owned();
        Self { child, url }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now and at its peak, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A duration from an environment variable in seconds, else `default`.
pub fn seconds(var: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// The development signing key.
pub fn key_path() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/keys/dev-ed25519.pem"
    )
    .to_owned()
}

/// Sends a request; the answer's JSON, which must come with a 2xx.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.unwrap()
}

/// Posts JSON with a bearer token; the answer's JSON, which must be a 2xx.
pub async fn post_json(http: &reqwest::Client, url: String, bearer: &str, body: Value) -> Value {
    json_of(http.post(url).bearer_auth(bearer).json(&body)).await
}

/// A member of the stack's group.
pub struct Member {
    pub id: String,
    pub email: String,
    pub password: String,
    /// A user token.
    pub token: String,
}

/// The reference on PostgreSQL + MongoDB, with accounts to load it with.
/// The databases and processes go when it is dropped.
pub struct Stack {
    pub auth: Service,
    pub chat: Service,
    /// A client with `groups:read` that is not the chat-api's.
    pub reader: (String, String),
    /// The group's members; the first owns it.
    pub members: Vec<Member>,
    pub group: String,
    /// The auth-api's log (standard error).
    pub auth_log: PathBuf,
    pub postgres: PostgresDatabase,
    pub mongo: MongoDatabase,
}

impl Stack {
    /// Starts the auth-api and the chat-api and makes a group of `members`
    /// users.
    pub async fn start(members: usize) -> Self {
        let postgres = PostgresDatabase::create()
            .await
            .expect("a PostgreSQL database");
        let mongo = MongoDatabase::create().await.expect("a MongoDB database");
        let admin = format!("admin-{}", uuid::Uuid::new_v4().simple());
        let auth_log = std::env::temp_dir().join(format!("bench-auth-{}.log", std::process::id()));
        let auth = Service::start(
            &[
                "auth-api",
                "--listen",
                "127.0.0.1:0",
                "--signing-key",
                &key_path(),
            ],
            &[
                ("AUTH_API_DATABASE_URL", postgres.url()),
                ("AUTH_API_ADMIN_TOKEN", &admin),
            ],
            Stdio::from(File::create(&auth_log).unwrap()),
        );
        let http = reqwest::Client::new();
        let admin_post =
            |path: &str, body: Value| post_json(&http, format!("{}{path}", auth.url), &admin, body);
        let registered = admin_post(
            "/admin/clients",
            json!({ "client_id": CHAT_CLIENT, "scopes": ["groups:read"] }),
        )
        .await;
        let chat = Service::start(
            &[
                "chat-api",
                "--listen",
                "127.0.0.1:0",
                "--auth-url",
                &auth.url,
                "--client-id",
                CHAT_CLIENT,
                "--mongo-database",
                mongo.name(),
            ],
            &[
                ("CHAT_API_MONGO_URI", mongo.uri()),
                (
                    "CHAT_API_CLIENT_SECRET",
                    registered["client_secret"].as_str().unwrap(),
                ),
            ],
            Stdio::null(),
        );
        let reader = admin_post("/admin/clients", json!({ "scopes": ["groups:read"] })).await;
        let reader = (
            reader["client_id"].as_str().unwrap().to_owned(),
            reader["client_secret"].as_str().unwrap().to_owned(),
        );
        let mut users = Vec::new();
        for i in 0..members {
            let (email, password) = (
                format!("member-{i}@example.com"),
                format!("member-password-{i}"),
            );
            let created = admin_post(
                "/admin/users",
                json!({ "email": email, "password": password }),
            )
            .await;
            let login = json_of(
                http.post(format!("{}/auth/login", auth.url))
                    .json(&json!({ "email": email, "password": password })),
            )
            .await;
            users.push(Member {
                id: created["id"].as_str().unwrap().to_owned(),
                email,
                password,
                token: login["access_token"].as_str().unwrap().to_owned(),
            });
        }
        let group = post_json(
            &http,
            format!("{}/api/auth/groups", auth.url),
            &users[0].token,
            json!({ "name": "Bench", "org_id": uuid::Uuid::new_v4() }),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for member in &users[1..] {
            post_json(
                &http,
                format!("{}/api/auth/groups/{group}/members", auth.url),
                &users[0].token,
                json!({ "user_id": member.id }),
            )
            .await;
        }
        Self {
            auth,
            chat,
            reader,
            members: users,
            group,
            auth_log,
            postgres,
            mongo,
        }
    }

    /// The service tokens the auth-api issued to the chat-api so far, by
    /// the line it logs for each.
    pub fn tokens_issued_to_chat(&self) -> usize {
        std::fs::read_to_string(&self.auth_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("issued a service token") && l.contains(CHAT_CLIENT))
            .count()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.auth_log);
    }
}
