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
//!
//! Layout: `subjects` generates the client ids (and the edges every run
//! tries after them), `case` registers one, gets its token and holds the
//! property; this module runs a property and makes its verdict.

mod case;
mod subjects;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use reference_shared::Secret;

use crate::checking::outcome::Status;
use crate::checking::verdict::{Spec, Verdict};
use crate::run::client::{self, Client};
use crate::sources::scenario::Level;

use case::{Failure, PropertyRun};
use subjects::edges;
pub use subjects::{Subject, subjects};

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
    let case = |subject: Subject| {
        handle.block_on(state.case(&subject)).map_err(|failure| {
            let reason = failure.reason.clone();
            state
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((subject, failure));
            TestCaseError::fail(reason)
        })
    };
    runner.run(&subjects(), case)?;
    // The edges after the generated cases, so that a failure generation
    // finds is shrunk to its minimal input first.
    if options.cases > 0 {
        for edge in edges() {
            if let Err(TestCaseError::Fail(reason) | TestCaseError::Reject(reason)) =
                case(edge.clone())
            {
                return Err(TestError::Fail(reason, edge));
            }
        }
    }
    Ok(())
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
    // The edges run too whenever cases are asked for.
    let edge_count = if options.cases > 0 { edges().len() } else { 0 };
    let tried = options.cases + u32::try_from(edge_count).unwrap_or(u32::MAX);
    let mut verdict = match result {
        // A property that held on no case has not held: skipped, saying so.
        Ok(()) if exercised == 0 => Verdict::skipped(format!(
            "no client id exercised the rule: {tried} case(s) ({edge_count} edges, seed {:#x}), each refused at registration as the contract allows, or none asked for (--cases)",
            options.seed
        )),
        Ok(()) => Verdict::passed(format!(
            "held for {exercised} client ids ({edge_count} edges and {} generated, seed {:#x}){}",
            options.cases,
            options.seed,
            if exercised < tried {
                format!(
                    "; {} more refused at registration, as the contract allows",
                    tried - exercised
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
            let found = if edges().contains(&subject) {
                "an edge, tried after the generated cases"
            } else {
                "shrunk"
            };
            let mut verdict = Verdict::failed(
                format!(
                    "fails for the client id shape {} ({found}; seed {:#x}): {}",
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
            Subject::Longest => write!(f, "Longest"),
        }
    }
}
