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
//! The folders follow the pipeline, from where checks come from to what
//! the user reads:
//! - `sources/`: where checks come from: `scenario` (the format: model,
//!   parser, templates), `snapshot` (answers normalised, written and
//!   compared field by field), `properties` (generated client ids, checked
//!   over HTTP with proptest), `fuzz` (bad input for every operation of the
//!   OpenAPI documents), `attacks` (forged and malformed tokens).
//! - `run/`: the run: its entry, options and scheduling (`mod.rs`), one
//!   scenario and one step, what the recorder saw (`observation`), the
//!   run's accounts and tokens, the target and the harness's accounts on
//!   it (`target`, `provision`), the one HTTP client every request goes
//!   through (`client`) and the record of one call (`hop`), the recorder
//!   between the services (`observe`), secrets kept out (`redact`), the
//!   reference stack started in-process (`stack`, the default feature
//!   `reference`).
//! - `checking/`: judging what came back: an answer against its step's
//!   expectations (`expect`, `challenge`), what a source hands the run and
//!   the one conversion into a [`CheckOutcome`] (`verdict`, `outcome`), the
//!   contract's rules and clauses (`rules`, `clauses`), diffs between
//!   reports, baselines and expected failures (`gate`).
//! - `report/`: terminal, JSON, JUnit, Markdown and HTML, causes first.
//! - `harness`: [`Harness`], one run against a target: the library's entry
//!   point, and what `conformance run` does; `jwt`: tokens read without
//!   verifying them; `error`: [`HarnessError`], what makes the harness
//!   itself fail (exit 2).
//! - The binary (`main.rs`, `cli/`): the command line; `cli/run.rs` turns
//!   `conformance run`'s flags into a [`Harness`] and writes the reports.
//!
//! No file here is over 500 lines and no function over 80 (clippy's
//! `too_many_lines` at 80, `clippy.toml`; a test counts the files).

// Small rooms: a long function is a room that wants splitting.
#![warn(clippy::too_many_lines)]

mod checking;
mod error;
mod harness;
pub mod jwt;
pub mod report;
mod run;
mod sources;

pub use checking::outcome::{CheckOutcome, RunReport, Status, Summary};
pub use checking::{clauses, gate, rules};
pub use error::HarnessError;
pub use harness::Harness;
#[cfg(feature = "reference")]
pub use run::alongside::{ReferenceAuth, ReferenceChat};
pub use run::hop::Hop;
pub use run::observe::{FAULTS_PATH, Fault, HOPS_PATH, Observer, Recorder, serve_proxy};
pub use run::provision::{Cleanup, Created, cleanup};
#[cfg(feature = "reference")]
pub use run::stack::{
    AuthFault, ChatFault, ConfigureAuth, ConfigureChat, ReferenceStack, StackOptions, StoreChoice,
    dev_key_path,
};
pub use run::target::{ConfigFile, Target};
pub use run::{RunOptions, SnapshotMode, check_ids, checks};
pub use sources::properties::PropertyOptions;
pub use sources::scenario::Level;
pub use sources::{scenario, snapshot};

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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the crate's sources") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                sources(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }

    /// Small rooms: no source file of the crate is over 500 lines (its
    /// functions are held to 80 by clippy's `too_many_lines`).
    #[test]
    fn no_source_file_is_over_500_lines() {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() > 20, "{files:?}");
        let long: Vec<String> = files
            .iter()
            .filter_map(|file| {
                let lines = std::fs::read_to_string(file).ok()?.lines().count();
                (lines > 500).then(|| format!("{} ({lines} lines)", file.display()))
            })
            .collect();
        assert!(long.is_empty(), "split these: {long:?}");
    }
}
