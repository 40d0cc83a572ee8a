//! `conformance proxy` in front of a deployment's auth-api, and `run
//! --observe`: the checks that need observation run against a deployment
//! the harness did not start.

use std::process::{Command, Stdio};

use crate::helpers::{Killed, start_chat, start_proxy};

use reference_shared::Secret;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_in_front_of_a_deployment_makes_the_observation_checks_run() {
    let admin = Secret::new(format!("admin-{}", uuid::Uuid::new_v4().simple()));
    let mut auth_config = auth_api::Config::local(conformance::dev_key_path());
    auth_config.admin_token = Some(admin.clone());
    let auth = auth_api::Application::build(auth_config).await.unwrap();
    let auth_url = auth.url();
    tokio::spawn(auth.run_until_stopped());
    let (_proxy, proxy_url) = tokio::task::spawn_blocking({
        let auth_url = auth_url.clone();
        move || start_proxy(&auth_url, &[])
    })
    .await
    .unwrap();
    let chat_url = start_chat(
        &reqwest::Client::new(),
        &auth_url,
        admin.expose(),
        "chat-api-observed",
        &proxy_url,
        |config| config.issuer = Some(auth_url.clone()),
    )
    .await;

    let run = |observe: Option<String>, only: Option<&str>, extra: &[&str]| {
        let only = only.map(str::to_owned);
        let extra: Vec<String> = extra.iter().map(|&a| a.to_owned()).collect();
        let mut args = vec![
            "run".to_owned(),
            "--auth-url".to_owned(),
            auth_url.clone(),
            "--chat-url".to_owned(),
            chat_url.clone(),
            "--admin-token".to_owned(),
            admin.expose().to_owned(),
            "--level".to_owned(),
            "strict".to_owned(),
        ];
        match only {
            Some(prefix) => args.extend([
                "--only".to_owned(),
                prefix,
                "--signing-key".to_owned(),
                conformance::dev_key_path().display().to_string(),
            ]),
            None => args.extend(["--tag".to_owned(), "service-token".to_owned()]),
        }
        if let Some(url) = observe {
            args.extend(["--observe".to_owned(), url]);
        }
        args.extend(extra);
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_conformance"))
                .args(args)
                .output()
                .unwrap()
        })
    };
    let observed = run(Some(proxy_url.clone()), None, &[]).await.unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&observed.stdout),
        String::from_utf8_lossy(&observed.stderr)
    );
    assert_eq!(observed.status.code(), Some(0), "{out}");
    for id in [
        "pass core.chat.token-reuse.three-messages",
        "pass core.observed.service-token-for-groups",
        "pass strict.observed.token-scope",
    ] {
        assert!(out.contains(id), "{id} in {out}");
    }

    // Without --observe: passes, saying what it did not cover and why;
    // with --complete the same run fails on it.
    let blind = run(None, None, &[]).await.unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&blind.stdout),
        String::from_utf8_lossy(&blind.stderr)
    );
    assert!(out.contains("skip strict.observed.token-scope"), "{out}");
    assert_eq!(blind.status.code(), Some(0), "{out}");
    assert!(out.contains("not covered: "), "{out}");
    assert!(
        out.contains("strict: ") && out.contains("needs observation"),
        "{out}"
    );
    let complete = run(None, None, &["--complete"]).await.unwrap();
    let out = String::from_utf8_lossy(&complete.stdout).into_owned();
    assert_eq!(complete.status.code(), Some(1), "{out}");
    assert!(out.contains("--complete fails the run on them"), "{out}");

    // A misconfigured deployment: the proxy named by --observe runs, but
    // the chat-api talks to the auth-api directly. Zero calls seen is no
    // evidence of "at most one": the counts are skipped, saying why.
    let (_unused, unused_url) = tokio::task::spawn_blocking({
        let auth_url = auth_url.clone();
        move || start_proxy(&auth_url, &[])
    })
    .await
    .unwrap();
    for only in ["strict.jwks-refresh.", "core.chat.token-reuse."] {
        let bypassed = run(Some(unused_url.clone()), Some(only), &[])
            .await
            .unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&bypassed.stdout),
            String::from_utf8_lossy(&bypassed.stderr)
        );
        assert!(!out.contains("pass "), "{only}: {out}");
        assert!(out.contains("does not stand between"), "{only}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_keeps_serving_after_its_output_is_closed() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = free.local_addr().unwrap();
    drop(free);
    let mut child = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args([
            "proxy",
            "--listen",
            &address.to_string(),
            "--upstream",
            "http://127.0.0.1:9",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Whoever started it stops reading before it has said anything.
    drop(child.stdout.take());
    let proxy = Killed(child);
    let url = format!("http://{address}{}", conformance::HOPS_PATH);
    let mut answered = false;
    for _ in 0..50 {
        if let Ok(response) = reqwest::get(&url).await {
            answered = response.status().is_success();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(answered, "the proxy answers at {url}");
    drop(proxy);
}

/// A chat-api that does not pass the `traceparent` on: the scenarios that
/// count calls run alone, so they still pass, and a failure's diagram says
/// its calls were attributed by time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trace_propagation_calls_are_attributed_by_time() {
    fn untraced() -> conformance::ChatFault {
        Box::new(|router, _| {
            router.layer(axum::middleware::from_fn(
                |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                    request.headers_mut().remove("traceparent");
                    next.run(request).await
                },
            ))
        })
    }
    let report = crate::helpers::run_with_faults(None, Some(untraced())).await;
    assert_eq!(
        crate::helpers::failed(&report),
        std::collections::BTreeSet::new(),
        "observation without trace ids is no reason to fail"
    );
    let report =
        crate::helpers::run_with_faults(Some(crate::faults::seed_bug()), Some(untraced())).await;
    let send = crate::helpers::outcome(&report, "core.seed.send");
    let diagram = send.diagram.as_deref().expect("a diagram of the send");
    assert!(diagram.contains("attributed by time"), "{diagram}");
    let traced = crate::helpers::run_with_faults(Some(crate::faults::seed_bug()), None).await;
    let diagram = crate::helpers::outcome(&traced, "core.seed.send")
        .diagram
        .clone()
        .unwrap();
    assert!(diagram.contains("attributed by W3C trace id"), "{diagram}");
}
