//! The reference's normalised answers, one insta snapshot per scenario in
//! `scenarios/snapshots/`: a change to what the reference answers fails
//! here until it is reviewed (`cargo insta review`) or rewritten
//! (`conformance run --update-snapshots`). The harness holds any other
//! target against the same files.

use conformance::snapshot;
use conformance::{RunOptions, SnapshotMode, StackOptions, Status, StoreChoice};

use crate::faults;
use crate::helpers::{self, run_selected};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_references_answers_match_the_committed_snapshots() {
    let dir = std::env::temp_dir().join(format!("snapshots-{}", uuid::Uuid::new_v4().simple()));
    let report = run_selected(
        StackOptions {
            store: Some(StoreChoice::Embedded),
            ..StackOptions::default()
        },
        RunOptions {
            snapshots: SnapshotMode::Write(dir.clone()),
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(report.exit_code(), 0, "{:?}", helpers::failed(&report));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshot::bundled_dir().canonicalize().unwrap());
    settings.set_prepend_module_to_snapshot(false);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "a snapshot per scenario: {names:?}");
    for path in names {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let taken = snapshot::read(&path).unwrap();
        let text = snapshot::contents(&taken);
        assert!(!text.contains("eyJ"), "a JWT in {name}");
        assert!(!text.contains("pw-"), "a password in {name}");
        settings.bind(|| insta::assert_snapshot!(name, text));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_dropped_added_and_retyped_fields_and_claims_are_named_by_path() {
    let report = crate::helpers::run_with_faults(Some(faults::reshaped_answers()), None).await;
    let members = helpers::outcome(&report, "core.snapshot.members");
    assert_eq!(members.status, Status::Failed, "{members:?}");
    let diff = members.actual.as_deref().unwrap();
    // `role` dropped, `joined_at` renamed: core (the contract names them).
    assert!(
        diff.contains("/body/members/0/role\n    expected: \"<string>\"\n    actual:   (absent)"),
        "{diff}"
    );
    assert!(diff.contains("/body/members/0/joined_at"), "{diff}");
    let reference = helpers::outcome(&report, "reference.snapshot.members");
    let diff = reference.actual.as_deref().unwrap();
    // An added field (a leaked hash) and the renamed one: the reference level.
    assert!(
        diff.contains("/body/members/0/password_hash\n    expected: (absent)"),
        "{diff}"
    );
    assert!(diff.contains("/body/members/0/joinedAt"), "{diff}");

    // A type change: `expires_in` as a string.
    let login = helpers::outcome(&report, "core.snapshot.seed");
    let diff = login.actual.as_deref().unwrap();
    assert!(
        diff.contains("/body/expires_in\n    expected: 900\n    actual:   \"900\""),
        "{diff}"
    );

    // A token with an extra claim and one missing.
    let seed = helpers::outcome(&report, "reference.snapshot.seed");
    let diff = seed.actual.as_deref().unwrap();
    assert!(
        diff.contains("/body/access_token/<jwt>/claims/admin\n    expected: (absent)"),
        "{diff}"
    );
    assert!(diff.contains("/body/access_token/<jwt>/claims/nbf\n    expected: \"<redacted>\"\n    actual:   (absent)"), "{diff}");

    // A list the contract names, emptied: a contract difference, which no
    // step of the discovery scenario asserts on its own.
    let discovery = helpers::outcome(&report, "core.snapshot.discovery");
    let diff = discovery.actual.as_deref().unwrap_or_default();
    assert!(
        diff.contains("/body/scopes_supported\n    expected: [\"groups:read\"]\n    actual:   []"),
        "{discovery:?}"
    );
    assert_eq!(
        helpers::outcome(&report, "core.discovery.metadata").status,
        Status::Passed
    );

    // What the layer left alone still matches.
    assert_eq!(
        helpers::outcome(&report, "reference.snapshot.www-authenticate").status,
        Status::Passed
    );
}
