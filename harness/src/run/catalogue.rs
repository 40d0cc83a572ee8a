//! The checks a set of scenarios makes, before any run: ids, levels and
//! rules, snapshot checks included.

use std::collections::BTreeSet;

use crate::sources::fuzz;
use crate::sources::properties::Property;
use crate::sources::scenario::{Level, Scenario};
use crate::sources::snapshot::{self};

/// What to do with the snapshots of the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Nothing.
    Off,
    /// Hold each scenario's answers against its snapshot.
    Compare(snapshot::Source),
    /// Write each scenario's answers to this folder.
    Write(std::path::PathBuf),
}

/// The rule the contract-level snapshot checks enforce.
const SNAPSHOT_RULE: &str = "CONTRACT Response shapes";

/// The rule of identity with the reference's snapshots.
const REFERENCE_SNAPSHOT_RULE: &str = "decisions: Snapshots";

/// The snapshot checks of a scenario: at its own level (core or strict),
/// the statuses, error codes and fields the contract names; at the
/// reference level, identity with the reference's answers.
pub fn snapshot_check_ids(scenario: &Scenario) -> Vec<(String, Level, &'static str)> {
    let (level, rest) = scenario
        .id
        .split_once('.')
        .map_or(("", scenario.id.as_str()), |(level, rest)| (level, rest));
    let mut ids = Vec::new();
    if let Some(level @ (Level::Core | Level::Strict)) = Level::parse(level) {
        ids.push((format!("{level}.snapshot.{rest}"), level, SNAPSHOT_RULE));
    }
    ids.push((
        format!("reference.snapshot.{rest}"),
        Level::Reference,
        REFERENCE_SNAPSHOT_RULE,
    ));
    ids
}

/// Every check these scenarios and the generators make, with its level
/// and rule, for `conformance list` and `conformance rules`.
pub fn checks(scenarios: &[Scenario]) -> BTreeSet<(String, Level, String)> {
    scenarios
        .iter()
        .flat_map(|s| {
            s.checks()
                .map(|c| (c.id.clone(), c.level, c.rule.clone()))
                .chain(
                    snapshot_check_ids(s)
                        .into_iter()
                        .map(|(id, level, rule)| (id, level, rule.to_owned())),
                )
                .collect::<Vec<_>>()
        })
        .chain(
            Property::ALL
                .into_iter()
                .map(|p| (p.id().to_owned(), Property::LEVEL, p.rule().to_owned())),
        )
        .chain(fuzz::checks())
        .collect()
}

/// The check ids, for `--expected-failures`.
pub fn check_ids(scenarios: &[Scenario]) -> BTreeSet<String> {
    checks(scenarios).into_iter().map(|(id, _, _)| id).collect()
}
