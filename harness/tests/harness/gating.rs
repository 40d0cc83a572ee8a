//! Release gating from the command line: `diff`, `--baseline` and
//! `--expected-failures`, against a deployment with the seed's bug.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use conformance::{ReferenceStack, StackOptions, StoreChoice};

use crate::faults;

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn conformance(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_conformance"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `run` against a started stack as an external deployment.
fn against(stack: &ReferenceStack, extra: &[&str]) -> Vec<String> {
    let target = &stack.target;
    let mut args: Vec<String> = vec![
        "run".into(),
        "--auth-url".into(),
        target.auth_url.clone(),
        "--chat-url".into(),
        target.chat_url.clone(),
        "--admin-token".into(),
        target.admin_token.as_ref().unwrap().expose().to_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// A reference stack on the embedded store, with an auth-api fault or not.
async fn stack(fault: Option<conformance::AuthFault>) -> ReferenceStack {
    ReferenceStack::start(StackOptions {
        store: Some(StoreChoice::Embedded),
        auth_fault: fault,
        ..StackOptions::default()
    })
    .await
    .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn failed_ids(report: &Path) -> Vec<String> {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed" && c["level"] == "core")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_baseline_and_expected_failures_gate_a_release() {
    let dir = temp_dir();
    let (good, bad) = (dir.join("good.json"), dir.join("bad.json"));
    let healthy = stack(None).await;
    let broken = stack(Some(faults::seed_bug())).await;

    let run = conformance(against(&healthy, &["--json", path(&good)])).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // The release candidate regresses: --baseline names what broke.
    let run = conformance(against(
        &broken,
        &["--baseline", path(&good), "--json", path(&bad)],
    ))
    .await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains("regressions (passed in the baseline, failed in this run): "),
        "{out}"
    );
    assert!(out.contains("  core.members.service-token: "), "{out}");

    // diff OLD NEW: a regression exits 1; the other way round they are fixes.
    let run = conformance(vec!["diff".into(), path(&good).into(), path(&bad).into()]).await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains("  core.seed.members-with-service-token: "),
        "{out}"
    );
    assert!(out.contains("fixes (failed in"), "{out}");
    let run = conformance(vec!["diff".into(), path(&bad).into(), path(&good).into()]).await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "regressions (passed in {}, failed in {}): 0\n",
            path(&bad),
            path(&good)
        )),
        "{out}"
    );
    let fixes = out.split("fixes (").nth(1).unwrap();
    assert!(fixes.contains("core.members.service-token"), "{out}");

    // The known deviations, with reasons, gate on everything else.
    let failing = failed_ids(&bad);
    assert!(failing.contains(&"core.members.service-token".to_owned()));
    let mut list = String::new();
    for id in &failing {
        let _ = writeln!(
            list,
            "{id:?} = \"the members endpoint refuses service tokens (TICKET-1)\""
        );
    }
    let expected = dir.join("expected.toml");
    std::fs::write(&expected, &list).unwrap();
    let run = conformance(against(&broken, &["--expected-failures", path(&expected)])).await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(0), "{out}");
    assert!(
        out.contains("(expected: the members endpoint refuses service tokens (TICKET-1))"),
        "{out}"
    );

    // An expected failure that passes now fails the run: the list cannot rot.
    list.push_str("\"core.login.wrong-password\" = \"was broken in 1.2\"\n");
    std::fs::write(&expected, &list).unwrap();
    let run = conformance(against(&broken, &["--expected-failures", path(&expected)])).await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains("PASSED core.login.wrong-password, listed as an expected failure"),
        "{out}"
    );

    // So does a check that no longer exists, before anything runs.
    std::fs::write(&expected, "\"core.no-such-check\" = \"renamed long ago\"\n").unwrap();
    let run = conformance(against(&broken, &["--expected-failures", path(&expected)])).await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(2), "{out}");
    assert!(out.contains("core.no-such-check"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployments_compared_through_their_snapshots() {
    let dir = temp_dir();
    let staging = dir.join("staging");
    let healthy = stack(None).await;
    let candidate = stack(Some(faults::reshaped_answers())).await;
    let mut args = vec![
        "snapshot".to_owned(),
        "--out".to_owned(),
        path(&staging).to_owned(),
    ];
    args.extend(against(&healthy, &[]).into_iter().skip(1));
    let run = conformance(args).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(staging.join("core.members.snap").is_file());

    // The candidate against staging's snapshots: the drift is named.
    let run = conformance(against(&candidate, &["--snapshots", path(&staging)])).await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(out.contains("FAILED core.snapshot.members [core]"), "{out}");
    assert!(out.contains("/body/members/0/role"), "{out}");
    // Staging against itself: nothing differs.
    let run = conformance(against(
        &healthy,
        &[
            "--snapshots",
            path(&staging),
            "--only",
            "core.snapshot",
            "--only",
            "strict.snapshot",
        ],
    ))
    .await;
    let out = text(&run);
    assert_eq!(run.status.code(), Some(0), "{out}");
    assert!(out.contains("pass core.snapshot.members"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}
