//! Release gating beyond one run: the difference between two reports
//! (`conformance diff`, `run --baseline`) and the deviations a deployment
//! is known to have (`--expected-failures`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

pub use crate::checking::outcome::{Change, Diff};
use crate::checking::outcome::{CheckOutcome, RunReport, Status};
use crate::error::HarnessError;

/// The difference from `old` to `new`. A check that passed and is now
/// skipped or gone is lost: nothing is known of it any more, so it is no
/// fix and no regression, but the gate does not take it silently.
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
            (Status::Passed, Status::Skipped) => result.lost.push(change()),
            _ => {}
        }
    }
    for (id, then) in &before {
        if after.contains_key(id) {
            continue;
        }
        result.removed.push((*id).to_owned());
        if then.status == Status::Passed {
            result.lost.push(Change {
                id: (*id).to_owned(),
                message: "passed in the earlier run, and is gone from this one".to_owned(),
            });
        }
    }
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
    section(
        if diff.skips_allowed {
            format!("lost (passed in {old}, skipped or gone in {new}; accepted by --allow-skips)")
        } else {
            format!("lost (passed in {old}, skipped or gone in {new})")
        },
        changes(&diff.lost),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checking::outcome::TargetInfo;
    use crate::sources::scenario::Level;

    fn report(checks: &[(&str, Status)]) -> RunReport {
        let checks = checks
            .iter()
            .map(|(id, status)| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "level": "core", "rule": "CONTRACT Auth-API: me",
                    "status": status.as_str(), "scenario": "s.toml", "scenario_id": "core.s",
                    "step": "a step", "line": 1, "message": "m", "duration_ms": 0
                }))
                .unwrap()
            })
            .collect();
        let target = TargetInfo {
            auth_url: String::new(),
            chat_url: String::new(),
        };
        RunReport::new(checks, Level::Core, target, 0)
    }

    #[test]
    fn a_check_that_passed_and_is_skipped_or_gone_fails_the_gate_unless_allowed() {
        let before = report(&[
            ("core.a", Status::Passed),
            ("core.b", Status::Passed),
            ("core.c", Status::Passed),
            ("core.d", Status::Skipped),
        ]);
        let mut after = report(&[
            ("core.a", Status::Passed),
            ("core.b", Status::Skipped),
            ("core.d", Status::Passed),
        ]);
        let found = diff(&before, &after);
        let lost: Vec<&str> = found.lost.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(lost, ["core.b", "core.c"]);
        assert!(found.regressions.is_empty() && found.fixes.is_empty());
        after.baseline = Some(found.clone());
        assert_eq!(after.exit_code(), 1);
        let shown = render_diff(&found, "old", "new");
        assert!(
            shown.contains("lost (passed in old, skipped or gone in new): 2"),
            "{shown}"
        );
        after.baseline = Some(Diff {
            skips_allowed: true,
            ..found
        });
        assert_eq!(after.exit_code(), 0);
    }
}
