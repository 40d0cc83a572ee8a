//! One step: its request prepared from the scenario's values, sent, and its
//! answer held against the expectations.

use crate::checking::expect::{self, Mismatch};
use crate::run::client::{self, Answer, Outgoing};
use crate::run::hop::Hop;
use crate::run::redact::Secrets;
use crate::sources::scenario::{Auth, Body, Observe, Service, Step, Vars, render, render_value};
use crate::sources::snapshot::{self};

use super::{Failure, HEADER_CAPTURE, Prepared, Runner, ScenarioCalls, Trace, with_answer};

pub(super) fn form_encode(pairs: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    reference_shared::form::body(&pairs)
}

/// Quotes for a POSIX shell after redacting: single quotes, unless a
/// `$PLACEHOLDER` must expand, then double quotes.
pub(super) fn shell_quote(text: &str, secrets: &Secrets) -> String {
    let text = secrets.redact(text);
    if text.contains('$') {
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' | '`' => vec!['\\', c],
                other => vec![other],
            })
            .collect();
        format!("\"{escaped}\"")
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A curl command that sends the same request; secrets appear as shell
/// variables (`$ALICE_TOKEN`) for the reader to set.
pub(super) fn curl_line(prepared: &Prepared, secrets: &Secrets) -> String {
    let shell_quote = |text: &str| shell_quote(text, secrets);
    let mut parts = vec![
        "curl -sS -i".to_owned(),
        format!("-X {}", prepared.method),
        shell_quote(&prepared.url),
    ];
    for (name, value) in &prepared.headers {
        parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    if let Some((content_type, body)) = &prepared.body {
        if !content_type.is_empty()
            && !prepared
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            parts.push(format!(
                "-H {}",
                shell_quote(&format!("Content-Type: {content_type}"))
            ));
        }
        parts.push(format!("--data-raw {}", shell_quote(body)));
    }
    parts.join(" ")
}

impl Runner {
    pub(super) async fn step(
        &self,
        step: &Step,
        vars: &mut Vars,
        scenario: &mut ScenarioCalls,
    ) -> Result<Trace, Failure> {
        let prepared = self.prepare(step, vars).await?;
        let trace_base = Trace {
            request: format!(
                "{} {}",
                prepared.method,
                self.client.secrets().redact(&prepared.url)
            ),
            response: String::new(),
            curl: curl_line(&prepared, self.client.secrets()),
            hops: Vec::new(),
            snapshot: None,
            attribution: None,
            unexercised: None,
        };
        let sends = (0..step.request.repeat).map(|_| self.send(&prepared, step));
        let answers = futures::future::join_all(sends).await;
        let own: Vec<Hop> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok().map(|(_, hop)| hop.clone()))
            .collect();
        scenario
            .traces
            .extend(own.iter().filter_map(|h| h.trace.clone()));
        let recorded = self.recorded(&own, step).await.map_err(|e| Failure {
            fatal: Some(format!("--observe: {e}")),
            ..Failure::plain(e.clone())
        })?;
        let (hops, attribution) = Self::hops_of(&own, recorded.as_deref().unwrap_or_default());
        let trace_base = Trace {
            attribution,
            ..trace_base
        };
        let jwks = if step.expect.jwt_verified.is_empty() {
            None
        } else {
            self.jwks().await
        };
        for (answer, _) in answers.iter().flatten() {
            self.keep_secret(answer);
        }
        if let Some(may) = &step.may
            && let Some(Ok((answer, _))) = answers.first()
            && may.declined.contains(&answer.status)
        {
            let code = answer
                .json
                .as_ref()
                .and_then(|j| j["error"].as_str())
                .map_or_else(String::new, |c| format!(" {c}"));
            let mut trace = self.answered(trace_base, answer, hops, vars);
            trace.unexercised = Some(format!(
                "the target declined a MAY (it answered {}{code}): {}",
                answer.status, may.reason
            ));
            return Ok(trace);
        }
        let mut first: Option<Answer> = None;
        for answer in answers {
            let (answer, _) = answer.map_err(|e| Failure {
                message: format!("no answer: {e}"),
                mismatch: None,
                trace: Some(Box::new(Trace {
                    hops: hops.clone(),
                    ..trace_base.clone()
                })),
                fatal: None,
            })?;
            if let Err(mismatch) = expect::check(
                &step.expect,
                &answer,
                &with_answer(vars, &answer),
                jwks.as_ref(),
            ) {
                let cut = answer.cut.as_ref().map_or_else(String::new, |why| {
                    format!(" (the connection cut the answer's body short: {why})")
                });
                return Err(Failure {
                    message: format!(
                        "expected {}, got {}{cut}",
                        mismatch.expected, mismatch.actual
                    ),
                    mismatch: Some(Box::new(mismatch)),
                    trace: Some(Box::new(self.answered(trace_base, &answer, hops, vars))),
                    fatal: None,
                });
            }
            first.get_or_insert(answer);
        }
        let answer = first.expect("repeat is at least 1");
        // Captured first, so that the answer's snapshot names what it made
        // (`<doomed>`, not a value that differs from run to run).
        let mut captured = Vec::new();
        for (name, pointer) in &step.capture {
            let value = match pointer.strip_prefix(HEADER_CAPTURE) {
                Some(header) => answer.header(&header.to_lowercase()).map(str::to_owned),
                None => answer
                    .json
                    .as_ref()
                    .and_then(|j| j.pointer(pointer))
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
            };
            match value {
                Some(value) => captured.push((name.clone(), value)),
                None => {
                    return Err(Failure {
                        message: format!("nothing at {pointer} to capture as {name}"),
                        mismatch: None,
                        trace: Some(Box::new(self.answered(trace_base, &answer, hops, vars))),
                        fatal: None,
                    });
                }
            }
        }
        vars.extend(captured);
        let trace = self.answered(trace_base, &answer, hops, vars);
        if let Some(within) = step.expect.within_ms
            && let Some(slow) = own.iter().find(|h| h.duration_ms > within)
        {
            let mismatch = Mismatch {
                expected: format!("an answer within {within} ms"),
                actual: format!("an answer after {} ms", slow.duration_ms),
            };
            return Err(Failure {
                message: format!("expected {}, got {}", mismatch.expected, mismatch.actual),
                mismatch: Some(Box::new(mismatch)),
                trace: Some(Box::new(trace)),
                fatal: None,
            });
        }
        let observe = match &step.observe {
            Some(observe) => Some(Observe {
                path: render(&observe.path, vars)
                    .map_err(|e| Failure::plain(format!("cannot read the observe path: {e}")))?,
                ..observe.clone()
            }),
            None => None,
        };
        let mut trace = trace;
        if let (Some(observe), Some(blind)) = (&observe, &self.blind) {
            trace.unexercised = Some(format!(
                "{} {} not judged: {blind}",
                observe.method, observe.path
            ));
            return Ok(trace);
        }
        if let Some(observe) = &observe {
            match Self::observed(observe, scenario, &own, recorded.as_deref()) {
                Err(mismatch) => {
                    return Err(Failure {
                        message: format!("expected {}, got {}", mismatch.expected, mismatch.actual),
                        mismatch: Some(Box::new(mismatch)),
                        trace: Some(Box::new(trace)),
                        fatal: None,
                    });
                }
                // Conditions on each call, and no call to hold them to.
                Ok(0) if observe.credential.is_some() || observe.scope.is_some() => {
                    trace.unexercised = Some(format!(
                        "no {} {} call from the chat-api to the auth-api was seen, so none could be held to its conditions",
                        observe.method, observe.path
                    ));
                }
                Ok(_) => {}
            }
        }
        Ok(trace)
    }

    /// The trace of a step that got this answer: the answer shown
    /// (redacted, truncated) and normalised for snapshots.
    pub(super) fn answered(
        &self,
        base: Trace,
        answer: &Answer,
        hops: Vec<Hop>,
        vars: &Vars,
    ) -> Trace {
        let urls = [
            ("auth_url", self.target.auth_url.as_str()),
            ("chat_url", self.target.chat_url.as_str()),
        ];
        Trace {
            response: self.client.secrets().redact(&format!(
                "{}\n{}",
                answer.status,
                client::truncate(&answer.text, 600)
            )),
            hops,
            snapshot: Some(snapshot::normalise(
                answer.status,
                &answer.headers,
                &answer.text,
                &snapshot::known_values(vars, &urls),
                self.client.secrets(),
            )),
            ..base
        }
    }

    pub(super) async fn prepare(&self, step: &Step, vars: &Vars) -> Result<Prepared, Failure> {
        let rendered = |s: &str| {
            render(s, vars).map_err(|e| Failure::plain(format!("cannot build the request: {e}")))
        };
        let request = &step.request;
        let base = match request.service {
            Service::Auth => &self.target.auth_url,
            Service::Chat => &self.target.chat_url,
            Service::Recorder => self.target.faults.as_ref().ok_or_else(|| {
                Failure::plain("no recorder between the services takes fault orders here")
            })?,
        };
        let mut url = format!("{base}{}", rendered(&request.path)?);
        if !request.query.is_empty() {
            let mut parsed = reqwest::Url::parse(&url)
                .map_err(|e| Failure::plain(format!("cannot build the request: {e}")))?;
            for (name, value) in &request.query {
                parsed
                    .query_pairs_mut()
                    .append_pair(name, &rendered(value)?);
            }
            url = parsed.to_string();
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Failure::plain(format!("{} is no HTTP method", request.method)))?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut form_extra: Vec<(String, String)> = Vec::new();
        match &step.auth {
            Auth::Anonymous => {}
            Auth::User(name) => headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", self.user_token(name).await?),
            )),
            Auth::Service { client, scope } => {
                let token = self.service_token(client, scope.as_deref()).await?;
                headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
            }
            Auth::Basic(name) => headers.push(("Authorization".to_owned(), self.basic(name)?)),
            Auth::BasicWith { id, secret } => {
                let value =
                    reference_shared::form::basic_authorization(&rendered(id)?, &rendered(secret)?);
                self.client.secrets().add(&value, "Basic $CLIENT_BASIC");
                headers.push(("Authorization".to_owned(), value));
            }
            Auth::Form(name) => {
                let client = self.client(name)?;
                form_extra.push(("client_id".to_owned(), client.id.clone()));
                form_extra.push((
                    "client_secret".to_owned(),
                    client.secret.expose().to_owned(),
                ));
            }
            Auth::Bearer(token) => headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", rendered(token)?),
            )),
        }
        for (name, value) in &request.headers {
            headers.push((name.clone(), rendered(value)?));
        }
        let body = match &request.body {
            Body::Empty if form_extra.is_empty() => None,
            Body::Empty => Some((
                "application/x-www-form-urlencoded".to_owned(),
                form_encode(&form_extra),
            )),
            Body::Json(value) => {
                let value = render_value(value, vars)
                    .map_err(|e| Failure::plain(format!("cannot build the request: {e}")))?;
                Some(("application/json".to_owned(), value.to_string()))
            }
            Body::Form(pairs) => {
                let mut all = pairs
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), rendered(v)?)))
                    .collect::<Result<Vec<_>, Failure>>()?;
                all.extend(form_extra);
                Some((
                    "application/x-www-form-urlencoded".to_owned(),
                    form_encode(&all),
                ))
            }
            Body::Raw { content_type, text } => {
                Some((content_type.clone().unwrap_or_default(), rendered(text)?))
            }
        };
        Ok(Prepared {
            method,
            url,
            headers,
            body,
        })
    }

    /// Sends a prepared request through the harness's client; the answer
    /// and the hop it made.
    /// Sends the step's request; for a step that walks a listing, every
    /// page, gathered into one answer (see [`crate::sources::scenario::Walk`]).
    pub(super) async fn send(
        &self,
        prepared: &Prepared,
        step: &Step,
    ) -> Result<(Answer, Hop), String> {
        // Enough for any listing a scenario makes; a cursor that never ends
        // shows as items seen more than once.
        const MAX_PAGES: usize = 500;
        let Some(walk) = &step.request.walk else {
            return self.send_once(prepared, step).await;
        };
        let (mut answer, hop) = self.send_once(prepared, step).await?;
        let mut items = Vec::new();
        let mut pages = 1;
        loop {
            let page = answer.json.clone().unwrap_or_default();
            if answer.status != 200 {
                break;
            }
            if let Some(found) = page
                .pointer(&walk.items)
                .and_then(serde_json::Value::as_array)
            {
                items.extend(found.iter().cloned());
            }
            let cursor = match page.pointer(&walk.cursor) {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => break,
            };
            if pages == MAX_PAGES {
                break;
            }
            let mut url = reqwest::Url::parse(&prepared.url).map_err(|e| e.to_string())?;
            url.query_pairs_mut().append_pair(&walk.param, &cursor);
            let next = Prepared {
                url: url.to_string(),
                ..prepared.clone()
            };
            answer = self.send_once(&next, step).await?.0;
            pages += 1;
        }
        let body = serde_json::json!({ "status": answer.status, "items": items, "pages": pages });
        Ok((
            Answer {
                status: answer.status,
                headers: answer.headers,
                text: body.to_string(),
                json: Some(body),
                cut: answer.cut,
            },
            hop,
        ))
    }

    pub(super) async fn send_once(
        &self,
        prepared: &Prepared,
        step: &Step,
    ) -> Result<(Answer, Hop), String> {
        let outgoing = Outgoing {
            service: match step.request.service {
                Service::Auth => "auth-api",
                Service::Chat => "chat-api",
                Service::Recorder => "recorder",
            },
            method: prepared.method.clone(),
            url: prepared.url.clone(),
            headers: prepared
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
                .collect(),
            body: prepared
                .body
                .as_ref()
                .map(|(t, b)| (t.clone(), b.clone().into_bytes())),
            fresh_connection: false,
        };
        self.client.send(&outgoing).await
    }
}
