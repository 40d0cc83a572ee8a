//! The reference against a bare server doing only the essential work of
//! each endpoint, in one run on one machine: `cargo bench -p reference-bench`.
//!
//! It starts, as processes of their own, the reference auth-api and
//! chat-api on PostgreSQL + MongoDB (the stores the tests use:
//! `CONFORMANCE_*_URL`, else containers) and the bare server (`src/bare.rs`)
//! on the same databases with the same key, then loads each endpoint of both
//! from one thread with 32 connections (like `wrk -t1 -c32`): the service
//! token (`POST /oauth/token`, Basic), the members of a 10-member group with
//! a service token, and a send with a user token. The two servers take
//! turns in short rounds, so that whatever else the machine does weighs on
//! both alike. It prints req/s, p50, p99, the ratio to bare, each process's
//! resident memory, and how many service tokens the chat-api fetched during
//! the sends; it exits 1 when a target is missed or an answer was not the
//! expected status.
//!
//! `BENCH_SECONDS` (default 10) is each server's load time per endpoint.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{Service, Stack, json_of};

/// Connections the load keeps open to the server under load.
const CONNECTIONS: usize = 32;
/// Members of the group the members and send loads use.
const MEMBERS: usize = 10;
/// Rounds each server's load time is split into, the servers taking turns.
const ROUNDS: u32 = 4;
/// The auth-api's service token lifetime, in seconds (its default).
const SERVICE_TOKEN_TTL: f64 = 300.0;

/// One measured endpoint: what to send, and the status it must get.
#[derive(Clone)]
struct Endpoint {
    name: &'static str,
    method: reqwest::Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    expected: u16,
    /// The lowest ratio of the reference's throughput to bare's.
    target: f64,
}

/// CPU time in clock ticks (`USER_HZ`, 100 a second on Linux) of a
/// process, from `/proc/<pid>/stat` (user + system).
fn process_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Busy CPU time of the whole machine in clock ticks, from `/proc/stat`
/// (user, nice, system, irq, softirq, steal).
fn machine_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| cpu.get(i).copied().unwrap_or(0))
        .sum()
}

/// CPU ticks so far of the services, of this process (the load), and of
/// the machine.
fn ticks(services: &[u32]) -> [u64; 3] {
    [
        services.iter().map(|p| process_ticks(&p.to_string())).sum(),
        process_ticks("self"),
        machine_ticks(),
    ]
}

/// What one load measured.
#[derive(Default)]
struct Measured {
    seconds: f64,
    /// CPU ticks spent meanwhile by the server's processes, by the load,
    /// and by the whole machine.
    cpu: [u64; 3],
    /// Latencies of every answer, in microseconds.
    latencies: Vec<u64>,
    /// Answers other than the expected status, by status (0: no answer).
    unexpected: BTreeMap<u16, usize>,
}

impl Measured {
    fn add(&mut self, other: Measured) {
        self.seconds += other.seconds;
        for (sum, ticks) in self.cpu.iter_mut().zip(other.cpu) {
            *sum += ticks;
        }
        self.latencies.extend(other.latencies);
        for (status, n) in other.unexpected {
            *self.unexpected.entry(status).or_default() += n;
        }
    }

    /// CPU microseconds per request: the server's, the load's, and the rest
    /// of the machine's (the databases, mostly).
    #[allow(clippy::cast_precision_loss)]
    fn cpu_per_request(&self) -> [f64; 3] {
        let per = |ticks: u64| ticks as f64 * 10_000.0 / self.latencies.len().max(1) as f64;
        let [server, load, machine] = self.cpu;
        [
            per(server),
            per(load),
            per(machine.saturating_sub(server + load)),
        ]
    }

    #[allow(clippy::cast_precision_loss)]
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds.max(f64::EPSILON)
    }

    /// The `p` quantile of the latencies, in milliseconds.
    fn quantile_ms(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort_unstable();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        #[allow(clippy::cast_precision_loss)]
        let ms = self.latencies[index] as f64 / 1000.0;
        ms
    }
}

/// Loads `endpoint` at `server` (its processes: `pids`) for `length` from
/// a thread of its own (one core at most, like `wrk -t1`) with
/// [`CONNECTIONS`] connections.
fn load(server: &(String, Vec<u32>), endpoint: &Endpoint, length: Duration) -> Measured {
    let before = ticks(&server.1);
    let mut measured = load_from_a_thread(&server.0, endpoint, length);
    let after = ticks(&server.1);
    for ((sum, a), b) in measured.cpu.iter_mut().zip(after).zip(before) {
        *sum = a.saturating_sub(b);
    }
    measured
}

fn load_from_a_thread(base: &str, endpoint: &Endpoint, length: Duration) -> Measured {
    let (base, endpoint) = (base.to_owned(), endpoint.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(CONNECTIONS)
                .build()
                .unwrap();
            let endpoint = Arc::new(endpoint);
            let url = Arc::new(format!("{base}{}", endpoint.path));
            let started = Instant::now();
            let until = started + length;
            let connections: Vec<_> = (0..CONNECTIONS)
                .map(|_| {
                    let (http, endpoint, url) = (http.clone(), endpoint.clone(), url.clone());
                    tokio::spawn(async move {
                        let mut measured = Measured::default();
                        while Instant::now() < until {
                            let mut request = http.request(endpoint.method.clone(), url.as_str());
                            for (name, value) in &endpoint.headers {
                                request = request.header(*name, value);
                            }
                            let sent = Instant::now();
                            let status = match request.body(endpoint.body.clone()).send().await {
                                Ok(answer) => {
                                    let status = answer.status().as_u16();
                                    let _ = answer.bytes().await;
                                    status
                                }
                                Err(_) => 0,
                            };
                            measured.latencies.push(
                                u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                            );
                            if status != endpoint.expected {
                                *measured.unexpected.entry(status).or_default() += 1;
                            }
                        }
                        measured
                    })
                })
                .collect();
            let mut all = Measured::default();
            for connection in connections {
                all.add(connection.await.unwrap());
            }
            all.seconds = started.elapsed().as_secs_f64();
            all
        })
    })
    .join()
    .unwrap()
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("performance: a benchmark; run it with `cargo bench -p reference-bench`");
        return;
    }
    // Every process and database is gone once `measure` returns.
    let missed = measure().await;
    if missed.is_empty() {
        println!("performance: every target met");
    } else {
        for miss in &missed {
            println!("MISSED: {miss}");
        }
        std::process::exit(1);
    }
}

/// Runs the benchmark and prints its figures; the targets it missed.
async fn measure() -> Vec<String> {
    let length = common::seconds("BENCH_SECONDS", 10);
    let stack = Stack::start(MEMBERS).await;
    let (auth, chat, group) = (&stack.auth, &stack.chat, &stack.group);
    let (reader_id, reader_secret) = &stack.reader;
    let http = reqwest::Client::new();
    let service_token = json_of(
        http.post(format!("{}/oauth/token", auth.url))
            .basic_auth(reader_id, Some(reader_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let metadata = json_of(http.get(format!(
        "{}/.well-known/oauth-authorization-server",
        auth.url
    )))
    .await;
    let key = common::key_path();

    let bare = Service::start(
        &[
            "bare",
            "--signing-key",
            &key,
            "--issuer",
            metadata["issuer"].as_str().unwrap(),
            "--client-id",
            reader_id,
            "--mongo-database",
            stack.mongo.name(),
        ],
        &[
            ("BARE_CLIENT_SECRET", reader_secret),
            ("BARE_DATABASE_URL", stack.postgres.url()),
            ("BARE_MONGO_URI", stack.mongo.uri()),
        ],
        Stdio::null(),
    );

    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{reader_id}:{reader_secret}")
        )
    );
    let endpoints = [
        (
            Endpoint {
                name: "POST /oauth/token (Basic)",
                method: reqwest::Method::POST,
                path: "/oauth/token".to_owned(),
                headers: vec![
                    ("authorization", basic),
                    (
                        "content-type",
                        "application/x-www-form-urlencoded".to_owned(),
                    ),
                ],
                body: "grant_type=client_credentials&scope=groups%3Aread".to_owned(),
                expected: 200,
                target: 0.70,
            },
            auth,
        ),
        (
            Endpoint {
                name: "GET …/members (service)",
                method: reqwest::Method::GET,
                path: format!("/api/auth/groups/{group}/members"),
                headers: vec![("authorization", format!("Bearer {service_token}"))],
                body: String::new(),
                expected: 200,
                target: 0.60,
            },
            auth,
        ),
        (
            Endpoint {
                name: "POST …/messages (user)",
                method: reqwest::Method::POST,
                path: format!("/api/chat/groups/{group}/messages"),
                headers: vec![
                    (
                        "authorization",
                        format!("Bearer {}", stack.members[1].token),
                    ),
                    ("content-type", "application/json".to_owned()),
                ],
                body: json!({ "content": "a benchmark message" }).to_string(),
                expected: 201,
                target: 0.50,
            },
            chat,
        ),
    ];

    println!(
        "performance: {} cores, {CONNECTIONS} connections from one thread, {} s per server and endpoint in {ROUNDS} rounds, PostgreSQL + MongoDB",
        std::thread::available_parallelism().map_or(0, usize::from),
        length.as_secs()
    );
    println!(
        "{:<28} {:<10} {:>9} {:>8} {:>8} {:>7}",
        "endpoint", "server", "req/s", "p50 ms", "p99 ms", "ratio"
    );
    let mut missed = Vec::new();
    let mut tokens_during_sends = (0, 0.0);
    let bare_server = (bare.url.clone(), vec![bare.pid()]);
    let mut cpu_lines = Vec::new();
    for (endpoint, reference) in &endpoints {
        // The reference's processes: the auth-api, and for a send the
        // chat-api too (which calls the auth-api three times).
        let pids = if endpoint.expected == 201 {
            vec![auth.pid(), chat.pid()]
        } else {
            vec![auth.pid()]
        };
        let reference = &(reference.url.clone(), pids);
        let tokens_before = stack.tokens_issued_to_chat();
        let started = Instant::now();
        // A warm-up for both: connections, caches, the chat-api's token.
        load(reference, endpoint, Duration::from_secs(1));
        load(&bare_server, endpoint, Duration::from_secs(1));
        let (mut ours, mut theirs) = (Measured::default(), Measured::default());
        let round = length / ROUNDS;
        for i in 0..ROUNDS {
            if i % 2 == 0 {
                ours.add(load(reference, endpoint, round));
                theirs.add(load(&bare_server, endpoint, round));
            } else {
                theirs.add(load(&bare_server, endpoint, round));
                ours.add(load(reference, endpoint, round));
            }
        }
        if endpoint.expected == 201 {
            tokens_during_sends = (
                stack.tokens_issued_to_chat() - tokens_before,
                started.elapsed().as_secs_f64(),
            );
        }
        for (server, measured) in [("reference", &ours), ("bare", &theirs)] {
            let [service, load, rest] = measured.cpu_per_request();
            cpu_lines.push(format!(
                "{:<28} {server:<10} {service:>9.0} {load:>9.0} {rest:>9.0}",
                endpoint.name
            ));
        }
        let ratio = ours.rate() / theirs.rate();
        let (p99_ours, p99_theirs) = (ours.quantile_ms(0.99), theirs.quantile_ms(0.99));
        for (server, measured, shown) in [
            ("reference", &mut ours, format!("{ratio:.2}")),
            ("bare", &mut theirs, String::new()),
        ] {
            println!(
                "{:<28} {server:<10} {:>9.0} {:>8.2} {:>8.2} {shown:>7}",
                endpoint.name,
                measured.rate(),
                measured.quantile_ms(0.5),
                measured.quantile_ms(0.99)
            );
            if !measured.unexpected.is_empty() {
                missed.push(format!(
                    "{} at {server}: unexpected statuses {:?} (0: no answer)",
                    endpoint.name, measured.unexpected
                ));
            }
        }
        if ratio < endpoint.target {
            missed.push(format!(
                "{}: ratio {ratio:.2} under {:.2}",
                endpoint.name, endpoint.target
            ));
        }
        if p99_ours > 2.0 * p99_theirs {
            missed.push(format!(
                "{}: p99 {p99_ours:.2} ms over twice bare's {p99_theirs:.2} ms",
                endpoint.name
            ));
        }
    }
    println!(
        "CPU per request, µs ({:<28} {:<10} {:>9} {:>9} {:>9})",
        "endpoint", "server", "server", "load", "rest"
    );
    for line in &cpu_lines {
        println!("{line}");
    }
    for (name, service) in [("auth-api", auth), ("chat-api", chat), ("bare", &bare)] {
        let (now, peak) = service.memory_kib();
        println!(
            "{name} resident memory: {} MiB, peak {} MiB",
            now / 1024,
            peak / 1024
        );
    }
    let (fetched, during) = tokens_during_sends;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let allowed = (during / SERVICE_TOKEN_TTL).ceil().max(1.0) as usize;
    println!(
        "service tokens the chat-api fetched during the sends ({during:.0} s, a token lives {SERVICE_TOKEN_TTL:.0} s): {fetched} (at most {allowed})"
    );
    if fetched > allowed {
        missed.push(format!(
            "the chat-api fetched {fetched} service tokens in {during:.0} s"
        ));
    }
    missed
}
