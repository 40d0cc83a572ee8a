//! A bounded soak of the reference on PostgreSQL + MongoDB (the stores the
//! tests use: `CONFORMANCE_*_URL`, else containers): the auth-api and the
//! chat-api as processes of their own (`reference-bench auth-api` /
//! `reference-bench chat-api`), mixed traffic on loopback from a few clients
//! (logins, service tokens, members, sends, listings), then figures:
//! throughput, p50/p99 per operation, the 5xx count, each service's resident
//! memory at start, after the warm-up and at the end. Stops by itself.
//!
//! `cargo bench -p reference-bench --bench soak`; `SOAK_SECONDS` (default 180)
//! and `SOAK_WARMUP_SECONDS` (default 30) set the durations. Exits 1 when a
//! 5xx was answered or a service's memory grew 10% or more after warm-up.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

mod common;

use common::Stack;

const CLIENTS: usize = 8;
const MEMBERS: usize = 10;

/// What the clients share: the accounts the traffic uses.
struct World {
    http: reqwest::Client,
    auth: String,
    chat: String,
    group: String,
    /// (email, password, token) of the group's members.
    users: Vec<(String, String, String)>,
    client: (String, String),
}

#[derive(Default)]
struct Tally {
    /// Latencies in microseconds, by operation.
    latencies: BTreeMap<&'static str, Vec<u64>>,
    /// 5xx answers, by operation and status.
    server_errors: BTreeMap<(&'static str, u16), usize>,
    /// Answers neither expected nor 5xx, by operation and status.
    unexpected: BTreeMap<(&'static str, u16), usize>,
}

/// One operation of the mix, chosen by `n`; its name, the status it should
/// get and the request.
fn operation(world: &World, n: usize) -> (&'static str, u16, reqwest::RequestBuilder) {
    let (email, password, token) = &world.users[n % world.users.len()];
    let (http, auth, chat, group) = (&world.http, &world.auth, &world.chat, &world.group);
    match n % 20 {
        0 => (
            "login",
            200,
            http.post(format!("{auth}/auth/login"))
                .json(&json!({ "email": email, "password": password })),
        ),
        1..=3 => (
            "service token",
            200,
            http.post(format!("{auth}/oauth/token"))
                .basic_auth(&world.client.0, Some(&world.client.1))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "groups:read"),
                ]),
        ),
        4..=7 => (
            "members (user)",
            200,
            http.get(format!("{auth}/api/auth/groups/{group}/members"))
                .bearer_auth(token),
        ),
        8..=13 => (
            "send",
            201,
            http.post(format!("{chat}/api/chat/groups/{group}/messages"))
                .bearer_auth(token)
                .json(&json!({ "content": format!("soak message {n}") })),
        ),
        _ => (
            "list",
            200,
            http.get(format!("{chat}/api/chat/groups/{group}/messages?limit=20"))
                .bearer_auth(token),
        ),
    }
}

async fn client(
    world: Arc<World>,
    tally: Arc<Mutex<Tally>>,
    running: Arc<AtomicBool>,
    first: usize,
) {
    let mut n = first;
    while running.load(Ordering::Acquire) {
        let (what, expected, request) = operation(&world, n);
        n += 7;
        let started = Instant::now();
        let status = match request.send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                let _ = answer.bytes().await;
                status
            }
            Err(_) => 0,
        };
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut tally = tally.lock().unwrap();
        tally.latencies.entry(what).or_default().push(took);
        if status >= 500 || status == 0 {
            *tally.server_errors.entry((what, status)).or_default() += 1;
        } else if status != expected {
            *tally.unexpected.entry((what, status)).or_default() += 1;
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    #[allow(clippy::cast_precision_loss)]
    let ms = sorted[index] as f64 / 1000.0;
    ms
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("soak: a benchmark; run it with `cargo bench -p reference-bench --bench soak`");
        return;
    }
    let (length, warmup) = (
        common::seconds("SOAK_SECONDS", 180),
        common::seconds("SOAK_WARMUP_SECONDS", 30),
    );
    let stack = Stack::start(MEMBERS).await;
    let (auth, chat) = (&stack.auth, &stack.chat);
    let world = Arc::new(World {
        http: reqwest::Client::new(),
        auth: auth.url.clone(),
        chat: chat.url.clone(),
        group: stack.group.clone(),
        users: stack
            .members
            .iter()
            .map(|m| (m.email.clone(), m.password.clone(), m.token.clone()))
            .collect(),
        client: stack.reader.clone(),
    });
    let tokens_at_start = stack.tokens_issued_to_chat();

    let at_start = (auth.memory_kib().0, chat.memory_kib().0);
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(world.clone(), tally.clone(), running.clone(), i)))
        .collect();
    tokio::time::sleep(warmup).await;
    let after_warmup = (auth.memory_kib().0, chat.memory_kib().0);
    let measured_from = Instant::now();
    *tally.lock().unwrap() = Tally::default();
    tokio::time::sleep(length.saturating_sub(warmup)).await;
    running.store(false, Ordering::Release);
    for c in clients {
        c.await.unwrap();
    }
    let measured = measured_from.elapsed().as_secs_f64();
    let at_end = (auth.memory_kib().0, chat.memory_kib().0);

    let tally = tally.lock().unwrap();
    println!(
        "soak: {CLIENTS} clients, {:.0} s measured after a {} s warm-up, PostgreSQL + MongoDB, {} cores",
        measured,
        warmup.as_secs(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9}",
        "operation", "count", "req/s", "p50 ms", "p99 ms"
    );
    let mut total = 0;
    for (what, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_unstable();
        total += sorted.len();
        #[allow(clippy::cast_precision_loss)]
        let rate = sorted.len() as f64 / measured;
        println!(
            "{what:<16} {:>9} {rate:>9.0} {:>9.1} {:>9.1}",
            sorted.len(),
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99)
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / measured;
    println!("{:<16} {total:>9} {rate:>9.0}", "all");
    let server_errors: usize = tally.server_errors.values().sum();
    println!(
        "5xx (or no answer): {server_errors} {:?}",
        tally.server_errors
    );
    if !tally.unexpected.is_empty() {
        println!("other unexpected statuses: {:?}", tally.unexpected);
    }
    let mut grew_too_much = false;
    for (name, start, warm, end) in [
        ("auth-api", at_start.0, after_warmup.0, at_end.0),
        ("chat-api", at_start.1, after_warmup.1, at_end.1),
    ] {
        #[allow(clippy::cast_precision_loss)]
        let growth = (end as f64 - warm as f64) / warm.max(1) as f64 * 100.0;
        grew_too_much |= growth >= 10.0;
        println!(
            "{name} resident memory: {} MiB at start, {} MiB after warm-up, {} MiB at the end ({growth:+.1}% after warm-up)",
            start / 1024,
            warm / 1024,
            end / 1024
        );
    }
    println!(
        "service tokens the chat-api fetched: {} in {:.0} s",
        stack.tokens_issued_to_chat() - tokens_at_start,
        measured + warmup.as_secs_f64()
    );
    for (name, service) in [("auth-api", auth), ("chat-api", chat)] {
        println!(
            "{name} peak resident memory: {} MiB",
            service.memory_kib().1 / 1024
        );
    }
    if server_errors > 0 || grew_too_much {
        println!("soak: FAILED (a 5xx, or memory grew 10% or more after warm-up)");
        drop(stack);
        std::process::exit(1);
    }
    println!("soak: passed (no 5xx, memory growth under 10% after warm-up)");
}
