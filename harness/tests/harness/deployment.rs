//! A deployment-shaped check: the reference auth-api and chat-api started
//! as processes of their own, each behind a TLS terminator whose certificate a private
//! CA made in the test; `conformance proxy` (a separate process) between
//! the chat-api and the auth-api, reached over TLS both ways; and
//! `conformance run --observe … --cacert …` against it all, as a team's CI
//! would run it against staging.

use std::process::Command;

use crate::tls::Pki;

const ISSUER: &str = "https://auth.conformance.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_deployment_with_the_proxy_passes_core_and_strict_and_is_left_clean() {
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(format!("deploy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();

    // The auth-api, a process of its own (`conformance auth-api`, the same
    // code as the auth-api binary), behind TLS.
    let admin = format!("admin-{}", uuid::Uuid::new_v4().simple());
    let mut auth = Command::new(env!("CARGO_BIN_EXE_conformance"));
    auth.args(["auth-api", "--listen", "127.0.0.1:0", "--issuer", ISSUER])
        .arg("--signing-key")
        .arg(conformance::dev_key_path())
        .env("AUTH_API_ADMIN_TOKEN", &admin);
    let (_auth, auth_plain) = crate::helpers::start_process(auth);
    let auth_url = pki.terminate(&auth_plain).await;

    // The recorder, a process of its own, reaching the auth-api over TLS;
    // the chat-api reaches it over TLS too.
    let (_proxy, proxy_url) =
        crate::helpers::start_proxy(&auth_url, &["--cacert".as_ref(), ca.as_os_str()]);
    let proxy_tls = pki.terminate(&proxy_url).await;

    // The chat-api's client, registered over HTTPS; the chat-api, a process
    // of its own, calls the recorder over TLS.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let client_id = "chat-api-staging";
    let secret = crate::helpers::register_chat_client(&http, &auth_url, &admin, client_id).await;
    let mut chat = Command::new(env!("CARGO_BIN_EXE_conformance"));
    chat.args(["chat-api", "--listen", "127.0.0.1:0", "--issuer", ISSUER])
        .args(["--auth-url", &proxy_tls, "--client-id", client_id])
        .arg("--auth-ca-cert")
        .arg(&ca)
        .env("CHAT_API_CLIENT_SECRET", &secret);
    let (_chat, chat_plain) = crate::helpers::start_process(chat);
    let chat_url = pki.terminate(&chat_plain).await;

    let report = dir.join("report.json");
    let mut run = Command::new(env!("CARGO_BIN_EXE_conformance"));
    run.args(["run", "--auth-url", &auth_url, "--chat-url", &chat_url])
        .args([
            "--admin-token",
            &admin,
            "--observe",
            &proxy_url,
            "--level",
            "strict",
        ])
        .arg("--cacert")
        .arg(&ca)
        .arg("--json")
        .arg(&report);
    let output = tokio::task::spawn_blocking(move || run.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    // Nothing skipped but what needs the signing key, which was not given;
    // the upstream faults and the observation checks ran.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let skipped: Vec<(&str, &str)> = checks
        .iter()
        .filter(|c| c["status"] == "skipped")
        .map(|c| (c["id"].as_str().unwrap(), c["message"].as_str().unwrap()))
        .collect();
    assert!(!skipped.is_empty());
    assert!(
        skipped.iter().all(|(_, why)| why.contains("signing-key")),
        "{skipped:#?}"
    );
    for id in [
        "core.chat.upstream.hang",
        "core.chat.upstream.unauthorized-retry",
        "core.chat.token-reuse.three-messages",
        "core.observed.service-token-for-groups",
    ] {
        let check = checks.iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(check["status"], "passed", "{check}");
    }

    // And the accounts it made are gone.
    // (How many depends on the property checks' generated cases.)
    assert!(
        stderr.contains("conformance: deleted the ") && !stderr.contains("could not delete"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}
