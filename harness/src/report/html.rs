//! One self-contained HTML file (no network, no external assets): the
//! summary by level and area, every check with its status, its request and
//! response behind a click, and each scenario's observed sequence diagram
//! as inline SVG with the failing hop marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::checking::outcome::{CheckOutcome, RunReport, Status, Summary};
use crate::report::diagram;
use crate::sources::scenario::Level;

const STYLE: &str = r"
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; } td, th { padding: .2rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.passed { color: #17692b; } .failed { color: #b3261e; font-weight: 600; } .skipped { color: #777; }
details.scenario { border: 1px solid #ddd; border-radius: 6px; margin: .5rem 0; padding: .3rem .7rem; }
details.check { margin: .2rem 0 .2rem 1rem; }
pre { background: #f5f5f7; padding: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
svg.sequence text { font: 12px ui-monospace, monospace; }
svg.sequence .party { font-weight: 700; font-size: 13px; }
svg.sequence .lifeline { stroke: #999; stroke-dasharray: 4 3; }
svg.sequence .arrow line { stroke: #333; } svg.sequence .arrow polygon { fill: #333; }
svg.sequence .error line { stroke: #b3261e; } svg.sequence .error polygon, svg.sequence .error text { fill: #b3261e; }
svg.sequence .broke line { stroke: #b3261e; stroke-width: 3; } svg.sequence .broke text { fill: #b3261e; font-weight: 700; }
body.only-failures details.scenario:not(.has-failures) { display: none; }
body.only-failures details.check:not(.failed-check) { display: none; }
";

const SCRIPT: &str = r"
(function () {
  var toggle = document.getElementById('only-failures');
  toggle.addEventListener('change', function () {
    document.body.classList.toggle('only-failures', toggle.checked);
  });
  document.body.setAttribute('data-ready', 'yes');
  // For the render benchmark: time from navigation to here.
  document.body.setAttribute('data-render-ms', String(Math.round(performance.now())));
})();
";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The area a check belongs to: the part of its id after the level
/// (`members` for `core.members.service-token`).
fn area(id: &str) -> &str {
    id.split('.').nth(1).unwrap_or(id)
}

/// The report as one HTML document.
pub fn html(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = if report.exit_code() == 0 {
        "passed"
    } else {
        "failed"
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Conformance report: {verdict}</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>Conformance: <span class=\"{verdict}\" id=\"verdict\">{verdict}</span></h1><p>auth-api {} · chat-api {} · gate: {} · {:.1} s</p>",
        escape(&report.target.auth_url),
        escape(&report.target.chat_url),
        report.gate,
        std::time::Duration::from_millis(report.duration_ms).as_secs_f64()
    );
    let _ = write!(
        out,
        "<p id=\"summary\" data-passed=\"{p}\" data-failed=\"{f}\" data-skipped=\"{s}\" data-gated-failures=\"{g}\"><span class=\"passed\">{p} passed</span> · <span class=\"failed\">{f} failed</span> · <span class=\"skipped\">{s} skipped</span> · {g} gated failure(s)</p>",
        p = report.summary.passed,
        f = report.summary.failed,
        s = report.summary.skipped,
        g = report.gated_failures
    );
    causes(&mut out, report);
    if let Some(line) = report.coverage_line() {
        let _ = write!(
            out,
            "<h2>Not covered</h2><p id=\"coverage\" data-gated-skips=\"{}\">{}</p><table id=\"uncovered\"><tr><th>level</th><th>checks</th><th>why skipped</th></tr>",
            report.gated_skips(),
            escape(&line)
        );
        for u in &report.uncovered {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                u.level,
                u.checks,
                escape(&u.reason)
            );
        }
        out.push_str("</table>");
    }
    summary_table(&mut out, report);
    gating(&mut out, report);
    out.push_str("<h2>Scenarios</h2><label><input type=\"checkbox\" id=\"only-failures\"> only failures</label>");
    for (id, checks) in scenarios(report) {
        scenario(&mut out, id, &checks);
    }
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

/// Each scenario once, with all its checks (they finish interleaved):
/// those with failures first, the most severe first, then the others in
/// the order they were first seen.
fn scenarios(report: &RunReport) -> Vec<(&str, Vec<&CheckOutcome>)> {
    let mut scenarios: Vec<(&str, Vec<&CheckOutcome>)> = Vec::new();
    for check in &report.checks {
        match scenarios
            .iter_mut()
            .find(|(id, _)| *id == check.scenario_id)
        {
            Some((_, checks)) => checks.push(check),
            None => scenarios.push((check.scenario_id.as_str(), vec![check])),
        }
    }
    let worst = |checks: &[&CheckOutcome]| {
        checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| c.level)
            .min()
    };
    // Stable: scenarios without failures (None) keep their order, last.
    scenarios.sort_by_key(|(_, checks)| worst(checks).map_or(Level::ALL.len(), |l| l as usize));
    scenarios
}

/// The causes of the gated failures, first: each broken call (or family)
/// with the failures it explains, its rule and one diagram.
fn causes(out: &mut String, report: &RunReport) {
    let causes = super::causes::causes(report.gating_failures());
    if causes.is_empty() {
        return;
    }
    out.push_str("<h2>Causes</h2><ol id=\"causes\">");
    for cause in &causes {
        let example = cause.example();
        let _ = write!(
            out,
            "<li class=\"cause\" data-checks=\"{}\"><b>{}</b>: {}<br>explains {} failure(s) ({}); rule: {}",
            cause.checks.len(),
            if cause.broken_call {
                "the chain broke at"
            } else {
                "no call failed; family"
            },
            escape(&cause.what),
            cause.checks.len(),
            escape(&cause.by_level()),
            escape(&cause.named_by().rule_and_place())
        );
        if example.hops.len() > 1 {
            let _ = write!(
                out,
                "<details class=\"diagram\" open><summary>{}</summary>{}</details>",
                escape(&example.id),
                diagram::svg_steps(vec![(example.hops.as_slice(), true)])
            );
        }
        if let Some(curl) = &example.curl {
            let _ = write!(out, "<pre>{}</pre>", escape(curl));
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
}

fn summary_table(out: &mut String, report: &RunReport) {
    let mut areas: BTreeMap<&str, [Summary; 3]> = BTreeMap::new();
    for check in &report.checks {
        let level = Level::ALL
            .iter()
            .position(|l| *l == check.level)
            .unwrap_or(0);
        areas.entry(area(&check.id)).or_default()[level].add(check.status);
    }
    out.push_str("<h2>By level and area</h2><table id=\"areas\"><tr><th>area</th>");
    for level in Level::ALL {
        let _ = write!(
            out,
            "<th>{level} passed</th><th>{level} failed</th><th>{level} skipped</th>"
        );
    }
    out.push_str("</tr>");
    for (area, counts) in &areas {
        let cell = |n: usize, class: &str| {
            if n == 0 {
                "<td>·</td>".to_owned()
            } else {
                format!("<td class=\"{class}\">{n}</td>")
            }
        };
        let _ = write!(out, "<tr data-area=\"{a}\"><td>{a}</td>", a = escape(area));
        for summary in counts {
            out.push_str(&cell(summary.passed, "passed"));
            out.push_str(&cell(summary.failed, "failed"));
            out.push_str(&cell(summary.skipped, "skipped"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn gating(out: &mut String, report: &RunReport) {
    if !report.unexpected_passes.is_empty() {
        out.push_str("<h2>Expected failures that passed</h2><ul>");
        for id in &report.unexpected_passes {
            let _ = write!(
                out,
                "<li class=\"failed\">{}: take it off the list</li>",
                escape(id)
            );
        }
        out.push_str("</ul>");
    }
    if let Some(diff) = &report.baseline {
        let _ = write!(
            out,
            "<h2>Against the baseline</h2><pre id=\"baseline\">{}</pre>",
            escape(&crate::checking::gate::render_diff(
                diff,
                "the baseline",
                "this run"
            ))
        );
    }
}

fn scenario(out: &mut String, id: &str, checks: &[&CheckOutcome]) {
    let mut counts = Summary::default();
    for check in checks {
        counts.add(check.status);
    }
    let failed = counts.failed > 0;
    let source = checks.first().map_or("", |c| c.scenario.as_str());
    let _ = write!(
        out,
        "<details class=\"scenario{}\" id=\"scenario-{}\"{}><summary><b>{}</b> <span class=\"passed\">{} passed</span> · <span class=\"failed\">{} failed</span> · <span class=\"skipped\">{} skipped</span> <small>{}</small></summary>",
        if failed { " has-failures" } else { "" },
        escape(id),
        if failed { " open" } else { "" },
        escape(id),
        counts.passed,
        counts.failed,
        counts.skipped,
        escape(source)
    );
    let steps: Vec<(&[crate::run::hop::Hop], bool)> = checks
        .iter()
        .filter(|c| !c.hops.is_empty())
        .map(|c| (c.hops.as_slice(), c.status == Status::Failed))
        .collect();
    if steps.iter().any(|(hops, _)| hops.len() > 1) {
        let _ = write!(
            out,
            "<details class=\"diagram\"{}><summary>observed calls</summary>{}</details>",
            if failed { " open" } else { "" },
            diagram::svg_steps(steps)
        );
    }
    for check in checks {
        check_details(out, check);
    }
    out.push_str("</details>");
}

fn check_details(out: &mut String, check: &CheckOutcome) {
    let word = check.status.as_str();
    let mark = match check.status {
        Status::Passed => "✓",
        Status::Failed => "✗",
        Status::Skipped => "–",
    };
    let _ = write!(
        out,
        "<details class=\"check{}\" data-check=\"{}\" data-status=\"{word}\"><summary><span class=\"{word}\">{mark} {word}</span> <code>{}</code> [{}] {}</summary>",
        if check.status == Status::Failed {
            " failed-check"
        } else {
            ""
        },
        escape(&check.id),
        escape(&check.id),
        check.level,
        escape(&check.step)
    );
    let location = if check.line == 0 {
        check.scenario.clone()
    } else {
        format!("{}:{}", check.scenario, check.line)
    };
    let _ = write!(
        out,
        "<p>{} · {} · {} ms</p><p class=\"rule\">rule: {}</p>",
        escape(&location),
        escape(&check.message),
        check.duration_ms,
        escape(&check.rule_and_place())
    );
    if let Some(reason) = &check.expected_failure {
        let _ = write!(out, "<p>expected to fail: {}</p>", escape(reason));
    }
    for (label, value) in [
        ("expected", &check.expected),
        ("actual", &check.actual),
        ("request", &check.request),
        ("response", &check.response),
        ("reproduce", &check.curl),
    ] {
        if let Some(value) = value {
            let _ = write!(out, "<p>{label}:</p><pre>{}</pre>", escape(value));
        }
    }
    out.push_str("</details>");
}

/// Writes the HTML report.
pub fn write_html(report: &RunReport, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, html(report))
}
