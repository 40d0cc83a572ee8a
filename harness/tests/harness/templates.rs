//! The CI templates in docs/ci and the compose file: valid YAML of the
//! shape their tools read, linked from the README, and calling
//! `conformance run` only with flags it has.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(path: &str) -> (String, Yaml) {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one document");
    (text, docs.remove(0))
}

/// The flags `conformance run --help` lists.
fn run_flags() -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    flags(&help)
}

/// Every `--long-flag` in a text.
fn flags(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if name.len() > 1 {
            found.push(name);
        }
    }
    found
}

/// Flags of the other tools the templates call (docker, curl, apk).
const OTHER_TOOLS: [&str; 7] = [
    "rm",
    "fail",
    "silent",
    "show-error",
    "request",
    "header",
    "data",
];

/// Checks the flags outside comments.
fn assert_known_flags(path: &str, text: &str) {
    let known = run_flags();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for flag in flags(&code) {
        if flag == "no-cache" || OTHER_TOOLS.contains(&flag.as_str()) {
            continue;
        }
        assert!(
            known.contains(&flag),
            "{path} uses --{flag}, which `conformance run` lacks"
        );
    }
}

#[test]
fn the_github_workflow_checks_publishes_keeps_a_baseline_and_gates_a_release() {
    let path = "docs/ci/github-actions.yml";
    let (text, yaml) = load(path);
    let jobs = &yaml["jobs"];
    let steps = jobs["conformance"]["steps"].as_vec().expect("steps");
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    assert!(
        uses.iter().any(|u| u.starts_with("actions/cache/restore@")),
        "{uses:?}"
    );
    assert!(
        uses.iter().any(|u| u.starts_with("actions/cache/save@")),
        "{uses:?}"
    );
    assert!(uses.iter().any(|u| u.contains("junit")), "{uses:?}");
    let script: String = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for flag in ["--junit", "--json", "--markdown", "--baseline", "--level"] {
        assert!(script.contains(flag), "{path} lacks {flag}");
    }
    assert!(script.contains("GITHUB_STEP_SUMMARY"));
    assert_eq!(jobs["release"]["needs"].as_str(), Some("conformance"));
    assert!(!yaml["on"].is_badvalue(), "{path} has no trigger");
    assert_known_flags(path, &text);
}

#[test]
fn the_gitlab_job_checks_publishes_keeps_a_baseline_and_gates_a_release() {
    let path = "docs/ci/gitlab-ci.yml";
    let (text, yaml) = load(path);
    let job = &yaml["conformance"];
    let script = job["script"]
        .as_vec()
        .expect("script")
        .iter()
        .filter_map(Yaml::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    for flag in ["--junit", "--json", "--markdown", "--baseline", "--level"] {
        assert!(script.contains(flag), "{path} lacks {flag}");
    }
    assert_eq!(
        job["artifacts"]["reports"]["junit"].as_str(),
        Some("reports/conformance-report.xml")
    );
    assert_eq!(
        yaml["conformance-baseline"]["cache"]["policy"].as_str(),
        Some("push")
    );
    let needs = yaml["release"]["needs"].as_vec().expect("release needs");
    assert_eq!(needs[0].as_str(), Some("conformance"));
    assert_known_flags(path, &text);
}

/// A compose service's command, word by word.
fn command_of<'a>(services: &'a Yaml, service: &str) -> Vec<&'a str> {
    services[service]["command"]
        .as_vec()
        .unwrap_or_else(|| panic!("{service} has no command"))
        .iter()
        .filter_map(Yaml::as_str)
        .collect()
}

#[test]
fn the_compose_file_runs_the_harness_once_against_both_services() {
    let path = "docker-compose.yml";
    let (_, yaml) = load(path);
    assert_eq!(
        yaml["version"].as_str(),
        Some("2.4"),
        "v1 and v2 both read 2.4"
    );
    let services = &yaml["services"];
    for service in ["postgres", "mongo", "auth-api", "chat-api", "conformance"] {
        assert!(!services[service].is_badvalue(), "{path} lacks {service}");
    }
    let command = command_of(services, "conformance");
    assert_eq!(command[0], "run");
    assert!(command.contains(&"--auth-url=http://auth-api:8080"));
    assert!(command.contains(&"--chat-url=http://chat-api:8081"));
    // Every check runs: the chat-api reaches its auth-api through the
    // recorder the harness observes, and the run fails on a gated skip.
    assert!(command.contains(&"--observe=http://proxy:9090"));
    assert!(command.contains(&"--complete"));
    assert_eq!(
        services["chat-api"]["environment"]["CHAT_API_AUTH_URL"].as_str(),
        Some("http://proxy:9090")
    );
    let proxy = command_of(services, "proxy");
    assert_eq!(
        proxy,
        [
            "proxy",
            "--listen=0.0.0.0:9090",
            "--upstream=http://auth-api:8080"
        ]
    );
    assert_known_flags(path, &command.join("\n"));
}

#[test]
fn the_readme_links_the_templates() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for path in [
        "docs/ci/github-actions.yml",
        "docs/ci/gitlab-ci.yml",
        "docker-compose.yml",
    ] {
        assert!(
            readme.contains(&format!("]({path})")),
            "README does not link {path}"
        );
    }
}

/// The README is a front door: at most 150 lines, every page of docs/
/// linked from it, and no relative link in it or in docs/ that leads
/// nowhere (nothing refers to a file outside the repository).
#[test]
fn the_readme_is_short_and_every_link_resolves() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 150,
        "README.md has {} lines",
        readme.lines().count()
    );
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                readme.contains(&format!("](docs/{name})")),
                "README does not link docs/{name}"
            );
            pages.push(path);
        }
    }
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap_or_default();
            let file = target.split('#').next().unwrap_or_default();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            assert!(
                page.parent().unwrap().join(file).exists(),
                "{}: the link {target} leads nowhere",
                page.display()
            );
        }
    }
}
