//! The `conformance` binary as CI uses it: exit codes, reports, errors.

use std::process::Command;
use std::time::{Duration, Instant};

fn conformance() -> Command {
    Command::new(env!("CARGO_BIN_EXE_conformance"))
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_run_against_the_reference_exits_0_and_writes_both_reports() {
    let dir = temp_dir();
    let (json, junit) = (dir.join("report.json"), dir.join("report.xml"));
    let markdown = dir.join("summary.md");
    let output = conformance()
        .args(["run", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--markdown")
        .arg(&markdown)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(
        report["summary"]["passed"].as_u64(),
        u64::try_from(checks.len()).ok()
    );
    for field in [
        "id",
        "level",
        "rule",
        "status",
        "scenario",
        "step",
        "message",
        "duration_ms",
    ] {
        assert!(
            checks.iter().all(|c| c.get(field).is_some()),
            "a check lacks {field}"
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), checks.len());
    assert!(
        checks
            .iter()
            .all(|c| c["rule"].as_str().is_some_and(|r| !r.is_empty())),
        "a check without its rule"
    );
    assert_eq!(
        xml.matches("<property name=\"rule\"").count(),
        checks.len(),
        "JUnit carries each check's rule"
    );
    for level in ["core", "strict", "reference"] {
        assert!(
            report["by_level"][level]["passed"].as_u64() > Some(0),
            "counts of {level}: {}",
            report["by_level"]
        );
    }
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    let xml_text = |value: &serde_json::Value| {
        value
            .as_str()
            .unwrap()
            .replace('&', "&amp;")
            .replace('\'', "&apos;")
            .replace('"', "&quot;")
    };
    for check in checks {
        let case = format!(
            "<testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            xml_text(&check["scenario_id"]),
            xml_text(&check["id"]),
            xml_text(&check["scenario"]),
            check["line"]
        );
        assert!(xml.contains(&case), "JUnit lacks {case}");
    }
    let summary = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        summary.starts_with("## Conformance: ✅ passed"),
        "{summary}"
    );
    for level in ["core", "strict", "reference"] {
        let counts = &report["by_level"][level];
        let row = format!(
            "| {level} | {} | 0 | {} |",
            counts["passed"], counts["skipped"]
        );
        assert!(summary.contains(&row), "{row} in {summary}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_unreachable_target_exits_2_with_one_line_within_seconds() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    let started = Instant::now();
    let output = conformance()
        .args([
            "run",
            "--auth-url",
            &url,
            "--chat-url",
            &url,
            "--admin-token",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("does not answer") && stderr.contains(&url),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "it hung");
}

#[test]
fn a_broken_scenario_file_exits_2_naming_file_and_line() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("broken.toml"),
        "id = \"x\"\ntitle = \"x\"\nlevel = \"core\"\n\n[[step]]\nname = \"x\"\nrequest = { service = \"auth\", method = \"GET\", path = \"/{{nope}}\" }\n",
    )
    .unwrap();
    let output = conformance()
        .args(["run", "--scenarios"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.toml:5:") && stderr.contains("nope"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A gate that checked nothing does not pass: a selection that matches no
/// check (a typo), a scenario folder that holds none, properties run on no
/// case exit 2, saying so.
#[test]
fn a_run_that_checks_nothing_exits_2_with_the_reason() {
    let empty = temp_dir();
    let runs: [(Vec<std::ffi::OsString>, &str); 4] = [
        (
            vec!["--tag".into(), "chta".into()],
            "--tag chta matches no check",
        ),
        (
            vec!["--only".into(), "core.nonexistent".into()],
            "--only core.nonexistent matches no check",
        ),
        (
            vec!["--scenarios".into(), empty.clone().into_os_string()],
            "holds no scenario",
        ),
        // A property held on no case has not held.
        (
            vec![
                "--only".into(),
                "strict.subjects.".into(),
                "--cases".into(),
                "0".into(),
            ],
            "no client id exercised the rule",
        ),
    ];
    for (args, why) in runs {
        let output = conformance().arg("run").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(empty).ok();
}

#[test]
fn filters_pick_checks_and_the_level_gates() {
    let output = conformance()
        .args(["run", "--only", "core.members.", "--level", "core"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ran: Vec<&str> = stderr.lines().filter(|l| l.starts_with("pass ")).collect();
    assert_eq!(ran.len(), 7, "{stderr}");
    assert!(ran.iter().all(|l| l.contains("core.members.")), "{stderr}");
}

/// A deployment without admin access, checked with the accounts of a
/// configuration file: the example file, against the seeded reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_file_checks_a_deployment_without_admin_access() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let stack = conformance::ReferenceStack::start(conformance::StackOptions {
        seed: Some(fixtures.join("seed.json")),
        chat_client: Some((
            "chat-api-service".to_owned(),
            "dev-chat-api-secret".to_owned(),
        )),
        ..conformance::StackOptions::default()
    })
    .await
    .unwrap();
    let example = std::fs::read_to_string(fixtures.join("conformance.example.toml")).unwrap();
    let config = example
        .replace("http://127.0.0.1:8080", &stack.target.auth_url)
        .replace("http://127.0.0.1:8081", &stack.target.chat_url);
    let dir = temp_dir();
    std::fs::write(dir.join("conformance.toml"), config).unwrap();
    let path = dir.join("conformance.toml");
    let report = dir.join("report.json");
    let json = report.clone();
    let output = tokio::task::spawn_blocking(move || {
        conformance()
            .arg("run")
            .arg("--config")
            .arg(&path)
            .arg("--json")
            .arg(&json)
            .env_remove("CONFORMANCE_ADMIN_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("gate: core"),
        "an external target is gated on core: {stdout}"
    );
    // What needs admin access or the harness in the middle is skipped, not failed.
    assert!(stdout.contains(" 0 failed,"), "{stdout}");
    assert!(!stdout.contains(" 0 skipped"), "{stdout}");
    // Fuzzing an admin operation without the admin token could only show
    // that the caller is refused: skipped, saying so, never passed.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let fuzz = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "strict.fuzz.auth.post-admin-users.malformed-json")
        .unwrap();
    assert_eq!(fuzz["status"], "skipped", "{fuzz}");
    assert!(
        fuzz["message"]
            .as_str()
            .unwrap()
            .contains("the admin token"),
        "{fuzz}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Every check the harness makes names a rule it may name at its level,
/// and `conformance rules` lists the contract's rules, each with a check.
#[test]
fn every_check_names_its_rule_and_rules_prints_the_matrix() {
    let scenarios =
        conformance::scenario::load_dir(&conformance::bundled_scenarios()).expect("they load");
    let checks = conformance::checks(&scenarios);
    assert!(checks.len() > 400, "{}", checks.len());
    for (id, level, rule) in &checks {
        assert!(
            conformance::rules::validate(rule, *level).is_ok(),
            "{id} ({level}) names {rule:?}"
        );
        assert!(id.starts_with(&format!("{level}.")), "{id} is at {level}");
    }
    let output = conformance().arg("rules").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for rule in conformance::rules::CONTRACT {
        assert!(
            stdout.contains(rule.name),
            "{} missing:\n{stdout}",
            rule.name
        );
    }
    assert!(
        stdout.contains("CONTRACT Chat-API step 2  (")
            && stdout.contains("core.chat.send.sender-mismatch"),
        "{stdout}"
    );
    // Every rule of the contract has a check, and stays so.
    let rows = conformance::rules::matrix(
        checks
            .iter()
            .map(|(id, level, rule)| (id.as_str(), *level, rule.as_str())),
    );
    let unchecked: Vec<&String> = rows
        .iter()
        .filter(|(_, checks)| checks.is_empty())
        .map(|(rule, _)| rule)
        .collect();
    assert!(
        unchecked.is_empty(),
        "rules without a check: {unchecked:#?}"
    );
    assert!(
        stdout.contains(&format!(
            "every one of the {} rules and {} clauses of the contract has a check",
            conformance::rules::CONTRACT.len(),
            conformance::clauses::all().len()
        )),
        "{stdout}"
    );
    // Clause by clause, each with its anchor and its checks.
    assert!(
        stdout.contains("(#step-2-sender)\n      core      core.chat.send.sender-mismatch\n"),
        "{stdout}"
    );
}

/// The scenarios, snapshots and OpenAPI documents are in the binary: a copy
/// of it, run from an empty folder, lists every check and checks a
/// deployment, its failures naming the bundled scenario files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_binary_runs_from_any_folder() {
    let dir = temp_dir();
    let binary = dir.join("conformance");
    std::fs::copy(env!("CARGO_BIN_EXE_conformance"), &binary).unwrap();
    let elsewhere = dir.join("work");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let list = std::process::Command::new(&binary)
        .arg("list")
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(0));
    let scenarios = conformance::scenario::bundled().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).lines().count(),
        conformance::checks(&scenarios).len()
    );
    let stack = conformance::ReferenceStack::start(conformance::StackOptions {
        auth_fault: Some(crate::faults::seed_bug()),
        ..conformance::StackOptions::default()
    })
    .await
    .unwrap();
    let target = stack.target.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&binary)
            .args(["run", "--only", "core.", "--auth-url", &target.auth_url])
            .args(["--chat-url", &target.chat_url, "--admin-token"])
            .arg(target.admin_token.as_ref().unwrap().expose())
            .current_dir(&elsewhere)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED core.members.service-token [core]")
            && stdout.contains("scenarios/core/members.toml:"),
        "{stdout}"
    );
    // The snapshots came along too.
    assert!(stdout.contains("core.snapshot.members"), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}

/// `snapshot --out` that writes nothing (every check filtered out) is an
/// error, not a success.
#[test]
fn a_snapshot_run_that_writes_nothing_exits_2() {
    let dir = temp_dir();
    let output = conformance()
        .args(["snapshot", "--only", "no.such.check", "--out"])
        .arg(dir.join("snaps"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // Said before any snapshot could be written: the selection is empty.
    assert!(
        stderr.contains("--only no.such.check matches no check"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}
