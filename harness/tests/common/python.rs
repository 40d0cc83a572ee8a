//! Python for the tests that run a Python program (Schemathesis, uvicorn):
//! a virtual environment per requirements file, under the target directory,
//! holding exactly its pins.
//!
//! Python comes from `CONFORMANCE_PYTHON`, else `python3` on the PATH
//! (scripts/test installs Debian's when there is none).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("CONFORMANCE_PYTHON") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("python3"))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!("no python3: install Debian's python3 and python3-venv (scripts/test does) or set CONFORMANCE_PYTHON")
    })
}

/// What a process printed, standard output then standard error.
pub fn printed(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs a command that must succeed.
pub fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        printed(&output)
    );
}

/// The `bin` folder of the virtual environment `name` under `target_tmp`,
/// holding exactly `requirements` (a pip requirements file's text): made
/// when missing or made from other pins, kept for later runs.
pub fn virtual_environment(target_tmp: &Path, name: &str, requirements: &str) -> PathBuf {
    let root = target_tmp.join(name);
    let venv = root.join("venv");
    let installed = venv.join("installed-requirements.txt");
    let bin = venv.join("bin");
    if std::fs::read_to_string(&installed).ok().as_deref() == Some(requirements) {
        return bin;
    }
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::create_dir_all(&root).unwrap();
    run(Command::new(python()).args(["-m", "venv"]).arg(&venv));
    let file = root.join("requirements.txt");
    std::fs::write(&file, requirements).unwrap();
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&file));
    std::fs::write(&installed, requirements).unwrap();
    bin
}
