//! The reference's OpenAPI documents tell the truth, as an independent
//! fuzzer sees them: Schemathesis (the versions pinned in
//! `fixtures/schemathesis/requirements.txt`, installed from the Python
//! Package Index into a virtual environment under the target directory)
//! runs every check and every phase against both services, with a user's,
//! a service's and the admin's credentials, and reports nothing.
//!
//! Python as harness/tests/common/python.rs finds it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../common/python.rs"]
mod python;

use conformance::{ReferenceStack, StackOptions, StoreChoice};
use serde_json::{Value, json};

/// The pinned requirements.
const REQUIREMENTS: &str = include_str!("../../../fixtures/schemathesis/requirements.txt");

/// Examples per operation and phase: enough for every constraint of the
/// documents to be tried both ways, few enough for the suite.
const MAX_EXAMPLES: u32 = 25;
/// The seed: the same requests every run.
const SEED: u64 = 18;

/// Warnings that mean the run could not exercise what it names: credentials
/// unused or refused, a pattern the generator cannot read, a filter or a
/// reference that matched nothing. They fail the test like failures do.
const FATAL_WARNINGS: &[&str] = &[
    "missing_auth",
    "unused_openapi_auth",
    "unsupported_regex",
    "unmatched_filter",
    "unresolvable_reference",
];

/// The Schemathesis executable of a virtual environment holding exactly the
/// pinned requirements, made on first use and kept for later runs; the
/// tests of this process wait for the one making it.
fn schemathesis() -> PathBuf {
    static EXECUTABLE: OnceLock<PathBuf> = OnceLock::new();
    EXECUTABLE.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    python::virtual_environment(target_tmp, "schemathesis", REQUIREMENTS).join("schemathesis")
}

/// What the run authenticates with.
struct Credentials {
    admin: String,
    user: String,
    service: String,
    client_id: String,
    client_secret: String,
    group_id: String,
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// A user of its own (so that nothing the fuzzer does touches another
/// test's), a group she owns, and a `groups:read` client, made through the
/// admin endpoints. The user is the login example of the auth-api's
/// document, so that the examples phase logs in.
async fn credentials(stack: &ReferenceStack) -> Credentials {
    let http = reqwest::Client::new();
    let auth = &stack.target.auth_url;
    let admin = stack
        .target
        .admin_token
        .as_ref()
        .unwrap()
        .expose()
        .to_owned();
    let document = json_of(http.get(format!("{auth}/openapi.json"))).await;
    let example = &document["components"]["schemas"]["Login"]["examples"][0];
    let (email, password) = (&example["email"], &example["password"]);
    json_of(
        http.post(format!("{auth}/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({ "email": email, "password": password })),
    )
    .await;
    let login = json_of(
        http.post(format!("{auth}/auth/login"))
            .json(&json!({ "email": email, "password": password })),
    )
    .await;
    let user = login["access_token"].as_str().unwrap().to_owned();
    let group = json_of(
        http.post(format!("{auth}/api/auth/groups"))
            .bearer_auth(&user)
            .json(&json!({ "name": "schemathesis", "org_id": uuid::Uuid::new_v4() })),
    )
    .await;
    let client = json_of(
        http.post(format!("{auth}/admin/clients"))
            .bearer_auth(&admin)
            .json(&json!({ "scopes": ["groups:read"] })),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let client_secret = client["client_secret"].as_str().unwrap().to_owned();
    let token = json_of(
        http.post(format!("{auth}/oauth/token"))
            .basic_auth(&client_id, Some(&client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "groups:read"),
            ]),
    )
    .await;
    Credentials {
        admin,
        user,
        service: token["access_token"].as_str().unwrap().to_owned(),
        client_id,
        client_secret,
        group_id: group["id"].as_str().unwrap().to_owned(),
    }
}

/// A TOML string.
fn toml(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

/// One run of Schemathesis: a document, the operations it takes (all
/// but the deletions when empty), the security schemes those use, and the
/// operations given the user's group.
struct Run {
    name: &'static str,
    chat: bool,
    operations: &'static [&'static str],
    schemes: &'static [&'static str],
    in_group: &'static [InGroup],
}

/// An operation that reaches its core logic only with a group the user is
/// in (the fuzzer knows none otherwise: no link crosses from one document
/// to the other).
struct InGroup {
    operation: &'static str,
    parameter: &'static str,
    /// Statuses a schema-valid request may get besides Schemathesis's
    /// defaults, because of what an earlier request did.
    also_accepted: &'static [&'static str],
}

impl InGroup {
    const fn new(operation: &'static str, parameter: &'static str) -> Self {
        Self {
            operation,
            parameter,
            also_accepted: &[],
        }
    }
}

/// Schemathesis's statuses for a schema-valid request.
const ACCEPTED: &[&str] = &["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"];

/// The admin's deletions, run last: the fuzzer deletes whatever ids it has
/// seen in answers (the user's own, from `/auth/me`; the client's), after
/// which no other operation could be tested with those credentials.
const DELETIONS: &[&str] = &["deleteUser", "deleteClient"];

const RUNS: &[Run] = &[
    Run {
        name: "the auth-api's document, all but the deletions",
        chat: false,
        operations: &[],
        schemes: &["userToken", "serviceToken", "adminToken", "clientBasic"],
        // Links bring a new group to the reads; adding and removing a
        // member need one the user owns to get past the 404.
        in_group: &[
            InGroup::new("addMember", "id"),
            InGroup::new("removeMember", "id"),
        ],
    },
    Run {
        name: "the chat-api's document",
        chat: true,
        operations: &[],
        schemes: &["userToken"],
        in_group: &[
            InGroup {
                // The contract's 422 `idempotency_key_reused`: the fuzzer
                // sends one key with two bodies. Like a 409, the answer
                // depends on an earlier request, not on this one.
                also_accepted: &["422"],
                ..InGroup::new("sendMessage", "group_id")
            },
            InGroup::new("listMessages", "group_id"),
            InGroup::new("getMessage", "group_id"),
        ],
    },
    Run {
        name: "the auth-api's admin operations",
        chat: false,
        operations: &["createUser", "createClient", "deleteUser", "deleteClient"],
        schemes: &["adminToken"],
        in_group: &[],
    },
];

/// A run's configuration: credentials for each scheme it uses, links only
/// where the document declares them, the user's group where needed.
fn config(run: &Run, credentials: &Credentials) -> String {
    let mut config = format!(
        "seed = {SEED}\n\
         [generation]\nmax-examples = {MAX_EXAMPLES}\n\
         [phases.stateful.inference]\nalgorithms = []\n\
         [warnings]\nfail-on = {}\n",
        serde_json::to_string(FATAL_WARNINGS).unwrap(),
    );
    for scheme in run.schemes {
        let secret = match *scheme {
            "userToken" => format!("bearer = {}", toml(&credentials.user)),
            "serviceToken" => format!("bearer = {}", toml(&credentials.service)),
            "adminToken" => format!("bearer = {}", toml(&credentials.admin)),
            _ => format!(
                "username = {}\npassword = {}",
                toml(&credentials.client_id),
                toml(&credentials.client_secret)
            ),
        };
        writeln!(config, "[auth.openapi.{scheme}]\n{secret}").unwrap();
    }
    for op in run.in_group {
        writeln!(
            config,
            "[[operations]]\ninclude-operation-id = \"{}\"\n\
             parameters = {{ \"path.{}\" = {} }}",
            op.operation,
            op.parameter,
            toml(&credentials.group_id)
        )
        .unwrap();
        if !op.also_accepted.is_empty() {
            let statuses: Vec<&str> = ACCEPTED.iter().chain(op.also_accepted).copied().collect();
            writeln!(
                config,
                "checks.positive_data_acceptance.expected-statuses = {}",
                serde_json::to_string(&statuses).unwrap()
            )
            .unwrap();
        }
    }
    config
}

/// Runs Schemathesis; its exit status and output. What it leaves (its
/// configuration, a HAR file of every exchange) is kept when it fails.
async fn fuzz(executable: &Path, run: &Run, url: &str, config: String) -> (bool, String) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("schemathesis")
        .join(format!("run-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();
    let mut command = Command::new(executable);
    command
        .arg("--config-file")
        .arg(&config_file)
        .args(["run", &format!("{url}/openapi.json")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--workers", "1", "--no-color", "--report", "har"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(&dir);
    if run.operations.is_empty() && !run.chat {
        for id in DELETIONS {
            command.args(["--exclude-operation-id", id]);
        }
    }
    for id in run.operations {
        command.args(["--include-operation-id", id]);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("Schemathesis runs");
    if output.status.success() {
        std::fs::remove_dir_all(&dir).ok();
    }
    (output.status.success(), python::printed(&output))
}

/// Runs Schemathesis, every run in turn, against a fresh stack on `store`.
/// One store at a time: each run keeps a core busy.
async fn schemathesis_finds_nothing_wrong(store: StoreChoice) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let executable = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let stack = ReferenceStack::start(StackOptions {
        store: Some(store),
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let credentials = credentials(&stack).await;
    for run in RUNS {
        let url = if run.chat {
            &stack.target.chat_url
        } else {
            &stack.target.auth_url
        };
        let (passed, output) = fuzz(&executable, run, url, config(run, &credentials)).await;
        // Shown with --nocapture: what each run covered.
        println!("Schemathesis on {}:\n{output}", run.name);
        assert!(passed, "Schemathesis on {}:\n{output}", run.name);
        // What a vacuous run would not print: it tested operations and
        // found nothing.
        assert!(
            output.contains("No issues found"),
            "Schemathesis on {}:\n{output}",
            run.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_wrong_in_either_document_on_the_embedded_stores() {
    schemathesis_finds_nothing_wrong(StoreChoice::Embedded).await;
}

/// PostgreSQL refuses what SQLite takes (a NUL byte in text): the same
/// runs on the real databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_wrong_in_either_document_on_postgres_and_mongo() {
    schemathesis_finds_nothing_wrong(StoreChoice::Containers).await;
}
