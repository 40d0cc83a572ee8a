//! The harness's accounts on the target: made through the admin and group
//! endpoints when the target offers them (fresh names each run, so runs can
//! repeat against a shared deployment), else read from the configuration.

use std::collections::BTreeMap;

use reference_shared::Secret;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::HarnessError;
use crate::run::redact::Secrets;
use crate::run::target::{AccountsConfig, Target};
use crate::sources::scenario::Vars;

/// A user the harness can log in as.
#[derive(Debug, Clone)]
pub struct UserAccount {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Password.
    pub password: Secret,
}

/// A client the harness can authenticate as.
#[derive(Debug, Clone)]
pub struct ClientAccount {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: Secret,
}

/// What the harness made on the target, so that it can delete it at the
/// end of the run (or on Ctrl-C): recorded as each account is made, so a
/// run that stops half-way still cleans up what it made.
#[derive(Debug, Default)]
pub struct Created {
    users: std::sync::Mutex<Vec<String>>,
    clients: std::sync::Mutex<Vec<String>>,
}

impl Created {
    /// Records a user the harness made.
    pub fn user(&self, id: &str) {
        lock(&self.users).push(id.to_owned());
    }

    /// Records a client the harness registered.
    pub fn client(&self, id: &str) {
        lock(&self.clients).push(id.to_owned());
    }

    /// The users and clients made so far.
    pub fn list(&self) -> (Vec<String>, Vec<String>) {
        (lock(&self.users).clone(), lock(&self.clients).clone())
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What [`cleanup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Users deleted (their groups went with them).
    pub users: usize,
    /// Clients deleted.
    pub clients: usize,
    /// What could not be deleted, and why.
    pub left: Vec<String>,
}

/// Deletes everything the harness made, clients first, through the admin
/// endpoints (trusting the target's CA, as the run did); an account
/// already gone counts as deleted.
pub async fn cleanup(target: &Target, created: &Created) -> Cleanup {
    let mut done = Cleanup::default();
    let Some(admin) = &target.admin_token else {
        return done;
    };
    let http = match crate::run::client::http_client(
        target.ca_pem.as_deref(),
        crate::run::client::REQUEST_TIMEOUT,
        true,
    ) {
        Ok(http) => http,
        Err(e) => {
            done.left.push(format!("every account: {e}"));
            return done;
        }
    };
    let (users, clients) = created.list();
    let delete = |path: String| {
        let request = http
            .delete(format!("{}{path}", target.auth_url))
            .bearer_auth(admin.expose());
        async move {
            match crate::run::client::send_retrying(request).await {
                Ok(r)
                    if r.status().is_success() || r.status() == reqwest::StatusCode::NOT_FOUND =>
                {
                    Ok(())
                }
                Ok(r) => Err(format!("{path}: {}", r.status())),
                Err(e) => Err(format!("{path}: {}", crate::run::client::root_cause(&e))),
            }
        }
    };
    for id in clients {
        let path = format!("/admin/clients/{}", percent_encode(&id));
        match delete(path).await {
            Ok(()) => done.clients += 1,
            Err(e) => done.left.push(e),
        }
    }
    for id in users {
        match delete(format!("/admin/users/{id}")).await {
            Ok(()) => done.users += 1,
            Err(e) => done.left.push(e),
        }
    }
    done
}

/// A path segment percent-encoded: every byte but the unreserved ones.
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Everything the scenarios refer to.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// `alice` (member) and `bob` (not).
    pub users: BTreeMap<String, UserAccount>,
    /// `reader` (`groups:read`), `blind` (nothing), maybe `uuid_client`.
    pub clients: BTreeMap<String, ClientAccount>,
    /// The group's id.
    pub group_id: String,
    /// The group's `org_id`.
    pub org_id: String,
    /// This run's id.
    pub run: String,
}

impl Accounts {
    /// The scenario variables these accounts define.
    pub fn vars(&self) -> Vars {
        let mut vars = Vars::new();
        vars.insert("run".to_owned(), self.run.clone());
        for (name, user) in &self.users {
            vars.insert(format!("{name}.id"), user.id.clone());
            vars.insert(format!("{name}.email"), user.email.clone());
            vars.insert(format!("{name}.email.upper"), user.email.to_uppercase());
            vars.insert(
                format!("{name}.password"),
                user.password.expose().to_owned(),
            );
        }
        for (name, client) in &self.clients {
            vars.insert(format!("{name}.id"), client.id.clone());
        }
        vars.insert("group.id".to_owned(), self.group_id.clone());
        vars.insert("group.org_id".to_owned(), self.org_id.clone());
        vars.insert("text.4000".to_owned(), "x".repeat(4000));
        vars.insert("text.4001".to_owned(), "x".repeat(4001));
        // 4000 characters in 8000 bytes of UTF-8: the limit is in characters.
        vars.insert("text.4000-wide".to_owned(), "é".repeat(4000));
        vars
    }
}

fn provision_error(what: &str, detail: impl std::fmt::Display) -> HarnessError {
    HarnessError::Provision(format!("{what}: {detail}"))
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    body: &Value,
    what: &str,
) -> Result<Value, HarnessError> {
    let response = crate::run::client::send_retrying(http.post(url).bearer_auth(bearer).json(body))
        .await
        .map_err(|e| provision_error(what, e.without_url()))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(answer)
    } else {
        Err(provision_error(what, format!("{status} {answer}")))
    }
}

/// Registers a chat-api as an OAuth client with `groups:read` (the
/// reference chat-api the harness starts): its id and secret.
#[cfg(feature = "reference")]
pub(crate) async fn register_chat_api(
    http: &reqwest::Client,
    auth_url: &str,
    admin: &Secret,
) -> Result<(String, String), HarnessError> {
    let what = "registering the chat-api's client";
    let body = post_json(
        http,
        &format!("{auth_url}/admin/clients"),
        admin.expose(),
        &json!({
            "client_id": format!("conformance-chat-api-{}", Uuid::new_v4().simple()),
            "scopes": ["groups:read"],
        }),
        what,
    )
    .await?;
    match (body["client_id"].as_str(), body["client_secret"].as_str()) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => Err(provision_error(
            what,
            "no client_id and client_secret in the answer",
        )),
    }
}

/// Logs in and returns the token.
pub async fn login(
    http: &reqwest::Client,
    auth_url: &str,
    email: &str,
    password: &str,
) -> Result<String, String> {
    let response = crate::run::client::send_retrying(
        http.post(format!("{auth_url}/auth/login"))
            .json(&json!({ "email": email, "password": password })),
    )
    .await
    .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("logging in as {email} answered {status}"))
}

/// Makes the accounts (admin token) or reads them (configuration), and
/// registers every secret with `secrets`.
pub async fn accounts(
    http: &reqwest::Client,
    target: &Target,
    secrets: &Secrets,
    created: &Created,
) -> Result<Accounts, HarnessError> {
    let run = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let accounts = match (&target.admin_token, &target.accounts) {
        (Some(admin), _) => {
            secrets.add(admin.expose(), "$ADMIN_TOKEN");
            provision(http, target, admin, run, created).await?
        }
        (None, Some(config)) => from_config(http, target, config, run).await?,
        (None, None) => {
            return Err(HarnessError::Config(
                "no admin token and no accounts: the harness has no one to act as".to_owned(),
            ));
        }
    };
    for (name, user) in &accounts.users {
        secrets.add(
            user.password.expose(),
            &format!("${}_PASSWORD", name.to_uppercase()),
        );
    }
    for (name, client) in &accounts.clients {
        secrets.add(
            client.secret.expose(),
            &format!("${}_SECRET", name.to_uppercase()),
        );
    }
    Ok(accounts)
}

async fn provision(
    http: &reqwest::Client,
    target: &Target,
    admin: &Secret,
    run: String,
    created: &Created,
) -> Result<Accounts, HarnessError> {
    let auth = &target.auth_url;
    let users = provision_users(http, auth, admin, &run, created).await?;
    let alice = &users["alice"];
    let alice_token = login(http, auth, &alice.email, alice.password.expose())
        .await
        .map_err(|e| provision_error("logging in as alice", e))?;
    let org_id = Uuid::new_v4().to_string();
    let group = post_json(
        http,
        &format!("{auth}/api/auth/groups"),
        &alice_token,
        &json!({ "name": format!("conformance-{run}"), "org_id": org_id }),
        "creating the group",
    )
    .await?;
    let group_id = group["id"]
        .as_str()
        .ok_or_else(|| provision_error("creating the group", &group))?
        .to_owned();
    let clients = provision_clients(http, auth, admin, &run, created).await?;
    Ok(Accounts {
        users,
        clients,
        group_id,
        org_id,
        run,
    })
}

/// The run's two users, alice and bob.
async fn provision_users(
    http: &reqwest::Client,
    auth: &str,
    admin: &Secret,
    run: &str,
    created: &Created,
) -> Result<BTreeMap<String, UserAccount>, HarnessError> {
    let mut users = BTreeMap::new();
    for name in ["alice", "bob"] {
        let email = format!("{name}-{run}@conformance.test");
        let password = format!("pw-{}", Uuid::new_v4().simple());
        let made = post_json(
            http,
            &format!("{auth}/admin/users"),
            admin.expose(),
            &json!({ "email": email, "password": password }),
            &format!("creating user {name}"),
        )
        .await?;
        let id = made["id"]
            .as_str()
            .ok_or_else(|| provision_error("creating a user", &made))?
            .to_owned();
        created.user(&id);
        users.insert(
            name.to_owned(),
            UserAccount {
                id,
                email,
                password: Secret::new(password),
            },
        );
    }
    Ok(users)
}

/// The run's clients: a reader (`groups:read`), one without the scope,
/// and one whose id is a UUID.
async fn provision_clients(
    http: &reqwest::Client,
    auth: &str,
    admin: &Secret,
    run: &str,
    created: &Created,
) -> Result<BTreeMap<String, ClientAccount>, HarnessError> {
    let mut clients = BTreeMap::new();
    for (name, id, scopes) in [
        (
            "reader",
            format!("conformance-reader-{run}"),
            json!(["groups:read"]),
        ),
        ("blind", format!("conformance-blind-{run}"), json!([])),
        (
            "uuid_client",
            Uuid::new_v4().to_string(),
            json!(["groups:read"]),
        ),
    ] {
        let made = post_json(
            http,
            &format!("{auth}/admin/clients"),
            admin.expose(),
            &json!({ "client_id": id, "scopes": scopes }),
            &format!("creating client {name}"),
        )
        .await?;
        created.client(&id);
        let secret = made["client_secret"].as_str().ok_or_else(|| {
            provision_error("creating a client", "no client_secret in the answer")
        })?;
        clients.insert(
            name.to_owned(),
            ClientAccount {
                id,
                secret: Secret::new(secret),
            },
        );
    }
    Ok(clients)
}

/// The `sub` of a token, read without verifying it.
fn subject(token: &str) -> Option<String> {
    crate::jwt::claims(token)?["sub"]
        .as_str()
        .map(str::to_owned)
}

async fn from_config(
    http: &reqwest::Client,
    target: &Target,
    config: &AccountsConfig,
    run: String,
) -> Result<Accounts, HarnessError> {
    let mut users = BTreeMap::new();
    for (name, user) in [("alice", &config.alice), ("bob", &config.bob)] {
        let token = login(http, &target.auth_url, &user.email, &user.password)
            .await
            .map_err(|e| {
                provision_error(&format!("logging in as {name} from the configuration"), e)
            })?;
        let id =
            subject(&token).ok_or_else(|| provision_error(name, "the login token has no sub"))?;
        users.insert(
            name.to_owned(),
            UserAccount {
                id,
                email: user.email.clone(),
                password: Secret::new(&user.password),
            },
        );
    }
    let mut clients = BTreeMap::new();
    let listed = [
        ("reader", Some(&config.reader)),
        ("blind", Some(&config.blind)),
        ("uuid_client", config.uuid_client.as_ref()),
    ];
    for (name, client) in listed {
        if let Some(client) = client {
            clients.insert(
                name.to_owned(),
                ClientAccount {
                    id: client.client_id.clone(),
                    secret: Secret::new(&client.client_secret),
                },
            );
        }
    }
    Ok(Accounts {
        users,
        clients,
        group_id: config.group.id.clone(),
        org_id: config.group.org_id.clone(),
        run,
    })
}
