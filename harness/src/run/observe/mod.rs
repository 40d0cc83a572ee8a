//! Observation of the calls between the services: a recording proxy put
//! between the chat-api and the auth-api (by the reference stack, or by an
//! operator with `conformance proxy`), and the hops of each step, so that
//! a failure can be drawn as the sequence of calls that led to it.
//!
//! Each request the harness sends carries a W3C `traceparent` with a trace
//! id of its own; a chat-api that passes it on to the auth-api (the
//! reference does) lets the recorder attribute each upstream call to the
//! request that caused it, even with scenarios running concurrently.
//! Calls without a trace id are attributed by time.
//!
//! Layout: this module keeps what was seen (`Recorder`) and reads it
//! (`Observer`); `proxy` is the recording proxy; `faults` the upstream
//! failures it can answer in the auth-api's place.

mod faults;
mod proxy;

use std::sync::{Arc, Mutex};

use crate::run::hop::Hop;

pub use faults::{FAULTS_PATH, Fault, order};
pub use proxy::serve_proxy;
#[cfg(feature = "reference")]
pub use proxy::start_proxy;

/// The path under which a recorder answers with what it saw.
pub const HOPS_PATH: &str = "/.conformance/hops";

/// The most hops a recorder keeps: a proxy that runs for days stays
/// bounded, and a run reads the newest.
pub const MAX_HOPS: usize = 20_000;

/// The hops a recorder has seen, the newest [`MAX_HOPS`].
#[derive(Debug, Default)]
pub struct Recorder {
    hops: Mutex<std::collections::VecDeque<Hop>>,
}

impl Recorder {
    fn record(&self, hop: Hop) {
        let mut hops = self
            .hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if hops.len() == MAX_HOPS {
            hops.pop_front();
        }
        hops.push_back(hop);
    }

    /// Every call so far, in order.
    pub fn hops(&self) -> Vec<Hop> {
        self.hops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Where the harness reads the calls between the services from.
#[derive(Debug, Clone)]
pub enum Observer {
    /// A recorder in this process (the reference stack).
    Local(Arc<Recorder>),
    /// A `conformance proxy` elsewhere, at this URL.
    Remote(String),
}

impl Observer {
    /// Every call recorded so far, or why the recorder could not say: a
    /// recorder that does not answer has not seen "nothing".
    pub async fn hops(&self, http: &reqwest::Client) -> Result<Vec<Hop>, String> {
        match self {
            Self::Local(recorder) => Ok(recorder.hops()),
            Self::Remote(url) => {
                let at = format!("{url}{HOPS_PATH}");
                let response = http
                    .get(&at)
                    .send()
                    .await
                    .map_err(|e| format!("the recorder at {at} does not answer: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!(
                        "the recorder at {at} answered {}",
                        response.status()
                    ));
                }
                response
                    .json()
                    .await
                    .map_err(|e| format!("the recorder at {at} answered no list of calls: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    fn hop(n: u64) -> Hop {
        Hop {
            from: "chat-api".to_owned(),
            to: "auth-api".to_owned(),
            method: "GET".to_owned(),
            path: "/".to_owned(),
            status: 200,
            error: None,
            credential: None,
            scope: None,
            duration_ms: 0,
            started_ms: n,
            trace: None,
        }
    }

    #[test]
    fn a_recorder_keeps_the_newest_hops_only() {
        let recorder = Recorder::default();
        for n in 0..(MAX_HOPS as u64 + 5) {
            recorder.record(hop(n));
        }
        let hops = recorder.hops();
        assert_eq!(hops.len(), MAX_HOPS);
        assert_eq!(hops[0].started_ms, 5);
    }

    /// Bodies of any size pass through the proxy unchanged, both ways.
    #[tokio::test]
    async fn the_proxy_passes_large_bodies_through_unchanged() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
        let echo = axum::Router::new()
            .fallback(|body: axum::body::Bytes| async move { body })
            .layer(axum::extract::DefaultBodyLimit::disable());
        tokio::spawn(async move { axum::serve(upstream, echo).await });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("http://{}", listener.local_addr().unwrap());
        let recorder = Arc::new(Recorder::default());
        let _task = serve_proxy(listener, &upstream_url, recorder.clone(), None).unwrap();
        let body: Vec<u8> = (0..3 * 1024 * 1024_u32)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let answer = reqwest::Client::new()
            .post(format!("{proxy_url}/api/auth/anything"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.bytes().await.unwrap().as_ref(), body.as_slice());
        assert_eq!(recorder.hops().len(), 1);
    }
}
