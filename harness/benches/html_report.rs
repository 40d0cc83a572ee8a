//! How long Chromium takes to render the HTML report of a full run (every
//! scenario and generated check against the reference, with the diagrams
//! of every observed call). `cargo bench -p conformance --bench html_report`;
//! the page measures itself (`performance.now()` when its script ends).
//! The budget: under a second.

use std::process::Command;
use std::time::Instant;

use conformance::{Harness, ReferenceStack, StackOptions, StoreChoice};

const ROUNDS: usize = 5;

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("html_report: a benchmark; run it with `cargo bench`");
        return;
    }
    let stack = ReferenceStack::start(StackOptions {
        store: Some(StoreChoice::Embedded),
        ..StackOptions::default()
    })
    .await
    .expect("the reference starts");
    let report = Harness::new(stack.target.clone())
        .run()
        .await
        .expect("the run completes");
    let started = Instant::now();
    let html = conformance::report::html(&report);
    let generate = started.elapsed();
    let page = std::env::temp_dir().join("conformance-bench-report.html");
    std::fs::write(&page, &html).unwrap();
    let mut renders = Vec::new();
    for _ in 0..ROUNDS {
        let output = Command::new(
            std::env::var("CONFORMANCE_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned()),
        )
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Chromium runs");
        let dom = String::from_utf8_lossy(&output.stdout);
        let ms: u64 = dom
            .split("data-render-ms=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|n| n.parse().ok())
            .expect("the page measured itself");
        renders.push(ms);
    }
    renders.sort_unstable();
    println!(
        "html_report: {} checks, {} KiB of HTML generated in {:?}; Chromium renders it in {} ms (median of {ROUNDS}; min {} ms, max {} ms)",
        report.checks.len(),
        html.len() / 1024,
        generate,
        renders[ROUNDS / 2],
        renders[0],
        renders[ROUNDS - 1]
    );
}
