//! A short Markdown summary of a run, for a CI job summary or a
//! merge-request comment: the verdict, counts by level, and each failed
//! check with its rule, its place and the hop where the chain broke. The
//! full detail stays in the other reports.

use std::fmt::Write as _;
use std::path::Path;

use crate::checking::outcome::{RunReport, Status};

/// Characters of a Markdown table cell that would break the table or the
/// formatting, escaped; line breaks become spaces.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '`' | '*' | '_' | '<' | '>' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The summary.
pub fn markdown(report: &RunReport) -> String {
    let mut text = String::new();
    let verdict = if report.passed() {
        "✅ passed"
    } else {
        "❌ failed"
    };
    let _ = writeln!(text, "## Conformance: {verdict}\n");
    let _ = writeln!(
        text,
        "{} passed, {} failed, {} skipped in {:.1} s against {} and {}; gate `{}`, {} gated failure(s).\n",
        report.summary.passed,
        report.summary.failed,
        report.summary.skipped,
        std::time::Duration::from_millis(report.duration_ms).as_secs_f64(),
        cell(&report.target.auth_url),
        cell(&report.target.chat_url),
        report.gate,
        report.gated_failures
    );
    causes_table(&mut text, report);
    levels_table(&mut text, report);
    failed_table(&mut text, report);
    baseline(&mut text, report);
    text
}

/// The causes of the gating failures, first.
fn causes_table(text: &mut String, report: &RunReport) {
    let causes = super::causes::causes(report.gating_failures());
    if causes.is_empty() {
        return;
    }
    {
        text.push_str(
            "### Causes

| # | Where it broke | Explains | Rule | Reproduce |\n|---:|---|---|---|---|\n",
        );
        for (n, cause) in causes.iter().enumerate() {
            let what = if cause.broken_call {
                cause.what.clone()
            } else {
                format!("no call failed: {}", cause.what)
            };
            let reproduce = cause
                .example()
                .curl
                .as_deref()
                .map_or_else(String::new, |c| format!("`{}`", c.replace('`', "'")));
            let _ = writeln!(
                text,
                "| {} | {} | {} failure(s): {} | {} | {} |",
                n + 1,
                cell(&what),
                cause.checks.len(),
                cause.by_level(),
                cell(&cause.named_by().rule_and_place()),
                reproduce
            );
        }
        text.push('\n');
    }
}

/// Counts by level, and what the verdict did not cover.
fn levels_table(text: &mut String, report: &RunReport) {
    text.push_str("| Level | Passed | Failed | Skipped |\n|---|---:|---:|---:|\n");
    for (level, summary) in &report.by_level {
        let gated = if *level <= report.gate {
            ""
        } else {
            " (not gated)"
        };
        let _ = writeln!(
            text,
            "| {level}{gated} | {} | {} | {} |",
            summary.passed, summary.failed, summary.skipped
        );
    }
    if let Some(line) = report.coverage_line() {
        let _ = writeln!(
            text,
            "\n### Not covered\n\n{}\n\n| Level | Checks | Why skipped |\n|---|---:|---|",
            cell(&line)
        );
        for u in &report.uncovered {
            let _ = writeln!(text, "| {} | {} | {} |", u.level, u.checks, cell(&u.reason));
        }
    }
}

/// Every failed check: what gates before what does not, core first.
fn failed_table(text: &mut String, report: &RunReport) {
    let mut failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    // Core before strict before reference; what gates before what does not.
    failed.sort_by_key(|c| (!report.gates(c), c.level));
    if !failed.is_empty() {
        text.push_str("\n### Failed checks\n\n| Check | Level | Rule | Scenario | Where it broke |\n|---|---|---|---|---|\n");
        for check in failed {
            let mut level = check.level.to_string();
            if check.expected_failure.is_some() {
                level.push_str(" (expected)");
            } else if check.level > report.gate {
                level.push_str(" (not gated)");
            }
            let place = if check.line == 0 {
                check.scenario.clone()
            } else {
                format!("{}:{}", check.scenario, check.line)
            };
            let broke =
                super::diagram::broken_hop(&check.hops).unwrap_or_else(|| check.message.clone());
            let _ = writeln!(
                text,
                "| `{}` | {level} | {} | {} | {} |",
                check.id.replace('`', "'"),
                cell(&check.rule_and_place()),
                cell(&place),
                cell(&broke)
            );
        }
    }
}

/// Expected failures that passed, and the comparison with the baseline.
fn baseline(text: &mut String, report: &RunReport) {
    for id in &report.unexpected_passes {
        let _ = writeln!(
            text,
            "\n`{}` passed but is listed as an expected failure: take it off the list.",
            id.replace('`', "'")
        );
    }
    if let Some(diff) = &report.baseline {
        let ids = |changes: &[crate::checking::outcome::Change]| {
            changes
                .iter()
                .map(|c| format!("`{}`", c.id.replace('`', "'")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if diff.regressions.is_empty() && diff.lost.is_empty() {
            text.push_str("\nNo regression against the baseline.\n");
        }
        if !diff.regressions.is_empty() {
            let _ = writeln!(
                text,
                "\nPassed in the baseline, failed now: {}.",
                ids(&diff.regressions)
            );
        }
        if !diff.lost.is_empty() {
            let allowed = if diff.skips_allowed { " (allowed)" } else { "" };
            let _ = writeln!(
                text,
                "\nPassed in the baseline, skipped or gone now{allowed}: {}.",
                ids(&diff.lost)
            );
        }
    }
}

/// Writes the Markdown summary.
pub fn write_markdown(report: &RunReport, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, markdown(report))
}
