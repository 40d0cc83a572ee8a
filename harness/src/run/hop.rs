//! One call between two parties (the harness and a service, or the
//! chat-api and the auth-api), as the harness sees it: how it is timed,
//! traced and described. No body, header or secret is kept. Both the
//! client that makes the harness's calls and the recorder that sees the
//! services' use it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One call, from the harness to a service or from the chat-api to the
/// auth-api. No body, header or secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The caller: `harness` or `chat-api`.
    pub from: String,
    /// The callee: `auth-api` or `chat-api`.
    pub to: String,
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// The answer's `error` code, when it is the contract's error body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How the caller authenticated: `user token`, `service token`,
    /// `client credentials`, `bearer` (unreadable), or nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The scope a token request asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// How long the answer took.
    pub duration_ms: u64,
    /// When the call started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// The W3C trace id it carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

impl Hop {
    /// Whether this hop answered with an error.
    pub fn failed(&self) -> bool {
        self.status >= 400
    }

    /// Whether `call`, seen between the services, was made while this
    /// request of the harness was in flight. The window's ends are whole
    /// milliseconds rounded outwards (see [`Stopwatch`]) and the recorder
    /// stamps a call by the floor of its start, so a call made in flight
    /// always falls inside.
    pub fn in_flight(&self, call: &Self) -> bool {
        (self.started_ms..=self.started_ms.saturating_add(self.duration_ms))
            .contains(&call.started_ms)
    }

    /// Whether this request of the harness caused `call`: by W3C trace id
    /// when both carry one (the chat-api passed the harness's on), else by
    /// time. The one attribution of the crate: diagrams and counts use it.
    pub fn caused(&self, call: &Self) -> bool {
        match (&self.trace, &call.trace) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => self.in_flight(call),
        }
    }
}

/// Times a request for its [`Hop`]: its start as the floor of the
/// millisecond, its duration up to the ceiling of the millisecond it ended
/// in, so that `[started_ms, started_ms + duration_ms]` holds every instant
/// it was in flight (a window of floored ends lost up to 2 ms, and with it
/// calls made at the very end of a fast exchange).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    started: Instant,
    started_us: u128,
}

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            started_us: now_us(),
        }
    }

    /// The start, in whole milliseconds since the Unix epoch (floor).
    pub fn started_ms(&self) -> u64 {
        u64::try_from(self.started_us / 1000).unwrap_or(u64::MAX)
    }

    /// Milliseconds from `started_ms` to the ceiling of now.
    pub fn duration_ms(&self) -> u64 {
        let ended = (self.started_us + self.started.elapsed().as_micros()).div_ceil(1000);
        u64::try_from(ended).unwrap_or(u64::MAX) - self.started_ms()
    }
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A fresh `traceparent` and its trace id.
pub fn new_traceparent() -> (String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    (format!("00-{trace}-{span}-01"), trace)
}

/// The trace id of a request's `traceparent`, when it carries one.
pub fn trace_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let trace = value.split('-').nth(1)?;
    (trace.len() == 32).then(|| trace.to_ascii_lowercase())
}

/// What kind of credentials an `Authorization` header holds, read without
/// verifying anything.
pub fn credential_kind(authorization: Option<&str>) -> Option<String> {
    let value = authorization?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some("client credentials".to_owned());
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Some(scheme.to_lowercase());
    }
    let claims = crate::jwt::claims(rest.trim());
    Some(
        match claims {
            Some(c) if c.get("client_id").is_some() => "service token",
            Some(c) if c["type"] == "access" => "user token",
            _ => "bearer",
        }
        .to_owned(),
    )
}

/// The `error` code of a contract error body.
pub fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value["error"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopwatch_window_holds_every_instant_in_flight() {
        let watch = Stopwatch {
            started: Instant::now(),
            started_us: 1_000_900,
        };
        std::thread::sleep(std::time::Duration::from_micros(2_100));
        // Began in millisecond 1000, ended at 1003.0 or later: the window
        // reaches 1003 at least, where floored ends said 1000 + 2.
        assert_eq!(watch.started_ms(), 1000);
        assert!(watch.duration_ms() >= 3, "{}", watch.duration_ms());
    }

    #[test]
    fn tells_credentials_apart_without_verifying() {
        use base64::Engine as _;
        let encode = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = |claims: &str| format!("Bearer {}.{}.sig", encode("{}"), encode(claims));
        assert_eq!(
            credential_kind(Some(&token(r#"{"client_id":"c","sub":"c"}"#))).as_deref(),
            Some("service token")
        );
        assert_eq!(
            credential_kind(Some(&token(r#"{"type":"access","sub":"u"}"#))).as_deref(),
            Some("user token")
        );
        assert_eq!(
            credential_kind(Some("Basic YTpi")).as_deref(),
            Some("client credentials")
        );
        assert_eq!(credential_kind(Some("Bearer x")).as_deref(), Some("bearer"));
        assert_eq!(credential_kind(None), None);
    }
}
