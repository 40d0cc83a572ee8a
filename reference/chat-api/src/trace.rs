//! W3C Trace Context (`traceparent`) carried from a request to the calls it
//! makes to the auth-api, so that an operator (or the conformance harness's
//! recorder) can tell which request caused which upstream call.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    /// The trace id of the request being handled, when it sent one.
    static TRACE_ID: Option<String>;
}

/// The trace id of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
fn trace_id(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    match parts.as_slice() {
        [version, trace, parent, flags]
            if hex(version, 2) && hex(trace, 32) && hex(parent, 16) && hex(flags, 2) =>
        {
            Some(trace.to_ascii_lowercase()).filter(|t| t.bytes().any(|b| b != b'0'))
        }
        _ => None,
    }
}

/// Keeps the request's trace id for the calls made while handling it.
pub async fn propagate(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_id);
    TRACE_ID.scope(id, next.run(request)).await
}

/// The `traceparent` for a call made now: the request's trace id, a new
/// span id. `None` outside a traced request.
pub fn outgoing() -> Option<String> {
    let id = TRACE_ID.try_with(Clone::clone).ok().flatten()?;
    let span = uuid::Uuid::new_v4().simple().to_string();
    Some(format!("00-{id}-{}-01", &span[..16]))
}

/// Adds the `traceparent` of the current request, if any.
pub fn traced(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match outgoing() {
        Some(value) => request.header("traceparent", value),
        None => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_valid_traceparents_only() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(&format!("00-{id}-00f067aa0ba902b7-01")).as_deref(),
            Some(id)
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn outgoing_calls_keep_the_trace_id_with_a_new_span() {
        assert_eq!(outgoing(), None);
        let id = "4bf92f3577b34da6a3ce929d0e0e4736".to_owned();
        let value = TRACE_ID.scope(Some(id.clone()), async { outgoing() }).await;
        let value = value.unwrap();
        assert_eq!(trace_id(&value).as_deref(), Some(id.as_str()));
        assert!(!value.contains("00f067aa0ba902b7"));
    }
}
