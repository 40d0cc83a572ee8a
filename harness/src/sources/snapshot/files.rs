//! Snapshot files: insta's `.snap` format, the bundled ones and a folder
//! of a deployment's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A scenario's snapshot: step key to normalised answer.
pub type Snapshot = BTreeMap<String, Value>;

/// The key of a step in its scenario's snapshot.
pub fn step_key(index: usize, check: Option<&str>, name: &str) -> String {
    match check {
        Some(id) => format!("{index:02} {id}"),
        None => format!("{index:02} set-up: {name}"),
    }
}

/// The committed snapshots of the reference, in the source tree (what
/// `--update-snapshots` rewrites).
pub fn bundled_dir() -> PathBuf {
    crate::bundled_scenarios().join("snapshots")
}

/// The file of a scenario's snapshot in `dir`.
pub fn file(dir: &Path, scenario_id: &str) -> PathBuf {
    dir.join(format!("{scenario_id}.snap"))
}

/// The snapshot's text as insta writes it, so that `cargo insta review`
/// and `conformance run --update-snapshots` write the same files.
pub fn contents(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_default()
}

/// A whole `.snap` file: insta's header, then the contents.
pub fn file_text(snapshot: &Snapshot) -> String {
    format!(
        "---\nsource: harness/tests/harness/snapshots.rs\nexpression: \"snapshot::contents(&snapshot)\"\n---\n{}\n",
        contents(snapshot)
    )
}

/// Reads a `.snap` file; `None` when there is none.
pub fn read(path: &Path) -> Option<Snapshot> {
    parse_text(&std::fs::read_to_string(path).ok()?)
}

/// A snapshot file's text, parsed.
pub fn parse_text(text: &str) -> Option<Snapshot> {
    let body = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(text, |(_, body)| body);
    serde_json::from_str(body).ok()
}

/// Where a run's snapshots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The reference's, embedded in the binary.
    Bundled,
    /// A folder of `.snap` files (`conformance snapshot --out`).
    Dir(PathBuf),
}

impl Source {
    /// A scenario's snapshot and where it was looked for.
    pub fn load(&self, scenario_id: &str) -> (Option<Snapshot>, String) {
        match self {
            Self::Bundled => (
                crate::sources::scenario::bundled_snapshot(scenario_id).and_then(parse_text),
                format!("scenarios/snapshots/{scenario_id}.snap"),
            ),
            Self::Dir(dir) => {
                let path = file(dir, scenario_id);
                (read(&path), path.display().to_string())
            }
        }
    }
}
