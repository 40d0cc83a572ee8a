//! One step: its request prepared from the scenario's values, sent, and its
//! answer held against the expectations.

use crate::checking::expect::{self, Mismatch};
use crate::run::client::{self, Answer, Outgoing};
use crate::run::hop::Hop;

use crate::sources::scenario::{Observe, Service, Step, Vars, render};

use super::request::curl_line;
use crate::sources::snapshot::{self};

use super::{Failure, HEADER_CAPTURE, Prepared, Runner, ScenarioCalls, Trace, with_answer};

/// A failure that an answer's mismatch makes, with the step's trace.
fn mismatched(mismatch: Mismatch, trace: Trace) -> Failure {
    Failure {
        message: format!("expected {}, got {}", mismatch.expected, mismatch.actual),
        mismatch: Some(Box::new(mismatch)),
        trace: Some(Box::new(trace)),
        fatal: None,
    }
}

/// The values a step captures from its answer (a JSON pointer, or a
/// header); the first one missing is an error naming it.
fn captures(step: &Step, answer: &Answer) -> Result<Vec<(String, String)>, String> {
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
            None => return Err(format!("nothing at {pointer} to capture as {name}")),
        }
    }
    Ok(captured)
}

/// A step's answers (one per repeat), each with the hop it made.
type Answers = Vec<Result<(Answer, Hop), String>>;

impl Runner {
    pub(super) async fn step(
        &self,
        step: &Step,
        vars: &mut Vars,
        scenario: &mut ScenarioCalls,
    ) -> Result<Trace, Failure> {
        let prepared = self.prepare(step, vars).await?;
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
            ..self.trace_base(&prepared)
        };
        for (answer, _) in answers.iter().flatten() {
            self.keep_secret(answer);
        }
        if let Some(trace) = self.declined(step, &answers, &trace_base, &hops, vars) {
            return Ok(trace);
        }
        let answer = self
            .expected_answers(step, answers, vars, &trace_base, &hops)
            .await?;
        // Captured first, so that the answer's snapshot names what it made
        // (`<doomed>`, not a value that differs from run to run).
        match captures(step, &answer) {
            Ok(captured) => vars.extend(captured),
            Err(message) => {
                return Err(Failure {
                    trace: Some(Box::new(self.answered(trace_base, &answer, hops, vars))),
                    ..Failure::plain(message)
                });
            }
        }
        let trace = self.answered(trace_base, &answer, hops, vars);
        if let Some(within) = step.expect.within_ms
            && let Some(slow) = own.iter().find(|h| h.duration_ms > within)
        {
            let mismatch = Mismatch {
                expected: format!("an answer within {within} ms"),
                actual: format!("an answer after {} ms", slow.duration_ms),
            };
            return Err(mismatched(mismatch, trace));
        }
        self.judge_observed(step, vars, trace, scenario, &own, recorded.as_deref())
    }

    /// A step's trace before any answer: its request and curl line.
    fn trace_base(&self, prepared: &Prepared) -> Trace {
        Trace {
            request: format!(
                "{} {}",
                prepared.method,
                self.client.secrets().redact(&prepared.url)
            ),
            response: String::new(),
            curl: curl_line(prepared, self.client.secrets()),
            hops: Vec::new(),
            snapshot: None,
            attribution: None,
            unexercised: None,
        }
    }

    /// The trace of a step whose target declined the MAY it exercises
    /// (its check is then skipped, saying so).
    fn declined(
        &self,
        step: &Step,
        answers: &Answers,
        trace_base: &Trace,
        hops: &[Hop],
        vars: &Vars,
    ) -> Option<Trace> {
        let may = step.may.as_ref()?;
        let Some(Ok((answer, _))) = answers.first() else {
            return None;
        };
        if !may.declined.contains(&answer.status) {
            return None;
        }
        let code = answer
            .json
            .as_ref()
            .and_then(|j| j["error"].as_str())
            .map_or_else(String::new, |c| format!(" {c}"));
        let mut trace = self.answered(trace_base.clone(), answer, hops.to_vec(), vars);
        trace.unexercised = Some(format!(
            "the target declined a MAY (it answered {}{code}): {}",
            answer.status, may.reason
        ));
        Some(trace)
    }

    /// Every answer held against the step's expectations; the first one,
    /// when all meet them.
    async fn expected_answers(
        &self,
        step: &Step,
        answers: Answers,
        vars: &Vars,
        trace_base: &Trace,
        hops: &[Hop],
    ) -> Result<Answer, Failure> {
        let jwks = if step.expect.jwt_verified.is_empty() {
            None
        } else {
            self.jwks().await
        };
        let mut first: Option<Answer> = None;
        for answer in answers {
            let (answer, _) = answer.map_err(|e| Failure {
                trace: Some(Box::new(Trace {
                    hops: hops.to_vec(),
                    ..trace_base.clone()
                })),
                ..Failure::plain(format!("no answer: {e}"))
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
                let trace = self.answered(trace_base.clone(), &answer, hops.to_vec(), vars);
                let mut failure = mismatched(mismatch, trace);
                failure.message.push_str(&cut);
                return Err(failure);
            }
            first.get_or_insert(answer);
        }
        Ok(first.expect("repeat is at least 1"))
    }

    /// The calls the step caused, held to its `observe` (when the recorder
    /// can see them).
    fn judge_observed(
        &self,
        step: &Step,
        vars: &Vars,
        mut trace: Trace,
        scenario: &ScenarioCalls,
        own: &[Hop],
        recorded: Option<&[Hop]>,
    ) -> Result<Trace, Failure> {
        let Some(observe) = &step.observe else {
            return Ok(trace);
        };
        let observe = Observe {
            path: render(&observe.path, vars)
                .map_err(|e| Failure::plain(format!("cannot read the observe path: {e}")))?,
            ..observe.clone()
        };
        if let Some(blind) = &self.blind {
            trace.unexercised = Some(format!(
                "{} {} not judged: {blind}",
                observe.method, observe.path
            ));
            return Ok(trace);
        }
        match Self::observed(&observe, scenario, own, recorded) {
            Err(mismatch) => return Err(mismatched(mismatch, trace)),
            // Conditions on each call, and no call to hold them to.
            Ok(0) if observe.credential.is_some() || observe.scope.is_some() => {
                trace.unexercised = Some(format!(
                    "no {} {} call from the chat-api to the auth-api was seen, so none could be held to its conditions",
                    observe.method, observe.path
                ));
            }
            Ok(_) => {}
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
