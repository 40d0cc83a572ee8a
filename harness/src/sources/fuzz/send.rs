//! Sending a probe and holding its answer to the rules: no 5xx, a refusal
//! where the input is wrong beyond doubt, the contract's error body, and a
//! closed connection taken for a refusal of what was too large.

use crate::run::client::{Outgoing, connection_closed};

use super::Context;
use super::cases::Case;
use super::operations::Api;
use super::probes::Probe;

/// Why a probe's answer breaks the rules.
pub(super) struct Failure {
    pub(super) expected: String,
    pub(super) actual: String,
    pub(super) request: String,
    pub(super) response: String,
}

/// Whether the probe carries one of the harness's valid bearer tokens (a
/// user's or the admin token) unchanged. HTTP Basic is left out: a server
/// may read a client from a body the probe broke.
fn carries_valid_bearer(context: &Context, probe: &Probe) -> bool {
    let valid: Vec<String> = [
        context.user_token.as_ref().map(|t| format!("Bearer {t}")),
        context
            .admin_token
            .as_ref()
            .map(|t| format!("Bearer {}", t.expose())),
    ]
    .into_iter()
    .flatten()
    .collect();
    probe
        .headers
        .iter()
        .any(|(n, v)| n == "authorization" && valid.iter().any(|t| t.as_bytes() == v.as_slice()))
}

/// After a connection closed on an oversized body: the service's own
/// health endpoint, on a fresh connection, answers (any status below 500).
async fn still_answers(context: &Context, probe: &Probe) -> bool {
    let base = match probe.api {
        Api::Auth => &context.auth_url,
        Api::Chat => &context.chat_url,
    };
    let outgoing = Outgoing {
        service: probe.api.service(),
        method: reqwest::Method::GET,
        url: format!("{base}/health"),
        headers: Vec::new(),
        body: None,
        fresh_connection: true,
    };
    matches!(context.client.send(&outgoing).await, Ok((answer, _)) if answer.status < 500)
}

/// Sends a probe and holds its answer to the rules.
pub(super) async fn send(context: &Context, probe: &Probe, case: Case) -> Result<(), Failure> {
    let request_line = format!("{} {} ({})", probe.method, probe.url, probe.what);
    let outgoing = Outgoing {
        service: probe.api.service(),
        method: probe.method.clone(),
        url: probe.url.clone(),
        headers: probe.headers.clone(),
        body: probe.body.clone(),
        fresh_connection: true,
    };
    let answer = match context.client.send(&outgoing).await {
        Ok((answer, _)) => answer,
        // RFC 9110 §15.5.14: a server refusing content too large MAY close
        // the connection; the client then sees its send fail, not a 413.
        // That passes when the service still answers afterwards (a crash
        // would not).
        // The same for a header too large (RFC 6585 §5 lets the server
        // refuse it; closing is how many HTTP parsers do it).
        Err(e)
            if matches!(case, Case::OversizedBody | Case::OversizedHeader)
                && connection_closed(&e)
                && still_answers(context, probe).await =>
        {
            return Ok(());
        }
        Err(e) => {
            return Err(Failure {
                expected: "an answer".to_owned(),
                actual: format!("no answer: {e}"),
                request: request_line,
                response: String::new(),
            });
        }
    };
    // An answer to an oversized request whose body the closing connection
    // cut short (the server answered and closed with the request unread,
    // and the reset took the rest): its status stands, its body is not the
    // server's to answer for.
    if answer.cut.is_some()
        && matches!(case, Case::OversizedBody | Case::OversizedHeader)
        && answer.status < 500
        && still_answers(context, probe).await
    {
        return Ok(());
    }
    let status = answer.status;
    let content_type = answer.header("content-type").unwrap_or("").to_owned();
    // A probe the target took may have made a client: its secret stays out
    // of the report.
    let secrets = context.client.secrets();
    secrets.add_handed_out(answer.json.as_ref());
    let shown = secrets.redact(&answer.shown(400));
    let fail = |expected: &str| Failure {
        expected: expected.to_owned(),
        actual: shown.clone(),
        request: request_line.clone(),
        response: shown.clone(),
    };
    if status >= 500 {
        return Err(fail("no 5xx: a client's input never makes the server fail"));
    }
    // A 401 says the credentials were wrong; they were the harness's valid
    // ones, so the input was refused as the wrong thing.
    if status == 401 && carries_valid_bearer(context, probe) {
        return Err(fail(
            "a refusal of the input (400 and its kin), not 401: the probe carried a valid token",
        ));
    }
    if status < 400 {
        return if probe.must_refuse {
            Err(fail("a 4xx refusal"))
        } else {
            Ok(())
        };
    }
    if !probe.refusals.is_empty() && !probe.refusals.contains(&status) {
        let allowed: Vec<String> = probe.refusals.iter().map(u16::to_string).collect();
        return Err(fail(&format!("a refusal with {}", allowed.join(" or "))));
    }
    let well_formed = content_type.starts_with("application/json")
        && answer
            .json
            .as_ref()
            .is_some_and(|b| b["error"].is_string() && b["error_description"].is_string());
    if well_formed {
        Ok(())
    } else {
        Err(fail(
            "the contract's error body {\"error\": …, \"error_description\": …} as application/json",
        ))
    }
}
