//! What a team's build pulls in when it takes the harness alone.

use std::process::Command;

/// The packages `cargo tree -p conformance` lists with these extra
/// arguments (dev-dependencies included, as cargo shows them).
fn tree(extra: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "conformance",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `cargo tree -p conformance --no-default-features` holds no database
/// driver, no testcontainers and no password hashing.
#[test]
fn the_harness_alone_pulls_no_database_driver_containers_or_password_hashing() {
    let alone = tree(&["--no-default-features"]);
    assert!(alone.iter().any(|p| p == "reqwest"), "the tree: {alone:?}");
    let heavy = [
        "sqlx",
        "sqlx-core",
        "mongodb",
        "testcontainers",
        "argon2",
        "auth-api",
        "chat-api",
        "reference-stores",
    ];
    for name in heavy {
        assert!(
            !alone.iter().any(|p| p == name),
            "{name} is in the tree: {alone:?}"
        );
    }
    // With the default feature they are there: the test above would notice
    // if the feature stopped gating them.
    let full = tree(&[]);
    for name in ["sqlx", "mongodb", "argon2", "reference-stores"] {
        assert!(
            full.iter().any(|p| p == name),
            "{name} is not in the full tree"
        );
    }
}
