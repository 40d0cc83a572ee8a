use serde::Serialize;

use crate::scenario::Level;

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It held.
    Passed,
    /// It did not.
    Failed,
    /// It was not run (a need the target lacks, or a filter).
    Skipped,
}

/// The result of one check: data, not an error.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    /// The check's stable id.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// Passed, failed or skipped.
    pub status: Status,
    /// The scenario file.
    pub scenario: String,
    /// The scenario's id.
    pub scenario_id: String,
    /// The step's name.
    pub step: String,
    /// The step's line in the scenario file.
    pub line: usize,
    /// What happened, in a sentence.
    pub message: String,
    /// What was expected, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What came back, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The request, `METHOD URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The response: status and body, secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// A command that reproduces the failure: a curl line that sends the
    /// request again (secrets as `$NAMES`), or for a generated check, the
    /// `conformance run` line with its seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
    /// How long the step took.
    pub duration_ms: u64,
}

impl CheckOutcome {
    /// The outcome of a generated check (properties, fuzzing): no scenario
    /// file, so `line` is 0 and `scenario` names the generator.
    pub fn generated(
        id: String,
        generator: &str,
        step: String,
        status: Status,
        message: String,
    ) -> Self {
        Self {
            scenario_id: id
                .rsplit_once('.')
                .map_or(id.as_str(), |(s, _)| s)
                .to_owned(),
            id,
            level: Level::Strict,
            status,
            scenario: generator.to_owned(),
            step,
            line: 0,
            message,
            expected: None,
            actual: None,
            request: None,
            response: None,
            curl: None,
            duration_ms: 0,
        }
    }
}

/// The counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks that held.
    pub passed: usize,
    /// Checks that did not.
    pub failed: usize,
    /// Checks not run.
    pub skipped: usize,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Counts.
    pub summary: Summary,
    /// The level that gates the exit code.
    pub gate: Level,
    /// Failed checks at or below the gate.
    pub gated_failures: usize,
    /// The target.
    pub target: TargetInfo,
    /// How long the run took.
    pub duration_ms: u64,
    /// Every check.
    pub checks: Vec<CheckOutcome>,
}

/// Where the run went.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// The auth-api's URL.
    pub auth_url: String,
    /// The chat-api's URL.
    pub chat_url: String,
}

impl RunReport {
    /// A report of these outcomes, gated at `gate`.
    pub fn new(
        checks: Vec<CheckOutcome>,
        gate: Level,
        target: TargetInfo,
        duration_ms: u64,
    ) -> Self {
        let mut summary = Summary::default();
        for check in &checks {
            match check.status {
                Status::Passed => summary.passed += 1,
                Status::Failed => summary.failed += 1,
                Status::Skipped => summary.skipped += 1,
            }
        }
        let gated_failures = checks
            .iter()
            .filter(|c| c.status == Status::Failed && c.level <= gate)
            .count();
        Self {
            summary,
            gate,
            gated_failures,
            target,
            duration_ms,
            checks,
        }
    }

    /// 0 when every gated check passed, else 1.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.gated_failures > 0)
    }
}
