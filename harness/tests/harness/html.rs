//! The HTML report opened in headless Chromium (Debian's `chromium`, or
//! the browser named by `CONFORMANCE_CHROMIUM`), as a reader would open it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::faults;
use crate::helpers::run_with_faults;

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CONFORMANCE_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(dir) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|dir| dir.join(name).is_file())
        {
            return dir.join(name);
        }
    }
    panic!(
        "no Chromium: install Debian's `chromium` (scripts/test does) or set CONFORMANCE_CHROMIUM"
    );
}

/// Runs headless Chromium on a file; its standard output and error.
fn headless(page: &Path, args: &[&str]) -> (String, String) {
    let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Chromium runs");
    std::fs::remove_dir_all(profile).ok();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Where tests leave files for people to look at.
fn test_output() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_shows_the_counts_and_the_seeds_broken_hop_in_chromium() {
    let report = run_with_faults(Some(faults::seed_bug()), None).await;
    let dir = test_output();
    let page = dir.join("report.html");
    conformance::report::write_html(&report, &page).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<link") && !html.contains(" src="),
        "self-contained"
    );

    let (dom, log) = headless(&page, &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the page's script ran: {log}"
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(!log.contains("Uncaught"), "{log}");
    let summary = format!(
        "data-passed=\"{}\" data-failed=\"{}\" data-skipped=\"{}\"",
        report.summary.passed, report.summary.failed, report.summary.skipped
    );
    assert!(dom.contains(&summary), "{summary} in the summary");
    assert!(report.summary.failed > 0);

    // The seed flow's diagram marks the members call, 401, and the send's 502.
    let seed = dom
        .split("id=\"scenario-core.seed\"")
        .nth(1)
        .and_then(|rest| rest.split("</details></details>").next())
        .expect("the seed flow's scenario");
    let broke = seed
        .split("data-broke=\"true\"")
        .nth(1)
        .expect("a broken hop in the seed flow's diagram");
    let broke = &broke[..broke.find("</g>").unwrap()];
    assert!(broke.contains("401 invalid_token"), "{broke}");
    assert!(seed.contains("502 upstream_unavailable"), "{seed}");
    assert!(seed.contains("/members (service token)"), "{seed}");

    let screenshot = dir.join("report.png");
    headless(
        &page,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1400,2400",
        ],
    );
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG"),
        "a PNG at {}",
        screenshot.display()
    );
}
