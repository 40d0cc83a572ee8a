//! One scenario, step after step, and its snapshot checks.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::checking::outcome::Status;
use crate::checking::verdict::{Spec, Verdict};
use crate::error::HarnessError;
use crate::run::client::{self};
use crate::sources::scenario::{Level, Scenario, Step, Vars};
use crate::sources::snapshot::{self, Snapshot};

use super::{
    Failure, RunOptions, Runner, ScenarioCalls, SnapshotMode, counts_token_requests,
    drops_the_token, snapshot_check_ids,
};

/// What a scenario's earlier steps left for the later ones: a failed
/// set-up step blocks them (failed, "not reached"); a value a failed step
/// was to capture is lost, and a step needing it is skipped naming that
/// cause, reported once, by the step that failed; once a step could not
/// run for want of such a value, the steps after it may rest on what it
/// would have done (a deletion, a membership), so they are skipped too.
#[derive(Default)]
struct Course {
    blocked: Option<String>,
    lost: BTreeMap<String, String>,
    halted: Option<String>,
}

/// A step's result: its trace, or the status and failure it ended with.
type StepResult = Result<super::Trace, (Status, Failure)>;

impl Course {
    /// Why a step is not run, if it is not.
    fn stops(&mut self, step: &Step, missing: &[&String]) -> Option<(Status, Failure)> {
        if !missing.is_empty() {
            let needs: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Some((
                Status::Skipped,
                Failure::plain(format!(
                    "needs {}, which this target does not offer",
                    needs.join(", ")
                )),
            ));
        }
        if let Some(reason) = &self.blocked {
            return Some((
                Status::Failed,
                Failure::plain(format!("not reached: {reason}")),
            ));
        }
        if let Some(reason) = &self.halted {
            return Some((
                Status::Skipped,
                Failure::plain(format!("not reached: {reason}")),
            ));
        }
        let (name, cause) = step
            .refers_to()
            .into_iter()
            .find_map(|n| self.lost.get(&n).map(|c| (n, c.clone())))?;
        self.halted = Some(format!(
            "the step \"{}\" (line {}) could not run: {{{{{name}}}}} {cause}",
            step.name, step.line
        ));
        Some((
            Status::Skipped,
            Failure::plain(format!("not exercised: {{{{{name}}}}} {cause}")),
        ))
    }

    /// What a step's result leaves for the steps after it.
    fn after(&mut self, step: &Step, result: &StepResult, vars: &Vars) {
        if step.check.is_none()
            && let Err((Status::Failed, failure)) = result
            && self.blocked.is_none()
        {
            self.blocked = Some(format!(
                "the set-up step \"{}\" (line {}) failed: {}",
                step.name, step.line, failure.message
            ));
        }
        let captured_nothing = match result {
            Ok(trace) => trace.unexercised.is_some(),
            Err(_) => true,
        };
        if captured_nothing {
            for name in step.capture.keys().filter(|n| !vars.contains_key(*n)) {
                self.lost.entry(name.clone()).or_insert_with(|| {
                    format!(
                        "was not captured: the step \"{}\" (line {}) did not go as expected",
                        step.name, step.line
                    )
                });
            }
        }
    }
}

impl Runner {
    /// A scenario's steps in order, then its snapshot checks.
    pub(super) async fn scenario(
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
        let mut vars = self.scenario_vars(scenario).await;
        let mut calls = ScenarioCalls {
            started_ms: crate::run::hop::now_ms(),
            traces: Vec::new(),
        };
        let mut course = Course::default();
        let whole = if counts_token_requests(scenario) {
            Some(self.token_cache.lock().await)
        } else {
            None
        };
        let mut results = Vec::new();
        let mut taken: BTreeMap<String, snapshot::Taken> = BTreeMap::new();
        for (index, step) in scenario.steps.iter().enumerate() {
            let step_started = Instant::now();
            let result = if let Some(stopped) = course.stops(step, &missing) {
                Err(stopped)
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
            course.after(step, &result, &vars);
            if let Some((key, answer)) = taken_answer(index, step, &result) {
                taken.insert(key, answer);
            }
            let selected = step
                .check
                .as_ref()
                .filter(|c| options.selects(scenario, &c.id));
            let Some(check) = selected else { continue };
            let mut verdict = verdict_of(result);
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

    /// The values a scenario starts with: the run's accounts, attack
    /// tokens where it uses them, a UUID nobody has, the admin token, the
    /// fault groups.
    async fn scenario_vars(&self, scenario: &Scenario) -> Vars {
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
        vars
    }

    /// Writes the scenario's snapshot, or holds it against the one on
    /// file, as the options say.
    pub(super) fn snapshots(
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
}

/// A step's answer for the snapshot, under its key, with what the step
/// allows.
fn taken_answer(
    index: usize,
    step: &Step,
    result: &StepResult,
) -> Option<(String, snapshot::Taken)> {
    let answer = match result {
        Ok(trace) => trace.snapshot.clone(),
        Err((_, failure)) => failure.trace.as_ref().and_then(|t| t.snapshot.clone()),
    }?;
    let key = snapshot::step_key(
        index,
        step.check.as_ref().map(|c| c.id.as_str()),
        &step.name,
    );
    let allowed = snapshot::Allowed {
        statuses: step
            .expect
            .status
            .iter()
            .chain(step.may.iter().flat_map(|m| &m.declined))
            .copied()
            .collect(),
        errors: step.expect.error.clone(),
        optional: snapshot::optional_members(&step.request.path),
    };
    Some((key, snapshot::Taken { answer, allowed }))
}

/// A step's verdict: passed (or skipped, when it could not exercise its
/// check), or its failure with the request, answer and calls.
fn verdict_of(result: StepResult) -> Verdict {
    match result {
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
    }
}
