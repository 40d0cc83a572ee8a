//! What every kind of check hands the runner: the check it is ([`Spec`])
//! and what happened ([`Verdict`]). The runner turns the pair into a
//! [`CheckOutcome`] one way, [`outcome`], which redacts secrets and draws
//! the diagram of a failure that crossed services; sources never build
//! outcomes themselves.

use std::fmt::Write as _;

use crate::checking::outcome::{CheckOutcome, Status};
use crate::run::hop::Hop;
use crate::run::redact::Secrets;
use crate::sources::scenario::Level;

/// A check, as its source names it.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The stable id.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// The rule it enforces.
    pub rule: String,
    /// Where it comes from: a scenario file, or a generator's name.
    pub source: String,
    /// The scenario's id (for a generated check, its id's family).
    pub scenario_id: String,
    /// The step, or what the generated check asserts.
    pub step: String,
    /// The step's line in the file; 0 for a generated check.
    pub line: usize,
}

impl Spec {
    /// A generated check: no file, so line 0 and the id's family as its
    /// scenario.
    pub fn generated(id: &str, level: Level, rule: &str, generator: &str, step: &str) -> Self {
        Self {
            scenario_id: id.rsplit_once('.').map_or(id, |(s, _)| s).to_owned(),
            id: id.to_owned(),
            level,
            rule: rule.to_owned(),
            source: generator.to_owned(),
            step: step.to_owned(),
            line: 0,
        }
    }
}

/// What happened when a check ran; unredacted, as the source saw it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Passed, failed or skipped.
    pub status: Status,
    /// What happened, in a sentence.
    pub message: String,
    /// What was expected, when it failed.
    pub expected: Option<String>,
    /// What came back, when it failed.
    pub actual: Option<String>,
    /// The request, `METHOD URL`.
    pub request: Option<String>,
    /// The response, kept for failures only.
    pub response: Option<String>,
    /// A command that reproduces a failure.
    pub reproduce: Option<String>,
    /// The calls the check made and caused.
    pub hops: Vec<Hop>,
    /// How the observed calls among `hops` were attributed to the check.
    pub attribution: Option<&'static str>,
    /// How long it took.
    pub duration_ms: u64,
}

impl Verdict {
    /// A verdict with only a status and a message.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            expected: None,
            actual: None,
            request: None,
            response: None,
            reproduce: None,
            hops: Vec::new(),
            attribution: None,
            duration_ms: 0,
        }
    }

    /// It held.
    pub fn passed(message: impl Into<String>) -> Self {
        Self::new(Status::Passed, message)
    }

    /// It could not be run, and why.
    pub fn skipped(why: impl Into<String>) -> Self {
        Self::new(Status::Skipped, why)
    }

    /// It did not hold: what was expected and what came back.
    pub fn failed(
        message: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Self {
            expected: Some(expected.into()),
            actual: Some(actual.into()),
            ..Self::new(Status::Failed, message)
        }
    }
}

/// The one way a check's result becomes an outcome: every text redacted,
/// the response and the reproduction kept for failures only, and a failed
/// check whose request crossed services drawn as a sequence diagram.
pub fn outcome(spec: Spec, verdict: Verdict, secrets: &Secrets) -> CheckOutcome {
    let failed = verdict.status == Status::Failed;
    let redact = |text: Option<String>| text.map(|t| secrets.redact(&t));
    let diagram = (failed && verdict.hops.len() > 1).then(|| {
        let mut text = crate::report::diagram::text(&verdict.hops, true);
        if let Some(attribution) = verdict.attribution {
            let _ = writeln!(text, "({attribution})");
        }
        text
    });
    CheckOutcome {
        id: spec.id,
        level: spec.level,
        rule_place: crate::checking::rules::anchor(&spec.rule)
            .map(|anchor| format!("docs/contract.md#{anchor}")),
        rule: spec.rule,
        status: verdict.status,
        scenario: spec.source,
        scenario_id: spec.scenario_id,
        step: spec.step,
        line: spec.line,
        message: secrets.redact(&verdict.message),
        expected: redact(verdict.expected).filter(|e| !e.is_empty()),
        actual: redact(verdict.actual),
        request: redact(verdict.request),
        response: redact(verdict.response.filter(|_| failed)),
        curl: redact(verdict.reproduce.filter(|_| failed)),
        duration_ms: verdict.duration_ms,
        expected_failure: None,
        hops: verdict.hops,
        diagram,
    }
}
