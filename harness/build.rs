//! Embeds the scenarios and the reference's snapshots in the binary, so that
//! an installed `conformance` runs from any folder, with the source tree gone.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn table(name: &str, root: &Path, paths: &[PathBuf]) -> String {
    let mut text = format!(
        "/// Embedded at build time: path relative to `scenarios/`, contents.\npub const {name}: &[(&str, &str)] = &[\n"
    );
    for path in paths {
        let relative = path
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let absolute = path
            .canonicalize()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let _ = writeln!(text, "    ({relative:?}, include_str!({absolute:?})),");
    }
    text.push_str("];\n");
    text
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let (mut scenarios, mut snapshots) = (Vec::new(), Vec::new());
    files(&root, "toml", &mut scenarios);
    files(&root.join("snapshots"), "snap", &mut snapshots);
    scenarios.sort();
    snapshots.sort();
    for path in scenarios.iter().chain(&snapshots) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = table("SCENARIOS", &root, &scenarios) + &table("SNAPSHOTS", &root, &snapshots);
    std::fs::write(out.join("bundle.rs"), text).expect("writing the bundle");
}
