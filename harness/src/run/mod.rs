//! Runs scenarios against a target and turns every check into a
//! [`CheckOutcome`]: the run's entry, its options and its scheduling here;
//! one scenario (`scenario`), one step (`step`), what the recorder saw of
//! it (`observation`), the accounts and tokens (`accounts`), the generated
//! sources (`sources`), who takes turns (`turns`) and the catalogue of
//! checks (`catalogue`) beside it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use crate::checking::expect::Mismatch;
use crate::checking::outcome::{CheckOutcome, RunReport, Status, TargetInfo};
use crate::checking::verdict::{self, Spec, Verdict};
use crate::error::HarnessError;
use crate::run::hop::Hop;
use crate::run::redact::Secrets;
use crate::run::target::Target;
use crate::sources::fuzz;
use crate::sources::properties::{Property, PropertyOptions};
use crate::sources::scenario::{Level, Scenario, Vars};
use crate::sources::snapshot::{self};
use client::{Answer, Client};
use provision::Accounts;

#[cfg(feature = "reference")]
pub(crate) mod alongside;
pub(crate) mod client;
pub(crate) mod hop;
pub(crate) mod observe;
pub(crate) mod provision;
pub(crate) mod redact;
#[cfg(feature = "reference")]
pub(crate) mod stack;
pub(crate) mod target;

mod accounts;
mod catalogue;
mod generated;
mod observation;
mod request;
mod scenario;
mod step;
mod turns;

pub use catalogue::{SnapshotMode, check_ids, checks, snapshot_check_ids};
use request::form_encode;
use turns::{counts_token_requests, drops_the_token, runs_alone};

/// Which checks to run and what gates the exit code.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Failed checks at or below this level fail the run.
    pub gate: Level,
    /// Run only checks whose id starts with one of these.
    pub only: Vec<String>,
    /// Run only scenarios with one of these tags.
    pub tags: Vec<String>,
    /// Scenarios run at once.
    pub jobs: usize,
    /// Cases and seed of the generated property checks.
    pub properties: PropertyOptions,
    /// What to do with the snapshots of the answers.
    pub snapshots: SnapshotMode,
    /// Where the run records the users and clients it makes on the
    /// target, for [`crate::cleanup`].
    pub created: Arc<provision::Created>,
}

/// A deployment's defaults: gated at core (what [`Target::default_gate`]
/// gives a deployment), four scenarios at once, the bundled snapshots.
impl Default for RunOptions {
    fn default() -> Self {
        Self {
            gate: Level::Core,
            only: Vec::new(),
            tags: Vec::new(),
            jobs: 4,
            properties: PropertyOptions::default(),
            snapshots: SnapshotMode::Compare(snapshot::Source::Bundled),
            created: Arc::default(),
        }
    }
}

impl RunOptions {
    fn selects(&self, scenario: &Scenario, check_id: &str) -> bool {
        self.selects_id(check_id)
            && (self.tags.is_empty() || scenario.tags.iter().any(|t| self.tags.contains(t)))
    }

    fn selects_id(&self, check_id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| check_id.starts_with(p.as_str()))
    }

    /// Generated checks have no scenario: they answer to fixed tags.
    fn selects_generated(&self, check_id: &str, tags: &[&str]) -> bool {
        self.selects_id(check_id)
            && (self.tags.is_empty() || self.tags.iter().any(|t| tags.contains(&t.as_str())))
    }

    fn selects_property(&self, property: Property) -> bool {
        self.selects_generated(property.id(), &["principal", "service-token", "properties"])
    }

    fn selects_fuzz(&self, check_id: &str) -> bool {
        self.selects_generated(check_id, &["fuzz", "errors"])
    }

    /// How many checks a run of these scenarios makes, for progress output.
    pub fn selected_count(&self, scenarios: &[Scenario]) -> usize {
        let scenario_checks = scenarios
            .iter()
            .flat_map(|s| s.checks().filter(move |c| self.selects(s, &c.id)))
            .count();
        let snapshot_checks = if matches!(self.snapshots, SnapshotMode::Compare(_)) {
            scenarios
                .iter()
                .flat_map(|s| {
                    snapshot_check_ids(s)
                        .into_iter()
                        .filter(move |(id, _, _)| self.selects(s, id))
                })
                .count()
        } else {
            0
        };
        let properties = Property::ALL
            .into_iter()
            .filter(|p| self.selects_property(*p))
            .count();
        let fuzz = fuzz::selected(|id| self.selects_fuzz(id)).len();
        scenario_checks + snapshot_checks + properties + fuzz
    }
}

/// Runs the scenarios against the target. `on_check` sees each outcome as
/// it is decided (for progress output).
pub async fn run(
    scenarios: &[Scenario],
    target: &Target,
    options: &RunOptions,
    on_check: &(dyn Fn(&CheckOutcome) + Sync),
) -> Result<RunReport, HarnessError> {
    let started = Instant::now();
    let secrets = Arc::new(Secrets::default());
    let client = Client::new(Arc::clone(&secrets), target.ca_pem.as_deref())?;
    target::preflight(client.http(), target).await?;
    let accounts = provision::accounts(client.http(), target, &secrets, &options.created).await?;
    let fault_groups = order_faults(&client, target).await?;
    let mut runner = Runner {
        client,
        target: target.clone(),
        accounts,
        tokens: Mutex::new(HashMap::new()),
        token_cache: Mutex::new(()),
        fault_groups,
        blind: None,
    };
    let probe = runner.probe_observation().await?;
    runner.blind = probe.blind;
    let runner = &runner;
    let selected: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| {
            s.checks().any(|c| options.selects(s, &c.id))
                || (matches!(options.snapshots, SnapshotMode::Compare(_))
                    && snapshot_check_ids(s)
                        .iter()
                        .any(|(id, _, _)| options.selects(s, id)))
        })
        .collect();
    let (observing, mut others): (Vec<&Scenario>, Vec<&Scenario>) = selected
        .into_iter()
        .partition(|s| runs_alone(s, !probe.traced));
    // The scenarios that inject faults wait on the chat-api's timeouts on
    // purpose: started first, their waiting overlaps the others' work.
    others.sort_by_key(|s| !s.needs.iter().any(|n| n == "fault-injection"));
    let mut tasks = scenario_tasks(runner, others, options);
    let generated = runner
        .properties(options)
        .into_iter()
        .chain(runner.fuzz(options).await);
    if probe.traced {
        // Each counted call is attributed to the request that caused it:
        // the generated checks run beside the scenarios, in one stream.
        tasks.extend(generated);
        let outcomes = runner.schedule(tasks, options.jobs, on_check).await?;
        return finish(outcomes, options, target, started);
    }
    // Calls attributed by time: the scenarios that count them run alone,
    // after the others, and the generated checks after every scenario, so
    // that no other request's calls share their windows.
    let generated: Vec<Task<'_>> = generated.collect();
    let mut outcomes = runner.schedule(tasks, options.jobs, on_check).await?;
    outcomes.extend(
        runner
            .schedule(scenario_tasks(runner, observing, options), 1, on_check)
            .await?,
    );
    outcomes.extend(runner.schedule(generated, options.jobs, on_check).await?);
    finish(outcomes, options, target, started)
}

/// The report of the run's outcomes, in the scenarios' order, once it
/// checked something.
fn finish(
    mut outcomes: Vec<CheckOutcome>,
    options: &RunOptions,
    target: &Target,
    started: Instant,
) -> Result<RunReport, HarnessError> {
    outcomes.sort_by(|a, b| (a.scenario.as_str(), a.line).cmp(&(b.scenario.as_str(), b.line)));
    checked_something(&outcomes, options)?;
    let info = TargetInfo {
        auth_url: target.auth_url.clone(),
        chat_url: target.chat_url.clone(),
    };
    Ok(RunReport::new(
        outcomes,
        options.gate,
        info,
        client::millis(started.elapsed()),
    ))
}

/// A run that checked nothing is no verdict: a selection that matched no
/// check (a typo in `--tag` or `--only`), or one whose every check was
/// skipped, ends with the reason (exit 2) rather than pass.
fn checked_something(outcomes: &[CheckOutcome], options: &RunOptions) -> Result<(), HarnessError> {
    if outcomes.is_empty() {
        let mut asked = Vec::new();
        if !options.only.is_empty() {
            asked.push(format!("--only {}", options.only.join(", ")));
        }
        if !options.tags.is_empty() {
            asked.push(format!("--tag {}", options.tags.join(", ")));
        }
        let asked = if asked.is_empty() {
            "the scenarios given hold no check".to_owned()
        } else {
            format!(
                "{} matches no check (`conformance list` shows them)",
                asked.join(" with ")
            )
        };
        return Err(HarnessError::NothingChecked(asked));
    }
    if outcomes.iter().all(|o| o.status == Status::Skipped) {
        let first = &outcomes[0];
        return Err(HarnessError::NothingChecked(format!(
            "every one of the {} selected checks was skipped (the first, {}: {})",
            outcomes.len(),
            first.id,
            first.message
        )));
    }
    Ok(())
}

/// Orders each upstream fault for a group of its own at the recorder
/// between the services; the scenario values that name those groups.
async fn order_faults(client: &Client, target: &Target) -> Result<Vars, HarnessError> {
    let mut vars = Vars::new();
    let Some(url) = &target.faults else {
        return Ok(vars);
    };
    for fault in observe::Fault::ALL {
        let group = uuid::Uuid::new_v4().to_string();
        observe::order(client.http(), url, &group, fault)
            .await
            .map_err(|e| HarnessError::Config(format!("--observe: {e}")))?;
        vars.insert(format!("fault.{}.group", fault.name()), group);
    }
    Ok(vars)
}

/// `capture = { name = "header:location" }` keeps a header's value.
const HEADER_CAPTURE: &str = "header:";

/// The values a step's expectations see: the scenario's, and the answer's
/// own top-level fields as `answer/<field>`.
fn with_answer(vars: &Vars, answer: &Answer) -> Vars {
    let mut vars = vars.clone();
    if let Some(serde_json::Value::Object(fields)) = &answer.json {
        for (key, value) in fields {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            vars.insert(
                format!("{}{key}", crate::sources::scenario::ANSWER_PREFIX),
                text,
            );
        }
    }
    vars
}

/// One task per scenario.
fn scenario_tasks<'a>(
    runner: &'a Runner,
    list: Vec<&'a Scenario>,
    options: &'a RunOptions,
) -> Vec<Task<'a>> {
    list.into_iter()
        .map(|scenario| -> Task<'a> { Box::pin(runner.scenario(scenario, options)) })
        .collect()
}

/// A unit of work the runner schedules: a scenario (its steps and its
/// snapshot checks) or one generated check. Each yields checks and what
/// happened to them.
type Task<'a> = BoxFuture<'a, Result<Vec<(Spec, Verdict)>, HarnessError>>;

/// Runs the tasks, `jobs` at a time, and turns every check's verdict into
/// its outcome, the one way outcomes are made. A task that could not run at
/// all ends the run (exit 2) rather than leave its checks out of the report.
async fn schedule(
    tasks: Vec<Task<'_>>,
    jobs: usize,
    secrets: &Secrets,
    on_check: &(dyn Fn(&CheckOutcome) + Sync),
) -> Result<Vec<CheckOutcome>, HarnessError> {
    let mut results = futures::stream::iter(tasks).buffer_unordered(jobs.max(1));
    let mut outcomes = Vec::new();
    while let Some(result) = results.next().await {
        for (spec, verdict) in result? {
            let outcome = verdict::outcome(spec, verdict, secrets);
            on_check(&outcome);
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

struct Runner {
    client: Client,
    target: Target,
    accounts: Accounts,
    /// Tokens by account, with when to fetch a new one: a run may outlast
    /// a token's life.
    tokens: Mutex<HashMap<String, Held>>,
    /// Held while a step turns the chat-api's cached service token over,
    /// and by a scenario that bounds the chat-api's token requests (see
    /// [`counts_token_requests`]): the one state all scenarios share.
    token_cache: Mutex<()>,
    /// `fault.<kind>.group`: a fresh group id per upstream fault, ordered
    /// at the recorder between the services.
    fault_groups: Vars,
    /// Why observed calls cannot be judged here, when the probe at the
    /// start saw none of the chat-api's calls at the recorder (it does not
    /// stand between the services): every step that observes is skipped
    /// with this reason rather than pass on calls it could not see.
    blind: Option<String>,
}

/// A token the harness holds, and when it must fetch a new one.
struct Held {
    token: String,
    /// A quarter of its life before `exp` (at least 1 s, at most 30 s);
    /// `None` when the token says nothing of its expiry.
    renew_at: Option<std::time::SystemTime>,
}

impl Held {
    fn new(token: &str) -> Self {
        let claims = crate::jwt::claims(token);
        let exp = claims.as_ref().and_then(|c| c["exp"].as_i64());
        let iat = claims.as_ref().and_then(|c| c["iat"].as_i64());
        let renew_at = exp.map(|exp| {
            let life = iat.map_or(60, |iat| exp - iat);
            let margin = (life / 4).clamp(1, 30);
            std::time::UNIX_EPOCH
                + Duration::from_secs(u64::try_from(exp - margin).unwrap_or_default())
        });
        Self {
            token: token.to_owned(),
            renew_at,
        }
    }

    /// The token, while it has life enough left.
    fn fresh(&self) -> Option<&str> {
        self.renew_at
            .is_none_or(|at| std::time::SystemTime::now() < at)
            .then_some(self.token.as_str())
    }
}

/// What a scenario's requests were, to attribute observed calls to it.
struct ScenarioCalls {
    /// When it began, in milliseconds since the Unix epoch.
    started_ms: u64,
    /// The trace ids of the requests it sent.
    traces: Vec<String>,
}

/// What the probe of observation found.
struct ObservationProbe {
    /// The chat-api passes the harness's `traceparent` on.
    traced: bool,
    /// Why calls between the services cannot be judged, if they cannot.
    blind: Option<String>,
}

/// A step that did not go as expected.
struct Failure {
    message: String,
    mismatch: Option<Box<Mismatch>>,
    trace: Option<Box<Trace>>,
    /// The harness itself could not go on (the recorder it reads failed):
    /// the run ends with this (exit 2), no check is judged on it.
    fatal: Option<String>,
}

impl Failure {
    fn plain(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            mismatch: None,
            trace: None,
            fatal: None,
        }
    }
}

/// The request and answer of a step, redacted, for reports.
#[derive(Default, Clone)]
struct Trace {
    /// Why the step, though it passed, could not exercise what its check
    /// names (it is then skipped with this reason).
    unexercised: Option<String>,
    /// How the observed calls among `hops` were attributed to the step.
    attribution: Option<&'static str>,
    request: String,
    response: String,
    curl: String,
    /// The calls the step made and caused, in order.
    hops: Vec<Hop>,
    /// The first answer, normalised for snapshots.
    snapshot: Option<serde_json::Value>,
}

#[derive(Clone)]
struct Prepared {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_could_not_run_ends_the_run_naming_it() {
        let spec = Spec::generated("core.x.y", Level::Core, "CONTRACT x", "test", "a step");
        let ran: Task<'_> = Box::pin(async move { Ok(vec![(spec, Verdict::passed("held"))]) });
        let died: Task<'_> = Box::pin(async {
            Err(HarnessError::Task {
                name: "core.properties.subjects".to_owned(),
                why: "the task panicked".to_owned(),
            })
        });
        let seen = std::sync::Mutex::new(Vec::new());
        let error = schedule(vec![ran, died], 1, &Secrets::default(), &|o| {
            seen.lock().unwrap().push(o.id.clone());
        })
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "core.properties.subjects could not run: the task panicked"
        );
        // What ran before is still shown as it happened.
        assert_eq!(*seen.lock().unwrap(), ["core.x.y"]);
    }
}
