//! Where scenarios come from: the bundled ones, embedded in the binary,
//! and a team's own folders; check ids unique across all of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::Scenario;
use super::parse::{ScenarioError, parse};

/// Reads every `*.toml` under `dir` (recursively), sorted by path. Check ids
/// must be unique across files.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    parse_all(read_dir(dir)?)
}

/// The scenarios bundled with the harness, embedded in the binary at build
/// time: the same on any machine, from any folder.
pub fn bundled() -> Result<Vec<Scenario>, ScenarioError> {
    parse_all(bundled_files())
}

/// The bundled scenarios and a team's own from these folders; check ids
/// unique across all of them.
pub fn load(extra: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut files = bundled_files();
    for dir in extra {
        files.extend(read_dir(dir)?);
    }
    parse_all(files)
}

mod bundle {
    include!(concat!(env!("OUT_DIR"), "/bundle.rs"));
}

/// The reference's snapshot of a scenario, as bundled.
pub fn bundled_snapshot(scenario_id: &str) -> Option<&'static str> {
    let name = format!("snapshots/{scenario_id}.snap");
    bundle::SNAPSHOTS
        .iter()
        .find(|(path, _)| *path == name)
        .map(|(_, text)| *text)
}

fn bundled_files() -> Vec<(PathBuf, String)> {
    bundle::SCENARIOS
        .iter()
        .map(|(path, text)| (Path::new("scenarios").join(path), (*text).to_owned()))
        .collect()
}

fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>, ScenarioError> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|e| ScenarioError {
        file: dir.to_owned(),
        line: 0,
        message: format!("cannot read the scenarios: {e}"),
    })?;
    files.sort();
    // A folder named for scenarios that holds none is a mistake (a wrong
    // path, a wrong checkout), not a run of the bundled ones alone.
    if files.is_empty() {
        return Err(ScenarioError {
            file: dir.to_owned(),
            line: 0,
            message: "holds no scenario (no .toml file)".to_owned(),
        });
    }
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(|e| ScenarioError {
                file: file.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            Ok((file, text))
        })
        .collect()
}

fn parse_all(files: Vec<(PathBuf, String)>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut scenarios = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    // The snapshot checks of `core.x` and `strict.x` would both be
    // `reference.snapshot.x`: a scenario id is unique without its level.
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (file, text) in files {
        let scenario = parse(&file, &text)?;
        let name = scenario
            .id
            .split_once('.')
            .map_or(scenario.id.as_str(), |(_, rest)| rest);
        if let Some(other) = names.insert(name.to_owned(), file.clone()) {
            return Err(ScenarioError {
                file: file.clone(),
                line: 1,
                message: format!(
                    "scenario id {} is, but for its level, the id of {}'s: their snapshot checks would share an id",
                    scenario.id,
                    other.display()
                ),
            });
        }
        for step in &scenario.steps {
            if let Some(check) = &step.check
                && let Some(other) = seen.insert(check.id.clone(), file.clone())
            {
                return Err(ScenarioError {
                    file: file.clone(),
                    line: step.line,
                    message: format!("check {} is also in {}", check.id, other.display()),
                });
            }
        }
        scenarios.push(scenario);
    }
    Ok(scenarios)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    Ok(())
}
