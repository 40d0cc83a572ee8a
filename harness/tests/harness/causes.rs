//! Reports lead with causes: the failures a fault makes are grouped by the
//! call where their chain broke, the seed's bug first.

use conformance::Status;
use conformance::report::causes::causes;

use crate::faults;
use crate::helpers::run_with_faults;

const SEED_CALL: &str =
    "auth-api GET /api/auth/groups/{id}/members with a service token → 401 invalid_token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_bug_is_the_first_cause_of_every_report() {
    let report = run_with_faults(Some(faults::seed_bug()), None).await;
    let failed = report.checks.iter().filter(|c| c.status == Status::Failed);
    let causes = causes(failed);
    assert_eq!(causes[0].what, SEED_CALL);
    let explained: Vec<&str> = causes[0].checks.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "core.seed.members-with-service-token",
        "core.members.service-token",
        "core.seed.send",
        "core.chat.send.member",
    ] {
        assert!(explained.contains(&id), "{id} not in {explained:?}");
    }
    // The terminal (and `assert_passed`'s message) opens with it, and shows
    // its diagram once.
    let text = conformance::report::summary_line(&report);
    let first_cause = text.find("1. the chain broke at: ").expect("a cause");
    assert!(first_cause < text.find("\nFAILED ").unwrap(), "{text}");
    assert!(text[first_cause..].starts_with(&format!("1. the chain broke at: {SEED_CALL}")));
    assert_eq!(
        text.matches("✗ broke here").count(),
        causes
            .iter()
            .filter(|c| c.example().diagram.is_some())
            .count(),
        "{text}"
    );
    // The Markdown summary too (its cells escape `_`): the first cause,
    // before the table of failed checks.
    let markdown = conformance::report::markdown(&report);
    let cause = markdown
        .find("| 1 | auth-api GET /api/auth/groups/{id}/members with a service token → 401 invalid\\_token |")
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(
        cause < markdown.find("### Failed checks").unwrap(),
        "{markdown}"
    );
    // The HTML report: the causes before everything else, then failing
    // scenarios before passing ones, each scenario once.
    let html = conformance::report::html(&report);
    let causes_at = html.find("<ol id=\"causes\">").expect("the causes");
    assert!(html[causes_at..].contains(&format!(
        "the chain broke at</b>: {}",
        SEED_CALL.replace('>', "&gt;")
    )));
    assert!(causes_at < html.find("id=\"areas\"").unwrap());
    let ids: Vec<&str> = html
        .split("<details class=\"scenario")
        .skip(1)
        .map(|d| {
            d.split("id=\"scenario-")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a scenario listed twice: {ids:?}");
    let failing: Vec<bool> = html
        .split("<details class=\"scenario")
        .skip(1)
        .map(|d| d.starts_with(" has-failures"))
        .collect();
    let first_passing = failing.iter().position(|f| !f).unwrap();
    assert!(failing[first_passing..].iter().all(|f| !f), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_unrelated_faults_are_two_causes() {
    let report = run_with_faults(
        Some(faults::seed_bug()),
        Some(faults::upstream_failure_is_500()),
    )
    .await;
    let failed = report.checks.iter().filter(|c| c.status == Status::Failed);
    let causes = causes(failed);
    let of = |id: &str| {
        causes
            .iter()
            .position(|c| c.checks.iter().any(|o| o.id == id))
            .unwrap_or_else(|| panic!("no cause explains {id}"))
    };
    assert_eq!(causes[of("core.seed.send")].what, SEED_CALL);
    assert_ne!(of("core.seed.send"), of("core.chat.upstream.failure"));
}

/// Every report names where the contract states a failed check's rule
/// (`docs/contract.md#anchor`), as the terminal does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_links_a_failed_rule_to_its_place() {
    let report = run_with_faults(Some(faults::seed_bug()), None).await;
    let members = crate::helpers::outcome(&report, "core.members.service-token");
    let place = "docs/contract.md#auth-api-read-members";
    assert_eq!(members.rule_place.as_deref(), Some(place), "{members:?}");
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains(&format!("\"rule_place\":\"{place}\"")));
    let junit = conformance::report::junit_xml(&report);
    assert!(junit.contains(&format!(
        "<property name=\"rule_place\" value=\"{place}\"/>"
    )));
    let markdown = conformance::report::markdown(&report);
    assert!(markdown.contains(&format!("({place})")), "{markdown}");
    let html = conformance::report::html(&report);
    assert!(html.contains(&format!("({place})")));
    let text = conformance::report::summary_line(&report);
    assert!(text.contains(&format!("({place})")), "{text}");
}
