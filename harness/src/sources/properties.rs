//! Property tests of subject parsing over HTTP: the whole family the seed's
//! bug belongs to (a principal mistaken for another). proptest generates
//! OAuth client ids (UUIDs in every spelling, look-alikes of existing user
//! ids, non-ASCII, spaces, `:` and `%`, very long), the harness registers
//! each through the admin endpoint, gets it a service token and asserts
//! what the contract says a service may and may not do. A failure is shrunk
//! to a minimal id and printed with the seed that reproduces it.
//!
//! Each generated id is made unique on the target by a tag holding the run
//! id, put in the middle of free text (so leading and trailing characters
//! stay as generated), and by a fresh UUID or a fresh user for the UUID
//! shapes: a rerun with the same seed against a deployment that keeps its
//! clients generates the same shapes without colliding with the first run.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use reference_shared::Secret;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::checking::outcome::Status;
use crate::checking::verdict::{Spec, Verdict};
use crate::run::client::{self, Answer, Client, Outgoing};
use crate::sources::scenario::Level;

/// Where the property checks come from, in reports.
const GENERATOR: &str = "properties (generated client ids)";

/// How many cases each property tries, and from which seed.
#[derive(Debug, Clone, Copy)]
pub struct PropertyOptions {
    /// Generated client ids per property.
    pub cases: u32,
    /// The seed of the generator; the same seed generates the same cases.
    pub seed: u64,
}

impl Default for PropertyOptions {
    fn default() -> Self {
        Self {
            cases: 32,
            seed: rand::random(),
        }
    }
}

/// A property of service principals, checked for every generated client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// With `groups:read`, the group and members endpoints answer 200.
    ReadsGroup,
    /// Without it, both answer 403 `insufficient_scope`.
    ScopeEnforced,
    /// User-only routes of both services refuse it with 403 `forbidden`.
    NotAUser,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Self; 3] = [Self::ReadsGroup, Self::ScopeEnforced, Self::NotAUser];

    /// The check's stable id.
    pub fn id(self) -> &'static str {
        match self {
            Self::ReadsGroup => "strict.subjects.reads-group",
            Self::ScopeEnforced => "strict.subjects.scope-enforced",
            Self::NotAUser => "strict.subjects.not-a-user",
        }
    }

    /// What it asserts, for reports.
    pub fn title(self) -> &'static str {
        match self {
            Self::ReadsGroup => {
                "any client id with groups:read gets a service token that reads the group and its members"
            }
            Self::ScopeEnforced => {
                "any client id without groups:read is refused the group and its members with insufficient_scope"
            }
            Self::NotAUser => {
                "no client id makes a service token pass for a user at /auth/me or the chat-api"
            }
        }
    }

    /// Their level: every property checks the contract, so strict.
    pub const LEVEL: Level = Level::Strict;

    /// The rule it enforces.
    pub fn rule(self) -> &'static str {
        match self {
            Self::ReadsGroup => "CONTRACT Tokens: client ids",
            Self::ScopeEnforced => "CONTRACT Auth-API: read members",
            Self::NotAUser => "CONTRACT Principal rule: UUID client",
        }
    }

    fn has_scope(self) -> bool {
        self != Self::ScopeEnforced
    }
}

/// The spellings a UUID can take (RFC 9562 and common variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spelling {
    /// `0193a1c0-…`, exactly how the contract spells user ids.
    Hyphenated,
    /// `0193A1C0-…`.
    Upper,
    /// `{0193a1c0-…}`.
    Braces,
    /// `urn:uuid:0193a1c0-…`.
    Urn,
    /// `0193a1c0…` without hyphens.
    Simple,
    /// `{0193A1C0…}` without hyphens.
    UpperSimpleBraces,
}

impl Spelling {
    fn apply(self, id: Uuid) -> String {
        match self {
            Self::Hyphenated => id.hyphenated().to_string(),
            Self::Upper => id.hyphenated().to_string().to_uppercase(),
            Self::Braces => id.braced().to_string(),
            Self::Urn => id.urn().to_string(),
            Self::Simple => id.simple().to_string(),
            Self::UpperSimpleBraces => format!("{{{}}}", id.simple().to_string().to_uppercase()),
        }
    }
}

/// The shape of a generated client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Free text, with the run's tag put in its middle.
    Text(String),
    /// A UUID no user has, in this spelling.
    Uuid(Spelling),
    /// An existing user's id in this spelling; exactly the user's id must be
    /// refused at registration (409).
    UserLookAlike(Spelling),
}

fn spellings() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        Just(Spelling::Hyphenated),
        Just(Spelling::Upper),
        Just(Spelling::Braces),
        Just(Spelling::Urn),
        Just(Spelling::Simple),
        Just(Spelling::UpperSimpleBraces),
    ]
}

/// The generator. Text comes first so that shrinking moves toward it.
/// Most text stays within RFC 6749's `VSCHAR` (printable ASCII), which the
/// contract's client ids are and a server must accept; the rest goes
/// beyond it (non-ASCII), which a server may refuse with 400.
pub fn subjects() -> impl Strategy<Value = Subject> {
    prop_oneof![
        3 => "[a-z0-9 :%+&=./_~-]{0,16}".prop_map(Subject::Text),
        2 => "[ -~]{0,16}".prop_map(Subject::Text),
        1 => "[a-z0-9é€ß漢 ]{0,16}".prop_map(Subject::Text),
        1 => "\\PC{0,16}".prop_map(Subject::Text),
        1 => "[a-zA-Z0-9]{200,230}".prop_map(Subject::Text),
        2 => spellings().prop_map(Subject::Uuid),
        2 => spellings().prop_map(Subject::UserLookAlike),
    ]
}

/// A failed property: the reason, the shrunk input and how to rerun it.
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    expected: String,
    actual: String,
    request: Option<String>,
    response: Option<String>,
}

impl Failure {
    fn new(
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

    fn plain(reason: impl Into<String>) -> Self {
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

/// What the properties need of the target and the run.
#[derive(Clone)]
pub struct Context {
    /// The harness's client.
    pub client: Client,
    /// The auth-api.
    pub auth_url: String,
    /// The chat-api.
    pub chat_url: String,
    /// The admin token.
    pub admin: Secret,
    /// The harness's group.
    pub group_id: String,
    /// This run's id.
    pub run: String,
    /// Where the users and clients made here are recorded for cleanup.
    pub created: Arc<crate::run::provision::Created>,
}

/// What the contract lets a server answer to registering an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registration {
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
fn is_vschar_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// A registered client, kept so that an id tried twice (shrinking revisits
/// values) is not registered twice.
#[derive(Clone)]
struct Registered {
    id: String,
    secret: Option<Secret>,
}

struct PropertyRun {
    context: Context,
    property: Property,
    registered: Mutex<HashMap<String, Registered>>,
    look_alike_users: Mutex<HashMap<Spelling, Uuid>>,
    failures: Mutex<Vec<(Subject, Failure)>>,
    /// Cases that exercised the rule (a client registered and its token
    /// used); a case refused at registration, as the contract allows,
    /// holds nothing and is not counted.
    exercised: std::sync::atomic::AtomicU32,
}

/// The check a property is.
pub fn spec(property: Property) -> Spec {
    Spec::generated(
        property.id(),
        Property::LEVEL,
        property.rule(),
        GENERATOR,
        property.title(),
    )
}

/// Checks one property over `options.cases` generated client ids. proptest
/// runs on a blocking thread and drives each case's requests on this
/// runtime; a task that dies is an error (the run cannot say whether the
/// property holds), never a check that vanishes from the report.
pub async fn check(
    context: Context,
    property: Property,
    options: PropertyOptions,
) -> Result<Verdict, String> {
    let handle = tokio::runtime::Handle::current();
    let state = Arc::new(PropertyRun {
        context,
        property,
        registered: Mutex::new(HashMap::new()),
        look_alike_users: Mutex::new(HashMap::new()),
        failures: Mutex::new(Vec::new()),
        exercised: std::sync::atomic::AtomicU32::new(0),
    });
    let task = {
        let state = Arc::clone(&state);
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = check_property(&state, options, &handle);
            (result, started.elapsed())
        })
    };
    let (result, elapsed) = task.await.map_err(|e| e.to_string())?;
    Ok(verdict(&state, options, result, elapsed))
}

/// proptest's runner is synchronous: it runs on a blocking thread and
/// drives each case's requests on the harness's runtime.
fn check_property(
    state: &Arc<PropertyRun>,
    options: PropertyOptions,
    handle: &tokio::runtime::Handle,
) -> Result<(), TestError<Subject>> {
    let config = Config {
        cases: options.cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut seed = [0_u8; 32];
    seed[..8].copy_from_slice(&options.seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    runner.run(&subjects(), |subject| {
        handle.block_on(state.case(&subject)).map_err(|failure| {
            let reason = failure.reason.clone();
            state
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((subject, failure));
            TestCaseError::fail(reason)
        })
    })
}

fn verdict(
    state: &PropertyRun,
    options: PropertyOptions,
    result: Result<(), TestError<Subject>>,
    elapsed: std::time::Duration,
) -> Verdict {
    let property = state.property;
    let rerun = format!(
        "conformance run --only {} --seed {:#x} --cases {}",
        property.id(),
        options.seed,
        options.cases
    );
    let exercised = state.exercised.load(std::sync::atomic::Ordering::SeqCst);
    let mut verdict = match result {
        // A property that held on no case has not held: skipped, saying so.
        Ok(()) if exercised == 0 => Verdict::skipped(format!(
            "no generated client id exercised the rule: {} case(s) (seed {:#x}), each refused at registration as the contract allows, or none asked for (--cases)",
            options.cases, options.seed
        )),
        Ok(()) => Verdict::passed(format!(
            "held for {exercised} generated client ids (seed {:#x}){}",
            options.seed,
            if exercised < options.cases {
                format!(
                    "; {} more refused at registration, as the contract allows",
                    options.cases - exercised
                )
            } else {
                String::new()
            }
        )),
        Err(TestError::Abort(reason)) => {
            let mut verdict = Verdict::new(
                Status::Failed,
                format!("the property could not run: {reason}"),
            );
            verdict.reproduce = Some(rerun);
            verdict
        }
        Err(TestError::Fail(_, subject)) => {
            let failures = state
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let failure = failures
                .iter()
                .rev()
                .find(|(s, _)| *s == subject)
                .or(failures.last())
                .map_or_else(|| Failure::plain("failed"), |(_, f)| f.clone());
            let mut verdict = Verdict::failed(
                format!(
                    "fails for the client id shape {} (shrunk; seed {:#x}): {}",
                    ShapeDisplay(&subject),
                    options.seed,
                    failure.reason
                ),
                failure.expected,
                failure.actual,
            );
            verdict.request = failure.request;
            verdict.response = failure.response;
            verdict.reproduce = Some(rerun);
            verdict
        }
    };
    verdict.duration_ms = client::millis(elapsed);
    verdict
}

/// `Text(" :")` rather than proptest's `Debug`, for one-line messages.
struct ShapeDisplay<'a>(&'a Subject);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Subject::Text(text) => write!(f, "Text({text:?})"),
            Subject::Uuid(spelling) => write!(f, "Uuid({spelling:?})"),
            Subject::UserLookAlike(spelling) => write!(f, "UserLookAlike({spelling:?})"),
        }
    }
}

/// An answer, with its body parsed once as JSON (`null` when it is none).
struct Reply {
    body: Value,
    answer: Answer,
}

impl Reply {
    fn status(&self) -> u16 {
        self.answer.status
    }

    fn shown(&self) -> String {
        self.answer.shown(400)
    }
}

impl PropertyRun {
    async fn case(&self, subject: &Subject) -> Result<(), Failure> {
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
    async fn client_id(&self, subject: &Subject) -> Result<(String, Registration), Failure> {
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
    async fn look_alike_user(&self, spelling: Spelling) -> Result<Uuid, Failure> {
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

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<Spelling, Uuid>> {
        self.look_alike_users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers the case's client; `None` when the server refused it as
    /// the contract requires (exactly a user's id) or allows (another
    /// spelling of one, 409; an id beyond `VSCHAR`, 400).
    async fn register(&self, subject: &Subject) -> Result<Option<Registered>, Failure> {
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

    fn remember(&self, client: Registered) {
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(client.id.clone(), client);
    }

    /// A service token by HTTP Basic, whose `sub` and `client_id` must be
    /// the id exactly as registered.
    async fn token(&self, client: &Registered) -> Result<String, Failure> {
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

    async fn get_auth(&self, path: &str, token: &str) -> Result<Reply, Failure> {
        self.send(self.auth(Method::GET, path).bearer(token)).await
    }

    fn auth(&self, method: Method, path: &str) -> Outgoing {
        Outgoing::new(
            "auth-api",
            method,
            format!("{}{path}", self.context.auth_url),
        )
    }

    fn chat(&self, method: Method, path: &str) -> Outgoing {
        Outgoing::new(
            "chat-api",
            method,
            format!("{}{path}", self.context.chat_url),
        )
    }

    async fn send(&self, request: Outgoing) -> Result<Reply, Failure> {
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

    fn expect_status(
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
