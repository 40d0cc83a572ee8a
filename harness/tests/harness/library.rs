//! The library as a team's own test uses it: `Harness` against a target,
//! `assert_passed`, and the Markdown summary a CI job posts.

use conformance::{CheckOutcome, Harness, Level, ReferenceStack, StackOptions, Status};

/// Where a report places a check: `file:line`, or for a generated check
/// (line 0) its source.
fn place(check: &CheckOutcome) -> String {
    if check.line == 0 {
        check.scenario.clone()
    } else {
        format!("{}:{}", check.scenario, check.line)
    }
}

/// The seed's bug, run through the library at `core`: the report fails,
/// its assertion message is the terminal rendering of each failure, and
/// the Markdown summary names each failed check's rule, place and the hop
/// where the chain broke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_fails_on_the_seed_bug_and_says_where_the_chain_broke() {
    let stack = ReferenceStack::start(StackOptions {
        auth_fault: Some(crate::faults::seed_bug()),
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let report = Harness::new(stack.target.clone())
        .level(Level::Core)
        .tag("service-token")
        .tag("chat")
        .run()
        .await
        .unwrap();
    assert!(!report.passed());
    assert!(report.gated_failures > 0);

    let panic =
        std::panic::catch_unwind(|| report.assert_passed()).expect_err("assert_passed panics");
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted message")
        .clone();
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    // The message opens with the causes; every gated failure follows in
    // full, the failures that do not gate are named after the verdict.
    assert!(
        message.contains("\nCAUSES of the ") && message.contains("1. the chain broke at: "),
        "{message}"
    );
    for check in &failed {
        if check.level > report.gate {
            assert!(
                message.contains(&format!("\n  {}\n", check.id)),
                "{message}"
            );
            continue;
        }
        assert!(
            message.contains(&format!("FAILED {}", check.id)),
            "{message}"
        );
        assert!(message.contains(&place(check)), "{message}");
        assert!(
            message.contains(&format!("rule:     {}", check.rule)),
            "{message}"
        );
    }
    assert!(
        message.contains("expected: ") && message.contains("actual:   "),
        "{message}"
    );
    assert!(message.contains("reproduce: curl "), "{message}");

    let markdown = conformance::report::markdown(&report);
    assert!(
        markdown.starts_with("## Conformance: ❌ failed"),
        "{markdown}"
    );
    for level in report.by_level.keys() {
        assert!(markdown.contains(&format!("\n| {level}")), "{markdown}");
    }
    for check in &failed {
        let row = markdown
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", check.id)))
            .unwrap_or_else(|| panic!("no row for {}: {markdown}", check.id));
        assert!(row.contains(&check.rule.replace('_', "\\_")), "{row}");
        assert!(row.contains(&place(check).replace('_', "\\_")), "{row}");
    }
    assert!(
        markdown.contains("chat-api → auth-api: GET /api/auth/groups/")
            && markdown.contains("/members (service token) answered 401 invalid\\_token"),
        "the broken hop: {markdown}"
    );
}

/// A passing run's summary: the verdict, and counts by level that add up
/// to the report's, the levels above the gate marked; and the default
/// gates (`Target::default_gate`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_run_passes_its_assertion_and_says_so_in_markdown() {
    let stack = ReferenceStack::start(StackOptions::default())
        .await
        .unwrap();
    // The default gate: reference for the stack the harness started, core
    // for a deployment.
    assert_eq!(
        Harness::new(stack.target.clone()).options().gate,
        Level::Reference
    );
    let deployment = conformance::Target::at(&stack.target.auth_url, &stack.target.chat_url);
    assert_eq!(Harness::new(deployment).options().gate, Level::Core);
    let report = Harness::new(stack.target.clone())
        .level(Level::Core)
        .tag("service-token")
        .run()
        .await
        .unwrap();
    report.assert_passed();
    let markdown = conformance::report::markdown(&report);
    assert!(
        markdown.starts_with("## Conformance: ✅ passed"),
        "{markdown}"
    );
    assert!(!markdown.contains("Failed checks"), "{markdown}");
    for (level, summary) in &report.by_level {
        let row = format!(
            "| {level}{} | {} | 0 | {} |",
            if *level <= report.gate {
                ""
            } else {
                " (not gated)"
            },
            summary.passed,
            summary.skipped
        );
        assert!(markdown.contains(&row), "{row} in {markdown}");
    }
}
