//! `conformance`: replays the auth-api / chat-api contract against any
//! implementation (the bundled reference, or a team's deployment) and says
//! which check failed, where, and how to reproduce it.
//!
//! # In a team's own tests
//! ```no_run
//! use conformance::{Harness, Level, Target};
//!
//! # async fn check() -> Result<(), conformance::HarnessError> {
//! let target = Target::at("https://auth.staging.example", "https://chat.staging.example")
//!     .with_admin_token(std::env::var("CONFORMANCE_ADMIN_TOKEN").unwrap_or_default());
//! let report = Harness::new(target).level(Level::Strict).run().await?;
//! report.assert_passed(); // panics with each failure: file:line, expected/actual, curl
//! # Ok(())
//! # }
//! ```
//! [`Harness::from_config`] reads a configuration file instead. The default
//! feature `reference` adds the reference stack (`ReferenceStack`, and the
//! CLI's embedded run, `serve`, `auth-api` and `chat-api`); a team that
//! only checks its deployment leaves it out with `default-features = false`
//! and gets no database driver, testcontainers or password hashing.
//!
//! # Layout
//! - `scenario`: the scenario format (model, parser, templates); no I/O
//!   beyond reading the files.
//! - `harness`: [`Harness`], one run against a target: the library's
//!   entry point, and what `conformance run` does.
//! - `target`: what is checked, and its configuration file.
//! - `provision`: the harness's users, group and clients on the target.
//! - `stack`: the reference stack started in-process, with optional faults
//!   (the default feature `reference`).
//! - `observe`: the recorder between the chat-api and the auth-api.
//! - `runner`: schedules every source's checks and turns each verdict into
//!   an outcome, one way; runs the scenarios' steps.
//! - `verdict`: what a source hands the runner ([`verdict::Spec`],
//!   [`verdict::Verdict`]) and the one conversion into a [`CheckOutcome`].
//! - `client`: the one HTTP client every request goes through (trace
//!   header, hop recording).
//! - `properties`: a source: generated client ids, checked over HTTP with proptest.
//! - `fuzz`: a source: bad input for every operation of the contract's OpenAPI documents.
//! - `attacks`: forged and malformed tokens for the JWT attack scenarios.
//! - `expect`: holding an answer against a step's expectations.
//! - `rules`: the contract's rules, and which rule a check may name.
//! - `outcome`: [`CheckOutcome`] and [`RunReport`]: failed checks are data.
//! - `gate`: diffs between reports, baselines and expected failures.
//! - `snapshot`: a source: answers normalised, written and compared field by field.
//! - `jwt`: tokens read without verifying them.
//! - `redact`: secrets out of every report.
//! - `report`: terminal, JSON and JUnit output.
//! - `error`: [`HarnessError`]: what makes the harness itself fail (exit 2).

mod attacks;
mod challenge;
pub mod clauses;
mod client;
mod error;
mod expect;
mod fuzz;
pub mod gate;
mod harness;
mod hop;
pub mod jwt;
mod observe;
mod outcome;
mod properties;
mod provision;
mod redact;
pub mod report;
pub mod rules;
mod runner;
pub mod scenario;
pub mod snapshot;
#[cfg(feature = "reference")]
mod stack;
mod target;
mod verdict;

pub use error::HarnessError;
pub use harness::Harness;
pub use hop::Hop;
pub use observe::{FAULTS_PATH, Fault, HOPS_PATH, Observer, Recorder, serve_proxy};
pub use outcome::{CheckOutcome, RunReport, Status, Summary};
pub use properties::PropertyOptions;
pub use provision::{Cleanup, Created, cleanup};
pub use runner::{RunOptions, SnapshotMode, check_ids, checks, run};
pub use scenario::Level;
#[cfg(feature = "reference")]
pub use stack::{
    AuthFault, ChatFault, ConfigureAuth, ConfigureChat, ReferenceStack, StackOptions, StoreChoice,
    dev_key_path,
};
pub use target::{ConfigFile, Target};

/// The scenarios that come with the harness, relative to the current
/// folder when it holds them (so that reports name `scenarios/core/…`).
pub fn bundled_scenarios() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let dir = dir.canonicalize().unwrap_or(dir);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| dir.strip_prefix(cwd).ok().map(std::path::Path::to_path_buf))
        .unwrap_or(dir)
}
