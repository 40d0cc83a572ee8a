use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;

use crate::checking::outcome::{CheckOutcome, RunReport, Status};
use crate::sources::scenario::Level;

/// Progress while checks finish: a line that rewrites itself on a
/// terminal, one plain line per check otherwise (CI logs).
pub struct Progress {
    terminal: bool,
    total: usize,
    state: Mutex<(usize, usize)>,
}

impl Progress {
    /// Progress over `total` checks, on standard error.
    pub fn new(total: usize) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            total,
            state: Mutex::new((0, 0)),
        }
    }

    /// Records one finished check.
    pub fn check_done(&self, outcome: &CheckOutcome) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += 1;
        if outcome.status == Status::Failed {
            state.1 += 1;
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let width = 30;
            let filled = (state.0 * width).checked_div(self.total).unwrap_or(width);
            let _ = write!(
                err,
                "\r[{}{}] {}/{} checks, {} failed  ",
                "#".repeat(filled),
                " ".repeat(width - filled.min(width)),
                state.0,
                self.total,
                state.1
            );
            if state.0 == self.total {
                let _ = writeln!(err);
            }
        } else {
            let mark = match outcome.status {
                Status::Passed => "pass",
                Status::Failed => "FAIL",
                Status::Skipped => "skip",
            };
            let _ = writeln!(err, "{mark} {} ({})", outcome.id, outcome.level);
        }
    }
}

/// Everything needed to understand and reproduce a failed check.
pub fn failure_details(check: &CheckOutcome) -> String {
    details(check, None)
}

/// A failure's details; its diagram left out when cause `cause` (0-based)
/// shows the same broken call.
fn details(check: &CheckOutcome, cause: Option<usize>) -> String {
    let mut text = String::new();
    // Line 0: a generated check (the properties), not a step of a file;
    // its message holds the shrunk input and the seed.
    let generated = check.line == 0;
    if generated {
        let _ = writeln!(text, "{}: \"{}\"", check.scenario, check.step);
    } else {
        let _ = writeln!(
            text,
            "{}:{}: step \"{}\"",
            check.scenario, check.line, check.step
        );
    }
    if !check.rule.is_empty() {
        // Where the contract states it, in the project's own words.
        let place = crate::checking::rules::anchor(&check.rule)
            .map_or_else(String::new, |a| format!(" (docs/contract.md#{a})"));
        let _ = writeln!(text, "  rule:     {}{place}", check.rule);
    }
    if let (Some(expected), Some(actual)) = (&check.expected, &check.actual) {
        if generated {
            let _ = writeln!(text, "  {}", check.message);
        }
        let _ = writeln!(text, "  expected: {expected}");
        let _ = writeln!(text, "  actual:   {actual}");
    } else {
        let _ = writeln!(text, "  {}", check.message);
    }
    if let Some(request) = &check.request {
        let _ = writeln!(text, "  request:  {request}");
    }
    if let Some(response) = &check.response {
        let mut lines = response.lines();
        let _ = writeln!(text, "  response: {}", lines.next().unwrap_or_default());
        for line in lines {
            let _ = writeln!(text, "            {line}");
        }
    }
    if let Some(curl) = &check.curl {
        let _ = writeln!(text, "  reproduce: {curl}");
    }
    if let (Some(_), Some(n)) = (&check.diagram, cause) {
        let _ = writeln!(text, "  observed: the chain broke as in cause {}", n + 1);
    } else if let Some(diagram) = &check.diagram {
        let _ = writeln!(text, "  observed:");
        for line in diagram.lines() {
            let _ = writeln!(text, "    {line}");
        }
    }
    text
}

/// The closing lines: the causes of the gated failures, each gated
/// failure, then the verdict and what it did not cover; the failures
/// that do not gate only counted (see [`summary_all`]).
pub fn summary_line(report: &RunReport) -> String {
    summary(report, false)
}

/// As [`summary_line`], with the failures that do not gate in full too
/// (`run --all-failures`).
pub fn summary_all(report: &RunReport) -> String {
    summary(report, true)
}

fn summary(report: &RunReport, all: bool) -> String {
    let mut text = String::new();
    let mut failed: Vec<&CheckOutcome> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    // Core before strict before reference.
    failed.sort_by_key(|c| c.level);
    let (gating, other): (Vec<&CheckOutcome>, Vec<&CheckOutcome>) =
        failed.into_iter().partition(|c| report.gates(c));
    let causes = super::causes::causes(gating.iter().copied());
    text.push_str(&causes_text(&causes, gating.len()));
    for check in &gating {
        let _ = writeln!(text, "\nFAILED {} [{}]", check.id, check.level);
        let cause = causes
            .iter()
            .position(|c| c.checks.iter().any(|o| o.id == check.id));
        text.push_str(&details(check, cause));
    }
    for id in &report.unexpected_passes {
        let _ = writeln!(
            text,
            "\nPASSED {id}, listed as an expected failure: take it off the list"
        );
    }
    if let Some(diff) = &report.baseline {
        let _ = write!(
            text,
            "\n{}",
            crate::checking::gate::render_diff(diff, "the baseline", "this run")
        );
    }
    let _ = writeln!(
        text,
        "\nconformance: {} passed, {} failed, {} skipped in {:.1} s (gate: {}; {} gated failure(s))",
        report.summary.passed,
        report.summary.failed,
        report.summary.skipped,
        std::time::Duration::from_millis(report.duration_ms).as_secs_f64(),
        report.gate,
        report.gated_failures
    );
    let levels: Vec<String> = report
        .by_level
        .iter()
        .map(|(level, s)| {
            format!(
                "{level} {} passed, {} failed, {} skipped",
                s.passed, s.failed, s.skipped
            )
        })
        .collect();
    let _ = writeln!(text, "by level: {}", levels.join("; "));
    if let Some(line) = report.coverage_line() {
        let _ = writeln!(text, "{line}");
        for uncovered in &report.uncovered {
            let _ = writeln!(text, "  {}", uncovered.line());
        }
    }
    text.push_str(&ungated_text(&other, report.gate, all));
    let _ = writeln!(
        text,
        "{} passed, {} failed, {} skipped",
        report.summary.passed, report.summary.failed, report.summary.skipped
    );
    text
}

/// The causes, first: each broken call (or family) with the number of
/// failures it explains, its rule, one diagram and the line that
/// reproduces it.
fn causes_text(causes: &[super::causes::Cause<'_>], failures: usize) -> String {
    let mut text = String::new();
    if causes.is_empty() {
        return text;
    }
    let _ = writeln!(
        text,
        "\nCAUSES of the {failures} gated failure(s), most severe first:"
    );
    for (n, cause) in causes.iter().enumerate() {
        let example = cause.example();
        let kind = if cause.broken_call {
            "the chain broke at"
        } else {
            "no call failed; family"
        };
        let _ = writeln!(text, "\n{}. {kind}: {}", n + 1, cause.what);
        let _ = writeln!(
            text,
            "   explains {} failure(s) ({})",
            cause.checks.len(),
            cause.by_level()
        );
        let rule = &cause.named_by().rule;
        if !rule.is_empty() {
            let place = crate::checking::rules::anchor(rule)
                .map_or_else(String::new, |a| format!(" (docs/contract.md#{a})"));
            let _ = writeln!(text, "   rule: {rule}{place}");
        }
        let _ = writeln!(
            text,
            "   e.g. {}: {}",
            example.id,
            example.actual.as_deref().unwrap_or(&example.message)
        );
        if let Some(curl) = &example.curl {
            let _ = writeln!(text, "   reproduce: {curl}");
        }
        if let Some(diagram) = &example.diagram {
            for line in diagram.lines() {
                let _ = writeln!(text, "     {line}");
            }
        }
        let others: Vec<&str> = cause
            .checks
            .iter()
            .filter(|c| c.id != example.id)
            .map(|c| c.id.as_str())
            .collect();
        if !others.is_empty() {
            let shown = others.len().min(8);
            let more = others.len() - shown;
            let _ = write!(text, "   also: {}", others[..shown].join(", "));
            if more > 0 {
                let _ = write!(text, " and {more} more");
            }
            let _ = writeln!(text);
        }
    }
    text
}

/// The failures that do not gate this run (above its gate, or expected):
/// counted by level, in full only when asked.
fn ungated_text(other: &[&CheckOutcome], gate: Level, all: bool) -> String {
    let mut text = String::new();
    if other.is_empty() {
        return text;
    }
    let mut counts: std::collections::BTreeMap<Level, usize> = std::collections::BTreeMap::new();
    for check in other {
        *counts.entry(check.level).or_default() += 1;
    }
    let counted: Vec<String> = counts.iter().map(|(l, n)| format!("{l} {n}")).collect();
    let _ = writeln!(
        text,
        "not gated (gate: {gate}): {} failure(s) ({}){}",
        other.len(),
        counted.join(", "),
        if all {
            ""
        } else {
            "; --all-failures shows them"
        }
    );
    for check in other {
        match (&check.expected_failure, all) {
            (Some(reason), _) => {
                let _ = writeln!(text, "  {} (expected: {reason})", check.id);
            }
            (None, false) => {
                let _ = writeln!(text, "  {}", check.id);
            }
            (None, true) => {
                let _ = writeln!(text, "\nFAILED {} [{}] (not gated)", check.id, check.level);
                text.push_str(&failure_details(check));
            }
        }
    }
    text
}

/// `conformance rules`: each rule with the checks that enforce it, by
/// level; a contract rule clause by clause, each clause with its anchor
/// and its checks; then the rules and clauses left without a check.
pub fn rules_matrix(checks: &std::collections::BTreeSet<(String, Level, String)>) -> String {
    let rows = crate::checking::rules::matrix(
        checks
            .iter()
            .map(|(id, level, rule)| (id.as_str(), *level, rule.as_str())),
    );
    let mut text = String::new();
    let mut unchecked = Vec::new();
    let mut bare_clauses = Vec::new();
    for (rule, by_rule) in &rows {
        let contract = crate::checking::rules::CONTRACT
            .iter()
            .find(|r| r.name == rule);
        if by_rule.is_empty() {
            unchecked.push(rule.as_str());
        }
        let Some(contract) = contract else {
            let _ = writeln!(text, "{rule}  ({} checks)", by_rule.len());
            for (id, level) in by_rule {
                let _ = writeln!(text, "    {level:9} {id}");
            }
            continue;
        };
        let _ = writeln!(text, "{rule}  ({} checks)", by_rule.len());
        let _ = writeln!(text, "  {}", contract.text);
        if let Some(anchor) = crate::checking::rules::anchor(rule) {
            let _ = writeln!(text, "  docs/contract.md#{anchor}");
        }
        for clause in crate::checking::clauses::of_rule(rule) {
            let _ = writeln!(text, "  · {}  (#{})", clause.text, clause.id);
            let mut any = false;
            for pattern in &clause.checks {
                let matched: Vec<&(String, Level, String)> = checks
                    .iter()
                    .filter(|(id, _, _)| crate::checking::clauses::matches(pattern, id))
                    .collect();
                match matched.as_slice() {
                    [] => {}
                    [(id, level, _)] => {
                        let _ = writeln!(text, "      {level:9} {id}");
                    }
                    many => {
                        let _ = writeln!(
                            text,
                            "      {:9} {pattern}  ({} checks)",
                            many[0].1,
                            many.len()
                        );
                    }
                }
                any |= !matched.is_empty();
            }
            if !any {
                bare_clauses.push(clause.id.as_str());
                let _ = writeln!(text, "      (no check)");
            }
        }
    }
    let rules = crate::checking::rules::CONTRACT.len();
    let clauses = crate::checking::clauses::all().len();
    if unchecked.is_empty() && bare_clauses.is_empty() {
        let _ = writeln!(
            text,
            "\nevery one of the {rules} rules and {clauses} clauses of the contract has a check"
        );
        return text;
    }
    let _ = writeln!(
        text,
        "\n{} of {rules} rules and {} of {clauses} clauses of the contract have a check; without one:",
        rules - unchecked.len(),
        clauses - bare_clauses.len(),
    );
    for rule in &unchecked {
        let _ = writeln!(text, "  {rule}");
    }
    for clause in &bare_clauses {
        let _ = writeln!(text, "  docs/contract.md#{clause}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_matrix_lists_the_rules_left_without_a_check() {
        let checks = [(
            "core.chat.send.sender-mismatch".to_owned(),
            Level::Core,
            "CONTRACT Chat-API step 2".to_owned(),
        )]
        .into_iter()
        .collect();
        let text = rules_matrix(&checks);
        let (checked, unchecked) = text.split_once("without one:").expect("a list");
        assert!(
            checked.contains("CONTRACT Chat-API step 2  (1 checks)"),
            "{text}"
        );
        assert!(checked.contains(&format!(
            "1 of {} rules",
            crate::checking::rules::CONTRACT.len()
        )));
        assert!(unchecked.contains("  CONTRACT Chat-API step 3\n"), "{text}");
        assert!(!unchecked.contains("CONTRACT Chat-API step 2\n"), "{text}");
        // Clause by clause: the sender clause has its check, the content
        // clause none.
        assert!(
            checked.contains("(#step-2-sender)\n      core      core.chat.send.sender-mismatch\n"),
            "{text}"
        );
        assert!(
            unchecked.contains("docs/contract.md#step-3-content\n"),
            "{text}"
        );
        assert!(!unchecked.contains("#step-2-sender\n"), "{text}");
    }
}
