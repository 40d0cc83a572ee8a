//! Fronts that put another server's connection management before a
//! reference service: a Python server (uvicorn), a server that closes idle
//! connections, one that closes after every answer without saying so, one
//! that closes on an oversized body, one that answers nothing but its
//! health. Each forwards what it does answer byte for byte.

#[path = "../common/python.rs"]
mod python;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::Killed;

/// The pinned uvicorn and what it imports.
const UVICORN: &str = include_str!("../../../fixtures/uvicorn/requirements.txt");

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// A listener on a free local port and its URL.
async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// The request's head (and whatever of its body came with it), or `None`
/// when the connection closed first.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    Some(head)
}

/// The reference service `upstream` served by uvicorn (fixtures/uvicorn/front.py
/// on the pinned uvicorn, installed into a virtual environment on first
/// use), closing connections idle for `keep_alive_secs` as uvicorn does
/// (5 s by default). The process and its URL.
pub async fn uvicorn(upstream: &str, keep_alive_secs: u32) -> (Killed, String) {
    let target_tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let bin = python::virtual_environment(target_tmp, "uvicorn", UVICORN);
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/uvicorn");
    let child = Killed(
        std::process::Command::new(bin.join("uvicorn"))
            .arg("front:app")
            .arg("--app-dir")
            .arg(app_dir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--timeout-keep-alive", &keep_alive_secs.to_string()])
            .args(["--no-date-header", "--no-server-header", "--no-access-log"])
            .args(["--log-level", "warning"])
            .env("UPSTREAM", authority(upstream))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("uvicorn starts"),
    );
    let address = format!("127.0.0.1:{port}");
    for _ in 0..200 {
        if TcpStream::connect(&address).await.is_ok() {
            return (child, format!("http://{address}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("uvicorn did not listen on {address} within 10 s");
}

/// A TCP front that closes a connection, without a word, once it has been
/// idle `idle` after an answer, as uvicorn and Node do after 5 s between
/// requests (never while a request waits for its answer). Returns its URL.
pub async fn idle_closing(upstream: &str, idle: Duration) -> String {
    let (listener, url) = listen().await;
    let upstream = authority(upstream);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_in, mut client_out) = client.into_split();
                let (mut server_in, mut server_out) = server.into_split();
                let (mut asked, mut answer) = ([0u8; 16384], [0u8; 16384]);
                // Whether the last bytes were the server's: between requests.
                let mut between = false;
                loop {
                    let timer = async {
                        if between {
                            tokio::time::sleep(idle).await;
                        } else {
                            std::future::pending::<()>().await;
                        }
                    };
                    tokio::select! {
                        read = client_in.read(&mut asked) => match read {
                            Ok(n) if n > 0 => {
                                between = false;
                                if server_out.write_all(&asked[..n]).await.is_err() {
                                    return;
                                }
                            }
                            _ => return,
                        },
                        read = server_in.read(&mut answer) => match read {
                            Ok(n) if n > 0 => {
                                between = true;
                                if client_out.write_all(&answer[..n]).await.is_err() {
                                    return;
                                }
                            }
                            _ => return,
                        },
                        () = timer => return,
                    }
                }
            });
        }
    });
    url
}

/// A TCP front that answers one request per connection and closes it,
/// without a `Connection: close` to warn the client: the service answers
/// a request asking it to close, and the front takes that header out of
/// the answer. A request `answers` refuses is not passed on: its
/// connection closes unanswered.
async fn one_answer_per_connection(upstream: &str, answers: fn(&[u8]) -> bool) -> String {
    let (listener, url) = listen().await;
    let upstream = authority(upstream);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                if !answers(&head) {
                    return;
                }
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let line = head.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                let mut asked = head[..line].to_vec();
                asked.extend_from_slice(b"connection: close\r\n");
                asked.extend_from_slice(&head[line..]);
                if server.write_all(&asked).await.is_err() {
                    return;
                }
                let (mut client_in, mut client_out) = client.into_split();
                let (mut server_in, mut server_out) = server.into_split();
                let body = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_in, &mut server_out).await;
                });
                let mut answer = Vec::new();
                let _ = server_in.read_to_end(&mut answer).await;
                body.abort();
                let _ = client_out.write_all(&unwarned(&answer)).await;
            });
        }
    });
    url
}

/// The answer without its `Connection: close` header.
fn unwarned(answer: &[u8]) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer.to_vec();
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|line| !line.eq_ignore_ascii_case("connection: close"))
        .collect();
    let mut out = kept.join("\r\n").into_bytes();
    out.extend_from_slice(&answer[end..]);
    out
}

/// A TCP front that closes every connection after its first answer, without
/// saying it will: the client learns it only when it sends the next request
/// on that connection.
pub async fn closing_after_every_answer(upstream: &str) -> String {
    one_answer_per_connection(upstream, |_| true).await
}

/// A TCP front that answers `GET /health` and closes every other request's
/// connection unanswered: a server that passes a liveness probe and answers
/// nothing else.
pub async fn answering_only_health(upstream: &str) -> String {
    one_answer_per_connection(upstream, |head| head.starts_with(b"GET /health ")).await
}

/// A TCP front for a service that closes the connection, without an
/// answer, on any request announcing a body over 1 MiB (RFC 9110 §15.5.14
/// allows it), and forwards everything else. With `then_dead`, it stops
/// answering at all after the first such close, as a crashed server would.
/// Returns its URL and how many connections it closed that way.
pub async fn closing_on_oversized_body(
    upstream: &str,
    then_dead: bool,
) -> (String, Arc<AtomicUsize>) {
    let (listener, url) = listen().await;
    let upstream = authority(upstream);
    let closed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&closed);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            if then_dead && counter.load(Ordering::SeqCst) > 0 {
                continue; // dropped: the connection closes unanswered
            }
            let upstream = upstream.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if length > 1024 * 1024 {
                    counter.fetch_add(1, Ordering::SeqCst);
                    return; // closed with the body unread: the client's send fails
                }
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                if server.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (url, closed)
}
