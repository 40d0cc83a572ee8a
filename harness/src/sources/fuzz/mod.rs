//! Bad input for every operation of the contract's OpenAPI documents (the
//! reference's, bundled with the harness, so that check ids are the same
//! for every target): malformed JSON, bodies that are not objects, each
//! property with a wrong type, non-UTF-8 bodies, headers and paths,
//! oversized bodies and headers, bad path and query parameters, and
//! proptest-generated bodies. Every answer must be free of 5xx and, when
//! it is an error, the contract's JSON error body; input that is wrong
//! beyond doubt must be refused with a 4xx.

//!
//! Layout: `operations` reads the documents' operations, `cases` names the
//! kinds of bad input, `probes` builds each case's requests (`bodies` the
//! JSON bodies), `send` sends a probe and holds its answer to the rules;
//! this module makes the checks and runs them.

mod bodies;
mod cases;
mod operations;
mod probes;
mod send;

use std::time::Instant;

use reference_shared::Secret;

use crate::checking::verdict::{Spec, Verdict};
use crate::run::client::{self, Client};
use crate::sources::scenario::Level;

use cases::Case;
use operations::{Operation, Security, operations};

/// Where the fuzzing checks come from, in reports.
const GENERATOR: &str = "fuzzing (the contract's OpenAPI operations)";

/// The fuzzing checks, with level and rule, for `conformance list`.
pub fn checks() -> Vec<(String, Level, String)> {
    operations()
        .iter()
        .flat_map(|op| {
            op.cases()
                .into_iter()
                .map(|case| (op.check_id(case), Level::Strict, case.rule().to_owned()))
        })
        .collect()
}

/// What fuzzing needs of the target and the run.
#[derive(Clone)]
pub struct Context {
    /// The harness's client (every probe on a connection of its own: a
    /// server may close one after refusing a body it did not read).
    pub client: Client,
    /// The auth-api.
    pub auth_url: String,
    /// The chat-api.
    pub chat_url: String,
    /// A user token (alice, a member of the group).
    pub user_token: Option<String>,
    /// The admin token, for the admin operations.
    pub admin_token: Option<Secret>,
    /// HTTP Basic credentials of a client, for the OAuth operations.
    pub basic: Option<String>,
    /// The harness's group.
    pub group_id: String,
    /// Generated bodies per operation, and their seed.
    pub cases: u32,
    /// The seed of the generated bodies.
    pub seed: u64,
}

/// One fuzzing check: a kind of bad input at one operation.
#[derive(Debug, Clone)]
pub struct FuzzCheck {
    op: Operation,
    case: Case,
}

impl FuzzCheck {
    /// The check it is.
    pub fn spec(&self) -> Spec {
        Spec::generated(
            &self.op.check_id(self.case),
            Level::Strict,
            self.case.rule(),
            GENERATOR,
            &format!(
                "{}, at {} {}",
                self.case.title(),
                self.op.method,
                self.op.path
            ),
        )
    }

    /// Whether it needs credentials that the run does not have: then it
    /// could only show that the target refuses a caller it cannot identify,
    /// not how it treats the bad input.
    pub fn unauthenticated(&self, context: &Context) -> Option<&'static str> {
        match self.op.security {
            Security::None => None,
            Security::Basic => context.basic.is_none().then_some("a client's credentials"),
            Security::Admin => context.admin_token.is_none().then_some("the admin token"),
            Security::User => context.user_token.is_none().then_some("a user token"),
        }
    }
}

/// The fuzzing checks whose ids `selected` takes.
pub fn selected(selected: impl Fn(&str) -> bool) -> Vec<FuzzCheck> {
    operations()
        .into_iter()
        .flat_map(|op| {
            op.cases().into_iter().map(move |case| FuzzCheck {
                op: op.clone(),
                case,
            })
        })
        .filter(|check| selected(&check.op.check_id(check.case)))
        .collect()
}

/// Runs one fuzzing check: its probes in turn, stopping at the first
/// answer that breaks the rules.
pub async fn check(context: &Context, check: &FuzzCheck) -> Verdict {
    let (op, case) = (&check.op, check.case);
    if let Some(missing) = check.unauthenticated(context) {
        return Verdict::skipped(format!(
            "needs {missing}: without it every probe is refused before its input is read"
        ));
    }
    let started = Instant::now();
    let probes = probes::probes(context, op, case);
    let count = probes.len();
    let mut failure = None;
    for probe in probes {
        if let Err(f) = send::send(context, &probe, case).await {
            failure = Some(f);
            break;
        }
    }
    let mut verdict = match failure {
        None => Verdict::passed(format!(
            "{count} request(s), each refused in the contract's error body"
        )),
        Some(failure) => {
            let message = format!(
                "expected {}, got {}",
                failure.expected,
                first_line(&failure.actual)
            );
            let mut verdict = Verdict::failed(message, failure.expected, failure.actual);
            verdict.request = Some(failure.request);
            verdict.response = Some(failure.response);
            if case == Case::GeneratedBodies {
                verdict.reproduce = Some(format!(
                    "conformance run --only {} --seed {:#x} --cases {}",
                    op.check_id(case),
                    context.seed,
                    context.cases
                ));
            }
            verdict
        }
    };
    verdict.duration_ms = client::millis(started.elapsed());
    verdict
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
