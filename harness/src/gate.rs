//! Release gating beyond one run: the difference between two reports
//! (`conformance diff`, `run --baseline`) and the deviations a deployment
//! is known to have (`--expected-failures`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use crate::error::HarnessError;
pub use crate::outcome::{Change, Diff};
use crate::outcome::{CheckOutcome, RunReport, Status};

/// The difference from `old` to `new`. A check skipped in either run is
/// neither a regression nor a fix: nothing is known about it.
pub fn diff(old: &RunReport, new: &RunReport) -> Diff {
    let before: BTreeMap<&str, &CheckOutcome> =
        old.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let after: BTreeMap<&str, &CheckOutcome> =
        new.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut result = Diff::default();
    for (id, now) in &after {
        let Some(then) = before.get(id) else {
            result.added.push((*id).to_owned());
            continue;
        };
        let change = || Change {
            id: (*id).to_owned(),
            message: now.message.clone(),
        };
        match (then.status, now.status) {
            (Status::Passed, Status::Failed) => result.regressions.push(change()),
            (Status::Failed, Status::Passed) => result.fixes.push(change()),
            _ => {}
        }
    }
    result.removed = before
        .keys()
        .filter(|id| !after.contains_key(*id))
        .map(|id| (*id).to_owned())
        .collect();
    result
}

/// Reads a JSON report written by `--json`.
pub fn load_report(path: &Path) -> Result<RunReport, HarnessError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| HarnessError::Config(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        HarnessError::Config(format!(
            "{}: not a conformance JSON report: {e}",
            path.display()
        ))
    })
}

/// The diff for people.
pub fn render_diff(diff: &Diff, old: &str, new: &str) -> String {
    let mut text = String::new();
    let mut section = |title: String, lines: Vec<String>| {
        let _ = writeln!(text, "{title}: {}", lines.len());
        for line in lines {
            let _ = writeln!(text, "  {line}");
        }
    };
    let changes = |list: &[Change]| -> Vec<String> {
        list.iter()
            .map(|c| format!("{}: {}", c.id, c.message))
            .collect()
    };
    section(
        format!("regressions (passed in {old}, failed in {new})"),
        changes(&diff.regressions),
    );
    section(
        format!("fixes (failed in {old}, passed in {new})"),
        changes(&diff.fixes),
    );
    section("new checks".to_owned(), diff.added.clone());
    section("removed checks".to_owned(), diff.removed.clone());
    text
}

/// Checks a deployment is known to fail, each with the reason, from a TOML
/// file of `"check.id" = "reason"` lines.
#[derive(Debug, Clone, Default)]
pub struct ExpectedFailures(BTreeMap<String, String>);

impl ExpectedFailures {
    /// Reads the file.
    pub fn load(path: &Path) -> Result<Self, HarnessError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| HarnessError::Config(format!("{}: {e}", path.display())))?;
        let map: BTreeMap<String, String> = toml::from_str(&text).map_err(|e| {
            HarnessError::Config(format!(
                "{}: expected `\"check.id\" = \"reason\"` lines: {}",
                path.display(),
                e.message()
            ))
        })?;
        if let Some((id, _)) = map.iter().find(|(_, reason)| reason.trim().is_empty()) {
            return Err(HarnessError::Config(format!(
                "{}: {id} has no reason; say why it is expected to fail",
                path.display()
            )));
        }
        Ok(Self(map))
    }

    /// Refuses ids that name no check: a list that names checks that no
    /// longer exist has rotted.
    pub fn check_known(&self, known: &BTreeSet<String>) -> Result<(), HarnessError> {
        let unknown: Vec<&String> = self.0.keys().filter(|id| !known.contains(*id)).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(HarnessError::Config(format!(
                "--expected-failures names checks that do not exist: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    /// Marks the listed checks in the report and gates it again.
    pub fn apply(&self, report: &mut RunReport) {
        for check in &mut report.checks {
            check.expected_failure = self.0.get(&check.id).cloned();
        }
        report.regate();
    }
}
