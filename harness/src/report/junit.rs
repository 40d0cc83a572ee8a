use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::checking::outcome::{CheckOutcome, RunReport, Status};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The report as JUnit XML: one test suite per scenario, one test case per
/// check, named by the check's id, with the scenario as its class name and
/// the scenario's file and the step's line (CI tools link them).
pub fn junit_xml(report: &RunReport) -> String {
    let mut suites: BTreeMap<&str, Vec<&CheckOutcome>> = BTreeMap::new();
    for check in &report.checks {
        suites
            .entry(check.scenario.as_str())
            .or_default()
            .push(check);
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
        report.checks.len(),
        report.summary.failed,
        report.summary.skipped,
        seconds(report.duration_ms)
    );

    for (file, checks) in suites {
        let failures = checks.iter().filter(|c| c.status == Status::Failed).count();
        let skipped = checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count();
        let time: u64 = checks.iter().map(|c| c.duration_ms).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{}\">",
            escape(&checks[0].scenario_id),
            checks.len(),
            seconds(time)
        );
        for check in checks {
            write_case(&mut xml, file, check);
        }
        xml.push_str("  </testsuite>\n");
    }
    // What the verdict did not cover: a suite of no test whose properties
    // say it, per level and reason (each skipped check is also a skipped
    // test case above).
    if let Some(line) = report.coverage_line() {
        let _ = write!(
            xml,
            "  <testsuite name=\"conformance.coverage\" tests=\"0\" failures=\"0\" skipped=\"0\" time=\"0\">\n    <properties><property name=\"not covered\" value=\"{}\"/>",
            escape(&line)
        );
        for u in &report.uncovered {
            let _ = write!(
                xml,
                "<property name=\"{}\" value=\"{}\"/>",
                u.level,
                escape(&u.line())
            );
        }
        xml.push_str("</properties>\n  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// One check as a test case: passed, skipped with its reason, or failed
/// with its details.
fn write_case(xml: &mut String, file: &str, check: &CheckOutcome) {
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\" time=\"{}\">\n      <properties><property name=\"level\" value=\"{}\"/><property name=\"rule\" value=\"{}\"/>{}</properties>",
        escape(&check.scenario_id),
        escape(&check.id),
        escape(file),
        check.line,
        seconds(check.duration_ms),
        check.level,
        escape(&check.rule),
        check
            .rule_place
            .as_ref()
            .map_or_else(String::new, |place| format!(
                "<property name=\"rule_place\" value=\"{}\"/>",
                escape(place)
            ))
    );
    match check.status {
        Status::Passed => xml.push_str("\n    </testcase>\n"),
        Status::Skipped => {
            let _ = write!(
                xml,
                "\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(&check.message)
            );
        }
        Status::Failed => {
            let _ = write!(
                xml,
                "\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                escape(&check.message),
                escape(&check.rule),
                escape(&super::failure_details(check))
            );
        }
    }
}

/// Writes the JUnit XML report.
pub fn write_junit(report: &RunReport, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, junit_xml(report))
}
