//! What a team's build pulls in when it takes the harness alone.

use std::process::Command;

/// `cargo tree -p conformance --no-default-features` (dev-dependencies
/// included, as cargo shows them) holds no database driver, no
/// testcontainers and no password hashing.
#[test]
fn the_harness_alone_pulls_no_database_driver_containers_or_password_hashing() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "conformance",
            "--no-default-features",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"reqwest"), "the tree: {stdout}");
    for heavy in [
        "sqlx",
        "sqlx-core",
        "mongodb",
        "testcontainers",
        "argon2",
        "auth-api",
        "chat-api",
        "reference-stores",
    ] {
        assert!(!names.contains(&heavy), "{heavy} is in the tree: {stdout}");
    }

    // With the default feature, the reference and its stores are there:
    // the test above would notice if the feature stopped gating them.
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
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("sqlx ")), "{stdout}");
}
