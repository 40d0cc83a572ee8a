//! Runs scenarios against a target and turns every check into a
//! [`CheckOutcome`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use crate::client::{self, Answer, Client, Outgoing};
use crate::error::HarnessError;
use crate::expect::{self, Mismatch};
use crate::fuzz;
use crate::hop::Hop;
use crate::observe;
use crate::outcome::{CheckOutcome, RunReport, Status, TargetInfo};
use crate::properties::{self, Property, PropertyOptions};
use crate::provision::{self, Accounts};
use crate::redact::Secrets;
use crate::scenario::{
    Auth, Body, Level, Observe, Scenario, Service, Step, Vars, Window, render, render_value,
};
use crate::snapshot::{self, Snapshot};
use crate::target::Target;
use crate::verdict::{self, Spec, Verdict};

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

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            gate: Level::Strict,
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

/// Checks that the target answers at all, within seconds.
pub async fn preflight(http: &reqwest::Client, target: &Target) -> Result<(), HarnessError> {
    for (name, url) in [
        ("auth-api", &target.auth_url),
        ("chat-api", &target.chat_url),
    ] {
        let probe = client::send_retrying(
            http.get(format!("{url}/health"))
                .timeout(Duration::from_secs(5)),
        )
        .await;
        if let Err(e) = probe {
            let why = if e.is_timeout() {
                "no answer within 5 s".to_owned()
            } else {
                client::root_cause(&e)
            };
            return Err(HarnessError::Unreachable(format!(
                "the {name} at {url}: {why}"
            )));
        }
    }
    Ok(())
}

/// Whether a scenario runs alone, after the others. Without trace
/// propagation (`untraced`) the calls between the services can only be
/// attributed by time: every scenario that counts them does, so that no
/// other scenario's calls mix in. With it, each counted call is
/// attributed to the request that caused it, and nothing runs alone.
fn runs_alone(scenario: &Scenario, untraced: bool) -> bool {
    untraced && scenario.steps.iter().any(|step| step.observe.is_some())
}

/// Whether a step has the recorder answer the chat-api's group calls 401
/// (`fault.unauthorized`): the chat-api drops its cached service token, as
/// the contract wants, and the next send of any scenario fetches one.
fn drops_the_token(step: &Step) -> bool {
    step.refers_to()
        .iter()
        .any(|name| name.starts_with("fault.unauthorized."))
}

/// Whether a scenario bounds the chat-api's token requests ("three more
/// messages make none") in a step that does not itself drop the token: a
/// drop by another scenario before or during it would make one of its
/// own sends fetch, as the contract wants, and fail it for nothing. It
/// holds the token cache for its whole run, and the steps that drop the
/// token wait for it; every other scenario runs beside both.
fn counts_token_requests(scenario: &Scenario) -> bool {
    scenario.steps.iter().any(|step| {
        !drops_the_token(step)
            && step
                .observe
                .as_ref()
                .is_some_and(|o| o.at_most.is_some() && o.matches("POST", "/oauth/token"))
    })
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
    preflight(client.http(), target).await?;
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
    let alone = !probe.traced;
    let (observing, mut others): (Vec<&Scenario>, Vec<&Scenario>) =
        selected.into_iter().partition(|s| runs_alone(s, alone));
    // The scenarios that inject faults wait on the chat-api's timeouts on
    // purpose: started first, their waiting overlaps the others' work.
    others.sort_by_key(|s| !s.needs.iter().any(|n| n == "fault-injection"));
    // Scenarios first, then the generated checks: a generated check's
    // requests never share an observation window with a scenario's.
    let mut outcomes = runner
        .schedule(
            scenario_tasks(runner, others, options),
            options.jobs,
            on_check,
        )
        .await?;
    outcomes.extend(
        runner
            .schedule(scenario_tasks(runner, observing, options), 1, on_check)
            .await?,
    );
    let generated = runner
        .properties(options)
        .into_iter()
        .chain(runner.fuzz(options).await)
        .collect();
    outcomes.extend(runner.schedule(generated, options.jobs, on_check).await?);
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
            vars.insert(format!("{}{key}", crate::scenario::ANSWER_PREFIX), text);
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

/// What to do with the snapshots of the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Nothing.
    Off,
    /// Hold each scenario's answers against its snapshot.
    Compare(snapshot::Source),
    /// Write each scenario's answers to this folder.
    Write(std::path::PathBuf),
}

/// The rule the contract-level snapshot checks enforce.
pub const SNAPSHOT_RULE: &str = "CONTRACT Response shapes";
/// The rule of identity with the reference's snapshots.
pub const REFERENCE_SNAPSHOT_RULE: &str = "decisions: Snapshots";

/// The snapshot checks of a scenario: at its own level (core or strict),
/// the statuses, error codes and fields the contract names; at the
/// reference level, identity with the reference's answers.
pub fn snapshot_check_ids(scenario: &Scenario) -> Vec<(String, Level, &'static str)> {
    let (level, rest) = scenario
        .id
        .split_once('.')
        .map_or(("", scenario.id.as_str()), |(level, rest)| (level, rest));
    let mut ids = Vec::new();
    if let Some(level @ (Level::Core | Level::Strict)) = Level::parse(level) {
        ids.push((format!("{level}.snapshot.{rest}"), level, SNAPSHOT_RULE));
    }
    ids.push((
        format!("reference.snapshot.{rest}"),
        Level::Reference,
        REFERENCE_SNAPSHOT_RULE,
    ));
    ids
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

impl Runner {
    /// What the recorder between the services sees of a listing, which
    /// makes the chat-api call the auth-api (to check membership): whether
    /// it sees the chat-api's calls at all, and whether they carry the
    /// harness's `traceparent`. Nothing to probe when nothing records.
    async fn probe_observation(&self) -> Result<ObservationProbe, HarnessError> {
        let unprobed = ObservationProbe {
            traced: true,
            blind: None,
        };
        let Some(observer) = &self.target.observer else {
            return Ok(unprobed);
        };
        let Ok(token) = self.user_token("alice").await else {
            return Ok(unprobed);
        };
        let path = format!(
            "/api/chat/groups/{}/messages?limit=1",
            self.accounts.group_id
        );
        let probe = Outgoing::new(
            "chat-api",
            reqwest::Method::GET,
            format!("{}{path}", self.target.chat_url),
        )
        .bearer(&token);
        let Ok((_, hop)) = self.client.send(&probe).await else {
            return Ok(unprobed);
        };
        let recorded = observer
            .hops(self.client.http())
            .await
            .map_err(|e| HarnessError::Config(format!("--observe: {e}")))?;
        let seen = recorded.iter().any(|h| hop.caused(h) || hop.in_flight(h));
        Ok(ObservationProbe {
            traced: recorded
                .iter()
                .any(|h| h.trace.is_some() && h.trace == hop.trace),
            blind: (!seen).then(|| {
                format!(
                    "the recorder saw no call of the chat-api while it answered a listing \
                     ({path}): it does not stand between the chat-api and the auth-api, so \
                     calls between them cannot be judged (is the chat-api's auth-api URL the \
                     proxy's?)"
                )
            }),
        })
    }

    /// Runs the tasks, `jobs` at a time (see [`schedule`]).
    async fn schedule(
        &self,
        tasks: Vec<Task<'_>>,
        jobs: usize,
        on_check: &(dyn Fn(&CheckOutcome) + Sync),
    ) -> Result<Vec<CheckOutcome>, HarnessError> {
        schedule(tasks, jobs, self.client.secrets(), on_check).await
    }

    /// The generated property checks, one task each; skipped without the
    /// admin token, which they need to register clients.
    fn properties(&self, options: &RunOptions) -> Vec<Task<'_>> {
        let context = self
            .target
            .admin_token
            .as_ref()
            .map(|admin| properties::Context {
                client: self.client.clone(),
                auth_url: self.target.auth_url.clone(),
                chat_url: self.target.chat_url.clone(),
                admin: admin.clone(),
                group_id: self.accounts.group_id.clone(),
                run: self.accounts.run.clone(),
                created: Arc::clone(&options.created),
            });
        Property::ALL
            .into_iter()
            .filter(|p| options.selects_property(*p))
            .map(|property| -> Task<'_> {
                let context = context.clone();
                let cases = options.properties;
                Box::pin(async move {
                    let verdict = match context {
                        Some(context) => properties::check(context, property, cases)
                            .await
                            .map_err(|why| HarnessError::Task {
                                name: property.id().to_owned(),
                                why,
                            })?,
                        None => {
                            Verdict::skipped("needs the admin token to register generated clients")
                        }
                    };
                    Ok(vec![(properties::spec(property), verdict)])
                })
            })
            .collect()
    }

    /// Bad input for every operation of the contract's OpenAPI documents,
    /// one task per check.
    async fn fuzz(&self, options: &RunOptions) -> Vec<Task<'_>> {
        let context = Arc::new(fuzz::Context {
            client: self.client.clone(),
            auth_url: self.target.auth_url.clone(),
            chat_url: self.target.chat_url.clone(),
            user_token: self.user_token("alice").await.ok(),
            admin_token: self.target.admin_token.clone(),
            basic: self.basic("reader").ok(),
            group_id: self.accounts.group_id.clone(),
            cases: options.properties.cases,
            seed: options.properties.seed,
        });
        fuzz::selected(|id| options.selects_fuzz(id))
            .into_iter()
            .map(|check| -> Task<'_> {
                let context = Arc::clone(&context);
                Box::pin(async move {
                    // A user token with life left for each check: a run may
                    // outlast one, and an expired token would make every
                    // probe a refusal of the caller, not of the input.
                    let context = fuzz::Context {
                        user_token: self.user_token("alice").await.ok(),
                        ..(*context).clone()
                    };
                    let verdict = fuzz::check(&context, &check).await;
                    Ok(vec![(check.spec(), verdict)])
                })
            })
            .collect()
    }

    /// A scenario's steps in order, then its snapshot checks.
    async fn scenario(
        &self,
        scenario: &Scenario,
        options: &RunOptions,
    ) -> Result<Vec<(Spec, Verdict)>, HarnessError> {
        let capabilities = self.target.capabilities();
        let missing: Vec<&String> = scenario
            .needs
            .iter()
            .filter(|n| !capabilities.contains(n.as_str()))
            .collect();
        let mut vars = self.accounts.vars();
        // Built afresh for each scenario that uses them, from a user token
        // still valid: attacks cut from an expired token would be refused
        // for the wrong reason. Empty when they cannot be built (the steps
        // using them then fail, saying which value is missing).
        if scenario.uses_prefix("attack.") {
            vars.extend(self.attack_tokens().await);
        }
        vars.insert("unknown.uuid".to_owned(), uuid::Uuid::new_v4().to_string());
        if let Some(admin) = &self.target.admin_token {
            vars.insert("admin.token".to_owned(), admin.expose().to_owned());
        }
        vars.extend(self.fault_groups.clone());
        let mut calls = ScenarioCalls {
            started_ms: crate::hop::now_ms(),
            traces: Vec::new(),
        };
        let mut blocked: Option<String> = None;
        // Values a failed step was to capture, and why they are missing: a
        // step that needs one is skipped naming that cause, which is
        // reported once, by the step that failed.
        let mut lost: BTreeMap<String, String> = BTreeMap::new();
        // Once a step could not run for want of such a value, the steps
        // after it may rest on what it would have done (a deletion, a
        // membership): they are skipped too, not failed for its sake.
        let mut halted: Option<String> = None;
        let whole = if counts_token_requests(scenario) {
            Some(self.token_cache.lock().await)
        } else {
            None
        };
        let mut results = Vec::new();
        let mut taken: BTreeMap<String, snapshot::Taken> = BTreeMap::new();
        for (index, step) in scenario.steps.iter().enumerate() {
            let selected = step
                .check
                .as_ref()
                .filter(|c| options.selects(scenario, &c.id));
            let step_started = Instant::now();
            let result = if !missing.is_empty() {
                let needs: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                Err((
                    Status::Skipped,
                    Failure::plain(format!(
                        "needs {}, which this target does not offer",
                        needs.join(", ")
                    )),
                ))
            } else if let Some(reason) = &blocked {
                Err((
                    Status::Failed,
                    Failure::plain(format!("not reached: {reason}")),
                ))
            } else if let Some(reason) = &halted {
                Err((
                    Status::Skipped,
                    Failure::plain(format!("not reached: {reason}")),
                ))
            } else if let Some((name, cause)) = step
                .refers_to()
                .into_iter()
                .find_map(|n| lost.get(&n).map(|c| (n, c)))
            {
                halted = Some(format!(
                    "the step \"{}\" (line {}) could not run: {{{{{name}}}}} {cause}",
                    step.name, step.line
                ));
                Err((
                    Status::Skipped,
                    Failure::plain(format!("not exercised: {{{{{name}}}}} {cause}")),
                ))
            } else {
                let _dropping = if whole.is_none() && drops_the_token(step) {
                    Some(self.token_cache.lock().await)
                } else {
                    None
                };
                match self.step(step, &mut vars, &mut calls).await {
                    Err(Failure {
                        fatal: Some(why), ..
                    }) => return Err(HarnessError::Config(why)),
                    other => other.map_err(|f| (Status::Failed, f)),
                }
            };
            if step.check.is_none()
                && let Err((Status::Failed, failure)) = &result
                && blocked.is_none()
            {
                blocked = Some(format!(
                    "the set-up step \"{}\" (line {}) failed: {}",
                    step.name, step.line, failure.message
                ));
            }
            let captured_nothing = match &result {
                Ok(trace) => trace.unexercised.is_some(),
                Err(_) => true,
            };
            if captured_nothing {
                for name in step.capture.keys().filter(|n| !vars.contains_key(*n)) {
                    lost.entry(name.clone()).or_insert_with(|| {
                        format!(
                            "was not captured: the step \"{}\" (line {}) did not go as expected",
                            step.name, step.line
                        )
                    });
                }
            }
            let answered = match &result {
                Ok(trace) => trace.snapshot.clone(),
                Err((_, failure)) => failure.trace.as_ref().and_then(|t| t.snapshot.clone()),
            };
            if let Some(answer) = answered {
                let key = snapshot::step_key(
                    index,
                    step.check.as_ref().map(|c| c.id.as_str()),
                    &step.name,
                );
                taken.insert(
                    key,
                    snapshot::Taken {
                        answer,
                        allowed: snapshot::Allowed {
                            statuses: step
                                .expect
                                .status
                                .iter()
                                .chain(step.may.iter().flat_map(|m| &m.declined))
                                .copied()
                                .collect(),
                            errors: step.expect.error.clone(),
                            optional: snapshot::optional_members(&step.request.path),
                        },
                    },
                );
            }
            let Some(check) = selected else { continue };
            let mut verdict = match result {
                Ok(trace) => {
                    let mut verdict = match trace.unexercised {
                        Some(why) => Verdict::skipped(why),
                        None => Verdict::passed("as expected"),
                    };
                    verdict.request = Some(trace.request);
                    verdict.hops = trace.hops;
                    verdict.attribution = trace.attribution;
                    verdict
                }
                Err((status, failure)) => {
                    let mut verdict = Verdict::new(status, failure.message);
                    if let Some(mismatch) = failure.mismatch {
                        verdict.expected = Some(mismatch.expected);
                        verdict.actual = Some(mismatch.actual);
                    }
                    if let Some(trace) = failure.trace {
                        verdict.request = Some(trace.request);
                        verdict.response = Some(trace.response);
                        verdict.reproduce = Some(trace.curl);
                        verdict.hops = trace.hops;
                        verdict.attribution = trace.attribution;
                    }
                    verdict
                }
            };
            verdict.duration_ms = client::millis(step_started.elapsed());
            let spec = Spec {
                id: check.id.clone(),
                level: check.level,
                rule: check.rule.clone(),
                source: scenario.file.display().to_string(),
                scenario_id: scenario.id.clone(),
                step: step.name.clone(),
                line: step.line,
            };
            results.push((spec, verdict));
        }
        if missing.is_empty() {
            results.extend(Self::snapshots(scenario, &taken, options)?);
        }
        Ok(results)
    }

    /// Writes the scenario's snapshot, or holds it against the one on
    /// file, as the options say.
    fn snapshots(
        scenario: &Scenario,
        taken: &BTreeMap<String, snapshot::Taken>,
        options: &RunOptions,
    ) -> Result<Vec<(Spec, Verdict)>, HarnessError> {
        match &options.snapshots {
            SnapshotMode::Off => Ok(Vec::new()),
            SnapshotMode::Write(dir) => {
                if !taken.is_empty() {
                    let path = snapshot::file(dir, &scenario.id);
                    std::fs::create_dir_all(dir)
                        .and_then(|()| {
                            let answers: Snapshot = taken
                                .iter()
                                .map(|(k, t)| (k.clone(), t.answer.clone()))
                                .collect();
                            std::fs::write(&path, snapshot::file_text(&answers))
                        })
                        .map_err(|e| HarnessError::Write {
                            path: path.display().to_string(),
                            why: e.to_string(),
                        })?;
                }
                Ok(Vec::new())
            }
            SnapshotMode::Compare(source) => {
                let (expected, path) = source.load(&scenario.id);
                let checks: Vec<(String, Level, &str)> = snapshot_check_ids(scenario)
                    .into_iter()
                    .filter(|(id, _, _)| options.selects(scenario, id))
                    .collect();
                if checks.is_empty() || taken.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(snapshot::verdicts(
                    &scenario.id,
                    &checks,
                    taken,
                    expected,
                    &path,
                ))
            }
        }
    }

    async fn step(
        &self,
        step: &Step,
        vars: &mut Vars,
        scenario: &mut ScenarioCalls,
    ) -> Result<Trace, Failure> {
        let prepared = self.prepare(step, vars).await?;
        let trace_base = Trace {
            request: format!(
                "{} {}",
                prepared.method,
                self.client.secrets().redact(&prepared.url)
            ),
            response: String::new(),
            curl: curl_line(&prepared, self.client.secrets()),
            hops: Vec::new(),
            snapshot: None,
            attribution: None,
            unexercised: None,
        };
        let sends = (0..step.request.repeat).map(|_| self.send(&prepared, step));
        let answers = futures::future::join_all(sends).await;
        let own: Vec<Hop> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok().map(|(_, hop)| hop.clone()))
            .collect();
        scenario
            .traces
            .extend(own.iter().filter_map(|h| h.trace.clone()));
        let recorded = self.recorded(&own, step).await.map_err(|e| Failure {
            fatal: Some(format!("--observe: {e}")),
            ..Failure::plain(e.clone())
        })?;
        let (hops, attribution) = Self::hops_of(&own, recorded.as_deref().unwrap_or_default());
        let trace_base = Trace {
            attribution,
            ..trace_base
        };
        let jwks = if step.expect.jwt_verified.is_empty() {
            None
        } else {
            self.jwks().await
        };
        for (answer, _) in answers.iter().flatten() {
            self.keep_secret(answer);
        }
        if let Some(may) = &step.may
            && let Some(Ok((answer, _))) = answers.first()
            && may.declined.contains(&answer.status)
        {
            let code = answer
                .json
                .as_ref()
                .and_then(|j| j["error"].as_str())
                .map_or_else(String::new, |c| format!(" {c}"));
            let mut trace = self.answered(trace_base, answer, hops, vars);
            trace.unexercised = Some(format!(
                "the target declined a MAY (it answered {}{code}): {}",
                answer.status, may.reason
            ));
            return Ok(trace);
        }
        let mut first: Option<Answer> = None;
        for answer in answers {
            let (answer, _) = answer.map_err(|e| Failure {
                message: format!("no answer: {e}"),
                mismatch: None,
                trace: Some(Box::new(Trace {
                    hops: hops.clone(),
                    ..trace_base.clone()
                })),
                fatal: None,
            })?;
            if let Err(mismatch) = expect::check(
                &step.expect,
                &answer,
                &with_answer(vars, &answer),
                jwks.as_ref(),
            ) {
                let cut = answer.cut.as_ref().map_or_else(String::new, |why| {
                    format!(" (the connection cut the answer's body short: {why})")
                });
                return Err(Failure {
                    message: format!(
                        "expected {}, got {}{cut}",
                        mismatch.expected, mismatch.actual
                    ),
                    mismatch: Some(Box::new(mismatch)),
                    trace: Some(Box::new(self.answered(trace_base, &answer, hops, vars))),
                    fatal: None,
                });
            }
            first.get_or_insert(answer);
        }
        let answer = first.expect("repeat is at least 1");
        // Captured first, so that the answer's snapshot names what it made
        // (`<doomed>`, not a value that differs from run to run).
        let mut captured = Vec::new();
        for (name, pointer) in &step.capture {
            let value = match pointer.strip_prefix(HEADER_CAPTURE) {
                Some(header) => answer.header(&header.to_lowercase()).map(str::to_owned),
                None => answer
                    .json
                    .as_ref()
                    .and_then(|j| j.pointer(pointer))
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
            };
            match value {
                Some(value) => captured.push((name.clone(), value)),
                None => {
                    return Err(Failure {
                        message: format!("nothing at {pointer} to capture as {name}"),
                        mismatch: None,
                        trace: Some(Box::new(self.answered(trace_base, &answer, hops, vars))),
                        fatal: None,
                    });
                }
            }
        }
        vars.extend(captured);
        let trace = self.answered(trace_base, &answer, hops, vars);
        if let Some(within) = step.expect.within_ms
            && let Some(slow) = own.iter().find(|h| h.duration_ms > within)
        {
            let mismatch = Mismatch {
                expected: format!("an answer within {within} ms"),
                actual: format!("an answer after {} ms", slow.duration_ms),
            };
            return Err(Failure {
                message: format!("expected {}, got {}", mismatch.expected, mismatch.actual),
                mismatch: Some(Box::new(mismatch)),
                trace: Some(Box::new(trace)),
                fatal: None,
            });
        }
        let observe = match &step.observe {
            Some(observe) => Some(Observe {
                path: render(&observe.path, vars)
                    .map_err(|e| Failure::plain(format!("cannot read the observe path: {e}")))?,
                ..observe.clone()
            }),
            None => None,
        };
        let mut trace = trace;
        if let (Some(observe), Some(blind)) = (&observe, &self.blind) {
            trace.unexercised = Some(format!(
                "{} {} not judged: {blind}",
                observe.method, observe.path
            ));
            return Ok(trace);
        }
        if let Some(observe) = &observe {
            match Self::observed(observe, scenario, &own, recorded.as_deref()) {
                Err(mismatch) => {
                    return Err(Failure {
                        message: format!("expected {}, got {}", mismatch.expected, mismatch.actual),
                        mismatch: Some(Box::new(mismatch)),
                        trace: Some(Box::new(trace)),
                        fatal: None,
                    });
                }
                // Conditions on each call, and no call to hold them to.
                Ok(0) if observe.credential.is_some() || observe.scope.is_some() => {
                    trace.unexercised = Some(format!(
                        "no {} {} call from the chat-api to the auth-api was seen, so none could be held to its conditions",
                        observe.method, observe.path
                    ));
                }
                Ok(_) => {}
            }
        }
        Ok(trace)
    }

    /// The trace of a step that got this answer: the answer shown
    /// (redacted, truncated) and normalised for snapshots.
    fn answered(&self, base: Trace, answer: &Answer, hops: Vec<Hop>, vars: &Vars) -> Trace {
        let urls = [
            ("auth_url", self.target.auth_url.as_str()),
            ("chat_url", self.target.chat_url.as_str()),
        ];
        Trace {
            response: self.client.secrets().redact(&format!(
                "{}\n{}",
                answer.status,
                client::truncate(&answer.text, 600)
            )),
            hops,
            snapshot: Some(snapshot::normalise(
                answer.status,
                &answer.headers,
                &answer.text,
                &snapshot::known_values(vars, &urls),
                self.client.secrets(),
            )),
            ..base
        }
    }

    /// Everything the recorder between the services has seen, read once
    /// per step and only when the step needs it (it went to the chat-api,
    /// or it observes); `None` when nothing records the calls.
    async fn recorded(&self, own: &[Hop], step: &Step) -> Result<Option<Vec<Hop>>, String> {
        let Some(observer) = self.target.observer.as_ref() else {
            return Ok(None);
        };
        let needed = step.observe.is_some() || own.iter().any(|h| h.to == "chat-api");
        Ok(Some(if needed {
            observer.hops(self.client.http()).await?
        } else {
            Vec::new()
        }))
    }

    /// The calls the chat-api made to the auth-api for these requests of the
    /// harness: by trace id when it passed the harness's on, else by time.
    /// Each request is followed by the calls it caused. Also says how the
    /// calls were attributed, when any were.
    fn hops_of(own: &[Hop], recorded: &[Hop]) -> (Vec<Hop>, Option<&'static str>) {
        let mut hops = Vec::new();
        let mut by_time = false;
        let mut any = false;
        for hop in own {
            hops.push(hop.clone());
            if hop.to != "chat-api" {
                continue;
            }
            for r in recorded {
                if hop.caused(r) {
                    any = true;
                    by_time |= r.trace.is_none();
                    hops.push(r.clone());
                }
            }
        }
        let attribution = any.then_some(if by_time {
            "calls attributed by time: the chat-api did not pass the traceparent on"
        } else {
            "calls attributed by W3C trace id"
        });
        (hops, attribution)
    }

    /// Holds the observed calls to `observe`; how many matched. A step's
    /// window is the calls its requests caused (as [`Self::hops_of`]
    /// attributes them, so that a count and its diagram agree) and any
    /// other made while they were in flight.
    fn observed(
        observe: &Observe,
        scenario: &ScenarioCalls,
        own: &[Hop],
        recorded: Option<&[Hop]>,
    ) -> Result<usize, Mismatch> {
        let recorded = recorded.ok_or_else(|| Mismatch {
            expected: "calls between the services to observe".to_owned(),
            actual: "nothing records them here".to_owned(),
        })?;
        let matching = || {
            recorded
                .iter()
                .filter(|h| observe.matches(&h.method, &h.path))
        };
        let calls: Vec<&Hop> = matching()
            .filter(|h| match observe.over {
                Window::Run => true,
                Window::Step => own.iter().any(|o| o.caused(h) || o.in_flight(h)),
                Window::Scenario => match &h.trace {
                    Some(trace) => scenario.traces.contains(trace),
                    None => h.started_ms >= scenario.started_ms,
                },
            })
            .collect();
        let what = format!(
            "{} {} from the chat-api to the auth-api",
            observe.method, observe.path
        );
        let count = calls.len();
        // "At most" counts only the calls the step surely caused: another
        // scenario's call made in the same moment is not this step's doing
        // (a key set fetch for another scenario's forged kid). Token
        // requests are the exception: a step that bounds them holds the
        // chat-api's token cache (`counts_token_requests`,
        // `drops_the_token`), so no other scenario makes the chat-api
        // fetch one while it runs, and every one made in flight is this
        // step's, whatever trace it carries: a chat-api that fetches a
        // token per message fetches under the trace of whichever request
        // came first, another scenario's as often as not. "At least"
        // counts those made in flight too: a single-flight fetch another
        // request began serves this step all the same.
        let caused = match observe.over {
            Window::Step if !observe.matches("POST", "/oauth/token") => matching()
                .filter(|h| own.iter().any(|o| o.caused(h)))
                .count(),
            Window::Step | Window::Run | Window::Scenario => count,
        };
        if let Some(most) = observe.at_most.filter(|most| caused > *most) {
            return Err(Mismatch {
                expected: format!("at most {most} {what}"),
                actual: format!("{caused} calls"),
            });
        }
        if let Some(least) = observe.at_least.filter(|least| count < *least) {
            return Err(Mismatch {
                expected: format!("at least {least} {what}"),
                actual: format!("{count} calls"),
            });
        }
        if let Some(credential) = &observe.credential
            && let Some(call) = calls
                .iter()
                .find(|h| h.credential.as_ref() != Some(credential))
        {
            return Err(Mismatch {
                expected: format!("every {what} made with a {credential}"),
                actual: format!(
                    "{} {} made with {}",
                    call.method,
                    call.path,
                    call.credential.as_deref().unwrap_or("no credentials")
                ),
            });
        }
        if let Some(scope) = &observe.scope
            && let Some(call) = calls.iter().find(|h| {
                !h.scope
                    .as_deref()
                    .is_some_and(|s| s.split(' ').any(|s| s == scope))
            })
        {
            return Err(Mismatch {
                expected: format!("every {what} asking for scope {scope}"),
                actual: format!(
                    "a call asking for {}",
                    call.scope
                        .as_deref()
                        .map_or("no scope".to_owned(), |s| format!("scope {s:?}"))
                ),
            });
        }
        Ok(count)
    }

    async fn attack_tokens(&self) -> Vars {
        let Ok(token) = self.user_token("alice").await else {
            return Vars::new();
        };
        let jwks = match client::send_retrying(
            self.client
                .http()
                .get(format!("{}/.well-known/jwks.json", self.target.auth_url)),
        )
        .await
        {
            Ok(response) => response
                .json::<serde_json::Value>()
                .await
                .unwrap_or_default(),
            Err(_) => return Vars::new(),
        };
        crate::attacks::attack_vars(&token, &jwks, self.target.signing_key.as_ref())
            .unwrap_or_default()
    }

    async fn prepare(&self, step: &Step, vars: &Vars) -> Result<Prepared, Failure> {
        let rendered = |s: &str| {
            render(s, vars).map_err(|e| Failure::plain(format!("cannot build the request: {e}")))
        };
        let request = &step.request;
        let base = match request.service {
            Service::Auth => &self.target.auth_url,
            Service::Chat => &self.target.chat_url,
            Service::Recorder => self.target.faults.as_ref().ok_or_else(|| {
                Failure::plain("no recorder between the services takes fault orders here")
            })?,
        };
        let mut url = format!("{base}{}", rendered(&request.path)?);
        if !request.query.is_empty() {
            let mut parsed = reqwest::Url::parse(&url)
                .map_err(|e| Failure::plain(format!("cannot build the request: {e}")))?;
            for (name, value) in &request.query {
                parsed
                    .query_pairs_mut()
                    .append_pair(name, &rendered(value)?);
            }
            url = parsed.to_string();
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Failure::plain(format!("{} is no HTTP method", request.method)))?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut form_extra: Vec<(String, String)> = Vec::new();
        match &step.auth {
            Auth::Anonymous => {}
            Auth::User(name) => headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", self.user_token(name).await?),
            )),
            Auth::Service { client, scope } => {
                let token = self.service_token(client, scope.as_deref()).await?;
                headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
            }
            Auth::Basic(name) => headers.push(("Authorization".to_owned(), self.basic(name)?)),
            Auth::BasicWith { id, secret } => {
                let value =
                    reference_shared::form::basic_authorization(&rendered(id)?, &rendered(secret)?);
                self.client.secrets().add(&value, "Basic $CLIENT_BASIC");
                headers.push(("Authorization".to_owned(), value));
            }
            Auth::Form(name) => {
                let client = self.client(name)?;
                form_extra.push(("client_id".to_owned(), client.id.clone()));
                form_extra.push((
                    "client_secret".to_owned(),
                    client.secret.expose().to_owned(),
                ));
            }
            Auth::Bearer(token) => headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", rendered(token)?),
            )),
        }
        for (name, value) in &request.headers {
            headers.push((name.clone(), rendered(value)?));
        }
        let body = match &request.body {
            Body::Empty if form_extra.is_empty() => None,
            Body::Empty => Some((
                "application/x-www-form-urlencoded".to_owned(),
                form_encode(&form_extra),
            )),
            Body::Json(value) => {
                let value = render_value(value, vars)
                    .map_err(|e| Failure::plain(format!("cannot build the request: {e}")))?;
                Some(("application/json".to_owned(), value.to_string()))
            }
            Body::Form(pairs) => {
                let mut all = pairs
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), rendered(v)?)))
                    .collect::<Result<Vec<_>, Failure>>()?;
                all.extend(form_extra);
                Some((
                    "application/x-www-form-urlencoded".to_owned(),
                    form_encode(&all),
                ))
            }
            Body::Raw { content_type, text } => {
                Some((content_type.clone().unwrap_or_default(), rendered(text)?))
            }
        };
        Ok(Prepared {
            method,
            url,
            headers,
            body,
        })
    }

    /// Sends a prepared request through the harness's client; the answer
    /// and the hop it made.
    /// Sends the step's request; for a step that walks a listing, every
    /// page, gathered into one answer (see [`crate::scenario::Walk`]).
    async fn send(&self, prepared: &Prepared, step: &Step) -> Result<(Answer, Hop), String> {
        // Enough for any listing a scenario makes; a cursor that never ends
        // shows as items seen more than once.
        const MAX_PAGES: usize = 500;
        let Some(walk) = &step.request.walk else {
            return self.send_once(prepared, step).await;
        };
        let (mut answer, hop) = self.send_once(prepared, step).await?;
        let mut items = Vec::new();
        let mut pages = 1;
        loop {
            let page = answer.json.clone().unwrap_or_default();
            if answer.status != 200 {
                break;
            }
            if let Some(found) = page
                .pointer(&walk.items)
                .and_then(serde_json::Value::as_array)
            {
                items.extend(found.iter().cloned());
            }
            let cursor = match page.pointer(&walk.cursor) {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => break,
            };
            if pages == MAX_PAGES {
                break;
            }
            let mut url = reqwest::Url::parse(&prepared.url).map_err(|e| e.to_string())?;
            url.query_pairs_mut().append_pair(&walk.param, &cursor);
            let next = Prepared {
                url: url.to_string(),
                ..prepared.clone()
            };
            answer = self.send_once(&next, step).await?.0;
            pages += 1;
        }
        let body = serde_json::json!({ "status": answer.status, "items": items, "pages": pages });
        Ok((
            Answer {
                status: answer.status,
                headers: answer.headers,
                text: body.to_string(),
                json: Some(body),
                cut: answer.cut,
            },
            hop,
        ))
    }

    async fn send_once(&self, prepared: &Prepared, step: &Step) -> Result<(Answer, Hop), String> {
        let outgoing = Outgoing {
            service: match step.request.service {
                Service::Auth => "auth-api",
                Service::Chat => "chat-api",
                Service::Recorder => "recorder",
            },
            method: prepared.method.clone(),
            url: prepared.url.clone(),
            headers: prepared
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
                .collect(),
            body: prepared
                .body
                .as_ref()
                .map(|(t, b)| (t.clone(), b.clone().into_bytes())),
            fresh_connection: false,
        };
        self.client.send(&outgoing).await
    }

    fn client(&self, name: &str) -> Result<&provision::ClientAccount, Failure> {
        self.accounts
            .clients
            .get(name)
            .ok_or_else(|| Failure::plain(format!("no client {name} among the accounts")))
    }

    fn basic(&self, name: &str) -> Result<String, Failure> {
        let client = self.client(name)?;
        let value = reference_shared::form::basic_authorization(&client.id, client.secret.expose());
        self.client
            .secrets()
            .add(&value, &format!("Basic ${}_BASIC", name.to_uppercase()));
        Ok(value)
    }

    /// Registers the secrets an answer hands out (a client's secret, a
    /// token), so that no report or snapshot shows them.
    fn keep_secret(&self, answer: &Answer) {
        self.client.secrets().add_handed_out(answer.json.as_ref());
    }

    /// The auth-api's key set, fetched now (keys rotate), if it answers one.
    async fn jwks(&self) -> Option<serde_json::Value> {
        let url = format!("{}/.well-known/jwks.json", self.target.auth_url);
        let response = client::send_retrying(self.client.http().get(url))
            .await
            .ok()?;
        response.json().await.ok()
    }

    async fn user_token(&self, name: &str) -> Result<String, Failure> {
        let key = format!("user:{name}");
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&key).and_then(Held::fresh) {
            return Ok(token.to_owned());
        }
        let user = self
            .accounts
            .users
            .get(name)
            .ok_or_else(|| Failure::plain(format!("no user {name} among the accounts")))?;
        let token = provision::login(
            self.client.http(),
            &self.target.auth_url,
            &user.email,
            user.password.expose(),
        )
        .await
        .map_err(|e| Failure::plain(format!("cannot log in as {name}: {e}")))?;
        self.client
            .secrets()
            .add(&token, &format!("${}_TOKEN", name.to_uppercase()));
        tokens.insert(key, Held::new(&token));
        Ok(token)
    }

    async fn service_token(&self, name: &str, scope: Option<&str>) -> Result<String, Failure> {
        let key = format!("client:{name}:{}", scope.unwrap_or(""));
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&key).and_then(Held::fresh) {
            return Ok(token.to_owned());
        }
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if let Some(scope) = scope {
            form.push(("scope".to_owned(), scope.to_owned()));
        }
        let response = client::send_retrying(
            self.client
                .http()
                .post(format!("{}/oauth/token", self.target.auth_url))
                .header("Authorization", self.basic(name)?)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&form)),
        )
        .await
        .map_err(|e| {
            Failure::plain(format!(
                "cannot get a service token for {name}: {}",
                e.without_url()
            ))
        })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| {
                Failure::plain(format!(
                    "cannot get a service token for {name}: the token endpoint answered {status}"
                ))
            })?
            .to_owned();
        self.client
            .secrets()
            .add(&token, &format!("${}_TOKEN", name.to_uppercase()));
        tokens.insert(key, Held::new(&token));
        Ok(token)
    }
}

fn form_encode(pairs: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    reference_shared::form::body(&pairs)
}

/// Quotes for a POSIX shell after redacting: single quotes, unless a
/// `$PLACEHOLDER` must expand, then double quotes.
fn shell_quote(text: &str, secrets: &Secrets) -> String {
    let text = secrets.redact(text);
    if text.contains('$') {
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' | '`' => vec!['\\', c],
                other => vec![other],
            })
            .collect();
        format!("\"{escaped}\"")
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A curl command that sends the same request; secrets appear as shell
/// variables (`$ALICE_TOKEN`) for the reader to set.
fn curl_line(prepared: &Prepared, secrets: &Secrets) -> String {
    let shell_quote = |text: &str| shell_quote(text, secrets);
    let mut parts = vec![
        "curl -sS -i".to_owned(),
        format!("-X {}", prepared.method),
        shell_quote(&prepared.url),
    ];
    for (name, value) in &prepared.headers {
        parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    if let Some((content_type, body)) = &prepared.body {
        if !content_type.is_empty()
            && !prepared
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            parts.push(format!(
                "-H {}",
                shell_quote(&format!("Content-Type: {content_type}"))
            ));
        }
        parts.push(format!("--data-raw {}", shell_quote(body)));
    }
    parts.join(" ")
}

/// Every check these scenarios and the generators make, with its level
/// and rule, for `conformance list` and `conformance rules`.
pub fn checks(scenarios: &[Scenario]) -> BTreeSet<(String, Level, String)> {
    scenarios
        .iter()
        .flat_map(|s| {
            s.checks()
                .map(|c| (c.id.clone(), c.level, c.rule.clone()))
                .chain(
                    snapshot_check_ids(s)
                        .into_iter()
                        .map(|(id, level, rule)| (id, level, rule.to_owned())),
                )
                .collect::<Vec<_>>()
        })
        .chain(
            Property::ALL
                .into_iter()
                .map(|p| (p.id().to_owned(), Property::LEVEL, p.rule().to_owned())),
        )
        .chain(fuzz::checks())
        .collect()
}

/// The check ids, for `--expected-failures`.
pub fn check_ids(scenarios: &[Scenario]) -> BTreeSet<String> {
    checks(scenarios).into_iter().map(|(id, _, _)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With trace ids nothing runs alone; without, what observes does.
    /// The token cache is held by the scenario that bounds token requests
    /// and by the steps that drop the token, nothing else.
    #[test]
    fn only_the_token_cache_is_taken_in_turns_when_calls_carry_trace_ids() {
        let scenarios = crate::scenario::bundled().unwrap();
        let by_id = |id: &str| scenarios.iter().find(|s| s.id == id).unwrap();
        for id in [
            "core.chat.token-reuse",
            "core.chat.upstream",
            "strict.jwks-refresh",
        ] {
            assert!(!runs_alone(by_id(id), false), "{id}");
            assert!(runs_alone(by_id(id), true), "{id}");
        }
        assert!(!runs_alone(by_id("core.own-group"), true));
        assert!(counts_token_requests(by_id("core.chat.token-reuse")));
        assert!(!counts_token_requests(by_id("core.chat.upstream")));
        assert!(!counts_token_requests(by_id("core.own-group")));
        let upstream = by_id("core.chat.upstream");
        let dropping: Vec<&str> = upstream
            .steps
            .iter()
            .filter(|s| drops_the_token(s))
            .filter_map(|s| s.check.as_ref().map(|c| c.id.as_str()))
            .collect();
        assert_eq!(
            dropping,
            [
                "core.chat.upstream.unauthorized-retry",
                "core.chat.upstream.unauthorized-new-token"
            ]
        );
    }

    fn hop(from: &str, method: &str, path: &str, started_ms: u64, duration_ms: u64) -> Hop {
        Hop {
            from: from.to_owned(),
            to: if from == "harness" {
                "chat-api"
            } else {
                "auth-api"
            }
            .to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            status: 200,
            error: None,
            credential: None,
            scope: None,
            duration_ms,
            started_ms,
            trace: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
        }
    }

    /// The CI failure of issue 29: a send that took 2.9 ms from 1000.9 ms
    /// was stamped 1000 + 2, its token request, begun at 1003.0 ms by the
    /// recorder's clock, fell outside that window and counted 0, while the
    /// diagram, attributing by trace id, showed it. A count attributes as
    /// the diagram does.
    #[test]
    fn a_step_counts_the_calls_the_diagram_attributes_to_it() {
        let send = hop("harness", "POST", "/api/chat/groups/g/messages", 1000, 2);
        let token = hop("chat-api", "POST", "/oauth/token", 1003, 1);
        let observe = Observe {
            method: "POST".to_owned(),
            path: "/oauth/token".to_owned(),
            at_least: Some(1),
            over: Window::Step,
            ..Observe::default()
        };
        let scenario = ScenarioCalls {
            started_ms: 1000,
            traces: vec![send.trace.clone().unwrap()],
        };
        let recorded = [token];
        let (diagram, _) = Runner::hops_of(std::slice::from_ref(&send), &recorded);
        assert_eq!(diagram.len(), 2, "the diagram shows the token request");
        let counted = Runner::observed(&observe, &scenario, &[send], Some(&recorded));
        assert_eq!(counted.ok(), Some(1), "the count sees it too");
    }

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
