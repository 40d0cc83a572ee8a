//! One scenario, step after step, and its snapshot checks.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::checking::outcome::Status;
use crate::checking::verdict::{Spec, Verdict};
use crate::error::HarnessError;
use crate::run::client::{self};
use crate::sources::scenario::{Level, Scenario};
use crate::sources::snapshot::{self, Snapshot};

use super::{
    Failure, RunOptions, Runner, ScenarioCalls, SnapshotMode, counts_token_requests,
    drops_the_token, snapshot_check_ids,
};

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
            started_ms: crate::run::hop::now_ms(),
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
