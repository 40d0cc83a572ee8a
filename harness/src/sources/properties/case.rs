//! One case of a property: the client id registered through the admin
//! endpoint (as the contract lets a server answer), its service token, and
//! what that token may and may not do.

use std::collections::HashMap;
use std::sync::Mutex;

use reference_shared::Secret;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::run::client::{Answer, Outgoing};

use super::subjects::{Spelling, Subject};
use super::{Context, Property};

/// A failed property: the reason, the shrunk input and how to rerun it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) reason: String,
    pub(super) expected: String,
    pub(super) actual: String,
    pub(super) request: Option<String>,
    pub(super) response: Option<String>,
}

impl Failure {
    pub(super) fn new(
        request: &str,
        expected: impl Into<String>,
        actual: impl Into<String>,
        response: Option<String>,
    ) -> Self {
        let expected = expected.into();
        let actual = actual.into();
        Self {
            reason: format!("{request}: expected {expected}, got {actual}"),
            expected,
            actual,
            request: Some(request.to_owned()),
            response,
        }
    }

    pub(super) fn plain(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            expected: String::new(),
            actual: reason.clone(),
            reason,
            request: None,
            response: None,
        }
    }
}

/// What the contract lets a server answer to registering an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Registration {
    /// 201: a `VSCHAR` id, UUID-shaped or not, that is no user's.
    Accepted,
    /// 201, or refused with this status: another spelling of a user's id
    /// (409), or an id beyond `VSCHAR` (400).
    MayRefuse(u16),
    /// 409: exactly a user's id.
    Refused,
}

/// Whether an id is within RFC 6749 Appendix A's `VSCHAR` (printable
/// ASCII) and the contract's 1 to 255 characters.
pub(super) fn is_vschar_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// A registered client, kept so that an id tried twice (shrinking revisits
/// values) is not registered twice.
#[derive(Clone)]
pub(super) struct Registered {
    pub(super) id: String,
    pub(super) secret: Option<Secret>,
}

pub(super) struct PropertyRun {
    pub(super) context: Context,
    pub(super) property: Property,
    pub(super) registered: Mutex<HashMap<String, Registered>>,
    pub(super) look_alike_users: Mutex<HashMap<Spelling, Uuid>>,
    pub(super) failures: Mutex<Vec<(Subject, Failure)>>,
    /// Cases that exercised the rule (a client registered and its token
    /// used); a case refused at registration, as the contract allows,
    /// holds nothing and is not counted.
    pub(super) exercised: std::sync::atomic::AtomicU32,
}

/// An answer, with its body parsed once as JSON (`null` when it is none).
pub(super) struct Reply {
    pub(super) body: Value,
    pub(super) answer: Answer,
}

impl Reply {
    pub(super) fn status(&self) -> u16 {
        self.answer.status
    }

    pub(super) fn shown(&self) -> String {
        self.answer.shown(400)
    }
}

impl PropertyRun {
    pub(super) async fn case(&self, subject: &Subject) -> Result<(), Failure> {
        let Some(client) = self.register(subject).await? else {
            // Exactly a user's id, refused as the contract says.
            return Ok(());
        };
        self.exercised
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let token = self.token(&client).await?;
        let group = format!("/api/auth/groups/{}", self.context.group_id);
        let members = format!("{group}/members");
        match self.property {
            Property::ReadsGroup => {
                Self::expect_status(
                    &self.get_auth(&group, &token).await?,
                    "GET group",
                    &[200],
                    &[],
                )?;
                Self::expect_status(
                    &self.get_auth(&members, &token).await?,
                    "GET members",
                    &[200],
                    &[],
                )?;
            }
            Property::ScopeEnforced => {
                let code = &["insufficient_scope"];
                Self::expect_status(
                    &self.get_auth(&group, &token).await?,
                    "GET group",
                    &[403],
                    code,
                )?;
                Self::expect_status(
                    &self.get_auth(&members, &token).await?,
                    "GET members",
                    &[403],
                    code,
                )?;
            }
            Property::NotAUser => {
                let me = self.get_auth("/auth/me", &token).await?;
                Self::expect_status(&me, "GET /auth/me", &[403], &["forbidden"])?;
                // The chat-api's endpoints are for users: 401 or 403 both
                // refuse a service (CONTRACT Chat-API).
                let (statuses, code) = (&[401, 403], &["invalid_token", "forbidden"]);
                let path = format!("/api/chat/groups/{}/messages", self.context.group_id);
                let list = self
                    .send(self.chat(Method::GET, &path).bearer(&token))
                    .await?;
                Self::expect_status(&list, "GET chat messages", statuses, code)?;
                let post = self
                    .send(
                        self.chat(Method::POST, &path)
                            .bearer(&token)
                            .json(&json!({ "content": "a service is no sender" })),
                    )
                    .await?;
                Self::expect_status(&post, "POST chat message", statuses, code)?;
            }
        }
        Ok(())
    }

    /// The client id this case registers, unique on the target, and what
    /// the contract lets a server answer to its registration.
    pub(super) async fn client_id(
        &self,
        subject: &Subject,
    ) -> Result<(String, Registration), Failure> {
        // Characters that form-urlencoding leaves alone, so the tag adds nothing
        // that a shrunk failure could be blamed on.
        let tag = format!("_{}{}_", self.context.run, self.property as u8);
        Ok(match subject {
            Subject::Text(text) => {
                let middle = text
                    .char_indices()
                    .nth(text.chars().count() / 2)
                    .map_or(text.len(), |(i, _)| i);
                let id = format!("{}{tag}{}", &text[..middle], &text[middle..]);
                let within = is_vschar_id(&id);
                (
                    id,
                    if within {
                        Registration::Accepted
                    } else {
                        Registration::MayRefuse(400)
                    },
                )
            }
            Subject::Uuid(spelling) => (spelling.apply(Uuid::new_v4()), Registration::Accepted),
            Subject::Longest => {
                let padding = 255_usize.saturating_sub(tag.chars().count());
                (
                    format!("{tag}{}", "l".repeat(padding)),
                    Registration::Accepted,
                )
            }
            Subject::UserLookAlike(spelling) => {
                let user = self.look_alike_user(*spelling).await?;
                (
                    spelling.apply(user),
                    if *spelling == Spelling::Hyphenated {
                        Registration::Refused
                    } else {
                        Registration::MayRefuse(409)
                    },
                )
            }
        })
    }

    /// A fresh user per spelling: each look-alike id can be registered once.
    pub(super) async fn look_alike_user(&self, spelling: Spelling) -> Result<Uuid, Failure> {
        if let Some(id) = self.users().get(&spelling) {
            return Ok(*id);
        }
        let email = format!(
            "lookalike-{}-{}@conformance.test",
            self.context.run,
            Uuid::new_v4().simple()
        );
        let reply = self
            .send(
                self.auth(Method::POST, "/admin/users")
                    .bearer(self.context.admin.expose())
                    .json(&json!({ "email": email, "password": format!("pw-{}", Uuid::new_v4().simple()) })),
            )
            .await?;
        let id = reply.body["id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                Failure::new(
                    "POST /admin/users",
                    "201 with a user id",
                    reply.shown(),
                    None,
                )
            })?;
        self.context.created.user(&id.to_string());
        self.users().insert(spelling, id);
        Ok(id)
    }

    pub(super) fn users(&self) -> std::sync::MutexGuard<'_, HashMap<Spelling, Uuid>> {
        self.look_alike_users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers the case's client; `None` when the server refused it as
    /// the contract requires (exactly a user's id) or allows (another
    /// spelling of one, 409; an id beyond `VSCHAR`, 400).
    pub(super) async fn register(&self, subject: &Subject) -> Result<Option<Registered>, Failure> {
        let (id, registration) = self.client_id(subject).await?;
        let cached = self
            .registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some(client) = cached {
            return Ok(client.secret.is_some().then_some(client));
        }
        let scopes: Vec<&str> = if self.property.has_scope() {
            vec!["groups:read"]
        } else {
            vec![]
        };
        let request = format!("POST /admin/clients {{\"client_id\": {id:?}}}");
        let reply = self
            .send(
                self.auth(Method::POST, "/admin/clients")
                    .bearer(self.context.admin.expose())
                    .json(&json!({ "client_id": id, "scopes": scopes })),
            )
            .await?;
        match registration {
            Registration::Refused => {
                if reply.status() != 409 {
                    return Err(Failure::new(
                        &request,
                        "409 conflict: the id is a user's",
                        reply.shown(),
                        None,
                    ));
                }
                self.remember(Registered { id, secret: None });
                return Ok(None);
            }
            Registration::MayRefuse(status) if reply.status() == status => {
                let code = if status == 409 {
                    "conflict"
                } else {
                    "invalid_request"
                };
                if reply.body["error"] != json!(code) {
                    return Err(Failure::new(
                        &request,
                        format!("201, or {status} {code}"),
                        reply.shown(),
                        None,
                    ));
                }
                self.remember(Registered { id, secret: None });
                return Ok(None);
            }
            _ => {}
        }
        if reply.status() == 201 {
            self.context.created.client(&id);
        }
        let secret = reply.body["client_secret"].as_str();
        if reply.status() != 201 || reply.body["client_id"] != json!(id) || secret.is_none() {
            return Err(Failure::new(
                &request,
                "201 with the client id as given and a secret",
                reply.shown(),
                None,
            ));
        }
        let secret = Secret::new(secret.unwrap_or_default());
        self.context
            .client
            .secrets()
            .add(secret.expose(), "$GENERATED_CLIENT_SECRET");
        let client = Registered {
            id,
            secret: Some(secret),
        };
        self.remember(client.clone());
        Ok(Some(client))
    }

    pub(super) fn remember(&self, client: Registered) {
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(client.id.clone(), client);
    }

    /// A service token by HTTP Basic, whose `sub` and `client_id` must be
    /// the id exactly as registered.
    pub(super) async fn token(&self, client: &Registered) -> Result<String, Failure> {
        let secret = client
            .secret
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        let basic = reference_shared::form::basic_authorization(&client.id, secret);
        let mut form = vec![("grant_type", "client_credentials")];
        if self.property.has_scope() {
            form.push(("scope", "groups:read"));
        }
        let reply = self
            .send(
                self.auth(Method::POST, "/oauth/token")
                    .header("authorization", basic)
                    .body(
                        "application/x-www-form-urlencoded",
                        reference_shared::form::body(&form),
                    ),
            )
            .await?;
        let request = format!("POST /oauth/token as {:?} by HTTP Basic", client.id);
        let token = reply.body["access_token"]
            .as_str()
            .filter(|_| reply.status() == 200)
            .ok_or_else(|| Failure::new(&request, "200 with an access token", reply.shown(), None))?
            .to_owned();
        self.context
            .client
            .secrets()
            .add(&token, "$GENERATED_CLIENT_TOKEN");
        let claims = crate::jwt::claims(&token).unwrap_or_default();
        for claim in ["sub", "client_id"] {
            if claims[claim] != json!(client.id) {
                return Err(Failure::new(
                    &request,
                    format!("the token's {claim} = {:?}", client.id),
                    format!("{claim} = {}", claims[claim]),
                    None,
                ));
            }
        }
        Ok(token)
    }

    pub(super) async fn get_auth(&self, path: &str, token: &str) -> Result<Reply, Failure> {
        self.send(self.auth(Method::GET, path).bearer(token)).await
    }

    pub(super) fn auth(&self, method: Method, path: &str) -> Outgoing {
        Outgoing::new(
            "auth-api",
            method,
            format!("{}{path}", self.context.auth_url),
        )
    }

    pub(super) fn chat(&self, method: Method, path: &str) -> Outgoing {
        Outgoing::new(
            "chat-api",
            method,
            format!("{}{path}", self.context.chat_url),
        )
    }

    pub(super) async fn send(&self, request: Outgoing) -> Result<Reply, Failure> {
        let (answer, _) = self
            .context
            .client
            .send(&request)
            .await
            .map_err(|e| Failure::plain(format!("no answer: {e}")))?;
        Ok(Reply {
            body: answer.body(),
            answer,
        })
    }

    pub(super) fn expect_status(
        reply: &Reply,
        request: &str,
        statuses: &[u16],
        errors: &[&str],
    ) -> Result<(), Failure> {
        let code_ok = errors.is_empty()
            || reply.body["error"]
                .as_str()
                .is_some_and(|code| errors.contains(&code));
        if statuses.contains(&reply.status()) && code_ok {
            return Ok(());
        }
        let mut expected = statuses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        if !errors.is_empty() {
            expected = format!("{expected} {}", errors.join(" or "));
        }
        let actual = match reply.body["error"].as_str() {
            Some(code) => format!("{} {code}", reply.status()),
            None => reply.status().to_string(),
        };
        Err(Failure::new(request, expected, actual, Some(reply.shown())))
    }
}
